package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
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
	"gopkg.in/yaml.v3"

	"github.com/palisadehq/palisade/console/internal/pki"
	"github.com/palisadehq/palisade/pkg/jobs"
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
// Then it runs the certificate script and starts a NATS server from nats.conf with what the
// script made, and connects to it as the console does.
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
	want := []string{"console-a", "console-b", "lb", "nats-1", "nats-2", "nats-3", "pki-init", "postgres"}
	if !slices.Equal(names, want) {
		t.Fatalf("services %v; want %v", names, want)
	}
	if img := cf.Services["postgres"].Image; !strings.HasPrefix(img, "postgres:15") {
		t.Errorf("postgres image %q; want PostgreSQL 15", img)
	}
	for _, name := range names {
		s := cf.Services[name]
		if name != "pki-init" && (s.Healthcheck == nil || len(s.Healthcheck.Test) == 0) {
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
		if s.Environment["PGPASSWORD"] == "" {
			t.Errorf("%s has no PGPASSWORD for the database", name)
		}
	}
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

// checkComposePKIAndNATS runs pki-init.sh into temporary directories, checks that a console
// accepts the CA it made and that the NATS certificate names every server, then starts a NATS
// server from nats.conf with those files and connects to it with a console client certificate.
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

	conf, err := os.ReadFile(filepath.Join(composeDir, "nats.conf"))
	if err != nil {
		t.Fatal(err)
	}
	local := strings.ReplaceAll(string(conf), `"/nats-tls/`, `"`+natsTLS+`/`)
	local = strings.ReplaceAll(local, `store_dir: "/data"`, `store_dir: "`+filepath.Join(dir, "js")+`"`)
	confPath := filepath.Join(dir, "nats.conf")
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
	nc, err := nats.Connect(srv.ClientURL(), nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.CAPool(), Certificates: []tls.Certificate{clientCert}}))
	if err != nil {
		t.Fatalf("connect to the NATS server from nats.conf with a console certificate: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(context.Background()); err != nil {
		t.Fatalf("JetStream on the NATS server from nats.conf: %v", err)
	}
	if _, err := nats.Connect(srv.ClientURL(), nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.CAPool()})); err == nil {
		t.Fatal("the NATS server from nats.conf admitted a client without a certificate")
	}
}
