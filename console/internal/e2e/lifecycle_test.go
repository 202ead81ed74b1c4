package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/pkg/engine/enginetest"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

func TestStopOfflineNodeScanAndLateSensorDropsIt(t *testing.T) {
	h := startConsole(t, consoleOptions{})
	root := enginetest.Root(t, "debian-good")
	stateDir := t.TempDir()
	s := h.startSensor(sensorOptions{root: root, hostname: "sleepy", stateDir: stateDir})
	s.stop() // the node goes offline; its job waits in JetStream

	ctx := context.Background()
	resp, err := h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{s.nodeID}, Benchmarks: []string{"cis"}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetScans()[0].GetId()
	if st := resp.GetScans()[0].GetState(); st != sensorv1.ScanState_SCAN_STATE_DISPATCHED {
		t.Fatalf("state after start = %s; want dispatched", st)
	}
	stopped, err := h.api.StopScan(ctx, &consolev1.StopScanRequest{ScanId: id})
	if err != nil {
		t.Fatal(err)
	}
	if stopped.GetState() != sensorv1.ScanState_SCAN_STATE_CANCELLED {
		t.Fatalf("state after stop = %s; want cancelled", stopped.GetState())
	}
	if _, err := h.api.StopScan(ctx, &consolev1.StopScanRequest{ScanId: id}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("second stop: %v; want FailedPrecondition", err)
	}
	// The sensor comes back; the cancelled scan is not among the jobs its hello hands it, so
	// it sends nothing for it.
	h.startSensor(sensorOptions{root: root, stateDir: stateDir, hostname: "sleepy"})
	resp2, err := h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{s.nodeID}, Benchmarks: []string{"cis"}})
	if err != nil {
		t.Fatal(err)
	}
	if sc := h.waitScan(resp2.GetScans()[0].GetId(), 30*time.Second); sc.GetState() != sensorv1.ScanState_SCAN_STATE_COMPLETE {
		t.Fatalf("follow-up scan ended %s: %s", sc.GetState(), sc.GetMessage())
	}
	sc, err := h.api.GetScan(ctx, &consolev1.GetScanRequest{ScanId: id})
	if err != nil {
		t.Fatal(err)
	}
	if sc.GetState() != sensorv1.ScanState_SCAN_STATE_CANCELLED || sc.GetResultsStored() != 0 {
		t.Fatalf("cancelled scan is %s with %d results; want cancelled with 0", sc.GetState(), sc.GetResultsStored())
	}
}

// TestScanStartedWhileSensorOfflineRunsWhenItReturns: a job published while the node's sensor
// is down waits in the stream and reaches the sensor with its next hello.
func TestScanStartedWhileSensorOfflineRunsWhenItReturns(t *testing.T) {
	h := startConsole(t, consoleOptions{})
	root := enginetest.Root(t, "debian-bad")
	stateDir := t.TempDir()
	s := h.startSensor(sensorOptions{root: root, hostname: "away", stateDir: stateDir})
	s.stop()

	ctx := context.Background()
	resp, err := h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{s.nodeID}, Benchmarks: []string{"cis", "nist"}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetScans()[0].GetId()
	time.Sleep(200 * time.Millisecond) // nobody is there to take it
	if sc, err := h.api.GetScan(ctx, &consolev1.GetScanRequest{ScanId: id}); err != nil || sc.GetState() != sensorv1.ScanState_SCAN_STATE_DISPATCHED {
		t.Fatalf("scan of the offline node: %v, %v; want dispatched", sc.GetState(), err)
	}
	h.startSensor(sensorOptions{root: root, hostname: "away", stateDir: stateDir})
	checkExactScan(t, h, h.waitScan(id, 30*time.Second), root)
}

func TestStopRunningScanReachesSensor(t *testing.T) {
	h := startConsole(t, consoleOptions{heartbeatTimeout: time.Minute})
	n, err := h.enrolRaw(h.token(1, time.Hour), "raw")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	resp, err := h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{n.id}, Benchmarks: []string{"cis"}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetScans()[0].GetId()
	up, err := n.client.UpdateScan(ctx, &sensorv1.UpdateScanRequest{ScanId: id, State: sensorv1.ScanState_SCAN_STATE_RUNNING, ControlsTotal: 10})
	if err != nil || up.GetState() != sensorv1.ScanState_SCAN_STATE_RUNNING {
		t.Fatalf("report running: %v, %v", up, err)
	}
	if _, err := h.api.StopScan(ctx, &consolev1.StopScanRequest{ScanId: id}); err != nil {
		t.Fatal(err)
	}
	// The next heartbeat learns the scan was cancelled.
	up, err = n.client.UpdateScan(ctx, &sensorv1.UpdateScanRequest{ScanId: id, ControlsDone: 3, ControlsTotal: 10})
	if err != nil || up.GetState() != sensorv1.ScanState_SCAN_STATE_CANCELLED {
		t.Fatalf("heartbeat after stop: %v, %v; want cancelled", up, err)
	}
	ack, err := n.send(&sensorv1.ResultBatch{ScanId: id, Seq: 1, Results: []*sensorv1.Result{{ControlId: "x", Resource: "host", Status: sensorv1.Status_STATUS_PASS}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ack.GetError(), "cancelled, not running") {
		t.Fatalf("batch after stop: ack error %q", ack.GetError())
	}
}

func TestHeartbeatTimeoutAndJobExpiry(t *testing.T) {
	h := startConsole(t, consoleOptions{heartbeatTimeout: 300 * time.Millisecond, jobExpiry: 1500 * time.Millisecond})
	n, err := h.enrolRaw(h.token(1, time.Hour), "quiet")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// A running scan whose sensor goes quiet times out.
	resp, err := h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{n.id}, Benchmarks: []string{"cis"}})
	if err != nil {
		t.Fatal(err)
	}
	running := resp.GetScans()[0].GetId()
	if _, err := n.client.UpdateScan(ctx, &sensorv1.UpdateScanRequest{ScanId: running, State: sensorv1.ScanState_SCAN_STATE_RUNNING}); err != nil {
		t.Fatal(err)
	}
	sc := h.waitScan(running, 10*time.Second)
	if sc.GetState() != sensorv1.ScanState_SCAN_STATE_TIMED_OUT || sc.GetMessage() != "no heartbeat from the sensor for 300ms" {
		t.Fatalf("quiet scan ended %s (%q); want timed_out (no heartbeat from the sensor for 300ms)", sc.GetState(), sc.GetMessage())
	}
	// A job nobody takes expires.
	resp, err = h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{n.id}, Benchmarks: []string{"cis"}})
	if err != nil {
		t.Fatal(err)
	}
	sc = h.waitScan(resp.GetScans()[0].GetId(), 10*time.Second)
	if sc.GetState() != sensorv1.ScanState_SCAN_STATE_TIMED_OUT || sc.GetMessage() != "the node did not take the job within 1.5s" {
		t.Fatalf("untaken scan ended %s (%q); want timed_out (the node did not take the job within 1.5s)", sc.GetState(), sc.GetMessage())
	}
}

// TestBriefStart: a start that asks for a brief answer gets the group and the counts, no
// scans, and the scan runs as any other (found through ListScans).
func TestBriefStart(t *testing.T) {
	h := startConsole(t, consoleOptions{})
	s := h.startSensor(sensorOptions{root: enginetest.Root(t, "debian-good"), hostname: "brief"})
	ctx := context.Background()
	resp, err := h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{s.nodeID}, Benchmarks: []string{"cis"}, Brief: true})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetGroupId() == "" || resp.GetScanCount() != 1 || resp.GetFailedCount() != 0 || len(resp.GetScans()) != 0 {
		t.Fatalf("brief answer: group %q, %d scans counted, %d failed, %d listed; want a group, 1, 0 and 0",
			resp.GetGroupId(), resp.GetScanCount(), resp.GetFailedCount(), len(resp.GetScans()))
	}
	list, err := h.api.ListScans(ctx, &consolev1.ListScansRequest{Node: s.nodeID})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetScans()) != 1 || list.GetScans()[0].GetGroupId() != resp.GetGroupId() {
		t.Fatalf("ListScans found %d scans for the node, want the one of group %s", len(list.GetScans()), resp.GetGroupId())
	}
	if sc := h.waitScan(list.GetScans()[0].GetId(), 30*time.Second); sc.GetState() != sensorv1.ScanState_SCAN_STATE_COMPLETE {
		t.Fatalf("scan ended %s: %s", sc.GetState(), sc.GetMessage())
	}
}
