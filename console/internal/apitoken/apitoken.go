// Package apitoken manages the API tokens automation and the CLI use, on a console's store:
// the console's user API and `palisade-console apitoken ...` on the console's machine both
// create and revoke tokens through it.
package apitoken

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/store"
)

// MaxTTL bounds a token's lifetime; zero means no expiry.
const MaxTTL = 2 * 365 * 24 * time.Hour

// maxNameLen bounds a token's name, in characters.
const maxNameLen = 64

// Error kinds callers test with errors.Is. An unknown token id wraps store.ErrNotFound.
var (
	// ErrInvalid is a request to create a token that cannot be honoured.
	ErrInvalid = errors.New("invalid API token request")
	// ErrRevoked is a request to revoke a token that already is.
	ErrRevoked = errors.New("API token already revoked")
)

// Create makes a token and returns its secret (shown once) and the stored record. Bad input
// fails with an error wrapping ErrInvalid and stores nothing.
func Create(ctx context.Context, st store.Store, name string, role store.Role, ttl time.Duration, actor string, now time.Time) (string, store.APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > maxNameLen {
		return "", store.APIToken{}, fmt.Errorf("%w: a token needs a name of 1 to %d characters", ErrInvalid, maxNameLen)
	}
	role, err := auth.ParseRole(string(role))
	if err != nil {
		return "", store.APIToken{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if ttl < 0 || ttl > MaxTTL {
		return "", store.APIToken{}, fmt.Errorf("%w: ttl %s is out of range (0 for no expiry, at most %s)", ErrInvalid, ttl, MaxTTL)
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

// Revoke revokes a token by id. An unknown id fails with an error wrapping store.ErrNotFound,
// a token revoked before with one wrapping ErrRevoked.
func Revoke(ctx context.Context, st store.Store, id, actor string, now time.Time) error {
	t, err := Get(ctx, st, id)
	if err != nil {
		return err
	}
	if !t.RevokedAt.IsZero() {
		return fmt.Errorf("%w: token %s (%s) was revoked at %s", ErrRevoked, id, t.Name, t.RevokedAt.UTC().Format(time.RFC3339))
	}
	if err := st.RevokeAPIToken(ctx, id, now.UTC()); err != nil {
		return err
	}
	return st.AppendAudit(ctx, store.AuditEntry{At: now.UTC(), Actor: actor, Action: "api_token.revoke", Target: id,
		Detail: "name=" + t.Name})
}

// Get finds a token by id; an unknown id fails with an error wrapping store.ErrNotFound.
func Get(ctx context.Context, st store.Store, id string) (store.APIToken, error) {
	tokens, err := st.ListAPITokens(ctx)
	if err != nil {
		return store.APIToken{}, err
	}
	for _, t := range tokens {
		if t.ID == id {
			return t, nil
		}
	}
	return store.APIToken{}, fmt.Errorf("%w: no API token has id %q; list the tokens to find its id", store.ErrNotFound, id)
}
