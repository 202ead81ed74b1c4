package e2e

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/palisadehq/palisade/console/internal/sensorapi"
	"github.com/palisadehq/palisade/pkg/engine/enginetest"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// pgOutageDuration is how long the database stays unreachable: about what a restart of a
// small PostgreSQL server takes.
const pgOutageDuration = 1500 * time.Millisecond

// pgRestart makes PostgreSQL "restart" in the middle of storing a result batch: once armed, the
// next COPY row data a console connection sends (only StoreBatch's transaction sends any) cuts
// every database connection and refuses new ones for pgOutageDuration.
type pgRestart struct {
	proxy    *faultProxy
	armSeq   uint64
	armOnce  sync.Once
	armed    atomic.Bool
	fired    chan struct{}
	restored chan struct{}
	// acksWhileDown counts batch acknowledgements sent while the database was unreachable:
	// there must be none, since nothing can be committed then.
	acksWhileDown atomic.Int32
	// streams counts the result streams the sensor opened.
	streams atomic.Int32
}

// seen is the proxy's hook for each message a console connection sends to PostgreSQL.
func (r *pgRestart) seen(typ byte) {
	if typ == pgCopyData && r.armed.CompareAndSwap(true, false) {
		r.proxy.outage(pgOutageDuration, r.restored)
		close(r.fired)
	}
}

type pgRestartStream struct {
	grpc.ServerStream
	r *pgRestart
}

// RecvMsg arms the restart when batch armSeq arrives, so that it strikes while that batch is
// being stored.
func (s pgRestartStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if b, ok := sensorapi.PeekBatch(m); ok && b.GetSeq() == s.r.armSeq {
		s.r.armOnce.Do(func() { s.r.armed.Store(true) })
	}
	return nil
}

func (s pgRestartStream) SendMsg(m any) error {
	if _, ok := m.(*sensorv1.BatchAck); ok && s.r.proxy.isDown() {
		s.r.acksWhileDown.Add(1)
	}
	return s.ServerStream.SendMsg(m)
}

func (r *pgRestart) interceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !strings.HasSuffix(info.FullMethod, "/StreamResults") {
		return handler(srv, ss)
	}
	r.streams.Add(1)
	return handler(srv, pgRestartStream{ServerStream: ss, r: r})
}

// TestFaultPostgresRestartDuringIngest cuts the console off PostgreSQL in the middle of the
// transaction storing batch 3 (while its rows are being copied) and refuses connections for
// 1.5 s, as a database restart would. The transaction is lost, batch 3 is not acknowledged,
// the sensor keeps resending it until the database is back, the connection pool reconnects,
// and the scan completes with every batch stored once, none twice, and the exact scores.
func TestFaultPostgresRestartDuringIngest(t *testing.T) {
	dbURL := postgresSchema(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	r := &pgRestart{armSeq: 3, fired: make(chan struct{}), restored: make(chan struct{})}
	r.proxy = newFaultProxy(t, u.Host, relayPostgresFrontend(r.seen))
	u.Host = r.proxy.addr()
	q := u.Query()
	q.Set("sslmode", "disable") // the proxy reads the protocol
	u.RawQuery = q.Encode()

	h := startConsole(t, consoleOptions{databaseURL: u.String(), batchSize: faultBatchSize,
		grpcOptions: []grpc.ServerOption{grpc.ChainStreamInterceptor(r.interceptor)}})
	root := enginetest.Root(t, "debian-bad")
	s := h.startSensor(sensorOptions{root: root, hostname: "bad-host"})
	resp, err := h.api.StartScan(context.Background(), &consolev1.StartScanRequest{Nodes: []string{s.nodeID}, Benchmarks: []string{"cis", "nist"}})
	if err != nil {
		t.Fatal(err)
	}
	await(t, r.fired, 30*time.Second, "the database to be cut off while storing batch 3")
	await(t, r.restored, 10*time.Second, "the database to come back")

	sc := h.waitScan(resp.GetScans()[0].GetId(), 30*time.Second)
	total := checkExactScan(t, h, sc, root)
	if n := r.acksWhileDown.Load(); n != 0 {
		t.Fatalf("%d batches were acknowledged while the database was unreachable", n)
	}
	if n := r.streams.Load(); n < 2 {
		t.Fatalf("the sensor opened %d result streams; want a new one after the cut", n)
	}
	// The interrupted transaction stored nothing, so batch 3 was stored on its resend and no
	// batch was ever seen twice.
	checkBatchMetrics(t, h, batchesOf(total), 0)
}
