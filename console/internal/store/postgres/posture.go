package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// LatestScores implements store.Store.
func (s *Store) LatestScores(ctx context.Context, f store.NodeFilter) ([]store.NodeScore, error) {
	rows, err := s.pool.Query(ctx, `SELECT n.id, n.name, n.target_type, l.benchmark_id, l.scan_id, l.finished_at,
			l.pass, l.fail, l.info, l.skip, l.error, l.masked
		FROM latest_scores l JOIN nodes n ON n.id = l.node_id
		WHERE $1 = '' OR n.target_type = $1
		ORDER BY n.name, n.id, l.benchmark_id`, string(f.TargetType))
	if err != nil {
		return nil, fmt.Errorf("latest scores: %w", err)
	}
	defer rows.Close()
	var out []store.NodeScore
	for rows.Next() {
		var ns store.NodeScore
		var tt string
		var fin *int64
		c := &ns.Counts
		if err := rows.Scan(&ns.NodeID, &ns.NodeName, &tt, &ns.BenchmarkID, &ns.ScanID, &fin, &c.Pass, &c.Fail, &c.Info, &c.Skip, &c.Error, &c.Masked); err != nil {
			return nil, fmt.Errorf("latest scores: %w", err)
		}
		ns.TargetType = posture.TargetType(tt)
		ns.FinishedAt = fromNanos(fin)
		out = append(out, ns)
	}
	return out, rows.Err()
}

// PostureNodes implements store.Store with two queries on one snapshot. The first walks the
// nodes in name order (the nodes_by_name index) and probes the scans' node index for each
// node's most recent scan, an index-only scan since that index carries the state; the second
// reads latest_scores, whose rows the nodes take up by id. One query joining the scores would
// make a row per node and benchmark and sort them all, which costs about as much again.
func (s *Store) PostureNodes(ctx context.Context, f store.NodeFilter) ([]store.PostureNode, error) {
	var out []store.PostureNode
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = postureNodes(ctx, tx, f); err != nil {
			return err
		}
		return addLatestScores(ctx, tx, out)
	})
	if err != nil {
		return nil, fmt.Errorf("posture nodes: %w", err)
	}
	return out, nil
}

// postureNodes reads the nodes matching f, ordered by name, then id, each with its most
// recent scan. Target types and scan states come back as shared strings (see interned).
func postureNodes(ctx context.Context, tx pgx.Tx, f store.NodeFilter) ([]store.PostureNode, error) {
	rows, err := tx.Query(ctx, `SELECT n.id, n.name, n.target_type, ls.id, ls.state, ls.created_at
		FROM nodes n
		LEFT JOIN LATERAL (SELECT s.id, s.state, s.created_at FROM scans s WHERE s.node_id = n.id
			ORDER BY s.created_at DESC, s.id DESC LIMIT 1) ls ON true
		WHERE $1 = '' OR n.target_type = $1
		ORDER BY n.name, n.id`, string(f.TargetType))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out       []store.PostureNode
		tt, state pgtype.DriverBytes
		scanID    pgtype.Text
		created   pgtype.Int8
		shared    = interned{}
	)
	for rows.Next() {
		var n store.PostureNode
		if err := rows.Scan(&n.ID, &n.Name, &tt, &scanID, &state, &created); err != nil {
			return nil, err
		}
		n.TargetType = posture.TargetType(shared.get(tt))
		if scanID.Valid {
			n.LastScanID, n.LastScanState = scanID.String, posture.ScanState(shared.get(state))
			n.LastScanCreatedAt = time.Unix(0, created.Int64).UTC()
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// addLatestScores appends to each of nodes its latest scores, in benchmark order. It reads the
// whole of latest_scores, in no order, and leaves out the rows of other nodes: a sequential
// read of a table with a few rows per node costs less than joining it to nodes to filter it or
// walking its key to sort it.
func addLatestScores(ctx context.Context, tx pgx.Tx, nodes []store.PostureNode) error {
	byID := make(map[string]*store.PostureNode, len(nodes))
	for i := range nodes {
		byID[nodes[i].ID] = &nodes[i]
	}
	rows, err := tx.Query(ctx, `SELECT node_id, benchmark_id, finished_at, pass, fail, info, skip, error, masked FROM latest_scores`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		nodeID, bench pgtype.DriverBytes
		fin           int64
		c             posture.Counts
		shared        = interned{}
	)
	for rows.Next() {
		if err := rows.Scan(&nodeID, &bench, &fin, &c.Pass, &c.Fail, &c.Info, &c.Skip, &c.Error, &c.Masked); err != nil {
			return err
		}
		if n := byID[string(nodeID)]; n != nil {
			n.Scores = append(n.Scores, store.LatestScore{BenchmarkID: shared.get(bench), FinishedAt: time.Unix(0, fin).UTC(), Counts: c})
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range nodes {
		slices.SortFunc(nodes[i].Scores, func(a, b store.LatestScore) int { return strings.Compare(a.BenchmarkID, b.BenchmarkID) })
	}
	return nil
}

// interned hands out one string per distinct value of a column with few values (target types,
// scan states, benchmark ids), so that reading ten thousand rows does not copy each one ten
// thousand times.
type interned map[string]string

func (m interned) get(b []byte) string {
	if s, ok := m[string(b)]; ok {
		return s
	}
	s := string(b)
	m[s] = s
	return s
}

// PruneScans implements store.Store.
func (s *Store) PruneScans(ctx context.Context, keepPerNode int, before time.Time, limit int) (int, error) {
	if limit <= 0 || (keepPerNode <= 0 && before.IsZero()) {
		return 0, nil
	}
	var deleted int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT s.id FROM scans s
			WHERE s.state IN ('complete', 'failed', 'cancelled', 'timed_out')
			  AND NOT EXISTS (SELECT 1 FROM latest_scores l WHERE l.scan_id = s.id)
			  AND (($1 AND s.created_at < $2)
			    OR ($3 > 0 AND (SELECT COUNT(*) FROM scans s2 WHERE s2.node_id = s.node_id
			          AND (s2.created_at > s.created_at OR (s2.created_at = s.created_at AND s2.id > s.id))) >= $3))
			ORDER BY s.created_at, s.id LIMIT $4
			FOR UPDATE SKIP LOCKED`,
			!before.IsZero(), before.UnixNano(), keepPerNode, limit)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		for _, table := range []string{"results", "batches", "scan_controls", "scores"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE scan_id = ANY($1)`, ids); err != nil {
				return fmt.Errorf("delete %s: %w", table, err)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scans WHERE id = ANY($1)`, ids); err != nil {
			return fmt.Errorf("delete scans: %w", err)
		}
		deleted = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune scans: %w", err)
	}
	return deleted, nil
}
