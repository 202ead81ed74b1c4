package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

const nodeColumns = `id, name, target_type, facts, enrol_token_id, enrolled_at, last_seen_at`

// nodeSelect reads a node as scanNode scans it: the facts come as one column each, taken out
// of the JSON by the server. Decoding the JSON in the console cost about 7 us a node, most of
// a start's lookup of ten thousand nodes; a missing fact reads as "", as it decodes.
const nodeSelect = `id, name, target_type,
	coalesce(facts->>'hostname', ''), coalesce(facts->>'os_id', ''), coalesce(facts->>'os_version', ''),
	coalesce(facts->>'os_name', ''), coalesce(facts->>'kernel', ''), coalesce(facts->>'arch', ''),
	coalesce(facts->>'machine_id', ''), coalesce(facts->>'sensor_version', ''), coalesce(facts->>'catalog_version', ''),
	enrol_token_id, enrolled_at, last_seen_at`

// EnrolNode consumes one use of the enrolment token and creates the node in one transaction.
// The checks run in this order: unknown hash, revoked, expired (now at or after ExpiresAt; a
// zero ExpiresAt never expires), used up. The token's row stays locked until the commit, so
// concurrent enrolments with one token take its uses one at a time. The node's EnrolTokenID is
// the token's id and both its EnrolledAt and LastSeenAt are now.
func (s *Store) EnrolNode(ctx context.Context, tokenHash []byte, node store.Node, now time.Time) error {
	if node.ID == "" {
		return errors.New("enrol node: empty node id")
	}
	facts, err := json.Marshal(node.Facts)
	if err != nil {
		return fmt.Errorf("enrol node %s: encode facts: %w", node.ID, err)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var (
			id               string
			expires, revoked *int64
			uses, used       int
		)
		err := tx.QueryRow(ctx,
			`SELECT id, expires_at, revoked_at, uses, used FROM enrol_tokens WHERE hash = $1 FOR UPDATE`, tokenHash,
		).Scan(&id, &expires, &revoked, &uses, &used)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("enrol node %s: no enrolment token has that secret: %w", node.ID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("enrol node %s: look up enrolment token: %w", node.ID, err)
		}
		switch {
		case revoked != nil:
			return fmt.Errorf("enrol node %s: token %s: %w", node.ID, id, store.ErrTokenRevoked)
		case expires != nil && !now.Before(fromNanos(expires)):
			return fmt.Errorf("enrol node %s: token %s: %w", node.ID, id, store.ErrTokenExpired)
		case used >= uses:
			return fmt.Errorf("enrol node %s: token %s: %w", node.ID, id, store.ErrTokenUsedUp)
		}
		if _, err := tx.Exec(ctx, `UPDATE enrol_tokens SET used = used + 1 WHERE id = $1`, id); err != nil {
			return fmt.Errorf("enrol node %s: consume token %s: %w", node.ID, id, err)
		}
		_, err = tx.Exec(ctx, `INSERT INTO nodes (`+nodeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			node.ID, node.Name, string(node.TargetType), string(facts), id, nanos(now), nanos(now))
		if err != nil {
			return fmt.Errorf("enrol node %s: %w", node.ID, classify(err))
		}
		return nil
	})
}

func scanNode(row pgx.Row) (store.Node, error) {
	var (
		n                  store.Node
		tt                 string
		enrolled, lastSeen *int64
	)
	f := &n.Facts
	if err := row.Scan(&n.ID, &n.Name, &tt, &f.Hostname, &f.OSID, &f.OSVersion, &f.OSName, &f.Kernel, &f.Arch,
		&f.MachineID, &f.SensorVersion, &f.CatalogVersion, &n.EnrolTokenID, &enrolled, &lastSeen); err != nil {
		return store.Node{}, err
	}
	n.TargetType = posture.TargetType(tt)
	n.EnrolledAt = fromNanos(enrolled)
	n.LastSeenAt = fromNanos(lastSeen)
	return n, nil
}

// GetNode returns the node with the id.
func (s *Store) GetNode(ctx context.Context, id string) (store.Node, error) {
	n, err := scanNode(s.pool.QueryRow(ctx, `SELECT `+nodeSelect+` FROM nodes WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Node{}, fmt.Errorf("node %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Node{}, fmt.Errorf("get node %q: %w", id, err)
	}
	return n, nil
}

// FindNode looks a node up by id, or else by name. One query reads both: the id match, when
// there is one, sorts first.
func (s *Store) FindNode(ctx context.Context, idOrName string) (store.Node, error) {
	found, err := queryNodes(ctx, s.pool, 0, `SELECT `+nodeSelect+` FROM (
		(SELECT `+nodeColumns+`, 0 AS rank FROM nodes WHERE id = $1)
		UNION ALL
		(SELECT `+nodeColumns+`, 1 AS rank FROM nodes WHERE name = $1 ORDER BY id LIMIT 2)
	) m ORDER BY rank, id`, idOrName)
	switch {
	case err != nil:
		return store.Node{}, fmt.Errorf("find node %q: %w", idOrName, err)
	case len(found) == 0:
		return store.Node{}, fmt.Errorf("no node has id or name %q: %w", idOrName, store.ErrNotFound)
	case found[0].ID == idOrName:
		return found[0], nil
	case len(found) > 1:
		return store.Node{}, fmt.Errorf("several nodes are named %q; use the node id: %w", idOrName, store.ErrConflict)
	}
	return found[0], nil
}

// FindNodes looks many nodes up at once with one query that reads the nodes whose id or name
// is one of idsOrNames; a reference that is some node's id names that node alone.
func (s *Store) FindNodes(ctx context.Context, idsOrNames []string) (map[string][]store.Node, error) {
	out := make(map[string][]store.Node, len(idsOrNames))
	if len(idsOrNames) == 0 {
		return out, nil
	}
	found, err := queryNodes(ctx, s.pool, len(idsOrNames), `SELECT `+nodeSelect+` FROM nodes
		WHERE id = ANY($1::text[]) OR name = ANY($1::text[]) ORDER BY name, id`, idsOrNames)
	if err != nil {
		return nil, fmt.Errorf("find %d nodes: %w", len(idsOrNames), err)
	}
	refs := make(map[string]bool, len(idsOrNames))
	for _, ref := range idsOrNames {
		refs[ref] = true
	}
	for _, n := range found {
		if refs[n.ID] {
			out[n.ID] = []store.Node{n}
		}
	}
	for _, n := range found {
		if !refs[n.Name] {
			continue
		}
		if byID := out[n.Name]; len(byID) == 1 && byID[0].ID == n.Name {
			continue // the reference is a node's id
		}
		out[n.Name] = append(out[n.Name], n)
	}
	return out, nil
}

func queryNodes(ctx context.Context, q querier, capacity int, query string, args ...any) ([]store.Node, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]store.Node, 0, capacity)
	for rows.Next() {
		n, err := scanNode(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// ListNodes returns the nodes matching f, ordered by name, then id.
func (s *Store) ListNodes(ctx context.Context, f store.NodeFilter) ([]store.Node, error) {
	query := `SELECT ` + nodeSelect + ` FROM nodes`
	var args []any
	if f.TargetType != "" {
		query += ` WHERE target_type = $1`
		args = append(args, string(f.TargetType))
	}
	nodes, err := queryNodes(ctx, s.pool, 0, query+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	return nodes, nil
}

// UpdateNodeFacts replaces the node's facts, sets its name to facts.Hostname (kept when that is
// empty) and sets LastSeenAt.
func (s *Store) UpdateNodeFacts(ctx context.Context, id string, facts store.NodeFacts, seenAt time.Time) error {
	b, err := json.Marshal(facts)
	if err != nil {
		return fmt.Errorf("update facts of node %q: encode: %w", id, err)
	}
	tag, err := s.pool.Exec(ctx,
		`UPDATE nodes SET facts = $1, name = CASE WHEN $2 <> '' THEN $2 ELSE name END, last_seen_at = $3 WHERE id = $4`,
		string(b), facts.Hostname, nanos(seenAt), id)
	if err != nil {
		return fmt.Errorf("update facts of node %q: %w", id, err)
	}
	return mustChange(tag, "node", id)
}

// TouchNodes moves the LastSeenAt of each sighted node forward, through the liveness pool,
// touchChunk nodes a statement in node id order: two replicas touching the same nodes lock
// their rows in the same order, and a scan completing on one of them (which writes its
// node's row) waits for one short statement at most.
func (s *Store) TouchNodes(ctx context.Context, seen []store.Sighting) error {
	seen = store.LastSightings(seen)
	for chunk := range slices.Chunk(seen, touchChunk) {
		ids, at := make([]string, len(chunk)), make([]int64, len(chunk))
		for i, v := range chunk {
			ids[i], at[i] = v.NodeID, v.At.UnixNano()
		}
		if _, err := s.liveness.Exec(ctx, `WITH locked AS (
				SELECT n.id, v.at FROM nodes n JOIN unnest($1::text[], $2::bigint[]) AS v(id, at) ON n.id = v.id
				WHERE n.last_seen_at IS NULL OR n.last_seen_at < v.at
				ORDER BY n.id FOR NO KEY UPDATE OF n
			)
			UPDATE nodes n SET last_seen_at = locked.at FROM locked WHERE n.id = locked.id`, ids, at); err != nil {
			return fmt.Errorf("touch %d nodes: %w", len(seen), err)
		}
	}
	return nil
}

// touchChunk is how many nodes one statement of TouchNodes touches.
const touchChunk = 256
