package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// completeScan creates, runs, fills and completes a scan on an enrolled node.
func completeScan(t *testing.T, s store.Store, id, node string, created time.Time, cis posture.Counts) {
	t.Helper()
	must(t, "CreateScans "+id, s.CreateScans(ctx(t), []store.NewScan{newScan(id, "g-"+id, node, created)}))
	_, err := s.TransitionScan(ctx(t), id, store.Transition{State: posture.Running, At: created.Add(time.Second)})
	must(t, "running "+id, err)
	r := res("linux.ssh.root-login", "/etc/ssh/sshd_config", posture.Pass, posture.High, "SSH")
	r.ScanID, r.NodeID = id, node
	_, err = s.StoreBatch(ctx(t), store.Batch{ScanID: id, NodeID: node, Seq: 1, ReceivedAt: created.Add(2 * time.Second), Results: []store.Result{r}})
	must(t, "StoreBatch "+id, err)
	_, err = s.CompleteScan(ctx(t), id, []store.Score{{BenchmarkID: "cis-linux", Counts: cis}}, created.Add(3*time.Second))
	must(t, "CompleteScan "+id, err)
}

func testLatestScores(t *testing.T, s store.Store) {
	enrolNode(t, s, "n-web", "web", posture.Linux, t0)
	enrolNode(t, s, "n-db", "db", posture.Linux, t0)
	enrolNode(t, s, "n-k8s", "k8s-1", posture.Kubernetes, t0)
	completeScan(t, s, "s1", "n-web", at(time.Hour), posture.Counts{Pass: 1, Fail: 3})
	completeScan(t, s, "s2", "n-web", at(2*time.Hour), posture.Counts{Pass: 3, Fail: 1})
	completeScan(t, s, "s3", "n-db", at(time.Hour), posture.Counts{Pass: 2, Skip: 1})
	completeScan(t, s, "s4", "n-k8s", at(time.Hour), posture.Counts{Error: 1})
	// A newer scan that never completed does not replace the latest score.
	must(t, "CreateScans s5", s.CreateScans(ctx(t), []store.NewScan{newScan("s5", "g-s5", "n-web", at(3*time.Hour))}))

	got, err := s.LatestScores(ctx(t), store.NodeFilter{TargetType: posture.Linux})
	must(t, "LatestScores linux", err)
	want := []store.NodeScore{
		{NodeID: "n-db", NodeName: "db", TargetType: posture.Linux, BenchmarkID: "cis-linux", ScanID: "s3", FinishedAt: at(time.Hour + 3*time.Second), Counts: posture.Counts{Pass: 2, Skip: 1}},
		{NodeID: "n-web", NodeName: "web", TargetType: posture.Linux, BenchmarkID: "cis-linux", ScanID: "s2", FinishedAt: at(2*time.Hour + 3*time.Second), Counts: posture.Counts{Pass: 3, Fail: 1}},
	}
	equal(t, "LatestScores linux", got, want)
	all, err := s.LatestScores(ctx(t), store.NodeFilter{})
	must(t, "LatestScores all", err)
	if len(all) != 3 || all[1].NodeID != "n-k8s" {
		t.Fatalf("LatestScores all = %+v; want db, k8s-1, web", all)
	}
}

func testPruneScans(t *testing.T, s store.Store) {
	enrolNode(t, s, "n1", "one", posture.Linux, t0)
	for i := 1; i <= 5; i++ {
		completeScan(t, s, fmt.Sprintf("p%d", i), "n1", at(time.Duration(i)*time.Hour), posture.Counts{Pass: i})
	}
	// A running scan is never pruned.
	must(t, "CreateScans p6", s.CreateScans(ctx(t), []store.NewScan{newScan("p6", "g-p6", "n1", at(6*time.Hour))}))

	n, err := s.PruneScans(ctx(t), 0, time.Time{}, 100)
	must(t, "PruneScans disabled", err)
	equal(t, "pruned with both rules off", n, 0)

	// Keep the 3 newest per node: p1, p2 and p3 go (p6 counts among the newest).
	n, err = s.PruneScans(ctx(t), 3, time.Time{}, 2)
	must(t, "PruneScans batch 1", err)
	equal(t, "pruned in the first batch", n, 2)
	n, err = s.PruneScans(ctx(t), 3, time.Time{}, 2)
	must(t, "PruneScans batch 2", err)
	equal(t, "pruned in the second batch", n, 1)
	for _, id := range []string{"p1", "p2", "p3"} {
		_, err := s.GetScan(ctx(t), id)
		wantErr(t, "GetScan "+id+" after pruning", err, store.ErrNotFound)
		page, err := s.ListResults(ctx(t), store.ResultFilter{ScanID: id})
		if err == nil && page.Total != 0 {
			t.Fatalf("results of pruned scan %s remain: %d", id, page.Total)
		}
	}
	// By age: everything created before p5 goes, but p5 holds the latest score and stays.
	n, err = s.PruneScans(ctx(t), 0, at(6*time.Hour), 100)
	must(t, "PruneScans by age", err)
	equal(t, "pruned by age", n, 1) // p4
	page, err := s.ListScans(ctx(t), store.ScanFilter{NodeID: "n1"})
	must(t, "ListScans", err)
	var ids []string
	for _, sc := range page.Scans {
		ids = append(ids, sc.ID)
	}
	equal(t, "scans left", ids, []string{"p6", "p5"})
	scores, err := s.Scores(ctx(t), "p5")
	must(t, "Scores p5", err)
	equal(t, "p5 scores", scores, []store.Score{{BenchmarkID: "cis-linux", Counts: posture.Counts{Pass: 5}}})
}

func testReplaceScores(t *testing.T, s store.Store) {
	enrolNode(t, s, "n-web", "web", posture.Linux, t0)
	completeScan(t, s, "s1", "n-web", at(time.Hour), posture.Counts{Pass: 1, Fail: 3, Masked: 2})
	completeScan(t, s, "s2", "n-web", at(2*time.Hour), posture.Counts{Pass: 3, Fail: 1})
	runningScan(t, s, "s-run", "n-other")

	scores := func(id string) []store.Score {
		t.Helper()
		got, err := s.Scores(ctx(t), id)
		must(t, "Scores "+id, err)
		return got
	}
	latest := func() []store.NodeScore {
		t.Helper()
		got, err := s.LatestScores(ctx(t), store.NodeFilter{})
		must(t, "LatestScores", err)
		return got
	}
	s2Latest := func(benchmark string, c posture.Counts) store.NodeScore {
		return store.NodeScore{NodeID: "n-web", NodeName: "web", TargetType: posture.Linux, BenchmarkID: benchmark, ScanID: "s2",
			FinishedAt: at(2*time.Hour + 3*time.Second), Counts: c}
	}
	equal(t, "Scores s1 with masked results", scores("s1"), []store.Score{{BenchmarkID: "cis-linux", Counts: posture.Counts{Pass: 1, Fail: 3, Masked: 2}}})
	equal(t, "LatestScores", latest(), []store.NodeScore{s2Latest("cis-linux", posture.Counts{Pass: 3, Fail: 1})})

	// An older scan's scores change; the latest stay those of s2.
	s1 := []store.Score{{BenchmarkID: "cis-linux", Counts: posture.Counts{Pass: 1, Fail: 1, Masked: 4}}}
	must(t, "ReplaceScores s1", s.ReplaceScores(ctx(t), "s1", s1))
	equal(t, "Scores s1", scores("s1"), s1)
	equal(t, "LatestScores after replacing s1", latest(), []store.NodeScore{s2Latest("cis-linux", posture.Counts{Pass: 3, Fail: 1})})

	// The latest scan's scores change, and so do the latest scores, a new benchmark included.
	s2 := []store.Score{
		{BenchmarkID: "pci-linux", Counts: posture.Counts{Pass: 4, Masked: 2}},
		{BenchmarkID: "cis-linux", Counts: posture.Counts{Pass: 2, Fail: 1, Masked: 1}},
	}
	must(t, "ReplaceScores s2", s.ReplaceScores(ctx(t), "s2", s2))
	equal(t, "Scores s2", scores("s2"), []store.Score{s2[1], s2[0]})
	equal(t, "LatestScores after replacing s2", latest(), []store.NodeScore{
		s2Latest("cis-linux", posture.Counts{Pass: 2, Fail: 1, Masked: 1}),
		s2Latest("pci-linux", posture.Counts{Pass: 4, Masked: 2}),
	})

	// Failures change nothing.
	wantErr(t, "ReplaceScores with a benchmark twice",
		s.ReplaceScores(ctx(t), "s2", []store.Score{{BenchmarkID: "cis-linux"}, {BenchmarkID: "cis-linux"}}), store.ErrConflict)
	wantErr(t, "ReplaceScores of a running scan", s.ReplaceScores(ctx(t), "s-run", s1), store.ErrConflict)
	wantErr(t, "ReplaceScores of an unknown scan", s.ReplaceScores(ctx(t), "s-missing", s1), store.ErrNotFound)
	equal(t, "Scores s2 after failures", scores("s2"), []store.Score{s2[1], s2[0]})
	_, err := s.CompleteScan(ctx(t), "s-run", []store.Score{{BenchmarkID: "cis-linux"}, {BenchmarkID: "cis-linux"}}, at(3*time.Hour))
	wantErr(t, "CompleteScan with a benchmark twice", err, store.ErrConflict)
	run, err := s.GetScan(ctx(t), "s-run")
	must(t, "GetScan s-run", err)
	equal(t, "s-run after a failed completion", run.State, posture.Running)
	equal(t, "Scores s-run after failures", len(scores("s-run")), 0)
	equal(t, "LatestScores after failures", latest(), []store.NodeScore{
		s2Latest("cis-linux", posture.Counts{Pass: 2, Fail: 1, Masked: 1}),
		s2Latest("pci-linux", posture.Counts{Pass: 4, Masked: 2}),
	})

	// A benchmark no longer scored loses its latest score of this scan.
	must(t, "ReplaceScores s2 without pci-linux", s.ReplaceScores(ctx(t), "s2", s2[1:]))
	equal(t, "Scores s2 without pci-linux", scores("s2"), s2[1:])
	equal(t, "LatestScores without pci-linux", latest(), []store.NodeScore{s2Latest("cis-linux", posture.Counts{Pass: 2, Fail: 1, Masked: 1})})
}

func testControlHistory(t *testing.T, s store.Store) {
	enrolNode(t, s, "n-1", "web-1", posture.Linux, t0)
	enrolNode(t, s, "n-2", "web-2", posture.Linux, t0)
	const control = "ssh.root-login"
	result := func(resource string, st posture.Status) store.Result {
		return res(control, resource, st, posture.High, "SSH")
	}
	other := res("ssh.ciphers", "/etc/ssh/sshd_config", posture.Pass, posture.Medium, "SSH")
	fillScan(t, s, "h1", "n-1", at(time.Hour), []store.Result{
		result("/etc/ssh/sshd_config.d/50-cloud.conf", posture.Fail), result("/etc/ssh/sshd_config", posture.Pass), other,
	}, posture.Complete)
	fillScan(t, s, "h2", "n-1", at(2*time.Hour), []store.Result{result("/etc/ssh/sshd_config", posture.Fail)}, posture.Running)
	// Created with h2: ties go by id, descending.
	fillScan(t, s, "h2b", "n-1", at(2*time.Hour), []store.Result{result("/etc/ssh/sshd_config", posture.Error)}, posture.Complete)
	fillScan(t, s, "h3", "n-1", at(3*time.Hour), []store.Result{other}, posture.Complete) // without the control
	must(t, "CreateScans h4", s.CreateScans(ctx(t), []store.NewScan{newScan("h4", "", "n-1", at(4*time.Hour))}))
	fillScan(t, s, "x1", "n-2", at(5*time.Hour), []store.Result{result("/etc/ssh/sshd_config", posture.Fail)}, posture.Complete)

	entry := func(scan string, state posture.ScanState, created time.Duration, resource string, st posture.Status) store.HistoryEntry {
		return store.HistoryEntry{ScanID: scan, ScanState: state, ScanCreatedAt: at(created), Resource: resource, Status: st,
			Reason: fmt.Sprintf("%s on %s is %s", control, resource, st)}
	}
	all := []store.HistoryEntry{
		entry("h2b", posture.Complete, 2*time.Hour, "/etc/ssh/sshd_config", posture.Error),
		entry("h2", posture.Running, 2*time.Hour, "/etc/ssh/sshd_config", posture.Fail),
		entry("h1", posture.Complete, time.Hour, "/etc/ssh/sshd_config", posture.Pass),
		entry("h1", posture.Complete, time.Hour, "/etc/ssh/sshd_config.d/50-cloud.conf", posture.Fail),
	}
	tests := []struct {
		limit int
		want  []store.HistoryEntry
	}{
		{0, all},
		{-1, all},
		{3, all},
		{2, all[:2]},
		{1, all[:1]},
		{store.MaxHistoryLimit + 1, all},
	}
	for _, tt := range tests {
		got, err := s.ControlHistory(ctx(t), "n-1", control, tt.limit)
		must(t, fmt.Sprintf("ControlHistory limit %d", tt.limit), err)
		for _, e := range got {
			checkUTC(t, "ControlHistory", e.ScanCreatedAt)
		}
		equal(t, fmt.Sprintf("ControlHistory limit %d", tt.limit), got, tt.want)
	}
	got, err := s.ControlHistory(ctx(t), "n-1", "no.such-control", 0)
	must(t, "ControlHistory of an unknown control", err)
	equal(t, "ControlHistory of an unknown control", got, []store.HistoryEntry(nil))
	_, err = s.ControlHistory(ctx(t), "n-9", control, 0)
	wantErr(t, "ControlHistory of an unknown node", err, store.ErrNotFound)
}

// testLatestScans checks LatestScans and PostureNodes, which reads the same latest scans.
func testLatestScans(t *testing.T, s store.Store) {
	enrolNode(t, s, "n-a", "a", posture.Linux, t0)
	enrolNode(t, s, "n-b", "b", posture.Linux, t0)
	enrolNode(t, s, "n-k", "k", posture.Kubernetes, t0)
	enrolNode(t, s, "n-none", "never scanned", posture.Linux, t0)
	completeScan(t, s, "a1", "n-a", at(time.Hour), posture.Counts{Pass: 1})
	must(t, "CreateScans", s.CreateScans(ctx(t), []store.NewScan{
		newScan("a2", "g", "n-a", at(2*time.Hour)), // newest, though only queued
		newScan("b1", "g", "n-b", at(time.Hour)),
		newScan("b2", "g", "n-b", at(time.Hour)), // ties go by id, descending
		newScan("k1", "g", "n-k", at(30*time.Minute)),
	}))
	_, err := s.TransitionScan(ctx(t), "k1", store.Transition{State: posture.Failed, Message: "no sensor", At: at(time.Hour)})
	must(t, "TransitionScan k1", err)
	scan := func(id string) store.Scan {
		sc, err := s.GetScan(ctx(t), id)
		must(t, "GetScan "+id, err)
		return sc
	}
	got, err := s.LatestScans(ctx(t), store.NodeFilter{})
	must(t, "LatestScans", err)
	equal(t, "LatestScans", got, map[string]store.Scan{"n-a": scan("a2"), "n-b": scan("b2"), "n-k": scan("k1")})
	got, err = s.LatestScans(ctx(t), store.NodeFilter{TargetType: posture.Linux})
	must(t, "LatestScans linux", err)
	equal(t, "LatestScans linux", got, map[string]store.Scan{"n-a": scan("a2"), "n-b": scan("b2")})
	got, err = s.LatestScans(ctx(t), store.NodeFilter{TargetType: posture.AWS})
	must(t, "LatestScans aws", err)
	equal(t, "LatestScans aws", len(got), 0)

	// PostureNodes: the same latest scans, with each node's latest scores, in name order.
	enrolNode(t, s, "n-0", "z", posture.Linux, t0) // first by id, last by name
	must(t, "ReplaceScores a1", s.ReplaceScores(ctx(t), "a1", []store.Score{
		{BenchmarkID: "pci-linux", Counts: posture.Counts{Pass: 4, Fail: 1, Masked: 2}},
		{BenchmarkID: "cis-linux", Counts: posture.Counts{Pass: 1, Info: 2, Skip: 3, Error: 1}},
	}))
	a1Finished := at(time.Hour + 3*time.Second)
	nodeA := store.PostureNode{ID: "n-a", Name: "a", TargetType: posture.Linux,
		LastScanID: "a2", LastScanState: posture.Queued, LastScanCreatedAt: at(2 * time.Hour),
		Scores: []store.LatestScore{
			{BenchmarkID: "cis-linux", FinishedAt: a1Finished, Counts: posture.Counts{Pass: 1, Info: 2, Skip: 3, Error: 1}},
			{BenchmarkID: "pci-linux", FinishedAt: a1Finished, Counts: posture.Counts{Pass: 4, Fail: 1, Masked: 2}},
		}}
	nodeB := store.PostureNode{ID: "n-b", Name: "b", TargetType: posture.Linux, LastScanID: "b2", LastScanState: posture.Queued, LastScanCreatedAt: at(time.Hour)}
	nodeK := store.PostureNode{ID: "n-k", Name: "k", TargetType: posture.Kubernetes, LastScanID: "k1", LastScanState: posture.Failed, LastScanCreatedAt: at(30 * time.Minute)}
	nodeNone := store.PostureNode{ID: "n-none", Name: "never scanned", TargetType: posture.Linux}
	nodeZ := store.PostureNode{ID: "n-0", Name: "z", TargetType: posture.Linux}
	tests := []struct {
		filter store.NodeFilter
		want   []store.PostureNode
	}{
		{store.NodeFilter{}, []store.PostureNode{nodeA, nodeB, nodeK, nodeNone, nodeZ}},
		{store.NodeFilter{TargetType: posture.Linux}, []store.PostureNode{nodeA, nodeB, nodeNone, nodeZ}},
		{store.NodeFilter{TargetType: posture.Kubernetes}, []store.PostureNode{nodeK}},
		{store.NodeFilter{TargetType: posture.AWS}, nil},
	}
	for _, tt := range tests {
		what := fmt.Sprintf("PostureNodes %q", tt.filter.TargetType)
		got, err := s.PostureNodes(ctx(t), tt.filter)
		must(t, what, err)
		for _, n := range got {
			checkUTC(t, what, n.LastScanCreatedAt)
			for _, sc := range n.Scores {
				checkUTC(t, what, sc.FinishedAt)
			}
		}
		equal(t, what, got, tt.want)
	}
}

// testPostureLastScan checks each node's last scan in PostureNodes as scans finish in each way
// (completed, failed, cancelled in bulk) and as retention deletes them: an older unfinished
// scan does not hide a newer finished one, finished scans created together go by id, and a
// deleted last scan gives way to the node's next most recent one, or to none.
func testPostureLastScan(t *testing.T, s store.Store) {
	enrolNode(t, s, "n-p", "p", posture.Linux, t0)
	enrolNode(t, s, "n-q", "q", posture.Linux, t0)
	enrolNode(t, s, "n-r", "r", posture.Linux, t0)
	completeScan(t, s, "p1", "n-p", at(time.Hour), posture.Counts{Pass: 1})
	completeScan(t, s, "p2", "n-p", at(2*time.Hour), posture.Counts{Pass: 2})
	completeScan(t, s, "r1", "n-r", at(time.Hour), posture.Counts{Fail: 1})
	must(t, "CreateScans", s.CreateScans(ctx(t), []store.NewScan{
		newScan("p0", "g", "n-p", at(30*time.Minute)), // older than p2 and still queued
		newScan("q1", "g", "n-q", at(time.Hour)),
		newScan("q2", "g", "n-q", at(time.Hour)),
		newScan("r2", "g", "n-r", at(2*time.Hour)),
	}))
	_, err := s.TransitionScans(ctx(t), []string{"q1", "q2"}, store.Transition{State: posture.Cancelled, Message: "stopped", At: at(90 * time.Minute)})
	must(t, "TransitionScans cancelled", err)
	_, err = s.TransitionScan(ctx(t), "r2", store.Transition{State: posture.Failed, Message: "no sensor", At: at(3 * time.Hour)})
	must(t, "TransitionScan failed", err)

	score := func(pass, fail int, created time.Time) []store.LatestScore {
		return []store.LatestScore{{BenchmarkID: "cis-linux", FinishedAt: created.Add(3 * time.Second), Counts: posture.Counts{Pass: pass, Fail: fail}}}
	}
	nodeP := store.PostureNode{ID: "n-p", Name: "p", TargetType: posture.Linux, LastScanID: "p2", LastScanState: posture.Complete,
		LastScanCreatedAt: at(2 * time.Hour), Scores: score(2, 0, at(2*time.Hour))}
	nodeQ := store.PostureNode{ID: "n-q", Name: "q", TargetType: posture.Linux, LastScanID: "q2", LastScanState: posture.Cancelled,
		LastScanCreatedAt: at(time.Hour)}
	nodeR := store.PostureNode{ID: "n-r", Name: "r", TargetType: posture.Linux, LastScanID: "r2", LastScanState: posture.Failed,
		LastScanCreatedAt: at(2 * time.Hour), Scores: score(0, 1, at(time.Hour))}
	got, err := s.PostureNodes(ctx(t), store.NodeFilter{})
	must(t, "PostureNodes", err)
	equal(t, "PostureNodes", got, []store.PostureNode{nodeP, nodeQ, nodeR})

	// Retention by age takes every finished scan created before 3h that holds no latest score:
	// p1, q1, q2 and r2. p2 and r1 hold their nodes' scores, p0 is unfinished.
	n, err := s.PruneScans(ctx(t), 0, at(3*time.Hour), 100)
	must(t, "PruneScans", err)
	equal(t, "pruned", n, 4)
	nodeQ.LastScanID, nodeQ.LastScanState, nodeQ.LastScanCreatedAt = "", "", time.Time{}
	nodeR.LastScanID, nodeR.LastScanState, nodeR.LastScanCreatedAt = "r1", posture.Complete, at(time.Hour)
	got, err = s.PostureNodes(ctx(t), store.NodeFilter{})
	must(t, "PostureNodes after pruning", err)
	equal(t, "PostureNodes after pruning", got, []store.PostureNode{nodeP, nodeQ, nodeR})
}
