package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

func testCreateScans(t *testing.T, s store.Store) {
	enrolNode(t, s, "n-1", "web-1", posture.Linux, t0)
	enrolNode(t, s, "n-2", "web-2", posture.Linux, t0)
	created := time.Date(2026, 11, 26, 11, 0, 0, 1, cet)
	entry := store.AuditEntry{At: created.UTC(), Actor: "alice", Action: "scan.start", Target: "g-1", Detail: "nodes=2 benchmarks=cis"}
	must(t, "CreateScans", s.CreateScans(ctx(t), []store.NewScan{
		newScan("s-1", "g-1", "n-1", created),
		newScan("s-2", "g-1", "n-2", created),
	}, entry))
	audit, err := s.ListAudit(ctx(t), 0)
	must(t, "ListAudit", err)
	equal(t, "audit after CreateScans", audit, []store.AuditEntry{entry})
	for _, want := range []store.Scan{
		queuedScan("s-1", "g-1", "n-1", "web-1", created),
		queuedScan("s-2", "g-1", "n-2", "web-2", created),
	} {
		got, err := s.GetScan(ctx(t), want.ID)
		must(t, "GetScan "+want.ID, err)
		checkUTC(t, "GetScan", got.CreatedAt, got.StartedAt, got.FinishedAt, got.LastHeartbeatAt)
		equal(t, "GetScan "+want.ID, got, want)
	}

	ctls, err := s.ScanControls(ctx(t), "s-1")
	must(t, "ScanControls", err)
	want := map[string]store.ScanControl{}
	for _, c := range controls {
		want[c.ControlID] = c
	}
	equal(t, "ScanControls", ctls, want)

	// A scan without controls or benchmarks.
	must(t, "CreateScans empty", s.CreateScans(ctx(t), []store.NewScan{{ID: "s-0", NodeID: "n-1", CreatedAt: t0}}))
	got, err := s.GetScan(ctx(t), "s-0")
	must(t, "GetScan s-0", err)
	equal(t, "GetScan s-0", got, store.Scan{ID: "s-0", NodeID: "n-1", NodeName: "web-1", State: posture.Queued, CreatedAt: t0})
	ctls, err = s.ScanControls(ctx(t), "s-0")
	must(t, "ScanControls s-0", err)
	equal(t, "ScanControls s-0", len(ctls), 0)

	// Failures store none of the scans given together.
	rejected := []struct {
		name  string
		scans []store.NewScan
		want  error
	}{
		{"unknown node", []store.NewScan{newScan("s-3", "g-2", "n-1", t0), newScan("s-4", "g-2", "n-9", t0)}, store.ErrNotFound},
		{"taken id", []store.NewScan{newScan("s-3", "g-2", "n-1", t0), newScan("s-1", "g-2", "n-1", t0)}, store.ErrConflict},
		{"id twice", []store.NewScan{newScan("s-3", "g-2", "n-1", t0), newScan("s-3", "g-2", "n-2", t0)}, store.ErrConflict},
		{"created running", []store.NewScan{newScan("s-3", "g-2", "n-1", t0), withState(newScan("s-4", "g-2", "n-1", t0), posture.Running)}, store.ErrBadTransition},
	}
	for _, tt := range rejected {
		rejectedEntry := store.AuditEntry{At: t0, Actor: "bob", Action: "scan.start", Target: "g-2", Detail: tt.name}
		wantErr(t, "CreateScans "+tt.name, s.CreateScans(ctx(t), tt.scans, rejectedEntry), tt.want)
		_, err := s.GetScan(ctx(t), "s-3")
		wantErr(t, "GetScan s-3 after CreateScans "+tt.name, err, store.ErrNotFound)
	}
	audit, err = s.ListAudit(ctx(t), 0)
	must(t, "ListAudit", err)
	equal(t, "audit after the rejected CreateScans", audit, []store.AuditEntry{entry})
	page, err := s.ListScans(ctx(t), store.ScanFilter{})
	must(t, "ListScans", err)
	equal(t, "number of scans", len(page.Scans), 3)

	// A scan whose job goes out at once is created dispatched.
	must(t, "CreateScans dispatched", s.CreateScans(ctx(t), []store.NewScan{withState(newScan("s-5", "g-3", "n-2", created), posture.Dispatched)}))
	got, err = s.GetScan(ctx(t), "s-5")
	must(t, "GetScan s-5", err)
	want5 := queuedScan("s-5", "g-3", "n-2", "web-2", created)
	want5.State = posture.Dispatched
	equal(t, "GetScan s-5", got, want5)
}

func withState(ns store.NewScan, st posture.ScanState) store.NewScan {
	ns.State = st
	return ns
}

func testScanLifecycle(t *testing.T, s store.Store) {
	enrolNode(t, s, "n-1", "web-1", posture.Linux, t0)
	must(t, "CreateScans", s.CreateScans(ctx(t), []store.NewScan{
		newScan("s-1", "g-1", "n-1", t0),
		newScan("s-2", "g-1", "n-1", t0),
	}))
	s1 := queuedScan("s-1", "g-1", "n-1", "web-1", t0)
	s2 := queuedScan("s-2", "g-1", "n-1", "web-1", t0)

	type step struct {
		name string
		scan string
		do   func() (store.Scan, error)
		err  error
		// edit turns the scan's expected value into the one expected after the step.
		edit func(sc *store.Scan)
	}
	transition := func(id string, st posture.ScanState, msg string, when time.Time) func() (store.Scan, error) {
		return func() (store.Scan, error) {
			return s.TransitionScan(ctx(t), id, store.Transition{State: st, Message: msg, At: when})
		}
	}
	progress := func(id string, done, total int, when time.Time) func() (store.Scan, error) {
		return func() (store.Scan, error) {
			return store.Scan{}, s.RecordProgress(ctx(t), id, done, total, when)
		}
	}
	complete := func(id string, scores []store.Score, when time.Time) func() (store.Scan, error) {
		return func() (store.Scan, error) { return s.CompleteScan(ctx(t), id, scores, when) }
	}
	scores := []store.Score{
		{BenchmarkID: "pci-linux", Counts: posture.Counts{Pass: 1, Fail: 2}},
		{BenchmarkID: "cis-linux", Counts: posture.Counts{Pass: 3, Fail: 1, Info: 1, Skip: 2, Error: 1}},
	}
	startAt := time.Date(2026, 11, 26, 10, 31, 0, 2, cet)
	steps := []step{
		{name: "dispatch", scan: "s-1", do: transition("s-1", posture.Dispatched, "", at(time.Second)),
			edit: func(sc *store.Scan) { sc.State = posture.Dispatched }},
		{name: "dispatched cannot complete", scan: "s-1", do: complete("s-1", scores, at(2*time.Second)), err: store.ErrBadTransition},
		{name: "dispatched cannot complete by transition", scan: "s-1", do: transition("s-1", posture.Complete, "x", at(2*time.Second)), err: store.ErrBadTransition},
		{name: "dispatched cannot dispatch again", scan: "s-1", do: transition("s-1", posture.Dispatched, "x", at(2*time.Second)), err: store.ErrBadTransition},
		{name: "dispatched records no progress", scan: "s-1", do: progress("s-1", 1, 3, at(2*time.Second)), err: store.ErrBadTransition},
		{name: "run", scan: "s-1", do: transition("s-1", posture.Running, "", startAt),
			edit: func(sc *store.Scan) { sc.State, sc.StartedAt = posture.Running, startAt.UTC() }},
		{name: "running cannot go back", scan: "s-1", do: transition("s-1", posture.Dispatched, "", at(3*time.Second)), err: store.ErrBadTransition},
		{name: "running cannot run again", scan: "s-1", do: transition("s-1", posture.Running, "", at(3*time.Second)), err: store.ErrBadTransition},
		{name: "progress", scan: "s-1", do: progress("s-1", 2, 4, at(4*time.Second)),
			edit: func(sc *store.Scan) { sc.ControlsDone, sc.ControlsTotal, sc.LastHeartbeatAt = 2, 4, at(4*time.Second) }},
		{name: "more progress", scan: "s-1", do: progress("s-1", 3, 4, at(5*time.Second)),
			edit: func(sc *store.Scan) { sc.ControlsDone, sc.LastHeartbeatAt = 3, at(5*time.Second) }},
		{name: "complete", scan: "s-1", do: complete("s-1", scores, at(6*time.Second)),
			edit: func(sc *store.Scan) { sc.State, sc.FinishedAt = posture.Complete, at(6*time.Second) }},
		{name: "complete cannot complete again", scan: "s-1", do: complete("s-1", nil, at(7*time.Second)), err: store.ErrBadTransition},
		{name: "complete cannot fail", scan: "s-1", do: transition("s-1", posture.Failed, "late", at(7*time.Second)), err: store.ErrBadTransition},
		{name: "complete records no progress", scan: "s-1", do: progress("s-1", 4, 4, at(7*time.Second)), err: store.ErrBadTransition},

		{name: "queued cannot complete", scan: "s-2", do: complete("s-2", scores, at(time.Second)), err: store.ErrBadTransition},
		{name: "queued runs directly", scan: "s-2", do: transition("s-2", posture.Running, "started", at(time.Second)),
			edit: func(sc *store.Scan) { sc.State, sc.StartedAt, sc.Message = posture.Running, at(time.Second), "started" }},
		{name: "cancel keeps the message when none is given", scan: "s-2", do: transition("s-2", posture.Cancelled, "", at(2*time.Second)),
			edit: func(sc *store.Scan) { sc.State, sc.FinishedAt = posture.Cancelled, at(2*time.Second) }},
		{name: "cancelled cannot run", scan: "s-2", do: transition("s-2", posture.Running, "x", at(3*time.Second)), err: store.ErrBadTransition},
		{name: "cancelled cannot complete", scan: "s-2", do: complete("s-2", scores, at(3*time.Second)), err: store.ErrBadTransition},
		{name: "cancelled cannot time out", scan: "s-2", do: transition("s-2", posture.TimedOut, "x", at(3*time.Second)), err: store.ErrBadTransition},
	}
	want := map[string]*store.Scan{"s-1": &s1, "s-2": &s2}
	for _, st := range steps {
		got, err := st.do()
		if st.err != nil {
			wantErr(t, st.name, err, st.err)
		} else {
			must(t, st.name, err)
			st.edit(want[st.scan])
		}
		stored, err := s.GetScan(ctx(t), st.scan)
		must(t, st.name+": GetScan", err)
		checkUTC(t, st.name, stored.CreatedAt, stored.StartedAt, stored.FinishedAt, stored.LastHeartbeatAt)
		equal(t, st.name+": stored scan", stored, *want[st.scan])
		if st.err == nil && got.ID != "" {
			equal(t, st.name+": returned scan", got, *want[st.scan])
		}
	}

	got, err := s.Scores(ctx(t), "s-1")
	must(t, "Scores s-1", err)
	equal(t, "Scores s-1 (by benchmark id)", got, []store.Score{scores[1], scores[0]})
	got, err = s.Scores(ctx(t), "s-2")
	must(t, "Scores s-2", err)
	equal(t, "Scores of a cancelled scan", len(got), 0)

	// Every terminal state can be reached from queued, dispatched and running.
	for i, final := range []posture.ScanState{posture.Failed, posture.Cancelled, posture.TimedOut} {
		for j, from := range []posture.ScanState{posture.Queued, posture.Dispatched, posture.Running} {
			id := fmt.Sprintf("s-%d%d", i, j)
			must(t, "CreateScans", s.CreateScans(ctx(t), []store.NewScan{newScan(id, "g-2", "n-1", t0)}))
			if from != posture.Queued {
				_, err := s.TransitionScan(ctx(t), id, store.Transition{State: from, At: at(time.Second)})
				must(t, fmt.Sprintf("%s to %s", id, from), err)
			}
			sc, err := s.TransitionScan(ctx(t), id, store.Transition{State: final, Message: "because", At: at(time.Minute)})
			must(t, fmt.Sprintf("%s from %s to %s", id, from, final), err)
			if sc.State != final || !sc.FinishedAt.Equal(at(time.Minute)) || sc.Message != "because" {
				t.Fatalf("%s from %s to %s: got state %s, finished %v, message %q", id, from, final, sc.State, sc.FinishedAt, sc.Message)
			}
		}
	}

	testTransitionScans(t, s)
}

// testTransitionScans runs on the store testScanLifecycle leaves behind, whose scans are all
// terminal, on node n-1 (web-1).
func testTransitionScans(t *testing.T, s store.Store) {
	must(t, "CreateScans", s.CreateScans(ctx(t), []store.NewScan{
		newScan("b-1", "g-b", "n-1", t0), newScan("b-2", "g-b", "n-1", t0),
		newScan("b-3", "g-b", "n-1", t0), newScan("b-4", "g-b", "n-1", t0),
	}))
	b1, b2, b3, b4 := queuedScan("b-1", "g-b", "n-1", "web-1", t0), queuedScan("b-2", "g-b", "n-1", "web-1", t0),
		queuedScan("b-3", "g-b", "n-1", "web-1", t0), queuedScan("b-4", "g-b", "n-1", "web-1", t0)
	// b-2's sensor was quick and runs already; b-3 was stopped.
	_, err := s.TransitionScan(ctx(t), "b-2", store.Transition{State: posture.Running, At: at(time.Second)})
	must(t, "TransitionScan b-2 running", err)
	b2.State, b2.StartedAt = posture.Running, at(time.Second)
	_, err = s.TransitionScan(ctx(t), "b-3", store.Transition{State: posture.Cancelled, Message: "stopped", At: at(time.Second)})
	must(t, "TransitionScan b-3 cancelled", err)
	b3.State, b3.FinishedAt, b3.Message = posture.Cancelled, at(time.Second), "stopped"

	// Only the queued scans move; the others come back as they are, in the order asked.
	dispatchedAt := time.Date(2026, 11, 26, 11, 30, 0, 3, cet) // about an hour after t0
	got, err := s.TransitionScans(ctx(t), []string{"b-3", "b-1", "b-2", "b-4"}, store.Transition{State: posture.Dispatched, At: dispatchedAt})
	must(t, "TransitionScans dispatched", err)
	b1.State, b4.State = posture.Dispatched, posture.Dispatched
	for _, sc := range got {
		checkUTC(t, "TransitionScans", sc.CreatedAt, sc.StartedAt, sc.FinishedAt, sc.LastHeartbeatAt)
	}
	equal(t, "TransitionScans dispatched", got, []store.Scan{b3, b1, b2, b4})
	// The dispatch time is recorded: b-4, created at t0 but dispatched an hour later, is not
	// stale for a dispatch bound half an hour after t0.
	stale, err := s.StaleScans(ctx(t), t0, at(30*time.Minute))
	must(t, "StaleScans", err)
	equal(t, "StaleScans after the dispatch", len(stale), 0)
	stale, err = s.StaleScans(ctx(t), t0, at(2*time.Hour))
	must(t, "StaleScans", err)
	equal(t, "StaleScans two hours on", stale, []store.Scan{b1, b4})

	// An unknown id changes nothing.
	_, err = s.TransitionScans(ctx(t), []string{"b-1", "b-missing"}, store.Transition{State: posture.Failed, Message: "x", At: at(time.Hour)})
	wantErr(t, "TransitionScans with an unknown id", err, store.ErrNotFound)
	sc, err := s.GetScan(ctx(t), "b-1")
	must(t, "GetScan b-1", err)
	equal(t, "b-1 after TransitionScans with an unknown id", sc, b1)

	// Failing sets the message and the finish time; a terminal scan stays as it is.
	got, err = s.TransitionScans(ctx(t), []string{"b-1", "b-2", "b-3"}, store.Transition{State: posture.Failed, Message: "dispatch failed: no route", At: at(2 * time.Hour)})
	must(t, "TransitionScans failed", err)
	for _, sc := range []*store.Scan{&b1, &b2} {
		sc.State, sc.FinishedAt, sc.Message = posture.Failed, at(2*time.Hour), "dispatch failed: no route"
	}
	equal(t, "TransitionScans failed", got, []store.Scan{b1, b2, b3})
	sc, err = s.GetScan(ctx(t), "b-2")
	must(t, "GetScan b-2", err)
	equal(t, "b-2 as stored after TransitionScans failed", sc, b2)

	got, err = s.TransitionScans(ctx(t), nil, store.Transition{State: posture.Dispatched, At: t0})
	must(t, "TransitionScans none", err)
	equal(t, "TransitionScans none", len(got), 0)
}

func testScanNotFound(t *testing.T, s store.Store) {
	const id = "s-missing"
	checks := []struct {
		name string
		err  error
	}{
		{"GetScan", func() error { _, err := s.GetScan(ctx(t), id); return err }()},
		{"ScanControls", func() error { _, err := s.ScanControls(ctx(t), id); return err }()},
		{"TransitionScan", func() error {
			_, err := s.TransitionScan(ctx(t), id, store.Transition{State: posture.Dispatched, At: t0})
			return err
		}()},
		{"TransitionScans", func() error {
			_, err := s.TransitionScans(ctx(t), []string{id}, store.Transition{State: posture.Dispatched, At: t0})
			return err
		}()},
		{"RecordProgress", s.RecordProgress(ctx(t), id, 1, 2, t0)},
		{"CompleteScan", func() error { _, err := s.CompleteScan(ctx(t), id, nil, t0); return err }()},
		{"StoreBatch", func() error {
			_, err := s.StoreBatch(ctx(t), store.Batch{ScanID: id, NodeID: "n-1", Seq: 1, ReceivedAt: t0})
			return err
		}()},
		{"ListResults", func() error { _, err := s.ListResults(ctx(t), store.ResultFilter{ScanID: id}); return err }()},
		{"StatusCounts", func() error { _, err := s.StatusCounts(ctx(t), id, t0); return err }()},
		{"Scores", func() error { _, err := s.Scores(ctx(t), id); return err }()},
	}
	for _, c := range checks {
		wantErr(t, c.name, c.err, store.ErrNotFound)
	}
}

func testListScans(t *testing.T, s store.Store) {
	enrolNode(t, s, "n-1", "web-1", posture.Linux, t0)
	enrolNode(t, s, "n-2", "web-2", posture.Linux, t0)
	// Nine scans: s-a..s-c share one creation time (ties go by id, descending).
	var scans []store.NewScan
	for _, sp := range []struct {
		id, group, node string
		created         time.Duration
	}{
		{"s-1", "g-1", "n-1", 1 * time.Minute},
		{"s-2", "g-1", "n-2", 1 * time.Minute},
		{"s-3", "g-2", "n-1", 3 * time.Minute},
		{"s-a", "g-3", "n-2", 5 * time.Minute},
		{"s-b", "g-3", "n-1", 5 * time.Minute},
		{"s-c", "g-3", "n-1", 5 * time.Minute},
		{"s-4", "g-4", "n-2", 4 * time.Minute},
		{"s-5", "g-5", "n-1", 7 * time.Minute},
		{"s-0", "g-0", "n-2", 0},
	} {
		scans = append(scans, newScan(sp.id, sp.group, sp.node, at(sp.created)))
	}
	must(t, "CreateScans", s.CreateScans(ctx(t), scans))
	_, err := s.TransitionScan(ctx(t), "s-3", store.Transition{State: posture.Running, At: at(10 * time.Minute)})
	must(t, "TransitionScan s-3", err)
	_, err = s.TransitionScan(ctx(t), "s-b", store.Transition{State: posture.Running, At: at(10 * time.Minute)})
	must(t, "TransitionScan s-b", err)

	tests := []struct {
		name   string
		filter store.ScanFilter
		pages  [][]string
	}{
		{"all", store.ScanFilter{}, [][]string{{"s-5", "s-c", "s-b", "s-a", "s-4", "s-3", "s-2", "s-1", "s-0"}}},
		{"pages of 4", store.ScanFilter{PageSize: 4}, [][]string{{"s-5", "s-c", "s-b", "s-a"}, {"s-4", "s-3", "s-2", "s-1"}, {"s-0"}}},
		{"pages of 3 end exactly", store.ScanFilter{PageSize: 3}, [][]string{{"s-5", "s-c", "s-b"}, {"s-a", "s-4", "s-3"}, {"s-2", "s-1", "s-0"}}},
		{"pages of 1 through a tie", store.ScanFilter{PageSize: 1, GroupID: "g-3"}, [][]string{{"s-c"}, {"s-b"}, {"s-a"}}},
		{"node", store.ScanFilter{NodeID: "n-2", PageSize: 2}, [][]string{{"s-a", "s-4"}, {"s-2", "s-0"}}},
		{"group", store.ScanFilter{GroupID: "g-1"}, [][]string{{"s-2", "s-1"}}},
		{"state", store.ScanFilter{State: posture.Running}, [][]string{{"s-b", "s-3"}}},
		{"node and state", store.ScanFilter{NodeID: "n-1", State: posture.Queued}, [][]string{{"s-5", "s-c", "s-1"}}},
		{"nothing", store.ScanFilter{NodeID: "n-9"}, [][]string{nil}},
		{"page size above the limit", store.ScanFilter{PageSize: 1 << 20, GroupID: "g-1"}, [][]string{{"s-2", "s-1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.filter
			for i, want := range tt.pages {
				page, err := s.ListScans(ctx(t), f)
				must(t, fmt.Sprintf("ListScans page %d", i), err)
				var ids []string
				for _, sc := range page.Scans {
					ids = append(ids, sc.ID)
				}
				equal(t, fmt.Sprintf("page %d", i), ids, want)
				last := i == len(tt.pages)-1
				if last != (page.NextPageToken == "") {
					t.Fatalf("page %d: NextPageToken = %q; want one only when more pages follow", i, page.NextPageToken)
				}
				f.PageToken = page.NextPageToken
			}
		})
	}

	// Listed scans are complete, with the node name.
	page, err := s.ListScans(ctx(t), store.ScanFilter{GroupID: "g-2"})
	must(t, "ListScans g-2", err)
	want := queuedScan("s-3", "g-2", "n-1", "web-1", at(3*time.Minute))
	want.State, want.StartedAt = posture.Running, at(10*time.Minute)
	equal(t, "ListScans g-2", page.Scans, []store.Scan{want})

	// A token from another listing, or none at all, is refused.
	res := runningScan(t, s, "s-r", "n-3")
	_, err = s.StoreBatch(ctx(t), store.Batch{ScanID: res.ID, NodeID: "n-3", Seq: 1, ReceivedAt: t0, Results: []store.Result{
		{ControlID: "a", Resource: "r", Status: posture.Pass}, {ControlID: "b", Resource: "r", Status: posture.Pass},
	}})
	must(t, "StoreBatch", err)
	rp, err := s.ListResults(ctx(t), store.ResultFilter{ScanID: res.ID, PageSize: 1})
	must(t, "ListResults", err)
	for _, tok := range []string{"not-a-token", "e30", rp.NextPageToken} {
		_, err = s.ListScans(ctx(t), store.ScanFilter{PageToken: tok})
		wantErr(t, "ListScans with page token "+tok, err, store.ErrBadPageToken)
	}
}

func testHeartbeats(t *testing.T, s store.Store) {
	enrolNode(t, s, "n-1", "web-1", posture.Linux, t0)
	enrolNode(t, s, "n-2", "web-2", posture.Linux, t0)
	must(t, "CreateScans", s.CreateScans(ctx(t), []store.NewScan{
		newScan("s-1", "g-1", "n-1", t0),
		newScan("s-2", "g-1", "n-1", t0),
		newScan("s-3", "g-1", "n-2", t0),
	}))
	for _, id := range []string{"s-1", "s-3"} {
		for _, st := range []posture.ScanState{posture.Dispatched, posture.Running} {
			_, err := s.TransitionScan(ctx(t), id, store.Transition{State: st, At: at(time.Second)})
			must(t, "TransitionScan "+id+" "+string(st), err)
		}
	}

	got, err := s.RecordHeartbeats(ctx(t), nil, at(2*time.Second))
	must(t, "RecordHeartbeats none", err)
	equal(t, "RecordHeartbeats none", got, map[string]store.ScanOwner{})

	got, err = s.RecordHeartbeats(ctx(t), []store.Heartbeat{
		{ScanID: "s-1", NodeID: "n-1", Done: 1, Total: 4},
		{ScanID: "s-3", NodeID: "n-1", Done: 5, Total: 5}, // another node's scan
		{ScanID: "s-2", NodeID: "n-1", Done: 1, Total: 1}, // queued
		{ScanID: "s-9", NodeID: "n-1", Done: 1, Total: 1}, // unknown
		{ScanID: "s-1", NodeID: "n-1", Done: 3, Total: 4}, // the last beat of s-1 counts
		{ScanID: "s-1", NodeID: "n-2", Done: 9, Total: 9}, // and another node's changes nothing
	}, at(10*time.Second))
	must(t, "RecordHeartbeats", err)
	equal(t, "RecordHeartbeats", got, map[string]store.ScanOwner{
		"s-1": {NodeID: "n-1", State: posture.Running},
		"s-2": {NodeID: "n-1", State: posture.Queued},
		"s-3": {NodeID: "n-2", State: posture.Running},
	})

	owners, err := s.ScanOwners(ctx(t), []string{"s-3", "s-9", "s-1", "s-2"})
	must(t, "ScanOwners", err)
	equal(t, "ScanOwners", owners, map[string]store.ScanOwner{
		"s-1": {NodeID: "n-1", State: posture.Running},
		"s-2": {NodeID: "n-1", State: posture.Queued},
		"s-3": {NodeID: "n-2", State: posture.Running},
	})
	owners, err = s.ScanOwners(ctx(t), nil)
	must(t, "ScanOwners none", err)
	equal(t, "ScanOwners none", owners, map[string]store.ScanOwner{})

	type progress struct {
		Done, Total int
		Heartbeat   time.Time
	}
	for id, want := range map[string]progress{
		"s-1": {3, 4, at(10 * time.Second)},
		"s-2": {0, len(controls), time.Time{}},
		"s-3": {0, len(controls), time.Time{}},
	} {
		sc, err := s.GetScan(ctx(t), id)
		must(t, "GetScan "+id, err)
		equal(t, "progress of "+id, progress{sc.ControlsDone, sc.ControlsTotal, sc.LastHeartbeatAt}, want)
	}
}
