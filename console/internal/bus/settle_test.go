package bus

import (
	"testing"
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
