package auth

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/sqlite"
)

func TestBearer(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	mk := func(name string, role store.Role, expires, revoked time.Time) string {
		tok, hash, err := NewAPIToken()
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateAPIToken(ctx, store.APIToken{ID: "id-" + name, Name: name, Hash: hash, Role: role, CreatedAt: now.Add(-time.Hour), ExpiresAt: expires, RevokedAt: revoked}); err != nil {
			t.Fatal(err)
		}
		return tok
	}
	valid := mk("ci", store.RoleAnalyst, now.Add(time.Hour), time.Time{})
	expired := mk("old", store.RoleAdmin, now, time.Time{})
	revoked := mk("gone", store.RoleAdmin, time.Time{}, now.Add(-time.Minute))
	a := &Authenticator{Store: st, Now: func() time.Time { return now }}

	p, err := a.Bearer(ctx, "Bearer "+valid)
	if err != nil || p != (Principal{Name: "ci", Role: store.RoleAnalyst}) {
		t.Fatalf("valid token: %+v, %v", p, err)
	}
	tests := []struct {
		name, header, want string
	}{
		{"missing", "", "unauthenticated: missing API token (send an Authorization: Bearer header; the CLI takes --token or PALISADE_TOKEN)"},
		{"not bearer", "Basic abc", "unauthenticated: missing API token (send an Authorization: Bearer header; the CLI takes --token or PALISADE_TOKEN)"},
		{"malformed", "Bearer xyz", "unauthenticated: malformed API token"},
		{"unknown", "Bearer pat_nope", "unauthenticated: unknown API token"},
		{"expired", "Bearer " + expired, "unauthenticated: API token old expired at 2026-11-26T12:00:00Z"},
		{"revoked", "Bearer " + revoked, "unauthenticated: API token gone was revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Bearer(ctx, tt.header)
			if err == nil || err.Error() != tt.want || !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error %v; want %q", err, tt.want)
			}
		})
	}
}

func TestRequire(t *testing.T) {
	viewer := WithPrincipal(context.Background(), Principal{Name: "v", Role: store.RoleViewer})
	if _, err := Require(viewer, store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	_, err := Require(viewer, store.RoleAnalyst)
	if !errors.Is(err, ErrForbidden) || err.Error() != "forbidden: role viewer may not do this; it needs analyst" {
		t.Fatalf("viewer starting a scan: %v", err)
	}
	node := WithPrincipal(context.Background(), Principal{Name: "n", NodeID: "n"})
	if _, err := Require(node, store.RoleViewer); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("node calling the user API: %v", err)
	}
	if _, err := Require(context.Background(), store.RoleViewer); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("anonymous: %v", err)
	}
}
