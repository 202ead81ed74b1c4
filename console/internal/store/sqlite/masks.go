package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
)

const maskColumns = `id, control_id, node_ids, resource, reason, created_at, created_by, expires_at, removed_at, removed_by`

// maskCovers is the condition that mask m matches result r (see store.Mask).
const maskCovers = `m.control_id = r.control_id AND (m.resource = '' OR m.resource = r.resource)
	AND (m.node_ids = '[]' OR EXISTS (SELECT 1 FROM json_each(m.node_ids) j WHERE j.value = r.node_id))`

// maskActive is the condition that mask m is active at the time bound to the placeholder.
const maskActive = `m.removed_at IS NULL AND (m.expires_at IS NULL OR m.expires_at > ?)`

// maskedResult is the condition that a mask active at the bound time covers result r.
const maskedResult = `EXISTS (SELECT 1 FROM masks m WHERE ` + maskCovers + ` AND ` + maskActive + `)`

// coveringMask is the id of the oldest mask active at the bound time that covers result r, or
// NULL.
const coveringMask = `(SELECT m.id FROM masks m WHERE ` + maskCovers + ` AND ` + maskActive + `
	ORDER BY m.created_at, m.id LIMIT 1)`

// instant is the stored form of the time masks are judged at; the zero time comes before every
// expiry, as in store.Mask.Active.
func instant(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

func scanMask(row interface{ Scan(...any) error }) (store.Mask, error) {
	var (
		m                         store.Mask
		nodes                     string
		created, expires, removed sql.NullInt64
	)
	err := row.Scan(&m.ID, &m.ControlID, &nodes, &m.Resource, &m.Reason, &created, &m.CreatedBy, &expires, &removed, &m.RemovedBy)
	if err != nil {
		return store.Mask{}, err
	}
	if m.NodeIDs, err = decodeStrings(nodes); err != nil {
		return store.Mask{}, fmt.Errorf("decode nodes of mask %s: %w", m.ID, err)
	}
	m.CreatedAt, m.ExpiresAt, m.RemovedAt = fromNanos(created), fromNanos(expires), fromNanos(removed)
	return m, nil
}

func queryMasks(ctx context.Context, q queryer, query string, args ...any) ([]store.Mask, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Mask
	for rows.Next() {
		m, err := scanMask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// CreateMask stores a mask; a taken id is store.ErrConflict.
func (s *Store) CreateMask(ctx context.Context, m store.Mask) error {
	switch {
	case m.ID == "":
		return errors.New("create mask: empty mask id")
	case m.ControlID == "":
		return fmt.Errorf("create mask %s: no control id; a mask covers one control", m.ID)
	case m.CreatedAt.IsZero():
		return fmt.Errorf("create mask %s: no creation time", m.ID)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO masks (`+maskColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.ControlID, encodeStrings(m.NodeIDs), m.Resource, m.Reason, nanos(m.CreatedAt), m.CreatedBy,
		nanos(m.ExpiresAt), nanos(m.RemovedAt), m.RemovedBy)
	if err != nil {
		return fmt.Errorf("create mask %s: %w", m.ID, classify(err))
	}
	return nil
}

// GetMask returns the mask with the id.
func (s *Store) GetMask(ctx context.Context, id string) (store.Mask, error) {
	m, err := scanMask(s.r.QueryRowContext(ctx, `SELECT `+maskColumns+` FROM masks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Mask{}, fmt.Errorf("mask %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Mask{}, fmt.Errorf("get mask %q: %w", id, err)
	}
	return m, nil
}

// ListMasks returns the masks matching f, ordered by creation time, then id.
func (s *Store) ListMasks(ctx context.Context, f store.MaskFilter) ([]store.Mask, error) {
	var (
		where []string
		args  []any
	)
	if f.ControlID != "" {
		where, args = append(where, `control_id = ?`), append(args, f.ControlID)
	}
	if f.NodeID != "" {
		where = append(where, `(node_ids = '[]' OR EXISTS (SELECT 1 FROM json_each(node_ids) j WHERE j.value = ?))`)
		args = append(args, f.NodeID)
	}
	if !f.ActiveAt.IsZero() {
		where = append(where, `removed_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`)
		args = append(args, instant(f.ActiveAt))
	}
	query := `SELECT ` + maskColumns + ` FROM masks`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	masks, err := queryMasks(ctx, s.r, query+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list masks: %w", err)
	}
	return masks, nil
}

// RemoveMask sets RemovedAt and RemovedBy of a mask not removed yet and returns it.
func (s *Store) RemoveMask(ctx context.Context, id, by string, at time.Time) (store.Mask, error) {
	if at.IsZero() {
		return store.Mask{}, fmt.Errorf("remove mask %q: no removal time", id)
	}
	var out store.Mask
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		m, err := scanMask(tx.QueryRowContext(ctx, `UPDATE masks SET removed_at = ?, removed_by = ?
			WHERE id = ? AND removed_at IS NULL RETURNING `+maskColumns, nanos(at), by, id))
		if err == nil {
			out = m
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var removed sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT removed_at FROM masks WHERE id = ?`, id).Scan(&removed)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("mask %q: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("mask %s was removed at %s already: %w", id, fromNanos(removed).Format(time.RFC3339), store.ErrConflict)
	})
	if err != nil {
		return store.Mask{}, fmt.Errorf("remove mask: %w", err)
	}
	return out, nil
}

// MaskedScans returns the ids of the completed scans holding a result that m matches, ordered
// by creation time, then id. A scan's results are its node's, so the node test is on the scan.
func (s *Store) MaskedScans(ctx context.Context, m store.Mask) ([]string, error) {
	nodes := encodeStrings(m.NodeIDs)
	rows, err := s.r.QueryContext(ctx, `SELECT s.id FROM scans s
		WHERE s.state = 'complete'
		  AND (? = '[]' OR s.node_id IN (SELECT value FROM json_each(?)))
		  AND EXISTS (SELECT 1 FROM results r WHERE r.scan_id = s.id AND r.control_id = ? AND (? = '' OR r.resource = ?))
		ORDER BY s.created_at, s.id`, nodes, nodes, m.ControlID, m.Resource, m.Resource)
	if err != nil {
		return nil, fmt.Errorf("find the scans a mask of %s matches: %w", m.ControlID, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find the scans a mask of %s matches: %w", m.ControlID, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find the scans a mask of %s matches: %w", m.ControlID, err)
	}
	return ids, nil
}

// masksByID reads the masks with the ids.
func masksByID(ctx context.Context, q queryer, ids []string) (map[string]store.Mask, error) {
	masks, err := queryMasks(ctx, q, `SELECT `+maskColumns+` FROM masks WHERE id IN (SELECT value FROM json_each(?))`, encodeStrings(ids))
	if err != nil {
		return nil, fmt.Errorf("read masks: %w", err)
	}
	out := make(map[string]store.Mask, len(masks))
	for _, m := range masks {
		out[m.ID] = m
	}
	return out, nil
}
