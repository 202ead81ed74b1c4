package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// LatestScores implements store.Store.
func (s *Store) LatestScores(ctx context.Context, f store.NodeFilter) ([]store.NodeScore, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT n.id, n.name, n.target_type, l.benchmark_id, l.scan_id, l.finished_at,
			l.pass, l.fail, l.info, l.skip, l.error, l.masked
		FROM latest_scores l JOIN nodes n ON n.id = l.node_id
		WHERE ? = '' OR n.target_type = ?
		ORDER BY n.name, n.id, l.benchmark_id`, string(f.TargetType), string(f.TargetType))
	if err != nil {
		return nil, fmt.Errorf("latest scores: %w", err)
	}
	defer rows.Close()
	var out []store.NodeScore
	for rows.Next() {
		var ns store.NodeScore
		var tt string
		var fin sql.NullInt64
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
// most recent scan (found through the scans' node index, newest first) and to its rows of
// latest_scores, one row per node and benchmark. It reads neither facts nor whole scans.
func (s *Store) PostureNodes(ctx context.Context, f store.NodeFilter) ([]store.PostureNode, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT n.id, n.name, n.target_type, ls.id, ls.state, ls.created_at,
			l.benchmark_id, l.finished_at, COALESCE(l.pass, 0), COALESCE(l.fail, 0), COALESCE(l.info, 0),
			COALESCE(l.skip, 0), COALESCE(l.error, 0), COALESCE(l.masked, 0)
		FROM nodes n
		LEFT JOIN scans ls ON ls.id = (SELECT s2.id FROM scans s2 WHERE s2.node_id = n.id
			ORDER BY s2.created_at DESC, s2.id DESC LIMIT 1)
		LEFT JOIN latest_scores l ON l.node_id = n.id
		WHERE ? = '' OR n.target_type = ?
		ORDER BY n.name, n.id, l.benchmark_id`, string(f.TargetType), string(f.TargetType))
	if err != nil {
		return nil, fmt.Errorf("posture nodes: %w", err)
	}
	defer rows.Close()
	var (
		out                  []store.PostureNode
		id, name, tt         string
		scanID, state, bench sql.NullString
		created, fin         sql.NullInt64
		c                    posture.Counts
	)
	for rows.Next() {
		if err := rows.Scan(&id, &name, &tt, &scanID, &state, &created, &bench, &fin, &c.Pass, &c.Fail, &c.Info, &c.Skip, &c.Error, &c.Masked); err != nil {
			return nil, fmt.Errorf("posture nodes: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			n := store.PostureNode{ID: id, Name: name, TargetType: posture.TargetType(tt)}
			if scanID.Valid {
				n.LastScanID, n.LastScanState, n.LastScanCreatedAt = scanID.String, posture.ScanState(state.String), fromNanos(created)
			}
			out = append(out, n)
		}
		if bench.Valid {
			n := &out[len(out)-1]
			n.Scores = append(n.Scores, store.LatestScore{BenchmarkID: bench.String, FinishedAt: fromNanos(fin), Counts: c})
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
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT s.id FROM scans s
			WHERE s.state IN ('complete', 'failed', 'cancelled', 'timed_out')
			  AND NOT EXISTS (SELECT 1 FROM latest_scores l WHERE l.scan_id = s.id)
			  AND ((? AND s.created_at < ?)
			    OR (? > 0 AND (SELECT COUNT(*) FROM scans s2 WHERE s2.node_id = s.node_id
			          AND (s2.created_at > s.created_at OR (s2.created_at = s.created_at AND s2.id > s.id))) >= ?))
			ORDER BY s.created_at, s.id LIMIT ?`,
			!before.IsZero(), before.UnixNano(), keepPerNode, keepPerNode, limit)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			for _, table := range []string{"results", "batches", "scan_controls", "scores", "scans"} {
				col := "scan_id"
				if table == "scans" {
					col = "id"
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE `+col+` = ?`, id); err != nil {
					return fmt.Errorf("delete %s of scan %s: %w", table, id, err)
				}
			}
		}
		deleted = len(ids)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune scans: %w", err)
	}
	return deleted, nil
}
