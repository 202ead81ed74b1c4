package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/engine"
	"github.com/palisadehq/palisade/pkg/engine/enginetest"
	"github.com/palisadehq/palisade/pkg/posture"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// expectedCounts evaluates the benchmarks on a root with the engine directly: what the console
// must arrive at through the whole pipeline.
func expectedCounts(t *testing.T, root string, benchmarks []string) (map[string]posture.Counts, int) {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	ctls, err := cat.ControlSet(benchmarks, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]posture.Counts{}
	total := 0
	if err := eng.Run(context.Background(), ctls, func(o engine.Outcome) {
		c := per[o.ControlID]
		for _, r := range o.Results {
			c.Add(r.Status)
			total++
		}
		per[o.ControlID] = c
	}); err != nil {
		t.Fatal(err)
	}
	out := map[string]posture.Counts{}
	for _, b := range benchmarks {
		bm, _ := cat.Benchmark(b)
		var c posture.Counts
		for _, id := range bm.ControlIDs() {
			c.Merge(per[id])
		}
		out[b] = c
	}
	return out, total
}

func scoreCounts(s *consolev1.Score) posture.Counts {
	return posture.Counts{Pass: int(s.GetPass()), Fail: int(s.GetFail()), Info: int(s.GetInfo()), Skip: int(s.GetSkip()), Error: int(s.GetError())}
}

func TestCombinedScanOfTwoSensors(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { combinedScan(t, consoleOptions{}) })
	t.Run("postgres", func(t *testing.T) { combinedScan(t, consoleOptions{databaseURL: postgresSchema(t)}) })
}

func combinedScan(t *testing.T, opts consoleOptions) {
	h := startConsole(t, opts)
	goodRoot := enginetest.Root(t, "debian-good")
	badRoot := enginetest.Root(t, "debian-bad")
	good := h.startSensor(sensorOptions{root: goodRoot, hostname: "good-host"})
	bad := h.startSensor(sensorOptions{root: badRoot, hostname: "bad-host"})

	ctx := context.Background()
	resp, err := h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{"good-host", bad.nodeID}, Benchmarks: []string{"cis", "nist"}})
	if err != nil {
		t.Fatalf("start scan: %v", err)
	}
	if len(resp.GetScans()) != 2 || resp.GetScanCount() != 2 || resp.GetFailedCount() != 0 {
		t.Fatalf("started %d scans (counted %d, %d failed); want 2 (2, 0)", len(resp.GetScans()), resp.GetScanCount(), resp.GetFailedCount())
	}
	benchmarks := []string{"linux-cis", "linux-nist"}
	summed := map[string]posture.Counts{}
	// The exact figures for the fixture roots; the engine run below must agree with them too.
	literal := map[string]map[string]struct {
		counts posture.Counts
		score  string
	}{
		"good-host": {"linux-cis": {posture.Counts{Pass: 324, Info: 5, Skip: 25}, "100.0%"}, "linux-nist": {posture.Counts{Pass: 316, Info: 30, Skip: 25}, "100.0%"}},
		"bad-host":  {"linux-cis": {posture.Counts{Pass: 17, Fail: 329, Info: 5, Skip: 24}, "6.3%"}, "linux-nist": {posture.Counts{Pass: 17, Fail: 321, Info: 30, Skip: 24}, "12.8%"}},
	}
	for _, started := range resp.GetScans() {
		if started.GetGroupId() != resp.GetGroupId() {
			t.Fatalf("scan %s group %s; want %s", started.GetId(), started.GetGroupId(), resp.GetGroupId())
		}
		root := goodRoot
		if started.GetNodeId() == bad.nodeID {
			root = badRoot
		} else if started.GetNodeId() != good.nodeID {
			t.Fatalf("scan for unexpected node %s", started.GetNodeId())
		}
		sc := h.waitScan(started.GetId(), 30*time.Second)
		if sc.GetState() != sensorv1.ScanState_SCAN_STATE_COMPLETE {
			t.Fatalf("scan %s ended %s: %s", sc.GetId(), sc.GetState(), sc.GetMessage())
		}
		want, total := expectedCounts(t, root, benchmarks)
		for b, c := range want {
			sc := summed[b]
			sc.Merge(c)
			summed[b] = sc
		}
		if sc.GetResultsStored() != uint64(total) {
			t.Fatalf("scan stored %d results; want %d", sc.GetResultsStored(), total)
		}
		if len(sc.GetScores()) != 2 {
			t.Fatalf("scan has %d scores; want 2", len(sc.GetScores()))
		}
		for _, s := range sc.GetScores() {
			got := scoreCounts(s)
			lit := literal[sc.GetNodeName()][s.GetBenchmarkId()]
			if got != lit.counts || got.FormatScore() != lit.score {
				t.Fatalf("node %s benchmark %s: counts %+v score %s; want %+v %s", sc.GetNodeName(), s.GetBenchmarkId(), got, got.FormatScore(), lit.counts, lit.score)
			}
			if got != want[s.GetBenchmarkId()] {
				t.Fatalf("node %s benchmark %s counts %+v; want %+v", sc.GetNodeName(), s.GetBenchmarkId(), got, want[s.GetBenchmarkId()])
			}
			wantScore, ok := want[s.GetBenchmarkId()].Score()
			if ok != (s.Score != nil) || (ok && s.GetScore() != wantScore) {
				t.Fatalf("node %s benchmark %s score %v; want %v (ok=%v)", sc.GetNodeName(), s.GetBenchmarkId(), s.Score, wantScore, ok)
			}
		}
	}
	checkSharedControlOnce(t, h, resp.GetScans())

	// The posture view sums the two nodes' counts per benchmark: a ratio of sums.
	p, err := h.api.GetPosture(ctx, &consolev1.GetPostureRequest{TargetType: "linux"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.GetTargets()) != 1 || p.GetTargets()[0].GetNodes() != 2 || p.GetTargets()[0].GetScannedNodes() != 2 {
		t.Fatalf("posture targets %v", p.GetTargets())
	}
	for _, s := range p.GetTargets()[0].GetScores() {
		if got := scoreCounts(s); got != summed[s.GetBenchmarkId()] {
			t.Fatalf("posture %s counts %+v; want %+v", s.GetBenchmarkId(), got, summed[s.GetBenchmarkId()])
		}
	}
}

// checkSharedControlOnce shows a control in both benchmarks evaluated once and counted in both.
func checkSharedControlOnce(t *testing.T, h *harness, scans []*consolev1.Scan) {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	cis, _ := cat.Benchmark("linux-cis")
	nist, _ := cat.Benchmark("linux-nist")
	inNIST := map[string]bool{}
	for _, id := range nist.ControlIDs() {
		inNIST[id] = true
	}
	shared := ""
	for _, id := range cis.ControlIDs() {
		if inNIST[id] {
			shared = id
			break
		}
	}
	if shared == "" {
		t.Fatal("no control is shared by linux-cis and linux-nist")
	}
	ctx := context.Background()
	for _, sc := range scans {
		all, err := h.api.ListResults(ctx, &consolev1.ListResultsRequest{ScanId: sc.GetId(), PageSize: 5000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, r := range all.GetResults() {
			seen[r.GetControlId()+"\x00"+r.GetResource()]++
			if seen[r.GetControlId()+"\x00"+r.GetResource()] > 1 {
				t.Fatalf("result %s/%s stored twice", r.GetControlId(), r.GetResource())
			}
		}
		var inCIS, inNISTn uint64
		for _, b := range []string{"linux-cis", "linux-nist"} {
			page, err := h.api.ListResults(ctx, &consolev1.ListResultsRequest{ScanId: sc.GetId(), Benchmark: b, PageSize: 5000})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.GetResults() {
				if r.GetControlId() == shared {
					if b == "linux-cis" {
						inCIS++
					} else {
						inNISTn++
					}
				}
			}
		}
		var stored uint64
		for _, r := range all.GetResults() {
			if r.GetControlId() == shared {
				stored++
			}
		}
		if stored == 0 || inCIS != stored || inNISTn != stored {
			t.Fatalf("shared control %s: %d results stored, %d under linux-cis, %d under linux-nist; want the same non-zero count in each", shared, stored, inCIS, inNISTn)
		}
	}
}

// dropOnce ends the first result stream right after the console committed batch `seq` and
// before its acknowledgement is sent, as if the connection dropped at that moment.
type dropOnce struct {
	seq  uint64
	mu   sync.Mutex
	done bool
}

type droppingStream struct {
	grpc.ServerStream
	d *dropOnce
}

func (s droppingStream) SendMsg(m any) error {
	if ack, ok := m.(*sensorv1.BatchAck); ok {
		s.d.mu.Lock()
		drop := !s.d.done && ack.GetSeq() == s.d.seq
		if drop {
			s.d.done = true
		}
		s.d.mu.Unlock()
		if drop {
			return status.Error(codes.Unavailable, "connection dropped by the test")
		}
	}
	return s.ServerStream.SendMsg(m)
}

func (d *dropOnce) interceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !strings.HasSuffix(info.FullMethod, "/StreamResults") {
		return handler(srv, ss)
	}
	return handler(srv, droppingStream{ServerStream: ss, d: d})
}

func TestDroppedStreamResendsAndStoresOnce(t *testing.T) {
	drop := &dropOnce{seq: 2}
	h := startConsole(t, consoleOptions{batchSize: 3, grpcOptions: []grpc.ServerOption{grpc.ChainStreamInterceptor(drop.interceptor)}})
	root := enginetest.Root(t, "debian-bad")
	s := h.startSensor(sensorOptions{root: root, hostname: "flaky"})
	resp, err := h.api.StartScan(context.Background(), &consolev1.StartScanRequest{Nodes: []string{s.nodeID}, Benchmarks: []string{"cis", "nist"}})
	if err != nil {
		t.Fatal(err)
	}
	sc := h.waitScan(resp.GetScans()[0].GetId(), 30*time.Second)
	if sc.GetState() != sensorv1.ScanState_SCAN_STATE_COMPLETE {
		t.Fatalf("scan ended %s: %s", sc.GetState(), sc.GetMessage())
	}
	drop.mu.Lock()
	dropped := drop.done
	drop.mu.Unlock()
	if !dropped {
		t.Fatal("the stream was never dropped")
	}
	_, total := expectedCounts(t, root, []string{"linux-cis", "linux-nist"})
	if sc.GetResultsStored() != uint64(total) {
		t.Fatalf("stored %d results; want exactly %d", sc.GetResultsStored(), total)
	}
	page, err := h.api.ListResults(context.Background(), &consolev1.ListResultsRequest{ScanId: sc.GetId(), PageSize: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if page.GetTotal() != uint64(total) || len(page.GetResults()) != total {
		t.Fatalf("listed %d (total %d) results; want %d", len(page.GetResults()), page.GetTotal(), total)
	}
	// Batch 2 was committed, its acknowledgement lost, and the sensor sent it again: the
	// console recognised it and stored nothing the second time.
	if got := metric(t, h, `palisade_result_batches_total{outcome="duplicate"}`); got != 1 {
		t.Fatalf("duplicate batches = %v; want 1", got)
	}
	batches := total/3 + 1 // the final batch carries the remainder, possibly nothing
	if got := metric(t, h, `palisade_result_batches_total{outcome="stored"}`); got != float64(batches) {
		t.Fatalf("stored batches = %v; want %d", got, batches)
	}
}

// metric reads one sample from the console's /metrics.
func metric(t *testing.T, h *harness, series string) float64 {
	t.Helper()
	_, body := httpGet(t, "http://"+h.info.HTTPAddr+"/metrics")
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+]+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// httpGet fetches url and returns the status code and the body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}
