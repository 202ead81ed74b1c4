package scans

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// recordingDispatcher is a fake bus that records what it was asked to send.
type recordingDispatcher struct {
	jobs     []*sensorv1.Job
	commands []string
}

func (d *recordingDispatcher) PublishJob(_ context.Context, j *sensorv1.Job) error {
	d.jobs = append(d.jobs, j)
	return nil
}
func (d *recordingDispatcher) PublishCommand(_ context.Context, node string, c *sensorv1.Command) error {
	d.commands = append(d.commands, node+"/"+c.GetScanId())
	return nil
}

func TestOneReplicaSweeps(t *testing.T) {
	ctx := context.Background()
	st, cat := openStore(t)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	d := &recordingDispatcher{}
	mk := func(id string) *Manager {
		m, err := New(Config{Store: st, Catalog: cat, Dispatcher: d, Now: clock, ReplicaID: id, JobExpiry: time.Minute, SweepInterval: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := mk("replica-a"), mk("replica-b")
	if err := st.EnrolNode(ctx, nil, store.Node{ID: "n1", Name: "n1", TargetType: posture.Linux, EnrolledAt: now}, now); err == nil {
		t.Fatal("enrolment without a token succeeded")
	}
	tokHash := []byte("0123456789abcdef0123456789abcdef")
	if err := st.CreateEnrolToken(ctx, store.EnrolToken{ID: "t", Hash: tokHash, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Uses: 1}); err != nil {
		t.Fatal(err)
	}
	if err := st.EnrolNode(ctx, tokHash, store.Node{ID: "n1", Name: "n1", TargetType: posture.Linux, EnrolledAt: now, LastSeenAt: now}, now); err != nil {
		t.Fatal(err)
	}
	_, started, err := a.Start(ctx, StartRequest{Nodes: []string{"n1"}, Benchmarks: []string{"cis"}, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.jobs) != 1 || started[0].State != posture.Dispatched {
		t.Fatalf("dispatch: %d jobs, state %s", len(d.jobs), started[0].State)
	}

	now = now.Add(2 * time.Minute) // past the job expiry
	sweptA, err := a.SweepIfLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sweptB, err := b.SweepIfLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !sweptA || sweptB {
		t.Fatalf("swept: a=%v b=%v; want only a", sweptA, sweptB)
	}
	sc, err := st.GetScan(ctx, started[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if sc.State != posture.TimedOut || sc.Message != "the node did not take the job within 1m0s" {
		t.Fatalf("scan %s (%q); want timed_out", sc.State, sc.Message)
	}
	if len(d.commands) != 1 || d.commands[0] != "n1/"+sc.ID {
		t.Fatalf("stop commands %v", d.commands)
	}
	// When a's lease lapses (a replica died), b takes over.
	now = now.Add(4 * time.Second)
	if sweptB, err = b.SweepIfLeader(ctx); err != nil || !sweptB {
		t.Fatalf("b after a's lease lapsed: %v, %v", sweptB, err)
	}
}

func TestRetentionKeepsLatest(t *testing.T) {
	ctx := context.Background()
	st, cat := openStore(t)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	m, err := New(Config{Store: st, Catalog: cat, Dispatcher: &recordingDispatcher{}, Now: func() time.Time { return now }, RetainScans: 2, ReplicaID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	tokHash := []byte("0123456789abcdef0123456789abcdef")
	if err := st.CreateEnrolToken(ctx, store.EnrolToken{ID: "t", Hash: tokHash, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Uses: 1}); err != nil {
		t.Fatal(err)
	}
	if err := st.EnrolNode(ctx, tokHash, store.Node{ID: "n1", Name: "n1", TargetType: posture.Linux, EnrolledAt: now, LastSeenAt: now}, now); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 4; i++ {
		now = now.Add(time.Minute)
		_, started, err := m.Start(ctx, StartRequest{Nodes: []string{"n1"}, Benchmarks: []string{"cis"}, Actor: "test"})
		if err != nil {
			t.Fatal(err)
		}
		id := started[0].ID
		ids = append(ids, id)
		if _, err := m.Stop(ctx, id, "test"); err != nil {
			t.Fatal(err)
		}
	}
	n, err := m.PruneIfLeader(ctx)
	if err != nil || n != 2 {
		t.Fatalf("PruneIfLeader = %d, %v; want 2", n, err)
	}
	page, err := st.ListScans(ctx, store.ScanFilter{NodeID: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Scans) != 2 || page.Scans[0].ID != ids[3] || page.Scans[1].ID != ids[2] {
		t.Fatalf("scans left %+v; want the two newest", page.Scans)
	}
}

func TestRescoreSkipsScansNotComplete(t *testing.T) {
	ctx := context.Background()
	st, cat := openStore(t)
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	m, err := New(Config{Store: st, Catalog: cat, Dispatcher: &recordingDispatcher{}, Now: func() time.Time { return now }, ReplicaID: "r"})
	if err != nil {
		t.Fatal(err)
	}
	tokHash := []byte("0123456789abcdef0123456789abcdef")
	if err := st.CreateEnrolToken(ctx, store.EnrolToken{ID: "t", Hash: tokHash, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Uses: 1}); err != nil {
		t.Fatal(err)
	}
	if err := st.EnrolNode(ctx, tokHash, store.Node{ID: "n1", Name: "n1", TargetType: posture.Linux, EnrolledAt: now, LastSeenAt: now}, now); err != nil {
		t.Fatal(err)
	}
	_, started, err := m.Start(ctx, StartRequest{Nodes: []string{"n1"}, Benchmarks: []string{"cis"}, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	// A dispatched scan and a scan that is gone (pruned) are left alone.
	if err := m.Rescore(ctx, []string{started[0].ID, "scn_gone", started[0].ID}); err != nil {
		t.Fatal(err)
	}
	scores, err := st.Scores(ctx, started[0].ID)
	if err != nil || len(scores) != 0 {
		t.Fatalf("scores of a dispatched scan after Rescore: %v, %v; want none", scores, err)
	}
}

// TestIngestBatchesKeepTheirResults: batches ingested one after another (the second reusing the
// first's buffers) each store exactly their own results and evidence, with the limits applied.
func TestIngestBatchesKeepTheirResults(t *testing.T) {
	m, st, _ := startFixture(t, &bulkDispatcher{})
	ctx := context.Background()
	id := startOnN1(t, m)
	if _, err := m.Update(ctx, "n1", &sensorv1.UpdateScanRequest{ScanId: id, State: sensorv1.ScanState_SCAN_STATE_RUNNING}); err != nil {
		t.Fatal(err)
	}
	ctls, err := st.ScanControls(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for cid := range ctls {
		ids = append(ids, cid)
	}
	slices.Sort(ids)
	ev := func(key string, n int) []*sensorv1.Evidence {
		var out []*sensorv1.Evidence
		for i := range n {
			out = append(out, &sensorv1.Evidence{Source: "/etc/" + key, Line: uint32(i + 1), Key: key, Actual: strings.Repeat("a", 5000), Expected: key})
		}
		return out
	}
	batches := []*sensorv1.ResultBatch{
		{ScanId: id, Seq: 1, Results: []*sensorv1.Result{
			{ControlId: ids[0], Resource: " /etc/one ", Status: sensorv1.Status_STATUS_FAIL, Reason: "first", Evidence: ev("one", 3)},
			{ControlId: ids[1], Resource: "/etc/two", Status: sensorv1.Status_STATUS_PASS, Reason: "second"},
		}},
		{ScanId: id, Seq: 2, Results: []*sensorv1.Result{
			{ControlId: ids[2], Resource: "/etc/three", Status: sensorv1.Status_STATUS_PASS, Reason: "third", Evidence: ev("three", 1)},
		}, Final: true, TotalResults: 3},
	}
	for _, b := range batches {
		ack, err := m.Ingest(ctx, "n1", b)
		if err != nil || ack.GetError() != "" {
			t.Fatalf("batch %d: %v, %q", b.GetSeq(), err, ack.GetError())
		}
	}
	page, err := st.ListResults(ctx, store.ResultFilter{ScanID: id})
	if err != nil {
		t.Fatal(err)
	}
	wantEv := func(key string, n int) []store.Evidence {
		var out []store.Evidence
		for i := range n {
			out = append(out, store.Evidence{Source: "/etc/" + key, Line: i + 1, Key: key, Actual: strings.Repeat("a", maxEvidenceField), Expected: key})
		}
		return out
	}
	want := []store.Result{
		{ScanID: id, NodeID: "n1", ControlID: ids[0], Resource: "/etc/one", Status: posture.Fail, Reason: "first", Evidence: wantEv("one", 3)},
		{ScanID: id, NodeID: "n1", ControlID: ids[1], Resource: "/etc/two", Status: posture.Pass, Reason: "second"},
		{ScanID: id, NodeID: "n1", ControlID: ids[2], Resource: "/etc/three", Status: posture.Pass, Reason: "third", Evidence: wantEv("three", 1)},
	}
	for i := range want {
		c := ctls[want[i].ControlID]
		want[i].Severity, want[i].Service, want[i].Title = c.Severity, c.Service, c.Title
	}
	if !reflect.DeepEqual(page.Results, want) {
		t.Errorf("stored\n%+v\nwant\n%+v", page.Results, want)
	}
}
