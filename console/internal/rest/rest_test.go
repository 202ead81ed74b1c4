package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
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
			wantBody: `{"id":"s-9","group_id":"","node_id":"n-1","node_name":"","state":"SCAN_STATE_COMPLETE","benchmark_ids":[],"controls_total":2,"controls_done":2,"results_stored":"3","message":"","created_at":null,"started_at":null,"finished_at":null,"last_heartbeat_at":null,"scores":[{"benchmark_id":"linux-cis","score":50,"pass":1,"fail":1,"info":0,"skip":0,"error":0},{"benchmark_id":"linux-gdpr","pass":0,"fail":0,"info":0,"skip":1,"error":0}],"created_by":""}` + "\n",
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
			wantBody: `{"results":[{"scan_id":"s-9","node_id":"","control_id":"ssh-root","resource":"","status":"STATUS_FAIL","reason":"","evidence":[],"title":"","severity":"","service":""}],"next_page_token":"","total":"1"}` + "\n",
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
			wantBody: `{"id":"t-1","token":"secret","expires_at":null,"uses":3,"used":0}` + "\n",
		},
		{
			name: "create enrolment token with empty body", method: "POST", target: "/api/v1/enrolment-tokens",
			wantStatus: 201, wantMethod: "CreateEnrolmentToken", wantReq: &consolev1.CreateEnrolmentTokenRequest{},
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
	want := map[string]bool{"get /api/v1/openapi.json": true}
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
