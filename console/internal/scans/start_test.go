package scans

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/sqlite"
	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/jobs"
	"github.com/palisadehq/palisade/pkg/posture"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// bulkDispatcher is a fake bus that publishes jobs in bulk. Jobs for the nodes in fail fail
// with that error; before returning it calls beforeReturn, if set.
type bulkDispatcher struct {
	recordingDispatcher
	fail         map[string]error
	beforeReturn func()
	calls        int
}

func (d *bulkDispatcher) PublishJobs(_ context.Context, jobs []*sensorv1.Job) []error {
	d.calls++
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		if err := d.fail[j.GetNodeId()]; err != nil {
			errs[i] = err
			continue
		}
		d.jobs = append(d.jobs, j)
	}
	if d.beforeReturn != nil {
		d.beforeReturn()
	}
	return errs
}

// lockedDispatcher publishes one job per call and may be called concurrently.
type lockedDispatcher struct {
	recordingDispatcher
	mu sync.Mutex
}

func (d *lockedDispatcher) PublishJob(ctx context.Context, j *sensorv1.Job) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.recordingDispatcher.PublishJob(ctx, j)
}

// openStore opens an empty SQLite store, closed when the test ends, and the built-in
// catalogue.
func openStore(t *testing.T) (*sqlite.Store, *catalog.Catalog) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	return st, cat
}

// startFixture is a store with nodes n1 (web-1, runs the console's catalogue), n2 (web-2, an
// older catalogue), n3 and n4 (both named db), and k1 (a Kubernetes node).
func startFixture(t *testing.T, d Dispatcher, mods ...func(*Config)) (*Manager, store.Store, *catalog.Catalog) {
	t.Helper()
	ctx := context.Background()
	st, cat := openStore(t)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tok := []byte("0123456789abcdef0123456789abcdef")
	if err := st.CreateEnrolToken(ctx, store.EnrolToken{ID: "t", Hash: tok, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Uses: 5}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []store.Node{
		{ID: "n1", Name: "web-1", TargetType: posture.Linux, Facts: store.NodeFacts{CatalogVersion: cat.Version()}},
		{ID: "n2", Name: "web-2", TargetType: posture.Linux, Facts: store.NodeFacts{CatalogVersion: "2020.01"}},
		{ID: "n3", Name: "db", TargetType: posture.Linux},
		{ID: "n4", Name: "db", TargetType: posture.Linux},
		{ID: "k1", Name: "kube-1", TargetType: posture.Kubernetes},
	} {
		if err := st.EnrolNode(ctx, tok, n, now); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Store: st, Catalog: cat, Dispatcher: d, Now: func() time.Time { return now }, ReplicaID: "r"}
	for _, mod := range mods {
		mod(&cfg)
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, st, cat
}

// startOnN1 starts a CIS scan of node n1 as alice and returns its id.
func startOnN1(t *testing.T, m *Manager) string {
	t.Helper()
	_, started, err := m.Start(context.Background(), StartRequest{Nodes: []string{"n1"}, Benchmarks: []string{"cis"}, Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	return started[0].ID
}

func TestStartPublishesInBulk(t *testing.T) {
	d := &bulkDispatcher{fail: map[string]error{
		"n3": errors.New("bus: publish job: nats: no responders available for request"),
		"n4": fmt.Errorf("bus: publish job: %w: context deadline exceeded", jobs.ErrUnconfirmed),
	}}
	reg := prometheus.NewRegistry()
	m, st, cat := startFixture(t, d, func(c *Config) { c.Registerer = reg; c.SplayRate = 2 })
	ctx := context.Background()
	// The sensor of n2 is quick: it reports running before the dispatch is recorded.
	d.beforeReturn = func() {
		page, err := st.ListScans(ctx, store.ScanFilter{NodeID: "n2"})
		if err != nil || len(page.Scans) != 1 {
			t.Fatalf("scans of n2: %v, %v", page.Scans, err)
		}
		if _, err := st.TransitionScan(ctx, page.Scans[0].ID, store.Transition{State: posture.Running, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	group, started, err := m.Start(ctx, StartRequest{Nodes: []string{"web-1", "n2", "n1", "n3", "n4"}, Benchmarks: []string{"cis"}, Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if d.calls != 1 {
		t.Fatalf("PublishJobs called %d times, want once", d.calls)
	}
	type outcome struct {
		node    string
		state   posture.ScanState
		message string
	}
	var got []outcome
	for _, sc := range started {
		if sc.GroupID != group || !slices.Equal(sc.BenchmarkIDs, []string{"linux-cis"}) || sc.ControlsTotal != 288 || sc.CreatedBy != "alice" {
			t.Fatalf("scan %+v", sc)
		}
		got = append(got, outcome{sc.NodeID, sc.State, sc.Message})
		stored, err := st.GetScan(ctx, sc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if sc.NodeID == "n2" {
			// Returned as marked before its job went out; its sensor has moved it on since.
			if stored.State != posture.Running {
				t.Fatalf("n2's scan is stored %s, want running", stored.State)
			}
			continue
		}
		if !reflect.DeepEqual(stored, sc) {
			t.Fatalf("scan %s returned %+v, stored %+v", sc.ID, sc, stored)
		}
	}
	want := []outcome{
		{"n1", posture.Dispatched, ""},
		{"n2", posture.Dispatched, ""},
		{"n3", posture.Failed, "dispatch failed: bus: publish job: nats: no responders available for request"},
		// The server may have stored n4's job: the scan waits for the node, or for the expiry.
		{"n4", posture.Dispatched, ""},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("outcomes %+v\nwant     %+v", got, want)
	}
	if len(d.jobs) != 2 {
		t.Fatalf("%d jobs published, want 2", len(d.jobs))
	}
	// Four scans at 2 nodes a second: spread over 2 s.
	for _, j := range d.jobs {
		if j.GetSplayMillis() != 2000 {
			t.Fatalf("job for %s splays over %d ms, want 2000", j.GetNodeId(), j.GetSplayMillis())
		}
	}
	// n1 runs the console's catalogue and gets control ids; n2 gets the controls themselves.
	j1, j2 := d.jobs[0], d.jobs[1]
	if j1.GetNodeId() != "n1" || j1.GetScanId() != started[0].ID || len(j1.GetControlIds()) != 0 || len(j1.GetExcludeControlIds()) != 0 ||
		!slices.Equal(j1.GetBenchmarkIds(), []string{"linux-cis"}) || j1.GetCatalogVersion() != cat.Version() || j1.GetControls() != nil {
		t.Fatalf("job for n1: node %s, scan %s, benchmarks %v, %d control ids, exclusions %v, catalogue %q, %d bytes of controls",
			j1.GetNodeId(), j1.GetScanId(), j1.GetBenchmarkIds(), len(j1.GetControlIds()), j1.GetExcludeControlIds(), j1.GetCatalogVersion(), len(j1.GetControls()))
	}
	// The sensor resolves the very controls the console stored for the scan.
	resolved, ctls := resolveAndStored(t, j1, cat, st, started[0].ID)
	if len(resolved) != 288 || len(ctls) != 288 {
		t.Fatalf("n1's job resolves %d controls and the scan stores %d; want 288 each", len(resolved), len(ctls))
	}
	for _, c := range resolved {
		if _, ok := ctls[c.ID]; !ok {
			t.Fatalf("n1's job resolves %s, which the scan does not have", c.ID)
		}
	}
	if j2.GetNodeId() != "n2" || len(j2.GetControlIds()) != 0 || j2.GetCatalogVersion() != "" || len(j2.GetControls()) == 0 {
		t.Fatalf("job for n2: node %s, %d control ids, catalogue %q, %d bytes of controls", j2.GetNodeId(), len(j2.GetControlIds()), j2.GetCatalogVersion(), len(j2.GetControls()))
	}
	doc, err := catalog.UnmarshalControls(j2.GetControls())
	if err != nil {
		t.Fatal(err)
	}
	if len(doc) != 288 {
		t.Fatalf("n2's job carries %d controls, want 288", len(doc))
	}
	audit, err := st.ListAudit(ctx, 1)
	if err != nil || len(audit) != 1 || audit[0].Action != "scan.start" || audit[0].Target != group || audit[0].Detail != "nodes=4 benchmarks=cis" {
		t.Fatalf("audit %+v, %v", audit, err)
	}
	// Every scan was marked dispatched before its job went out; n3's then failed. n2 reached
	// running outside the manager (the store directly), so that is not counted.
	wantTransitions := "palisade_scan_transitions_total{state=\"dispatched\"} 4\n" +
		"palisade_scan_transitions_total{state=\"failed\"} 1\n" +
		"palisade_scan_transitions_total{state=\"queued\"} 4\n"
	if got := transitions(t, reg); got != wantTransitions {
		t.Fatalf("transitions:\n%s\nwant:\n%s", got, wantTransitions)
	}
}

// transitions returns the palisade_scan_transitions_total samples in reg, one per line, sorted
// by state.
func transitions(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, f := range families {
		if f.GetName() != "palisade_scan_transitions_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			fmt.Fprintf(&b, "%s{state=%q} %g\n", f.GetName(), m.GetLabel()[0].GetValue(), m.GetCounter().GetValue())
		}
	}
	return b.String()
}

func TestStartOneJobAtATime(t *testing.T) {
	d := &lockedDispatcher{}
	m, _, _ := startFixture(t, d)
	_, started, err := m.Start(context.Background(), StartRequest{Nodes: []string{"n1", "n2", "web-1"}, Benchmarks: []string{"cis"}, Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if len(started) != 2 || started[0].NodeID != "n1" || started[1].NodeID != "n2" {
		t.Fatalf("started %+v", started)
	}
	for _, sc := range started {
		if sc.State != posture.Dispatched {
			t.Fatalf("scan of %s is %s, want dispatched", sc.NodeID, sc.State)
		}
	}
	if len(d.jobs) != 2 {
		t.Fatalf("%d jobs published, want 2", len(d.jobs))
	}
}

func TestStartRejects(t *testing.T) {
	d := &bulkDispatcher{}
	m, st, _ := startFixture(t, d)
	ctx := context.Background()
	tests := []struct {
		name string
		req  StartRequest
		kind error
		msg  string
	}{
		{"no nodes", StartRequest{Benchmarks: []string{"cis"}}, ErrInvalid, "invalid request: name at least one node"},
		{"no benchmarks", StartRequest{Nodes: []string{"n1"}}, ErrInvalid, "invalid request: name at least one benchmark"},
		{"unknown node", StartRequest{Nodes: []string{"n1", "n9"}, Benchmarks: []string{"cis"}}, ErrNotFound, `not found: unknown node "n9"`},
		{"shared name", StartRequest{Nodes: []string{"n1", "db"}, Benchmarks: []string{"cis"}}, ErrInvalid, `invalid request: several nodes are named "db"; use the node id`},
		{"benchmark not for the target type", StartRequest{Nodes: []string{"n1", "k1"}, Benchmarks: []string{"cis"}}, ErrInvalid,
			`invalid request: node kube-1: unknown benchmark "cis" for kubernetes targets (known: )`},
		{"unknown control left out", StartRequest{Nodes: []string{"n1"}, Benchmarks: []string{"cis"}, Exclude: []string{"no.such.control"}}, ErrInvalid, `invalid request: unknown control "no.such.control"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := m.Start(ctx, tt.req)
			if !errors.Is(err, tt.kind) || err.Error() != tt.msg {
				t.Fatalf("error %v; want %v %q", err, tt.kind, tt.msg)
			}
		})
	}
	page, err := st.ListScans(ctx, store.ScanFilter{})
	if err != nil || len(page.Scans) != 0 || d.calls != 0 {
		t.Fatalf("after rejected starts: %d scans (%v), %d publishes; want none", len(page.Scans), err, d.calls)
	}
}

// progressRaceStore runs beforeProgress, once, just before it records a scan's progress.
type progressRaceStore struct {
	store.Store
	beforeProgress func()
}

func (s *progressRaceStore) RecordHeartbeats(ctx context.Context, beats []store.Heartbeat, at time.Time) (map[string]store.ScanOwner, error) {
	if f := s.beforeProgress; f != nil {
		s.beforeProgress = nil
		f()
	}
	return s.Store.RecordHeartbeats(ctx, beats, at)
}

// TestHeartbeatCrossingTheEnd: a heartbeat that arrives as its scan ends answers the scan's
// new state rather than an error.
func TestHeartbeatCrossingTheEnd(t *testing.T) {
	race := &progressRaceStore{}
	m, st, _ := startFixture(t, &bulkDispatcher{}, func(c *Config) {
		race.Store = c.Store
		c.Store = race
	})
	ctx := context.Background()
	id := startOnN1(t, m)
	state, err := m.Update(ctx, "n1", &sensorv1.UpdateScanRequest{ScanId: id, State: sensorv1.ScanState_SCAN_STATE_RUNNING, ControlsTotal: 288})
	if err != nil || state != posture.Running {
		t.Fatalf("report running: %s, %v", state, err)
	}
	race.beforeProgress = func() {
		if _, err := st.TransitionScan(ctx, id, store.Transition{State: posture.Cancelled, Message: "stopped by bob", At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	state, err = m.Update(ctx, "n1", &sensorv1.UpdateScanRequest{ScanId: id, ControlsDone: 10, ControlsTotal: 288})
	if err != nil || state != posture.Cancelled {
		t.Fatalf("heartbeat crossing the stop: %s, %v; want cancelled and no error", state, err)
	}
	sc, err := st.GetScan(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if sc.ControlsDone != 0 || !sc.LastHeartbeatAt.IsZero() {
		t.Errorf("the cancelled scan took the heartbeat: %d controls done, heartbeat at %s", sc.ControlsDone, sc.LastHeartbeatAt)
	}

	// Heartbeats on an unknown scan or another node's are refused.
	if _, err := m.Update(ctx, "n1", &sensorv1.UpdateScanRequest{ScanId: "scn_missing", ControlsDone: 1}); !errors.Is(err, ErrNotFound) {
		t.Errorf("heartbeat on an unknown scan: %v; want ErrNotFound", err)
	}
	if _, err := m.Update(ctx, "n2", &sensorv1.UpdateScanRequest{ScanId: id, ControlsDone: 1}); !errors.Is(err, ErrPermission) {
		t.Errorf("heartbeat on another node's scan: %v; want ErrPermission", err)
	}
}

// settlingDispatcher records the jobs it is asked to settle, as node/scan.
type settlingDispatcher struct {
	bulkDispatcher
	settled []string
}

func (d *settlingDispatcher) Settle(nodeID, scanID string) {
	d.settled = append(d.settled, nodeID+"/"+scanID)
}

// TestStateReportsSettleTheJob: a node's report that a scan runs, failed or was cancelled
// means it took the job, which the bus may then drop; a heartbeat settles nothing new.
func TestStateReportsSettleTheJob(t *testing.T) {
	d := &settlingDispatcher{}
	m, _, _ := startFixture(t, d)
	ctx := context.Background()
	_, started, err := m.Start(ctx, StartRequest{Nodes: []string{"n1", "n2"}, Benchmarks: []string{"cis"}, Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := started[0].ID, started[1].ID
	for _, r := range []struct {
		node, scan string
		state      sensorv1.ScanState
		want       posture.ScanState
	}{
		{"n1", s1, sensorv1.ScanState_SCAN_STATE_RUNNING, posture.Running},
		{"n1", s1, sensorv1.ScanState_SCAN_STATE_UNSPECIFIED, posture.Running},
		{"n2", s2, sensorv1.ScanState_SCAN_STATE_FAILED, posture.Failed},
	} {
		got, err := m.Update(ctx, r.node, &sensorv1.UpdateScanRequest{ScanId: r.scan, State: r.state, ControlsTotal: 288})
		if err != nil || got != r.want {
			t.Fatalf("%s reports %s on %s: %s, %v; want %s", r.node, r.state, r.scan, got, err, r.want)
		}
	}
	if want := []string{"n1/" + s1, "n2/" + s2}; !slices.Equal(d.settled, want) {
		t.Fatalf("settled %v, want %v", d.settled, want)
	}
}

// gatedStore holds the first transition to running until gate closes, and records the ids of
// every transition to running.
type gatedStore struct {
	store.Store
	gate  chan struct{}
	mu    sync.Mutex
	calls [][]string
}

func (s *gatedStore) TransitionScans(ctx context.Context, ids []string, t store.Transition) ([]store.Scan, error) {
	if t.State == posture.Running {
		s.mu.Lock()
		first := len(s.calls) == 0
		s.calls = append(s.calls, slices.Clone(ids))
		s.mu.Unlock()
		if first {
			<-s.gate
		}
	}
	return s.Store.TransitionScans(ctx, ids, t)
}

// TestRunningReportsStoredTogether: reports that a scan runs, arriving while one is being
// stored, are stored together in the next store call.
func TestRunningReportsStoredTogether(t *testing.T) {
	gs := &gatedStore{gate: make(chan struct{})}
	m, _, _ := startFixture(t, &bulkDispatcher{}, func(c *Config) {
		gs.Store = c.Store
		c.Store = gs
	})
	ctx := context.Background()
	_, started, err := m.Start(ctx, StartRequest{Nodes: []string{"n1", "n2", "n3", "n4"}, Benchmarks: []string{"cis"}, Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	states := make(chan posture.ScanState, len(started))
	report := func(sc store.Scan) {
		st, err := m.Update(ctx, sc.NodeID, &sensorv1.UpdateScanRequest{ScanId: sc.ID, State: sensorv1.ScanState_SCAN_STATE_RUNNING})
		if err != nil {
			t.Error(err)
		}
		states <- st
	}
	go report(started[0])
	deadline := time.Now().Add(10 * time.Second)
	waitQueued := func(n int) {
		for {
			gs.mu.Lock()
			calls := len(gs.calls)
			gs.mu.Unlock()
			queued := m.starts.queued()
			if calls == 1 && queued == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d store calls and %d reports queued; want 1 and %d", calls, queued, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitQueued(0)
	for _, sc := range started[1:] {
		go report(sc)
	}
	waitQueued(3)
	close(gs.gate)
	for range started {
		if st := <-states; st != posture.Running {
			t.Fatalf("report answered %s; want running", st)
		}
	}
	gs.mu.Lock()
	defer gs.mu.Unlock()
	want := []string{started[1].ID, started[2].ID, started[3].ID}
	slices.Sort(want)
	if len(gs.calls) != 2 || !slices.Equal(gs.calls[0], []string{started[0].ID}) || !slices.Equal(slices.Sorted(slices.Values(gs.calls[1])), want) {
		t.Fatalf("store calls %v; want [%s] then the other three together", gs.calls, started[0].ID)
	}
}

// TestJobWithExclusionsResolvesTheScansControls: a job for a sensor with the console's
// catalogue carries the exclusions, sorted and once each, and resolves to the scan's controls.
func TestJobWithExclusionsResolvesTheScansControls(t *testing.T) {
	d := &bulkDispatcher{}
	m, st, cat := startFixture(t, d)
	ctx := context.Background()
	all, err := cat.ControlSet([]string{"linux-cis"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := all[5].ID, all[2].ID
	_, started, err := m.Start(ctx, StartRequest{Nodes: []string{"n1"}, Benchmarks: []string{"cis"}, Exclude: []string{a, b, a}, Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	job := d.jobs[0]
	if want := []string{b, a}; !slices.Equal(job.GetExcludeControlIds(), want) {
		t.Fatalf("job exclusions %v; want %v", job.GetExcludeControlIds(), want)
	}
	resolved, stored := resolveAndStored(t, job, cat, st, started[0].ID)
	if len(resolved) != 286 || len(stored) != 286 {
		t.Fatalf("job resolves %d controls, scan stores %d; want 286 each", len(resolved), len(stored))
	}
	for _, c := range resolved {
		if _, ok := stored[c.ID]; !ok || c.ID == a || c.ID == b {
			t.Fatalf("job resolves %s (stored %v)", c.ID, ok)
		}
	}
}

// TestRunningReportChecksTheNode: a running report on another node's scan or on an unknown
// scan is refused and moves nothing; a repeated report keeps the scan running and stores its
// progress.
func TestRunningReportChecksTheNode(t *testing.T) {
	m, st, _ := startFixture(t, &bulkDispatcher{})
	ctx := context.Background()
	id := startOnN1(t, m)
	running := func(node, scan string, done uint32) (posture.ScanState, error) {
		return m.Update(ctx, node, &sensorv1.UpdateScanRequest{ScanId: scan, State: sensorv1.ScanState_SCAN_STATE_RUNNING, ControlsDone: done})
	}
	if _, err := running("n2", id, 0); !errors.Is(err, ErrPermission) {
		t.Fatalf("running report of another node: %v; want ErrPermission", err)
	}
	if _, err := running("n1", "scn_missing", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("running report on an unknown scan: %v; want ErrNotFound", err)
	}
	sc, err := st.GetScan(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if sc.State != posture.Dispatched {
		t.Fatalf("after refused reports the scan is %s; want dispatched", sc.State)
	}
	for i, done := range []uint32{0, 7} {
		if state, err := running("n1", id, done); err != nil || state != posture.Running {
			t.Fatalf("running report %d: %s, %v; want running", i+1, state, err)
		}
	}
	if sc, err = st.GetScan(ctx, id); err != nil {
		t.Fatal(err)
	}
	if sc.State != posture.Running || sc.ControlsDone != 7 || sc.StartedAt.IsZero() {
		t.Fatalf("scan %s with %d controls done, started %s; want running with 7 done", sc.State, sc.ControlsDone, sc.StartedAt)
	}
}

// TestStartCachesTheStoredControls: the control set ingest uses for a scan the replica
// started is the one stored with the scan, shared by the scans of one start, and read back
// from the store once dropped as idle.
func TestStartCachesTheStoredControls(t *testing.T) {
	m, st, _ := startFixture(t, &bulkDispatcher{})
	ctx := context.Background()
	_, started, err := m.Start(ctx, StartRequest{Nodes: []string{"n1", "n2"}, Benchmarks: []string{"cis"}, Exclude: []string{"linux.ssh.permit-root-login"}, Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.ScanControls(ctx, started[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stored["linux.ssh.permit-root-login"]; ok || len(stored) == 0 {
		t.Fatalf("stored controls: %d, excluded control present %t", len(stored), ok)
	}
	first, err := m.scanControls(ctx, started[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	second, err := m.scanControls(ctx, started[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, stored) || !reflect.DeepEqual(second, stored) {
		t.Fatalf("cached control sets differ from the stored one (%d, %d and %d controls)", len(first), len(second), len(stored))
	}
	if reflect.ValueOf(first).UnsafePointer() != reflect.ValueOf(second).UnsafePointer() {
		t.Error("the scans of one start hold separate copies of their control set")
	}
	m.dropIdleControls(time.Now().Add(time.Hour))
	m.mu.Lock()
	left := len(m.controls)
	m.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d control sets cached after dropping idle ones; want 0", left)
	}
	again, err := m.scanControls(ctx, started[0].ID)
	if err != nil || !reflect.DeepEqual(again, stored) {
		t.Fatalf("control set read again: %d controls, %v; want the stored %d", len(again), err, len(stored))
	}
}

// resolveAndStored returns the controls a sensor resolves from job and the controls the
// console stored for scanID.
func resolveAndStored(t *testing.T, job *sensorv1.Job, cat *catalog.Catalog, st store.Store, scanID string) ([]*catalog.Control, map[string]store.ScanControl) {
	t.Helper()
	resolved, err := jobs.Controls(job, cat)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.ScanControls(context.Background(), scanID)
	if err != nil {
		t.Fatal(err)
	}
	return resolved, stored
}

func TestHeartbeatSeconds(t *testing.T) {
	tests := []struct {
		interval, timeout time.Duration
		nodes             int
		want              uint32
	}{
		{nodes: 1, want: 5}, // the defaults: every 5 s, stale after 60 s
		{nodes: 5_000, want: 5},
		{nodes: 9_800, want: 9},    // about a thousand reports a second
		{nodes: 100_000, want: 12}, // but five within the timeout
		{interval: 30 * time.Second, timeout: 60 * time.Second, nodes: 100_000, want: 30}, // never more often than asked
		{interval: 500 * time.Millisecond, nodes: 10, want: 1},                            // whole seconds, at least one
	}
	for _, tt := range tests {
		m, _, _ := startFixture(t, &bulkDispatcher{}, func(c *Config) { c.HeartbeatInterval, c.HeartbeatTimeout = tt.interval, tt.timeout })
		if got := m.heartbeatSeconds(tt.nodes); got != tt.want {
			t.Errorf("interval %s, timeout %s, %d nodes: every %d s, want %d", tt.interval, tt.timeout, tt.nodes, got, tt.want)
		}
	}
}

func TestSplay(t *testing.T) {
	tests := []struct {
		rate, nodes int
		want        uint32
	}{
		{rate: 0, nodes: 10_000, want: 100_000}, // the default rate, 100 nodes a second
		{rate: 0, nodes: 1, want: 0},            // one second's worth at most: no spread
		{rate: 0, nodes: 100, want: 0},
		{rate: 0, nodes: 101, want: 1_010}, // more: all of them spread
		{rate: 100, nodes: 250, want: 2_500},
		{rate: 1, nodes: 100_000, want: 600_000}, // at most ten minutes
		{rate: -1, nodes: 10_000, want: 0},       // everybody at once
	}
	for _, tt := range tests {
		m, _, _ := startFixture(t, &bulkDispatcher{}, func(c *Config) { c.SplayRate = tt.rate })
		if got := m.splay(tt.nodes); got != tt.want {
			t.Errorf("rate %d, %d nodes: splay %d ms, want %d", tt.rate, tt.nodes, got, tt.want)
		}
	}
}

// TestLargeStartCollectsFirst: a start of collectBeforeStart nodes or more begins a garbage
// collection, so that its jobs go out into a swept heap.
func TestLargeStartCollectsFirst(t *testing.T) {
	defer func(n int) { collectBeforeStart = n }(collectBeforeStart)
	collectBeforeStart = 2
	m, _, _ := startFixture(t, &recordingDispatcher{})
	forced := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	before := forced()
	if _, _, err := m.Start(context.Background(), StartRequest{Nodes: []string{"n1", "n3"}, Benchmarks: []string{"cis"}, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for forced() == before {
		if time.Now().After(deadline) {
			t.Fatal("no forced collection within 10 s of a start of 2 nodes with collectBeforeStart 2")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestScanIDsSortByCreation(t *testing.T) {
	at := time.Unix(0x6b08c9b1, 999_000_000)
	id := newScanID(at)
	if len(id) != 24 || !strings.HasPrefix(id, "scn_6b08c9b1") {
		t.Fatalf("newScanID(%v) = %q; want scn_6b08c9b1 and twelve hex digits", at, id)
	}
	if _, err := hex.DecodeString(id[4:]); err != nil {
		t.Fatalf("newScanID = %q: %v", id, err)
	}
	seen := map[string]bool{}
	var earlier []string
	for range 1000 {
		id := newScanID(at)
		if seen[id] {
			t.Fatalf("newScanID returned %s twice in 1,000 calls", id)
		}
		seen[id] = true
		earlier = append(earlier, id)
	}
	later := newScanID(at.Add(time.Second).Truncate(time.Second))
	for _, id := range earlier {
		if id >= later {
			t.Fatalf("%s, created a second later, sorts before or with %s", later, id)
		}
	}
	// The year 2106 still fits the eight digits.
	if id := newScanID(time.Unix(1<<32-1, 0)); !strings.HasPrefix(id, "scn_ffffffff") {
		t.Fatalf("newScanID in 2106 = %q", id)
	}

	// A start names its scans from the manager's clock.
	m, _, _ := startFixture(t, &bulkDispatcher{})
	_, started, err := m.Start(context.Background(), StartRequest{Nodes: []string{"n1", "n2"}, Benchmarks: []string{"cis"}, Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "scn_6b080320" // the fixture's clock, 2026-11-26 10:00:00 UTC
	for _, sc := range started {
		if !strings.HasPrefix(sc.ID, prefix) || len(sc.ID) != 24 {
			t.Errorf("scan id %q; want %s and twelve hex digits", sc.ID, prefix)
		}
	}
}
