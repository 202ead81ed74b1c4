package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/palisadehq/palisade/console/internal/pki"
	"github.com/palisadehq/palisade/pkg/enrolment"
	"github.com/palisadehq/palisade/pkg/jobs"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

const waitTimeout = 10 * time.Second

func newAuthority(t testing.TB) *pki.Authority {
	t.Helper()
	a, err := pki.LoadOrCreate(pki.Config{Dir: t.TempDir(), Hosts: []string{"console.test"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func startBus(t *testing.T, a *pki.Authority, mods ...func(*Config)) *Bus {
	t.Helper()
	cfg := Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Authority: a, Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))}
	for _, m := range mods {
		m(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	b, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// nodeTLS enrols a node with the authority the way a sensor does and returns its mTLS config.
func nodeTLS(t *testing.T, a *pki.Authority, nodeID string) *tls.Config {
	t.Helper()
	key, csr, err := enrolment.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := a.SignNode(csr, nodeID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	st := enrolment.State{NodeID: nodeID, Key: key, CertPEM: certPEM, CAPEM: a.CACertPEM()}
	cfg, err := st.ClientTLSConfig("")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// node is a connected node with the asynchronous errors the server sent it.
type node struct {
	nc   *nats.Conn
	errs chan error
}

func connectNode(t *testing.T, b *Bus, a *pki.Authority, nodeID string) *node {
	t.Helper()
	n := &node{errs: make(chan error, 16)}
	nc, err := nats.Connect(strings.Join(b.URLs(), ","),
		nats.Secure(nodeTLS(t, a, nodeID)),
		nats.NoReconnect(),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { n.errs <- err }),
	)
	if err != nil {
		t.Fatalf("node %s cannot connect: %v", nodeID, err)
	}
	t.Cleanup(nc.Close)
	n.nc = nc
	return n
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func job(node, scan string) *sensorv1.Job {
	return &sensorv1.Job{ScanId: scan, NodeId: node, BenchmarkIds: []string{"cis-linux"}}
}

// storedJobs returns how many jobs the stream holds for nodeID.
func storedJobs(t *testing.T, b *Bus, nodeID string) uint64 {
	t.Helper()
	ctx := ctxT(t)
	st, err := b.js.Stream(ctx, jobs.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	subject := jobs.JobSubject(nodeID)
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects[subject]
}

// received collects what a node's jobs.Subscribe delivers.
type received struct {
	mu   sync.Mutex
	jobs []string
	ch   chan string
	cmds chan *sensorv1.Command
}

func subscribe(t *testing.T, n *node, nodeID string, opts ...jobs.Option) (*received, *jobs.Subscription) {
	t.Helper()
	r := &received{ch: make(chan string, 16), cmds: make(chan *sensorv1.Command, 16)}
	sub, err := jobs.Subscribe(ctxT(t), n.nc, nodeID, func(j *sensorv1.Job) {
		r.mu.Lock()
		r.jobs = append(r.jobs, j.GetScanId())
		r.mu.Unlock()
		r.ch <- j.GetScanId()
	}, func(c *sensorv1.Command) { r.cmds <- c }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return r, sub
}

func TestNodeReceivesOnlyItsOwnJobs(t *testing.T) {
	a := newAuthority(t)
	b := startBus(t, a)
	ctx := ctxT(t)
	// Raw subscriptions, so that a job for the wrong node would be seen rather than
	// rejected by jobs.Subscribe.
	got := map[string]chan string{}
	for _, id := range []string{"node-a", "node-b"} {
		n := connectNode(t, b, a, id)
		ch := make(chan string, 16)
		got[id] = ch
		if _, err := n.nc.Subscribe(jobs.JobSubject(id), func(m *nats.Msg) {
			j := &sensorv1.Job{}
			if err := proto.Unmarshal(m.Data, j); err != nil {
				t.Errorf("bad job: %v", err)
			}
			ch <- j.GetScanId()
		}); err != nil {
			t.Fatal(err)
		}
		if err := n.nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for _, j := range []*sensorv1.Job{job("node-a", "scan-a1"), job("node-b", "scan-b1"), job("node-a", "scan-a2"), job("node-b", "scan-b2")} {
		if err := b.PublishJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[string][]string{"node-a": {"scan-a1", "scan-a2"}, "node-b": {"scan-b1", "scan-b2"}} {
		var scans []string
		for range want {
			scans = append(scans, receive(t, got[id], "a job for "+id))
		}
		if !slices.Equal(scans, want) {
			t.Errorf("%s received %v, want %v", id, scans, want)
		}
	}
	// Every job stays stored until its node reports on it (Settle).
	if a, b := storedJobs(t, b, "node-a"), storedJobs(t, b, "node-b"); a != 2 || b != 2 {
		t.Errorf("stored jobs: node-a %d, node-b %d; want 2 each", a, b)
	}
	for id, ch := range got {
		if len(ch) != 0 {
			t.Errorf("%s received %d extra jobs", id, len(ch))
		}
	}
}

func TestNodePermissions(t *testing.T) {
	a := newAuthority(t)
	b := startBus(t, a)
	tests := []struct {
		name string
		do   func(nc *nats.Conn) error
		want string // expected violation, "" for allowed
	}{
		{"subscribe own jobs", func(nc *nats.Conn) error { _, err := nc.SubscribeSync("palisade.jobs.node-a"); return err }, ""},
		{"subscribe own control", func(nc *nats.Conn) error { _, err := nc.SubscribeSync("palisade.control.node-a"); return err }, ""},
		{"subscribe other jobs", func(nc *nats.Conn) error { _, err := nc.SubscribeSync("palisade.jobs.node-b"); return err }, `subscription to "palisade.jobs.node-b"`},
		{"subscribe other control", func(nc *nats.Conn) error { _, err := nc.SubscribeSync("palisade.control.node-b"); return err }, `subscription to "palisade.control.node-b"`},
		{"subscribe all jobs", func(nc *nats.Conn) error { _, err := nc.SubscribeSync("palisade.jobs.*"); return err }, `subscription to "palisade.jobs.*"`},
		{"subscribe wildcard", func(nc *nats.Conn) error { _, err := nc.SubscribeSync("palisade.>"); return err }, `subscription to "palisade.>"`},
		{"subscribe inbox", func(nc *nats.Conn) error { _, err := nc.SubscribeSync("_INBOX.>"); return err }, `subscription to "_INBOX.>"`},
		{"publish own job", func(nc *nats.Conn) error { return nc.Publish("palisade.jobs.node-a", []byte("x")) }, `publish to "palisade.jobs.node-a"`},
		{"publish other job", func(nc *nats.Conn) error { return nc.Publish("palisade.jobs.node-b", []byte("x")) }, `publish to "palisade.jobs.node-b"`},
		{"publish control", func(nc *nats.Conn) error { return nc.Publish("palisade.control.node-b", []byte("x")) }, `publish to "palisade.control.node-b"`},
		{"publish an acknowledgement", func(nc *nats.Conn) error {
			return nc.Publish("$JS.ACK.PALISADE_JOBS.node-node-a.1.1.1.1.0", []byte("+ACK"))
		}, `publish to "$JS.ACK.PALISADE_JOBS.node-node-a.1.1.1.1.0"`},
		{"JetStream API", func(nc *nats.Conn) error { return nc.Publish("$JS.API.STREAM.NAMES", nil) }, `publish to "$JS.API.STREAM.NAMES"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := connectNode(t, b, a, "node-a")
			if err := tt.do(n.nc); err != nil {
				t.Fatal(err)
			}
			// The server answers in order: any violation arrives before the PONG.
			if err := n.nc.Flush(); err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				// A PING round trip more, then there must be no error.
				if err := n.nc.Flush(); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-n.errs:
					t.Fatalf("allowed operation got %v", err)
				default:
				}
				return
			}
			err := receive(t, n.errs, "a permissions violation")
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.want)) {
				t.Errorf("error = %v, want a permissions violation for %s", err, tt.want)
			}
		})
	}
}

// TestPendingJobs: the jobs stored for a node, oldest first, limited to the scans asked for;
// a settled job is no longer among them.
func TestPendingJobs(t *testing.T) {
	b := startBus(t, newAuthority(t))
	ctx := ctxT(t)
	for _, j := range []*sensorv1.Job{job("node-c", "scan-1"), job("node-d", "scan-2"), job("node-c", "scan-3"), job("node-c", "scan-4")} {
		if err := b.PublishJob(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(js []*sensorv1.Job) []string {
		var out []string
		for _, j := range js {
			out = append(out, j.GetNodeId()+"/"+j.GetScanId())
		}
		return out
	}
	got, err := b.PendingJobs(ctx, "node-c", []string{"scan-3", "scan-1", "scan-2", "scan-unknown"})
	if err != nil || !slices.Equal(ids(got), []string{"node-c/scan-1", "node-c/scan-3"}) {
		t.Fatalf("PendingJobs = %v, %v; want node-c/scan-1 and node-c/scan-3, oldest first", ids(got), err)
	}
	if got, err := b.PendingJobs(ctx, "node-c", nil); got != nil || err != nil {
		t.Fatalf("PendingJobs without scans = %v, %v; want nothing", got, err)
	}
	if _, err := b.PendingJobs(ctx, "Node/C", []string{"scan-1"}); err == nil || err.Error() != `bus: pending jobs: node id "Node/C" has 'N' at offset 0; only lowercase letters, digits and '-' are allowed` {
		t.Fatalf("PendingJobs of an invalid node: %v", err)
	}
	b.Settle("node-c", "scan-1")
	waitFor(t, "scan-1's job to be settled", func() bool { return storedJobs(t, b, "node-c") == 2 })
	got, err = b.PendingJobs(ctx, "node-c", []string{"scan-1", "scan-3", "scan-4"})
	if err != nil || !slices.Equal(ids(got), []string{"node-c/scan-3", "node-c/scan-4"}) {
		t.Fatalf("PendingJobs after settling scan-1 = %v, %v; want scan-3 and scan-4", ids(got), err)
	}
}

func TestDuplicateJobStoredOnce(t *testing.T) {
	a := newAuthority(t)
	b := startBus(t, a)
	ctx := ctxT(t)
	for range 3 {
		if err := b.PublishJob(ctx, job("node-e", "scan-dup")); err != nil {
			t.Fatal(err)
		}
	}
	if msgs := storedJobs(t, b, "node-e"); msgs != 1 {
		t.Errorf("stream holds %d jobs, want 1", msgs)
	}
}

func TestPublishJobValidates(t *testing.T) {
	a := newAuthority(t)
	b := startBus(t, a)
	bigJob := &sensorv1.Job{ScanId: "s", NodeId: "n1", Controls: make([]byte, jobs.MaxJobBytes)}
	tests := []struct {
		name string
		job  *sensorv1.Job
		want string
	}{
		{"bad node", job("Node/1", "s"), `bus: publish job: node id "Node/1" has 'N' at offset 0; only lowercase letters, digits and '-' are allowed`},
		{"no scan", job("n1", ""), "bus: publish job: the job has no scan id"},
		{"too big", bigJob, fmt.Sprintf("bus: publish job for scan s: the job is %d bytes, more than the 8388608 allowed; scan with fewer controls", proto.Size(bigJob))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.PublishJob(ctxT(t), tt.job)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v\nwant    %s", err, tt.want)
			}
		})
	}
}

func TestSubscribeRejectsBadJobsAndCommands(t *testing.T) {
	a := newAuthority(t)
	b := startBus(t, a)
	ctx := ctxT(t)
	n := connectNode(t, b, a, "node-f")
	r, _ := subscribe(t, n, "node-f", jobs.WithMaxJobBytes(512), jobs.WithLogger(zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))))

	js := b.js
	publishRaw := func(data []byte, id string) {
		t.Helper()
		if _, err := js.Publish(ctx, jobs.JobSubject("node-f"), data, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	publishRaw([]byte{0xff, 0xff, 0xff, 0xff}, "garbage")
	big, err := proto.Marshal(&sensorv1.Job{ScanId: "big", NodeId: "node-f", Controls: make([]byte, 600)})
	if err != nil {
		t.Fatal(err)
	}
	publishRaw(big, "big")
	other, err := proto.Marshal(job("node-g", "other"))
	if err != nil {
		t.Fatal(err)
	}
	publishRaw(other, "other")
	if err := b.PublishJob(ctx, job("node-f", "good")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, r.ch, "the valid job"); got != "good" {
		t.Fatalf("handler got %q, want only the valid job", got)
	}
	// Commands: malformed and incomplete ones are dropped, a valid one arrives.
	if err := b.Conn().Publish(jobs.ControlSubject("node-f"), []byte{0xff, 0x01}); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishCommand(ctx, "node-f", &sensorv1.Command{ScanId: "good"}); err != nil {
		t.Fatal(err)
	}
	if err := b.PublishCommand(ctx, "node-f", &sensorv1.Command{ScanId: "good", Action: sensorv1.Command_ACTION_STOP}); err != nil {
		t.Fatal(err)
	}
	cmd := receive(t, r.cmds, "the stop command")
	if cmd.GetScanId() != "good" || cmd.GetAction() != sensorv1.Command_ACTION_STOP {
		t.Errorf("command = %v, want stop for scan good", cmd)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Equal(r.jobs, []string{"good"}) || len(r.cmds) != 0 {
		t.Errorf("handlers got jobs %v and %d more commands, want only the valid ones", r.jobs, len(r.cmds))
	}
}

func TestRejectedClients(t *testing.T) {
	a := newAuthority(t)
	other := newAuthority(t)
	b := startBus(t, a, func(c *Config) { c.AllowNode = func(id string) bool { return id != "node-removed" } })
	foreignConsole, err := other.IssueConsoleClient()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts []nats.Option
	}{
		{"no TLS settings", nil},
		{"TLS without client certificate", []nats.Option{nats.Secure(&tls.Config{RootCAs: a.CAPool(), MinVersion: tls.VersionTLS12})}},
		{"node certificate from another CA", []nats.Option{nats.Secure(func() *tls.Config {
			c := nodeTLS(t, other, "node-x")
			c.RootCAs = a.CAPool()
			return c
		}())}},
		{"console certificate from another CA", []nats.Option{nats.Secure(&tls.Config{RootCAs: a.CAPool(), Certificates: []tls.Certificate{foreignConsole}, MinVersion: tls.VersionTLS12})}},
		{"node not allowed", []nats.Option{nats.Secure(nodeTLS(t, a, "node-removed"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]nats.Option{nats.NoReconnect(), nats.Timeout(5 * time.Second)}, tt.opts...)
			nc, err := nats.Connect(b.URLs()[0], opts...)
			if err == nil {
				nc.Close()
				t.Fatal("connection accepted, want it refused")
			}
		})
	}
	// The same server accepts a node of its own CA.
	connectNode(t, b, a, "node-ok")
}

// TestConsoleConnections: the console reaches its embedded server in process, with every
// permission, and another console of the same CA (a replica) over TLS with the same rights.
func TestConsoleConnections(t *testing.T) {
	a := newAuthority(t)
	b := startBus(t, a)
	if got := b.Conn().ConnectedAddr(); got != "pipe" {
		t.Fatalf("the console's own connection goes to %q, want the in-process pipe", got)
	}
	if err := b.PublishJob(ctxT(t), job("node-a", "scan-1")); err != nil {
		t.Fatalf("publish over the in-process connection: %v", err)
	}
	if n := storedJobs(t, b, "node-a"); n != 1 {
		t.Fatalf("node-a has %d stored jobs, want 1", n)
	}
	cert, err := a.IssueConsoleClient()
	if err != nil {
		t.Fatal(err)
	}
	replica, err := nats.Connect(b.URLs()[0], nats.NoReconnect(), nats.Timeout(5*time.Second),
		nats.Secure(&tls.Config{RootCAs: a.CAPool(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatalf("a console certificate of the same CA was refused: %v", err)
	}
	defer replica.Close()
	// Publishing on a node's job subject is denied to nodes and allowed to a console.
	resp, err := replica.Request(jobs.JobSubject("node-a"), []byte("x"), 5*time.Second)
	if err != nil {
		t.Fatalf("the replica could not publish to the jobs stream: %v", err)
	}
	if !strings.Contains(string(resp.Data), `"seq":2`) {
		t.Fatalf("the stream answered %s, want the message stored as seq 2", resp.Data)
	}
}

func TestStartErrors(t *testing.T) {
	a := newAuthority(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().String()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"port in use", Config{DataDir: t.TempDir(), Listen: busy, Authority: a}, "bus: the embedded NATS server cannot listen on " + busy + " because the address is in use; choose another with --nats-addr (port 0 picks a free one) or use an existing server with --nats-url"},
		{"bad address", Config{DataDir: t.TempDir(), Listen: "localhost", Authority: a}, `bus: --nats-addr "localhost" is not host:port: address localhost: missing port in address`},
		{"bad port", Config{DataDir: t.TempDir(), Listen: "127.0.0.1:99999", Authority: a}, `bus: --nats-addr "127.0.0.1:99999" has an invalid port; use 0 to 65535 (0 picks a free port)`},
		{"no CA", Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"}, "bus: the console CA is required to run the embedded NATS server"},
		{"no data dir", Config{Listen: "127.0.0.1:0", Authority: a}, "bus: a data directory is required for the embedded NATS server's JetStream files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Start(ctxT(t), tt.cfg)
			if err == nil {
				b.Close()
				t.Fatal("Start succeeded, want an error")
			}
			if err.Error() != tt.want {
				t.Errorf("error = %v\nwant    %s", err, tt.want)
			}
		})
	}
}

func TestExternalServer(t *testing.T) {
	// The embedded bus of one console stands in for an external cluster that a second
	// console reaches with --nats-url.
	a := newAuthority(t)
	emb := startBus(t, a)
	cert, err := a.IssueConsoleClient()
	if err != nil {
		t.Fatal(err)
	}
	ext, err := Start(ctxT(t), Config{
		ExternalURL: strings.Join(emb.URLs(), ","),
		ExternalTLS: &tls.Config{RootCAs: a.CAPool(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Logger:      zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ext.Close()
	if !slices.Equal(ext.URLs(), emb.URLs()) {
		t.Errorf("URLs = %v, want %v", ext.URLs(), emb.URLs())
	}
	ctx := ctxT(t)
	n := connectNode(t, emb, a, "node-x")
	r, _ := subscribe(t, n, "node-x")
	if err := ext.PublishJob(ctx, job("node-x", "scan-ext")); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, r.ch, "the job published through the external connection"); got != "scan-ext" {
		t.Errorf("received %q, want scan-ext", got)
	}

	_, err = Start(ctxT(t), Config{ExternalURL: "nats://user:secret@127.0.0.1:1"})
	if err == nil || !strings.HasPrefix(err.Error(), "bus: connect to the NATS server at nats://user:xxxxx@127.0.0.1:1 (--nats-url): ") || strings.Contains(err.Error(), "secret") {
		t.Errorf("error = %v, want a connection error naming --nats-url without the password", err)
	}
}

func TestRemoveNode(t *testing.T) {
	a := newAuthority(t)
	b := startBus(t, a)
	ctx := ctxT(t)
	if err := b.PublishJob(ctx, job("node-r", "scan-1")); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveNode(ctx, "node-r"); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveNode(ctx, "node-r"); err != nil {
		t.Fatalf("removing again: %v", err)
	}
	st, err := b.js.Stream(ctx, jobs.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 {
		t.Errorf("after RemoveNode the stream holds %d jobs, want 0", info.State.Msgs)
	}
}

func TestURLs(t *testing.T) {
	tests := []struct {
		name  string
		given []string
		host  string
		dns   []string
		want  []string
	}{
		{"given", []string{"nats://nats.example:4222"}, "", nil, []string{"nats://nats.example:4222"}},
		{"specific host", nil, "10.1.2.3", []string{"console.example"}, []string{"nats://10.1.2.3:4333"}},
		{"IPv6 host", nil, "::1", nil, []string{"nats://[::1]:4333"}},
		{"all interfaces, cert name", nil, "0.0.0.0", []string{"localhost", "console.example"}, []string{"nats://console.example:4333"}},
		{"all interfaces, loopback only", nil, "", []string{"localhost"}, []string{"nats://127.0.0.1:4333"}},
	}
	for _, tt := range tests {
		if got := advertise(tt.given, tt.host, 4333, tt.dns); !slices.Equal(got, tt.want) {
			t.Errorf("%s: advertise = %v, want %v", tt.name, got, tt.want)
		}
	}
}
