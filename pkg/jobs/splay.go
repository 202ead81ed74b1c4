package jobs

import (
	"math/rand/v2"
	"time"

	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Splay draws how long a node waits before it evaluates job: uniform between zero and the
// job's splay_millis, so that the nodes of a large start send their results spread over that
// time rather than at the same moment. Zero when the job sets none.
func Splay(job *sensorv1.Job) time.Duration {
	limit := time.Duration(job.GetSplayMillis()) * time.Millisecond
	if limit <= 0 {
		return 0
	}
	return rand.N(limit)
}
