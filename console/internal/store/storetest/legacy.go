package storetest

import (
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// Scans stored before control sets keep their controls in scan_controls, which no method of
// the interface writes any more. A backend's own test writes such a scan (running, on an
// enrolled node) with LegacyControls in scan_controls, then calls CheckLegacyTitles.

// LegacyControls are the controls a backend's test stores in scan_controls for a legacy scan.
var LegacyControls = []store.ScanControl{
	{ControlID: "ssh.root-login", Title: "SSH root login disabled", Severity: posture.High, Service: "SSH", Benchmarks: []string{"cis"}},
	{ControlID: "fs.tmp", Title: "Separate /tmp partition", Severity: posture.Low, Service: "Filesystem", Benchmarks: []string{"cis"}},
}

// CheckLegacyTitles stores results in the legacy scan and checks that ListResults gives them
// the titles of LegacyControls, to show and to search.
func CheckLegacyTitles(t *testing.T, s store.Store, scanID, nodeID string) {
	t.Helper()
	results := []store.Result{
		{ControlID: "fs.tmp", Resource: "/tmp", Status: posture.Fail, Severity: posture.Low, Service: "Filesystem", Reason: "no partition"},
		{ControlID: "other", Resource: "x", Status: posture.Pass, Severity: posture.Low, Service: "X", Reason: "fine"},
		{ControlID: "ssh.root-login", Resource: "/etc/ssh/sshd_config", Status: posture.Pass, Severity: posture.High, Service: "SSH", Reason: "no"},
	}
	_, err := s.StoreBatch(ctx(t), store.Batch{ScanID: scanID, NodeID: nodeID, Seq: 1, ReceivedAt: t0, Results: results})
	must(t, "StoreBatch", err)
	titled := func(idx ...int) []store.Result {
		var out []store.Result
		for _, i := range idx {
			r := results[i]
			r.ScanID, r.NodeID = scanID, nodeID
			for _, c := range LegacyControls {
				if c.ControlID == r.ControlID {
					r.Title = c.Title
				}
			}
			out = append(out, r)
		}
		return out
	}
	for _, tt := range []struct {
		query string
		want  []store.Result
	}{
		{"", titled(0, 1, 2)},
		{"LOGIN DISABLED", titled(2)},
	} {
		page, err := s.ListResults(ctx(t), store.ResultFilter{ScanID: scanID, Query: tt.query, Now: at(time.Minute)})
		must(t, "ListResults "+tt.query, err)
		equal(t, "ListResults "+tt.query, page, store.ResultPage{Results: tt.want, Total: int64(len(tt.want))})
	}
}
