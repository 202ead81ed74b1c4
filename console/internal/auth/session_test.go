package auth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/palisadehq/palisade/console/internal/apitest"
	"github.com/palisadehq/palisade/console/internal/store"
)

// sessionStart is the tests' clock at the beginning.
var sessionStart = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// sessionFixture is Sessions over a real SQLite store with users alice (analyst, password
// alicePassword) and a valid API token, and a settable clock.
type sessionFixture struct {
	st       store.Store
	sessions *Sessions
	clock    *apitest.Clock
	apiToken string
}

// alicePassword is alice's password.
const alicePassword = apitest.AlicePassword

func newSessionFixture(t *testing.T) *sessionFixture {
	t.Helper()
	st := apitest.OpenStore(t)
	tok := apitest.AddPrincipals(t, st, sessionStart, NewAPIToken)
	clk := apitest.NewClock(sessionStart)
	s, err := NewSessions(SessionConfig{
		Store: st, Tokens: &Authenticator{Store: st, Now: clk.Now}, Now: clk.Now, MaxFailures: 3, FailureWindow: 15 * time.Minute,
		PasswordCost: bcrypt.MinCost,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &sessionFixture{st: st, sessions: s, clock: clk, apiToken: tok}
}

// signIn signs alice in and returns the cookie value and the stored session.
func (f *sessionFixture) signIn(t *testing.T) (string, store.Session) {
	t.Helper()
	cookie, sess, err := f.sessions.SignIn(context.Background(), "alice", alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	return cookie, sess
}

func TestSignIn(t *testing.T) {
	f := newSessionFixture(t)
	ctx := context.Background()
	cookie, sess := f.signIn(t)
	if len(cookie) != 43 || !wellFormedSecret(cookie) {
		t.Errorf("cookie %q is not 32 random bytes in base64url", cookie)
	}
	if len(sess.CSRFToken) != 43 || sess.CSRFToken == cookie {
		t.Errorf("CSRF token %q; want 43 characters, not the cookie", sess.CSRFToken)
	}
	stored, err := f.st.GetSession(ctx, HashToken(cookie))
	if err != nil {
		t.Fatalf("session not stored under the cookie's SHA-256: %v", err)
	}
	want := store.Session{Hash: HashToken(cookie), UserName: "alice", Role: store.RoleAnalyst, CSRFToken: sess.CSRFToken,
		CreatedAt: sessionStart, ExpiresAt: sessionStart.Add(8 * time.Hour)}
	if string(stored.Hash) != string(want.Hash) || stored.UserName != want.UserName || stored.Role != want.Role ||
		stored.CSRFToken != want.CSRFToken || !stored.CreatedAt.Equal(want.CreatedAt) || !stored.ExpiresAt.Equal(want.ExpiresAt) {
		t.Errorf("stored session %+v; want %+v", stored, want)
	}
	if _, err := f.st.GetSession(ctx, []byte(cookie)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the cookie itself must not be stored: %v", err)
	}
	audit, err := f.st.ListAudit(ctx, 10)
	if err != nil || len(audit) != 1 || audit[0].Action != "session.create" || audit[0].Actor != "alice" {
		t.Errorf("audit %+v, %v; want one session.create by alice", audit, err)
	}

	// A wrong password and an unknown name fail alike.
	_, _, wrongPw := f.sessions.SignIn(ctx, "alice", "wrong password")
	_, _, unknown := f.sessions.SignIn(ctx, "mallory", alicePassword)
	for _, err := range []error{wrongPw, unknown} {
		if !errors.Is(err, ErrBadCredentials) || !errors.Is(err, ErrUnauthenticated) || err.Error() != "unauthenticated: wrong name or password" {
			t.Errorf("error %v; want the one bad-credentials error", err)
		}
	}
}

func TestSignInLimitsFailuresPerName(t *testing.T) {
	f := newSessionFixture(t)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, _, err := f.sessions.SignIn(ctx, "alice", "guess"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("guess %d: %v", i, err)
		}
		f.clock.Advance(time.Minute)
	}
	// The limit holds for the right password too, and the name's case does not matter.
	for _, name := range []string{"alice", "ALICE"} {
		_, _, err := f.sessions.SignIn(ctx, name, alicePassword)
		if !errors.Is(err, ErrTooManyFailures) || err.Error() != "too many failed sign-ins for this name; try again in 12m0s" {
			t.Fatalf("%s after 3 failures: %v", name, err)
		}
	}
	// Unknown names count the same way, so the limit says nothing about who exists.
	for i := 0; i < 3; i++ {
		if _, _, err := f.sessions.SignIn(ctx, "mallory", "guess"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("mallory guess %d: %v", i, err)
		}
	}
	if _, _, err := f.sessions.SignIn(ctx, "mallory", "guess"); !errors.Is(err, ErrTooManyFailures) {
		t.Fatalf("mallory after 3 failures: %v", err)
	}
	// Other names are not affected, and the window ends.
	f.clock.Advance(12 * time.Minute)
	if _, _, err := f.sessions.SignIn(ctx, "alice", alicePassword); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	// A success forgets earlier failures.
	for i := 0; i < 2; i++ {
		_, _, _ = f.sessions.SignIn(ctx, "alice", "guess")
	}
	f.signIn(t)
	for i := 0; i < 3; i++ {
		if _, _, err := f.sessions.SignIn(ctx, "alice", "guess"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("guess %d after a success: %v", i, err)
		}
	}
}

func TestFailureCounterIsBounded(t *testing.T) {
	f := &failureCounter{max: 1, window: time.Minute, byName: map[string]failureCount{}}
	now := sessionStart
	for i := 0; i < maxTrackedNames+5; i++ {
		if _, ok := f.attempt(fmt.Sprintf("user-%d", i), now.Add(time.Duration(i))); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if len(f.byName) != maxTrackedNames {
		t.Fatalf("tracking %d names; want at most %d", len(f.byName), maxTrackedNames)
	}
}

func TestLookup(t *testing.T) {
	f := newSessionFixture(t)
	ctx := context.Background()
	cookie, sess := f.signIn(t)
	got, err := f.sessions.Lookup(ctx, cookie)
	if err != nil || got.UserName != "alice" || got.CSRFToken != sess.CSRFToken {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	for name, value := range map[string]string{
		"malformed": "not-a-session",
		"unknown":   strings.Repeat("A", 43),
	} {
		_, err := f.sessions.Lookup(ctx, value)
		if !errors.Is(err, ErrUnauthenticated) || err.Error() != "unauthenticated: unknown or signed-out session; sign in again" {
			t.Errorf("%s cookie: %v", name, err)
		}
	}
	f.clock.Advance(8 * time.Hour)
	_, err = f.sessions.Lookup(ctx, cookie)
	if !errors.Is(err, ErrUnauthenticated) || err.Error() != "unauthenticated: the session expired at 2026-11-26T20:00:00Z; sign in again" {
		t.Fatalf("expired session: %v", err)
	}
	if _, err := f.st.GetSession(ctx, HashToken(cookie)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session still stored: %v", err)
	}
}

func TestAuthenticateRequest(t *testing.T) {
	f := newSessionFixture(t)
	cookie, sess := f.signIn(t)
	expiredCookie, _ := f.signIn(t)
	if err := f.st.DeleteSession(context.Background(), HashToken(expiredCookie)); err != nil {
		t.Fatal(err)
	}
	alice := Principal{Name: "alice", Role: store.RoleAnalyst}
	ci := Principal{Name: "ci", Role: store.RoleAdmin}
	tests := []struct {
		name    string
		method  string
		bearer  string
		cookie  string
		csrf    string
		want    Principal
		wantErr string
	}{
		{name: "cookie read", method: "GET", cookie: cookie, want: alice},
		{name: "cookie HEAD", method: "HEAD", cookie: cookie, want: alice},
		{name: "cookie change with CSRF token", method: "POST", cookie: cookie, csrf: sess.CSRFToken, want: alice},
		{name: "cookie delete with CSRF token", method: "DELETE", cookie: cookie, csrf: sess.CSRFToken, want: alice},
		{name: "cookie change without CSRF token", method: "POST", cookie: cookie, wantErr: "missing or invalid CSRF token"},
		{name: "cookie change with wrong CSRF token", method: "DELETE", cookie: cookie, csrf: sess.CSRFToken[:42] + "x", wantErr: "missing or invalid CSRF token"},
		{name: "cookie change with the cookie as CSRF token", method: "POST", cookie: cookie, csrf: cookie, wantErr: "missing or invalid CSRF token"},
		{name: "API token change needs no CSRF token", method: "POST", bearer: f.apiToken, want: ci},
		{name: "bad API token does not fall back to the cookie", method: "GET", bearer: "pat_nope", cookie: cookie, wantErr: "unauthenticated: unknown API token"},
		{name: "signed-out cookie", method: "GET", cookie: expiredCookie, wantErr: "unauthenticated: unknown or signed-out session; sign in again"},
		{name: "nothing", method: "GET", wantErr: "unauthenticated: not signed in and no API token (sign in with POST /api/v1/session or send Authorization: Bearer <token>)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/api/v1/masks", nil)
			if tt.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+tt.bearer)
			}
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: SessionCookie, Value: tt.cookie})
			}
			if tt.csrf != "" {
				r.Header.Set(CSRFHeader, tt.csrf)
			}
			p, err := f.sessions.Authenticate(r)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v; want %q", err, tt.wantErr)
				}
				if tt.wantErr == ErrCSRF.Error() && !errors.Is(err, ErrCSRF) {
					t.Errorf("error %v is not ErrCSRF", err)
				}
				return
			}
			if err != nil || p != tt.want {
				t.Fatalf("principal %+v, %v; want %+v", p, err, tt.want)
			}
		})
	}
}

func TestRunDeletesExpiredSessions(t *testing.T) {
	f := newSessionFixture(t)
	ctx := context.Background()
	old, _ := f.signIn(t)
	f.clock.Advance(4 * time.Hour)
	live, _ := f.signIn(t)
	f.clock.Advance(4 * time.Hour) // old expires now

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.sessions.Run(runCtx) }() // cleans at once, then every interval
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := f.st.GetSession(ctx, HashToken(old))
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("expired session still stored after 10s: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run returned %v; want nil", err)
	}
	if _, err := f.st.GetSession(ctx, HashToken(live)); err != nil {
		t.Errorf("live session deleted: %v", err)
	}
}

// sessionRequest sends one request to the session endpoint.
func (f *sessionFixture) sessionRequest(method, target, contentType, body string, prepare ...func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for _, p := range prepare {
		p(r)
	}
	rec := httptest.NewRecorder()
	f.sessions.Handler().ServeHTTP(rec, r)
	return rec
}

func withCookie(v string) func(*http.Request) {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: SessionCookie, Value: v}) }
}

func withCSRF(v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(CSRFHeader, v) }
}

// sessionCookie returns the palisade_session cookie a response sets.
func sessionCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.Name == SessionCookie {
			return c
		}
	}
	t.Fatalf("no %s cookie set; headers %v", SessionCookie, rec.Header())
	return nil
}

func TestSessionEndpoint(t *testing.T) {
	f := newSessionFixture(t)
	ctx := context.Background()

	// Sign in.
	rec := f.sessionRequest("POST", SessionPath, "application/json", `{"name":"alice","password":"`+alicePassword+`"}`)
	if rec.Code != 200 {
		t.Fatalf("sign-in status %d: %s", rec.Code, rec.Body)
	}
	c := sessionCookie(t, rec)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.MaxAge != 28800 || c.Secure {
		t.Errorf("cookie %+v; want HttpOnly, SameSite=Strict, Path=/, Max-Age=28800, not Secure over plain HTTP", c)
	}
	sess, err := f.st.GetSession(ctx, HashToken(c.Value))
	if err != nil {
		t.Fatalf("the cookie names no stored session: %v", err)
	}
	want := `{"name":"alice","role":"analyst","csrf_token":"` + sess.CSRFToken + `","expires_at":"2026-11-26T20:00:00Z"}` + "\n"
	if rec.Body.String() != want {
		t.Errorf("sign-in body %s; want %s", rec.Body, want)
	}
	for h, v := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := rec.Header().Get(h); got != v {
			t.Errorf("%s = %q; want %q", h, got, v)
		}
	}

	// The current session.
	rec = f.sessionRequest("GET", SessionPath, "", "", withCookie(c.Value))
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("current session: %d %s; want 200 %s", rec.Code, rec.Body, want)
	}

	// Sign out needs the CSRF token. The wrong one differs in its first character (a random
	// token may itself start with "x").
	wrong := "x" + sess.CSRFToken[1:]
	if sess.CSRFToken[0] == 'x' {
		wrong = "y" + sess.CSRFToken[1:]
	}
	for name, prep := range map[string][]func(*http.Request){
		"without CSRF token": {withCookie(c.Value)},
		"with a wrong one":   {withCookie(c.Value), withCSRF(wrong)},
	} {
		rec = f.sessionRequest("DELETE", SessionPath, "", "", prep...)
		wantErr := `{"error":{"code":"PERMISSION_DENIED","message":"missing or invalid CSRF token"}}` + "\n"
		if rec.Code != 403 || rec.Body.String() != wantErr {
			t.Errorf("sign-out %s: %d %s; want 403 %s", name, rec.Code, rec.Body, wantErr)
		}
	}
	if _, err := f.st.GetSession(ctx, HashToken(c.Value)); err != nil {
		t.Fatalf("a refused sign-out deleted the session: %v", err)
	}
	rec = f.sessionRequest("DELETE", SessionPath, "", "", withCookie(c.Value), withCSRF(sess.CSRFToken))
	if rec.Code != 204 || rec.Body.Len() != 0 {
		t.Fatalf("sign-out: %d %s; want 204", rec.Code, rec.Body)
	}
	if cleared := sessionCookie(t, rec); cleared.Value != "" || cleared.MaxAge != -1 || !cleared.HttpOnly || cleared.Path != "/" {
		t.Errorf("sign-out cookie %+v; want it cleared (empty, Max-Age=0)", cleared)
	}
	if _, err := f.st.GetSession(ctx, HashToken(c.Value)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session still stored after sign-out: %v", err)
	}
	rec = f.sessionRequest("GET", SessionPath, "", "", withCookie(c.Value))
	wantGone := `{"error":{"code":"UNAUTHENTICATED","message":"unauthenticated: unknown or signed-out session; sign in again"}}` + "\n"
	if rec.Code != 401 || rec.Body.String() != wantGone {
		t.Errorf("after sign-out: %d %s; want 401 %s", rec.Code, rec.Body, wantGone)
	}
}

func TestSessionEndpointOverTLSSetsSecureCookie(t *testing.T) {
	f := newSessionFixture(t)
	rec := f.sessionRequest("POST", SessionPath, "application/json", `{"name":"alice","password":"`+alicePassword+`"}`,
		func(r *http.Request) { r.TLS = &tls.ConnectionState{} })
	if rec.Code != 200 {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if c := sessionCookie(t, rec); !c.Secure {
		t.Errorf("cookie %+v over TLS is not Secure", c)
	}
	if got := rec.Header().Get("Set-Cookie"); !strings.Contains(got, "; Secure") || !strings.Contains(got, "; SameSite=Strict") || !strings.Contains(got, "; HttpOnly") {
		t.Errorf("Set-Cookie %q", got)
	}
}

func TestSessionEndpointExpiredSession(t *testing.T) {
	f := newSessionFixture(t)
	cookie, _ := f.signIn(t)
	f.clock.Advance(8*time.Hour + time.Second)
	rec := f.sessionRequest("GET", SessionPath, "", "", withCookie(cookie))
	want := `{"error":{"code":"UNAUTHENTICATED","message":"unauthenticated: the session expired at 2026-11-26T20:00:00Z; sign in again"}}` + "\n"
	if rec.Code != 401 || rec.Body.String() != want {
		t.Fatalf("%d %s; want 401 %s", rec.Code, rec.Body, want)
	}
	if c := sessionCookie(t, rec); c.MaxAge != -1 {
		t.Errorf("expired session's cookie not cleared: %+v", c)
	}
	if _, err := f.st.GetSession(context.Background(), HashToken(cookie)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session still stored: %v", err)
	}
}

func TestSignInRefusals(t *testing.T) {
	const badCreds = `{"error":{"code":"UNAUTHENTICATED","message":"wrong name or password"}}` + "\n"
	tests := []struct {
		name, method, target, contentType, body string
		wantStatus                              int
		wantBody                                string // exact, or a prefix when wantPrefix
		wantPrefix                              bool
	}{
		{name: "wrong password", method: "POST", target: SessionPath, contentType: "application/json",
			body: `{"name":"alice","password":"nope"}`, wantStatus: 401, wantBody: badCreds},
		{name: "unknown name", method: "POST", target: SessionPath, contentType: "application/json",
			body: `{"name":"mallory","password":"` + alicePassword + `"}`, wantStatus: 401, wantBody: badCreds},
		{name: "missing password", method: "POST", target: SessionPath, contentType: "application/json", body: `{"name":"alice"}`,
			wantStatus: 400, wantBody: `{"error":{"code":"INVALID_ARGUMENT","message":"name and password are both required"}}` + "\n"},
		{name: "unknown field", method: "POST", target: SessionPath, contentType: "application/json", body: `{"name":"alice","password":"x","remember":true}`,
			wantStatus: 400, wantBody: `{"error":{"code":"INVALID_ARGUMENT","message":"invalid JSON request body: json: unknown field \"remember\"; send {\"name\": \"...\", \"password\": \"...\"}"}}` + "\n"},
		{name: "two JSON values", method: "POST", target: SessionPath, contentType: "application/json", body: `{"name":"alice","password":"x"} {}`,
			wantStatus: 400, wantBody: `{"error":{"code":"INVALID_ARGUMENT","message":"invalid JSON request body: text after the JSON object; send {\"name\": \"...\", \"password\": \"...\"}"}}` + "\n"},
		{name: "form body", method: "POST", target: SessionPath, contentType: "application/x-www-form-urlencoded", body: "name=alice&password=x",
			wantStatus: 415, wantBody: `{"error":{"code":"INVALID_ARGUMENT","message":"request body has Content-Type \"application/x-www-form-urlencoded\"; send application/json"}}` + "\n"},
		{name: "no content type", method: "POST", target: SessionPath, body: `{"name":"alice","password":"x"}`,
			wantStatus: 415, wantBody: `{"error":{"code":"INVALID_ARGUMENT","message":"request body has Content-Type \"\"; send application/json"}}` + "\n"},
		{name: "oversized body", method: "POST", target: SessionPath, contentType: "application/json",
			body:       `{"name":"alice","password":"` + strings.Repeat("x", MaxSignInBodyBytes) + `"}`,
			wantStatus: 413, wantBody: `{"error":{"code":"RESOURCE_EXHAUSTED","message":"request body is larger than 4096 bytes; send only a name and a password"}}` + "\n"},
		{name: "password in the URL", method: "POST", target: SessionPath + "?password=x", contentType: "application/json", body: `{}`,
			wantStatus: 400, wantBody: `{"error":{"code":"INVALID_ARGUMENT","message":"unknown query parameter \"password\"; this route takes none"}}` + "\n"},
		{name: "no cookie", method: "GET", target: SessionPath,
			wantStatus: 401, wantBody: `{"error":{"code":"UNAUTHENTICATED","message":"not signed in; sign in with POST /api/v1/session"}}` + "\n"},
		{name: "sign out without cookie", method: "DELETE", target: SessionPath,
			wantStatus: 401, wantBody: `{"error":{"code":"UNAUTHENTICATED","message":"not signed in; sign in with POST /api/v1/session"}}` + "\n"},
		{name: "other method", method: "PUT", target: SessionPath,
			wantStatus: 405, wantBody: `{"error":{"code":"UNIMPLEMENTED","message":"method PUT is not allowed on /api/v1/session (allowed: DELETE, GET, HEAD, POST)"}}` + "\n"},
	}
	f := newSessionFixture(t) // two failures of alice and one of mallory stay under the limit
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.sessionRequest(tt.method, tt.target, tt.contentType, tt.body)
			if rec.Code != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("%d %s; want %d %s", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			for _, c := range rec.Result().Cookies() {
				if c.Name == SessionCookie && c.Value != "" {
					t.Errorf("a refused request set a session cookie")
				}
			}
			var sessions int
			audit, _ := f.st.ListAudit(context.Background(), 10)
			for _, e := range audit {
				if e.Action == "session.create" {
					sessions++
				}
			}
			if sessions != 0 {
				t.Errorf("a refused request created a session")
			}
		})
	}
}

func TestSignInTooManyFailuresAnswer(t *testing.T) {
	f := newSessionFixture(t)
	for i := 0; i < 3; i++ {
		f.sessionRequest("POST", SessionPath, "application/json", `{"name":"alice","password":"guess"}`)
	}
	f.clock.Advance(90 * time.Second)
	rec := f.sessionRequest("POST", SessionPath, "application/json", `{"name":"alice","password":"`+alicePassword+`"}`)
	want := `{"error":{"code":"RESOURCE_EXHAUSTED","message":"too many failed sign-ins for this name; try again in 13m30s"}}` + "\n"
	if rec.Code != 429 || rec.Body.String() != want {
		t.Fatalf("%d %s; want 429 %s", rec.Code, rec.Body, want)
	}
	if got := rec.Header().Get("Retry-After"); got != "810" {
		t.Errorf("Retry-After = %q; want 810", got)
	}
}

func TestSignInReplacesTheBrowsersOldSession(t *testing.T) {
	f := newSessionFixture(t)
	old, _ := f.signIn(t)
	rec := f.sessionRequest("POST", SessionPath, "application/json", `{"name":"alice","password":"`+alicePassword+`"}`, withCookie(old))
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var info SessionInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &info); err != nil || info.Name != "alice" {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	if _, err := f.st.GetSession(context.Background(), HashToken(old)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the replaced session is still stored: %v", err)
	}
}
