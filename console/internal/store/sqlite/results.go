package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// StoreBatch stores a batch of results in one transaction. The batch must come from the scan's
// node (store.ErrConflict otherwise) and each result's ScanID and NodeID must be empty or the
// batch's; an unknown scan is store.ErrNotFound. On any error nothing is stored, not even the
// batch's sequence number.
func (s *Store) StoreBatch(ctx context.Context, b store.Batch) (store.BatchOutcome, error) {
	var out store.BatchOutcome
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var nodeID string
		err := tx.QueryRowContext(ctx, `SELECT node_id FROM scans WHERE id = ?`, b.ScanID).Scan(&nodeID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("scan %q: %w", b.ScanID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if b.NodeID != nodeID {
			return fmt.Errorf("scan %s belongs to node %q, not %q: %w", b.ScanID, nodeID, b.NodeID, store.ErrConflict)
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO batches (scan_id, seq, node_id, received_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (scan_id, seq) DO NOTHING`, b.ScanID, int64(b.Seq), b.NodeID, nanos(b.ReceivedAt))
		if err != nil {
			return fmt.Errorf("record batch: %w", err)
		}
		if n, err := rowsAffected(res); err != nil {
			return err
		} else if n == 0 {
			out.Duplicate = true
			return nil
		}
		if len(b.Results) == 0 {
			return nil
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO results (scan_id, control_id, resource, node_id, status,
			severity, service, reason, evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (scan_id, control_id, resource, node_id) DO NOTHING`)
		if err != nil {
			return fmt.Errorf("prepare result insert: %w", err)
		}
		defer ins.Close()
		var stored int64
		for i, r := range b.Results {
			if (r.ScanID != "" && r.ScanID != b.ScanID) || (r.NodeID != "" && r.NodeID != b.NodeID) {
				return fmt.Errorf("result %d (control %s) is for scan %q on node %q, not the batch's scan %s on node %s: %w",
					i, r.ControlID, r.ScanID, r.NodeID, b.ScanID, b.NodeID, store.ErrConflict)
			}
			var evidence any
			if len(r.Evidence) > 0 {
				e, err := json.Marshal(r.Evidence)
				if err != nil {
					return fmt.Errorf("result %d (control %s): encode evidence: %w", i, r.ControlID, err)
				}
				evidence = string(e)
			}
			res, err := ins.ExecContext(ctx, b.ScanID, r.ControlID, r.Resource, b.NodeID, string(r.Status),
				string(r.Severity), r.Service, r.Reason, evidence)
			if err != nil {
				return fmt.Errorf("result %d (control %s): %w", i, r.ControlID, err)
			}
			n, err := rowsAffected(res)
			if err != nil {
				return err
			}
			stored += n
		}
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET stored = ? WHERE scan_id = ? AND seq = ?`,
			stored, b.ScanID, int64(b.Seq)); err != nil {
			return fmt.Errorf("record batch: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE scans SET results_stored = results_stored + ? WHERE id = ?`,
			stored, b.ScanID); err != nil {
			return fmt.Errorf("count stored results: %w", err)
		}
		out.Stored = int(stored)
		return nil
	})
	if err != nil {
		return store.BatchOutcome{}, fmt.Errorf("store batch %d of scan %s: %w", b.Seq, b.ScanID, err)
	}
	return out, nil
}

// resultWhere builds the filter part of a results query (without the page position).
func resultWhere(f store.ResultFilter) (string, []any) {
	where := []string{`scan_id = ?`}
	args := []any{f.ScanID}
	if f.ControlIDs != nil {
		where, args = append(where, `control_id IN (SELECT value FROM json_each(?))`), append(args, encodeStrings(f.ControlIDs))
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = string(s)
		}
		where, args = append(where, `status IN (SELECT value FROM json_each(?))`), append(args, encodeStrings(st))
	}
	if f.Service != "" {
		where, args = append(where, `service = ?`), append(args, f.Service)
	}
	if f.Severity != "" {
		where, args = append(where, `severity = ?`), append(args, string(f.Severity))
	}
	return strings.Join(where, ` AND `), args
}

// ListResults filters and pages a scan's results, ordered by control id, resource and node id
// (comparing bytes). ControlIDs that is empty but not nil matches nothing. An unknown scan is
// store.ErrNotFound.
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
	where, args := resultWhere(f)
	var page store.ResultPage
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if _, err := scanState(ctx, tx, f.ScanID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM results WHERE `+where, args...).Scan(&page.Total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		query := `SELECT control_id, resource, node_id, status, severity, service, reason, evidence
			FROM results WHERE ` + where
		if after != nil {
			query += ` AND (control_id, resource, node_id) > (?, ?, ?)`
			args = append(args, after.ControlID, after.Resource, after.NodeID)
		}
		query += ` ORDER BY control_id, resource, node_id LIMIT ?`
		args = append(args, limit+1)
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := store.Result{ScanID: f.ScanID}
			var (
				status, severity string
				evidence         sql.NullString
			)
			if err := rows.Scan(&r.ControlID, &r.Resource, &r.NodeID, &status, &severity, &r.Service, &r.Reason, &evidence); err != nil {
				return err
			}
			r.Status, r.Severity = posture.Status(status), posture.Severity(severity)
			if evidence.Valid {
				if err := json.Unmarshal([]byte(evidence.String), &r.Evidence); err != nil {
					return fmt.Errorf("decode evidence of %s on %s: %w", r.ControlID, r.Resource, err)
				}
				if len(r.Evidence) == 0 {
					r.Evidence = nil
				}
			}
			page.Results = append(page.Results, r)
		}
		return rows.Err()
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
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if _, err := scanState(ctx, tx, scanID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT control_id, status, COUNT(*) FROM results WHERE scan_id = ?
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
