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

// PostureNodes implements store.Store with three queries on one snapshot: the nodes in name
// order (the nodes_by_name index), each with its most recent finished scan, which the node's
// row carries (see migration 9); the unfinished scans (the partial index scans_unfinished),
// each of which replaces its node's scan when it is newer; and latest_scores, whose rows the
// nodes take up by id. No query probes scans once per node, and none joins the scores, which
// would make a row per node and benchmark and sort them all.
//
// The queries go in one batch, so that the server runs the later ones while the rows of the
// earlier ones are decoded here. First come the planner's row counts of nodes and
// latest_scores: they size the slices the rows go into, so that ten thousand nodes are not
// copied again and again as a slice grows. They are estimates (-1 before the first ANALYZE),
// so they only set capacities.
func (s *Store) PostureNodes(ctx context.Context, f store.NodeFilter) ([]store.PostureNode, error) {
	var out []store.PostureNode
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		var b pgx.Batch
		b.Queue(`SELECT (SELECT reltuples FROM pg_class WHERE oid = 'nodes'::regclass),
			(SELECT reltuples FROM pg_class WHERE oid = 'latest_scores'::regclass)`)
		b.Queue(`SELECT id, name, target_type, last_finished_scan_id, last_finished_scan_state,
				last_finished_scan_created_at
			FROM nodes WHERE $1 = '' OR target_type = $1
			ORDER BY name, id`, string(f.TargetType))
		// The state test repeats the predicate of the partial index scans_unfinished, so that
		// the planner can use it.
		b.Queue(`SELECT node_id, id, state, created_at FROM scans WHERE state IN ('queued', 'dispatched', 'running')`)
		b.Queue(`SELECT node_id, benchmark_id, finished_at, pass, fail, info, skip, error, masked FROM latest_scores`)
		br := tx.SendBatch(ctx, &b)
		defer br.Close()
		var nodeRows, scoreRows float32
		if err := br.QueryRow().Scan(&nodeRows, &scoreRows); err != nil {
			return err
		}
		var err error
		if out, err = postureNodes(br, capacity(nodeRows)); err != nil {
			return err
		}
		byID := make(map[string]int, len(out))
		for i := range out {
			byID[out[i].ID] = i
		}
		if err := addUnfinishedScans(br, byID, out); err != nil {
			return err
		}
		if err := addLatestScores(br, byID, out, capacity(scoreRows)); err != nil {
			return err
		}
		return br.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("posture nodes: %w", err)
	}
	return out, nil
}

// postureNodes reads the nodes of br's next result, each with its most recent finished scan.
// Target types and scan states come back as shared strings (see interned).
func postureNodes(br pgx.BatchResults, capacity int) ([]store.PostureNode, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		out       = make([]store.PostureNode, 0, capacity)
		tt, state pgtype.DriverBytes
		scanID    pgtype.Text
		created   pgtype.Int8
		shared    = interned{}
	)
	for rows.Next() {
		out = append(out, store.PostureNode{})
		n := &out[len(out)-1] // scanned in place: a local would escape to the heap, row by row
		if err := rows.Scan(&n.ID, &n.Name, &tt, &scanID, &state, &created); err != nil {
			return nil, err
		}
		n.TargetType = posture.TargetType(shared.get(tt))
		if scanID.Valid {
			n.LastScanID, n.LastScanState = scanID.String, posture.ScanState(shared.get(state))
			n.LastScanCreatedAt = time.Unix(0, created.Int64).UTC()
		}
	}
	if len(out) == 0 {
		out = nil // no nodes match, as the other store says it
	}
	return out, rows.Err()
}

// addUnfinishedScans makes each unfinished scan of br's next result its node's last scan when
// it is newer (by creation, then id) than the one the node has.
func addUnfinishedScans(br pgx.BatchResults, byID map[string]int, nodes []store.PostureNode) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		nodeID, state pgtype.DriverBytes
		scanID        string
		created       int64
		shared        = interned{}
	)
	for rows.Next() {
		if err := rows.Scan(&nodeID, &scanID, &state, &created); err != nil {
			return err
		}
		i, ok := byID[string(nodeID)]
		if !ok {
			continue
		}
		n, at := &nodes[i], time.Unix(0, created).UTC()
		if n.LastScanID == "" || at.After(n.LastScanCreatedAt) || (at.Equal(n.LastScanCreatedAt) && scanID > n.LastScanID) {
			n.LastScanID, n.LastScanState, n.LastScanCreatedAt = scanID, posture.ScanState(shared.get(state)), at
		}
	}
	return rows.Err()
}

// addLatestScores gives each of nodes (byID holds their indexes by id) its latest scores, in
// benchmark order, from br's next result: the whole of latest_scores, in no order. It leaves
// out the rows of other nodes: a sequential read of a table with a few rows per node costs
// less than joining it to nodes to filter it or walking its key to sort it. Every node's
// scores are a part of one array, placed by counting, rather than a slice grown row by row.
func addLatestScores(br pgx.BatchResults, byID map[string]int, nodes []store.PostureNode, capacity int) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	type owned struct {
		node  int
		score store.LatestScore
	}
	var (
		all           = make([]owned, 0, capacity)
		nodeID, bench pgtype.DriverBytes
		fin           int64
		c             posture.Counts
		shared        = interned{}
		pos           = make([]int, len(nodes)+1) // pos[i+1] counts node i's scores
	)
	for rows.Next() {
		if err := rows.Scan(&nodeID, &bench, &fin, &c.Pass, &c.Fail, &c.Info, &c.Skip, &c.Error, &c.Masked); err != nil {
			return err
		}
		if i, ok := byID[string(nodeID)]; ok {
			all = append(all, owned{i, store.LatestScore{BenchmarkID: shared.get(bench), FinishedAt: time.Unix(0, fin).UTC(), Counts: c}})
			pos[i+1]++
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range nodes {
		pos[i+1] += pos[i] // now pos[i] is where node i's scores start
	}
	scores := make([]store.LatestScore, len(all))
	for _, o := range all {
		scores[pos[o.node]] = o.score
		pos[o.node]++ // in the end, where node i's scores end
	}
	start := 0
	for i := range nodes {
		end := pos[i]
		if end > start {
			nodes[i].Scores = scores[start:end:end]
			slices.SortFunc(nodes[i].Scores, func(a, b store.LatestScore) int { return strings.Compare(a.BenchmarkID, b.BenchmarkID) })
		}
		start = end
	}
	return nil
}

// capacity turns a planner's row estimate into a slice capacity: none when the table was never
// analysed (-1), a little room over the estimate, which lags the table, and never more than
// maxCapacity, whatever the estimate says.
func capacity(estimate float32) int {
	if estimate <= 0 {
		return 0
	}
	return int(min(estimate*1.05+16, maxCapacity))
}

// maxCapacity bounds the rows capacity reserves room for: a million nodes' worth.
const maxCapacity = 1 << 20

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
