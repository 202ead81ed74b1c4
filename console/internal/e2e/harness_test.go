package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/palisadehq/palisade/console/internal/server"
	"github.com/palisadehq/palisade/pkg/enrolment"
	"github.com/palisadehq/palisade/pkg/wire"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
	"github.com/palisadehq/palisade/sensor/agent"
)

// harness is a running console and an authenticated admin client.
type harness struct {
	t      testing.TB
	info   server.Info
	dir    string
	api    consolev1.ConsoleServiceClient
	caPool *x509.CertPool
	// stop cancels the console and waits for it to return; calling it again does nothing.
	// The test's cleanup calls it too.
	stop func()
}

type consoleOptions struct {
	databaseURL      string
	heartbeatTimeout time.Duration
	jobExpiry        time.Duration
	batchSize        int
	grpcOptions      []grpc.ServerOption
	// dataDir, when set, is used instead of a fresh temporary directory (replicas sharing a
	// CA are given directories holding the same pki/).
	dataDir string
	// natsURL, natsTLS and natsAdvertise point the console at an external NATS server.
	natsURL       string
	natsTLS       bool
	natsAdvertise []string
	replicaID     string
}

func startConsole(t testing.TB, opts consoleOptions) *harness {
	t.Helper()
	dir := opts.dataDir
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan server.Info, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- server.Run(ctx, server.Config{
			DataDir: dir, DatabaseURL: opts.databaseURL, GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0", DebugAddr: "127.0.0.1:0",
			NATSURL: opts.natsURL, NATSTLS: opts.natsTLS, NATSAdvertise: opts.natsAdvertise, ReplicaID: opts.replicaID,
			HeartbeatInterval: time.Second, HeartbeatTimeout: opts.heartbeatTimeout, JobExpiry: opts.jobExpiry,
			SweepInterval: 50 * time.Millisecond, BatchSize: opts.batchSize, GRPCOptions: opts.grpcOptions,
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
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("console: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	caPEM, err := os.ReadFile(filepath.Join(dir, "pki", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	conn, err := grpc.NewClient(info.GRPCAddr,
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})),
		grpc.WithPerRPCCredentials(bearer(info.CLIToken)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &harness{t: t, info: info, dir: dir, api: consolev1.NewConsoleServiceClient(conn), caPool: pool, stop: stop}
}

type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}
func (bearer) RequireTransportSecurity() bool { return true }

func (h *harness) token(uses uint32, ttl time.Duration) string {
	h.t.Helper()
	tok, err := h.api.CreateEnrolmentToken(context.Background(), &consolev1.CreateEnrolmentTokenRequest{Uses: uses, TtlSeconds: uint32(ttl / time.Second)})
	if err != nil {
		h.t.Fatalf("create enrolment token: %v", err)
	}
	return tok.GetToken()
}

// sensor is a real sensor agent running in-process.
type sensor struct {
	nodeID string
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// stop ends the sensor and waits for it; calling it again does nothing.
func (s *sensor) stop() {
	s.once.Do(func() {
		s.cancel()
		<-s.done
	})
}

type sensorOptions struct {
	root, hostname, stateDir, token string
	// dialer, when set, opens the sensor's gRPC connections (a proxy in fault tests).
	dialer func(ctx context.Context, addr string) (net.Conn, error)
}

func (h *harness) startSensor(opts sensorOptions) *sensor {
	h.t.Helper()
	if opts.stateDir == "" {
		opts.stateDir = h.t.TempDir()
	}
	if opts.token == "" {
		if _, err := enrolment.LoadState(opts.stateDir); err != nil {
			opts.token = h.token(1, time.Hour)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	enrolled := make(chan string, 1)
	s := &sensor{cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- agent.Run(ctx, agent.Config{
			Console: h.info.GRPCAddr, Token: opts.token, StateDir: opts.stateDir, HostRoot: opts.root,
			Hostname: opts.hostname, Version: "test", MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Dialer: opts.dialer,
			Logger: zap.NewNop(), OnEnrolled: func(id string) { enrolled <- id },
		})
	}()
	select {
	case s.nodeID = <-enrolled:
	case err := <-s.done:
		cancel()
		h.t.Fatalf("sensor stopped: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		h.t.Fatal("sensor did not enrol within 30s")
	}
	h.t.Cleanup(s.stop)
	// The sensor subscribes right after its hello; wait until the console has seen it.
	h.waitFor(10*time.Second, "node "+s.nodeID+" to say hello", func() (bool, error) {
		n, err := h.api.GetNode(context.Background(), &consolev1.GetNodeRequest{Node: s.nodeID})
		if err != nil {
			return false, err
		}
		return n.GetFacts().GetSensorVersion() == "test", nil
	})
	return s
}

// waitFor polls cond until it holds or the deadline passes.
func (h *harness) waitFor(d time.Duration, what string, cond func() (bool, error)) {
	h.t.Helper()
	deadline := time.Now().Add(d)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("timed out waiting for %s (last error: %v)", what, lastErr)
}

// waitScan polls a scan until it reaches a terminal state.
func (h *harness) waitScan(id string, d time.Duration) *consolev1.Scan {
	h.t.Helper()
	var sc *consolev1.Scan
	h.waitFor(d, "scan "+id+" to end", func() (bool, error) {
		var err error
		sc, err = h.api.GetScan(context.Background(), &consolev1.GetScanRequest{ScanId: id})
		if err != nil {
			return false, err
		}
		st, _ := wire.StateFromProto(sc.GetState())
		return st.Terminal(), nil
	})
	return sc
}

// rawNode is a hand-driven node: enrolled for real, then used to send arbitrary messages.
type rawNode struct {
	id     string
	client sensorv1.SensorServiceClient
}

func (h *harness) enrolRaw(token, hostname string) (*rawNode, error) {
	tok, err := enrolment.Parse(token)
	if err != nil {
		return nil, err
	}
	key, csr, err := enrolment.NewKey()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(h.info.GRPCAddr, grpc.WithTransportCredentials(credentials.NewTLS(enrolment.PinnedTLSConfig(tok.CAFingerprint, "127.0.0.1"))))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	resp, err := sensorv1.NewSensorServiceClient(conn).Enrol(context.Background(), &sensorv1.EnrolRequest{
		Token: token, CsrDer: csr, CapabilityVersion: wire.CapabilityVersion,
		Facts: &sensorv1.NodeFacts{Hostname: hostname, TargetType: "linux"},
	})
	if err != nil {
		return nil, err
	}
	dir := h.t.TempDir()
	st := enrolment.State{NodeID: resp.GetNodeId(), ConsoleAddr: h.info.GRPCAddr, Key: key, CertPEM: resp.GetCertificatePem(), CAPEM: resp.GetCaPem()}
	if err := enrolment.SaveState(dir, st); err != nil {
		return nil, err
	}
	st, err = enrolment.LoadState(dir)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := st.ClientTLSConfig("127.0.0.1")
	if err != nil {
		return nil, err
	}
	mconn, err := grpc.NewClient(h.info.GRPCAddr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)))
	if err != nil {
		return nil, err
	}
	h.t.Cleanup(func() { mconn.Close() })
	return &rawNode{id: resp.GetNodeId(), client: sensorv1.NewSensorServiceClient(mconn)}, nil
}

// send streams one batch and returns its acknowledgement.
func (n *rawNode) send(b *sensorv1.ResultBatch) (*sensorv1.BatchAck, error) {
	s, err := n.client.StreamResults(context.Background())
	if err != nil {
		return nil, err
	}
	if err := s.Send(b); err != nil {
		return nil, err
	}
	ack, err := s.Recv()
	if err != nil {
		return nil, err
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	if _, err := s.Recv(); err == nil {
		return nil, errors.New("more than one acknowledgement")
	}
	return ack, nil
}

func fixtureName(i int) string { return fmt.Sprintf("node-%d", i) }
