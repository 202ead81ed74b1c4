package bus

import (
	"testing"
	"time"

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

// TestSettleByRecordedSequence: a job that PublishJobs saw stored on its first attempt is
// dropped by its sequence, without reading the node's jobs; a job published by PublishJob,
// which may be a second copy, is looked for. Either way exactly that job leaves.
func TestSettleByRecordedSequence(t *testing.T) {
	b := startBus(t, newAuthority(t))
	ctx := ctxT(t)
	for i, err := range b.PublishJobs(ctx, []*sensorv1.Job{job("node-s", "scan-1"), job("node-s", "scan-2"), job("node-t", "scan-3")}) {
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
	}
	if err := b.PublishJob(ctx, job("node-s", "scan-4")); err != nil {
		t.Fatal(err)
	}
	b.Settle("node-s", "scan-2")
	waitFor(t, "scan-2's job to leave the stream", func() bool { return storedJobs(t, b, "node-s") == 2 })
	if got, err := b.PendingJobs(ctx, "node-s", []string{"scan-1", "scan-2", "scan-4"}); err != nil || len(got) != 2 || got[0].GetScanId() != "scan-1" || got[1].GetScanId() != "scan-4" {
		t.Fatalf("node-s keeps %v (%v); want scan-1 and scan-4", got, err)
	}
	if n := b.settler.lookups.Load(); n != 0 {
		t.Fatalf("%d look-ups to settle a job whose sequence was known; want 0", n)
	}
	b.Settle("node-s", "scan-4")
	waitFor(t, "scan-4's job to leave the stream", func() bool { return storedJobs(t, b, "node-s") == 1 })
	if n := b.settler.lookups.Load(); n != 1 {
		t.Fatalf("%d look-ups after settling a job published alone; want 1", n)
	}
	if n := storedJobs(t, b, "node-t"); n != 1 {
		t.Fatalf("node-t: %d jobs stored; want 1", n)
	}
}

// TestSettleWaitsForPublishing: while a start publishes its jobs, taken jobs wait to be
// settled, and are settled once it is done.
func TestSettleWaitsForPublishing(t *testing.T) {
	b := startBus(t, newAuthority(t))
	ctx := ctxT(t)
	if err := b.PublishJob(ctx, job("node-s", "scan-1")); err != nil {
		t.Fatal(err)
	}
	b.publishing.Add(1) // a PublishJobs under way
	b.Settle("node-s", "scan-1")
	// Long enough for an unheld settle to be done many times over: the same settle took a
	// few milliseconds in TestSettleDropsOnlyTheTakenJob.
	time.Sleep(20 * settleHoldPoll)
	if n := storedJobs(t, b, "node-s"); n != 1 {
		t.Fatalf("%d jobs stored while publishing; want the taken job still there", n)
	}
	b.publishing.Add(-1)
	waitFor(t, "the taken job to leave the stream", func() bool { return storedJobs(t, b, "node-s") == 0 })
}

// TestSettlerRemembersForAWhile: a remembered sequence is recalled once, and is forgotten
// after one to two rememberFor.
func TestSettlerRemembersForAWhile(t *testing.T) {
	s := &settler{seqs: map[string]uint64{}, rotated: time.Now()}
	s.remember("n", "scan-x", 1)
	s.remember("n", "scan-y", 2)
	s.rotated = time.Now().Add(-rememberFor) // x and y become old
	s.remember("n", "scan-z", 3)
	recall := func(scan string, want uint64, wantOK bool) {
		t.Helper()
		if got, ok := s.recall("n", scan); got != want || ok != wantOK {
			t.Fatalf("recall %s = %d, %v; want %d, %v", scan, got, ok, want, wantOK)
		}
	}
	recall("scan-x", 1, true)
	recall("scan-x", 0, false)
	s.rotated = time.Now().Add(-rememberFor) // y is dropped, z becomes old
	s.remember("n", "scan-w", 4)
	recall("scan-y", 0, false)
	recall("scan-z", 3, true)
	s.forget("n", "scan-w")
	recall("scan-w", 0, false)
}
