// Package apitoken manages the API tokens automation and the CLI use, directly on a console's
// store (`palisade-console apitoken ...` on the console's machine).
package apitoken

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/store"
)

// MaxTTL bounds a token's lifetime; zero means no expiry.
const MaxTTL = 2 * 365 * 24 * time.Hour

// Create makes a token and returns its secret (shown once) and the stored record.
func Create(ctx context.Context, st store.Store, name string, role store.Role, ttl time.Duration, actor string, now time.Time) (string, store.APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 64 {
		return "", store.APIToken{}, errors.New("a token needs a name of 1 to 64 characters (--name)")
	}
	if _, err := auth.ParseRole(string(role)); err != nil {
		return "", store.APIToken{}, err
	}
	if ttl < 0 || ttl > MaxTTL {
		return "", store.APIToken{}, fmt.Errorf("ttl %s is out of range (0 for no expiry, at most %s)", ttl, MaxTTL)
	}
	secret, hash, err := auth.NewAPIToken()
	if err != nil {
		return "", store.APIToken{}, err
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", store.APIToken{}, err
	}
	t := store.APIToken{ID: "pat_" + hex.EncodeToString(b[:]), Name: name, Hash: hash, Role: role, CreatedAt: now.UTC(), CreatedBy: actor}
	if ttl > 0 {
		t.ExpiresAt = now.UTC().Add(ttl)
	}
	if err := st.CreateAPIToken(ctx, t); err != nil {
		return "", store.APIToken{}, err
	}
	if err := st.AppendAudit(ctx, store.AuditEntry{At: now.UTC(), Actor: actor, Action: "api_token.create", Target: t.ID,
		Detail: fmt.Sprintf("name=%s role=%s ttl=%s", name, role, ttl)}); err != nil {
		return "", store.APIToken{}, err
	}
	return secret, t, nil
}

// Revoke revokes a token by id.
func Revoke(ctx context.Context, st store.Store, id, actor string, now time.Time) error {
	if err := st.RevokeAPIToken(ctx, id, now.UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no API token with id %q (see `apitoken list`)", id)
		}
		return err
	}
	return st.AppendAudit(ctx, store.AuditEntry{At: now.UTC(), Actor: actor, Action: "api_token.revoke", Target: id})
}
