package apitoken

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/sqlite"
)

func TestCreateAndRevoke(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	secret, tok, err := Create(ctx, st, "ci", store.RoleViewer, 24*time.Hour, "admin", now)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Name != "ci" || tok.Role != store.RoleViewer || !tok.ExpiresAt.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("token %+v", tok)
	}
	a := &auth.Authenticator{Store: st, Now: func() time.Time { return now }}
	p, err := a.Bearer(ctx, "Bearer "+secret)
	if err != nil || p.Name != "ci" || p.Role != store.RoleViewer {
		t.Fatalf("authenticate new token: %+v, %v", p, err)
	}
	if err := Revoke(ctx, st, tok.ID, "admin", now); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Bearer(ctx, "Bearer "+secret); err == nil || err.Error() != "unauthenticated: API token ci was revoked" {
		t.Fatalf("revoked token: %v", err)
	}
	err = Revoke(ctx, st, tok.ID, "admin", now.Add(time.Minute))
	if want := "API token already revoked: token " + tok.ID + " (ci) was revoked at 2026-11-26T08:00:00Z"; !errors.Is(err, ErrRevoked) || err.Error() != want {
		t.Fatalf("revoking twice: %v; want %s", err, want)
	}
	if got, err := Get(ctx, st, tok.ID); err != nil || !got.RevokedAt.Equal(now) {
		t.Fatalf("Get after revoking: %+v, %v; want revoked at %s", got, err, now)
	}
	err = Revoke(ctx, st, "pat_nope", "admin", now)
	if want := `not found: no API token has id "pat_nope"; list the tokens to find its id`; !errors.Is(err, store.ErrNotFound) || err.Error() != want {
		t.Fatalf("unknown id: %v; want %s", err, want)
	}
	for _, bad := range []struct {
		name string
		role store.Role
		ttl  time.Duration
		want string
	}{
		{"", store.RoleViewer, 0, "invalid API token request: a token needs a name of 1 to 64 characters"},
		{strings.Repeat("é", 65), store.RoleViewer, 0, "invalid API token request: a token needs a name of 1 to 64 characters"},
		{"x", "root", 0, `invalid API token request: unknown role "root" (want admin, analyst or viewer)`},
		{"x", store.RoleAdmin, -time.Second, "invalid API token request: ttl -1s is out of range (0 for no expiry, at most 17520h0m0s)"},
	} {
		if _, _, err := Create(ctx, st, bad.name, bad.role, bad.ttl, "admin", now); !errors.Is(err, ErrInvalid) || err.Error() != bad.want {
			t.Fatalf("Create(%q, %q, %s): %v; want %q", bad.name, bad.role, bad.ttl, err, bad.want)
		}
	}
	// A role in any case is stored in lower case.
	if _, upper, err := Create(ctx, st, "ops", "Analyst", 0, "admin", now); err != nil || upper.Role != store.RoleAnalyst || !upper.ExpiresAt.IsZero() {
		t.Fatalf("Create with role Analyst: %+v, %v", upper, err)
	}
	audit, err := st.ListAudit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Action+" "+e.Detail)
	}
	want := []string{"api_token.create name=ops role=analyst ttl=0s", "api_token.revoke name=ci", "api_token.create name=ci role=viewer ttl=24h0m0s"}
	if strings.Join(actions, "|") != strings.Join(want, "|") {
		t.Fatalf("audit %q; want %q", actions, want)
	}
}
