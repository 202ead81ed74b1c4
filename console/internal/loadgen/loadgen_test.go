package loadgen

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/palisadehq/palisade/console/internal/cli"
	"github.com/palisadehq/palisade/console/internal/server"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// startConsole runs a console in-process on random ports and returns its address and an
// admin API client.
func startConsole(t *testing.T) (string, consolev1.ConsoleServiceClient) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan server.Info, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- server.Run(ctx, server.Config{
			DataDir: dir, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0",
			Logger: zap.NewNop(), OnReady: func(i server.Info) { ready <- i },
		})
	}()
	var info server.Info
	select {
	case info = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("console did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("console did not start within 30s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("console: %v", err)
		}
	})
	conn, err := cli.Dial(context.Background(), cli.ConnOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return info.GRPCAddr, consolev1.NewConsoleServiceClient(conn)
}

func TestRunAgainstConsole(t *testing.T) {
	addr, api := startConsole(t)
	ctx := context.Background()
	// Small on purpose: the console dispatches a scan node by node, which dominates the run time.
	const sensors, perScan, rounds = 10, 30, 2
	tok, err := api.CreateEnrolmentToken(ctx, &consolev1.CreateEnrolmentTokenRequest{Uses: sensors, TtlSeconds: 600})
	if err != nil {
		t.Fatal(err)
	}
	stateDir := t.TempDir()
	cfg := Config{
		Console: addr, Token: tok.GetToken(), Sensors: sensors, StateDir: stateDir, ConnectRate: 500,
		ControlsPerScan: perScan, FailureRatio: 0.25, BatchSize: 7, API: api, Scans: rounds,
		Benchmarks: []string{"cis"}, ScanTimeout: 30 * time.Second, ScanTime: 300 * time.Millisecond,
	}
	ran := time.Now()
	sum, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v (errors: %v)", err, sum.ErrorSamples)
	}
	finished := time.Now()
	want := Progress{Enrolled: sensors, Connected: sensors, JobsReceived: sensors * rounds, JobsDone: sensors * rounds, ResultsAcked: sensors * rounds * perScan}
	got := sum.Progress
	got.Elapsed, got.ResultsFail = 0, 0
	if got != want {
		t.Errorf("progress = %+v, want %+v (errors: %v)", got, want, sum.ErrorSamples)
	}
	t.Logf("connected %d sensors in %s", sum.Connected, sum.ConnectTime)
	for _, r := range sum.Rounds {
		t.Logf("round %s: StartScan %s, all jobs %s, all done %s", r.GroupID, r.StartCall, r.AllJobsReceived, r.AllDone)
	}
	if len(sum.Rounds) != rounds {
		t.Fatalf("%d rounds, want %d", len(sum.Rounds), rounds)
	}

	// The console stored exactly what the fleet sent, and every scan completed.
	var fails uint64
	for _, r := range sum.Rounds {
		if r.Scans != sensors || len(r.ScanIDs) != sensors || r.Results != sensors*perScan {
			t.Errorf("round %s: %d scans started, %d received and %d results, want %d, %d and %d", r.GroupID, r.Scans, len(r.ScanIDs), r.Results, sensors, sensors, sensors*perScan)
		}
		if called := time.Unix(0, r.CalledAtUnixNano); called.Before(ran) || called.After(finished) {
			t.Errorf("round %s: StartScan called at %s, outside the run (%s to %s)", r.GroupID, called, ran, finished)
		}
		// Each node evaluates for ScanTime after taking its job before any result goes out.
		if r.AllJobsReceived <= 0 || r.AllDone < r.AllJobsReceived+cfg.ScanTime {
			t.Errorf("round %s: all jobs received after %s, all done after %s, want done at least %s after the last job", r.GroupID, r.AllJobsReceived, r.AllDone, cfg.ScanTime)
		}
		for _, id := range r.ScanIDs {
			sc, err := api.GetScan(ctx, &consolev1.GetScanRequest{ScanId: id})
			if err != nil {
				t.Fatal(err)
			}
			if sc.GetGroupId() != r.GroupID {
				t.Errorf("scan %s of round %s belongs to group %s", id, r.GroupID, sc.GetGroupId())
			}
			if sc.GetState() != sensorv1.ScanState_SCAN_STATE_COMPLETE || sc.GetResultsStored() != perScan {
				t.Errorf("scan %s: %s with %d results, want complete with %d", id, sc.GetState(), sc.GetResultsStored(), perScan)
			}
			res, err := api.ListResults(ctx, &consolev1.ListResultsRequest{ScanId: id, Statuses: []sensorv1.Status{sensorv1.Status_STATUS_FAIL}, PageSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			fails += res.GetTotal()
		}
	}
	if fails != uint64(sum.ResultsFail) || fails == 0 {
		t.Errorf("console stored %d fail results, the fleet sent %d (want equal and above 0)", fails, sum.ResultsFail)
	}

	// A second run reuses the identities: no enrolment, no token, the same nodes. Without
	// API it serves jobs until its context ends, here once every node is connected.
	againCtx, stop := context.WithCancel(ctx)
	defer stop()
	cfg.Token, cfg.API, cfg.ProgressInterval = "", nil, 10*time.Millisecond
	cfg.Progress = func(p Progress) {
		if p.Connected == sensors {
			stop()
		}
	}
	again, err := Run(againCtx, cfg)
	if err != nil {
		t.Fatalf("second Run: %v (errors: %v)", err, again.ErrorSamples)
	}
	if again.Enrolled != 0 || again.Reused != sensors || again.Connected != sensors || again.Errors != 0 {
		t.Errorf("second run = %+v, want 0 enrolled, %d reused and connected, no errors (errors: %v)", again.Progress, sensors, again.ErrorSamples)
	}
	first, second := append([]string(nil), sum.NodeIDs...), append([]string(nil), again.NodeIDs...)
	sort.Strings(first)
	sort.Strings(second)
	if len(first) != sensors || len(second) != sensors {
		t.Fatalf("node ids: %d and %d, want %d", len(first), len(second), sensors)
	}
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("second run used node %s, first run %s", second[i], first[i])
		}
	}
	nodes, err := api.ListNodes(ctx, &consolev1.ListNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.GetNodes()) != sensors {
		t.Errorf("console has %d nodes, want %d", len(nodes.GetNodes()), sensors)
	}
}

func TestNewFleetRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no console", Config{Sensors: 1, StateDir: dir}, "the console's gRPC address is required (--console host:port)"},
		{"no sensors", Config{Console: "x:1", StateDir: dir}, "the number of sensors must be at least 1, got 0 (--sensors)"},
		{"no state", Config{Console: "x:1", Sensors: 1}, "a state directory is required to keep the simulated identities (--state-dir)"},
		{"bad ratio", Config{Console: "x:1", Sensors: 1, StateDir: dir, FailureRatio: 1.5}, "the failure ratio must be between 0 and 1, got 1.5 (--failure-ratio)"},
		{"negative", Config{Console: "x:1", Sensors: 1, StateDir: dir, BatchSize: -1}, "controls per scan, batch size, connect rate, duration, scan time and scans must not be negative"},
		{"negative scan time", Config{Console: "x:1", Sensors: 1, StateDir: dir, ScanTime: -time.Second}, "controls per scan, batch size, connect rate, duration, scan time and scans must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newFleet(tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Errorf("newFleet = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestPlanBatches(t *testing.T) {
	ids := []string{"c", "a", "b"} // taken in sorted order
	tests := []struct {
		name                  string
		total, size           int
		wantBatches           uint64
		wantSizes             []int
		wantKeys              []string // control/resource of every result, in order
		wantFinalTotalResults uint64
	}{
		{"one per control", 0, 500, 1, []int{3}, []string{"a/synthetic-0", "b/synthetic-0", "c/synthetic-0"}, 3},
		// Control by control, as a sensor reports them.
		{"more than controls", 7, 3, 3, []int{3, 3, 1},
			[]string{"a/synthetic-0", "a/synthetic-1", "a/synthetic-2", "b/synthetic-0", "b/synthetic-1", "b/synthetic-2", "c/synthetic-0"}, 7},
		{"exact multiple", 6, 3, 2, []int{3, 3},
			[]string{"a/synthetic-0", "a/synthetic-1", "b/synthetic-0", "b/synthetic-1", "c/synthetic-0", "c/synthetic-1"}, 6},
		{"fewer than controls", 2, 500, 1, []int{2}, []string{"a/synthetic-0", "b/synthetic-0"}, 2},
		// Resource numbers are zero-padded, so that they sort as they are sent.
		{"padded", 33, 40, 1, []int{33},
			[]string{"a/synthetic-00", "a/synthetic-01", "a/synthetic-02", "a/synthetic-03", "a/synthetic-04", "a/synthetic-05",
				"a/synthetic-06", "a/synthetic-07", "a/synthetic-08", "a/synthetic-09", "a/synthetic-10",
				"b/synthetic-00", "b/synthetic-01", "b/synthetic-02", "b/synthetic-03", "b/synthetic-04", "b/synthetic-05",
				"b/synthetic-06", "b/synthetic-07", "b/synthetic-08", "b/synthetic-09", "b/synthetic-10",
				"c/synthetic-00", "c/synthetic-01", "c/synthetic-02", "c/synthetic-03", "c/synthetic-04", "c/synthetic-05",
				"c/synthetic-06", "c/synthetic-07", "c/synthetic-08", "c/synthetic-09", "c/synthetic-10"}, 33},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPlan(&sensorv1.Job{ScanId: "scn_1"}, ids, Config{ControlsPerScan: tt.total, BatchSize: tt.size})
			if p.batches != tt.wantBatches {
				t.Fatalf("batches = %d, want %d", p.batches, tt.wantBatches)
			}
			var all []*sensorv1.Result
			for seq := uint64(1); seq <= p.batches; seq++ {
				b, fails := planBatch(t, p, seq)
				if fails != 0 {
					t.Errorf("batch %d: %d fails with failure ratio 0", seq, fails)
				}
				if len(b.GetResults()) != tt.wantSizes[seq-1] {
					t.Errorf("batch %d has %d results, want %d", seq, len(b.GetResults()), tt.wantSizes[seq-1])
				}
				if b.GetFinal() != (seq == p.batches) {
					t.Errorf("batch %d final = %v", seq, b.GetFinal())
				}
				if b.GetFinal() && b.GetTotalResults() != tt.wantFinalTotalResults {
					t.Errorf("final batch total = %d, want %d", b.GetTotalResults(), tt.wantFinalTotalResults)
				}
				all = append(all, b.GetResults()...)
			}
			var keys []string
			for _, r := range all {
				keys = append(keys, r.GetControlId()+"/"+r.GetResource())
			}
			if !slices.Equal(keys, tt.wantKeys) {
				t.Errorf("results %v, want %v", keys, tt.wantKeys)
			}
		})
	}
}

// planBatch encodes batch seq of p and decodes it, checking the counts batch returns against
// what it encoded.
func planBatch(t *testing.T, p plan, seq uint64) (*sensorv1.ResultBatch, int) {
	t.Helper()
	data, results, fails := p.batch([]byte("kept"), seq)
	if string(data[:4]) != "kept" {
		t.Fatalf("batch did not append to dst")
	}
	b := &sensorv1.ResultBatch{}
	if err := proto.Unmarshal(data[4:], b); err != nil {
		t.Fatalf("batch %d does not decode: %v", seq, err)
	}
	n := 0
	for _, r := range b.GetResults() {
		if r.GetStatus() == sensorv1.Status_STATUS_FAIL {
			n++
		}
	}
	if len(b.GetResults()) != results || n != fails {
		t.Fatalf("batch %d: %d results, %d fail; batch said %d and %d", seq, len(b.GetResults()), n, results, fails)
	}
	return b, fails
}

// TestPlanResults: the synthetic results of a batch, passing and failing, field by field.
func TestPlanResults(t *testing.T) {
	ids := []string{"linux.a", "linux.b"}
	for _, tt := range []struct {
		ratio float64
		want  *sensorv1.ResultBatch
	}{
		{0, &sensorv1.ResultBatch{ScanId: "scn_3", Seq: 1, Final: true, TotalResults: 12, Results: []*sensorv1.Result{{
			ControlId: "linux.b", Resource: "synthetic-5", Status: sensorv1.Status_STATUS_PASS, Reason: passReason,
			Evidence: []*sensorv1.Evidence{{Source: "/etc/ssh/sshd_config", Line: 32, Key: "PermitRootLogin", Actual: "no", Expected: "no"}},
		}}}},
		{1, &sensorv1.ResultBatch{ScanId: "scn_3", Seq: 1, Final: true, TotalResults: 12, Results: []*sensorv1.Result{{
			ControlId: "linux.b", Resource: "synthetic-5", Status: sensorv1.Status_STATUS_FAIL, Reason: failReason,
			Evidence: []*sensorv1.Evidence{{Source: "/etc/ssh/sshd_config", Line: 32, Key: "PermitRootLogin", Actual: "yes", Expected: "no"}},
		}}}},
	} {
		p := newPlan(&sensorv1.Job{ScanId: "scn_3"}, ids, Config{ControlsPerScan: 12, BatchSize: 12, FailureRatio: tt.ratio})
		b, _ := planBatch(t, p, 1)
		if len(b.GetResults()) != 12 {
			t.Fatalf("%d results, want 12", len(b.GetResults()))
		}
		b.Results = b.Results[11:] // the last: control b, the sixth resource
		if !proto.Equal(b, tt.want) {
			t.Errorf("failure ratio %v: got\n%v\nwant\n%v", tt.ratio, b, tt.want)
		}
	}
}

func TestPlanFailuresAreRepeatable(t *testing.T) {
	p := newPlan(&sensorv1.Job{ScanId: "scn_2"}, []string{"a"}, Config{ControlsPerScan: 1000, BatchSize: 1000, FailureRatio: 0.3})
	b1, f1 := planBatch(t, p, 1)
	b2, f2 := planBatch(t, p, 1)
	if f1 != f2 || f1 < 200 || f1 > 400 {
		t.Fatalf("fails = %d and %d, want the same number near 300", f1, f2)
	}
	for i := range b1.GetResults() {
		if b1.GetResults()[i].GetStatus() != b2.GetResults()[i].GetStatus() {
			t.Fatalf("result %d differs between two builds of the same batch", i)
		}
	}
}

func TestParseStatusField(t *testing.T) {
	data := []byte("Name:\tx\nVmHWM:\t  123 kB\nVmRSS:\t   45 kB\nThreads:\t7\n")
	tests := []struct {
		field string
		want  int64
	}{
		{"VmHWM", 123 * 1024},
		{"VmRSS", 45 * 1024},
		{"Threads", 7},
		{"VmSwap", 0},
	}
	for _, tt := range tests {
		if got := parseStatusField(data, tt.field); got != tt.want {
			t.Errorf("%s = %d, want %d", tt.field, got, tt.want)
		}
	}
}
