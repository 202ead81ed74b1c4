package bus

import (
	"testing"
)

// TestSettleDropsOnlyTheTakenJob: settling a scan drops exactly that scan's job from the
// stream; the node's other jobs and other nodes' jobs stay, and settling again, an unknown
// scan or an invalid node changes nothing.
func TestSettleDropsOnlyTheTakenJob(t *testing.T) {
	a := newAuthority(t)
	b := startBus(t, a)
	ctx := ctxT(t)
	for _, id := range []string{"node-s", "node-t"} {
		if err := b.EnsureNode(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, j := range []struct{ node, scan string }{{"node-s", "scan-1"}, {"node-t", "scan-2"}, {"node-s", "scan-3"}} {
		if err := b.PublishJob(ctx, job(j.node, j.scan)); err != nil {
			t.Fatal(err)
		}
	}
	// node-s takes scan-1 and holds scan-3 without acknowledging it.
	n := connectNode(t, b, a, "node-s")
	r, _ := subscribe(t, n, "node-s", false)
	if got := receive(t, r.ch, "scan-1"); got != "scan-1" {
		t.Fatalf("received %q, want scan-1", got)
	}
	if got := receive(t, r.ch, "scan-3"); got != "scan-3" {
		t.Fatalf("received %q, want scan-3", got)
	}
	r.mu.Lock()
	ackFirst := r.acks[0]
	r.mu.Unlock()
	if err := ackFirst(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "scan-1's acknowledgement", func() bool {
		_, _, pending := streamState(t, b, "node-s")
		return pending == 1
	})

	// Jobs are settled in order: the ones that must change nothing go first, so they are done
	// once scan-1's job is gone.
	b.Settle("node-t", "scan-1")
	b.Settle("node-s", "scan-unknown")
	b.Settle("Not/A/Node", "scan-2")
	b.Settle("node-s", "scan-1")
	b.Settle("node-s", "scan-1")
	waitFor(t, "scan-1's job to leave the stream", func() bool {
		msgs, _, _ := streamState(t, b, "node-s")
		return msgs == 1
	})
	if msgs, waiting, pending := streamState(t, b, "node-s"); msgs != 1 || waiting != 0 || pending != 1 {
		t.Errorf("node-s: %d jobs in the stream, %d waiting, %d unacknowledged; want 1, 0, 1 (scan-3)", msgs, waiting, pending)
	}
	if msgs, waiting, _ := streamState(t, b, "node-t"); msgs != 1 || waiting != 1 {
		t.Errorf("node-t: %d jobs in the stream, %d waiting; want 1 and 1", msgs, waiting)
	}

	// scan-3 acknowledged and settled: nothing of node-s is left.
	r.mu.Lock()
	ackSecond := r.acks[1]
	r.mu.Unlock()
	if err := ackSecond(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "scan-3's acknowledgement", func() bool {
		_, _, pending := streamState(t, b, "node-s")
		return pending == 0
	})
	b.Settle("node-s", "scan-3")
	waitFor(t, "node-s's jobs to leave the stream", func() bool {
		msgs, _, _ := streamState(t, b, "node-s")
		return msgs == 0
	})
}
