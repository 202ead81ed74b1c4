package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/palisadehq/palisade/console/internal/store"
)

// DeleteUser deletes a user; their sessions go with them (ON DELETE CASCADE).
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM users WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	return mustChange(tag, "user", name)
}

// CreateSession stores a session; a taken hash is store.ErrConflict, an unknown user
// store.ErrNotFound.
func (s *Store) CreateSession(ctx context.Context, ses store.Session) error {
	if err := checkSession(ses); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (hash, user_name, role, csrf_token, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		ses.Hash, ses.UserName, string(ses.Role), ses.CSRFToken, nanos(ses.CreatedAt), nanos(ses.ExpiresAt))
	if err != nil {
		return fmt.Errorf("create session of %q: %w", ses.UserName, classify(err))
	}
	return nil
}

// checkSession rejects a session that cannot be stored.
func checkSession(ses store.Session) error {
	switch {
	case len(ses.Hash) == 0:
		return errors.New("create session: no cookie hash")
	case ses.UserName == "":
		return errors.New("create session: no user name")
	case ses.CreatedAt.IsZero() || ses.ExpiresAt.IsZero():
		return fmt.Errorf("create session of %q: creation and expiry times are required", ses.UserName)
	}
	return nil
}

// GetSession finds a session by the SHA-256 of its cookie, expired or not.
func (s *Store) GetSession(ctx context.Context, hash []byte) (store.Session, error) {
	var (
		ses              store.Session
		role             string
		created, expires int64
	)
	err := s.pool.QueryRow(ctx, `SELECT hash, user_name, role, csrf_token, created_at, expires_at FROM sessions WHERE hash = $1`,
		hash).Scan(&ses.Hash, &ses.UserName, &role, &ses.CSRFToken, &created, &expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Session{}, fmt.Errorf("no session has that cookie: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", err)
	}
	ses.Role = store.Role(role)
	ses.CreatedAt, ses.ExpiresAt = fromNanos(&created), fromNanos(&expires)
	return ses, nil
}

// DeleteSession deletes a session; an unknown one is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions deletes the sessions that expired at or before now.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, instant(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
