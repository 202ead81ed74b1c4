package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/pkg/enrolment"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clock is a settable test clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newAuthority(t *testing.T, dir string, c *clock, hosts ...string) *Authority {
	t.Helper()
	a, err := LoadOrCreate(Config{Dir: dir, Hosts: hosts, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func serial(a *Authority) string { return a.ServerCertificate().Leaf.SerialNumber.String() }

func TestLoadOrCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	c := &clock{now: t0}
	a := newAuthority(t, dir, c, "console.example", "10.0.0.5")

	wantModes := map[string]os.FileMode{CAFileName: 0o644, CAKeyFileName: 0o600, CertFileName: 0o644, CertKeyFileName: 0o600}
	for name, want := range wantModes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode = %o, want %o", name, fi.Mode().Perm(), want)
		}
	}
	ca := a.CACert()
	if !ca.IsCA || ca.PublicKeyAlgorithm != x509.ECDSA || ca.PublicKey.(*ecdsa.PublicKey).Curve != elliptic.P256() {
		t.Errorf("CA is not an ECDSA P-256 CA certificate")
	}
	if got, want := ca.NotAfter, t0.Add(CAValidity).Truncate(time.Second); !got.Equal(want) {
		t.Errorf("CA NotAfter = %s, want %s", got, want)
	}
	block, _ := pem.Decode(a.CACertPEM())
	sum := sha256.Sum256(block.Bytes)
	if got, want := a.CAFingerprint(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("CAFingerprint = %s, want %s", got, want)
	}
	leaf := a.ServerCertificate().Leaf
	if got, want := certHosts(leaf), []string{"10.0.0.5", "127.0.0.1", "::1", "console.example", "localhost"}; !slices.Equal(got, want) {
		t.Errorf("server certificate hosts = %v, want %v", got, want)
	}
	if got, want := leaf.NotAfter, t0.Add(ServerCertValidity).Truncate(time.Second); !got.Equal(want) {
		t.Errorf("server NotAfter = %s, want %s", got, want)
	}
	if chain := a.ServerCertificate().Certificate; len(chain) != 2 || string(chain[1]) != string(ca.Raw) {
		t.Errorf("server chain has %d certificates, want the leaf and the CA", len(chain))
	}

	// A second start loads the same CA and server certificate.
	b := newAuthority(t, dir, c, "10.0.0.5", "console.example.")
	if b.CAFingerprint() != a.CAFingerprint() {
		t.Error("second start made a new CA")
	}
	if serial(b) != serial(a) {
		t.Error("second start made a new server certificate")
	}
}

func TestServerCertRenewal(t *testing.T) {
	tests := []struct {
		name      string
		advance   time.Duration
		hosts     []string
		wantRenew bool
	}{
		{"unchanged", 0, []string{"a.example"}, false},
		{"31 days left", ServerCertValidity - 31*24*time.Hour, []string{"a.example"}, false},
		{"29 days left", ServerCertValidity - 29*24*time.Hour, []string{"a.example"}, true},
		{"expired", ServerCertValidity + time.Hour, []string{"a.example"}, true},
		{"host added", 0, []string{"a.example", "b.example"}, true},
		{"host replaced", 0, []string{"b.example"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			c := &clock{now: t0}
			a := newAuthority(t, dir, c, "a.example")
			c.now = t0.Add(tt.advance)
			b := newAuthority(t, dir, c, tt.hosts...)
			if b.CAFingerprint() != a.CAFingerprint() {
				t.Fatal("the CA changed")
			}
			if renewed := serial(b) != serial(a); renewed != tt.wantRenew {
				t.Errorf("renewed = %v, want %v", renewed, tt.wantRenew)
			}
			if tt.wantRenew {
				if got, want := b.ServerCertificate().Leaf.NotAfter, c.now.Add(ServerCertValidity).Truncate(time.Second); !got.Equal(want) {
					t.Errorf("renewed NotAfter = %s, want %s", got, want)
				}
			}
		})
	}
}

func TestServerCertRenewedWhileRunning(t *testing.T) {
	c := &clock{now: t0}
	a := newAuthority(t, t.TempDir(), c)
	before := serial(a)
	cfg := a.ServerTLSConfig()
	c.now = t0.Add(ServerCertValidity - 10*24*time.Hour)
	got, err := cfg.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Leaf.SerialNumber.String() == before {
		t.Error("the server certificate was not renewed near its expiry")
	}
	if !got.Leaf.NotAfter.Equal(c.now.Add(ServerCertValidity).Truncate(time.Second)) {
		t.Errorf("renewed NotAfter = %s", got.Leaf.NotAfter)
	}
}

func TestGivenFiles(t *testing.T) {
	c := &clock{now: t0}
	src := t.TempDir()
	a := newAuthority(t, src, c)
	ca, caKey := filepath.Join(src, CAFileName), filepath.Join(src, CAKeyFileName)
	cert, key := filepath.Join(src, CertFileName), filepath.Join(src, CertKeyFileName)

	// The CA given, the server certificate made in Dir.
	b, err := LoadOrCreate(Config{Dir: t.TempDir(), CAFile: ca, CAKeyFile: caKey, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if b.CAFingerprint() != a.CAFingerprint() {
		t.Error("the given CA was not used")
	}
	// Everything given, no Dir.
	g, err := LoadOrCreate(Config{CAFile: ca, CAKeyFile: caKey, CertFile: cert, KeyFile: key, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if serial(g) != serial(a) || len(g.ServerCertificate().Certificate) != 2 {
		t.Error("the given server certificate was not used with the CA in its chain")
	}
	// A given certificate is never renewed.
	givenSerial := serial(g)
	c.now = t0.Add(ServerCertValidity - time.Hour)
	if serial(g) != givenSerial {
		t.Error("a given server certificate was renewed")
	}
	c.now = t0

	other := newAuthority(t, t.TempDir(), c)
	otherCert := filepath.Join(other.dir, CertFileName)
	otherKey := filepath.Join(other.dir, CertKeyFileName)
	onlyCA := t.TempDir()
	if err := os.WriteFile(filepath.Join(onlyCA, CAFileName), a.CACertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{}, "pki: a directory for the CA files is required unless both the CA and the server certificate are given"},
		{"CA without key", Config{Dir: t.TempDir(), CAFile: ca}, "pki: the CA certificate and the CA key must be given together (the console signs node certificates with the key)"},
		{"CA key of another CA", Config{Dir: t.TempDir(), CAFile: ca, CAKeyFile: filepath.Join(other.dir, CAKeyFileName)}, "pki: the CA key " + filepath.Join(other.dir, CAKeyFileName) + " does not belong to the CA certificate " + ca},
		{"server cert without CA", Config{Dir: t.TempDir(), CertFile: cert, KeyFile: key}, "pki: a given server certificate needs the CA that signed it to be given too"},
		{"server cert without key", Config{Dir: t.TempDir(), CAFile: ca, CAKeyFile: caKey, CertFile: cert}, "pki: the server certificate and its key must be given together"},
		{"server cert of another CA", Config{CAFile: ca, CAKeyFile: caKey, CertFile: otherCert, KeyFile: otherKey}, "pki: server certificate " + otherCert + ": not valid under the CA for server authentication: x509: certificate signed by unknown authority"},
		{"half a CA in dir", Config{Dir: onlyCA}, "pki: found only one of ca.pem and ca-key.pem in " + onlyCA + "; restore the missing file, or move both away to create a new CA (every node must then enrol again)"},
		{"not a CA", Config{Dir: t.TempDir(), CAFile: cert, CAKeyFile: key}, "pki: " + cert + " is not a CA certificate (basic constraints CA:TRUE missing)"},
		{"bad host", Config{Dir: t.TempDir(), Hosts: []string{"https://x"}}, `pki: "https://x" is neither a host name nor an IP address; give bare names without ports or schemes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Now = c.Now
			_, err := LoadOrCreate(tt.cfg)
			// Errors from crypto/x509 may add detail after the expected text.
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %v\nwant    %s", err, tt.want)
			}
		})
	}
}

func newCSR(t *testing.T) []byte {
	t.Helper()
	_, csr, err := enrolment.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func TestSignNode(t *testing.T) {
	c := &clock{now: t0}
	a := newAuthority(t, t.TempDir(), c)
	certPEM, err := a.SignNode(newCSR(t), "node-7", 0)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "node-7" {
		t.Errorf("CN = %q, want node-7", cert.Subject.CommonName)
	}
	if len(cert.URIs) != 1 || cert.URIs[0].String() != "palisade://node/node-7" {
		t.Errorf("URIs = %v, want [palisade://node/node-7]", cert.URIs)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ExtKeyUsage = %v, want client auth only", cert.ExtKeyUsage)
	}
	if !cert.NotAfter.Equal(t0.Add(DefaultNodeCertTTL).Truncate(time.Second)) {
		t.Errorf("NotAfter = %s", cert.NotAfter)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: a.CAPool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("node certificate does not verify under the CA: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: a.CAPool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		t.Error("node certificate is valid for server authentication")
	}
	id, err := NodeIDFromCert(cert)
	if err != nil || id != "node-7" {
		t.Errorf("NodeIDFromCert = %q, %v; want node-7", id, err)
	}

	// A TTL past the CA's expiry is cut to it.
	long, err := a.SignNode(newCSR(t), "node-8", 20*CAValidity)
	if err != nil {
		t.Fatal(err)
	}
	lc, _ := parseCertPEM(long)
	if !lc.NotAfter.Equal(a.CACert().NotAfter) {
		t.Errorf("NotAfter = %s, want the CA's %s", lc.NotAfter, a.CACert().NotAfter)
	}

	tampered := newCSR(t)
	tampered[len(tampered)-3] ^= 0xff
	smallKeyCSR := func() []byte {
		k, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}()
	tests := []struct {
		name   string
		csr    []byte
		nodeID string
		want   string
	}{
		{"bad node id", newCSR(t), "Node.1", `sign node certificate: node id "Node.1" has 'N' at offset 0; only lowercase letters, digits and '-' are allowed`},
		{"not DER", []byte("nope"), "n1", "sign node certificate: the certificate request is not valid DER PKCS#10"},
		{"bad signature", tampered, "n1", "sign node certificate: the certificate request's signature does not verify"},
		{"weak curve", smallKeyCSR, "n1", "sign node certificate: ECDSA key on curve P-224 is not accepted; use P-256 or P-384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.SignNode(tt.csr, tt.nodeID, 0)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %v, want one starting with %q", err, tt.want)
			}
		})
	}
}

func TestIdentities(t *testing.T) {
	c := &clock{now: t0}
	a := newAuthority(t, t.TempDir(), c)
	console, err := a.IssueConsoleClient()
	if err != nil {
		t.Fatal(err)
	}
	if console.Leaf.Subject.CommonName != ConsoleCommonName {
		t.Errorf("console CN = %q", console.Leaf.Subject.CommonName)
	}
	if _, err := console.Leaf.Verify(x509.VerifyOptions{Roots: a.CAPool(), CurrentTime: t0, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("console certificate does not verify: %v", err)
	}
	id, err := IdentityFromCert(console.Leaf)
	if err != nil || id != (Identity{Role: RoleConsole}) {
		t.Errorf("IdentityFromCert(console) = %+v, %v", id, err)
	}
	if _, err := NodeIDFromCert(console.Leaf); !errors.Is(err, ErrConsoleIdentity) {
		t.Errorf("NodeIDFromCert(console) error = %v, want ErrConsoleIdentity", err)
	}

	mk := func(uris ...string) *x509.Certificate {
		c := &x509.Certificate{Subject: pkix.Name{CommonName: "x"}}
		for _, s := range uris {
			u, err := url.Parse(s)
			if err != nil {
				t.Fatal(err)
			}
			c.URIs = append(c.URIs, u)
		}
		return c
	}
	tests := []struct {
		name string
		cert *x509.Certificate
		want string
	}{
		{"nil", nil, "no client certificate"},
		{"no URI", mk(), `client certificate "x" names no Palisade identity (no palisade:// URI SAN)`},
		{"other scheme only", mk("spiffe://node/n1"), `client certificate "x" names no Palisade identity (no palisade:// URI SAN)`},
		{"two identities", mk("palisade://node/n1", "palisade://console"), `client certificate "x" names 2 Palisade identities, want exactly one`},
		{"bad node id", mk("palisade://node/N1"), `client certificate identity "palisade://node/N1": node id "N1" has 'N' at offset 0; only lowercase letters, digits and '-' are allowed`},
		{"nested path", mk("palisade://node/n1/x"), `client certificate identity "palisade://node/n1/x": node id "n1/x" has '/' at offset 2; only lowercase letters, digits and '-' are allowed`},
		{"unknown role", mk("palisade://admin"), `client certificate identity "palisade://admin" is not a node or the console`},
		{"console with path", mk("palisade://console/x"), `client certificate identity "palisade://console/x" is not a node or the console`},
		{"query", mk("palisade://node/n1?x=1"), `client certificate identity "palisade://node/n1?x=1" is malformed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := IdentityFromCert(tt.cert)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v\nwant    %s", err, tt.want)
			}
		})
	}
}

// TestServerTLSConfigWithPin runs real handshakes: an enrolling client that pins this CA
// succeeds (the CA is in the chain), one pinning another CA fails, and a client presenting a
// node certificate is verified.
func TestServerTLSConfigWithPin(t *testing.T) {
	a := newAuthority(t, t.TempDir(), &clock{now: time.Now()})
	other := newAuthority(t, t.TempDir(), &clock{now: time.Now()})
	cfg := a.ServerTLSConfig()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		peers int
		err   error
	}
	results := make(chan result, 8)
	done := make(chan struct{})
	defer func() {
		_ = ln.Close()
		<-done
	}()
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			err = tc.Handshake()
			if err == nil {
				_, err = tc.Write([]byte{1})
			}
			results <- result{peers: len(tc.ConnectionState().PeerCertificates), err: err}
			_ = tc.Close()
		}
	}()
	dial := func(cfg *tls.Config) error {
		c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Read(make([]byte, 1))
		return err
	}

	if err := dial(enrolment.PinnedTLSConfig(a.CAFingerprint(), "localhost")); err != nil {
		t.Fatalf("pinned handshake failed: %v", err)
	}
	if r := <-results; r.err != nil || r.peers != 0 {
		t.Errorf("server side: %+v, want a handshake without client certificate", r)
	}
	err = dial(enrolment.PinnedTLSConfig(other.CAFingerprint(), "localhost"))
	if !errors.Is(err, enrolment.ErrPinMismatch) {
		t.Errorf("handshake pinning another CA: %v, want ErrPinMismatch", err)
	}
	<-results

	key, csr, err := enrolment.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := a.SignNode(csr, "n1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	st := enrolment.State{NodeID: "n1", Key: key, CertPEM: certPEM, CAPEM: a.CACertPEM()}
	mtls, err := st.ClientTLSConfig("")
	if err != nil {
		t.Fatal(err)
	}
	if err := dial(mtls); err != nil {
		t.Fatalf("mTLS handshake failed: %v", err)
	}
	if r := <-results; r.err != nil || r.peers != 1 {
		t.Errorf("server side: %+v, want a verified client certificate", r)
	}
}
