package jobs

import (
	"math/rand/v2"
	"time"

	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Splay draws how long a node waits, at now, before it evaluates job: uniform between zero and
// the job's splay_millis, so that the nodes of a large start send their results spread over
// that time rather than at the same moment, less the time since the job was created (a node
// that takes its job late, after being away, has already been spread). Zero when the job sets
// none. A node clock behind the console's never makes the wait longer than the draw.
func Splay(job *sensorv1.Job, now time.Time) time.Duration {
	limit := time.Duration(job.GetSplayMillis()) * time.Millisecond
	if limit <= 0 {
		return 0
	}
	draw := rand.N(limit)
	if c := job.GetCreatedAt(); c != nil {
		if age := now.Sub(c.AsTime()); age > 0 {
			draw -= age
		}
	}
	return max(0, draw)
}
