package e2e

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/palisadehq/palisade/pkg/engine/enginetest"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// tcpProxy relays a sensor's TCP connections to the console and can cut them all at once.
type tcpProxy struct {
	target string
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

func (p *tcpProxy) dial(ctx context.Context, _ string) (net.Conn, error) {
	upstream, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.target)
	if err != nil {
		return nil, err
	}
	client, server := net.Pipe()
	p.mu.Lock()
	p.conns = append(p.conns, upstream, server)
	p.mu.Unlock()
	p.wg.Add(2)
	go func() { defer p.wg.Done(); _, _ = io.Copy(upstream, server); upstream.Close() }()
	go func() { defer p.wg.Done(); _, _ = io.Copy(server, upstream); server.Close() }()
	return client, nil
}

// cut closes every relayed connection, as a network failure would.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// cutBeforeAck cuts the sensor's TCP connections once, right after the console committed
// batch seq and before the acknowledgement leaves.
type cutBeforeAck struct {
	seq   uint64
	proxy *tcpProxy
	once  sync.Once
	fired chan struct{}
}

type cuttingStream struct {
	grpc.ServerStream
	c *cutBeforeAck
}

func (s cuttingStream) SendMsg(m any) error {
	if ack, ok := m.(*sensorv1.BatchAck); ok && ack.GetSeq() == s.c.seq {
		cutNow := false
		s.c.once.Do(func() { cutNow = true })
		if cutNow {
			s.c.proxy.cut()
			close(s.c.fired)
			<-s.Context().Done() // the ack never leaves: the connection is gone
			return s.Context().Err()
		}
	}
	return s.ServerStream.SendMsg(m)
}

func (c *cutBeforeAck) interceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !strings.HasSuffix(info.FullMethod, "/StreamResults") {
		return handler(srv, ss)
	}
	return handler(srv, cuttingStream{ServerStream: ss, c: c})
}

func TestTCPConnectionCutMidStream(t *testing.T) {
	proxy := &tcpProxy{}
	cut := &cutBeforeAck{seq: 3, proxy: proxy, fired: make(chan struct{})}
	h := startConsole(t, consoleOptions{batchSize: 4, grpcOptions: []grpc.ServerOption{grpc.ChainStreamInterceptor(cut.interceptor)}})
	proxy.target = h.info.GRPCAddr
	t.Cleanup(func() { proxy.cut(); proxy.wg.Wait() })
	root := enginetest.Root(t, "debian-bad")
	s := h.startSensor(sensorOptions{root: root, hostname: "cable-cut", dialer: proxy.dial})

	resp, err := h.api.StartScan(context.Background(), &consolev1.StartScanRequest{Nodes: []string{s.nodeID}, Benchmarks: []string{"cis", "nist"}})
	if err != nil {
		t.Fatal(err)
	}
	sc := h.waitScan(resp.GetScans()[0].GetId(), 30*time.Second)
	select {
	case <-cut.fired:
	default:
		t.Fatal("the connection was never cut")
	}
	if sc.GetState() != sensorv1.ScanState_SCAN_STATE_COMPLETE {
		t.Fatalf("scan ended %s: %s", sc.GetState(), sc.GetMessage())
	}
	_, total := expectedCounts(t, root, []string{"linux-cis", "linux-nist"})
	if sc.GetResultsStored() != uint64(total) {
		t.Fatalf("stored %d results; want exactly %d", sc.GetResultsStored(), total)
	}
	// Batch 3 and any batches pipelined behind it were committed but not acknowledged; the
	// sensor resent them all and the console stored none of them twice.
	if got := metric(t, h, `palisade_result_batches_total{outcome="duplicate"}`); got < 1 {
		t.Fatalf("duplicate batches = %v; want at least 1 (batch 3 resent after the cut)", got)
	}
	if got, want := metric(t, h, `palisade_result_batches_total{outcome="stored"}`), float64(total/4+1); got != want {
		t.Fatalf("stored batches = %v; want %v", got, want)
	}
}
