package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/palisadehq/palisade/console/internal/api"
	"github.com/palisadehq/palisade/console/internal/apitest"
	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/rest"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/enrolment"
)

// alicePassword is alice's password.
const alicePassword = apitest.AlicePassword

// httpFixture is the console's HTTP handler over a real SQLite store and the real API, with
// user alice (analyst) and an admin API token.
type httpFixture struct {
	st       store.Store
	handler  http.Handler
	apiToken string
	now      time.Time
}

func newHTTPFixture(t *testing.T) *httpFixture {
	t.Helper()
	b := apitest.NewBackend(t, nil)
	apiSrv, err := api.New(api.Config{Store: b.Store, Catalog: b.Catalog, Scans: b.Scans,
		NewEnrolToken: func() (string, []byte, error) { return enrolment.NewToken(strings.Repeat("ab", 32)) }})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	tok := apitest.AddPrincipals(t, b.Store, now, auth.NewAPIToken)
	authn := &auth.Authenticator{Store: b.Store}
	sessions, err := auth.NewSessions(auth.SessionConfig{Store: b.Store, Tokens: authn, PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	return &httpFixture{st: b.Store, handler: httpHandler(apiSrv, sessions, prometheus.NewRegistry(), zap.NewNop()), apiToken: tok, now: now}
}

// request sends one request through the console's HTTP handler.
func (f *httpFixture) request(method, target, body string, header map[string]string, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		r.Header.Set(k, v)
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: cookie})
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	return rec
}

// signIn signs alice in and returns the session cookie and CSRF token.
func (f *httpFixture) signIn(t *testing.T) (cookie, csrf string) {
	t.Helper()
	rec := f.request("POST", auth.SessionPath, `{"name":"alice","password":"`+alicePassword+`"}`, nil, "")
	if rec.Code != 200 {
		t.Fatalf("sign-in: %d %s", rec.Code, rec.Body)
	}
	var info auth.SessionInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == auth.SessionCookie {
			return c.Value, info.CSRFToken
		}
	}
	t.Fatal("sign-in set no session cookie")
	return "", ""
}

// TestEveryAPIRouteNeedsCredentials sends every operation of the OpenAPI document without
// credentials through the whole HTTP handler: only signing in is answered, everything else
// is 401.
func TestEveryAPIRouteNeedsCredentials(t *testing.T) {
	f := newHTTPFixture(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rest.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	fill := strings.NewReplacer("{id}", "x-1", "{node}", "web-1", "{control}", "ssh-root", "{name}", "alice")
	var ops []string
	for path, methods := range doc.Paths {
		for m := range methods {
			ops = append(ops, strings.ToUpper(m)+" "+path)
		}
	}
	sort.Strings(ops)
	if len(ops) < 30 {
		t.Fatalf("only %d operations in the OpenAPI document", len(ops))
	}
	for _, op := range ops {
		if op == "POST "+auth.SessionPath {
			continue
		}
		method, path, _ := strings.Cut(op, " ")
		t.Run(op, func(t *testing.T) {
			rec := f.request(method, fill.Replace(path), `{}`, nil, "")
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("status %d; want 401; body %s", rec.Code, rec.Body)
			}
			var body struct {
				Error struct{ Code string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != "UNAUTHENTICATED" {
				t.Errorf("body %s; want a JSON UNAUTHENTICATED error", rec.Body)
			}
		})
	}
}

func TestSessionAndCSRFThroughTheAPI(t *testing.T) {
	f := newHTTPFixture(t)
	cookie, csrf := f.signIn(t)
	const maskBody = `{"control_id":"linux.ssh.x11-forwarding","reason":"X11 is needed here"}`
	const csrfError = `{"error":{"code":"PERMISSION_DENIED","message":"missing or invalid CSRF token"}}` + "\n"

	rec := f.request("GET", "/api/v1/nodes", "", nil, cookie)
	if rec.Code != 200 || rec.Body.String() != `{"nodes":[]}`+"\n" {
		t.Errorf("read with the session cookie: %d %s", rec.Code, rec.Body)
	}
	for name, header := range map[string]map[string]string{
		"no CSRF token":    nil,
		"wrong CSRF token": {auth.CSRFHeader: "x" + csrf[1:]},
	} {
		rec = f.request("POST", "/api/v1/masks", maskBody, header, cookie)
		if rec.Code != 403 || rec.Body.String() != csrfError {
			t.Errorf("change with %s: %d %s; want 403 %s", name, rec.Code, rec.Body, csrfError)
		}
	}
	masks, err := f.st.ListMasks(context.Background(), store.MaskFilter{})
	if err != nil || len(masks) != 0 {
		t.Fatalf("a refused change created masks: %v, %v", masks, err)
	}
	rec = f.request("POST", "/api/v1/masks", maskBody, map[string]string{auth.CSRFHeader: csrf}, cookie)
	if rec.Code != 201 || !strings.Contains(rec.Body.String(), `"created_by":"alice"`) {
		t.Errorf("change with the CSRF token: %d %s; want 201 by alice", rec.Code, rec.Body)
	}
	// An API token needs no CSRF token, even alongside a cookie.
	rec = f.request("POST", "/api/v1/masks", maskBody, map[string]string{"Authorization": "Bearer " + f.apiToken}, cookie)
	if rec.Code != 201 || !strings.Contains(rec.Body.String(), `"created_by":"ci"`) {
		t.Errorf("change with an API token: %d %s; want 201 by ci", rec.Code, rec.Body)
	}
	// Security headers on API answers.
	for h, v := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := rec.Header().Get(h); got != v {
			t.Errorf("%s = %q; want %q", h, got, v)
		}
	}
	// Signing out ends API access.
	rec = f.request("DELETE", auth.SessionPath, "", map[string]string{auth.CSRFHeader: csrf}, cookie)
	if rec.Code != 204 {
		t.Fatalf("sign-out: %d %s", rec.Code, rec.Body)
	}
	rec = f.request("GET", "/api/v1/nodes", "", nil, cookie)
	want := `{"error":{"code":"UNAUTHENTICATED","message":"unauthenticated: unknown or signed-out session; sign in again"}}` + "\n"
	if rec.Code != 401 || rec.Body.String() != want {
		t.Errorf("after sign-out: %d %s; want 401 %s", rec.Code, rec.Body, want)
	}
}

func TestExpiredSessionIsRefusedAndDeleted(t *testing.T) {
	f := newHTTPFixture(t)
	ctx := context.Background()
	const cookie = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	err := f.st.CreateSession(ctx, store.Session{
		Hash: auth.HashToken(cookie), UserName: "alice", Role: store.RoleAnalyst, CSRFToken: "c",
		CreatedAt: f.now.Add(-9 * time.Hour), ExpiresAt: f.now.Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := f.request("GET", "/api/v1/nodes", "", nil, cookie)
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "the session expired at") {
		t.Errorf("expired session: %d %s; want 401", rec.Code, rec.Body)
	}
	if _, err := f.st.GetSession(ctx, auth.HashToken(cookie)); err == nil {
		t.Error("the expired session is still stored")
	}
}

func TestHTTPMounts(t *testing.T) {
	f := newHTTPFixture(t)
	tests := []struct {
		method, target  string
		wantStatus      int
		wantContentType string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/posture", 200, "text/html; charset=utf-8"},
		{"GET", "/healthz", 200, "application/json"},
		{"GET", "/metrics", 200, ""},
		{"GET", "/api/v1/widgets", 401, "application/json"},
		{"GET", "/api/v1/session/extra", 401, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rec := f.request(tt.method, tt.target, "", nil, "")
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d; want %d; body %.200s", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantContentType != "" && rec.Header().Get("Content-Type") != tt.wantContentType {
				t.Errorf("Content-Type %q; want %q", rec.Header().Get("Content-Type"), tt.wantContentType)
			}
		})
	}
}

func TestSensorAddr(t *testing.T) {
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	tests := []struct {
		listen string
		dns    []string
		want   string
	}{
		{"0.0.0.0:7443", []string{"localhost", "console.example.com"}, "console.example.com:7443"},
		{"[::]:7443", []string{"localhost", "db-host"}, "db-host:7443"},
		{"0.0.0.0:7443", []string{"localhost"}, "127.0.0.1:7443"},
		{"10.0.0.5:9443", []string{"localhost", "console.example.com"}, "10.0.0.5:9443"},
	}
	for _, tt := range tests {
		if got := sensorAddr(tcp(tt.listen), tt.dns); got != tt.want {
			t.Errorf("sensorAddr(%s, %v) = %q; want %q", tt.listen, tt.dns, got, tt.want)
		}
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "console"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "http.crt"), filepath.Join(dir, "http.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestLoadHTTPTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeCert(t, dir)
	if cfg, err := loadHTTPTLS("", ""); cfg != nil || err != nil {
		t.Errorf("neither file: %v, %v; want plain HTTP", cfg, err)
	}
	const both = "HTTPS needs both --http-cert-file and --http-key-file; give both, or neither for plain HTTP"
	for _, pair := range [][2]string{{certFile, ""}, {"", keyFile}} {
		if _, err := loadHTTPTLS(pair[0], pair[1]); err == nil || err.Error() != both {
			t.Errorf("loadHTTPTLS(%q, %q) error %v; want %q", pair[0], pair[1], err, both)
		}
	}
	missing := filepath.Join(dir, "missing.key")
	_, err := loadHTTPTLS(certFile, missing)
	if err == nil || !strings.HasPrefix(err.Error(), "load the HTTPS certificate (--http-cert-file "+certFile+", --http-key-file "+missing+"): ") {
		t.Errorf("missing key: %v", err)
	}
	cfg, err := loadHTTPTLS(certFile, keyFile)
	if err != nil || cfg.MinVersion != tls.VersionTLS12 || len(cfg.Certificates) != 1 {
		t.Fatalf("good pair: %+v, %v", cfg, err)
	}

	// Served over HTTPS, TLS 1.1 is refused and the session cookie is Secure.
	f := newHTTPFixture(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f.handler, TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(lis, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	pool := x509.NewCertPool()
	pool.AddCert(cfg.Certificates[0].Leaf) // tls.LoadX509KeyPair fills Leaf
	url := "https://" + lis.Addr().String() + auth.SessionPath
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Post(url, "application/json", strings.NewReader(`{}`)); err == nil {
		resp.Body.Close()
		t.Error("a TLS 1.1 client was served")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Post(url, "application/json", strings.NewReader(`{"name":"alice","password":"`+alicePassword+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign-in over HTTPS: %d", resp.StatusCode)
	}
	var secure bool
	for _, c := range resp.Cookies() {
		secure = secure || (c.Name == auth.SessionCookie && c.Secure)
	}
	if !secure {
		t.Errorf("session cookie over HTTPS is not Secure: %v", resp.Header.Values("Set-Cookie"))
	}
}
