package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/palisadehq/palisade/pkg/engine/enginetest"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// BenchmarkStartToFirstResult measures the time from StartScan to the first result stored,
// through NATS push dispatch, a real sensor and the gRPC result stream, on loopback.
func BenchmarkStartToFirstResult(b *testing.B) {
	h := startConsole(b, consoleOptions{})
	s := h.startSensor(sensorOptions{root: enginetest.Root(b, "debian-bad"), hostname: "bench"})
	ctx := context.Background()
	var total time.Duration
	var worst time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		resp, err := h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{s.nodeID}, Benchmarks: []string{"cis"}})
		if err != nil {
			b.Fatal(err)
		}
		id := resp.GetScans()[0].GetId()
		for {
			sc, err := h.api.GetScan(ctx, &consolev1.GetScanRequest{ScanId: id})
			if err != nil {
				b.Fatal(err)
			}
			if sc.GetResultsStored() > 0 {
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatalf("no result 10s after start (state %s)", sc.GetState())
			}
			time.Sleep(time.Millisecond)
		}
		d := time.Since(start)
		total += d
		worst = max(worst, d)
		h.waitScan(id, 30*time.Second)
	}
	b.StopTimer()
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/first-result")
	b.ReportMetric(float64(worst.Milliseconds()), "ms-worst")
}
