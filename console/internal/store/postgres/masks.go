package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/palisadehq/palisade/console/internal/store"
)

const maskColumns = `id, control_id, node_ids, resource, reason, created_at, created_by, expires_at, removed_at, removed_by`

// maskCovers is the condition that mask m matches result r (see store.Mask).
const maskCovers = `m.control_id = r.control_id AND (m.resource = '' OR m.resource = r.resource)
	AND (cardinality(m.node_ids) = 0 OR r.node_id = ANY(m.node_ids))`

// maskActive is the condition that mask m is active at the time bound to placeholder at.
func maskActive(at string) string {
	return `m.removed_at IS NULL AND (m.expires_at IS NULL OR m.expires_at > ` + at + `)`
}

// maskedResult is the condition that a mask active at the time bound to at covers result r.
func maskedResult(at string) string {
	return `EXISTS (SELECT 1 FROM masks m WHERE ` + maskCovers + ` AND ` + maskActive(at) + `)`
}

// coveringMask is the id of the oldest mask active at the time bound to at that covers result
// r, or NULL.
func coveringMask(at string) string {
	return `(SELECT m.id FROM masks m WHERE ` + maskCovers + ` AND ` + maskActive(at) + `
		ORDER BY m.created_at, m.id LIMIT 1)`
}

// instant is the stored form of the time masks are judged at; the zero time comes before every
// expiry, as in store.Mask.Active.
func instant(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

func scanMask(row pgx.Row) (store.Mask, error) {
	var (
		m                store.Mask
		created          int64
		expires, removed *int64
	)
	err := row.Scan(&m.ID, &m.ControlID, &m.NodeIDs, &m.Resource, &m.Reason, &created, &m.CreatedBy, &expires, &removed, &m.RemovedBy)
	if err != nil {
		return store.Mask{}, err
	}
	m.NodeIDs = orNil(m.NodeIDs)
	m.CreatedAt, m.ExpiresAt, m.RemovedAt = fromNanos(&created), fromNanos(expires), fromNanos(removed)
	return m, nil
}

func queryMasks(ctx context.Context, q querier, query string, args ...any) ([]store.Mask, error) {
	rows, err := q.Query(ctx, query, args...)
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
	_, err := s.pool.Exec(ctx, `INSERT INTO masks (`+maskColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		m.ID, m.ControlID, orEmpty(m.NodeIDs), m.Resource, m.Reason, nanos(m.CreatedAt), m.CreatedBy,
		nanos(m.ExpiresAt), nanos(m.RemovedAt), m.RemovedBy)
	if err != nil {
		return fmt.Errorf("create mask %s: %w", m.ID, classify(err))
	}
	return nil
}

// GetMask returns the mask with the id.
func (s *Store) GetMask(ctx context.Context, id string) (store.Mask, error) {
	m, err := scanMask(s.pool.QueryRow(ctx, `SELECT `+maskColumns+` FROM masks WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
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
		p     placeholders
	)
	if f.ControlID != "" {
		where = append(where, `control_id = `+p.add(f.ControlID))
	}
	if f.NodeID != "" {
		where = append(where, `(cardinality(node_ids) = 0 OR `+p.add(f.NodeID)+`::text = ANY(node_ids))`)
	}
	if !f.ActiveAt.IsZero() {
		where = append(where, `removed_at IS NULL AND (expires_at IS NULL OR expires_at > `+p.add(instant(f.ActiveAt))+`)`)
	}
	query := `SELECT ` + maskColumns + ` FROM masks`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	masks, err := queryMasks(ctx, s.pool, query+` ORDER BY created_at, id`, p.args...)
	if err != nil {
		return nil, fmt.Errorf("list masks: %w", err)
	}
	return masks, nil
}

// RemoveMask sets RemovedAt and RemovedBy of a mask not removed yet and returns it. One
// statement changes the mask, so concurrent removals remove it once.
func (s *Store) RemoveMask(ctx context.Context, id, by string, at time.Time) (store.Mask, error) {
	if at.IsZero() {
		return store.Mask{}, fmt.Errorf("remove mask %q: no removal time", id)
	}
	m, err := scanMask(s.pool.QueryRow(ctx, `UPDATE masks SET removed_at = $1, removed_by = $2
		WHERE id = $3 AND removed_at IS NULL RETURNING `+maskColumns, nanos(at), by, id))
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return store.Mask{}, fmt.Errorf("remove mask %q: %w", id, err)
	}
	var removed *int64
	err = s.pool.QueryRow(ctx, `SELECT removed_at FROM masks WHERE id = $1`, id).Scan(&removed)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Mask{}, fmt.Errorf("remove mask: mask %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Mask{}, fmt.Errorf("remove mask %q: %w", id, err)
	}
	return store.Mask{}, fmt.Errorf("remove mask: mask %s was removed at %s already: %w", id, fromNanos(removed).Format(time.RFC3339), store.ErrConflict)
}

// MaskedScans returns the ids of the completed scans holding a result that m matches, ordered
// by creation time, then id. A scan's results are its node's, so the node test is on the scan
// (and uses the scans' node index when m names nodes). Each scan is then probed on the
// results' primary key (scan id, control id): the lateral join keeps the planner from
// reading every stored result instead, which it prefers for a mask of every node although
// that costs a scan of the largest table.
func (s *Store) MaskedScans(ctx context.Context, m store.Mask) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT s.id FROM scans s
		CROSS JOIN LATERAL (SELECT 1 FROM results r WHERE r.scan_id = s.id AND r.control_id = $2
			AND ($3 = '' OR r.resource = $3) LIMIT 1) r
		WHERE s.state = 'complete' AND (cardinality($1::text[]) = 0 OR s.node_id = ANY($1::text[]))
		ORDER BY s.created_at, s.id`, orEmpty(m.NodeIDs), m.ControlID, m.Resource)
	if err != nil {
		return nil, fmt.Errorf("find the scans a mask of %s matches: %w", m.ControlID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("find the scans a mask of %s matches: %w", m.ControlID, err)
	}
	return orNil(ids), nil
}

// masksByID reads the masks with the ids.
func masksByID(ctx context.Context, q querier, ids []string) (map[string]store.Mask, error) {
	masks, err := queryMasks(ctx, q, `SELECT `+maskColumns+` FROM masks WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read masks: %w", err)
	}
	out := make(map[string]store.Mask, len(masks))
	for _, m := range masks {
		out[m.ID] = m
	}
	return out, nil
}
