package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// userKey carries the authenticated user from the test's Authenticate to the fake API.
type userKey struct{}

// call is one API call the fake saw.
type call struct {
	method string
	req    proto.Message
	user   string
}

// fakeAPI is a ConsoleServiceServer that records its calls and answers with fixed messages,
// or with err when set.
type fakeAPI struct {
	consolev1.UnimplementedConsoleServiceServer
	err error

	mu    sync.Mutex // guards calls
	calls []call
}

func (f *fakeAPI) record(ctx context.Context, method string, req proto.Message) error {
	user, _ := ctx.Value(userKey{}).(string)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{method: method, req: req, user: user})
	return f.err
}

func (f *fakeAPI) recorded() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

var fixedTime = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func testNode() *consolev1.Node {
	return &consolev1.Node{
		Id: "n-1", Name: "web-1", TargetType: "linux", Connected: true,
		Facts:      &sensorv1.NodeFacts{Hostname: "web-1", OsName: "Debian GNU/Linux 12"},
		EnrolledAt: timestamppb.New(fixedTime),
	}
}

func testScan(id string) *consolev1.Scan {
	return &consolev1.Scan{
		Id: id, NodeId: "n-1", State: sensorv1.ScanState_SCAN_STATE_COMPLETE,
		ControlsTotal: 2, ControlsDone: 2, ResultsStored: 3,
		Scores: []*consolev1.Score{
			{BenchmarkId: "linux-cis", Score: proto.Float64(50), Pass: 1, Fail: 1},
			{BenchmarkId: "linux-gdpr", Skip: 1},
		},
	}
}

func (f *fakeAPI) ListNodes(ctx context.Context, req *consolev1.ListNodesRequest) (*consolev1.ListNodesResponse, error) {
	if err := f.record(ctx, "ListNodes", req); err != nil {
		return nil, err
	}
	return &consolev1.ListNodesResponse{Nodes: []*consolev1.Node{testNode()}}, nil
}

func (f *fakeAPI) GetNode(ctx context.Context, req *consolev1.GetNodeRequest) (*consolev1.Node, error) {
	if err := f.record(ctx, "GetNode", req); err != nil {
		return nil, err
	}
	return testNode(), nil
}

func (f *fakeAPI) ListBenchmarks(ctx context.Context, req *consolev1.ListBenchmarksRequest) (*consolev1.ListBenchmarksResponse, error) {
	if err := f.record(ctx, "ListBenchmarks", req); err != nil {
		return nil, err
	}
	return &consolev1.ListBenchmarksResponse{Benchmarks: []*consolev1.Benchmark{{Id: "linux-cis", ShortName: "cis", ControlCount: 2}}}, nil
}

func (f *fakeAPI) ListControls(ctx context.Context, req *consolev1.ListControlsRequest) (*consolev1.ListControlsResponse, error) {
	if err := f.record(ctx, "ListControls", req); err != nil {
		return nil, err
	}
	return &consolev1.ListControlsResponse{Controls: []*consolev1.Control{{Id: "ssh-root", Severity: "high"}}}, nil
}

func (f *fakeAPI) StartScan(ctx context.Context, req *consolev1.StartScanRequest) (*consolev1.StartScanResponse, error) {
	if err := f.record(ctx, "StartScan", req); err != nil {
		return nil, err
	}
	return &consolev1.StartScanResponse{GroupId: "g-1", Scans: []*consolev1.Scan{{Id: "s-1", State: sensorv1.ScanState_SCAN_STATE_QUEUED}}}, nil
}

func (f *fakeAPI) StopScan(ctx context.Context, req *consolev1.StopScanRequest) (*consolev1.Scan, error) {
	if err := f.record(ctx, "StopScan", req); err != nil {
		return nil, err
	}
	return &consolev1.Scan{Id: req.GetScanId(), State: sensorv1.ScanState_SCAN_STATE_CANCELLED}, nil
}

func (f *fakeAPI) ListScans(ctx context.Context, req *consolev1.ListScansRequest) (*consolev1.ListScansResponse, error) {
	if err := f.record(ctx, "ListScans", req); err != nil {
		return nil, err
	}
	return &consolev1.ListScansResponse{Scans: []*consolev1.Scan{{Id: "s-1"}}, NextPageToken: "p2"}, nil
}

func (f *fakeAPI) GetScan(ctx context.Context, req *consolev1.GetScanRequest) (*consolev1.Scan, error) {
	if err := f.record(ctx, "GetScan", req); err != nil {
		return nil, err
	}
	return testScan(req.GetScanId()), nil
}

func (f *fakeAPI) ListResults(ctx context.Context, req *consolev1.ListResultsRequest) (*consolev1.ListResultsResponse, error) {
	if err := f.record(ctx, "ListResults", req); err != nil {
		return nil, err
	}
	return &consolev1.ListResultsResponse{
		Results: []*consolev1.ResultRow{{ScanId: req.GetScanId(), ControlId: "ssh-root", Status: sensorv1.Status_STATUS_FAIL}},
		Total:   1,
	}, nil
}

func (f *fakeAPI) CreateEnrolmentToken(ctx context.Context, req *consolev1.CreateEnrolmentTokenRequest) (*consolev1.EnrolmentToken, error) {
	if err := f.record(ctx, "CreateEnrolmentToken", req); err != nil {
		return nil, err
	}
	return &consolev1.EnrolmentToken{Id: "t-1", Token: "secret", Uses: req.GetUses()}, nil
}

func (f *fakeAPI) GetControl(ctx context.Context, req *consolev1.GetControlRequest) (*consolev1.Control, error) {
	if err := f.record(ctx, "GetControl", req); err != nil {
		return nil, err
	}
	return &consolev1.Control{
		Id: req.GetControlId(), Title: "SSH root login is disabled", Severity: "high", Service: "SSH", TargetType: "linux",
		References: []*consolev1.ControlReference{{BenchmarkId: "linux-cis", RequirementId: "5.2.7"}},
	}, nil
}

func testMask() *consolev1.Mask {
	return &consolev1.Mask{
		Id: "m-1", ControlId: "ssh-root", NodeIds: []string{"n-1"}, Reason: "bastion host", CreatedAt: timestamppb.New(fixedTime),
		CreatedBy: "alice", Active: true,
	}
}

func (f *fakeAPI) CreateMask(ctx context.Context, req *consolev1.CreateMaskRequest) (*consolev1.Mask, error) {
	if err := f.record(ctx, "CreateMask", req); err != nil {
		return nil, err
	}
	return testMask(), nil
}

func (f *fakeAPI) ListMasks(ctx context.Context, req *consolev1.ListMasksRequest) (*consolev1.ListMasksResponse, error) {
	if err := f.record(ctx, "ListMasks", req); err != nil {
		return nil, err
	}
	return &consolev1.ListMasksResponse{Masks: []*consolev1.Mask{testMask()}}, nil
}

func (f *fakeAPI) RemoveMask(ctx context.Context, req *consolev1.RemoveMaskRequest) (*consolev1.Mask, error) {
	if err := f.record(ctx, "RemoveMask", req); err != nil {
		return nil, err
	}
	m := testMask()
	m.RemovedAt, m.RemovedBy, m.Active = timestamppb.New(fixedTime.Add(time.Hour)), "bob", false
	return m, nil
}

func (f *fakeAPI) CompareScans(ctx context.Context, req *consolev1.CompareScansRequest) (*consolev1.ScanComparison, error) {
	if err := f.record(ctx, "CompareScans", req); err != nil {
		return nil, err
	}
	return &consolev1.ScanComparison{
		Base: &consolev1.Scan{Id: req.GetBaseScanId()}, Head: &consolev1.Scan{Id: req.GetHeadScanId()},
		NewlyFailing: []*consolev1.ComparedResult{{ControlId: "ssh-root", BaseStatus: sensorv1.Status_STATUS_PASS, HeadStatus: sensorv1.Status_STATUS_FAIL}},
		Unchanged:    4,
	}, nil
}

func (f *fakeAPI) ListControlHistory(ctx context.Context, req *consolev1.ListControlHistoryRequest) (*consolev1.ListControlHistoryResponse, error) {
	if err := f.record(ctx, "ListControlHistory", req); err != nil {
		return nil, err
	}
	return &consolev1.ListControlHistoryResponse{Entries: []*consolev1.ControlHistoryEntry{{
		ScanId: "s-2", ScanState: sensorv1.ScanState_SCAN_STATE_COMPLETE, ScanCreatedAt: timestamppb.New(fixedTime),
		Resource: "/etc/ssh/sshd_config", Status: sensorv1.Status_STATUS_FAIL, Reason: "PermitRootLogin is yes",
	}}}, nil
}

func (f *fakeAPI) ListEnrolmentTokens(ctx context.Context, req *consolev1.ListEnrolmentTokensRequest) (*consolev1.ListEnrolmentTokensResponse, error) {
	if err := f.record(ctx, "ListEnrolmentTokens", req); err != nil {
		return nil, err
	}
	return &consolev1.ListEnrolmentTokensResponse{Tokens: []*consolev1.EnrolmentToken{{Id: "t-1", Uses: 2, Used: 1}}}, nil
}

func (f *fakeAPI) RevokeEnrolmentToken(ctx context.Context, req *consolev1.RevokeEnrolmentTokenRequest) (*consolev1.EnrolmentToken, error) {
	if err := f.record(ctx, "RevokeEnrolmentToken", req); err != nil {
		return nil, err
	}
	return &consolev1.EnrolmentToken{Id: req.GetId(), RevokedAt: timestamppb.New(fixedTime)}, nil
}

func (f *fakeAPI) CreateAPIToken(ctx context.Context, req *consolev1.CreateAPITokenRequest) (*consolev1.APIToken, error) {
	if err := f.record(ctx, "CreateAPIToken", req); err != nil {
		return nil, err
	}
	return &consolev1.APIToken{Id: "pat-1", Name: req.GetName(), Role: req.GetRole(), Token: "pat_secret", CreatedAt: timestamppb.New(fixedTime), CreatedBy: "alice"}, nil
}

func (f *fakeAPI) ListAPITokens(ctx context.Context, req *consolev1.ListAPITokensRequest) (*consolev1.ListAPITokensResponse, error) {
	if err := f.record(ctx, "ListAPITokens", req); err != nil {
		return nil, err
	}
	return &consolev1.ListAPITokensResponse{Tokens: []*consolev1.APIToken{{Id: "pat-1", Name: "ci", Role: "analyst"}}}, nil
}

func (f *fakeAPI) RevokeAPIToken(ctx context.Context, req *consolev1.RevokeAPITokenRequest) (*consolev1.APIToken, error) {
	if err := f.record(ctx, "RevokeAPIToken", req); err != nil {
		return nil, err
	}
	return &consolev1.APIToken{Id: req.GetId(), RevokedAt: timestamppb.New(fixedTime)}, nil
}

func (f *fakeAPI) CreateUser(ctx context.Context, req *consolev1.CreateUserRequest) (*consolev1.User, error) {
	if err := f.record(ctx, "CreateUser", req); err != nil {
		return nil, err
	}
	return &consolev1.User{Name: req.GetName(), Role: req.GetRole(), CreatedAt: timestamppb.New(fixedTime)}, nil
}

func (f *fakeAPI) ListUsers(ctx context.Context, req *consolev1.ListUsersRequest) (*consolev1.ListUsersResponse, error) {
	if err := f.record(ctx, "ListUsers", req); err != nil {
		return nil, err
	}
	return &consolev1.ListUsersResponse{Users: []*consolev1.User{{Name: "admin", Role: "admin"}}}, nil
}

func (f *fakeAPI) DeleteUser(ctx context.Context, req *consolev1.DeleteUserRequest) (*consolev1.User, error) {
	if err := f.record(ctx, "DeleteUser", req); err != nil {
		return nil, err
	}
	return &consolev1.User{Name: req.GetName(), Role: "viewer"}, nil
}

// newTestHandler returns a handler over api that accepts "Bearer good" as user "alice".
func newTestHandler(api *fakeAPI) http.Handler {
	return NewHandler(Config{
		API: api,
		Authenticate: func(r *http.Request) (context.Context, error) {
			if r.Header.Get("Authorization") != "Bearer good" {
				return nil, status.Error(codes.Unauthenticated, "missing or invalid API token; send Authorization: Bearer <token>")
			}
			return context.WithValue(r.Context(), userKey{}, "alice"), nil
		},
	})
}

// do sends one authenticated request (unless auth is "none") and returns the recorder.
func do(h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer good")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		target     string
		body       string
		wantStatus int
		wantMethod string
		wantReq    proto.Message
		wantBody   string // exact, when set
	}{
		{
			name: "list nodes", method: "GET", target: "/api/v1/nodes?target_type=linux",
			wantStatus: 200, wantMethod: "ListNodes", wantReq: &consolev1.ListNodesRequest{TargetType: "linux"},
			wantBody: `{"nodes":[{"id":"n-1","name":"web-1","target_type":"linux","facts":{"hostname":"web-1","target_type":"","os_id":"","os_version":"","os_name":"Debian GNU/Linux 12","kernel":"","arch":"","machine_id":"","sensor_version":"","catalog_version":""},"enrolled_at":"2025-03-04T05:06:07Z","last_seen_at":null,"connected":true}]}` + "\n",
		},
		{
			name: "list nodes without filter", method: "GET", target: "/api/v1/nodes",
			wantStatus: 200, wantMethod: "ListNodes", wantReq: &consolev1.ListNodesRequest{},
		},
		{
			name: "get node", method: "GET", target: "/api/v1/nodes/web-1",
			wantStatus: 200, wantMethod: "GetNode", wantReq: &consolev1.GetNodeRequest{Node: "web-1"},
		},
		{
			name: "list benchmarks", method: "GET", target: "/api/v1/benchmarks?target_type=aws&with_requirements=true",
			wantStatus: 200, wantMethod: "ListBenchmarks", wantReq: &consolev1.ListBenchmarksRequest{TargetType: "aws", WithRequirements: true},
			wantBody: `{"benchmarks":[{"id":"linux-cis","title":"","version":"","framework":"","target_type":"","short_name":"cis","control_count":2,"requirements":[]}]}` + "\n",
		},
		{
			name: "list controls", method: "GET", target: "/api/v1/controls?benchmark=cis&target_type=linux",
			wantStatus: 200, wantMethod: "ListControls", wantReq: &consolev1.ListControlsRequest{Benchmark: "cis", TargetType: "linux"},
		},
		{
			name: "start scan", method: "POST", target: "/api/v1/scans",
			body:       `{"nodes":["web-1","web-2"],"benchmarks":["cis"],"exclude_controls":["ssh-banner"]}`,
			wantStatus: 201, wantMethod: "StartScan",
			wantReq: &consolev1.StartScanRequest{Nodes: []string{"web-1", "web-2"}, Benchmarks: []string{"cis"}, ExcludeControls: []string{"ssh-banner"}},
		},
		{
			name: "start scan accepts camelCase names", method: "POST", target: "/api/v1/scans",
			body:       `{"nodes":["web-1"],"excludeControls":["x"]}`,
			wantStatus: 201, wantMethod: "StartScan",
			wantReq: &consolev1.StartScanRequest{Nodes: []string{"web-1"}, ExcludeControls: []string{"x"}},
		},
		{
			name: "list scans", method: "GET", target: "/api/v1/scans?node=web-1&state=running&page_size=10&page_token=abc",
			wantStatus: 200, wantMethod: "ListScans",
			wantReq: &consolev1.ListScansRequest{Node: "web-1", State: sensorv1.ScanState_SCAN_STATE_RUNNING, PageSize: 10, PageToken: "abc"},
		},
		{
			name: "list scans by full state name", method: "GET", target: "/api/v1/scans?state=SCAN_STATE_TIMED_OUT",
			wantStatus: 200, wantMethod: "ListScans",
			wantReq: &consolev1.ListScansRequest{State: sensorv1.ScanState_SCAN_STATE_TIMED_OUT},
		},
		{
			name: "get scan, score absent when n/a", method: "GET", target: "/api/v1/scans/s-9",
			wantStatus: 200, wantMethod: "GetScan", wantReq: &consolev1.GetScanRequest{ScanId: "s-9"},
			wantBody: `{"id":"s-9","group_id":"","node_id":"n-1","node_name":"","state":"SCAN_STATE_COMPLETE","benchmark_ids":[],"controls_total":2,"controls_done":2,"results_stored":"3","message":"","created_at":null,"started_at":null,"finished_at":null,"last_heartbeat_at":null,"scores":[{"benchmark_id":"linux-cis","score":50,"pass":1,"fail":1,"info":0,"skip":0,"error":0,"masked":0},{"benchmark_id":"linux-gdpr","pass":0,"fail":0,"info":0,"skip":1,"error":0,"masked":0}],"created_by":""}` + "\n",
		},
		{
			name: "stop scan", method: "POST", target: "/api/v1/scans/s-9/stop",
			wantStatus: 200, wantMethod: "StopScan", wantReq: &consolev1.StopScanRequest{ScanId: "s-9"},
		},
		{
			name: "list results", method: "GET",
			target:     "/api/v1/scans/s-9/results?benchmark=cis&status=fail&status=error&service=SSH&severity=high&page_size=2&page_token=t",
			wantStatus: 200, wantMethod: "ListResults",
			wantReq: &consolev1.ListResultsRequest{
				ScanId: "s-9", Benchmark: "cis", Service: "SSH", Severity: "high", PageSize: 2, PageToken: "t",
				Statuses: []sensorv1.Status{sensorv1.Status_STATUS_FAIL, sensorv1.Status_STATUS_ERROR},
			},
			wantBody: `{"results":[{"scan_id":"s-9","node_id":"","control_id":"ssh-root","resource":"","status":"STATUS_FAIL","reason":"","evidence":[],"title":"","severity":"","service":"","mask":null}],"next_page_token":"","total":"1"}` + "\n",
		},
		{
			name: "list results with comma-separated and full status names", method: "GET",
			target:     "/api/v1/scans/s-9/results?status=FAIL,STATUS_INFO&status=fail",
			wantStatus: 200, wantMethod: "ListResults",
			wantReq: &consolev1.ListResultsRequest{ScanId: "s-9", Statuses: []sensorv1.Status{sensorv1.Status_STATUS_FAIL, sensorv1.Status_STATUS_INFO}},
		},
		{
			name: "create enrolment token", method: "POST", target: "/api/v1/enrolment-tokens",
			body:       `{"ttl_seconds":600,"uses":3}`,
			wantStatus: 201, wantMethod: "CreateEnrolmentToken", wantReq: &consolev1.CreateEnrolmentTokenRequest{TtlSeconds: 600, Uses: 3},
			wantBody: `{"id":"t-1","token":"secret","expires_at":null,"uses":3,"used":0,"created_at":null,"revoked_at":null,"created_by":"","sensor_command":"","daemonset_snippet":""}` + "\n",
		},
		{
			name: "create enrolment token with empty body", method: "POST", target: "/api/v1/enrolment-tokens",
			wantStatus: 201, wantMethod: "CreateEnrolmentToken", wantReq: &consolev1.CreateEnrolmentTokenRequest{},
		},
		{
			name: "list results with masked, text query and order", method: "GET",
			target:     "/api/v1/scans/s-9/results?masked=only&q=PermitRoot%20login&order_by=severity",
			wantStatus: 200, wantMethod: "ListResults",
			wantReq: &consolev1.ListResultsRequest{ScanId: "s-9", Masked: consolev1.MaskedFilter_MASKED_FILTER_ONLY, Query: "PermitRoot login", OrderBy: "severity"},
		},
		{
			name: "list results masked by full name", method: "GET", target: "/api/v1/scans/s-9/results?masked=MASKED_FILTER_INCLUDE&order_by=status",
			wantStatus: 200, wantMethod: "ListResults",
			wantReq: &consolev1.ListResultsRequest{ScanId: "s-9", Masked: consolev1.MaskedFilter_MASKED_FILTER_INCLUDE, OrderBy: "status"},
		},
		{
			name: "list results masked=exclude", method: "GET", target: "/api/v1/scans/s-9/results?masked=exclude&order_by=control",
			wantStatus: 200, wantMethod: "ListResults",
			wantReq: &consolev1.ListResultsRequest{ScanId: "s-9", Masked: consolev1.MaskedFilter_MASKED_FILTER_EXCLUDE, OrderBy: "control"},
		},
		{
			name: "get control", method: "GET", target: "/api/v1/controls/ssh-root",
			wantStatus: 200, wantMethod: "GetControl", wantReq: &consolev1.GetControlRequest{ControlId: "ssh-root"},
			wantBody: `{"id":"ssh-root","title":"SSH root login is disabled","description":"","rationale":"","remediation":"","severity":"high","service":"SSH","target_type":"linux","references":[{"benchmark_id":"linux-cis","requirement_id":"5.2.7"}]}` + "\n",
		},
		{
			name: "compare scans", method: "GET", target: "/api/v1/compare?base=s-1&head=s-2",
			wantStatus: 200, wantMethod: "CompareScans", wantReq: &consolev1.CompareScansRequest{BaseScanId: "s-1", HeadScanId: "s-2"},
		},
		{
			name: "control history", method: "GET", target: "/api/v1/nodes/web-1/controls/ssh-root/history?limit=5",
			wantStatus: 200, wantMethod: "ListControlHistory", wantReq: &consolev1.ListControlHistoryRequest{Node: "web-1", ControlId: "ssh-root", Limit: 5},
			wantBody: `{"entries":[{"scan_id":"s-2","scan_state":"SCAN_STATE_COMPLETE","scan_created_at":"2025-03-04T05:06:07Z","resource":"/etc/ssh/sshd_config","status":"STATUS_FAIL","reason":"PermitRootLogin is yes"}]}` + "\n",
		},
		{
			name: "control history without limit", method: "GET", target: "/api/v1/nodes/n-1/controls/ssh-root/history",
			wantStatus: 200, wantMethod: "ListControlHistory", wantReq: &consolev1.ListControlHistoryRequest{Node: "n-1", ControlId: "ssh-root"},
		},
		{
			name: "create mask", method: "POST", target: "/api/v1/masks",
			body:       `{"control_id":"ssh-root","nodes":["web-1"],"resource":"/etc/ssh/sshd_config","reason":"bastion host","expires_at":"2026-01-02T03:04:05Z"}`,
			wantStatus: 201, wantMethod: "CreateMask",
			wantReq: &consolev1.CreateMaskRequest{
				ControlId: "ssh-root", Nodes: []string{"web-1"}, Resource: "/etc/ssh/sshd_config", Reason: "bastion host",
				ExpiresAt: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
			},
			wantBody: `{"id":"m-1","control_id":"ssh-root","node_ids":["n-1"],"resource":"","reason":"bastion host","created_at":"2025-03-04T05:06:07Z","created_by":"alice","expires_at":null,"removed_at":null,"removed_by":"","active":true}` + "\n",
		},
		{
			name: "list masks", method: "GET", target: "/api/v1/masks?control_id=ssh-root&node=web-1&include_inactive=true",
			wantStatus: 200, wantMethod: "ListMasks", wantReq: &consolev1.ListMasksRequest{ControlId: "ssh-root", Node: "web-1", IncludeInactive: true},
		},
		{
			name: "list masks without filters", method: "GET", target: "/api/v1/masks",
			wantStatus: 200, wantMethod: "ListMasks", wantReq: &consolev1.ListMasksRequest{},
		},
		{
			name: "remove mask", method: "DELETE", target: "/api/v1/masks/m-1",
			wantStatus: 200, wantMethod: "RemoveMask", wantReq: &consolev1.RemoveMaskRequest{MaskId: "m-1"},
			wantBody: `{"id":"m-1","control_id":"ssh-root","node_ids":["n-1"],"resource":"","reason":"bastion host","created_at":"2025-03-04T05:06:07Z","created_by":"alice","expires_at":null,"removed_at":"2025-03-04T06:06:07Z","removed_by":"bob","active":false}` + "\n",
		},
		{
			name: "list enrolment tokens", method: "GET", target: "/api/v1/enrolment-tokens",
			wantStatus: 200, wantMethod: "ListEnrolmentTokens", wantReq: &consolev1.ListEnrolmentTokensRequest{},
			wantBody: `{"tokens":[{"id":"t-1","token":"","expires_at":null,"uses":2,"used":1,"created_at":null,"revoked_at":null,"created_by":"","sensor_command":"","daemonset_snippet":""}]}` + "\n",
		},
		{
			name: "revoke enrolment token", method: "POST", target: "/api/v1/enrolment-tokens/t-1/revoke",
			wantStatus: 200, wantMethod: "RevokeEnrolmentToken", wantReq: &consolev1.RevokeEnrolmentTokenRequest{Id: "t-1"},
		},
		{
			name: "create API token", method: "POST", target: "/api/v1/api-tokens", body: `{"name":"ci","role":"analyst","ttl_seconds":86400}`,
			wantStatus: 201, wantMethod: "CreateAPIToken", wantReq: &consolev1.CreateAPITokenRequest{Name: "ci", Role: "analyst", TtlSeconds: 86400},
			wantBody: `{"id":"pat-1","name":"ci","role":"analyst","token":"pat_secret","created_at":"2025-03-04T05:06:07Z","expires_at":null,"revoked_at":null,"created_by":"alice"}` + "\n",
		},
		{
			name: "list API tokens", method: "GET", target: "/api/v1/api-tokens",
			wantStatus: 200, wantMethod: "ListAPITokens", wantReq: &consolev1.ListAPITokensRequest{},
		},
		{
			name: "revoke API token", method: "POST", target: "/api/v1/api-tokens/pat-1/revoke",
			wantStatus: 200, wantMethod: "RevokeAPIToken", wantReq: &consolev1.RevokeAPITokenRequest{Id: "pat-1"},
		},
		{
			name: "create user", method: "POST", target: "/api/v1/users", body: `{"name":"carol","role":"viewer","password":"a long enough password"}`,
			wantStatus: 201, wantMethod: "CreateUser", wantReq: &consolev1.CreateUserRequest{Name: "carol", Role: "viewer", Password: "a long enough password"},
			wantBody: `{"name":"carol","role":"viewer","created_at":"2025-03-04T05:06:07Z"}` + "\n",
		},
		{
			name: "list users", method: "GET", target: "/api/v1/users",
			wantStatus: 200, wantMethod: "ListUsers", wantReq: &consolev1.ListUsersRequest{},
			wantBody: `{"users":[{"name":"admin","role":"admin","created_at":null}]}` + "\n",
		},
		{
			name: "delete user", method: "DELETE", target: "/api/v1/users/carol",
			wantStatus: 200, wantMethod: "DeleteUser", wantReq: &consolev1.DeleteUserRequest{Name: "carol"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{}
			ct := ""
			if tt.body != "" {
				ct = "application/json; charset=utf-8"
			}
			rec := do(newTestHandler(api), tt.method, tt.target, ct, tt.body)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d; want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", got)
			}
			if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
				t.Errorf("body =\n%s\nwant\n%s", rec.Body, tt.wantBody)
			}
			calls := api.recorded()
			if len(calls) != 1 {
				t.Fatalf("API calls = %d; want 1", len(calls))
			}
			if calls[0].method != tt.wantMethod || !proto.Equal(calls[0].req, tt.wantReq) {
				t.Errorf("API call = %s(%v); want %s(%v)", calls[0].method, calls[0].req, tt.wantMethod, tt.wantReq)
			}
			if calls[0].user != "alice" {
				t.Errorf("API call ran as %q; want the authenticated user alice", calls[0].user)
			}
		})
	}
}

func TestAPIErrorMapping(t *testing.T) {
	tests := []struct {
		err        error
		wantStatus int
		wantBody   string
	}{
		{status.Error(codes.InvalidArgument, "no benchmark given; pass at least one"), 400, `{"error":{"code":"INVALID_ARGUMENT","message":"no benchmark given; pass at least one"}}`},
		{status.Error(codes.NotFound, `scan "s-9" not found`), 404, `{"error":{"code":"NOT_FOUND","message":"scan \"s-9\" not found"}}`},
		{status.Error(codes.PermissionDenied, "viewers cannot stop scans"), 403, `{"error":{"code":"PERMISSION_DENIED","message":"viewers cannot stop scans"}}`},
		{status.Error(codes.Unauthenticated, "token expired"), 401, `{"error":{"code":"UNAUTHENTICATED","message":"token expired"}}`},
		{status.Error(codes.FailedPrecondition, "scan already complete"), 409, `{"error":{"code":"FAILED_PRECONDITION","message":"scan already complete"}}`},
		{status.Error(codes.AlreadyExists, "exists"), 409, `{"error":{"code":"ALREADY_EXISTS","message":"exists"}}`},
		{status.Error(codes.ResourceExhausted, "too many scans"), 429, `{"error":{"code":"RESOURCE_EXHAUSTED","message":"too many scans"}}`},
		{status.Error(codes.Internal, "database is locked"), 500, `{"error":{"code":"INTERNAL","message":"database is locked"}}`},
		{status.Error(codes.DataLoss, "lost"), 500, `{"error":{"code":"DATA_LOSS","message":"lost"}}`},
		{status.Error(codes.Unavailable, "shutting down"), 503, `{"error":{"code":"UNAVAILABLE","message":"shutting down"}}`},
		{errors.New("sql: connection refused at 10.0.0.5"), 500, `{"error":{"code":"INTERNAL","message":"internal error; see the console log"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			api := &fakeAPI{err: tt.err}
			rec := do(newTestHandler(api), "GET", "/api/v1/scans/s-9", "", "")
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d; want %d", rec.Code, tt.wantStatus)
			}
			if got := strings.TrimSuffix(rec.Body.String(), "\n"); got != tt.wantBody {
				t.Errorf("body = %s; want %s", got, tt.wantBody)
			}
		})
	}
}

func TestBadInputNeverReachesAPI(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		wantStatus  int
		wantCode    string
		wantMessage string // exact unless wantPrefix
		wantPrefix  bool
	}{
		{
			name: "malformed JSON", method: "POST", target: "/api/v1/scans", contentType: "application/json", body: `{"nodes":`,
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: "invalid JSON request body: ", wantPrefix: true,
		},
		{
			name: "unknown field", method: "POST", target: "/api/v1/scans", contentType: "application/json", body: `{"nodez":["a"]}`,
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: "invalid JSON request body: ", wantPrefix: true,
		},
		{
			name: "wrong field type", method: "POST", target: "/api/v1/enrolment-tokens", contentType: "application/json", body: `{"uses":"many"}`,
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: "invalid JSON request body: ", wantPrefix: true,
		},
		{
			name: "body over 1 MiB", method: "POST", target: "/api/v1/scans", contentType: "application/json",
			body:       `{"nodes":["` + strings.Repeat("a", MaxBodyBytes) + `"]}`,
			wantStatus: 413, wantCode: "RESOURCE_EXHAUSTED", wantMessage: "request body is larger than 1048576 bytes; send a smaller body",
		},
		{
			name: "not JSON content type", method: "POST", target: "/api/v1/scans", contentType: "application/x-www-form-urlencoded", body: "nodes=a",
			wantStatus: 415, wantCode: "INVALID_ARGUMENT", wantMessage: `request body has Content-Type "application/x-www-form-urlencoded"; send application/json`,
		},
		{
			name: "bogus status", method: "GET", target: "/api/v1/scans/s-1/results?status=fail&status=bogus",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter status: unknown status "bogus" (want one of pass, fail, info, skip, error)`,
		},
		{
			name: "unspecified status", method: "GET", target: "/api/v1/scans/s-1/results?status=STATUS_UNSPECIFIED",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter status: unknown status "STATUS_UNSPECIFIED" (want one of pass, fail, info, skip, error)`,
		},
		{
			name: "bogus severity", method: "GET", target: "/api/v1/scans/s-1/results?severity=urgent",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter severity: unknown severity "urgent" (want one of critical, high, medium, low)`,
		},
		{
			name: "page size not a number", method: "GET", target: "/api/v1/scans/s-1/results?page_size=ten",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter page_size is "ten"; want a whole number from 0 to 4294967295`,
		},
		{
			name: "negative page size", method: "GET", target: "/api/v1/scans?page_size=-1",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter page_size is "-1"; want a whole number from 0 to 4294967295`,
		},
		{
			name: "bogus scan state", method: "GET", target: "/api/v1/scans?state=done",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter state: unknown scan state "done" (want one of queued, dispatched, running, complete, failed, cancelled, timed_out)`,
		},
		{
			name: "bogus target type", method: "GET", target: "/api/v1/nodes?target_type=windows",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter target_type: unknown target type "windows" (want one of linux, kubernetes, aws, azure, gcp)`,
		},
		{
			name: "bogus boolean", method: "GET", target: "/api/v1/benchmarks?with_requirements=yes%20please",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter with_requirements is "yes please"; want true or false`,
		},
		{
			name: "unknown query parameter", method: "GET", target: "/api/v1/scans?stat=running",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `unknown query parameter "stat" (want one of node, state, page_size, page_token)`,
		},
		{
			name: "query parameter on a route without any", method: "GET", target: "/api/v1/scans/s-1?verbose=1",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `unknown query parameter "verbose"; this route takes none`,
		},
		{
			name: "repeated single parameter", method: "GET", target: "/api/v1/controls?benchmark=cis&benchmark=nist",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: "query parameter benchmark is given 2 times; give it once",
		},
		{
			name: "malformed query escape", method: "GET", target: "/api/v1/nodes?target_type=%zz",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `malformed query string: invalid URL escape "%zz"`,
		},
		{
			name: "bogus masked filter", method: "GET", target: "/api/v1/scans/s-1/results?masked=maybe",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter masked is "maybe"; want one of exclude, only, include`,
		},
		{
			name: "unspecified masked filter", method: "GET", target: "/api/v1/scans/s-1/results?masked=MASKED_FILTER_UNSPECIFIED",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter masked is "MASKED_FILTER_UNSPECIFIED"; want one of exclude, only, include`,
		},
		{
			name: "bogus order", method: "GET", target: "/api/v1/scans/s-1/results?order_by=name",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter order_by is "name"; want one of control, severity, status`,
		},
		{
			name: "repeated text query", method: "GET", target: "/api/v1/scans/s-1/results?q=a&q=b",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: "query parameter q is given 2 times; give it once",
		},
		{
			name: "compare without head", method: "GET", target: "/api/v1/compare?base=s-1",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: "query parameters base and head are both required: the ids of the two scans to compare",
		},
		{
			name: "compare with unknown parameter", method: "GET", target: "/api/v1/compare?base=s-1&head=s-2&node=x",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `unknown query parameter "node" (want one of base, head)`,
		},
		{
			name: "negative history limit", method: "GET", target: "/api/v1/nodes/web-1/controls/ssh-root/history?limit=-3",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter limit is "-3"; want a whole number from 0 to 4294967295`,
		},
		{
			name: "bogus include_inactive", method: "GET", target: "/api/v1/masks?include_inactive=maybe",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter include_inactive is "maybe"; want true or false`,
		},
		{
			name: "mask with unknown field", method: "POST", target: "/api/v1/masks", contentType: "application/json", body: `{"control":"ssh-root"}`,
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: "invalid JSON request body: ", wantPrefix: true,
		},
		{
			name: "mask with bad expiry", method: "POST", target: "/api/v1/masks", contentType: "application/json", body: `{"control_id":"ssh-root","expires_at":"tomorrow"}`,
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: "invalid JSON request body: ", wantPrefix: true,
		},
		{
			name: "user as form", method: "POST", target: "/api/v1/users", contentType: "application/x-www-form-urlencoded", body: "name=x",
			wantStatus: 415, wantCode: "INVALID_ARGUMENT", wantMessage: `request body has Content-Type "application/x-www-form-urlencoded"; send application/json`,
		},
		{
			name: "API token with negative lifetime", method: "POST", target: "/api/v1/api-tokens", contentType: "application/json", body: `{"name":"ci","ttl_seconds":-1}`,
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: "invalid JSON request body: ", wantPrefix: true,
		},
		{
			name: "query parameter on revoke", method: "POST", target: "/api/v1/api-tokens/pat-1/revoke?force=1",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `unknown query parameter "force"; this route takes none`,
		},
		{
			name: "export without format", method: "GET", target: "/api/v1/scans/s-1/export",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: "query parameter format: no export format given (want one of csv, json, sarif, html)",
		},
		{
			name: "export in an unknown format", method: "GET", target: "/api/v1/scans/s-1/export?format=pdf",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `query parameter format: unknown export format "pdf" (want one of csv, json, sarif, html)`,
		},
		{
			name: "export with unknown parameter", method: "GET", target: "/api/v1/scans/s-1/export?format=csv&masked=only",
			wantStatus: 400, wantCode: "INVALID_ARGUMENT", wantMessage: `unknown query parameter "masked" (want one of format)`,
		},
		{
			name: "delete on the mask list", method: "DELETE", target: "/api/v1/masks",
			wantStatus: 405, wantCode: "UNIMPLEMENTED", wantMessage: "method DELETE is not allowed on /api/v1/masks (allowed: GET, HEAD, POST)",
		},
		{
			name: "revoke by GET", method: "GET", target: "/api/v1/enrolment-tokens/t-1/revoke",
			wantStatus: 405, wantCode: "UNIMPLEMENTED", wantMessage: "method GET is not allowed on /api/v1/enrolment-tokens/t-1/revoke (allowed: POST)",
		},
		{
			name: "put on a user", method: "PUT", target: "/api/v1/users/carol",
			wantStatus: 405, wantCode: "UNIMPLEMENTED", wantMessage: "method PUT is not allowed on /api/v1/users/carol (allowed: DELETE)",
		},
		{
			name: "unknown route", method: "GET", target: "/api/v1/widgets",
			wantStatus: 404, wantCode: "NOT_FOUND", wantMessage: "no API route GET /api/v1/widgets; see GET /api/v1/openapi.json for the routes",
		},
		{
			name: "wrong method", method: "DELETE", target: "/api/v1/scans/s-1",
			wantStatus: 405, wantCode: "UNIMPLEMENTED", wantMessage: "method DELETE is not allowed on /api/v1/scans/s-1 (allowed: GET, HEAD)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{}
			rec := do(newTestHandler(api), tt.method, tt.target, tt.contentType, tt.body)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d; want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			var got errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q is not a JSON error: %v", rec.Body, err)
			}
			if got.Error.Code != tt.wantCode {
				t.Errorf("code = %q; want %q", got.Error.Code, tt.wantCode)
			}
			if tt.wantPrefix {
				if !strings.HasPrefix(got.Error.Message, tt.wantMessage) || len(got.Error.Message) == len(tt.wantMessage) {
					t.Errorf("message = %q; want %q followed by the parser's detail", got.Error.Message, tt.wantMessage)
				}
			} else if got.Error.Message != tt.wantMessage {
				t.Errorf("message = %q; want %q", got.Error.Message, tt.wantMessage)
			}
			if calls := api.recorded(); len(calls) != 0 {
				t.Errorf("API was called: %v", calls)
			}
		})
	}
}

func TestMethodNotAllowedListsAllowedMethods(t *testing.T) {
	rec := do(newTestHandler(&fakeAPI{}), "PUT", "/api/v1/scans", "", "")
	if rec.Code != 405 {
		t.Fatalf("status = %d; want 405", rec.Code)
	}
	if got, want := rec.Header().Get("Allow"), "GET, HEAD, POST"; got != want {
		t.Errorf("Allow = %q; want %q", got, want)
	}
}

func TestAuthenticationFailure(t *testing.T) {
	tests := []struct {
		name   string
		header string
		target string
		method string
	}{
		{"no token on a read", "", "/api/v1/nodes", "GET"},
		{"wrong token on a write", "Bearer bad", "/api/v1/scans", "POST"},
		{"no token on an unknown route", "", "/api/v1/widgets", "GET"},
		{"no token on the OpenAPI document", "", "/api/v1/openapi.json", "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{}
			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(`{"nodes":["a"]}`))
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			newTestHandler(api).ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("status = %d; want 401", rec.Code)
			}
			want := `{"error":{"code":"UNAUTHENTICATED","message":"missing or invalid API token; send Authorization: Bearer <token>"}}` + "\n"
			if rec.Body.String() != want {
				t.Errorf("body = %s; want %s", rec.Body, want)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="palisade"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if calls := api.recorded(); len(calls) != 0 {
				t.Errorf("API was called: %v", calls)
			}
		})
	}
}

func TestAuthenticatePlainError(t *testing.T) {
	h := NewHandler(Config{
		API: &fakeAPI{},
		Authenticate: func(*http.Request) (context.Context, error) {
			return nil, errors.New("token expired; create a new one")
		},
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/nodes", nil))
	want := `{"error":{"code":"UNAUTHENTICATED","message":"token expired; create a new one"}}` + "\n"
	if rec.Code != 401 || rec.Body.String() != want {
		t.Errorf("got %d %s; want 401 %s", rec.Code, rec.Body, want)
	}
}

func TestNewHandlerRequiresAPIAndAuthenticate(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no API":          {Authenticate: func(r *http.Request) (context.Context, error) { return r.Context(), nil }},
		"no Authenticate": {API: &fakeAPI{}},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewHandler did not panic")
				}
			}()
			NewHandler(cfg)
		})
	}
}

// TestOpenAPIDescribesEveryRoute checks the embedded document is valid JSON, is served, and
// has an operation for every route in the routing table and no operation without a route.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	rec := do(newTestHandler(&fakeAPI{}), "GET", "/api/v1/openapi.json", "", "")
	if rec.Code != 200 {
		t.Fatalf("status = %d", rec.Code)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q; want 3.x", doc.OpenAPI)
	}
	// The document itself and the session endpoints, which package auth serves beside this
	// handler, are described but are not in the routing table.
	want := map[string]bool{
		"get /api/v1/openapi.json": true,
		"post /api/v1/session":     true,
		"get /api/v1/session":      true,
		"delete /api/v1/session":   true,
	}
	for _, rt := range (&handler{}).routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		want[strings.ToLower(method)+" "+path] = true
	}
	got := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			got[method+" "+path] = true
		}
	}
	for op := range want {
		if !got[op] {
			t.Errorf("openapi.json lacks %s", op)
		}
	}
	for op := range got {
		if !want[op] {
			t.Errorf("openapi.json describes %s, which has no route", op)
		}
	}
	// Every $ref must resolve inside the document.
	var whole map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &whole); err != nil {
		t.Fatal(err)
	}
	checkRefs(t, whole, whole)
}

func checkRefs(t *testing.T, root, node any) {
	t.Helper()
	switch v := node.(type) {
	case map[string]any:
		for k, child := range v {
			if k == "$ref" {
				ref, _ := child.(string)
				if !resolves(root, ref) {
					t.Errorf("$ref %q does not resolve", ref)
				}
				continue
			}
			checkRefs(t, root, child)
		}
	case []any:
		for _, child := range v {
			checkRefs(t, root, child)
		}
	}
}

func resolves(root any, ref string) bool {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	cur := root
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

func TestAuthenticateForbidden(t *testing.T) {
	api := &fakeAPI{}
	h := NewHandler(Config{
		API: api,
		Authenticate: func(*http.Request) (context.Context, error) {
			return nil, status.Error(codes.PermissionDenied, "missing or invalid CSRF token")
		},
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/scans", strings.NewReader(`{}`)))
	want := `{"error":{"code":"PERMISSION_DENIED","message":"missing or invalid CSRF token"}}` + "\n"
	if rec.Code != 403 || rec.Body.String() != want {
		t.Errorf("got %d %s; want 403 %s", rec.Code, rec.Body, want)
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != "" {
		t.Errorf("WWW-Authenticate = %q on a 403; want none", got)
	}
	if calls := api.recorded(); len(calls) != 0 {
		t.Errorf("API was called: %v", calls)
	}
}

func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	h := newTestHandler(&fakeAPI{})
	for _, tt := range []struct {
		name, method, target, auth string
		wantStatus                 int
	}{
		{"data", "GET", "/api/v1/nodes", "Bearer good", 200},
		{"unauthenticated", "GET", "/api/v1/nodes", "", 401},
		{"unknown route", "GET", "/api/v1/widgets", "Bearer good", 404},
		{"bad input", "GET", "/api/v1/nodes?x=1", "Bearer good", 400},
		{"export", "GET", "/api/v1/scans/s-9/export?format=csv", "Bearer good", 200},
		{"OpenAPI document", "GET", "/api/v1/openapi.json", "Bearer good", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.target, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d; want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", got)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q; want nosniff", got)
			}
		})
	}
}

// TestExportRoute checks the route's headers and the calls it makes; the formats themselves
// are tested in package export.
func TestExportRoute(t *testing.T) {
	tests := []struct {
		format, contentType, filename string
	}{
		{"csv", "text/csv; charset=utf-8", "palisade-scan-s-9.csv"},
		{"json", "application/json", "palisade-scan-s-9.json"},
		{"sarif", "application/sarif+json", "palisade-scan-s-9.sarif"},
		{"html", "text/html; charset=utf-8", "palisade-scan-s-9.html"},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			api := &fakeAPI{}
			rec := do(newTestHandler(api), "GET", "/api/v1/scans/s-9/export?format="+tt.format, "", "")
			if rec.Code != 200 {
				t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q; want %q", got, tt.contentType)
			}
			if got, want := rec.Header().Get("Content-Disposition"), "attachment; filename="+tt.filename; got != want {
				t.Errorf("Content-Disposition = %q; want %q", got, want)
			}
			if got, want := rec.Header().Get("Content-Length"), strconv.Itoa(rec.Body.Len()); got != want {
				t.Errorf("Content-Length = %q; want %q", got, want)
			}
			wantCSP := ""
			if tt.format == "html" {
				wantCSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
			}
			if got := rec.Header().Get("Content-Security-Policy"); got != wantCSP {
				t.Errorf("Content-Security-Policy = %q; want %q", got, wantCSP)
			}
			var methods []string
			for _, c := range api.recorded() {
				methods = append(methods, c.method)
				if c.user != "alice" {
					t.Errorf("%s ran as %q; want alice", c.method, c.user)
				}
			}
			want := "GetScan GetNode ListBenchmarks ListResults GetControl ListMasks"
			if got := strings.Join(methods, " "); got != want {
				t.Errorf("API calls %s; want %s", got, want)
			}
			calls := api.recorded()
			wantResults := &consolev1.ListResultsRequest{ScanId: "s-9", Masked: consolev1.MaskedFilter_MASKED_FILTER_INCLUDE, PageSize: 5000}
			if !proto.Equal(calls[3].req, wantResults) {
				t.Errorf("ListResults(%v); want %v", calls[3].req, wantResults)
			}
			if want := (&consolev1.ListMasksRequest{Node: "n-1"}); !proto.Equal(calls[5].req, want) {
				t.Errorf("ListMasks(%v); want %v", calls[5].req, want)
			}
		})
	}
	t.Run("csv body", func(t *testing.T) {
		rec := do(newTestHandler(&fakeAPI{}), "GET", "/api/v1/scans/s-9/export?format=csv", "", "")
		want := "scan_id,node,control_id,title,benchmarks,severity,service,status,resource,reason,masked,mask_reason,mask_by,mask_until,evidence\n" +
			"s-9,web-1,ssh-root,,,,,fail,,,false,,,,\n"
		if rec.Body.String() != want {
			t.Errorf("body =\n%s\nwant\n%s", rec.Body, want)
		}
	})
	t.Run("unknown scan", func(t *testing.T) {
		api := &fakeAPI{err: status.Error(codes.NotFound, `scan "s-404" not found`)}
		rec := do(newTestHandler(api), "GET", "/api/v1/scans/s-404/export?format=html", "", "")
		want := `{"error":{"code":"NOT_FOUND","message":"scan \"s-404\" not found"}}` + "\n"
		if rec.Code != 404 || rec.Body.String() != want {
			t.Errorf("got %d %s; want 404 %s", rec.Code, rec.Body, want)
		}
		if got := rec.Header().Get("Content-Disposition"); got != "" {
			t.Errorf("Content-Disposition = %q on an error", got)
		}
	})
}

// TestEveryRouteNeedsCredentials sends every route of the routing table without credentials:
// each must answer 401 without calling the API.
func TestEveryRouteNeedsCredentials(t *testing.T) {
	fill := strings.NewReplacer("{id}", "x-1", "{node}", "web-1", "{control}", "ssh-root", "{name}", "carol")
	for _, rt := range append((&handler{}).routes(), route{pattern: "GET /api/v1/openapi.json"}) {
		method, path, _ := strings.Cut(rt.pattern, " ")
		t.Run(rt.pattern, func(t *testing.T) {
			api := &fakeAPI{}
			req := httptest.NewRequest(method, fill.Replace(path), strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			newTestHandler(api).ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("status = %d; want 401", rec.Code)
			}
			if calls := api.recorded(); len(calls) != 0 {
				t.Errorf("API was called: %v", calls)
			}
		})
	}
}
