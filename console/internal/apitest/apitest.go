// Package apitest holds what the tests of the console's API and of the packages around it
// (auth, export, server) build their fixtures from: a real SQLite store in a temporary
// directory, a scan manager over it, a settable clock and the principals that sign in. Only
// tests import it.
//
// It imports neither api nor auth, so that the tests inside those packages can use it; the
// callers build their api.Server and auth values themselves.
package apitest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/palisadehq/palisade/console/internal/scans"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/sqlite"
	"github.com/palisadehq/palisade/pkg/catalog"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

// NewClock is a clock standing at now.
func NewClock(now time.Time) *Clock {
	return &Clock{now: now}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Dispatcher is a bus that accepts every job and command and delivers none.
type Dispatcher struct{}

// PublishJob accepts the job.
func (Dispatcher) PublishJob(context.Context, *sensorv1.Job) error { return nil }

// PublishCommand accepts the command.
func (Dispatcher) PublishCommand(context.Context, string, *sensorv1.Command) error { return nil }

// OpenStore opens a SQLite store in a temporary directory of t, closed when t ends.
func OpenStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Backend is what a console's API server is built on.
type Backend struct {
	Store   store.Store
	Catalog *catalog.Catalog
	Scans   *scans.Manager
}

// NewBackend opens a store with OpenStore and a scan manager over it with the built-in
// catalogue, replica id "test" and a Dispatcher. now is the manager's clock; nil means the
// wall clock.
func NewBackend(t testing.TB, now func() time.Time) *Backend {
	t.Helper()
	st := OpenStore(t)
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := scans.New(scans.Config{Store: st, Catalog: cat, Dispatcher: Dispatcher{}, Now: now, ReplicaID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return &Backend{Store: st, Catalog: cat, Scans: mgr}
}

// AlicePassword is the password of user alice, stored by AddPrincipals.
const AlicePassword = "correct horse battery staple"

// AddPrincipals stores user alice, an analyst whose password is AlicePassword (hashed at
// bcrypt's lowest cost, for speed), and an admin API token named "ci" with id "pat-ci", both
// created at at. newToken makes the token's secret and hash: pass auth.NewAPIToken. It returns
// the token's secret.
func AddPrincipals(t testing.TB, st store.Store, at time.Time, newToken func() (string, []byte, error)) string {
	t.Helper()
	ctx := context.Background()
	hash, err := bcrypt.GenerateFromPassword([]byte(AlicePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{Name: "alice", PasswordHash: hash, Role: store.RoleAnalyst, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	secret, tokHash, err := newToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAPIToken(ctx, store.APIToken{ID: "pat-ci", Name: "ci", Hash: tokHash, Role: store.RoleAdmin, CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	return secret
}
