package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/palisadehq/palisade/console/internal/store"
)

const insertAudit = `INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`

// AppendAudit records one change.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEntry) error {
	_, err := s.w.ExecContext(ctx, insertAudit, nanos(e.At), e.Actor, e.Action, e.Target, e.Detail)
	if err != nil {
		return fmt.Errorf("append audit entry %s: %w", e.Action, err)
	}
	return nil
}

// ListAudit returns the newest entries first (by At; entries with the same At, the one
// appended last first). A limit of zero or less means store.DefaultAuditLimit; larger than
// store.MaxAuditLimit is cut to it.
func (s *Store) ListAudit(ctx context.Context, limit int) ([]store.AuditEntry, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT at, actor, action, target, detail FROM audit
		ORDER BY at DESC, seq DESC LIMIT ?`, store.AuditLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var (
			e  store.AuditEntry
			at sql.NullInt64
		)
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, fmt.Errorf("list audit log: %w", err)
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return out, nil
}
