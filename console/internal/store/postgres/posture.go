package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

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

// PostureNodes implements store.Store in one query: the nodes in name order, each joined to its
// most recent scan (one probe of the scans' node index, newest first) and to its rows of
// latest_scores, one row per node and benchmark. It reads neither facts nor whole scans.
func (s *Store) PostureNodes(ctx context.Context, f store.NodeFilter) ([]store.PostureNode, error) {
	rows, err := s.pool.Query(ctx, `SELECT n.id, n.name, n.target_type, ls.id, ls.state, ls.created_at,
			l.benchmark_id, l.finished_at, COALESCE(l.pass, 0), COALESCE(l.fail, 0), COALESCE(l.info, 0),
			COALESCE(l.skip, 0), COALESCE(l.error, 0), COALESCE(l.masked, 0)
		FROM nodes n
		LEFT JOIN LATERAL (SELECT s.id, s.state, s.created_at FROM scans s WHERE s.node_id = n.id
			ORDER BY s.created_at DESC, s.id DESC LIMIT 1) ls ON true
		LEFT JOIN latest_scores l ON l.node_id = n.id
		WHERE $1 = '' OR n.target_type = $1
		ORDER BY n.name, n.id, l.benchmark_id`, string(f.TargetType))
	if err != nil {
		return nil, fmt.Errorf("posture nodes: %w", err)
	}
	defer rows.Close()
	var (
		out                  []store.PostureNode
		id, name, tt         string
		scanID, state, bench *string
		created, fin         *int64
		c                    posture.Counts
	)
	for rows.Next() {
		if err := rows.Scan(&id, &name, &tt, &scanID, &state, &created, &bench, &fin, &c.Pass, &c.Fail, &c.Info, &c.Skip, &c.Error, &c.Masked); err != nil {
			return nil, fmt.Errorf("posture nodes: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			n := store.PostureNode{ID: id, Name: name, TargetType: posture.TargetType(tt)}
			if scanID != nil {
				n.LastScanID, n.LastScanState, n.LastScanCreatedAt = *scanID, posture.ScanState(*state), fromNanos(created)
			}
			out = append(out, n)
		}
		if bench != nil {
			n := &out[len(out)-1]
			n.Scores = append(n.Scores, store.LatestScore{BenchmarkID: *bench, FinishedAt: fromNanos(fin), Counts: c})
		}
	}
	return out, rows.Err()
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
