// Package auth holds who is calling the console (people and automation by API token, nodes by
// their mTLS certificate) and what each role may do.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
)

// Errors the API edge turns into status codes.
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
)

// Principal is the caller of a request.
type Principal struct {
	// Name is the user or token name, or the node id for a sensor.
	Name string
	Role store.Role
	// NodeID is set when the caller is a node (sensor or connector).
	NodeID string
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller of ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

var rank = map[store.Role]int{store.RoleViewer: 1, store.RoleAnalyst: 2, store.RoleAdmin: 3}

// ParseRole validates a role name.
func ParseRole(s string) (store.Role, error) {
	r := store.Role(strings.ToLower(s))
	if _, ok := rank[r]; !ok {
		return "", fmt.Errorf("unknown role %q (want admin, analyst or viewer)", s)
	}
	return r, nil
}

// Require checks that the caller of ctx is a person or token with at least role min.
func Require(ctx context.Context, min store.Role) (Principal, error) {
	p, ok := FromContext(ctx)
	if !ok || p.NodeID != "" {
		return Principal{}, fmt.Errorf("%w: sign in or pass an API token", ErrUnauthenticated)
	}
	if rank[p.Role] < rank[min] {
		return Principal{}, fmt.Errorf("%w: role %s may not do this; it needs %s", ErrForbidden, p.Role, min)
	}
	return p, nil
}

// TokenPrefix starts every API token, so leaked ones are easy to find.
const TokenPrefix = "pat_"

// NewAPIToken returns a fresh API token and the SHA-256 under which it is stored.
func NewAPIToken() (token string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	token = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token), nil
}

// HashToken is the stored form of a token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Authenticator checks API tokens against the store.
type Authenticator struct {
	Store store.Store
	Now   func() time.Time
}

// Bearer authenticates an "Authorization" header value ("Bearer <token>").
func (a *Authenticator) Bearer(ctx context.Context, header string) (Principal, error) {
	token, ok := strings.CutPrefix(strings.TrimSpace(header), "Bearer ")
	token = strings.TrimSpace(token)
	if !ok || token == "" {
		return Principal{}, fmt.Errorf("%w: missing API token (send an Authorization: Bearer header; the CLI takes --token or PALISADE_TOKEN)", ErrUnauthenticated)
	}
	if !strings.HasPrefix(token, TokenPrefix) {
		return Principal{}, fmt.Errorf("%w: malformed API token", ErrUnauthenticated)
	}
	t, err := a.Store.GetAPIToken(ctx, HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("%w: unknown API token", ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, err
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	if !t.RevokedAt.IsZero() {
		return Principal{}, fmt.Errorf("%w: API token %s was revoked", ErrUnauthenticated, t.Name)
	}
	if !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt) {
		return Principal{}, fmt.Errorf("%w: API token %s expired at %s", ErrUnauthenticated, t.Name, t.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return Principal{Name: t.Name, Role: t.Role}, nil
}
