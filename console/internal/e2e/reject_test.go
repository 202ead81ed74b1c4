package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/pkg/wire"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

func TestEnrolmentTokenRejections(t *testing.T) {
	h := startConsole(t, consoleOptions{})
	tests := []struct {
		name  string
		token func() string
		code  codes.Code
		msg   string
	}{
		{"malformed", func() string { return "not-a-token" }, codes.Unknown, "malformed enrolment token"},
		{"unknown secret", func() string {
			tok := h.token(1, time.Hour)
			i := strings.Index(tok, ".")
			return tok[:i+1] + strings.Repeat("A", 43) + tok[strings.LastIndex(tok, "."):]
		}, codes.Unauthenticated, "unknown enrolment token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.enrolRaw(tt.token(), "x")
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("enrol error %v; want one containing %q", err, tt.msg)
			}
			if tt.code != codes.Unknown && status.Code(err) != tt.code {
				t.Fatalf("code %s; want %s", status.Code(err), tt.code)
			}
		})
	}
	t.Run("used up", func(t *testing.T) {
		tok := h.token(1, time.Hour)
		if _, err := h.enrolRaw(tok, "first"); err != nil {
			t.Fatal(err)
		}
		_, err := h.enrolRaw(tok, "second")
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "no uses left") {
			t.Fatalf("second enrolment: %v", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		tok, err := h.api.CreateEnrolmentToken(context.Background(), &consolev1.CreateEnrolmentTokenRequest{Uses: 1, TtlSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		h.waitFor(5*time.Second, "the token to expire", func() (bool, error) {
			return time.Now().After(tok.GetExpiresAt().AsTime()), nil
		})
		_, err = h.enrolRaw(tok.GetToken(), "late")
		if status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("expired token: %v", err)
		}
	})
	nodes, err := h.api.ListNodes(context.Background(), &consolev1.ListNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.GetNodes()) != 1 || nodes.GetNodes()[0].GetName() != "first" {
		t.Fatalf("nodes after rejections: %v; want only 'first'", nodes.GetNodes())
	}
}

func TestResultRejections(t *testing.T) {
	h := startConsole(t, consoleOptions{heartbeatTimeout: time.Minute})
	a, err := h.enrolRaw(h.token(1, time.Hour), "a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.enrolRaw(h.token(1, time.Hour), "b")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	resp, err := h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{a.id}, Benchmarks: []string{"cis"}})
	if err != nil {
		t.Fatal(err)
	}
	scanID := resp.GetScans()[0].GetId()
	if _, err := a.client.UpdateScan(ctx, &sensorv1.UpdateScanRequest{ScanId: scanID, State: sensorv1.ScanState_SCAN_STATE_RUNNING}); err != nil {
		t.Fatal(err)
	}
	ctls, err := h.api.ListControls(ctx, &consolev1.ListControlsRequest{Benchmark: "cis", TargetType: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	control := ctls.GetControls()[0].GetId()
	pass := func(n int) []*sensorv1.Result {
		out := make([]*sensorv1.Result, n)
		for i := range out {
			out[i] = &sensorv1.Result{ControlId: control, Resource: "r" + strings.Repeat("x", i%7) + string(rune('a'+i%26)), Status: sensorv1.Status_STATUS_PASS}
		}
		return out
	}

	if _, err := b.client.UpdateScan(ctx, &sensorv1.UpdateScanRequest{ScanId: scanID, State: sensorv1.ScanState_SCAN_STATE_FAILED}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("node b updating node a's scan: %v; want PermissionDenied", err)
	}
	tests := []struct {
		name  string
		node  *rawNode
		batch *sensorv1.ResultBatch
		want  string
	}{
		{"another node's scan", b, &sensorv1.ResultBatch{ScanId: scanID, Seq: 1, Results: pass(1)}, "belongs to another node"},
		{"unknown scan", a, &sensorv1.ResultBatch{ScanId: "scn_nope", Seq: 1, Results: pass(1)}, `unknown scan "scn_nope"`},
		{"control not in scan", a, &sensorv1.ResultBatch{ScanId: scanID, Seq: 1, Results: []*sensorv1.Result{{ControlId: "linux.made-up", Resource: "host", Status: sensorv1.Status_STATUS_PASS}}}, `control "linux.made-up" is not part of scan`},
		{"unknown status", a, &sensorv1.ResultBatch{ScanId: scanID, Seq: 1, Results: []*sensorv1.Result{{ControlId: control, Resource: "host", Status: sensorv1.Status(42)}}}, "unknown status 42"},
		{"oversized batch", a, &sensorv1.ResultBatch{ScanId: scanID, Seq: 1, Results: pass(5001)}, "has 5001 results; the limit is 5000"},
		{"seq zero", a, &sensorv1.ResultBatch{ScanId: scanID, Seq: 0, Results: pass(1)}, "batch seq must start at 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ack, err := tt.node.send(tt.batch)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(ack.GetError(), tt.want) {
				t.Fatalf("ack error %q; want it to contain %q", ack.GetError(), tt.want)
			}
		})
	}
	t.Run("message over the size limit", func(t *testing.T) {
		big := &sensorv1.ResultBatch{ScanId: scanID, Seq: 1, Results: []*sensorv1.Result{{ControlId: control, Resource: "host", Status: sensorv1.Status_STATUS_PASS, Reason: strings.Repeat("x", 9<<20)}}}
		_, err := a.send(big)
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("9 MiB batch: %v; want ResourceExhausted", err)
		}
	})
	t.Run("bytes that are no batch", func(t *testing.T) {
		// Field 1 claims 255 bytes that never come.
		s, err := a.client.StreamResults(ctx, grpc.ForceCodecV2(fixedBytes{data: []byte{0x0a, 0xff}}))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Send(&sensorv1.ResultBatch{}); err != nil {
			t.Fatal(err)
		}
		_, err = s.Recv()
		const want = "the result batch could not be decoded"
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), want) {
			t.Fatalf("malformed batch: %v; want InvalidArgument containing %q", err, want)
		}
	})
	sc, err := h.api.GetScan(ctx, &consolev1.GetScanRequest{ScanId: scanID})
	if err != nil {
		t.Fatal(err)
	}
	if sc.GetResultsStored() != 0 || sc.GetState() != sensorv1.ScanState_SCAN_STATE_RUNNING {
		t.Fatalf("after rejections: %d results stored, state %s; want 0, running", sc.GetResultsStored(), sc.GetState())
	}
	// A valid batch after all that is stored.
	ack, err := a.send(&sensorv1.ResultBatch{ScanId: scanID, Seq: 1, Results: pass(3)})
	if err != nil || ack.GetError() != "" || ack.GetStored() != 3 {
		t.Fatalf("valid batch: %v, %v", ack, err)
	}
}

func TestScanRequestRejections(t *testing.T) {
	h := startConsole(t, consoleOptions{})
	n, err := h.enrolRaw(h.token(1, time.Hour), "only")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name string
		req  *consolev1.StartScanRequest
		code codes.Code
		msg  string
	}{
		{"unknown node", &consolev1.StartScanRequest{Nodes: []string{"ghost"}, Benchmarks: []string{"cis"}}, codes.NotFound, `unknown node "ghost"`},
		{"unknown benchmark", &consolev1.StartScanRequest{Nodes: []string{n.id}, Benchmarks: []string{"iso-27001"}}, codes.InvalidArgument, `unknown benchmark "iso-27001" for linux targets`},
		{"no benchmark", &consolev1.StartScanRequest{Nodes: []string{n.id}}, codes.InvalidArgument, "name at least one benchmark"},
		{"unknown excluded control", &consolev1.StartScanRequest{Nodes: []string{n.id}, Benchmarks: []string{"cis"}, ExcludeControls: []string{"nope"}}, codes.InvalidArgument, `unknown control "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.api.StartScan(ctx, tt.req)
			if status.Code(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("StartScan: %v; want %s containing %q", err, tt.code, tt.msg)
			}
		})
	}
	list, err := h.api.ListScans(ctx, &consolev1.ListScansRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetScans()) != 0 {
		t.Fatalf("%d scans stored after rejected requests; want 0", len(list.GetScans()))
	}
}

// TestOlderProtocolRefused: a sensor of protocol version 1 (jobs through a JetStream consumer)
// is told to upgrade rather than left waiting for jobs that never come.
func TestOlderProtocolRefused(t *testing.T) {
	h := startConsole(t, consoleOptions{})
	n, err := h.enrolRaw(h.token(1, time.Hour), "old")
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.client.Hello(context.Background(), &sensorv1.HelloRequest{CapabilityVersion: 1, Facts: &sensorv1.NodeFacts{Hostname: "old", TargetType: "linux"}})
	const want = "sensor speaks protocol version 1; this console supports 2 to 2: upgrade the older side"
	if status.Code(err) != codes.FailedPrecondition || status.Convert(err).Message() != want {
		t.Fatalf("hello of a version 1 sensor: %v; want FailedPrecondition %q", err, want)
	}
}

// TestHelloFacts: a hello repeating the node's facts changes nothing, and a hello with other
// facts is stored at once, although the console writes repeated facts only now and then.
func TestHelloFacts(t *testing.T) {
	h := startConsole(t, consoleOptions{})
	n, err := h.enrolRaw(h.token(1, time.Hour), "web-1")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hello := func(hostname, version string) {
		t.Helper()
		_, err := n.client.Hello(ctx, &sensorv1.HelloRequest{CapabilityVersion: wire.CapabilityVersion,
			Facts: &sensorv1.NodeFacts{Hostname: hostname, TargetType: "linux", SensorVersion: version, OsId: "debian", OsVersion: "12"}})
		if err != nil {
			t.Fatalf("hello as %s %s: %v", hostname, version, err)
		}
	}
	check := func(step, name, version string) {
		t.Helper()
		node, err := h.api.GetNode(ctx, &consolev1.GetNodeRequest{Node: n.id})
		if err != nil {
			t.Fatal(err)
		}
		if node.GetName() != name || node.GetFacts().GetSensorVersion() != version || node.GetFacts().GetOsVersion() != "12" || !node.GetConnected() {
			t.Fatalf("%s: node %s, sensor %s, os %s, connected %t; want %s, %s, 12, connected", step,
				node.GetName(), node.GetFacts().GetSensorVersion(), node.GetFacts().GetOsVersion(), node.GetConnected(), name, version)
		}
	}
	hello("web-1", "1.0.0")
	check("first hello", "web-1", "1.0.0")
	hello("web-1", "1.0.0")
	check("same facts again", "web-1", "1.0.0")
	hello("web-1", "1.1.0")
	check("sensor upgraded", "web-1", "1.1.0")
	hello("web-2", "1.1.0")
	check("host renamed", "web-2", "1.1.0")
}

// fixedBytes is a client codec that sends the same bytes whatever the message, and decodes
// answers as protobuf.
type fixedBytes struct {
	data []byte
}

func (f fixedBytes) Marshal(any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(f.data)}, nil
}

func (f fixedBytes) Unmarshal(data mem.BufferSlice, v any) error {
	return encoding.GetCodecV2("proto").Unmarshal(data, v)
}

func (f fixedBytes) Name() string { return "proto" }
