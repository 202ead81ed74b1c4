package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/palisadehq/palisade/pkg/jobs"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// eachJob reads node's stored jobs, oldest first, at most nodeJobLookups of them, and calls fn
// with each one's stream sequence and job until fn returns false. Stored messages that are not
// valid jobs are skipped.
func eachJob(ctx context.Context, st jetstream.Stream, node string, fn func(seq uint64, job *sensorv1.Job) bool) error {
	subject := jobs.JobSubject(node)
	seq := uint64(1)
	for range nodeJobLookups {
		m, err := st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the jobs of node %s from sequence %d: %w", node, seq, err)
		}
		job := &sensorv1.Job{}
		if proto.Unmarshal(m.Data, job) == nil && job.GetNodeId() == node && !fn(m.Sequence, job) {
			return nil
		}
		seq = m.Sequence + 1
	}
	return nil
}

// pendingBudget bounds the jobs one PendingJobs returns, in encoded bytes, so that a hello's
// answer stays well under a sensor's message limit; the first job is returned whatever its
// size (up to jobs.MaxJobBytes), and the rest wait for later hellos.
const pendingBudget = 2 << 20

// PendingJobs returns the jobs stored for nodeID whose scans are among scanIDs (the node's
// scans still waiting for it), oldest first, up to pendingBudget bytes. The console hands
// them to the node with its answer to the node's hello: the way to the node for jobs
// published while it was not subscribed. A scan whose job is no longer stored (aged out, or
// the node was removed) is left out.
func (b *Bus) PendingJobs(ctx context.Context, nodeID string, scanIDs []string) ([]*sensorv1.Job, error) {
	if err := jobs.ValidateNodeID(nodeID); err != nil {
		return nil, fmt.Errorf("bus: pending jobs: %w", err)
	}
	if len(scanIDs) == 0 {
		return nil, nil
	}
	want := make(map[string]bool, len(scanIDs))
	for _, id := range scanIDs {
		want[id] = true
	}
	st, err := b.js.Stream(ctx, jobs.StreamName)
	if err != nil {
		return nil, fmt.Errorf("bus: pending jobs of node %s: look up the jobs stream: %w", nodeID, err)
	}
	var out []*sensorv1.Job
	size := 0
	err = eachJob(ctx, st, nodeID, func(_ uint64, job *sensorv1.Job) bool {
		if !want[job.GetScanId()] {
			return true
		}
		n := proto.Size(job)
		if len(out) > 0 && size+n > pendingBudget {
			return false
		}
		out = append(out, job)
		size += n
		delete(want, job.GetScanId())
		return len(want) > 0
	})
	if err != nil {
		return nil, fmt.Errorf("bus: pending jobs: %w", err)
	}
	return out, nil
}
