package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
)

// DeleteUser deletes a user; their sessions go with them (ON DELETE CASCADE).
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", name, err)
	}
	return mustChange(res, "user", name)
}

// CreateSession stores a session; a taken hash is store.ErrConflict, an unknown user
// store.ErrNotFound.
func (s *Store) CreateSession(ctx context.Context, ses store.Session) error {
	if err := checkSession(ses); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO sessions (hash, user_name, role, csrf_token, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
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
		created, expires sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx, `SELECT hash, user_name, role, csrf_token, created_at, expires_at FROM sessions WHERE hash = ?`,
		hash).Scan(&ses.Hash, &ses.UserName, &role, &ses.CSRFToken, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, fmt.Errorf("no session has that cookie: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", err)
	}
	ses.Role = store.Role(role)
	ses.CreatedAt, ses.ExpiresAt = fromNanos(created), fromNanos(expires)
	return ses, nil
}

// DeleteSession deletes a session; an unknown one is not an error.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions deletes the sessions that expired at or before now.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, instant(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := rowsAffected(res)
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return int(n), nil
}
