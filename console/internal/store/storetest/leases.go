package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
)

func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ttl := 10 * time.Second
	steps := []struct {
		holder string
		at     time.Time
		want   bool
	}{
		{"a", t0, true},                        // free: a takes it
		{"b", t0.Add(time.Second), false},      // held by a
		{"a", t0.Add(5 * time.Second), true},   // a renews until t0+15s
		{"b", t0.Add(12 * time.Second), false}, // the renewal holds
		{"b", t0.Add(15 * time.Second), true},  // expired at t0+15s: b takes it
		{"a", t0.Add(16 * time.Second), false}, // now b's
	}
	for i, st := range steps {
		got, err := s.TryLease(ctx, "sweeper", st.holder, st.at, ttl)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got != st.want {
			t.Fatalf("step %d: TryLease(%s at +%s) = %v; want %v", i, st.holder, st.at.Sub(t0), got, st.want)
		}
	}
	// Another lease name is independent.
	if got, err := s.TryLease(ctx, "retention", "a", t0.Add(16*time.Second), ttl); err != nil || !got {
		t.Fatalf("second lease: %v, %v", got, err)
	}
	// Racing replicas: exactly one wins a free lease.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.TryLease(ctx, "race", string(rune('a'+i)), t0, ttl)
			if err != nil {
				t.Errorf("race %d: %v", i, err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d replicas won the same lease; want 1", n)
	}
}
