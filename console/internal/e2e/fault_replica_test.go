package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/palisadehq/palisade/pkg/engine/enginetest"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// failOver takes replica A away from its sensors once, right after A committed batch seq and
// before the acknowledgement leaves: the proxy in front of the replicas is pointed at replica B
// and every connection through it is cut, so the sensor's next connection reaches B.
type failOver struct {
	seq   uint64
	proxy *faultProxy
	// next is the address of the replica that takes over.
	next  string
	once  sync.Once
	fired chan struct{}
}

type failOverStream struct {
	grpc.ServerStream
	f *failOver
}

func (s failOverStream) SendMsg(m any) error {
	if ack, ok := m.(*sensorv1.BatchAck); ok && ack.GetSeq() == s.f.seq {
		now := false
		s.f.once.Do(func() { now = true })
		if now {
			s.f.proxy.retarget(s.f.next)
			s.f.proxy.cut()
			close(s.f.fired)
			<-s.Context().Done() // the acknowledgement never leaves: the replica is gone
			return s.Context().Err()
		}
	}
	return s.ServerStream.SendMsg(m)
}

func (f *failOver) interceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !strings.HasSuffix(info.FullMethod, "/StreamResults") {
		return handler(srv, ss)
	}
	return handler(srv, failOverStream{ServerStream: ss, f: f})
}

// TestFaultReplicaKilledMidStream runs two console replicas on one PostgreSQL database and one
// external NATS server, with a sensor reaching them through one address (a proxy, as a load
// balancer would be). Replica A dispatches the scan and stores the first batches; right after
// committing batch 3, before acknowledging it, it is cut off from the sensor (every connection
// through the proxy closed, new ones sent to B) and stopped. The sensor reconnects to replica B
// and resends from the first batch it has no acknowledgement of (batch 3, or an earlier one
// whose acknowledgement was cut off too): B recognises those as stored, stores the rest, completes the scan,
// and every result is stored exactly once with the exact scores.
func TestFaultReplicaKilledMidStream(t *testing.T) {
	dbURL := postgresSchema(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	ca := sharedCA(t, dirA, dirB)
	bus := startNATS(t, ca, 1)

	proxy := newFaultProxy(t, "", nil)
	fo := &failOver{seq: 3, proxy: proxy, fired: make(chan struct{})}
	replica := func(dir, id string, opts ...grpc.ServerOption) *harness {
		return startConsole(t, consoleOptions{
			databaseURL: dbURL, dataDir: dir, natsURL: bus.urls(), natsTLS: true, replicaID: id,
			batchSize: faultBatchSize, grpcOptions: opts,
		})
	}
	a := replica(dirA, "replica-a", grpc.ChainStreamInterceptor(fo.interceptor))
	b := replica(dirB, "replica-b")
	proxy.retarget(a.info.GRPCAddr)
	fo.next = b.info.GRPCAddr

	root := enginetest.Root(t, "debian-bad")
	s := a.startSensor(sensorOptions{root: root, hostname: "bad-host", dialer: proxy.dial})
	resp, err := a.api.StartScan(context.Background(), &consolev1.StartScanRequest{Nodes: []string{s.nodeID}, Benchmarks: []string{"cis", "nist"}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetScans()[0].GetId()
	await(t, fo.fired, 30*time.Second, "replica A to commit batch 3")
	a.stop()

	sc := b.waitScan(id, 30*time.Second)
	total := checkExactScan(t, b, sc, root)
	// A stored batches 1 to 3; B got batch 3 again (a duplicate, stored nothing) and stored
	// the rest. The acknowledgements of batches 1 and 2 may still have been on their way when
	// the connections were cut (A writes them asynchronously), so the sensor resends 1 to 3
	// of the batches A stored; each is a duplicate.
	dup := int(metric(t, b, `palisade_result_batches_total{outcome="duplicate"}`))
	if dup < 1 || dup > 3 {
		t.Errorf("duplicate batches = %d; want 1 to 3 (batch 3, and 1 and 2 if their acknowledgements were lost)", dup)
	}
	checkBatchMetrics(t, b, batchesOf(total)-3, dup)
}
