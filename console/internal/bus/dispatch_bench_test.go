package bus

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/palisadehq/palisade/pkg/jobs"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// BenchmarkDispatchToSubscribedNodes measures the job bus alone at fleet size: the embedded
// server, every node (PALISADE_BENCH_NODES, default 10,000) subscribed to its job subject and
// having its job settled as the console does when the node reports running. Each iteration publishes one job per node and waits until every node has
// its job, then until every job is settled, so the next iteration starts from a settled stream
// as a scan started later would. It reports the time to publish all jobs (acknowledged by
// JetStream), until the last node received its job, and until all were settled.
func BenchmarkDispatchToSubscribedNodes(b *testing.B) {
	n := 10_000
	if v := os.Getenv("PALISADE_BENCH_NODES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("PALISADE_BENCH_NODES=%q is not a positive number", v)
		}
	}
	ctx := context.Background()
	bs, err := Start(ctx, Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Authority: newAuthority(b), Logger: zap.NewNop()})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%d", i)
	}

	var got atomic.Int64
	all := make(chan struct{}, 1)
	for _, id := range nodes {
		sub, err := jobs.Subscribe(ctx, bs.Conn(), id, func(job *sensorv1.Job) {
			bs.Settle(job.GetNodeId(), job.GetScanId())
			if got.Add(1) == int64(n) {
				all <- struct{}{}
			}
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
	}
	st, err := bs.js.Stream(ctx, jobs.StreamName)
	if err != nil {
		b.Fatal(err)
	}

	var publish, receive, settle time.Duration
	b.ResetTimer()
	for r := 0; r < b.N; r++ {
		b.StopTimer()
		got.Store(0)
		batch := make([]*sensorv1.Job, n)
		for i, id := range nodes {
			batch[i] = &sensorv1.Job{ScanId: fmt.Sprintf("scan-%d-%d", r, i), NodeId: id}
		}
		b.StartTimer()
		start := time.Now()
		for i, err := range bs.PublishJobs(ctx, batch) {
			if err != nil {
				b.Fatalf("job %d: %v", i, err)
			}
		}
		published := time.Since(start)
		<-all
		received := time.Since(start)
		for {
			info, err := st.Info(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if info.State.Msgs == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		publish += published
		receive += received
		settle += time.Since(start)
	}
	b.ReportMetric(publish.Seconds()/float64(b.N), "s-published")
	b.ReportMetric(receive.Seconds()/float64(b.N), "s-all-received")
	b.ReportMetric(settle.Seconds()/float64(b.N), "s-all-settled")
	b.ReportMetric(float64(n), "nodes")
}
