package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/store"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

func TestRolesPerRPC(t *testing.T) {
	h := newHarness(t)
	s := h.srv
	type call func(ctx context.Context) error
	rpcs := map[string]struct {
		min  store.Role
		call call
	}{
		"ListNodes": {store.RoleViewer, func(ctx context.Context) error { _, err := s.ListNodes(ctx, &consolev1.ListNodesRequest{}); return err }},
		"GetNode":   {store.RoleViewer, func(ctx context.Context) error { _, err := s.GetNode(ctx, &consolev1.GetNodeRequest{}); return err }},
		"ListBenchmarks": {store.RoleViewer, func(ctx context.Context) error {
			_, err := s.ListBenchmarks(ctx, &consolev1.ListBenchmarksRequest{})
			return err
		}},
		"ListControls": {store.RoleViewer, func(ctx context.Context) error {
			_, err := s.ListControls(ctx, &consolev1.ListControlsRequest{})
			return err
		}},
		"GetControl": {store.RoleViewer, func(ctx context.Context) error {
			_, err := s.GetControl(ctx, &consolev1.GetControlRequest{})
			return err
		}},
		"StartScan": {store.RoleAnalyst, func(ctx context.Context) error { _, err := s.StartScan(ctx, &consolev1.StartScanRequest{}); return err }},
		"StopScan":  {store.RoleAnalyst, func(ctx context.Context) error { _, err := s.StopScan(ctx, &consolev1.StopScanRequest{}); return err }},
		"ListScans": {store.RoleViewer, func(ctx context.Context) error { _, err := s.ListScans(ctx, &consolev1.ListScansRequest{}); return err }},
		"GetScan":   {store.RoleViewer, func(ctx context.Context) error { _, err := s.GetScan(ctx, &consolev1.GetScanRequest{}); return err }},
		"ListResults": {store.RoleViewer, func(ctx context.Context) error {
			_, err := s.ListResults(ctx, &consolev1.ListResultsRequest{})
			return err
		}},
		"CreateEnrolmentToken": {store.RoleAdmin, func(ctx context.Context) error {
			_, err := s.CreateEnrolmentToken(ctx, &consolev1.CreateEnrolmentTokenRequest{})
			return err
		}},
		"GetPosture": {store.RoleViewer, func(ctx context.Context) error {
			_, err := s.GetPosture(ctx, &consolev1.GetPostureRequest{})
			return err
		}},
		"CreateMask": {store.RoleAnalyst, func(ctx context.Context) error {
			_, err := s.CreateMask(ctx, &consolev1.CreateMaskRequest{})
			return err
		}},
		"ListMasks": {store.RoleViewer, func(ctx context.Context) error { _, err := s.ListMasks(ctx, &consolev1.ListMasksRequest{}); return err }},
		"RemoveMask": {store.RoleAnalyst, func(ctx context.Context) error {
			_, err := s.RemoveMask(ctx, &consolev1.RemoveMaskRequest{})
			return err
		}},
		"CompareScans": {store.RoleViewer, func(ctx context.Context) error {
			_, err := s.CompareScans(ctx, &consolev1.CompareScansRequest{})
			return err
		}},
		"ListControlHistory": {store.RoleViewer, func(ctx context.Context) error {
			_, err := s.ListControlHistory(ctx, &consolev1.ListControlHistoryRequest{})
			return err
		}},
		"ListEnrolmentTokens": {store.RoleAdmin, func(ctx context.Context) error {
			_, err := s.ListEnrolmentTokens(ctx, &consolev1.ListEnrolmentTokensRequest{})
			return err
		}},
		"RevokeEnrolmentToken": {store.RoleAdmin, func(ctx context.Context) error {
			_, err := s.RevokeEnrolmentToken(ctx, &consolev1.RevokeEnrolmentTokenRequest{})
			return err
		}},
		"CreateAPIToken": {store.RoleAdmin, func(ctx context.Context) error {
			_, err := s.CreateAPIToken(ctx, &consolev1.CreateAPITokenRequest{})
			return err
		}},
		"ListAPITokens": {store.RoleAdmin, func(ctx context.Context) error {
			_, err := s.ListAPITokens(ctx, &consolev1.ListAPITokensRequest{})
			return err
		}},
		"RevokeAPIToken": {store.RoleAdmin, func(ctx context.Context) error {
			_, err := s.RevokeAPIToken(ctx, &consolev1.RevokeAPITokenRequest{})
			return err
		}},
		"CreateUser": {store.RoleAdmin, func(ctx context.Context) error {
			_, err := s.CreateUser(ctx, &consolev1.CreateUserRequest{})
			return err
		}},
		"ListUsers": {store.RoleAdmin, func(ctx context.Context) error { _, err := s.ListUsers(ctx, &consolev1.ListUsersRequest{}); return err }},
		"DeleteUser": {store.RoleAdmin, func(ctx context.Context) error {
			_, err := s.DeleteUser(ctx, &consolev1.DeleteUserRequest{})
			return err
		}},
	}
	for _, m := range consolev1.ConsoleService_ServiceDesc.Methods {
		if _, ok := rpcs[m.MethodName]; !ok {
			t.Errorf("RPC %s has no role check in this test", m.MethodName)
		}
	}
	roles := []store.Role{store.RoleViewer, store.RoleAnalyst, store.RoleAdmin}
	rank := map[store.Role]int{store.RoleViewer: 0, store.RoleAnalyst: 1, store.RoleAdmin: 2}
	for name, rpc := range rpcs {
		t.Run(name, func(t *testing.T) {
			err := rpc.call(context.Background())
			wantStatus(t, "anonymous", err, codes.Unauthenticated, "unauthenticated: sign in or pass an API token")
			err = rpc.call(auth.WithPrincipal(context.Background(), auth.Principal{Name: "n1", NodeID: "n1"}))
			wantStatus(t, "a node", err, codes.Unauthenticated, "unauthenticated: sign in or pass an API token")
			for _, role := range roles {
				err := rpc.call(as("someone", role))
				if rank[role] < rank[rpc.min] {
					wantStatus(t, string(role), err, codes.PermissionDenied, "forbidden: role "+string(role)+" may not do this; it needs "+string(rpc.min))
					continue
				}
				if c := status.Code(err); c == codes.PermissionDenied || c == codes.Unauthenticated {
					t.Errorf("%s: %v", role, err)
				}
			}
		})
	}
	// Nothing the refused calls asked for happened.
	for _, line := range h.audit() {
		if !strings.HasPrefix(line, "someone enrolment_token.create ") {
			t.Errorf("audit has %q", line)
		}
	}
}

func TestListResultsFilters(t *testing.T) {
	h := newHarness(t)
	h.enrol("n1", "web-1")
	scan := h.completeScan("web-1", sshResults...)
	for _, tt := range []struct {
		name string
		req  *consolev1.ListResultsRequest
		want string
	}{
		{"by control", &consolev1.ListResultsRequest{}, ctlLogLevel + " " + ctlMaxAuth + " " + ctlEmptyPw + " " + ctlRootLogin + " " + ctlX11},
		{"by severity", &consolev1.ListResultsRequest{OrderBy: "severity"}, ctlEmptyPw + " " + ctlRootLogin + " " + ctlMaxAuth + " " + ctlX11 + " " + ctlLogLevel},
		{"by status", &consolev1.ListResultsRequest{OrderBy: "status"}, ctlMaxAuth + " " + ctlRootLogin + " " + ctlLogLevel + " " + ctlEmptyPw + " " + ctlX11},
		{"query on the title", &consolev1.ListResultsRequest{Query: " ROOT login "}, ctlRootLogin},
		{"query on the id", &consolev1.ListResultsRequest{Query: "x11"}, ctlX11},
		{"query on the reason", &consolev1.ListResultsRequest{Query: "reason of linux.ssh.log"}, ctlLogLevel},
		{"query on the resource", &consolev1.ListResultsRequest{Query: "SSHD_CONFIG", Statuses: []sensorv1.Status{fail}}, ctlMaxAuth + " " + ctlRootLogin},
		{"query matching nothing", &consolev1.ListResultsRequest{Query: "kerberos"}, ""},
	} {
		tt.req.ScanId = scan
		resp, err := h.srv.ListResults(viewer, tt.req)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := resultIDs(resp.GetResults()); got != tt.want {
			t.Errorf("%s: %s\nwant %s", tt.name, got, tt.want)
		}
	}
	resp, err := h.srv.ListResults(viewer, &consolev1.ListResultsRequest{ScanId: scan, Query: "root"})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.GetResults()[0]; r.GetTitle() != "SSH root login is disabled" || r.GetSeverity() != "high" || r.GetService() != "SSH" || r.GetMask() != nil {
		t.Errorf("result row %v", r)
	}
	for _, tt := range []struct {
		name string
		req  *consolev1.ListResultsRequest
		code codes.Code
		msg  string
	}{
		{"unknown order", &consolev1.ListResultsRequest{ScanId: scan, OrderBy: "newest"}, codes.InvalidArgument, `unknown order_by "newest" (want control, severity or status)`},
		{"unknown masked filter", &consolev1.ListResultsRequest{ScanId: scan, Masked: 9}, codes.InvalidArgument, "unknown masked filter 9 (want EXCLUDE, ONLY or INCLUDE)"},
		{"query too long", &consolev1.ListResultsRequest{ScanId: scan, Query: strings.Repeat("q", 201)}, codes.InvalidArgument, "query has 201 characters; the limit is 200"},
		{"unknown scan", &consolev1.ListResultsRequest{ScanId: "scn_nope"}, codes.NotFound, `scan "scn_nope": not found`},
	} {
		_, err := h.srv.ListResults(viewer, tt.req)
		wantStatus(t, tt.name, err, tt.code, tt.msg)
	}
}

func TestGetControl(t *testing.T) {
	h := newHarness(t)
	c, err := h.srv.GetControl(viewer, &consolev1.GetControlRequest{ControlId: ctlRootLogin})
	if err != nil {
		t.Fatal(err)
	}
	var cis string
	for _, r := range c.GetReferences() {
		if r.GetBenchmarkId() == "linux-cis" {
			cis = r.GetRequirementId()
		}
	}
	if c.GetId() != ctlRootLogin || c.GetTitle() != "SSH root login is disabled" || c.GetSeverity() != "high" || c.GetService() != "SSH" ||
		c.GetTargetType() != "linux" || cis != "5.1.20" {
		t.Errorf("control %v", c)
	}
	_, err = h.srv.GetControl(viewer, &consolev1.GetControlRequest{ControlId: "linux.ssh.nope"})
	wantStatus(t, "unknown control", err, codes.NotFound, `unknown control "linux.ssh.nope"; list the controls of a benchmark to find its id`)
	_, err = h.srv.GetControl(viewer, &consolev1.GetControlRequest{})
	wantStatus(t, "no control", err, codes.InvalidArgument, "control_id is required")
}

func TestPostureLastScan(t *testing.T) {
	h := newHarness(t)
	h.enrol("n1", "web-1")
	h.enrol("n2", "web-2")
	h.completeScan("web-1", sshResults...)
	finished := h.clock.Now().Add(-time.Minute)
	startedAt := h.clock.Now()
	running := h.startScan("web-1")
	p, err := h.srv.GetPosture(viewer, &consolev1.GetPostureRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.GetNodes()) != 2 {
		t.Fatalf("posture nodes %v", p.GetNodes())
	}
	web1, web2 := p.GetNodes()[0], p.GetNodes()[1]
	if web1.GetNodeName() != "web-1" || web1.GetLastScanId() != running || web1.GetLastScanState() != sensorv1.ScanState_SCAN_STATE_RUNNING ||
		!web1.GetLastScanCreatedAt().AsTime().Equal(startedAt) || !web1.GetLastScanAt().AsTime().Equal(finished) ||
		len(web1.GetScores()) != 1 || scoreText(web1.GetScores()[0]) != "linux-cis: 40 (pass 2, fail 2, info 0, skip 0, error 1, masked 0)" {
		t.Errorf("web-1 %v", web1)
	}
	if web2.GetNodeName() != "web-2" || web2.GetLastScanId() != "" || web2.GetLastScanCreatedAt() != nil || len(web2.GetScores()) != 0 {
		t.Errorf("web-2 %v", web2)
	}
}
