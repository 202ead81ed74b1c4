package scans

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// groupTimeout bounds one store call that serves a group of reports.
const groupTimeout = 30 * time.Second

// group stores the reports that arrive together in one store call (group commit): when a
// large scan starts, every node takes its job within the same second and reports running,
// and every running node heartbeats every few seconds; one store call per report would queue
// every other write of the console behind thousands of them. The first report to arrive
// while none is being stored stores the queue, its own report among it; reports that queued
// meanwhile are stored by a goroutine of their own, group after group until the queue is
// empty, so that no caller waits on others' groups.
type group[Req, Res any] struct {
	// store serves one group, answering every request (in order) with its result or error.
	store func(ctx context.Context, reqs []Req) ([]Res, []error)

	mu    sync.Mutex
	queue []*groupCall[Req, Res]
	busy  bool
}

type groupCall[Req, Res any] struct {
	req  Req
	done chan groupResult[Res]
}

type groupResult[Res any] struct {
	res Res
	err error
}

// do queues req and returns its answer once its group is stored.
func (g *group[Req, Res]) do(ctx context.Context, req Req) (Res, error) {
	c := &groupCall[Req, Res]{req: req, done: make(chan groupResult[Res], 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if !g.busy {
		g.busy = true
		batch := g.queue
		g.queue = nil
		g.mu.Unlock()
		g.run(batch)
		go g.drain()
	} else {
		g.mu.Unlock()
	}
	select {
	case r := <-c.done:
		return r.res, r.err
	case <-ctx.Done():
		var zero Res
		return zero, ctx.Err()
	}
}

// drain stores the requests that queued while a group was stored, group after group, and
// lets the next request lead when the queue is empty.
func (g *group[Req, Res]) drain() {
	g.mu.Lock()
	for len(g.queue) > 0 {
		batch := g.queue
		g.queue = nil
		g.mu.Unlock()
		g.run(batch)
		g.mu.Lock()
	}
	g.busy = false
	g.mu.Unlock()
}

// run stores one group and answers each call. The store call does not follow any one
// caller's context: it serves them all.
func (g *group[Req, Res]) run(batch []*groupCall[Req, Res]) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	reqs := make([]Req, len(batch))
	for i, c := range batch {
		reqs[i] = c.req
	}
	res, errs := g.store(ctx, reqs)
	for i, c := range batch {
		c.done <- groupResult[Res]{res: res[i], err: errs[i]}
	}
}

// startReq is a node's report that it runs a scan.
type startReq struct{ scanID, nodeID string }

// started is the answer to a startReq: the scan's state before the report and, when the
// report tried to move it (moved: it was queued or dispatched), the scan as stored after: in
// state running unless the scan ended meanwhile.
type started struct {
	prev  posture.ScanState
	moved bool
	sc    store.Scan
}

// markRunning moves the node's scan to running, if its state allows, and says what it was
// and what it is now. A scan the store does not know is ErrNotFound, another node's scan
// ErrPermission.
func (m *Manager) markRunning(ctx context.Context, nodeID, scanID string) (started, error) {
	return m.starts.do(ctx, startReq{scanID: scanID, nodeID: nodeID})
}

// storeStarts answers a group of running reports with two store calls: one reads the
// scans' owners and states, one moves those of the reporting nodes that wait for them
// (queued or dispatched) to running.
func (m *Manager) storeStarts(ctx context.Context, reqs []startReq) ([]started, []error) {
	out, errs := make([]started, len(reqs)), make([]error, len(reqs))
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		ids[i] = r.scanID
	}
	owners, err := m.cfg.Store.ScanOwners(ctx, ids)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return out, errs
	}
	var move []string
	moving := map[string]bool{}
	for i, r := range reqs {
		o, ok := owners[r.scanID]
		switch {
		case !ok:
			errs[i] = fmt.Errorf("%w: unknown scan %q", ErrNotFound, r.scanID)
		case o.NodeID != r.nodeID:
			errs[i] = fmt.Errorf("%w: scan %s belongs to another node", ErrPermission, r.scanID)
		default:
			out[i].prev = o.State
			if (o.State == posture.Queued || o.State == posture.Dispatched) && !moving[r.scanID] {
				moving[r.scanID] = true
				move = append(move, r.scanID)
			}
		}
	}
	if len(move) == 0 {
		return out, errs
	}
	at := m.cfg.Now().UTC()
	got, err := m.cfg.Store.TransitionScans(ctx, move, store.Transition{State: posture.Running, At: at})
	if err != nil {
		// One scan gone (deleted meanwhile) fails the whole call: move each on its own.
		got = got[:0]
		for _, id := range move {
			one, err := m.cfg.Store.TransitionScans(ctx, []string{id}, store.Transition{State: posture.Running, At: at})
			if err != nil {
				for i, r := range reqs {
					if r.scanID == id && errs[i] == nil {
						errs[i] = err
					}
				}
				continue
			}
			got = append(got, one...)
		}
	}
	after := make(map[string]store.Scan, len(got))
	for _, sc := range got {
		after[sc.ID] = sc
	}
	// A report naming a scan twice in one group moves it once: the first report is told it
	// moved it, the second that it was running already.
	told := map[string]bool{}
	for i, r := range reqs {
		sc, ok := after[r.scanID]
		if errs[i] != nil || !ok {
			continue
		}
		// Started by another report meanwhile (another replica's group, whose start time is
		// not this one): running already, not moved here.
		if sc.State == posture.Running && !sc.StartedAt.Equal(at) {
			out[i].prev = sc.State
			continue
		}
		if told[r.scanID] {
			out[i].prev = sc.State
			continue
		}
		told[r.scanID] = true
		out[i].moved, out[i].sc = true, sc
	}
	return out, errs
}

// heartbeat stores a running scan's progress with the heartbeats that arrive with it and
// returns the scan's state; the scan must be the node's.
func (m *Manager) heartbeat(ctx context.Context, beat store.Heartbeat) (posture.ScanState, error) {
	owner, err := m.beats.do(ctx, beat)
	if err != nil {
		return "", err
	}
	switch {
	case owner.NodeID == "":
		return "", fmt.Errorf("%w: unknown scan %q", ErrNotFound, beat.ScanID)
	case owner.NodeID != beat.NodeID:
		return "", fmt.Errorf("%w: scan %s belongs to another node", ErrPermission, beat.ScanID)
	}
	return owner.State, nil
}

// storeHeartbeats stores a group of heartbeats in one store call; a scan the store does not
// know is answered with an empty owner.
func (m *Manager) storeHeartbeats(ctx context.Context, beats []store.Heartbeat) ([]store.ScanOwner, []error) {
	out, errs := make([]store.ScanOwner, len(beats)), make([]error, len(beats))
	owners, err := m.cfg.Store.RecordHeartbeats(ctx, beats, m.cfg.Now().UTC())
	for i, b := range beats {
		out[i], errs[i] = owners[b.ScanID], err
	}
	return out, errs
}

// storeTouches writes a group of sightings in one store call.
func (m *Manager) storeTouches(ctx context.Context, seen []store.Sighting) ([]struct{}, []error) {
	err := m.cfg.Store.TouchNodes(ctx, seen)
	errs := make([]error, len(seen))
	for i := range errs {
		errs[i] = err
	}
	return make([]struct{}, len(seen)), errs
}
