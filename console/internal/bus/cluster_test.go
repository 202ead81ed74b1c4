package bus

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/palisadehq/palisade/console/internal/pki"
	"github.com/palisadehq/palisade/pkg/enrolment"
	"github.com/palisadehq/palisade/pkg/jobs"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// testCluster is three NATS servers with JetStream, routed to each other, in operator (JWT)
// mode with a memory account resolver, requiring client certificates of the console CA.
type testCluster struct {
	t       *testing.T
	servers []*server.Server
	urls    []string
	// account is the application account's public key; signingSeed the seed of its signing
	// key, as the operator would hand the console.
	account     string
	signingSeed []byte
}

func mustKey(t *testing.T, create func() (nkeys.KeyPair, error)) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := create()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}

// freePorts reserves n distinct loopback ports for the routes, which every server must know
// before it starts.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return ports
}

func startCluster(t *testing.T, a *pki.Authority, size int) *testCluster {
	t.Helper()
	opKey, opPub := mustKey(t, nkeys.CreateOperator)
	_, sysPub := mustKey(t, nkeys.CreateAccount)
	_, appPub := mustKey(t, nkeys.CreateAccount)
	signKey, signPub := mustKey(t, nkeys.CreateAccount)
	signingSeed, err := signKey.Seed()
	if err != nil {
		t.Fatal(err)
	}
	opClaims := jwt.NewOperatorClaims(opPub)
	opClaims.Name = "palisade-test"
	opClaims.SystemAccount = sysPub
	sysClaims := jwt.NewAccountClaims(sysPub)
	sysClaims.Name = "SYS"
	sysJWT, err := sysClaims.Encode(opKey)
	if err != nil {
		t.Fatal(err)
	}
	appClaims := jwt.NewAccountClaims(appPub)
	appClaims.Name = "PALISADE"
	appClaims.SigningKeys.Add(signPub)
	appClaims.Limits.JetStreamLimits = jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1, Streams: -1, Consumer: -1}
	appJWT, err := appClaims.Encode(opKey)
	if err != nil {
		t.Fatal(err)
	}

	routePorts := freePorts(t, size)
	var routes []*url.URL
	for _, p := range routePorts {
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
	}
	c := &testCluster{t: t, account: appPub, signingSeed: signingSeed}
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	for i := range size {
		resolver := &server.MemAccResolver{}
		for pub, tok := range map[string]string{sysPub: sysJWT, appPub: appJWT} {
			if err := resolver.Store(pub, tok); err != nil {
				t.Fatal(err)
			}
		}
		tlsCfg := a.ServerTLSConfig()
		tlsCfg.ClientAuth = tls.RequireAndVerifyClientCert
		opts := &server.Options{
			ServerName:       fmt.Sprintf("s%d", i+1),
			Host:             "127.0.0.1",
			Port:             server.RANDOM_PORT,
			NoSigs:           true,
			JetStream:        true,
			StoreDir:         t.TempDir(),
			TrustedOperators: []*jwt.OperatorClaims{opClaims},
			AccountResolver:  resolver,
			SystemAccount:    sysPub,
			TLS:              true,
			TLSVerify:        true,
			TLSConfig:        tlsCfg,
			TLSTimeout:       5,
			Cluster: server.ClusterOpts{
				Name: "palisade-test",
				Host: "127.0.0.1",
				Port: routePorts[i],
			},
			Routes: routes,
		}
		srv, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		srv.SetLoggerV2(&serverLogger{log: log.Named(opts.ServerName).Sugar()}, false, false, false)
		srv.Start()
		t.Cleanup(func() {
			srv.Shutdown()
			srv.WaitForShutdown()
		})
		if !srv.ReadyForConnections(waitTimeout) {
			t.Fatalf("server %s did not start", opts.ServerName)
		}
		c.servers = append(c.servers, srv)
		c.urls = append(c.urls, srv.ClientURL())
	}
	waitFor(t, "the JetStream cluster to elect a leader and catch up", func() bool {
		leader := false
		for _, s := range c.servers {
			if !s.JetStreamIsCurrent() {
				return false
			}
			leader = leader || s.JetStreamIsLeader()
		}
		return leader
	})
	return c
}

// server returns the running server named name.
func (c *testCluster) server(name string) *server.Server {
	for _, s := range c.servers {
		if s.Name() == name {
			return s
		}
	}
	c.t.Fatalf("no server %s", name)
	return nil
}

// urlsFirst lists the client URLs with name's first.
func (c *testCluster) urlsFirst(name string) []string {
	first := c.server(name).ClientURL()
	out := []string{first}
	for _, u := range c.urls {
		if u != first {
			out = append(out, u)
		}
	}
	return out
}

// writeFile writes data to a new file in a temporary directory.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// clusterBus starts a console bus on the cluster: a credentials file for the console issued
// by the account signing key, the signing seed to issue node credentials with, TLS with a
// console client certificate.
func clusterBus(t *testing.T, a *pki.Authority, c *testCluster) *Bus {
	t.Helper()
	seedFile := writeFile(t, "account.nk", c.signingSeed)
	is, err := loadIssuer(seedFile, c.account, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	consoleCreds, err := is.credentials("console-test", nil, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := a.IssueConsoleClient()
	if err != nil {
		t.Fatal(err)
	}
	b, err := Start(ctxT(t), Config{
		ExternalURL:       strings.Join(c.urls, ","),
		ExternalCredsFile: writeFile(t, "console.creds", []byte(consoleCreds)),
		ExternalTLS:       &tls.Config{RootCAs: a.CAPool(), Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		AccountSeedFile:   seedFile,
		Account:           c.account,
		Logger:            zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// connectClusterNode connects nodeID the way the sensor does with an external cluster: its
// client certificate and the credentials the console issued, to urls in that order.
func connectClusterNode(t *testing.T, a *pki.Authority, b *Bus, nodeID string, urls []string) *node {
	t.Helper()
	tlsCfg, notAfter := nodeTLSWithExpiry(t, a, nodeID)
	creds, err := b.NodeCredentials(nodeID, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	credsOpt, err := jobs.Credentials(creds)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{errs: make(chan error, 16)}
	nc, err := nats.Connect(strings.Join(urls, ","),
		nats.Secure(tlsCfg), credsOpt,
		nats.DontRandomize(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { n.errs <- err }),
	)
	if err != nil {
		t.Fatalf("node %s cannot connect: %v", nodeID, err)
	}
	t.Cleanup(nc.Close)
	n.nc = nc
	return n
}

func nodeTLSWithExpiry(t *testing.T, a *pki.Authority, nodeID string) (*tls.Config, time.Time) {
	t.Helper()
	key, csr, err := enrolment.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := a.SignNode(csr, nodeID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	st := enrolment.State{NodeID: nodeID, Key: key, CertPEM: certPEM, CAPEM: a.CACertPEM()}
	cfg, err := st.ClientTLSConfig("")
	if err != nil {
		t.Fatal(err)
	}
	return cfg, cert.NotAfter
}

// TestExternalCluster runs the console against a three-server JetStream cluster in operator
// mode: the stream is replicated three times, nodes connect with console-issued credentials
// and get only their own jobs, and losing the server a node and the stream leader sit on
// loses and duplicates no job.
func TestExternalCluster(t *testing.T) {
	a, err := pki.LoadOrCreate(pki.Config{Dir: t.TempDir(), Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, a, 3)
	b := clusterBus(t, a, c)
	ctx := ctxT(t)

	if b.Replicas() != 3 {
		t.Fatalf("stream replicas = %d, want 3 on a three-server cluster", b.Replicas())
	}
	st, err := b.js.Stream(ctx, jobs.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream config replicas %d, cluster %+v; want 3 with a leader and two followers", info.Config.Replicas, info.Cluster)
	}
	leader := info.Cluster.Leader

	// Setting up again changes nothing.
	if err := b.ensureStream(ctx, 0); err != nil {
		t.Fatalf("ensureStream again: %v", err)
	}

	t.Run("node permissions", func(t *testing.T) {
		tests := []struct {
			name string
			do   func(nc *nats.Conn) error
			want string
		}{
			{"subscribe own jobs", func(nc *nats.Conn) error { _, err := nc.SubscribeSync("palisade.jobs.node-a"); return err }, ""},
			{"subscribe other jobs", func(nc *nats.Conn) error { _, err := nc.SubscribeSync("palisade.jobs.node-b"); return err }, `subscription to "palisade.jobs.node-b"`},
			{"subscribe other control", func(nc *nats.Conn) error { _, err := nc.SubscribeSync("palisade.control.node-b"); return err }, `subscription to "palisade.control.node-b"`},
			{"publish an acknowledgement", func(nc *nats.Conn) error {
				return nc.Publish("$JS.ACK.PALISADE_JOBS.node-node-a.1.1.1.1.0", []byte("+ACK"))
			}, `publish to "$JS.ACK.PALISADE_JOBS.node-node-a.1.1.1.1.0"`},
			{"publish job", func(nc *nats.Conn) error { return nc.Publish("palisade.jobs.node-a", []byte("x")) }, `publish to "palisade.jobs.node-a"`},
			{"JetStream API", func(nc *nats.Conn) error { return nc.Publish("$JS.API.STREAM.NAMES", nil) }, `publish to "$JS.API.STREAM.NAMES"`},
		}
		n := connectClusterNode(t, a, b, "node-a", c.urls)
		for _, tt := range tests {
			if err := tt.do(n.nc); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if err := n.nc.Flush(); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if tt.want == "" {
				if err := n.nc.Flush(); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-n.errs:
					t.Errorf("%s: allowed operation got %v", tt.name, err)
				default:
				}
				continue
			}
			err := receive(t, n.errs, "a permissions violation for "+tt.name)
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tt.want)) {
				t.Errorf("%s: error = %v, want a permissions violation for %s", tt.name, err, tt.want)
			}
		}
	})

	// node-a sits on the stream leader's server, which is killed mid-way.
	n := connectClusterNode(t, a, b, "node-a", c.urlsFirst(leader))
	if got := n.nc.ConnectedServerName(); got != leader {
		t.Fatalf("node connected to %s, want the stream leader %s", got, leader)
	}
	var mu sync.Mutex
	var got []string
	all := make(chan string, 64)
	sub, err := jobs.Subscribe(ctx, n.nc, "node-a", func(j *sensorv1.Job) {
		mu.Lock()
		got = append(got, j.GetScanId())
		mu.Unlock()
		all <- j.GetScanId()
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)

	var want []string
	publish := func(from, to int) {
		t.Helper()
		for i := from; i <= to; i++ {
			for _, id := range []string{"node-a", "node-b"} {
				scan := fmt.Sprintf("scan-%s-%02d", id, i)
				if err := b.PublishJob(ctx, job(id, scan)); err != nil {
					t.Fatal(err)
				}
				if id == "node-a" {
					want = append(want, scan)
				}
			}
		}
	}
	publish(1, 5)
	// Kill the leader after the first jobs arrived, while the rest may be in flight.
	receive(t, all, "the first job")
	victim := c.server(leader)
	victim.Shutdown()
	victim.WaitForShutdown()
	publish(6, 10)

	// Jobs published while node-a moved to a surviving server did not reach it live; a
	// sensor's hello after the reconnect hands it the stored ones (PendingJobs), and the
	// subscription runs each scan once.
	waitFor(t, "node-a to reconnect to a surviving server", func() bool {
		return n.nc.IsConnected() && n.nc.ConnectedServerName() != leader
	})
	waitFor(t, "every job of node-a to arrive", func() bool {
		pending, err := b.PendingJobs(ctx, "node-a", want)
		if err != nil {
			return false
		}
		for _, j := range pending {
			sub.Deliver(j)
		}
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(want)
	})
	mu.Lock()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("node-a handled %v\nwant           %v (each once)", got, want)
	}
	mu.Unlock()
	// Every job is stored on the remaining servers until its node reports on it.
	for _, id := range []string{"node-a", "node-b"} {
		waitFor(t, id+"'s 10 jobs to be stored on the remaining servers", func() bool { return storedJobs(t, b, id) == 10 })
	}
}
