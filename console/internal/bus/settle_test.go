package bus

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/palisadehq/palisade/pkg/jobs"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// TestSettleDropsOnlyTheTakenJob: settling a scan drops exactly that scan's job from the
// stream; the node's other jobs and other nodes' jobs stay, and settling again, an unknown
// scan or an invalid node changes nothing.
func TestSettleDropsOnlyTheTakenJob(t *testing.T) {
	b := startBus(t, newAuthority(t))
	ctx := ctxT(t)
	for _, j := range []struct{ node, scan string }{{"node-s", "scan-1"}, {"node-t", "scan-2"}, {"node-s", "scan-3"}} {
		if err := b.PublishJob(ctx, job(j.node, j.scan)); err != nil {
			t.Fatal(err)
		}
	}
	// Jobs are settled in order: the ones that must change nothing go first, so they are done
	// once scan-1's job is gone.
	b.Settle("node-t", "scan-1")
	b.Settle("node-s", "scan-unknown")
	b.Settle("Not/A/Node", "scan-2")
	b.Settle("node-s", "")
	b.Settle("node-s", "scan-1")
	b.Settle("node-s", "scan-1")
	waitFor(t, "scan-1's job to leave the stream", func() bool { return storedJobs(t, b, "node-s") == 1 })
	if got, err := b.PendingJobs(ctx, "node-s", []string{"scan-1", "scan-3"}); err != nil || len(got) != 1 || got[0].GetScanId() != "scan-3" {
		t.Errorf("node-s keeps %v (%v); want only scan-3", got, err)
	}
	if n := storedJobs(t, b, "node-t"); n != 1 {
		t.Errorf("node-t: %d jobs stored; want 1", n)
	}
	b.Settle("node-s", "scan-3")
	waitFor(t, "node-s's jobs to leave the stream", func() bool { return storedJobs(t, b, "node-s") == 0 })
}

// TestSettleDropsEveryCopy: a job stored twice (a publish retried across a change of stream
// leader) leaves the stream entirely when it is settled.
func TestSettleDropsEveryCopy(t *testing.T) {
	b := startBus(t, newAuthority(t))
	ctx := ctxT(t)
	data, err := encodeJob(job("node-s", "scan-1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"first-attempt", "second-attempt"} {
		if _, err := b.js.Publish(ctx, jobs.JobSubject("node-s"), data, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.PublishJob(ctx, job("node-s", "scan-2")); err != nil {
		t.Fatal(err)
	}
	if n := storedJobs(t, b, "node-s"); n != 3 {
		t.Fatalf("%d jobs stored; want 3", n)
	}
	b.Settle("node-s", "scan-1")
	waitFor(t, "both copies of scan-1's job to leave the stream", func() bool { return storedJobs(t, b, "node-s") == 1 })
	if got, err := b.PendingJobs(ctx, "node-s", []string{"scan-1", "scan-2"}); err != nil || len(got) != 1 || got[0].GetScanId() != "scan-2" {
		t.Fatalf("pending %v (%v); want only scan-2", got, err)
	}
}

// TestPendingJobsKeepsAHelloSmall: pending jobs stop at pendingBudget bytes (the first is
// always returned); the rest come with later hellos.
func TestPendingJobsKeepsAHelloSmall(t *testing.T) {
	b := startBus(t, newAuthority(t))
	ctx := ctxT(t)
	big := func(scan string) *sensorv1.Job {
		j := job("node-p", scan)
		j.Controls = make([]byte, pendingBudget*3/4)
		return j
	}
	for _, scan := range []string{"scan-1", "scan-2", "scan-3"} {
		if err := b.PublishJob(ctx, big(scan)); err != nil {
			t.Fatal(err)
		}
	}
	ids := []string{"scan-1", "scan-2", "scan-3"}
	got, err := b.PendingJobs(ctx, "node-p", ids)
	if err != nil || len(got) != 1 || got[0].GetScanId() != "scan-1" {
		t.Fatalf("first hello: %d jobs (%v); want scan-1 alone", len(got), err)
	}
	b.Settle("node-p", "scan-1")
	waitFor(t, "scan-1's job to be settled", func() bool { return storedJobs(t, b, "node-p") == 2 })
	if got, err := b.PendingJobs(ctx, "node-p", ids[1:]); err != nil || len(got) != 1 || got[0].GetScanId() != "scan-2" {
		t.Fatalf("second hello: %d jobs (%v); want scan-2 alone", len(got), err)
	}
}
