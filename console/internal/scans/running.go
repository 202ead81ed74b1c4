package scans

import (
	"context"
	"sync"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// startTimeout bounds one store call that marks a batch of scans running.
const startTimeout = 30 * time.Second

// starts groups the running reports that arrive together into one store call: when a large
// scan starts, every node takes its job within the same second and reports running, and one
// transaction per report queued every other write of the console behind thousands of them.
// The first report to arrive while none is being stored stores the queue, its own report
// among it; reports that queued meanwhile are stored by a goroutine of their own, batch after
// batch until the queue is empty (group commit), so that no caller waits on others' batches.
type starts struct {
	mu    sync.Mutex
	queue []*startReq
	busy  bool
}

type startReq struct {
	id   string
	done chan startResult
}

type startResult struct {
	sc  store.Scan
	err error
}

// markRunning moves scan id to running, if its state allows, and returns it as stored
// afterwards (in its unchanged state when the move was not allowed).
func (m *Manager) markRunning(ctx context.Context, id string) (store.Scan, error) {
	r := &startReq{id: id, done: make(chan startResult, 1)}
	s := &m.starts
	s.mu.Lock()
	s.queue = append(s.queue, r)
	if !s.busy {
		s.busy = true
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		m.storeStarts(batch)
		go m.drainStarts()
	} else {
		s.mu.Unlock()
	}
	select {
	case res := <-r.done:
		return res.sc, res.err
	case <-ctx.Done():
		return store.Scan{}, ctx.Err()
	}
}

// drainStarts stores the reports that queued while a batch was stored, batch after batch, and
// lets the next report lead when the queue is empty.
func (m *Manager) drainStarts() {
	s := &m.starts
	s.mu.Lock()
	for len(s.queue) > 0 {
		batch := s.queue
		s.queue = nil
		s.mu.Unlock()
		m.storeStarts(batch)
		s.mu.Lock()
	}
	s.busy = false
	s.mu.Unlock()
}

// storeStarts marks the scans of batch running in one store call and answers each request.
// The store call does not follow any one caller's context: it serves them all.
func (m *Manager) storeStarts(batch []*startReq) {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	ids := make([]string, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	for _, r := range batch {
		if !seen[r.id] {
			seen[r.id] = true
			ids = append(ids, r.id)
		}
	}
	got, err := m.cfg.Store.TransitionScans(ctx, ids, store.Transition{State: posture.Running, At: m.cfg.Now().UTC()})
	if err != nil {
		// One scan gone (deleted meanwhile) fails the whole call: answer each on its own.
		for _, r := range batch {
			sc, err := m.cfg.Store.TransitionScans(ctx, []string{r.id}, store.Transition{State: posture.Running, At: m.cfg.Now().UTC()})
			if err != nil {
				r.done <- startResult{err: err}
				continue
			}
			r.done <- startResult{sc: sc[0]}
		}
		return
	}
	byID := make(map[string]store.Scan, len(got))
	for _, sc := range got {
		byID[sc.ID] = sc
	}
	for _, r := range batch {
		r.done <- startResult{sc: byID[r.id]}
	}
}
