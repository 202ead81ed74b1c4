package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"

	"github.com/palisadehq/palisade/console/internal/pki"
	"github.com/palisadehq/palisade/console/internal/sensorapi"
	"github.com/palisadehq/palisade/pkg/posture"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// The fault tests scan the debian-bad fixture root with CIS and NIST; these are its exact
// figures, the same as in TestCombinedScanOfTwoSensors.
var (
	faultBenchmarks = []string{"linux-cis", "linux-nist"}
	faultScores     = map[string]struct {
		counts posture.Counts
		score  string
	}{
		"linux-cis":  {posture.Counts{Pass: 17, Fail: 329, Info: 5, Skip: 24}, "6.3%"},
		"linux-nist": {posture.Counts{Pass: 17, Fail: 321, Info: 30, Skip: 24}, "12.8%"},
	}
)

// faultBatchSize is the batch size of the fault tests: small, so that a scan is many batches
// and a fault lands mid-stream.
const faultBatchSize = 4

// checkExactScan asserts that a scan of the debian-bad root completed with every result
// stored exactly once and the exact scores. It returns the number of results.
func checkExactScan(t *testing.T, h *harness, sc *consolev1.Scan, root string) int {
	t.Helper()
	if sc.GetState() != sensorv1.ScanState_SCAN_STATE_COMPLETE {
		t.Fatalf("scan %s ended %s: %s", sc.GetId(), sc.GetState(), sc.GetMessage())
	}
	want, total := expectedCounts(t, root, faultBenchmarks)
	if sc.GetResultsStored() != uint64(total) {
		t.Fatalf("scan %s stored %d results; want exactly %d", sc.GetId(), sc.GetResultsStored(), total)
	}
	if len(sc.GetScores()) != len(faultBenchmarks) {
		t.Fatalf("scan %s has %d scores; want %d", sc.GetId(), len(sc.GetScores()), len(faultBenchmarks))
	}
	for _, s := range sc.GetScores() {
		got := scoreCounts(s)
		lit, ok := faultScores[s.GetBenchmarkId()]
		if !ok {
			t.Fatalf("scan %s has a score for %s", sc.GetId(), s.GetBenchmarkId())
		}
		if got != lit.counts || got.FormatScore() != lit.score || got != want[s.GetBenchmarkId()] {
			t.Fatalf("scan %s benchmark %s: counts %+v score %s; want %+v %s", sc.GetId(), s.GetBenchmarkId(), got, got.FormatScore(), lit.counts, lit.score)
		}
	}
	page, err := h.api.ListResults(context.Background(), &consolev1.ListResultsRequest{ScanId: sc.GetId(), PageSize: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if page.GetTotal() != uint64(total) || len(page.GetResults()) != total {
		t.Fatalf("scan %s lists %d results (total %d); want %d", sc.GetId(), len(page.GetResults()), page.GetTotal(), total)
	}
	seen := map[string]bool{}
	for _, r := range page.GetResults() {
		k := r.GetControlId() + "\x00" + r.GetResource()
		if seen[k] {
			t.Fatalf("scan %s: result %s / %s stored twice", sc.GetId(), r.GetControlId(), r.GetResource())
		}
		seen[k] = true
	}
	return total
}

// batchesOf is how many batches the sensor sends for total results: full ones, then the final
// one with the remainder (possibly none).
func batchesOf(total int) int { return total/faultBatchSize + 1 }

// checkBatchMetrics asserts the console's count of result batches by outcome.
func checkBatchMetrics(t *testing.T, h *harness, stored, duplicate int) {
	t.Helper()
	for _, m := range []struct {
		outcome string
		want    int
	}{{"stored", stored}, {"duplicate", duplicate}, {"rejected", 0}} {
		if got := metric(t, h, `palisade_result_batches_total{outcome="`+m.outcome+`"}`); got != float64(m.want) {
			t.Errorf("%s batches = %v; want %d", m.outcome, got, m.want)
		}
	}
}

// sharedCA creates the console CA in the pki/ directory of dirs[0] and copies it into the
// others, so that console replicas started on them present one CA to sensors and NATS.
func sharedCA(t *testing.T, dirs ...string) *pki.Authority {
	t.Helper()
	ca, err := pki.LoadOrCreate(pki.Config{Dir: filepath.Join(dirs[0], "pki")})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs[1:] {
		if err := os.MkdirAll(filepath.Join(d, "pki"), 0o700); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{pki.CAFileName, pki.CAKeyFileName, pki.CertFileName, pki.CertKeyFileName} {
			data, err := os.ReadFile(filepath.Join(dirs[0], "pki", name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, "pki", name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ca
}

// natsCluster is an external NATS deployment for the console: in-process servers with
// JetStream, routed into one cluster when there are several, admitting clients with a
// certificate of the console CA (the console's own, and the nodes').
type natsCluster struct {
	servers []*natsserver.Server
}

func startNATS(t *testing.T, ca *pki.Authority, size int) *natsCluster {
	t.Helper()
	var routes []*url.URL
	var routePorts []int
	if size > 1 {
		for range size {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			routePorts = append(routePorts, ln.Addr().(*net.TCPAddr).Port)
			ln.Close()
		}
		for _, p := range routePorts {
			routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
		}
	}
	c := &natsCluster{}
	for i := range size {
		tlsCfg := ca.ServerTLSConfig()
		tlsCfg.ClientAuth = tls.RequireAndVerifyClientCert
		opts := &natsserver.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       natsserver.RANDOM_PORT,
			NoSigs:     true,
			NoLog:      true,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			TLS:        true,
			TLSVerify:  true,
			TLSConfig:  tlsCfg,
			TLSTimeout: 5,
		}
		if size > 1 {
			opts.Cluster = natsserver.ClusterOpts{Name: "palisade-e2e", Host: "127.0.0.1", Port: routePorts[i]}
			opts.Routes = routes
		}
		srv, err := natsserver.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		srv.Start()
		t.Cleanup(func() {
			srv.Shutdown()
			srv.WaitForShutdown()
		})
		if !srv.ReadyForConnections(10 * time.Second) {
			t.Fatalf("NATS server %s did not start", opts.ServerName)
		}
		c.servers = append(c.servers, srv)
	}
	if size > 1 {
		waitUntil(t, 30*time.Second, "the JetStream cluster to elect a meta leader", func() bool {
			leader := false
			for _, s := range c.servers {
				if !s.JetStreamIsCurrent() {
					return false
				}
				leader = leader || s.JetStreamIsLeader()
			}
			return leader
		})
	}
	return c
}

// urls is the comma-separated client URLs of every server, for --nats-url.
func (c *natsCluster) urls() string {
	var out []string
	for _, s := range c.servers {
		out = append(out, s.ClientURL())
	}
	return strings.Join(out, ",")
}

// server returns the server named name.
func (c *natsCluster) server(t *testing.T, name string) *natsserver.Server {
	t.Helper()
	for _, s := range c.servers {
		if s.Name() == name {
			return s
		}
	}
	t.Fatalf("no NATS server %s", name)
	return nil
}

// serverOf returns the name of the running server the node's sensor is connected to, or ""
// when it is connected to none.
func (c *natsCluster) serverOf(nodeID string) string {
	for _, s := range c.servers {
		if !s.Running() {
			continue
		}
		cz, err := s.Connz(&natsserver.ConnzOptions{})
		if err != nil {
			continue
		}
		for _, ci := range cz.Conns {
			if ci.Name == "palisade-sensor "+nodeID {
				return s.Name()
			}
		}
	}
	return ""
}

// connect opens a connection to the cluster with the console's client certificate (full
// rights), for the test to inspect JetStream.
func (c *natsCluster) connect(t *testing.T, ca *pki.Authority) *nats.Conn {
	t.Helper()
	cert, err := ca.IssueConsoleClient()
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(c.urls(), nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.CAPool(), Certificates: []tls.Certificate{cert}}),
		nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// waitUntil polls cond until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pauseAt holds the result stream when the console has received batch seq of any scan for the
// first time, before it is stored, until the test has injected its fault and calls resume.
type pauseAt struct {
	seq     uint64
	once    sync.Once
	reached chan struct{}
	resumed chan struct{}
}

func newPauseAt(seq uint64) *pauseAt {
	return &pauseAt{seq: seq, reached: make(chan struct{}), resumed: make(chan struct{})}
}

// resume lets the held stream go on.
func (p *pauseAt) resume() { close(p.resumed) }

type pausingStream struct {
	grpc.ServerStream
	p *pauseAt
}

func (s pausingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if b, ok := sensorapi.PeekBatch(m); ok && b.GetSeq() == s.p.seq {
		first := false
		s.p.once.Do(func() { first = true })
		if first {
			close(s.p.reached)
			select {
			case <-s.p.resumed:
			case <-s.Context().Done():
				return s.Context().Err()
			}
		}
	}
	return nil
}

func (p *pauseAt) interceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !strings.HasSuffix(info.FullMethod, "/StreamResults") {
		return handler(srv, ss)
	}
	return handler(srv, pausingStream{ServerStream: ss, p: p})
}

// await waits for ch to close, failing the test after d.
func await(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("timed out after %s waiting for %s", d, what)
	}
}
