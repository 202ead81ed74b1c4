package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"gopkg.in/yaml.v3"

	"github.com/palisadehq/palisade/console/internal/bus"
	"github.com/palisadehq/palisade/console/internal/pki"
	"github.com/palisadehq/palisade/pkg/enrolment"
	"github.com/palisadehq/palisade/pkg/jobs"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// composeDir is the docker compose deployment of the fault tests' topology.
const composeDir = "../../../deploy/compose"

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// serveFlags lists the flags `palisade-console serve` defines, read from its source.
func serveFlags(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile("../../cmd/palisade-console/main.go")
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`f\.\w+Var\(&[\w.]+, "([a-z-]+)"`).FindAllSubmatch(src, -1) {
		flags[string(m[1])] = true
	}
	if !flags["database-url"] || !flags["nats-url"] || !flags["replica-id"] {
		t.Fatalf("could not read the serve flags from main.go (found %v)", flags)
	}
	return flags
}

// flagValues maps each --name=value of a command to its values.
func flagValues(t *testing.T, service string, args []string, known map[string]bool) map[string][]string {
	t.Helper()
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("%s: command %v; want serve with flags", service, args)
	}
	out := map[string][]string{}
	for _, a := range args[1:] {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !known[name] {
			t.Fatalf("%s: %q is not a flag of palisade-console serve", service, a)
		}
		out[name] = append(out[name], value)
	}
	return out
}

// TestComposeReplicasOnPostgresAndNATSCluster checks deploy/compose: the file parses, runs two
// console replicas with the console's real flags on one PostgreSQL database and a three-server
// NATS cluster, every long-running service has a healthcheck and every volume is declared.
// The nats-accounts service writes the NATS accounts where the servers and consoles mount
// them. Then it runs the certificate script and `nats-accounts`' WriteAccounts and starts a
// NATS server from nats.conf with what they made, and connects to it as the console and a
// node do.
func TestComposeReplicasOnPostgresAndNATSCluster(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(composeDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var names []string
	for name := range cf.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	want := []string{"console-a", "console-b", "lb", "nats-1", "nats-2", "nats-3", "nats-accounts", "pki-init", "postgres"}
	if !slices.Equal(names, want) {
		t.Fatalf("services %v; want %v", names, want)
	}
	if img := cf.Services["postgres"].Image; !strings.HasPrefix(img, "postgres:15") {
		t.Errorf("postgres image %q; want PostgreSQL 15", img)
	}
	for _, name := range names {
		s := cf.Services[name]
		if name != "pki-init" && name != "nats-accounts" && (s.Healthcheck == nil || len(s.Healthcheck.Test) == 0) {
			t.Errorf("%s has no healthcheck", name)
		}
		for dep := range s.DependsOn {
			if _, ok := cf.Services[dep]; !ok {
				t.Errorf("%s depends on unknown service %s", name, dep)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join(composeDir, src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			} else if _, ok := cf.Volumes[src]; !ok {
				t.Errorf("%s mounts volume %s, which is not declared", name, src)
			}
		}
	}

	known := serveFlags(t)
	var replicaIDs []string
	var dbURLs []string
	for _, name := range []string{"console-a", "console-b"} {
		s := cf.Services[name]
		if s.Build == nil || s.Build.Dockerfile != "deploy/Dockerfile.console" {
			t.Fatalf("%s is not built from deploy/Dockerfile.console", name)
		}
		if _, err := os.Stat(filepath.Join(composeDir, s.Build.Context, s.Build.Dockerfile)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		f := flagValues(t, name, s.Command, known)
		replicaIDs = append(replicaIDs, f["replica-id"]...)
		dbURLs = append(dbURLs, f["database-url"]...)
		if got := f["nats-url"]; len(got) != 1 || got[0] != "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222" {
			t.Errorf("%s --nats-url %v; want the three NATS services", name, got)
		}
		if got := f["nats-replicas"]; len(got) != 1 || got[0] != "3" {
			t.Errorf("%s --nats-replicas %v; want 3", name, got)
		}
		if _, ok := f["nats-tls"]; !ok {
			t.Errorf("%s connects to NATS without --nats-tls", name)
		}
		if got := f["nats-account-seed-file"]; len(got) != 1 || got[0] != composeAccountsMount+"/"+bus.AccountSeedFile {
			t.Errorf("%s --nats-account-seed-file %v; want %s/%s, the account seed from the nats-accounts volume", name, got, composeAccountsMount, bus.AccountSeedFile)
		}
		if !slices.Contains(s.Volumes, "nats-accounts:"+composeAccountsMount+":ro") {
			t.Errorf("%s volumes %v; want nats-accounts read-only at %s", name, s.Volumes, composeAccountsMount)
		}
		if s.Environment["PGPASSWORD"] == "" {
			t.Errorf("%s has no PGPASSWORD for the database", name)
		}
	}
	checkComposeNATSAccounts(t, cf)
	if len(replicaIDs) != 2 || replicaIDs[0] == replicaIDs[1] {
		t.Errorf("replica ids %v; want two different ones", replicaIDs)
	}
	if len(dbURLs) != 2 || dbURLs[0] != dbURLs[1] || !strings.Contains(dbURLs[0], "@postgres:5432/") {
		t.Errorf("database URLs %v; want one, on the postgres service", dbURLs)
	}
	lb, err := os.ReadFile(filepath.Join(composeDir, "lb.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, up := range []string{"console-a:7443", "console-b:7443", "console-a:7080", "console-b:7080"} {
		if !strings.Contains(string(lb), "server "+up) {
			t.Errorf("lb.conf does not balance to %s", up)
		}
	}

	checkComposePKIAndNATS(t)
}

// Where the compose file mounts the nats-accounts volume: in the consoles (and the one-shot
// service that writes it), and in the NATS servers, beside their nats.conf.
const (
	composeAccountsMount     = "/nats-accounts"
	composeNATSConfDir       = "/etc/nats"
	composeNATSAccountsMount = composeNATSConfDir + "/accounts"
)

// checkComposeNATSAccounts checks the nats-accounts service: it runs the console image's
// `nats-accounts` into its volume before the NATS servers and the consoles start, and the
// servers mount that volume where nats.conf includes accounts.conf from.
func checkComposeNATSAccounts(t *testing.T, cf composeFile) {
	t.Helper()
	s := cf.Services["nats-accounts"]
	if s.Image != cf.Services["console-a"].Image || s.Image == "" {
		t.Errorf("nats-accounts image %q; want the console image %q", s.Image, cf.Services["console-a"].Image)
	}
	if want := []string{"nats-accounts", "--dir", composeAccountsMount}; !slices.Equal(s.Command, want) {
		t.Errorf("nats-accounts command %v; want %v", s.Command, want)
	}
	if want := []string{"nats-accounts:" + composeAccountsMount}; !slices.Equal(s.Volumes, want) {
		t.Errorf("nats-accounts volumes %v; want %v", s.Volumes, want)
	}
	for _, name := range []string{"nats-1", "nats-2", "nats-3", "console-a", "console-b"} {
		if dep, ok := cf.Services[name].DependsOn["nats-accounts"]; !ok || dep.Condition != "service_completed_successfully" {
			t.Errorf("%s does not wait for nats-accounts to complete (%+v)", name, cf.Services[name].DependsOn)
		}
	}
	for _, name := range []string{"nats-1", "nats-2", "nats-3"} {
		v := cf.Services[name].Volumes
		if !slices.Contains(v, "./nats.conf:"+composeNATSConfDir+"/nats.conf:ro") || !slices.Contains(v, "nats-accounts:"+composeNATSAccountsMount+":ro") {
			t.Errorf("%s volumes %v; want nats.conf in %s and nats-accounts read-only at %s", name, v, composeNATSConfDir, composeNATSAccountsMount)
		}
	}
}

// checkComposePKIAndNATS runs pki-init.sh into temporary directories, checks that a console
// accepts the CA it made and that the NATS certificate names every server, writes the NATS
// accounts as the nats-accounts service does, then starts a NATS server from nats.conf laid
// out as in its container and connects to it as the console (operator mode, with the account
// seed) and as a node with the credentials the console issued.
func checkComposePKIAndNATS(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed; skipping the certificate script")
	}
	dir := t.TempDir()
	pkiDir, natsTLS, consoleA := filepath.Join(dir, "pki"), filepath.Join(dir, "nats-tls"), filepath.Join(dir, "console-a")
	script, err := filepath.Abs(filepath.Join(composeDir, "pki-init.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second run finds everything in place and changes nothing
		cmd := exec.Command("sh", script)
		cmd.Env = append(os.Environ(), "PKI_DIR="+pkiDir, "NATS_TLS_DIR="+natsTLS,
			"CONSOLE_DATA_DIRS="+consoleA+" "+filepath.Join(dir, "console-b"), "PALISADE_PUBLIC_HOST=palisade.example")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("pki-init.sh: %v\n%s", err, out)
		}
	}
	ca, err := pki.LoadOrCreate(pki.Config{Dir: filepath.Join(consoleA, "pki")})
	if err != nil {
		t.Fatalf("the console does not accept the CA from pki-init.sh: %v", err)
	}
	certPEM, err := os.ReadFile(filepath.Join(natsTLS, "server.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		t.Fatal("server.pem holds no PEM block")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"nats-1", "nats-2", "nats-3", "palisade.example", "127.0.0.1"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: ca.CAPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("the NATS certificate does not serve %s: %v", host, err)
		}
	}

	// A directory laid out like /etc/nats in the NATS containers: nats.conf with the
	// nats-accounts volume beside it.
	etcNATS := filepath.Join(dir, "etc-nats")
	accountsDir := filepath.Join(etcNATS, strings.TrimPrefix(composeNATSAccountsMount, composeNATSConfDir+"/"))
	acc, err := bus.WriteAccounts(accountsDir)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(composeDir, "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	local := strings.ReplaceAll(string(conf), `"/nats-tls/`, `"`+natsTLS+`/`)
	local = strings.ReplaceAll(local, `store_dir: "/data"`, `store_dir: "`+filepath.Join(dir, "js")+`"`)
	confPath := filepath.Join(etcNATS, "nats.conf")
	if err := os.WriteFile(confPath, []byte(local), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NATS_SERVER_NAME", "nats-1")
	opts, err := natsserver.ProcessConfigFile(confPath)
	if err != nil {
		t.Fatalf("nats.conf: %v", err)
	}
	if opts.ServerName != "nats-1" || !opts.JetStream || opts.TLSConfig == nil || opts.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert || opts.Cluster.Name != "palisade" || len(opts.Routes) != 3 || opts.MaxPayload < jobs.MaxJobBytes {
		t.Fatalf("nats.conf: server %q, JetStream %v, TLS verify %v, cluster %q with %d routes, max payload %d; want nats-1, JetStream, verified client certificates, cluster palisade with 3 routes, at least %d",
			opts.ServerName, opts.JetStream, opts.TLSConfig != nil && opts.TLSConfig.ClientAuth == tls.RequireAndVerifyClientCert, opts.Cluster.Name, len(opts.Routes), opts.MaxPayload, jobs.MaxJobBytes)
	}
	if len(opts.TrustedOperators) != 1 || opts.TrustedOperators[0].Subject != acc.Operator || opts.SystemAccount != acc.SystemAccount {
		t.Fatalf("nats.conf: %d trusted operators, system account %q; want the operator %s and system account %s from %s",
			len(opts.TrustedOperators), opts.SystemAccount, acc.Operator, acc.SystemAccount, acc.ConfigFile)
	}
	// One server on free ports, without its peers.
	opts.Host, opts.Port, opts.HTTPPort, opts.NoSigs = "127.0.0.1", natsserver.RANDOM_PORT, natsserver.RANDOM_PORT, true
	opts.Cluster, opts.Routes = natsserver.ClusterOpts{}, nil
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
		t.Fatal("NATS server from nats.conf did not start")
	}
	clientCert, err := ca.IssueConsoleClient()
	if err != nil {
		t.Fatal(err)
	}
	consoleTLS := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.CAPool(), Certificates: []tls.Certificate{clientCert}}
	if nc, err := nats.Connect(srv.ClientURL(), nats.Secure(consoleTLS)); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("connect to the NATS server from nats.conf with a certificate and no credentials: %v; want %v", err, nats.ErrAuthorization)
	}
	if nc, err := nats.Connect(srv.ClientURL(), nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.CAPool()})); err == nil {
		nc.Close()
		t.Fatal("the NATS server from nats.conf admitted a client without a certificate")
	}

	// The console as compose runs it: --nats-tls and the account seed from the volume.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := bus.Start(ctx, bus.Config{
		ExternalURL:     srv.ClientURL(),
		ExternalTLS:     consoleTLS,
		AccountSeedFile: filepath.Join(accountsDir, bus.AccountSeedFile),
		Logger:          zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	if err != nil {
		t.Fatalf("the console on the NATS server from nats.conf: %v", err)
	}
	defer b.Close()
	js, err := jetstream.New(b.Conn())
	if err != nil {
		t.Fatal(err)
	}
	info, err := js.AccountInfo(ctx)
	if err != nil {
		t.Fatalf("JetStream of the Palisade account: %v", err)
	}
	if l := info.Limits; l.MaxMemory != -1 || l.MaxStore != -1 || l.MaxStreams != -1 || l.MaxConsumers != -1 || info.Streams != 1 {
		t.Errorf("JetStream of the Palisade account: limits %+v, %d streams; want memory, disk, streams and consumers unlimited, the jobs stream", l, info.Streams)
	}
	// node-1 with its certificate and the credentials the console issued takes its job, and
	// may not subscribe to node-2's.
	nodeTLS, notAfter := composeNodeTLS(t, ca, "node-1")
	creds, err := b.NodeCredentials("node-1", notAfter)
	if err != nil {
		t.Fatal(err)
	}
	credsOpt, err := jobs.Credentials(creds)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	nc, err := nats.Connect(srv.ClientURL(), nats.Secure(nodeTLS), credsOpt,
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatalf("node-1 with its credentials: %v", err)
	}
	defer nc.Close()
	got := make(chan string, 4)
	sub, err := jobs.Subscribe(ctx, nc, "node-1", func(j *sensorv1.Job) { got <- j.GetScanId() }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, id := range []string{"node-1", "node-2"} {
		if err := b.PublishJob(ctx, &sensorv1.Job{ScanId: "scan-" + id, NodeId: id, BenchmarkIds: []string{"cis-linux"}}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case id := <-got:
		if id != "scan-node-1" {
			t.Errorf("node-1 received %s; want scan-node-1", id)
		}
	case <-ctx.Done():
		t.Fatal("node-1 received no job")
	}
	if _, err := nc.SubscribeSync(jobs.JobSubject("node-2")); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), `"`+jobs.JobSubject("node-2")+`"`) {
			t.Errorf("node-1 subscribing to node-2's jobs: %v; want a permissions violation", err)
		}
	case <-ctx.Done():
		t.Fatal("node-1 subscribed to node-2's jobs without a permissions violation")
	}
	select {
	case id := <-got:
		t.Errorf("node-1 received %s besides its own job", id)
	default:
	}
}

// composeNodeTLS enrols nodeID with the CA as a sensor does and returns its mTLS
// configuration and the certificate's expiry.
func composeNodeTLS(t *testing.T, ca *pki.Authority, nodeID string) (*tls.Config, time.Time) {
	t.Helper()
	key, csr, err := enrolment.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignNode(csr, nodeID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		t.Fatal("the node certificate holds no PEM block")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	st := enrolment.State{NodeID: nodeID, Key: key, CertPEM: certPEM, CAPEM: ca.CACertPEM()}
	cfg, err := st.ClientTLSConfig("")
	if err != nil {
		t.Fatal(err)
	}
	return cfg, cert.NotAfter
}
