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
