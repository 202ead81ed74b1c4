package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// sshResults are five results: pass 2, fail 2, error 1, a score of 40.
var sshResults = []res{
	{ctlRootLogin, sshdConfig, fail},
	{ctlEmptyPw, sshdConfig, pass},
	{ctlMaxAuth, sshdConfig, fail},
	{ctlX11, sshdConfig, pass},
	{ctlLogLevel, sshdConfig, errS},
}

func TestMasksRecountScores(t *testing.T) {
	h := newHarness(t)
	h.enrol("n1", "web-1")
	h.enrol("n2", "web-2")
	scanA := h.completeScan("web-1", sshResults...)
	scanB := h.completeScan("web-2", sshResults...)
	const unmasked = "linux-cis: 40 (pass 2, fail 2, info 0, skip 0, error 1, masked 0)"
	for _, id := range []string{scanA, scanB} {
		if got := h.scanScore(id); got != unmasked {
			t.Fatalf("scan %s before masking: %s\nwant %s", id, got, unmasked)
		}
	}

	// Masking root login on web-1 takes one failure out of scan A only.
	created := h.clock.Now()
	m1, err := h.srv.CreateMask(analyst, &consolev1.CreateMaskRequest{
		ControlId: ctlRootLogin, Nodes: []string{"web-1"}, Reason: "  bastion: root logs in with a hardware key  ",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m1.GetId(), "msk_") || len(m1.GetId()) != len("msk_")+16 || m1.GetControlId() != ctlRootLogin ||
		strings.Join(m1.GetNodeIds(), ",") != "n1" || m1.GetResource() != "" || m1.GetReason() != "bastion: root logs in with a hardware key" ||
		!m1.GetCreatedAt().AsTime().Equal(created) || m1.GetCreatedBy() != "ana" || m1.GetExpiresAt() != nil ||
		m1.GetRemovedAt() != nil || !m1.GetActive() {
		t.Fatalf("created mask %v", m1)
	}
	h.wantScores(t, "after masking root login on web-1", map[string]string{
		scanA: "linux-cis: 50 (pass 2, fail 1, info 0, skip 0, error 1, masked 1)",
		scanB: unmasked,
	})
	h.wantPosture(t, "web-1", "linux-cis: 50 (pass 2, fail 1, info 0, skip 0, error 1, masked 1)")

	// The masked result leaves the default view and shows under the masked filter.
	for _, tt := range []struct {
		masked consolev1.MaskedFilter
		want   string
	}{
		{consolev1.MaskedFilter_MASKED_FILTER_UNSPECIFIED, ctlLogLevel + " " + ctlMaxAuth + " " + ctlEmptyPw + " " + ctlX11},
		{consolev1.MaskedFilter_MASKED_FILTER_EXCLUDE, ctlLogLevel + " " + ctlMaxAuth + " " + ctlEmptyPw + " " + ctlX11},
		{consolev1.MaskedFilter_MASKED_FILTER_ONLY, ctlRootLogin + "[" + m1.GetId() + "]"},
		{consolev1.MaskedFilter_MASKED_FILTER_INCLUDE, ctlLogLevel + " " + ctlMaxAuth + " " + ctlEmptyPw + " " + ctlRootLogin + "[" + m1.GetId() + "] " + ctlX11},
	} {
		resp, err := h.srv.ListResults(viewer, &consolev1.ListResultsRequest{ScanId: scanA, Masked: tt.masked})
		if err != nil {
			t.Fatal(err)
		}
		if got := resultIDs(resp.GetResults()); got != tt.want || resp.GetTotal() != uint64(strings.Count(tt.want, " ")+1) {
			t.Errorf("results %s: %s (total %d)\nwant %s", tt.masked, got, resp.GetTotal(), tt.want)
		}
	}
	only, err := h.srv.ListResults(viewer, &consolev1.ListResultsRequest{ScanId: scanA, Masked: consolev1.MaskedFilter_MASKED_FILTER_ONLY})
	if err != nil {
		t.Fatal(err)
	}
	if r := only.GetResults()[0]; r.GetTitle() != "SSH root login is disabled" || r.GetMask().GetReason() != m1.GetReason() ||
		r.GetMask().GetCreatedBy() != "ana" || !r.GetMask().GetActive() {
		t.Errorf("masked result %v", r)
	}

	// A mask covering every node, with an expiry, changes both scans.
	h.clock.Advance(time.Minute) // masks are listed by creation time
	m2, err := h.srv.CreateMask(analyst, &consolev1.CreateMaskRequest{
		ControlId: ctlLogLevel, Reason: "log level is enforced by the central sshd policy",
		ExpiresAt: timestamppb.New(h.clock.Now().Add(time.Hour)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.wantScores(t, "after masking the log level everywhere", map[string]string{
		scanA: "linux-cis: 66.66666666666667 (pass 2, fail 1, info 0, skip 0, error 0, masked 2)",
		scanB: "linux-cis: 50 (pass 2, fail 2, info 0, skip 0, error 0, masked 1)",
	})

	// A scan completing later is scored with the masks from the start.
	scanC := h.completeScan("web-1", sshResults...)
	h.wantScores(t, "a later scan", map[string]string{
		scanC: "linux-cis: 66.66666666666667 (pass 2, fail 1, info 0, skip 0, error 0, masked 2)",
	})

	// A mask of one result: max auth tries at the sshd config on web-2.
	h.clock.Advance(time.Minute)
	m3, err := h.srv.CreateMask(analyst, &consolev1.CreateMaskRequest{
		ControlId: ctlMaxAuth, Nodes: []string{"n2"}, Resource: sshdConfig, Reason: "MaxAuthTries 6 is accepted for this jump host",
	})
	if err != nil {
		t.Fatal(err)
	}
	h.wantScores(t, "after masking one result on web-2", map[string]string{
		scanA: "linux-cis: 66.66666666666667 (pass 2, fail 1, info 0, skip 0, error 0, masked 2)",
		scanB: "linux-cis: 66.66666666666667 (pass 2, fail 1, info 0, skip 0, error 0, masked 2)",
	})

	// Removing the first mask brings root login back into web-1's scores.
	removedAt := h.clock.Now()
	removed, err := h.srv.RemoveMask(analyst, &consolev1.RemoveMaskRequest{MaskId: m1.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if removed.GetActive() || removed.GetRemovedBy() != "ana" || !removed.GetRemovedAt().AsTime().Equal(removedAt) || removed.GetReason() != m1.GetReason() {
		t.Fatalf("removed mask %v", removed)
	}
	h.wantScores(t, "after removing the root login mask", map[string]string{
		scanA: "linux-cis: 50 (pass 2, fail 2, info 0, skip 0, error 0, masked 1)",
		scanB: "linux-cis: 66.66666666666667 (pass 2, fail 1, info 0, skip 0, error 0, masked 2)",
		scanC: "linux-cis: 50 (pass 2, fail 2, info 0, skip 0, error 0, masked 1)",
	})
	h.wantPosture(t, "web-1", "linux-cis: 50 (pass 2, fail 2, info 0, skip 0, error 0, masked 1)")
	_, err = h.srv.RemoveMask(analyst, &consolev1.RemoveMaskRequest{MaskId: m1.GetId()})
	wantStatus(t, "removing twice", err, codes.FailedPrecondition, "mask "+m1.GetId()+" was already removed")
	_, err = h.srv.RemoveMask(analyst, &consolev1.RemoveMaskRequest{MaskId: "msk_nope"})
	wantStatus(t, "removing an unknown mask", err, codes.NotFound, `no mask has id "msk_nope"; list the masks to find its id`)

	h.wantMasks(t, "active", &consolev1.ListMasksRequest{}, m2.GetId(), m3.GetId())
	h.wantMasks(t, "every one", &consolev1.ListMasksRequest{IncludeInactive: true}, m1.GetId(), m2.GetId(), m3.GetId())
	h.wantMasks(t, "covering web-1", &consolev1.ListMasksRequest{Node: "web-1"}, m2.GetId())
	h.wantMasks(t, "covering web-2", &consolev1.ListMasksRequest{Node: "n2"}, m2.GetId(), m3.GetId())
	h.wantMasks(t, "of max auth tries", &consolev1.ListMasksRequest{ControlId: ctlMaxAuth}, m3.GetId())
	_, err = h.srv.ListMasks(viewer, &consolev1.ListMasksRequest{Node: "db-9"})
	wantStatus(t, "masks of an unknown node", err, codes.NotFound, `unknown node "db-9"; list the nodes to find its id or name`)

	// When the log level mask expires, the sweep recounts the scans it covered.
	h.clock.Advance(2 * time.Hour)
	if err := h.mgr.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.wantScores(t, "after the log level mask expired", map[string]string{
		scanA: unmasked,
		scanB: "linux-cis: 50 (pass 2, fail 1, info 0, skip 0, error 1, masked 1)",
		scanC: unmasked,
	})
	h.wantMasks(t, "active after the expiry", &consolev1.ListMasksRequest{}, m3.GetId())

	var maskAudit []string
	for _, line := range h.audit() {
		if strings.Contains(line, " mask.") {
			maskAudit = append(maskAudit, line)
		}
	}
	want := []string{"ana mask.create " + m1.GetId(), "ana mask.create " + m2.GetId(), "ana mask.create " + m3.GetId(), "ana mask.remove " + m1.GetId()}
	if strings.Join(maskAudit, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(maskAudit, "\n"), strings.Join(want, "\n"))
	}
}

// resultIDs lists results as their control ids, each masked one followed by [mask id].
func resultIDs(rows []*consolev1.ResultRow) string {
	var ids []string
	for _, r := range rows {
		id := r.GetControlId()
		if r.GetMask() != nil {
			id += "[" + r.GetMask().GetId() + "]"
		}
		ids = append(ids, id)
	}
	return strings.Join(ids, " ")
}

// wantScores checks the linux-cis score of scans.
func (h *harness) wantScores(t *testing.T, when string, want map[string]string) {
	t.Helper()
	for id, w := range want {
		if got := h.scanScore(id); got != w {
			t.Errorf("%s: scan %s: %s\nwant %s", when, id, got, w)
		}
	}
}

// wantPosture checks a node's linux-cis score in the posture.
func (h *harness) wantPosture(t *testing.T, node, want string) {
	t.Helper()
	p, err := h.srv.GetPosture(viewer, &consolev1.GetPostureRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range p.GetNodes() {
		if n.GetNodeName() == node {
			if len(n.GetScores()) != 1 || scoreText(n.GetScores()[0]) != want {
				t.Errorf("posture of %s: %v\nwant %s", node, n.GetScores(), want)
			}
			return
		}
	}
	t.Errorf("posture has no node %s", node)
}

// wantMasks checks the ids ListMasks returns.
func (h *harness) wantMasks(t *testing.T, what string, req *consolev1.ListMasksRequest, want ...string) {
	t.Helper()
	resp, err := h.srv.ListMasks(viewer, req)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range resp.GetMasks() {
		got = append(got, m.GetId())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("masks %s: %q; want %q", what, got, want)
	}
}

func TestCreateMaskValidation(t *testing.T) {
	h := newHarness(t)
	h.enrol("n1", "web-1")
	h.enrol("n2", "web-2")
	scan := h.completeScan("web-1", sshResults...)
	past := timestamppb.New(h.clock.Now().Add(-time.Second))
	tests := []struct {
		name string
		req  *consolev1.CreateMaskRequest
		code codes.Code
		msg  string
	}{
		{"no control", &consolev1.CreateMaskRequest{Reason: "r"}, codes.InvalidArgument, "control_id is required"},
		{"unknown control", &consolev1.CreateMaskRequest{ControlId: "linux.ssh.nope", Reason: "r"}, codes.NotFound,
			`unknown control "linux.ssh.nope"; list the controls of a benchmark to find its id`},
		{"no reason", &consolev1.CreateMaskRequest{ControlId: ctlRootLogin, Reason: "  "}, codes.InvalidArgument,
			"a mask needs a reason: say why the control or result does not apply"},
		{"reason too long", &consolev1.CreateMaskRequest{ControlId: ctlRootLogin, Reason: strings.Repeat("é", 1001)}, codes.InvalidArgument,
			"the reason has 1001 characters; the limit is 1000"},
		{"resource without a node", &consolev1.CreateMaskRequest{ControlId: ctlRootLogin, Reason: "r", Resource: sshdConfig}, codes.InvalidArgument,
			"a mask of one resource applies to exactly one node; name one node, not 0"},
		{"resource on two nodes", &consolev1.CreateMaskRequest{ControlId: ctlRootLogin, Reason: "r", Resource: sshdConfig, Nodes: []string{"web-1", "n2"}}, codes.InvalidArgument,
			"a mask of one resource applies to exactly one node; name one node, not 2"},
		{"unknown node", &consolev1.CreateMaskRequest{ControlId: ctlRootLogin, Reason: "r", Nodes: []string{"web-1", "db-9"}}, codes.NotFound,
			`unknown node "db-9"; list the nodes to find its id or name`},
		{"expiry in the past", &consolev1.CreateMaskRequest{ControlId: ctlRootLogin, Reason: "r", ExpiresAt: past}, codes.InvalidArgument,
			"expires_at 2026-11-26T09:01:59Z is not in the future (now is 2026-11-26T09:02:00Z)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.srv.CreateMask(analyst, tt.req)
			wantStatus(t, "CreateMask", err, tt.code, tt.msg)
		})
	}
	// Nothing was stored, audited or rescored.
	h.wantMasks(t, "after bad requests", &consolev1.ListMasksRequest{IncludeInactive: true})
	for _, line := range h.audit() {
		if strings.Contains(line, "mask.") {
			t.Errorf("audit has %q", line)
		}
	}
	if got, want := h.scanScore(scan), "linux-cis: 40 (pass 2, fail 2, info 0, skip 0, error 1, masked 0)"; got != want {
		t.Errorf("score %s; want %s", got, want)
	}
	// The same node named twice (by name and id) is kept once.
	m, err := h.srv.CreateMask(analyst, &consolev1.CreateMaskRequest{ControlId: ctlRootLogin, Reason: "r", Resource: sshdConfig, Nodes: []string{"web-1", "n1"}})
	if err != nil || strings.Join(m.GetNodeIds(), ",") != "n1" {
		t.Fatalf("mask on web-1 and n1: %v, %v", m, err)
	}
}
