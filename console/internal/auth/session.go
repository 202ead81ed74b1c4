package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/palisadehq/palisade/console/internal/store"
)

// Names and defaults of web console sessions.
const (
	// SessionCookie holds the session secret in the browser.
	SessionCookie = "palisade_session"
	// CSRFHeader must carry the session's CSRF token on every request authenticated by the
	// session cookie whose method is not GET or HEAD.
	CSRFHeader = "X-CSRF-Token"
	// DefaultSessionLifetime is how long a session lasts after sign-in.
	DefaultSessionLifetime = 8 * time.Hour
	// DefaultMaxFailures failed sign-ins of one name within DefaultFailureWindow refuse
	// further attempts for that name until the window ends.
	DefaultMaxFailures   = 10
	DefaultFailureWindow = 15 * time.Minute
	// DefaultCleanupInterval is how often expired sessions are deleted.
	DefaultCleanupInterval = 10 * time.Minute
)

// secretBytes is the size of the random session secret and CSRF token.
const secretBytes = 32

// maxTrackedNames bounds the memory the sign-in failure counter may take.
const maxTrackedNames = 10000

// Errors of sign-in and session authentication, all but ErrCSRF and ErrTooManyFailures
// wrapping ErrUnauthenticated.
var (
	// ErrBadCredentials is the one answer to a wrong name or a wrong password.
	ErrBadCredentials = fmt.Errorf("%w: wrong name or password", ErrUnauthenticated)
	// ErrCSRF refuses a cookie-authenticated change without the session's CSRF token.
	ErrCSRF = errors.New("missing or invalid CSRF token")
	// ErrTooManyFailures refuses sign-in for a name after too many recent failures.
	ErrTooManyFailures = errors.New("too many failed sign-ins for this name")
)

// Log field names.
const (
	logUser    = "user"
	logRemoved = "removed"
	logMethod  = "method"
)

// SessionConfig builds Sessions.
type SessionConfig struct {
	// Store holds users and sessions. Required.
	Store store.Store
	// Tokens authenticates API tokens sent as Authorization: Bearer. Required.
	Tokens *Authenticator
	// Lifetime of a session; DefaultSessionLifetime when zero.
	Lifetime time.Duration
	// MaxFailures and FailureWindow limit password guessing per name; the defaults when zero.
	MaxFailures   int
	FailureWindow time.Duration
	// PasswordCost is the bcrypt cost users' passwords are hashed with; a sign-in with an
	// unknown name compares against a hash of this cost, so that it takes as long as a wrong
	// password. bcrypt.DefaultCost when zero.
	PasswordCost int
	// CleanupInterval is how often Run deletes expired sessions; the default when zero.
	CleanupInterval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger receives failed sign-ins (info) and cleanup failures (warn). Optional.
	Logger *zap.Logger
}

// Sessions signs people in to the web console and authenticates HTTP requests by API token
// or session cookie, checking the CSRF token of cookie-authenticated changes. The store
// keeps only the SHA-256 of each session cookie. Sessions is safe for concurrent use.
type Sessions struct {
	cfg SessionConfig
	log *zap.Logger
	// dummyHash is compared against when the name is unknown, so that an unknown name takes
	// as long to refuse as a wrong password.
	dummyHash []byte
	failures  *failureCounter
}

// NewSessions checks cfg and returns Sessions.
func NewSessions(cfg SessionConfig) (*Sessions, error) {
	if cfg.Store == nil || cfg.Tokens == nil {
		return nil, errors.New("auth: sessions need a store and an API token authenticator")
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = DefaultSessionLifetime
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = DefaultFailureWindow
	}
	if cfg.PasswordCost == 0 {
		cfg.PasswordCost = bcrypt.DefaultCost
	}
	if cfg.CleanupInterval <= 0 {
		cfg.CleanupInterval = DefaultCleanupInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	secret, err := randomSecret()
	if err != nil {
		return nil, err
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte(secret), cfg.PasswordCost)
	if err != nil {
		return nil, fmt.Errorf("auth: prepare password comparison: %w", err)
	}
	return &Sessions{
		cfg:       cfg,
		log:       log,
		dummyHash: dummy,
		failures:  &failureCounter{max: cfg.MaxFailures, window: cfg.FailureWindow, byName: map[string]failureCount{}},
	}, nil
}

// Lifetime is how long a new session lasts.
func (s *Sessions) Lifetime() time.Duration { return s.cfg.Lifetime }

// SignIn checks a name and password and starts a session. It returns the cookie value (the
// session secret, never stored) and the stored session. A wrong password and an unknown name
// take the same time and give the same ErrBadCredentials; after MaxFailures failures of one
// name within FailureWindow it fails with ErrTooManyFailures (wrapped with the time left)
// without looking at the password.
func (s *Sessions) SignIn(ctx context.Context, name, password string) (cookie string, sess store.Session, err error) {
	now := s.cfg.Now()
	if wait, ok := s.failures.attempt(name, now); !ok {
		return "", store.Session{}, fmt.Errorf("%w; try again in %s", ErrTooManyFailures, roundUp(wait))
	}
	u, err := s.cfg.Store.GetUser(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Spend the time a real comparison takes, then refuse like a wrong password.
		_ = bcrypt.CompareHashAndPassword(s.dummyHash, []byte(password))
		s.log.Info("sign-in refused", zap.String(logUser, name))
		return "", store.Session{}, ErrBadCredentials
	case err != nil:
		s.failures.forgive(name)
		return "", store.Session{}, fmt.Errorf("look up user: %w", err)
	}
	if bcrypt.CompareHashAndPassword(u.PasswordHash, []byte(password)) != nil {
		s.log.Info("sign-in refused", zap.String(logUser, name))
		return "", store.Session{}, ErrBadCredentials
	}
	s.failures.clear(name)

	if cookie, err = randomSecret(); err != nil {
		return "", store.Session{}, err
	}
	csrf, err := randomSecret()
	if err != nil {
		return "", store.Session{}, err
	}
	now = now.UTC()
	sess = store.Session{
		Hash: HashToken(cookie), UserName: u.Name, Role: u.Role, CSRFToken: csrf,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.Lifetime),
	}
	if err := s.cfg.Store.CreateSession(ctx, sess); err != nil {
		return "", store.Session{}, fmt.Errorf("store session: %w", err)
	}
	_ = s.cfg.Store.AppendAudit(ctx, store.AuditEntry{At: now, Actor: u.Name, Action: "session.create", Target: u.Name})
	return cookie, sess, nil
}

// Lookup returns the live session of a cookie value. An expired session is deleted and
// refused; unknown and malformed values are refused.
func (s *Sessions) Lookup(ctx context.Context, cookie string) (store.Session, error) {
	if !wellFormedSecret(cookie) {
		return store.Session{}, fmt.Errorf("%w: unknown or signed-out session; sign in again", ErrUnauthenticated)
	}
	hash := HashToken(cookie)
	sess, err := s.cfg.Store.GetSession(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, fmt.Errorf("%w: unknown or signed-out session; sign in again", ErrUnauthenticated)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("look up session: %w", err)
	}
	if !s.cfg.Now().Before(sess.ExpiresAt) {
		if err := s.cfg.Store.DeleteSession(ctx, hash); err != nil {
			s.log.Warn("deleting an expired session failed", zap.Error(err))
		}
		return store.Session{}, fmt.Errorf("%w: the session expired at %s; sign in again",
			ErrUnauthenticated, sess.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return sess, nil
}

// SignOut deletes the session of a cookie value.
func (s *Sessions) SignOut(ctx context.Context, sess store.Session) error {
	if err := s.cfg.Store.DeleteSession(ctx, sess.Hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	_ = s.cfg.Store.AppendAudit(ctx, store.AuditEntry{At: s.cfg.Now().UTC(), Actor: sess.UserName, Action: "session.delete", Target: sess.UserName})
	return nil
}

// Authenticate finds the caller of an HTTP request: an Authorization header is checked as
// an API token (and nothing else is tried when it is present); otherwise the session cookie
// is looked up, and a request whose method is not GET or HEAD must also carry the session's
// CSRF token in the X-CSRF-Token header (ErrCSRF otherwise). Requests with an API token need
// no CSRF token: a browser never adds that header on its own.
func (s *Sessions) Authenticate(r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		return s.cfg.Tokens.Bearer(r.Context(), h)
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return Principal{}, fmt.Errorf("%w: not signed in and no API token (sign in with POST /api/v1/session or send Authorization: Bearer <token>)", ErrUnauthenticated)
	}
	sess, err := s.Lookup(r.Context(), c.Value)
	if err != nil {
		return Principal{}, err
	}
	if !safeMethod(r.Method) && !CSRFValid(r, sess) {
		return Principal{}, ErrCSRF
	}
	return Principal{Name: sess.UserName, Role: sess.Role}, nil
}

// CSRFValid reports whether r carries sess's CSRF token, compared in constant time.
func CSRFValid(r *http.Request, sess store.Session) bool {
	got := r.Header.Get(CSRFHeader)
	return got != "" && sess.CSRFToken != "" && subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) == 1
}

// safeMethod reports whether an HTTP method only reads.
func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// Run deletes expired sessions every CleanupInterval (once at once) until ctx ends. Any
// replica may run it: deleting is idempotent. Failures are logged and retried on the next
// tick. It always returns nil.
func (s *Sessions) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.CleanupInterval)
	defer t.Stop()
	for {
		s.cleanup(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// cleanup deletes expired sessions and forgets old sign-in failures.
func (s *Sessions) cleanup(ctx context.Context) {
	now := s.cfg.Now()
	n, err := s.cfg.Store.DeleteExpiredSessions(ctx, now)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("deleting expired sessions failed; retrying later", zap.Error(err))
		}
	} else if n > 0 {
		s.log.Debug("expired sessions deleted", zap.Int(logRemoved, n))
	}
	s.failures.prune(now)
}

// randomSecret returns 32 random bytes in unpadded base64url (43 characters).
func randomSecret() (string, error) {
	var b [secretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: read random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// wellFormedSecret reports whether v looks like a value randomSecret makes.
func wellFormedSecret(v string) bool {
	b, err := base64.RawURLEncoding.DecodeString(v)
	return err == nil && len(b) == secretBytes
}

// roundUp rounds a wait up to whole seconds for messages.
func roundUp(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// failureCounter counts failed sign-ins per name within a fixed window that starts at the
// first failure. Attempts count as failures until they succeed, so parallel guesses cannot
// exceed the limit.
type failureCounter struct {
	max    int
	window time.Duration

	mu     sync.Mutex
	byName map[string]failureCount // guarded by mu
}

type failureCount struct {
	first time.Time
	n     int
}

func failureKey(name string) string { return strings.ToLower(name) }

// attempt records an attempt for name and reports whether it may go ahead; when it may not,
// it returns how long until the window ends.
func (f *failureCounter) attempt(name string, now time.Time) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := failureKey(name)
	c, ok := f.byName[key]
	if !ok || !now.Before(c.first.Add(f.window)) {
		if !ok && len(f.byName) >= maxTrackedNames {
			f.evictLocked(now)
		}
		c = failureCount{first: now}
	}
	if c.n >= f.max {
		return c.first.Add(f.window).Sub(now), false
	}
	c.n++
	f.byName[key] = c
	return 0, true
}

// wait returns how long name stays refused (0 when it is not).
func (f *failureCounter) wait(name string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.byName[failureKey(name)]
	if !ok || c.n < f.max {
		return 0
	}
	return max(0, c.first.Add(f.window).Sub(now))
}

// clear forgets the failures of name after a successful sign-in.
func (f *failureCounter) clear(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.byName, failureKey(name))
}

// forgive takes back one attempt that failed for a reason other than the password.
func (f *failureCounter) forgive(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := failureKey(name)
	if c, ok := f.byName[key]; ok && c.n > 0 {
		c.n--
		f.byName[key] = c
	}
}

// prune forgets windows that have ended.
func (f *failureCounter) prune(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pruneLocked(now)
}

func (f *failureCounter) pruneLocked(now time.Time) {
	for k, c := range f.byName {
		if !now.Before(c.first.Add(f.window)) {
			delete(f.byName, k)
		}
	}
}

// evictLocked makes room for one more name: ended windows go first, else the oldest one.
func (f *failureCounter) evictLocked(now time.Time) {
	f.pruneLocked(now)
	if len(f.byName) < maxTrackedNames {
		return
	}
	var oldest string
	var oldestAt time.Time
	found := false
	for k, c := range f.byName {
		if !found || c.first.Before(oldestAt) {
			oldest, oldestAt, found = k, c.first, true
		}
	}
	delete(f.byName, oldest)
}
