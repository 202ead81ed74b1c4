package apitoken

import (
	"context"
	"path/filepath"
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
	if err := Revoke(ctx, st, "pat_nope", "admin", now); err == nil || err.Error() != `no API token with id "pat_nope" (see `+"`apitoken list`"+`)` {
		t.Fatalf("unknown id: %v", err)
	}
	for _, bad := range []struct {
		name string
		role store.Role
		ttl  time.Duration
		want string
	}{
		{"", store.RoleViewer, 0, "a token needs a name of 1 to 64 characters (--name)"},
		{"x", "root", 0, `unknown role "root" (want admin, analyst or viewer)`},
		{"x", store.RoleAdmin, -time.Second, "ttl -1s is out of range (0 for no expiry, at most 17520h0m0s)"},
	} {
		if _, _, err := Create(ctx, st, bad.name, bad.role, bad.ttl, "admin", now); err == nil || err.Error() != bad.want {
			t.Fatalf("Create(%q, %q, %s): %v; want %q", bad.name, bad.role, bad.ttl, err, bad.want)
		}
	}
	audit, err := st.ListAudit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 2 || audit[0].Action != "api_token.revoke" || audit[1].Action != "api_token.create" {
		t.Fatalf("audit %+v", audit)
	}
}
