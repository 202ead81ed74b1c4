package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// stagingColumns are the columns StoreBatch COPYs into the staging table; ord is the result's
// position in the batch.
var stagingColumns = []string{"ord", "control_id", "resource", "status", "severity", "service", "reason", "evidence"}

// recordBatch records a batch of a scan from the scan's node, unless that batch is recorded
// already; no row changes when the scan is unknown, belongs to another node or has the batch.
const recordBatch = `INSERT INTO batches (scan_id, seq, node_id, received_at)
	SELECT id, $2, node_id, $4 FROM scans WHERE id = $1 AND node_id = $3
	ON CONFLICT (scan_id, seq) DO NOTHING`

// moveStaged inserts the staged results that are not stored yet and counts them into the batch
// and the scan. DISTINCT ON keeps the first of a result sent twice in one batch. Rows go in
// primary key order, so concurrent batches with overlapping results lock them in one order and
// cannot deadlock; the scan's row is updated last, to hold its lock for the shortest time.
const moveStaged = `WITH ins AS (
	INSERT INTO results (scan_id, control_id, resource, node_id, status, severity, service, reason, evidence)
	SELECT DISTINCT ON (control_id, resource) $1::text, control_id, resource, $2::text, status, severity, service, reason, evidence
	FROM ` + stagingTable + `
	ORDER BY control_id, resource, ord
	ON CONFLICT (scan_id, control_id, resource, node_id) DO NOTHING
	RETURNING 1
), n AS (
	SELECT count(*)::integer AS stored FROM ins
), b AS (
	UPDATE batches SET stored = n.stored FROM n WHERE scan_id = $1 AND seq = $3
), s AS (
	UPDATE scans SET results_stored = results_stored + n.stored FROM n WHERE id = $1
)
SELECT stored FROM n`

// StoreBatch stores a batch of results in one transaction. The batch must come from the scan's
// node (store.ErrConflict otherwise) and each result's ScanID and NodeID must be empty or the
// batch's; an unknown scan is store.ErrNotFound. On any error nothing is stored, not even the
// batch's sequence number.
//
// The results are COPYed into the connection's staging table and moved into results with one
// INSERT ... SELECT ... ON CONFLICT DO NOTHING: five round trips whatever the batch's size.
func (s *Store) StoreBatch(ctx context.Context, b store.Batch) (store.BatchOutcome, error) {
	rows := make([][]any, len(b.Results))
	for i, r := range b.Results {
		if (r.ScanID != "" && r.ScanID != b.ScanID) || (r.NodeID != "" && r.NodeID != b.NodeID) {
			return store.BatchOutcome{}, fmt.Errorf("store batch %d of scan %s: result %d (control %s) is for scan %q on node %q, not the batch's scan %s on node %s: %w",
				b.Seq, b.ScanID, i, r.ControlID, r.ScanID, r.NodeID, b.ScanID, b.NodeID, store.ErrConflict)
		}
		var evidence any
		if len(r.Evidence) > 0 {
			e, err := json.Marshal(r.Evidence)
			if err != nil {
				return store.BatchOutcome{}, fmt.Errorf("store batch %d of scan %s: result %d (control %s): encode evidence: %w",
					b.Seq, b.ScanID, i, r.ControlID, err)
			}
			evidence = string(e)
		}
		rows[i] = []any{int32(i), r.ControlID, r.Resource, string(r.Status), string(r.Severity), r.Service, r.Reason, evidence}
	}
	seq := int64(b.Seq) // the full uint64 range, stored two's complement

	var out store.BatchOutcome
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, recordBatch, b.ScanID, seq, b.NodeID, nanos(b.ReceivedAt))
		if err != nil {
			return fmt.Errorf("record batch: %w", err)
		}
		if tag.RowsAffected() == 0 {
			var nodeID string
			err := tx.QueryRow(ctx, `SELECT node_id FROM scans WHERE id = $1`, b.ScanID).Scan(&nodeID)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("scan %q: %w", b.ScanID, store.ErrNotFound)
			case err != nil:
				return err
			case nodeID != b.NodeID:
				return fmt.Errorf("scan %s belongs to node %q, not %q: %w", b.ScanID, nodeID, b.NodeID, store.ErrConflict)
			}
			out.Duplicate = true
			return nil
		}
		if len(rows) == 0 {
			return nil
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{stagingTable}, stagingColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copy results: %w", err)
		}
		if err := tx.QueryRow(ctx, moveStaged, b.ScanID, b.NodeID, seq).Scan(&out.Stored); err != nil {
			return fmt.Errorf("store results: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.BatchOutcome{}, fmt.Errorf("store batch %d of scan %s: %w", b.Seq, b.ScanID, err)
	}
	return out, nil
}

// resultWhere builds the filter part of a results query (without the page position).
func resultWhere(f store.ResultFilter, p *placeholders) string {
	where := []string{`scan_id = ` + p.add(f.ScanID)}
	if f.ControlIDs != nil {
		where = append(where, `control_id = ANY(`+p.add(f.ControlIDs)+`::text[])`)
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = string(s)
		}
		where = append(where, `status = ANY(`+p.add(st)+`::text[])`)
	}
	if f.Service != "" {
		where = append(where, `service = `+p.add(f.Service))
	}
	if f.Severity != "" {
		where = append(where, `severity = `+p.add(string(f.Severity)))
	}
	return strings.Join(where, ` AND `)
}

// ListResults filters and pages a scan's results, ordered by control id, resource and node id
// (comparing bytes). ControlIDs that is empty but not nil matches nothing. An unknown scan is
// store.ErrNotFound. The scan check, the count and the page are read from one snapshot in one
// round trip.
func (s *Store) ListResults(ctx context.Context, f store.ResultFilter) (store.ResultPage, error) {
	var after *store.ResultCursor
	if f.PageToken != "" {
		c, err := store.ParseResultCursor(f.PageToken)
		if err != nil {
			return store.ResultPage{}, fmt.Errorf("list results: %w", err)
		}
		after = &c
	}
	limit := f.Limit()
	var p placeholders
	where := resultWhere(f, &p)
	countArgs := append([]any(nil), p.args...)
	query := `SELECT control_id, resource, node_id, status, severity, service, reason, evidence FROM results WHERE ` + where
	if after != nil {
		query += ` AND (control_id, resource, node_id) > (` + p.add(after.ControlID) + `, ` + p.add(after.Resource) + `, ` + p.add(after.NodeID) + `)`
	}
	query += ` ORDER BY control_id, resource, node_id LIMIT ` + p.add(limit+1)

	var page store.ResultPage
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		var batch pgx.Batch
		batch.Queue(`SELECT EXISTS (SELECT 1 FROM scans WHERE id = $1)`, f.ScanID)
		batch.Queue(`SELECT count(*) FROM results WHERE `+where, countArgs...)
		batch.Queue(query, p.args...)
		br := tx.SendBatch(ctx, &batch)
		defer br.Close()
		var exists bool
		if err := br.QueryRow().Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("scan %q: %w", f.ScanID, store.ErrNotFound)
		}
		if err := br.QueryRow().Scan(&page.Total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := store.Result{ScanID: f.ScanID}
			var (
				status, severity string
				evidence         *string
			)
			if err := rows.Scan(&r.ControlID, &r.Resource, &r.NodeID, &status, &severity, &r.Service, &r.Reason, &evidence); err != nil {
				return err
			}
			r.Status, r.Severity = posture.Status(status), posture.Severity(severity)
			if evidence != nil {
				if err := json.Unmarshal([]byte(*evidence), &r.Evidence); err != nil {
					return fmt.Errorf("decode evidence of %s on %s: %w", r.ControlID, r.Resource, err)
				}
				if len(r.Evidence) == 0 {
					r.Evidence = nil
				}
			}
			page.Results = append(page.Results, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		return br.Close()
	})
	if err != nil {
		return store.ResultPage{}, fmt.Errorf("list results of scan %q: %w", f.ScanID, err)
	}
	if len(page.Results) > limit {
		page.Results = page.Results[:limit]
		last := page.Results[limit-1]
		page.NextPageToken = store.ResultCursor{ControlID: last.ControlID, Resource: last.Resource, NodeID: last.NodeID}.Token()
	}
	return page, nil
}

// StatusCounts counts a scan's results per control id and status; controls without results are
// absent. An unknown scan is store.ErrNotFound.
func (s *Store) StatusCounts(ctx context.Context, scanID string) (map[string]posture.Counts, error) {
	out := map[string]posture.Counts{}
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		if _, err := scanState(ctx, tx, scanID, false); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT control_id, status, count(*) FROM results WHERE scan_id = $1
			GROUP BY control_id, status`, scanID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				control, status string
				n               int
			)
			if err := rows.Scan(&control, &status, &n); err != nil {
				return err
			}
			c := out[control]
			switch posture.Status(status) {
			case posture.Pass:
				c.Pass += n
			case posture.Fail:
				c.Fail += n
			case posture.Info:
				c.Info += n
			case posture.Skip:
				c.Skip += n
			case posture.Error:
				c.Error += n
			}
			out[control] = c
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("count results of scan %q: %w", scanID, err)
	}
	return out, nil
}
