package cli

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// GetPosture answers with a fixed posture.
func (p *fakeConsole) GetPosture(ctx context.Context, req *consolev1.GetPostureRequest) (*consolev1.Posture, error) {
	p.record(ctx, req)
	half := 50.0
	return &consolev1.Posture{
		Targets: []*consolev1.TargetPosture{{
			TargetType: "linux", Nodes: 3, ScannedNodes: 1,
			Scores:  []*consolev1.Score{{BenchmarkId: "linux-cis", Score: &half, Pass: 2, Fail: 2, Skip: 1, Masked: 1}},
			Overall: &consolev1.Score{Score: &half, Pass: 2, Fail: 2, Skip: 1, Masked: 1},
		}},
		Nodes: []*consolev1.NodePosture{
			{NodeId: "n-1", NodeName: "web-1", TargetType: "linux", LastScanAt: timestamppb.New(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)),
				Scores:     []*consolev1.Score{{BenchmarkId: "linux-cis", Score: &half, Pass: 2, Fail: 2, Skip: 1, Masked: 1}},
				LastScanId: "s-9", LastScanState: sensorv1.ScanState_SCAN_STATE_RUNNING},
			{NodeId: "n-2", NodeName: "web-2", TargetType: "linux"},
			{NodeId: "n-3", NodeName: "web-3", TargetType: "linux", LastScanId: "s-3", LastScanState: sensorv1.ScanState_SCAN_STATE_FAILED},
		},
	}, nil
}

func TestPosture(t *testing.T) {
	addr, ca := startConsole(t, &fakeConsole{})
	out, _, err := run(t, "", flags(addr, ca, "posture")...)
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"TYPE   NODES  SCANNED  BENCHMARK  SCORE  PASS  FAIL  INFO  SKIP  ERROR  MASKED\n" +
		"linux  3      1        (all)      50.0%  2     2     0     1     0      1\n" +
		"                       linux-cis  50.0%  2     2     0     1     0      1\n" +
		"\n" +
		"NODE   TYPE   LAST SCAN             SCORES             NEWEST SCAN\n" +
		"web-1  linux  2026-11-26T08:00:00Z  linux-cis 50.0%    s-9 (running)\n" +
		"web-2  linux  -                     never scanned      -\n" +
		"web-3  linux  -                     no completed scan  s-3 (failed)\n"
	if out != want {
		t.Fatalf("posture output:\n%s\nwant:\n%s", out, want)
	}
}
