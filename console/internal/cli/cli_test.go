package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

var (
	t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	t1 = t0.Add(90*time.Second + 250*time.Millisecond)
)

// fakeConsole is a ConsoleServiceServer answering from fixed data. It records the
// authorization metadata and the requests it saw.
type fakeConsole struct {
	consolev1.UnimplementedConsoleServiceServer

	// scanStates is the sequence of states GetScan reports for scan "s-1", the last one
	// repeating; empty means complete.
	scanStates []sensorv1.ScanState

	mu          sync.Mutex // guards the fields below
	auth        []string
	requests    []proto.Message
	getScanSeen int
}

func (f *fakeConsole) record(ctx context.Context, req proto.Message) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, strings.Join(md.Get("authorization"), ","))
	f.requests = append(f.requests, req)
}

func (f *fakeConsole) seen() (auth []string, requests []proto.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auth...), append([]proto.Message(nil), f.requests...)
}

func (f *fakeConsole) ListNodes(ctx context.Context, req *consolev1.ListNodesRequest) (*consolev1.ListNodesResponse, error) {
	f.record(ctx, req)
	return &consolev1.ListNodesResponse{Nodes: []*consolev1.Node{
		{
			Id: "n-1", Name: "web-1", TargetType: "linux", Connected: true,
			Facts:      &sensorv1.NodeFacts{Hostname: "web-1", OsName: "Debian GNU/Linux 12"},
			LastSeenAt: timestamppb.New(t0),
		},
		{Id: "n-2", Name: "db-1", TargetType: "kubernetes"},
	}}, nil
}

func (f *fakeConsole) GetScan(ctx context.Context, req *consolev1.GetScanRequest) (*consolev1.Scan, error) {
	f.record(ctx, req)
	if req.GetScanId() != "s-1" {
		return nil, status.Errorf(codes.NotFound, "scan %q not found", req.GetScanId())
	}
	f.mu.Lock()
	state := sensorv1.ScanState_SCAN_STATE_COMPLETE
	if n := len(f.scanStates); n > 0 {
		state = f.scanStates[min(f.getScanSeen, n-1)]
	}
	f.getScanSeen++
	f.mu.Unlock()
	s := testScan()
	s.State = state
	if state == sensorv1.ScanState_SCAN_STATE_FAILED {
		s.Message = "sensor lost its host root"
	}
	return s, nil
}

func testScan() *consolev1.Scan {
	return &consolev1.Scan{
		Id: "s-1", GroupId: "g-1", NodeId: "n-1", NodeName: "web-1",
		State:        sensorv1.ScanState_SCAN_STATE_COMPLETE,
		BenchmarkIds: []string{"linux-cis", "linux-gdpr"},
		ControlsDone: 40, ControlsTotal: 40, ResultsStored: 52,
		CreatedAt: timestamppb.New(t0), StartedAt: timestamppb.New(t0), FinishedAt: timestamppb.New(t1),
		CreatedBy: "alice",
		Scores: []*consolev1.Score{
			{BenchmarkId: "linux-cis", Score: proto.Float64(100.0 * 2 / 3), Pass: 20, Fail: 10, Skip: 3, Masked: 2},
			{BenchmarkId: "linux-gdpr", Skip: 4},
		},
	}
}

func (f *fakeConsole) StartScan(ctx context.Context, req *consolev1.StartScanRequest) (*consolev1.StartScanResponse, error) {
	f.record(ctx, req)
	return &consolev1.StartScanResponse{GroupId: "g-1", Scans: []*consolev1.Scan{
		{Id: "s-1", NodeId: "n-1", NodeName: "web-1", State: sensorv1.ScanState_SCAN_STATE_QUEUED, BenchmarkIds: []string{"linux-cis"}, ControlsTotal: 40},
	}}, nil
}

// masked adds a mask to a result row.
func masked(r *consolev1.ResultRow) *consolev1.ResultRow {
	r.Mask = &consolev1.Mask{
		Id: "msk_1", ControlId: r.GetControlId(), NodeIds: []string{r.GetNodeId()}, Resource: r.GetResource(),
		Reason: "the banner comes with the image", CreatedAt: timestamppb.New(t0), CreatedBy: "alice", Active: true,
	}
	return r
}

// resultPages are the two pages ListResults serves.
func resultPages() map[string]*consolev1.ListResultsResponse {
	row := func(control, resource string, st sensorv1.Status, sev, reason string) *consolev1.ResultRow {
		return &consolev1.ResultRow{
			ScanId: "s-1", NodeId: "n-1", ControlId: control, Title: "Title of " + control,
			Severity: sev, Service: "SSH", Resource: resource, Status: st, Reason: reason,
		}
	}
	return map[string]*consolev1.ListResultsResponse{
		"": {Total: 3, NextPageToken: "p2", Results: []*consolev1.ResultRow{
			row("ssh-root-login", "/etc/ssh/sshd_config", sensorv1.Status_STATUS_FAIL, "high",
				"PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no"),
			row("ssh-max-auth", "", sensorv1.Status_STATUS_ERROR, "medium",
				"could not read /etc/ssh/sshd_config.d/50-cloud.conf: permission denied while following the Include directive from the main file, \"quoted\"\nsecond line"),
		}},
		"p2": {Total: 3, Results: []*consolev1.ResultRow{masked(row("ssh-banner", "sshd", sensorv1.Status_STATUS_PASS, "low", "Banner is set"))}},
	}
}

func (f *fakeConsole) ListResults(ctx context.Context, req *consolev1.ListResultsRequest) (*consolev1.ListResultsResponse, error) {
	f.record(ctx, req)
	page, ok := resultPages()[req.GetPageToken()]
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "bad page token %q", req.GetPageToken())
	}
	return page, nil
}

// pki is a throwaway CA and a server certificate for 127.0.0.1 and localhost.
type pki struct {
	caPEM      []byte
	serverCert tls.Certificate
}

func newPKI(t *testing.T) pki {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "palisade test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "palisade console"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pki{
		caPEM:      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		serverCert: tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey},
	}
}

// startConsole serves fake over TLS on 127.0.0.1:0 until the test ends and returns its
// address and the path of its CA certificate.
func startConsole(t *testing.T, fake *fakeConsole) (addr, caFile string) {
	t.Helper()
	p := newPKI(t)
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, p.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&p.serverCert)))
	consolev1.RegisterConsoleServiceServer(srv, fake)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("serve: %v", err)
		}
	})
	return lis.Addr().String(), caFile
}

// run executes the client commands with args, as palisade-console would, with
// PALISADE_TOKEN unset unless env sets it.
func run(t *testing.T, env string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runWithInput(t, env, "", args...)
}

// runWithInput is run with stdin as the commands' standard input.
func runWithInput(t *testing.T, env, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	t.Setenv(TokenEnv, env)
	root := &cobra.Command{Use: "palisade-console", SilenceUsage: true, SilenceErrors: true}
	AddClientCommands(root)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// flags returns the connection flags for a console started by startConsole.
func flags(addr, caFile string, args ...string) []string {
	return append(args, "--addr", addr, "--ca-file", caFile, "--token", "tok-1", "--data-dir", "/nonexistent")
}

// commandCase is one client command run against a fakeConsole: its arguments and standard
// input, the requests it must make and what it must print.
type commandCase struct {
	name       string
	args       []string
	stdin      string
	wantReqs   []proto.Message
	wantOut    string
	wantStderr string
}

// runCommandCases runs each case as a subtest, against a fakeConsole of its own.
func runCommandCases(t *testing.T, tests []commandCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeConsole{}
			addr, ca := startConsole(t, fake)
			out, errOut, err := runWithInput(t, "", tt.stdin, flags(addr, ca, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if out != tt.wantOut {
				t.Errorf("output:\n%s\nwant:\n%s", out, tt.wantOut)
			}
			if errOut != tt.wantStderr {
				t.Errorf("stderr = %q; want %q", errOut, tt.wantStderr)
			}
			_, reqs := fake.seen()
			if len(reqs) != len(tt.wantReqs) {
				t.Fatalf("requests = %v; want %v", reqs, tt.wantReqs)
			}
			for i := range reqs {
				if !proto.Equal(reqs[i], tt.wantReqs[i]) {
					t.Errorf("request %d = %v; want %v", i, reqs[i], tt.wantReqs[i])
				}
			}
		})
	}
}

func TestNodesList(t *testing.T) {
	fake := &fakeConsole{}
	addr, ca := startConsole(t, fake)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "table",
			args: []string{"nodes", "list"},
			want: "" +
				"ID   NAME   TYPE        OS                   CONNECTED  LAST SEEN\n" +
				"n-1  web-1  linux       Debian GNU/Linux 12  yes        2025-03-04T05:06:07Z\n" +
				"n-2  db-1   kubernetes  -                    no         -\n",
		},
		{
			name: "json",
			args: []string{"nodes", "list", "--format", "json"},
			want: `{
  "nodes": [
    {
      "id": "n-1",
      "name": "web-1",
      "target_type": "linux",
      "facts": {
        "hostname": "web-1",
        "target_type": "",
        "os_id": "",
        "os_version": "",
        "os_name": "Debian GNU/Linux 12",
        "kernel": "",
        "arch": "",
        "machine_id": "",
        "sensor_version": "",
        "catalog_version": ""
      },
      "enrolled_at": null,
      "last_seen_at": "2025-03-04T05:06:07Z",
      "connected": true
    },
    {
      "id": "n-2",
      "name": "db-1",
      "target_type": "kubernetes",
      "facts": null,
      "enrolled_at": null,
      "last_seen_at": null,
      "connected": false
    }
  ]
}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := run(t, "", flags(addr, ca, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if out != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", out, tt.want)
			}
		})
	}
	auth, reqs := fake.seen()
	for _, a := range auth {
		if a != "Bearer tok-1" {
			t.Errorf("authorization = %q; want %q", a, "Bearer tok-1")
		}
	}
	if len(reqs) != 2 || !proto.Equal(reqs[0], &consolev1.ListNodesRequest{}) {
		t.Errorf("requests = %v", reqs)
	}
}

func TestScanShow(t *testing.T) {
	addr, ca := startConsole(t, &fakeConsole{})
	out, _, err := run(t, "", flags(addr, ca, "scan", "show", "s-1")...)
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"Scan:        s-1\n" +
		"Group:       g-1\n" +
		"Node:        web-1 (n-1)\n" +
		"State:       complete\n" +
		"Benchmarks:  linux-cis, linux-gdpr\n" +
		"Progress:    40/40 controls, 52 results stored\n" +
		"Created:     2025-03-04T05:06:07Z\n" +
		"Started:     2025-03-04T05:06:07Z\n" +
		"Finished:    2025-03-04T05:07:37Z\n" +
		"Duration:    1m30.25s\n" +
		"Created by:  alice\n" +
		"\n" +
		"BENCHMARK   SCORE  PASS  FAIL  INFO  SKIP  ERROR  MASKED\n" +
		"linux-cis   66.7%  20    10    0     3     0      2\n" +
		"linux-gdpr  n/a    0     0     0     4     0      0\n"
	if out != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}

	_, _, err = run(t, "", flags(addr, ca, "scan", "show", "nope")...)
	if want := `show scan: scan "nope" not found`; err == nil || err.Error() != want {
		t.Errorf("error = %v; want %s", err, want)
	}
}

func TestResultsPaging(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantOut    string
		wantErr    string
		wantTokens []string // page tokens requested, in order
	}{
		{
			name: "table, every page",
			args: []string{"results", "s-1", "--all"},
			wantOut: "" +
				"STATUS  SEVERITY  CONTROL         RESOURCE              REASON\n" +
				"fail    high      ssh-root-login  /etc/ssh/sshd_config  PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no\n" +
				"error   medium    ssh-max-auth    -                     could not read /etc/ssh/sshd_config.d/50-cloud.conf: permission denie...\n" +
				"pass    low       ssh-banner      sshd                  Banner is set\n",
			wantTokens: []string{"", "p2"},
		},
		{
			name: "table, one page",
			args: []string{"results", "s-1"},
			wantOut: "" +
				"STATUS  SEVERITY  CONTROL         RESOURCE              REASON\n" +
				"fail    high      ssh-root-login  /etc/ssh/sshd_config  PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no\n" +
				"error   medium    ssh-max-auth    -                     could not read /etc/ssh/sshd_config.d/50-cloud.conf: permission denie...\n",
			wantErr:    "showing 2 of 3 results: pass --page-token p2 for the next page, or --all\n",
			wantTokens: []string{""},
		},
		{
			name: "csv, every page",
			args: []string{"results", "s-1", "--all", "--format", "csv"},
			wantOut: "" +
				"scan_id,node_id,control_id,title,severity,service,resource,status,reason,mask_id\n" +
				"s-1,n-1,ssh-root-login,Title of ssh-root-login,high,SSH,/etc/ssh/sshd_config,fail,PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no,\n" +
				"s-1,n-1,ssh-max-auth,Title of ssh-max-auth,medium,SSH,,error,\"could not read /etc/ssh/sshd_config.d/50-cloud.conf: permission denied while following the Include directive from the main file, \"\"quoted\"\"\nsecond line\",\n" +
				"s-1,n-1,ssh-banner,Title of ssh-banner,low,SSH,sshd,pass,Banner is set,msk_1\n",
			wantTokens: []string{"", "p2"},
		},
		{
			name: "json, every page merged",
			args: []string{"results", "s-1", "--all", "--format", "json", "--status", "pass"},
			wantOut: `{
  "results": [
    {
      "scan_id": "s-1",
      "node_id": "n-1",
      "control_id": "ssh-root-login",
      "resource": "/etc/ssh/sshd_config",
      "status": "STATUS_FAIL",
      "reason": "PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no",
      "evidence": [],
      "title": "Title of ssh-root-login",
      "severity": "high",
      "service": "SSH",
      "mask": null
    },
    {
      "scan_id": "s-1",
      "node_id": "n-1",
      "control_id": "ssh-max-auth",
      "resource": "",
      "status": "STATUS_ERROR",
      "reason": "could not read /etc/ssh/sshd_config.d/50-cloud.conf: permission denied while following the Include directive from the main file, \"quoted\"\nsecond line",
      "evidence": [],
      "title": "Title of ssh-max-auth",
      "severity": "medium",
      "service": "SSH",
      "mask": null
    },
    {
      "scan_id": "s-1",
      "node_id": "n-1",
      "control_id": "ssh-banner",
      "resource": "sshd",
      "status": "STATUS_PASS",
      "reason": "Banner is set",
      "evidence": [],
      "title": "Title of ssh-banner",
      "severity": "low",
      "service": "SSH",
      "mask": {
        "id": "msk_1",
        "control_id": "ssh-banner",
        "node_ids": [
          "n-1"
        ],
        "resource": "sshd",
        "reason": "the banner comes with the image",
        "created_at": "2025-03-04T05:06:07Z",
        "created_by": "alice",
        "expires_at": null,
        "removed_at": null,
        "removed_by": "",
        "active": true
      }
    }
  ],
  "next_page_token": "",
  "total": "3"
}
`,
			wantTokens: []string{"", "p2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeConsole{}
			addr, ca := startConsole(t, fake)
			out, errOut, err := run(t, "", flags(addr, ca, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if out != tt.wantOut {
				t.Errorf("output:\n%s\nwant:\n%s", out, tt.wantOut)
			}
			if errOut != tt.wantErr {
				t.Errorf("stderr = %q; want %q", errOut, tt.wantErr)
			}
			_, reqs := fake.seen()
			var tokens []string
			for _, r := range reqs {
				tokens = append(tokens, r.(*consolev1.ListResultsRequest).GetPageToken())
			}
			if strings.Join(tokens, "|") != strings.Join(tt.wantTokens, "|") {
				t.Errorf("page tokens requested = %q; want %q", tokens, tt.wantTokens)
			}
		})
	}
}

func TestResultsFilters(t *testing.T) {
	fake := &fakeConsole{}
	addr, ca := startConsole(t, fake)
	_, _, err := run(t, "", flags(addr, ca, "results", "s-1", "--benchmark", "cis", "--status", "fail,ERROR",
		"--service", "SSH", "--severity", "High", "--page-size", "2")...)
	if err != nil {
		t.Fatal(err)
	}
	_, reqs := fake.seen()
	want := &consolev1.ListResultsRequest{
		ScanId: "s-1", Benchmark: "cis", Service: "SSH", Severity: "high", PageSize: 2,
		Statuses: []sensorv1.Status{sensorv1.Status_STATUS_FAIL, sensorv1.Status_STATUS_ERROR},
	}
	if len(reqs) != 1 || !proto.Equal(reqs[0], want) {
		t.Errorf("requests = %v; want [%v]", reqs, want)
	}
}

func TestBadFlagsNeverCallTheConsole(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"results", "s-1", "--status", "fail,bogus"}, `--status: unknown status "bogus" (want one of pass, fail, info, skip, error)`},
		{[]string{"results", "s-1", "--severity", "urgent"}, `--severity: unknown severity "urgent" (want one of critical, high, medium, low)`},
		{[]string{"results", "s-1", "--format", "xml"}, `unknown --format "xml" (want one of table, json, csv)`},
		{[]string{"nodes", "list", "--format", "csv"}, `unknown --format "csv" (want one of table, json)`},
		{[]string{"scan", "list", "--state", "done"}, `--state: unknown scan state "done" (want one of queued, dispatched, running, complete, failed, cancelled, timed_out)`},
		{[]string{"token", "create", "--ttl", "1500ms"}, `--ttl 1.5s: want a whole number of seconds from 1s to 4294967295s, e.g. 1h or 15m`},
		{[]string{"token", "create", "--uses", "0"}, `--uses must be at least 1`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fake := &fakeConsole{}
			addr, ca := startConsole(t, fake)
			_, _, err := run(t, "", flags(addr, ca, tt.args...)...)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("error = %v; want %s", err, tt.wantErr)
			}
			if _, reqs := fake.seen(); len(reqs) != 0 {
				t.Errorf("the console was called: %v", reqs)
			}
		})
	}
}

// writeDataDir lays out a console data directory: console.json, pki/ca.pem and, when token
// is not empty, cli.token.
func writeDataDir(t *testing.T, grpcAddr, caFile, token string) string {
	t.Helper()
	dir := t.TempDir()
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		ConsoleInfoFile: `{"grpc_addr": "` + grpcAddr + `", "http_addr": "127.0.0.1:1"}`,
		CAFile:          string(ca),
	}
	if token != "" {
		files[TokenFile] = token + "\n"
	}
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDataDirDiscovery(t *testing.T) {
	fake := &fakeConsole{}
	addr, ca := startConsole(t, fake)
	_, port, _ := net.SplitHostPort(addr)
	tests := []struct {
		name     string
		grpcAddr string // written to console.json
		args     []string
		env      string
		wantAuth string
	}{
		{"everything from the data directory", addr, nil, "", "Bearer file-token"},
		{"wildcard listen address", "0.0.0.0:" + port, nil, "", "Bearer file-token"},
		{"token from the environment wins", addr, nil, "env-token", "Bearer env-token"},
		{"token flag wins", addr, []string{"--token", "flag-token"}, "env-token", "Bearer flag-token"},
		{"--addr with the data directory's CA", "192.0.2.1:1", []string{"--addr", addr}, "", "Bearer file-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDataDir(t, tt.grpcAddr, ca, "file-token")
			before, _ := fake.seen()
			args := append([]string{"nodes", "list", "--data-dir", dir}, tt.args...)
			if _, _, err := run(t, tt.env, args...); err != nil {
				t.Fatal(err)
			}
			auth, _ := fake.seen()
			if len(auth) != len(before)+1 || auth[len(auth)-1] != tt.wantAuth {
				t.Errorf("authorization seen = %q; want one more call with %q", auth[len(before):], tt.wantAuth)
			}
		})
	}
}

func TestConnectionErrors(t *testing.T) {
	fake := &fakeConsole{}
	addr, ca := startConsole(t, fake)
	noToken := writeDataDir(t, addr, ca, "")
	empty := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{
			name:    "missing token",
			args:    []string{"--data-dir", noToken},
			wantErr: "no API token: pass --token, set PALISADE_TOKEN, or use --data-dir with a console data directory that has cli.token",
		},
		{
			name:    "no console.json",
			args:    []string{"--data-dir", empty},
			wantErr: "no console address: pass --addr host:port, or --data-dir with the data directory of a running console (" + filepath.Join(empty, "console.json") + " does not exist)",
		},
		{
			name:    "--addr without a CA",
			args:    []string{"--data-dir", empty, "--addr", addr, "--token", "t"},
			wantErr: "no CA to verify the console at " + addr + ": pass --ca-file with the console's CA certificate (" + filepath.Join(empty, "pki/ca.pem") + " is not there)",
		},
		{
			name:    "--addr not host:port",
			args:    []string{"--addr", "console.example", "--ca-file", ca, "--token", "t"},
			wantErr: `--addr "console.example" is not host:port: address console.example: missing port in address`,
		},
		{
			name:    "CA file without a certificate",
			args:    []string{"--addr", addr, "--ca-file", filepath.Join(noToken, ConsoleInfoFile), "--token", "t"},
			wantErr: "no PEM certificate in " + filepath.Join(noToken, ConsoleInfoFile) + "; pass --ca-file with the console's CA certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, "", append([]string{"nodes", "list"}, tt.args...)...)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("error = %v\nwant    %s", err, tt.wantErr)
			}
		})
	}
	if _, reqs := fake.seen(); len(reqs) != 0 {
		t.Errorf("the console was called: %v", reqs)
	}
}

func TestWrongCAIsRefused(t *testing.T) {
	fake := &fakeConsole{}
	addr, _ := startConsole(t, fake)
	_, otherCA := startConsole(t, &fakeConsole{})
	_, _, err := run(t, "", flags(addr, otherCA, "nodes", "list")...)
	if err == nil || !strings.HasPrefix(err.Error(), "list nodes: console at "+addr+" unreachable: ") {
		t.Errorf("error = %v; want the console unreachable over an unverified certificate", err)
	}
	if auth, _ := fake.seen(); len(auth) != 0 {
		t.Errorf("the token reached a console the CA does not vouch for: %q", auth)
	}
}

func TestScanStart(t *testing.T) {
	tests := []struct {
		name       string
		states     []sensorv1.ScanState
		args       []string
		wantOut    string
		wantErr    string
		wantStderr string
	}{
		{
			name: "no wait",
			args: []string{"scan", "start", "--node", "web-1", "--benchmark", "cis,nist", "--exclude", "ssh-banner"},
			wantOut: "" +
				"Group: g-1\n" +
				"ID   NODE   STATE   PROGRESS  BENCHMARKS  CREATED\n" +
				"s-1  web-1  queued  0/40      linux-cis   -\n",
		},
		{
			name:   "wait until complete",
			states: []sensorv1.ScanState{sensorv1.ScanState_SCAN_STATE_RUNNING, sensorv1.ScanState_SCAN_STATE_RUNNING, sensorv1.ScanState_SCAN_STATE_COMPLETE},
			args:   []string{"scan", "start", "--node", "web-1", "--benchmark", "cis,nist", "--exclude", "ssh-banner", "--wait"},
			wantOut: "" +
				"Scan s-1 on web-1: complete, 52 results\n" +
				"BENCHMARK   SCORE  PASS  FAIL  INFO  SKIP  ERROR  MASKED\n" +
				"linux-cis   66.7%  20    10    0     3     0      2\n" +
				"linux-gdpr  n/a    0     0     0     4     0      0\n",
			wantStderr: "s-1 web-1: running, 40/40 controls, 52 results\n" +
				"s-1 web-1: complete, 40/40 controls, 52 results\n",
		},
		{
			name:   "wait, scan failed",
			states: []sensorv1.ScanState{sensorv1.ScanState_SCAN_STATE_FAILED},
			args:   []string{"scan", "start", "--node", "web-1", "--benchmark", "cis,nist", "--exclude", "ssh-banner", "--wait"},
			wantOut: "" +
				"Scan s-1 on web-1: failed, 52 results\n" +
				"BENCHMARK   SCORE  PASS  FAIL  INFO  SKIP  ERROR  MASKED\n" +
				"linux-cis   66.7%  20    10    0     3     0      2\n" +
				"linux-gdpr  n/a    0     0     0     4     0      0\n",
			wantStderr: "s-1 web-1: failed, 40/40 controls, 52 results (sensor lost its host root)\n",
			wantErr:    "scan s-1 on web-1 ended failed: sensor lost its host root",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeConsole{scanStates: tt.states}
			addr, ca := startConsole(t, fake)
			out, errOut, err := run(t, "", flags(addr, ca, tt.args...)...)
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Errorf("error = %v; want %s", err, tt.wantErr)
			}
			if out != tt.wantOut {
				t.Errorf("output:\n%s\nwant:\n%s", out, tt.wantOut)
			}
			if errOut != tt.wantStderr {
				t.Errorf("stderr:\n%s\nwant:\n%s", errOut, tt.wantStderr)
			}
			_, reqs := fake.seen()
			want := &consolev1.StartScanRequest{Nodes: []string{"web-1"}, Benchmarks: []string{"cis", "nist"}, ExcludeControls: []string{"ssh-banner"}}
			if len(reqs) == 0 || !proto.Equal(reqs[0], want) {
				t.Errorf("first request = %v; want %v", reqs, want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly ten", 11, "exactly ten"},
		{"one line\nsecond", 20, "one line..."},
		{"a somewhat long reason", 10, "a somew..."},
		{"ééééééééééé", 6, "ééé..."},
		{"  padded  ", 10, "padded"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q; want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestEnumText(t *testing.T) {
	if got := statusText(sensorv1.Status_STATUS_PASS); got != "pass" {
		t.Errorf("statusText(STATUS_PASS) = %q", got)
	}
	if got := stateText(sensorv1.ScanState_SCAN_STATE_TIMED_OUT); got != "timed_out" {
		t.Errorf("stateText(SCAN_STATE_TIMED_OUT) = %q", got)
	}
	for _, in := range []string{"timed_out", "TIMED_OUT", "SCAN_STATE_TIMED_OUT"} {
		if got, err := parseState(in); err != nil || got != sensorv1.ScanState_SCAN_STATE_TIMED_OUT {
			t.Errorf("parseState(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := parseStatus("unspecified"); err == nil {
		t.Error("parseStatus(unspecified) succeeded")
	}
}

// TestCoexistsWithServeFlags checks the client flags live beside a root that already has
// --data-dir and a serve command with its own --addr.
func TestCoexistsWithServeFlags(t *testing.T) {
	fake := &fakeConsole{}
	addr, ca := startConsole(t, fake)
	dir := writeDataDir(t, addr, ca, "file-token")
	t.Setenv(TokenEnv, "")

	root := &cobra.Command{Use: "palisade-console", SilenceUsage: true, SilenceErrors: true}
	root.PersistentFlags().String("data-dir", "./data", "data directory")
	var serveAddr string
	serve := &cobra.Command{Use: "serve", RunE: func(*cobra.Command, []string) error { return nil }}
	serve.Flags().StringVar(&serveAddr, "addr", "", "listen address")
	root.AddCommand(serve)
	AddClientCommands(root)

	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir},
		{"nodes", "list", "--data-dir", dir},
	} {
		root.SetOut(&bytes.Buffer{})
		root.SetArgs(args)
		if err := root.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	if serveAddr != "127.0.0.1:0" {
		t.Errorf("serve --addr = %q", serveAddr)
	}
	if auth, _ := fake.seen(); len(auth) != 1 || auth[0] != "Bearer file-token" {
		t.Errorf("authorization seen = %q", auth)
	}
}

func (f *fakeConsole) GetNode(ctx context.Context, req *consolev1.GetNodeRequest) (*consolev1.Node, error) {
	f.record(ctx, req)
	return &consolev1.Node{Id: "n-1", Name: req.GetNode(), TargetType: "linux", Facts: &sensorv1.NodeFacts{Kernel: "6.1.0"}}, nil
}

func (f *fakeConsole) ListBenchmarks(ctx context.Context, req *consolev1.ListBenchmarksRequest) (*consolev1.ListBenchmarksResponse, error) {
	f.record(ctx, req)
	return &consolev1.ListBenchmarksResponse{Benchmarks: []*consolev1.Benchmark{
		{Id: "linux-cis", ShortName: "cis", TargetType: "linux", Version: "3.0.0", ControlCount: 212, Title: "CIS Distribution Independent Linux"},
	}}, nil
}

func (f *fakeConsole) ListControls(ctx context.Context, req *consolev1.ListControlsRequest) (*consolev1.ListControlsResponse, error) {
	f.record(ctx, req)
	return &consolev1.ListControlsResponse{Controls: []*consolev1.Control{
		{Id: "ssh-root-login", Severity: "high", Service: "SSH", Title: "SSH root login is disabled"},
	}}, nil
}

func (f *fakeConsole) StopScan(ctx context.Context, req *consolev1.StopScanRequest) (*consolev1.Scan, error) {
	f.record(ctx, req)
	return &consolev1.Scan{Id: req.GetScanId(), NodeName: "web-1", State: sensorv1.ScanState_SCAN_STATE_CANCELLED}, nil
}

func (f *fakeConsole) ListScans(ctx context.Context, req *consolev1.ListScansRequest) (*consolev1.ListScansResponse, error) {
	f.record(ctx, req)
	if req.GetPageToken() == "" {
		return &consolev1.ListScansResponse{Scans: []*consolev1.Scan{testScan()}, NextPageToken: "next"}, nil
	}
	return &consolev1.ListScansResponse{Scans: []*consolev1.Scan{{Id: "s-0", NodeId: "n-2", State: sensorv1.ScanState_SCAN_STATE_TIMED_OUT}}}, nil
}

func (f *fakeConsole) CreateEnrolmentToken(ctx context.Context, req *consolev1.CreateEnrolmentTokenRequest) (*consolev1.EnrolmentToken, error) {
	f.record(ctx, req)
	return &consolev1.EnrolmentToken{
		Id: "t-1", Token: "enrol-secret", ExpiresAt: timestamppb.New(t0), Uses: req.GetUses(), CreatedAt: timestamppb.New(t0), CreatedBy: "adam",
		SensorCommand: "palisade-sensor run --console=console.example.com:7443 --token=enrol-secret", DaemonsetSnippet: "kind: Secret\n",
	}, nil
}

func TestOtherCommands(t *testing.T) {
	runCommandCases(t, []commandCase{
		{
			name:     "nodes show",
			args:     []string{"nodes", "show", "web-1"},
			wantReqs: []proto.Message{&consolev1.GetNodeRequest{Node: "web-1"}},
			wantOut: "" +
				"ID:         n-1\n" +
				"Name:       web-1\n" +
				"Type:       linux\n" +
				"Connected:  no\n" +
				"Hostname:   -\n" +
				"OS:         -\n" +
				"Kernel:     6.1.0\n" +
				"Arch:       -\n" +
				"Sensor:     -\n" +
				"Enrolled:   -\n" +
				"Last seen:  -\n",
		},
		{
			name:     "benchmarks list",
			args:     []string{"benchmarks", "list", "--target-type", "linux"},
			wantReqs: []proto.Message{&consolev1.ListBenchmarksRequest{TargetType: "linux"}},
			wantOut: "" +
				"ID         SHORT NAME  TYPE   VERSION  CONTROLS  TITLE\n" +
				"linux-cis  cis         linux  3.0.0    212       CIS Distribution Independent Linux\n",
		},
		{
			name:     "controls list",
			args:     []string{"controls", "list", "--benchmark", "cis", "--target-type", "linux"},
			wantReqs: []proto.Message{&consolev1.ListControlsRequest{Benchmark: "cis", TargetType: "linux"}},
			wantOut: "" +
				"ID              SEVERITY  SERVICE  TITLE\n" +
				"ssh-root-login  high      SSH      SSH root login is disabled\n",
			wantStderr: "1 controls\n",
		},
		{
			name:     "scan stop",
			args:     []string{"scan", "stop", "s-9"},
			wantReqs: []proto.Message{&consolev1.StopScanRequest{ScanId: "s-9"}},
			wantOut:  "Scan s-9 on web-1: cancelled\n",
		},
		{
			name:     "scan list, one page",
			args:     []string{"scan", "list", "--node", "web-1", "--state", "complete", "--page-size", "1"},
			wantReqs: []proto.Message{&consolev1.ListScansRequest{Node: "web-1", State: sensorv1.ScanState_SCAN_STATE_COMPLETE, PageSize: 1}},
			wantOut: "" +
				"ID   NODE   STATE     PROGRESS  BENCHMARKS            CREATED\n" +
				"s-1  web-1  complete  40/40     linux-cis,linux-gdpr  2025-03-04T05:06:07Z\n",
			wantStderr: "more scans: pass --page-token next, or --all\n",
		},
		{
			name: "scan list, every page",
			args: []string{"scan", "list", "--all"},
			wantReqs: []proto.Message{
				&consolev1.ListScansRequest{},
				&consolev1.ListScansRequest{PageToken: "next"},
			},
			wantOut: "" +
				"ID   NODE   STATE      PROGRESS  BENCHMARKS            CREATED\n" +
				"s-1  web-1  complete   40/40     linux-cis,linux-gdpr  2025-03-04T05:06:07Z\n" +
				"s-0  n-2    timed_out  0/0       -                     -\n",
		},
		{
			name:     "token create",
			args:     []string{"token", "create", "--ttl", "15m", "--uses", "3"},
			wantReqs: []proto.Message{&consolev1.CreateEnrolmentTokenRequest{TtlSeconds: 900, Uses: 3}},
			wantOut: "" +
				"Token:         enrol-secret\n" +
				"ID:            t-1\n" +
				"Expires:       2025-03-04T05:06:07Z\n" +
				"Uses:          0 of 3 used\n" +
				"Enrol a host:  palisade-sensor run --console=console.example.com:7443 --token=enrol-secret\n",
			wantStderr: "The token is shown only now; give it to the sensors that should enrol.\n",
		},
		{
			name:     "token create, defaults",
			args:     []string{"token", "create", "--format", "json"},
			wantReqs: []proto.Message{&consolev1.CreateEnrolmentTokenRequest{TtlSeconds: 3600, Uses: 1}},
			wantOut: `{
  "id": "t-1",
  "token": "enrol-secret",
  "expires_at": "2025-03-04T05:06:07Z",
  "uses": 1,
  "used": 0,
  "created_at": "2025-03-04T05:06:07Z",
  "revoked_at": null,
  "created_by": "adam",
  "sensor_command": "palisade-sensor run --console=console.example.com:7443 --token=enrol-secret",
  "daemonset_snippet": "kind: Secret\n"
}
`,
		},
	})
}
