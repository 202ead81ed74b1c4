package api

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// comparedText renders compared results one per line.
func comparedText(rows []*consolev1.ComparedResult) string {
	var lines []string
	for _, r := range rows {
		lines = append(lines, fmt.Sprintf("%s %s %q %s %s->%s", r.GetControlId(), r.GetResource(), r.GetTitle(), r.GetSeverity(),
			statusName(r.GetBaseStatus().String()), statusName(r.GetHeadStatus().String())))
	}
	return strings.Join(lines, "\n")
}

func statusName(s string) string { return strings.ToLower(strings.TrimPrefix(s, "STATUS_")) }

func TestCompareScans(t *testing.T) {
	h := newHarness(t)
	h.enrol("n1", "web-1")
	h.enrol("n2", "web-2")
	base := h.completeScan("web-1",
		res{ctlRootLogin, sshdConfig, fail},
		res{ctlEmptyPw, sshdConfig, fail},
		res{ctlMaxAuth, sshdConfig, pass},
		res{ctlX11, sshdConfig, errS},
		res{ctlLogLevel, sshdConfig, pass},
	)
	head := h.completeScan("web-1",
		res{ctlRootLogin, sshdConfig, fail},
		res{ctlEmptyPw, sshdConfig, pass},
		res{ctlMaxAuth, sshdConfig, fail},
		res{ctlLogLevel, sshdConfig, pass},
		res{ctlAliveCount, sshdConfig, errS},
	)
	other := h.completeScan("web-2", res{ctlRootLogin, sshdConfig, pass})
	// A mask active now leaves the new error out of the head's score and of the comparison.
	if _, err := h.srv.CreateMask(analyst, &consolev1.CreateMaskRequest{ControlId: ctlAliveCount, Reason: "clients are dropped by the load balancer"}); err != nil {
		t.Fatal(err)
	}

	cmp, err := h.srv.CompareScans(viewer, &consolev1.CompareScansRequest{BaseScanId: base, HeadScanId: head})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.GetBase().GetId() != base || cmp.GetHead().GetId() != head {
		t.Fatalf("compared %s with %s", cmp.GetBase().GetId(), cmp.GetHead().GetId())
	}
	if len(cmp.GetScores()) != 1 {
		t.Fatalf("score deltas %v", cmp.GetScores())
	}
	d := cmp.GetScores()[0]
	if d.GetBenchmarkId() != "linux-cis" || d.Delta == nil || d.GetDelta() != 10 ||
		scoreText(d.GetBase()) != "linux-cis: 40 (pass 2, fail 2, info 0, skip 0, error 1, masked 0)" ||
		scoreText(d.GetHead()) != "linux-cis: 50 (pass 2, fail 2, info 0, skip 0, error 0, masked 1)" {
		t.Errorf("score delta %v", d)
	}
	for _, tt := range []struct {
		name string
		got  []*consolev1.ComparedResult
		want string
	}{
		{"newly failing", cmp.GetNewlyFailing(), ctlMaxAuth + ` /etc/ssh/sshd_config "SSH allows at most 4 authentication attempts per connection" medium pass->fail`},
		{"fixed", cmp.GetFixed(), ctlEmptyPw + ` /etc/ssh/sshd_config "SSH logins with empty passwords are refused" critical fail->pass` + "\n" +
			ctlX11 + ` /etc/ssh/sshd_config "SSH X11 forwarding is disabled" medium error->unspecified`},
		{"still failing", cmp.GetStillFailing(), ctlRootLogin + ` /etc/ssh/sshd_config "SSH root login is disabled" high fail->fail`},
	} {
		if got := comparedText(tt.got); got != tt.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tt.name, got, tt.want)
		}
	}
	// Root login failing in both and the log level passing in both.
	if cmp.GetUnchanged() != 2 {
		t.Errorf("unchanged %d; want 2", cmp.GetUnchanged())
	}

	// A benchmark without a score (only skipped results) has no delta.
	skipped := h.completeScan("web-1", res{ctlRootLogin, sshdConfig, skip})
	cmp, err = h.srv.CompareScans(viewer, &consolev1.CompareScansRequest{BaseScanId: skipped, HeadScanId: head})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.GetScores()[0]; len(cmp.GetScores()) != 1 || d.Delta != nil || d.GetBase().Score != nil || d.GetHead().GetScore() != 50 {
		t.Errorf("delta against a scan without a score: %v", cmp.GetScores())
	}
	if got, want := comparedText(cmp.GetNewlyFailing()), ctlMaxAuth+` /etc/ssh/sshd_config "SSH allows at most 4 authentication attempts per connection" medium unspecified->fail`+"\n"+
		ctlRootLogin+` /etc/ssh/sshd_config "SSH root login is disabled" high skip->fail`; got != want {
		t.Errorf("newly failing against the skipped scan:\n%s\nwant:\n%s", got, want)
	}
	running := h.startScan("web-1")

	for _, tt := range []struct {
		name       string
		base, head string
		code       codes.Code
		msg        string
	}{
		{"other node", base, other, codes.InvalidArgument,
			"scan " + base + " is of node web-1 (n1) and scan " + other + " of node web-2 (n2); compare two scans of one node"},
		{"unknown head", base, "scn_nope", codes.NotFound, `head_scan_id: no scan has id "scn_nope"`},
		{"no base", "", head, codes.InvalidArgument, "base_scan_id is required"},
		{"running head", base, running, codes.FailedPrecondition, "scan " + running + " is running; only complete scans can be compared"},
	} {
		_, err := h.srv.CompareScans(viewer, &consolev1.CompareScansRequest{BaseScanId: tt.base, HeadScanId: tt.head})
		wantStatus(t, tt.name, err, tt.code, tt.msg)
	}
}

func TestListControlHistory(t *testing.T) {
	h := newHarness(t)
	h.enrol("n1", "web-1")
	h.enrol("n2", "web-2")
	first := h.completeScan("web-1", res{ctlRootLogin, sshdConfig, fail}, res{ctlEmptyPw, sshdConfig, pass})
	second := h.completeScan("web-1", res{ctlRootLogin, sshdConfig, pass})
	h.completeScan("web-2", res{ctlRootLogin, sshdConfig, fail})

	history := func(req *consolev1.ListControlHistoryRequest) string {
		t.Helper()
		resp, err := h.srv.ListControlHistory(viewer, req)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, e := range resp.GetEntries() {
			lines = append(lines, fmt.Sprintf("%s %s %s %s %s %q", e.GetScanId(), stateName(e.GetScanState().String()),
				e.GetScanCreatedAt().AsTime().Format("15:04"), e.GetResource(), statusName(e.GetStatus().String()), e.GetReason()))
		}
		return strings.Join(lines, "\n")
	}
	for _, tt := range []struct {
		name string
		req  *consolev1.ListControlHistoryRequest
		want string
	}{
		{"root login on web-1", &consolev1.ListControlHistoryRequest{Node: "web-1", ControlId: ctlRootLogin},
			second + " complete 09:02 /etc/ssh/sshd_config pass \"reason of linux.ssh.permit-root-login\"\n" +
				first + " complete 09:00 /etc/ssh/sshd_config fail \"reason of linux.ssh.permit-root-login\""},
		{"newest only", &consolev1.ListControlHistoryRequest{Node: "n1", ControlId: ctlRootLogin, Limit: 1},
			second + " complete 09:02 /etc/ssh/sshd_config pass \"reason of linux.ssh.permit-root-login\""},
		{"only the scans holding the control", &consolev1.ListControlHistoryRequest{Node: "web-1", ControlId: ctlEmptyPw},
			first + " complete 09:00 /etc/ssh/sshd_config pass \"reason of linux.ssh.permit-empty-passwords\""},
		{"never reported", &consolev1.ListControlHistoryRequest{Node: "web-1", ControlId: ctlX11}, ""},
	} {
		if got := history(tt.req); got != tt.want {
			t.Errorf("%s:\n%s\nwant:\n%s", tt.name, got, tt.want)
		}
	}
	for _, tt := range []struct {
		name string
		req  *consolev1.ListControlHistoryRequest
		code codes.Code
		msg  string
	}{
		{"no node", &consolev1.ListControlHistoryRequest{ControlId: ctlRootLogin}, codes.InvalidArgument, "node is required (a node id or name)"},
		{"unknown node", &consolev1.ListControlHistoryRequest{Node: "db-9", ControlId: ctlRootLogin}, codes.NotFound, `unknown node "db-9"; list the nodes to find its id or name`},
		{"unknown control", &consolev1.ListControlHistoryRequest{Node: "web-1", ControlId: "nope"}, codes.NotFound, `unknown control "nope"; list the controls of a benchmark to find its id`},
		{"limit too high", &consolev1.ListControlHistoryRequest{Node: "web-1", ControlId: ctlRootLogin, Limit: 1001}, codes.InvalidArgument, "limit 1001 is over the limit of 1000"},
	} {
		_, err := h.srv.ListControlHistory(viewer, tt.req)
		wantStatus(t, tt.name, err, tt.code, tt.msg)
	}
}

func stateName(s string) string { return strings.ToLower(strings.TrimPrefix(s, "SCAN_STATE_")) }
