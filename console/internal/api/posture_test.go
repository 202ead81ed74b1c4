package api

import (
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

func TestSummariseIsRatioOfSums(t *testing.T) {
	t1 := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	// a and b are scanned; b's most recent scan is still running; c was scanned once and that
	// scan failed; k was never scanned.
	nodes := []store.PostureNode{
		{ID: "a", Name: "a", TargetType: posture.Linux, LastScanID: "scn_a", LastScanState: posture.Complete, LastScanCreatedAt: t1.Add(-time.Minute),
			Scores: []store.LatestScore{{BenchmarkID: "linux-cis", FinishedAt: t1, Counts: posture.Counts{Pass: 1}}}},
		{ID: "b", Name: "b", TargetType: posture.Linux, LastScanID: "scn_b2", LastScanState: posture.Running, LastScanCreatedAt: t1.Add(2 * time.Hour),
			Scores: []store.LatestScore{
				{BenchmarkID: "linux-cis", FinishedAt: t1.Add(time.Hour), Counts: posture.Counts{Pass: 1, Fail: 2, Skip: 4, Masked: 3}},
				{BenchmarkID: "linux-nist", FinishedAt: t1, Counts: posture.Counts{Info: 1, Error: 1}},
			}},
		{ID: "c", Name: "c", TargetType: posture.Linux, LastScanID: "scn_c", LastScanState: posture.Failed, LastScanCreatedAt: t1},
		{ID: "k", Name: "k", TargetType: posture.Kubernetes},
	}
	p := Summarise(nodes)
	if len(p.GetTargets()) != 2 || p.GetTargets()[0].GetTargetType() != "linux" || p.GetTargets()[1].GetTargetType() != "kubernetes" {
		t.Fatalf("targets %v", p.GetTargets())
	}
	linux := p.GetTargets()[0]
	if linux.GetNodes() != 3 || linux.GetScannedNodes() != 2 {
		t.Fatalf("linux nodes %d scanned %d; want 3, 2", linux.GetNodes(), linux.GetScannedNodes())
	}
	// CIS: (1 + 1) of (1 + 3) = 50%, not the 66.7% an average of 100% and 33.3% would give.
	cis := linux.GetScores()[0]
	if cis.GetBenchmarkId() != "linux-cis" || cis.GetScore() != 50 || cis.GetSkip() != 4 || cis.GetMasked() != 3 {
		t.Fatalf("linux cis %v", cis)
	}
	// Overall: pass 2 + info 1 of 2 + 1 + fail 2 + error 1 = 3 of 6.
	if o := linux.GetOverall(); o.GetScore() != 50 || o.GetPass() != 2 || o.GetInfo() != 1 || o.GetFail() != 2 || o.GetError() != 1 {
		t.Fatalf("linux overall %v", o)
	}
	k8s := p.GetTargets()[1]
	if k8s.GetScannedNodes() != 0 || k8s.GetOverall().Score != nil {
		t.Fatalf("kubernetes without scans must have no score (n/a): %v", k8s)
	}
	var c, b = p.GetNodes()[2], p.GetNodes()[1]
	if c.GetNodeId() != "c" || len(c.GetScores()) != 0 || c.GetLastScanAt() != nil {
		t.Fatalf("node without a completed scan %v", c)
	}
	if c.GetLastScanId() != "scn_c" || c.GetLastScanState() != sensorv1.ScanState_SCAN_STATE_FAILED || !c.GetLastScanCreatedAt().AsTime().Equal(t1) {
		t.Fatalf("node c's last scan: %v", c)
	}
	if !b.GetLastScanAt().AsTime().Equal(t1.Add(time.Hour)) || len(b.GetScores()) != 2 {
		t.Fatalf("node b %v", b)
	}
	if b.GetLastScanId() != "scn_b2" || b.GetLastScanState() != sensorv1.ScanState_SCAN_STATE_RUNNING || !b.GetLastScanCreatedAt().AsTime().Equal(t1.Add(2*time.Hour)) {
		t.Fatalf("node b's last scan: %v", b)
	}
	if k := p.GetNodes()[3]; k.GetLastScanId() != "" || k.GetLastScanState() != sensorv1.ScanState_SCAN_STATE_UNSPECIFIED || k.GetLastScanCreatedAt() != nil {
		t.Fatalf("never-scanned node k: %v", k)
	}
}
