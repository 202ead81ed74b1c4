package scans

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
)

// TestGroupStoresWhatQueuedTogether: requests arriving while a group is being stored are
// stored together in the next store call, and each caller gets its own answer.
func TestGroupStoresWhatQueuedTogether(t *testing.T) {
	gate := make(chan struct{})
	var mu sync.Mutex
	var calls [][]int
	errOdd := errors.New("odd")
	g := &group[int, int]{store: func(_ context.Context, reqs []int) ([]int, []error) {
		mu.Lock()
		first := len(calls) == 0
		calls = append(calls, slices.Clone(reqs))
		mu.Unlock()
		if first {
			<-gate
		}
		res, errs := make([]int, len(reqs)), make([]error, len(reqs))
		for i, r := range reqs {
			if r%2 == 1 {
				errs[i] = errOdd
				continue
			}
			res[i] = 10 * r
		}
		return res, errs
	}}
	type answer struct{ req, res int }
	answers := make(chan answer, 4)
	ask := func(req int) {
		res, err := g.do(context.Background(), req)
		if (req%2 == 1) != errors.Is(err, errOdd) {
			t.Errorf("request %d: error %v", req, err)
		}
		answers <- answer{req, res}
	}
	waitFor := func(wantCalls, wantQueued int) {
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(calls)
			mu.Unlock()
			if n == wantCalls && g.queued() == wantQueued {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d store calls and %d queued; want %d and %d", n, g.queued(), wantCalls, wantQueued)
			}
			time.Sleep(time.Millisecond)
		}
	}
	go ask(2)
	waitFor(1, 0)
	for _, r := range []int{3, 4, 6} {
		go ask(r)
	}
	waitFor(1, 3)
	close(gate)
	got := map[int]int{}
	for range 4 {
		a := <-answers
		got[a.req] = a.res
	}
	if want := map[int]int{2: 20, 3: 0, 4: 40, 6: 60}; !maps.Equal(got, want) {
		t.Errorf("answers %v; want %v", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || !slices.Equal(calls[0], []int{2}) || !slices.Equal(slices.Sorted(slices.Values(calls[1])), []int{3, 4, 6}) {
		t.Fatalf("store calls %v; want [2] then [3 4 6] together", calls)
	}
}

// TestGroupCallerGivesUp: a queued caller whose context ends stops waiting at once; its
// request is stored with its group all the same and later requests are served.
func TestGroupCallerGivesUp(t *testing.T) {
	gate := make(chan struct{})
	var mu sync.Mutex
	var stored []int
	g := &group[int, int]{store: func(_ context.Context, reqs []int) ([]int, []error) {
		if slices.Contains(reqs, 1) {
			<-gate
		}
		mu.Lock()
		stored = append(stored, reqs...)
		mu.Unlock()
		return slices.Clone(reqs), make([]error, len(reqs))
	}}
	leader := make(chan int, 1)
	go func() {
		res, _ := g.do(context.Background(), 1)
		leader <- res
	}()
	for g.queued() != 0 || !g.isBusy() {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() {
		_, err := g.do(ctx, 2)
		gaveUp <- err
	}()
	for g.queued() != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued request after cancel: %v; want context.Canceled", err)
	}
	close(gate)
	if res := <-leader; res != 1 {
		t.Fatalf("leader: %d; want 1", res)
	}
	if res, err := g.do(context.Background(), 3); err != nil || res != 3 {
		t.Fatalf("later request: %d, %v; want 3", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(stored, []int{1, 2, 3}) {
		t.Fatalf("stored %v; want [1 2 3]", stored)
	}
}

// queued is how many requests wait for the next group.
func (g *group[Req, Res]) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// isBusy reports whether a group is being stored.
func (g *group[Req, Res]) isBusy() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.busy
}

// touchCounter is a store that counts the sightings written and fails while failing is set.
type touchCounter struct {
	store.Store
	calls   [][]string
	failing bool
}

func (c *touchCounter) TouchNodes(ctx context.Context, seen []store.Sighting) error {
	var ids []string
	for _, s := range seen {
		ids = append(ids, s.NodeID)
	}
	c.calls = append(c.calls, ids)
	if c.failing {
		return errors.New("database away")
	}
	return c.Store.TouchNodes(ctx, seen)
}

// TestTouch: a node's sighting is written once per touchEvery, a failed write is tried again
// at the next report, and the store keeps the sighting's time.
func TestTouch(t *testing.T) {
	ctx := context.Background()
	counter := &touchCounter{}
	m, st, _ := startFixture(t, &recordingDispatcher{}, func(c *Config) {
		counter.Store = c.Store
		c.Store = counter
	})
	t0 := time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)
	steps := []struct {
		node    string
		at      time.Duration
		failing bool
		want    []string // the nodes of the store call the touch made, if any
	}{
		{"n1", 0, false, []string{"n1"}},
		{"n1", 10 * time.Second, false, nil},
		{"n2", 10 * time.Second, false, []string{"n2"}},
		{"n1", touchEvery - time.Nanosecond, false, nil},
		{"n1", touchEvery, true, []string{"n1"}},
		{"n1", touchEvery + time.Second, false, []string{"n1"}},
		{"n1", touchEvery + 2*time.Second, false, nil},
	}
	for i, s := range steps {
		before := len(counter.calls)
		counter.failing = s.failing
		m.Touch(ctx, s.node, t0.Add(s.at))
		var got []string
		if len(counter.calls) > before {
			got = counter.calls[before]
		}
		if len(counter.calls) > before+1 || !slices.Equal(got, s.want) {
			t.Fatalf("step %d (%s at %s): store calls %v; want one with %v", i, s.node, s.at, counter.calls[before:], s.want)
		}
	}
	for node, want := range map[string]time.Time{"n1": t0.Add(touchEvery + time.Second), "n2": t0.Add(10 * time.Second)} {
		n, err := st.GetNode(ctx, node)
		if err != nil {
			t.Fatal(err)
		}
		if !n.LastSeenAt.Equal(want) {
			t.Errorf("%s last seen %s; want %s", node, n.LastSeenAt, want)
		}
	}
}
