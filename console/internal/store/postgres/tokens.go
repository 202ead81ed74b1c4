package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/palisadehq/palisade/console/internal/store"
)

// CreateEnrolToken stores a new enrolment token; a taken id or hash is store.ErrConflict.
func (s *Store) CreateEnrolToken(ctx context.Context, t store.EnrolToken) error {
	if t.ID == "" || len(t.Hash) == 0 {
		return errors.New("create enrolment token: id and hash are required")
	}
	_, err := s.pool.Exec(ctx,
		`INSERT INTO enrol_tokens (id, hash, created_at, expires_at, uses, used, revoked_at, created_by)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.ID, t.Hash, nanos(t.CreatedAt), nanos(t.ExpiresAt), t.Uses, t.Used, nanos(t.RevokedAt), t.CreatedBy)
	if err != nil {
		return fmt.Errorf("create enrolment token %s: %w", t.ID, classify(err))
	}
	return nil
}

// ListEnrolTokens returns every enrolment token, oldest first (ties by id).
func (s *Store) ListEnrolTokens(ctx context.Context) ([]store.EnrolToken, error) {
	rows, err := s.pool.Query(ctx,
		`SELECT id, hash, created_at, expires_at, uses, used, revoked_at, created_by
		 FROM enrol_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list enrolment tokens: %w", err)
	}
	defer rows.Close()
	var out []store.EnrolToken
	for rows.Next() {
		var (
			t                         store.EnrolToken
			created, expires, revoked *int64
		)
		if err := rows.Scan(&t.ID, &t.Hash, &created, &expires, &t.Uses, &t.Used, &revoked, &t.CreatedBy); err != nil {
			return nil, fmt.Errorf("list enrolment tokens: %w", err)
		}
		t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromNanos(created), fromNanos(expires), fromNanos(revoked)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list enrolment tokens: %w", err)
	}
	return out, nil
}

// RevokeEnrolToken revokes the token; revoking it again keeps the first revocation time.
func (s *Store) RevokeEnrolToken(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE enrol_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, nanos(at), id)
	if err != nil {
		return fmt.Errorf("revoke enrolment token %q: %w", id, err)
	}
	return mustChange(tag, "enrolment token", id)
}

const apiTokenColumns = `id, name, hash, role, created_at, expires_at, revoked_at, created_by`

func scanAPIToken(row pgx.Row) (store.APIToken, error) {
	var (
		t                         store.APIToken
		role                      string
		created, expires, revoked *int64
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Hash, &role, &created, &expires, &revoked, &t.CreatedBy); err != nil {
		return store.APIToken{}, err
	}
	t.Role = store.Role(role)
	t.CreatedAt, t.ExpiresAt, t.RevokedAt = fromNanos(created), fromNanos(expires), fromNanos(revoked)
	return t, nil
}

// CreateAPIToken stores a new API token; a taken id or hash is store.ErrConflict.
func (s *Store) CreateAPIToken(ctx context.Context, t store.APIToken) error {
	if t.ID == "" || len(t.Hash) == 0 {
		return errors.New("create api token: id and hash are required")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO api_tokens (`+apiTokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.ID, t.Name, t.Hash, string(t.Role), nanos(t.CreatedAt), nanos(t.ExpiresAt), nanos(t.RevokedAt), t.CreatedBy)
	if err != nil {
		return fmt.Errorf("create api token %s: %w", t.ID, classify(err))
	}
	return nil
}

// GetAPIToken finds a token by the SHA-256 of its secret, whether or not it is still valid.
func (s *Store) GetAPIToken(ctx context.Context, hash []byte) (store.APIToken, error) {
	t, err := scanAPIToken(s.pool.QueryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.APIToken{}, fmt.Errorf("no api token has that secret: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.APIToken{}, fmt.Errorf("get api token: %w", err)
	}
	return t, nil
}

// ListAPITokens returns every API token, oldest first (ties by id).
func (s *Store) ListAPITokens(ctx context.Context) ([]store.APIToken, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	defer rows.Close()
	var out []store.APIToken
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list api tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	return out, nil
}

// RevokeAPIToken revokes the token; revoking it again keeps the first revocation time.
func (s *Store) RevokeAPIToken(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, nanos(at), id)
	if err != nil {
		return fmt.Errorf("revoke api token %q: %w", id, err)
	}
	return mustChange(tag, "api token", id)
}

// CreateUser stores a new user; a taken name is store.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if u.Name == "" {
		return errors.New("create user: empty name")
	}
	hash := u.PasswordHash
	if hash == nil {
		hash = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO users (name, password_hash, role, created_at) VALUES ($1, $2, $3, $4)`,
		u.Name, hash, string(u.Role), nanos(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("create user %q: %w", u.Name, classify(err))
	}
	return nil
}

func scanUser(row pgx.Row) (store.User, error) {
	var (
		u       store.User
		role    string
		created *int64
	)
	if err := row.Scan(&u.Name, &u.PasswordHash, &role, &created); err != nil {
		return store.User{}, err
	}
	u.Role, u.CreatedAt = store.Role(role), fromNanos(created)
	return u, nil
}

// GetUser returns the user with the name.
func (s *Store) GetUser(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT name, password_hash, role, created_at FROM users WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.User{}, fmt.Errorf("user %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q: %w", name, err)
	}
	return u, nil
}

// ListUsers returns every user, ordered by name.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, password_hash, role, created_at FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}
