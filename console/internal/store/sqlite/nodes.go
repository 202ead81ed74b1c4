package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

const nodeColumns = `id, name, target_type, facts, enrol_token_id, enrolled_at, last_seen_at`

// EnrolNode consumes one use of the enrolment token and creates the node in one transaction.
// The checks run in this order: unknown hash, revoked, expired (now at or after ExpiresAt; a
// zero ExpiresAt never expires), used up. The node's EnrolTokenID is the token's id and both its
// EnrolledAt and LastSeenAt are now.
func (s *Store) EnrolNode(ctx context.Context, tokenHash []byte, node store.Node, now time.Time) error {
	if node.ID == "" {
		return errors.New("enrol node: empty node id")
	}
	facts, err := json.Marshal(node.Facts)
	if err != nil {
		return fmt.Errorf("enrol node %s: encode facts: %w", node.ID, err)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var (
			id               string
			expires, revoked sql.NullInt64
			uses, used       int
		)
		err := tx.QueryRowContext(ctx,
			`SELECT id, expires_at, revoked_at, uses, used FROM enrol_tokens WHERE hash = ?`, tokenHash,
		).Scan(&id, &expires, &revoked, &uses, &used)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("enrol node %s: no enrolment token has that secret: %w", node.ID, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("enrol node %s: look up enrolment token: %w", node.ID, err)
		}
		switch {
		case revoked.Valid:
			return fmt.Errorf("enrol node %s: token %s: %w", node.ID, id, store.ErrTokenRevoked)
		case expires.Valid && !now.Before(fromNanos(expires)):
			return fmt.Errorf("enrol node %s: token %s: %w", node.ID, id, store.ErrTokenExpired)
		case used >= uses:
			return fmt.Errorf("enrol node %s: token %s: %w", node.ID, id, store.ErrTokenUsedUp)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE enrol_tokens SET used = used + 1 WHERE id = ?`, id); err != nil {
			return fmt.Errorf("enrol node %s: consume token %s: %w", node.ID, id, err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO nodes (`+nodeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			node.ID, node.Name, string(node.TargetType), string(facts), id, nanos(now), nanos(now))
		if err != nil {
			return fmt.Errorf("enrol node %s: %w", node.ID, classify(err))
		}
		return nil
	})
}

func scanNode(row interface{ Scan(...any) error }) (store.Node, error) {
	var (
		n         store.Node
		tt, facts string
		enrolled  sql.NullInt64
		lastSeen  sql.NullInt64
	)
	if err := row.Scan(&n.ID, &n.Name, &tt, &facts, &n.EnrolTokenID, &enrolled, &lastSeen); err != nil {
		return store.Node{}, err
	}
	n.TargetType = posture.TargetType(tt)
	if err := json.Unmarshal([]byte(facts), &n.Facts); err != nil {
		return store.Node{}, fmt.Errorf("decode facts of node %s: %w", n.ID, err)
	}
	n.EnrolledAt = fromNanos(enrolled)
	n.LastSeenAt = fromNanos(lastSeen)
	return n, nil
}

// GetNode returns the node with the id.
func (s *Store) GetNode(ctx context.Context, id string) (store.Node, error) {
	n, err := scanNode(s.r.QueryRowContext(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Node{}, fmt.Errorf("node %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Node{}, fmt.Errorf("get node %q: %w", id, err)
	}
	return n, nil
}

// FindNode looks a node up by id, or else by name.
func (s *Store) FindNode(ctx context.Context, idOrName string) (store.Node, error) {
	var found []store.Node
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		n, err := scanNode(tx.QueryRowContext(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE id = ?`, idOrName))
		if err == nil {
			found = []store.Node{n}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		found, err = queryNodes(ctx, tx, `SELECT `+nodeColumns+` FROM nodes WHERE name = ? ORDER BY id LIMIT 2`, idOrName)
		return err
	})
	switch {
	case err != nil:
		return store.Node{}, fmt.Errorf("find node %q: %w", idOrName, err)
	case len(found) == 0:
		return store.Node{}, fmt.Errorf("no node has id or name %q: %w", idOrName, store.ErrNotFound)
	case len(found) > 1:
		return store.Node{}, fmt.Errorf("several nodes are named %q; use the node id: %w", idOrName, store.ErrConflict)
	}
	return found[0], nil
}

// FindNodes looks many nodes up at once: those whose id is one of idsOrNames, then those
// whose name is one of the rest, in one read transaction.
func (s *Store) FindNodes(ctx context.Context, idsOrNames []string) (map[string][]store.Node, error) {
	out := make(map[string][]store.Node, len(idsOrNames))
	if len(idsOrNames) == 0 {
		return out, nil
	}
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		byID, err := queryNodes(ctx, tx, `SELECT `+nodeColumns+` FROM nodes WHERE id IN (SELECT value FROM json_each(?))`,
			encodeStrings(idsOrNames))
		if err != nil {
			return err
		}
		for _, n := range byID {
			out[n.ID] = []store.Node{n}
		}
		var names []string
		for _, ref := range idsOrNames {
			if _, ok := out[ref]; !ok {
				names = append(names, ref)
			}
		}
		if len(names) == 0 {
			return nil
		}
		byName, err := queryNodes(ctx, tx, `SELECT `+nodeColumns+` FROM nodes WHERE name IN (SELECT value FROM json_each(?))
			ORDER BY name, id`, encodeStrings(names))
		if err != nil {
			return err
		}
		for _, n := range byName {
			out[n.Name] = append(out[n.Name], n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find %d nodes: %w", len(idsOrNames), err)
	}
	return out, nil
}

func queryNodes(ctx context.Context, q queryer, query string, args ...any) ([]store.Node, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Node
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
	query := `SELECT ` + nodeColumns + ` FROM nodes`
	var args []any
	if f.TargetType != "" {
		query += ` WHERE target_type = ?`
		args = append(args, string(f.TargetType))
	}
	nodes, err := queryNodes(ctx, s.r, query+` ORDER BY name, id`, args...)
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
	res, err := s.w.ExecContext(ctx,
		`UPDATE nodes SET facts = ?, name = CASE WHEN ? <> '' THEN ? ELSE name END, last_seen_at = ? WHERE id = ?`,
		string(b), facts.Hostname, facts.Hostname, nanos(seenAt), id)
	if err != nil {
		return fmt.Errorf("update facts of node %q: %w", id, err)
	}
	return mustChange(res, "node", id)
}

// TouchNodes moves the LastSeenAt of each sighted node forward, in one transaction.
func (s *Store) TouchNodes(ctx context.Context, seen []store.Sighting) error {
	seen = store.LastSightings(seen)
	if len(seen) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE nodes SET last_seen_at = ?1 WHERE id = ?2 AND (last_seen_at IS NULL OR last_seen_at < ?1)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, v := range seen {
			if _, err := stmt.ExecContext(ctx, nanos(v.At), v.NodeID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("touch %d nodes: %w", len(seen), err)
	}
	return nil
}

// mustChange fails with store.ErrNotFound when an update by id matched no row.
func mustChange(res sql.Result, kind, id string) error {
	n, err := rowsAffected(res)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%s %q: %w", kind, id, store.ErrNotFound)
	}
	return nil
}
