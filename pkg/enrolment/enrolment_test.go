package enrolment

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testFP = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func TestTokenRoundTrip(t *testing.T) {
	tok, hash, err := NewToken(strings.ToUpper(testFP))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "pse1.") || !strings.HasSuffix(tok, "."+testFP) {
		t.Fatalf("token %q does not have the expected shape", tok)
	}
	got, err := Parse("  " + tok + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.CAFingerprint != testFP {
		t.Errorf("CAFingerprint = %q, want %q", got.CAFingerprint, testFP)
	}
	if len(got.Secret) != SecretSize {
		t.Errorf("secret has %d bytes, want %d", len(got.Secret), SecretSize)
	}
	if !bytes.Equal(Hash(got.Secret), hash) {
		t.Error("Hash(parsed secret) differs from the hash NewToken returned")
	}
	sum := sha256.Sum256(got.Secret)
	if !bytes.Equal(hash, sum[:]) {
		t.Error("hash is not the SHA-256 of the secret")
	}
	if got.String() != tok {
		t.Errorf("String() = %q, want %q", got.String(), tok)
	}
	tok2, _, err := NewToken(testFP)
	if err != nil {
		t.Fatal(err)
	}
	if tok2 == tok {
		t.Error("two tokens share a secret")
	}
}

func TestNewTokenRejectsBadFingerprint(t *testing.T) {
	for _, fp := range []string{"", "abc", strings.Repeat("g", 64)} {
		if _, _, err := NewToken(fp); err == nil {
			t.Errorf("NewToken(%q) succeeded, want an error", fp)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	secret := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, SecretSize))
	short := base64.RawURLEncoding.EncodeToString([]byte("short"))
	tests := []struct {
		name, token, want string
	}{
		{"empty", "  ", "malformed enrolment token: the token is empty; pass the token printed by the console's token command"},
		{"two parts", "pse1." + secret, "malformed enrolment token: want 3 dot-separated parts (pse1.<secret>.<ca fingerprint>), got 2; check the token was copied whole"},
		{"four parts", "pse1." + secret + "." + testFP + ".x", "malformed enrolment token: want 3 dot-separated parts (pse1.<secret>.<ca fingerprint>), got 4; check the token was copied whole"},
		{"prefix", "pse2." + secret + "." + testFP, `malformed enrolment token: unknown prefix "pse2" (want "pse1")`},
		{"not base64", "pse1.***." + testFP, "malformed enrolment token: the secret is not unpadded base64url: illegal base64 data at input byte 0"},
		{"short secret", "pse1." + short + "." + testFP, "malformed enrolment token: the secret has 5 bytes, want 32; check the token was copied whole"},
		{"short fingerprint", "pse1." + secret + ".abcd", "malformed enrolment token: the CA fingerprint has 4 hex digits, want 64 (a SHA-256)"},
		{"fingerprint not hex", "pse1." + secret + "." + strings.Repeat("z", 64), "malformed enrolment token: the CA fingerprint is not hex: encoding/hex: invalid byte: U+007A 'z'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.token)
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if !errors.Is(err, ErrMalformedToken) {
				t.Errorf("error does not wrap ErrMalformedToken: %v", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q\nwant    %q", err.Error(), tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("pse1." + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + "." + testFP)
	f.Add("pse1..")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := Parse(s)
		if err != nil {
			return
		}
		if len(tok.Secret) != SecretSize || len(tok.CAFingerprint) != 64 {
			t.Fatalf("accepted token %q with bad parts", s)
		}
	})
}

func TestValidateNodeID(t *testing.T) {
	tests := []struct {
		id, want string
	}{
		{"node-1", ""},
		{"a", ""},
		{strings.Repeat("a", 63), ""},
		{"", "node id is empty"},
		{strings.Repeat("a", 64), `node id "aaaaaaaaaaaaaaaaaaaa..." is 64 characters long, at most 63 are allowed`},
		{"-a", `node id "-a" starts with '-'; it must start with a letter or digit`},
		{"Node", `node id "Node" has 'N' at offset 0; only lowercase letters, digits and '-' are allowed`},
		{"a.b", `node id "a.b" has '.' at offset 1; only lowercase letters, digits and '-' are allowed`},
		{"a*", `node id "a*" has '*' at offset 1; only lowercase letters, digits and '-' are allowed`},
		{"a>", `node id "a>" has '>' at offset 1; only lowercase letters, digits and '-' are allowed`},
		{"a b", `node id "a b" has ' ' at offset 1; only lowercase letters, digits and '-' are allowed`},
	}
	for _, tt := range tests {
		err := ValidateNodeID(tt.id)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("ValidateNodeID(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
	id, err := NewNodeID()
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateNodeID(id); err != nil || len(id) != 24 {
		t.Errorf("NewNodeID() = %q (%v), want 24 valid characters", id, err)
	}
}

func TestNewKey(t *testing.T) {
	key, csrDER, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(csr.PublicKey) {
		t.Error("the request is not for the returned key")
	}
}

// testCA is a CA with a server and a client certificate, made for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

func (ca *testCA) issue(t *testing.T, pub *ecdsa.PublicKey, server bool, cn string) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (ca *testCA) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
}

// serve runs a TLS server with a certificate from ca (with the CA in the chain when
// withCA) that answers one byte per connection, and returns its address.
func serve(t *testing.T, ca *testCA, withCA bool, clientCAs *x509.CertPool) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	chain := [][]byte{ca.issue(t, &key.PublicKey, true, "server")}
	if withCA {
		chain = append(chain, ca.cert.Raw)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	if clientCAs != nil {
		cfg.ClientCAs = clientCAs
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if err := c.(*tls.Conn).Handshake(); err == nil {
				_, _ = c.Write([]byte{1})
			}
			_ = c.Close()
		}
	}()
	return ln.Addr().String()
}

func dial(addr string, cfg *tls.Config) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	_, err = c.Read(b)
	return err
}

func TestPinnedTLSConfig(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	addr := serve(t, ca, true, nil)
	addrNoCA := serve(t, ca, false, nil)
	pin := Fingerprint(ca.cert.Raw)
	tests := []struct {
		name       string
		addr       string
		pin        string
		serverName string
		wantErr    string
	}{
		{"pin matches", addr, pin, "localhost", ""},
		{"pin matches, name from IP", addr, pin, "", ""},
		{"pin in upper case", addr, strings.ToUpper(pin), "localhost", ""},
		{"wrong pin", addr, Fingerprint(other.cert.Raw), "localhost", "the server's certificate chain has no CA with SHA-256 fingerprint " + Fingerprint(other.cert.Raw)},
		{"CA missing from chain", addrNoCA, pin, "localhost", "the server's certificate chain has no CA with SHA-256 fingerprint " + pin},
		{"wrong server name", addr, pin, "console.example", "the server certificate is not valid under the pinned CA"},
		{"malformed pin", addr, "abc", "localhost", "the CA fingerprint has 3 hex digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := dial(tt.addr, PinnedTLSConfig(tt.pin, tt.serverName))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("handshake failed: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("handshake succeeded, want a pin error")
			}
			if !errors.Is(err, ErrPinMismatch) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want ErrPinMismatch containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestStateRoundTrip(t *testing.T) {
	ca := newTestCA(t)
	key, _, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.issue(t, &key.PublicKey, false, "node-1")})
	dir := filepath.Join(t.TempDir(), "state")
	if _, err := LoadState(dir); !errors.Is(err, ErrNoState) {
		t.Fatalf("LoadState of a missing directory = %v, want ErrNoState", err)
	}
	st := State{NodeID: "node-1", ConsoleAddr: "console:8443", NATSURLs: []string{"nats://console:4222"}, Key: key, CertPEM: certPEM, CAPEM: ca.pem()}
	if err := SaveState(dir, st); err != nil {
		t.Fatal(err)
	}
	wantModes := map[string]os.FileMode{KeyFile: 0o600, CertFile: 0o644, CAFile: 0o644, StateFile: 0o644}
	for name, want := range wantModes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode = %o, want %o", name, fi.Mode().Perm(), want)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode = %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		t.Errorf("state directory holds %d entries, want 4 (no temporary files left)", len(entries))
	}
	got, err := LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.NodeID != st.NodeID || got.ConsoleAddr != st.ConsoleAddr || strings.Join(got.NATSURLs, ",") != "nats://console:4222" {
		t.Errorf("loaded %+v, want the saved values", got)
	}
	if !got.Key.Equal(key) || !bytes.Equal(got.CertPEM, certPEM) || !bytes.Equal(got.CAPEM, ca.pem()) {
		t.Error("loaded key or certificates differ from the saved ones")
	}
	leaf, err := got.Certificate()
	if err != nil || leaf.Subject.CommonName != "node-1" {
		t.Errorf("Certificate() = %v, %v; want CN node-1", leaf, err)
	}

	// The state's mTLS configuration is accepted by a server that requires a client
	// certificate from the same CA.
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	addr := serve(t, ca, true, pool)
	cfg, err := got.ClientTLSConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := dial(addr, cfg); err != nil {
		t.Fatalf("mTLS handshake with the saved state failed: %v", err)
	}
}

func TestLoadStateErrors(t *testing.T) {
	ca := newTestCA(t)
	key, _, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.issue(t, &key.PublicKey, false, "n1")})
	good := State{NodeID: "n1", Key: key, CertPEM: certPEM, CAPEM: ca.pem()}
	tests := []struct {
		name    string
		mangle  func(dir string)
		wantErr string
	}{
		{"missing key", func(dir string) { _ = os.Remove(filepath.Join(dir, KeyFile)) }, "the state in " + "%s" + " is incomplete"},
		{"corrupt json", func(dir string) { _ = os.WriteFile(filepath.Join(dir, StateFile), []byte("{"), 0o644) }, "node.json is corrupt"},
		{"bad node id", func(dir string) {
			_ = os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"node_id":"A/B"}`), 0o644)
		}, `node.json: node id "A/B" has 'A' at offset 0`},
		{"key of another certificate", func(dir string) {
			der, _ := x509.MarshalPKCS8PrivateKey(otherKey)
			_ = os.WriteFile(filepath.Join(dir, KeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
		}, "node certificate and key do not form a pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := SaveState(dir, good); err != nil {
				t.Fatal(err)
			}
			tt.mangle(dir)
			_, err := LoadState(dir)
			want := tt.wantErr
			if strings.Contains(want, "%s") {
				want = strings.ReplaceAll(want, "%s", dir)
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("LoadState error = %v, want one containing %q", err, want)
			}
			if errors.Is(err, ErrNoState) {
				t.Error("an incomplete state must not read as not enrolled")
			}
		})
	}
}

func TestSaveStateRejectsMismatchedKey(t *testing.T) {
	ca := newTestCA(t)
	key, _, _ := NewKey()
	other, _, _ := NewKey()
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.issue(t, &key.PublicKey, false, "n1")})
	dir := t.TempDir()
	err := SaveState(dir, State{NodeID: "n1", Key: other, CertPEM: certPEM, CAPEM: ca.pem()})
	if err == nil || !strings.Contains(err.Error(), "node certificate and key do not form a pair") {
		t.Fatalf("SaveState error = %v, want a key pair mismatch", err)
	}
	if _, err := LoadState(dir); !errors.Is(err, ErrNoState) {
		t.Errorf("after a failed save LoadState = %v, want ErrNoState", err)
	}
}

func TestFingerprint(t *testing.T) {
	sum := sha256.Sum256([]byte("der"))
	if got, want := Fingerprint([]byte("der")), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("Fingerprint = %s, want %s", got, want)
	}
}
