package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"github.com/palisadehq/palisade/pkg/engine/enginetest"
	"github.com/palisadehq/palisade/pkg/jobs"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// runningReports counts, per scan, the sensor's reports that it started the scan: more than
// one would mean a job was delivered and run twice.
type runningReports struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *runningReports) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if u, ok := req.(*sensorv1.UpdateScanRequest); ok && strings.HasSuffix(info.FullMethod, "/UpdateScan") && u.GetState() == sensorv1.ScanState_SCAN_STATE_RUNNING {
		r.mu.Lock()
		r.n[u.GetScanId()]++
		r.mu.Unlock()
	}
	return handler(ctx, req)
}

func (r *runningReports) count(scanID string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[scanID]
}

// makeStreamLeader steps the jobs stream's leader down until server name leads it.
func makeStreamLeader(t *testing.T, js jetstream.JetStream, nc *nats.Conn, name string) {
	t.Helper()
	ctx := context.Background()
	leader := func() string {
		st, err := js.Stream(ctx, jobs.StreamName)
		if err != nil {
			return ""
		}
		info, err := st.Info(ctx)
		if err != nil || info.Cluster == nil {
			return ""
		}
		return info.Cluster.Leader
	}
	for attempt := 0; ; attempt++ {
		var cur string
		waitUntil(t, 30*time.Second, "the "+jobs.StreamName+" stream to have a leader", func() bool { cur = leader(); return cur != "" })
		if cur == name {
			return
		}
		if attempt == 20 {
			t.Fatalf("%s did not become the leader of the %s stream in 20 step-downs (leader %s)", name, jobs.StreamName, cur)
		}
		if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN."+jobs.StreamName, nil, 5*time.Second); err != nil {
			t.Fatalf("step the %s stream leader down: %v", jobs.StreamName, err)
		}
		waitUntil(t, 30*time.Second, "a new stream leader", func() bool { l := leader(); return l != "" && l != cur })
	}
}

// TestFaultNATSServerKilledMidScan runs the console on an external three-server JetStream
// cluster. The sensor is connected to the server that leads the jobs stream; that server is
// killed while the sensor is streaming a scan's results. The scan completes with every result
// stored once, the sensor moves to a surviving server, a scan started after the loss is
// dispatched through the remaining two and completes too, each job ran once and none is left
// in the stream.
func TestFaultNATSServerKilledMidScan(t *testing.T) {
	dir := t.TempDir()
	ca := sharedCA(t, dir)
	cluster := startNATS(t, ca, 3)
	victim := cluster.servers[0]

	pause := newPauseAt(3)
	reports := &runningReports{n: map[string]int{}}
	h := startConsole(t, consoleOptions{
		dataDir: dir, natsURL: cluster.urls(), natsTLS: true,
		// Sensors are told of the victim only, so that they connect to it first.
		natsAdvertise: []string{victim.ClientURL()},
		batchSize:     faultBatchSize,
		grpcOptions:   []grpc.ServerOption{grpc.ChainStreamInterceptor(pause.interceptor), grpc.ChainUnaryInterceptor(reports.interceptor)},
	})
	nc := cluster.connect(t, ca)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	checkReplicas(t, js, 3)
	makeStreamLeader(t, js, nc, victim.Name())

	root := enginetest.Root(t, "debian-bad")
	s := h.startSensor(sensorOptions{root: root, hostname: "bad-host"})
	waitUntil(t, 10*time.Second, "the sensor to connect to "+victim.Name(), func() bool { return cluster.serverOf(s.nodeID) == victim.Name() })

	ctx := context.Background()
	start := func() string {
		t.Helper()
		resp, err := h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{s.nodeID}, Benchmarks: []string{"cis", "nist"}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetScans()[0].GetId()
	}
	first := start()
	await(t, pause.reached, 30*time.Second, "the console to receive batch 3")
	victim.Shutdown()
	victim.WaitForShutdown()
	pause.resume()

	total := checkExactScan(t, h, h.waitScan(first, 30*time.Second), root)
	waitUntil(t, 30*time.Second, "the sensor to reconnect to a surviving server", func() bool {
		on := cluster.serverOf(s.nodeID)
		return on != "" && on != victim.Name()
	})
	second := start()
	checkExactScan(t, h, h.waitScan(second, 30*time.Second), root)

	for _, id := range []string{first, second} {
		if n := reports.count(id); n != 1 {
			t.Errorf("scan %s was reported running %d times; want once (its job ran once)", id, n)
		}
	}
	checkBatchMetrics(t, h, 2*batchesOf(total), 0)
	// Each scan was counted once in every state it went through.
	for _, state := range []string{"queued", "dispatched", "running", "complete"} {
		if got := metric(t, h, `palisade_scan_transitions_total{state="`+state+`"}`); got != 2 {
			t.Errorf("scans reaching %s = %v; want 2", state, got)
		}
	}
	// The node reported on both scans, so the console dropped both jobs from the stream.
	waitUntil(t, 30*time.Second, "the node's jobs to leave the stream", func() bool {
		st, err := js.Stream(ctx, jobs.StreamName)
		if err != nil {
			return false
		}
		subject := jobs.JobSubject(s.nodeID)
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
		return err == nil && info.State.Subjects[subject] == 0 && info.State.Msgs == 0
	})
}

// checkReplicas asserts the jobs stream's replication factor.
func checkReplicas(t *testing.T, js jetstream.JetStream, want int) {
	t.Helper()
	st, err := js.Stream(context.Background(), jobs.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != want {
		t.Fatalf("the %s stream has %d replicas; want %d", jobs.StreamName, info.Config.Replicas, want)
	}
}
