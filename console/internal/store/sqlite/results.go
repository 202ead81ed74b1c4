package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

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
				evidence = string(store.AppendEvidenceJSON(nil, r.Evidence))
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

// resultTitle is the title of result r's control in its scan: from the scan's control set, or
// from scan_controls for a scan stored before control sets; the empty string for a control the
// scan lacks.
const resultTitle = `COALESCE(
	(SELECT c.title FROM control_set_controls c
	 WHERE c.set_id = (SELECT control_set_id FROM scans WHERE id = r.scan_id) AND c.control_id = r.control_id),
	(SELECT c.title FROM scan_controls c WHERE c.scan_id = r.scan_id AND c.control_id = r.control_id),
	'')`

// resultWhere builds the filter part of a results query over results r (without the page
// position), with its arguments in placeholder order.
func resultWhere(f store.ResultFilter) (string, []any) {
	where := []string{`r.scan_id = ?`}
	args := []any{f.ScanID}
	if f.ControlIDs != nil {
		where, args = append(where, `r.control_id IN (SELECT value FROM json_each(?))`), append(args, encodeStrings(f.ControlIDs))
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = string(s)
		}
		where, args = append(where, `r.status IN (SELECT value FROM json_each(?))`), append(args, encodeStrings(st))
	}
	if f.Service != "" {
		where, args = append(where, `r.service = ?`), append(args, f.Service)
	}
	if f.Severity != "" {
		where, args = append(where, `r.severity = ?`), append(args, string(f.Severity))
	}
	if f.Query != "" {
		q := f.LowerQuery()
		where = append(where, `(instr(lower(r.control_id), ?) > 0 OR instr(lower(r.resource), ?) > 0
			OR instr(lower(r.reason), ?) > 0 OR instr(lower(`+resultTitle+`), ?) > 0)`)
		args = append(args, q, q, q, q)
	}
	switch f.Masked {
	case store.MaskedExclude:
		where, args = append(where, `NOT `+maskedResult), append(args, instant(f.Now))
	case store.MaskedOnly:
		where, args = append(where, maskedResult), append(args, instant(f.Now))
	}
	return strings.Join(where, ` AND `), args
}

// resultOrder is the sort key of results r in order o: the rank of the severity or status
// when o ranks one, then control id, resource and node id.
func resultOrder(o store.ResultOrder) string {
	const keys = `r.control_id, r.resource, r.node_id`
	column, values := o.Ranking()
	if column == "" {
		return keys
	}
	var b strings.Builder
	b.WriteString(`CASE r.` + column)
	for i, v := range values {
		fmt.Fprintf(&b, ` WHEN '%s' THEN %d`, strings.ReplaceAll(v, `'`, `''`), i)
	}
	fmt.Fprintf(&b, ` ELSE %d END, %s`, len(values), keys)
	return b.String()
}

// ListResults filters and pages a scan's results in f.Order; every order ends with control id,
// resource and node id (comparing bytes). ControlIDs that is empty but not nil matches nothing.
// An unknown scan is store.ErrNotFound. The page is read first and only its rows are given
// their title and mask.
func (s *Store) ListResults(ctx context.Context, f store.ResultFilter) (store.ResultPage, error) {
	after, err := f.After()
	if err != nil {
		return store.ResultPage{}, fmt.Errorf("list results: %w", err)
	}
	limit := f.Limit()
	where, whereArgs := resultWhere(f)
	order := resultOrder(f.Order)

	// The outer query's placeholder (the mask's time) comes first in the text.
	var args []any
	mask := `NULL`
	if f.Masked != store.MaskedExclude {
		mask = coveringMask
		args = append(args, instant(f.Now))
	}
	args = append(args, whereArgs...)
	page := `SELECT r.scan_id, r.control_id, r.resource, r.node_id, r.status, r.severity, r.service, r.reason, r.evidence
		FROM results r WHERE ` + where
	if after != nil {
		cursor := []any{after.ControlID, after.Resource, after.NodeID}
		if column, _ := f.Order.Ranking(); column != "" {
			cursor = append([]any{after.Rank}, cursor...)
		}
		page += ` AND (` + order + `) > (?` + strings.Repeat(`, ?`, len(cursor)-1) + `)`
		args = append(args, cursor...)
	}
	page += ` ORDER BY ` + order + ` LIMIT ?`
	args = append(args, limit+1)
	query := `SELECT r.control_id, r.resource, r.node_id, r.status, r.severity, r.service, r.reason, r.evidence, ` +
		resultTitle + `, ` + mask + ` FROM (` + page + `) r ORDER BY ` + order

	var out store.ResultPage
	err = s.inReadTx(ctx, func(tx *sql.Tx) error {
		if _, err := scanState(ctx, tx, f.ScanID); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM results r WHERE `+where, whereArgs...).Scan(&out.Total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		maskIDs, err := queryResultPage(ctx, tx, f.ScanID, query, args, &out)
		if err != nil {
			return err
		}
		return fillMasks(ctx, tx, out.Results, maskIDs)
	})
	if err != nil {
		return store.ResultPage{}, fmt.Errorf("list results of scan %q: %w", f.ScanID, err)
	}
	if len(out.Results) > limit {
		out.Results = out.Results[:limit]
		out.NextPageToken = f.NextPageToken(out.Results[limit-1])
	}
	return out, nil
}

// queryResultPage appends the results the page query returns to page.Results and returns the
// id of each one's mask ("" for none).
func queryResultPage(ctx context.Context, tx *sql.Tx, scanID, query string, args []any, page *store.ResultPage) ([]string, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var maskIDs []string
	for rows.Next() {
		r := store.Result{ScanID: scanID}
		var (
			status, severity string
			evidence, maskID sql.NullString
		)
		if err := rows.Scan(&r.ControlID, &r.Resource, &r.NodeID, &status, &severity, &r.Service, &r.Reason, &evidence,
			&r.Title, &maskID); err != nil {
			return nil, err
		}
		r.Status, r.Severity = posture.Status(status), posture.Severity(severity)
		if evidence.Valid {
			if err := json.Unmarshal([]byte(evidence.String), &r.Evidence); err != nil {
				return nil, fmt.Errorf("decode evidence of %s on %s: %w", r.ControlID, r.Resource, err)
			}
			if len(r.Evidence) == 0 {
				r.Evidence = nil
			}
		}
		page.Results = append(page.Results, r)
		maskIDs = append(maskIDs, maskID.String)
	}
	return maskIDs, rows.Err()
}

// fillMasks sets the Mask of each result whose mask id (at the same position) is not empty.
func fillMasks(ctx context.Context, q queryer, results []store.Result, maskIDs []string) error {
	var ids []string
	for _, id := range maskIDs {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	masks, err := masksByID(ctx, q, ids)
	if err != nil {
		return err
	}
	for i, id := range maskIDs {
		if id == "" {
			continue
		}
		m, ok := masks[id]
		if !ok {
			return fmt.Errorf("mask %s of result %s on %s vanished while read", id, results[i].ControlID, results[i].Resource)
		}
		results[i].Mask = &m
	}
	return nil
}

// StatusCounts counts a scan's results per control id and status, results covered by a mask
// active at now only in Masked; controls without results are absent. An unknown scan is
// store.ErrNotFound.
func (s *Store) StatusCounts(ctx context.Context, scanID string, now time.Time) (map[string]posture.Counts, error) {
	out := map[string]posture.Counts{}
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if _, err := scanState(ctx, tx, scanID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT control_id, status, masked, COUNT(*) FROM (
				SELECT r.control_id, r.status, `+maskedResult+` AS masked FROM results r WHERE r.scan_id = ?
			) GROUP BY control_id, status, masked`, instant(now), scanID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				control, status string
				masked          bool
				n               int
			)
			if err := rows.Scan(&control, &status, &masked, &n); err != nil {
				return err
			}
			c := out[control]
			addCount(&c, posture.Status(status), masked, n)
			out[control] = c
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("count results of scan %q: %w", scanID, err)
	}
	return out, nil
}

// addCount adds n results of a status to c, or to c.Masked when they are masked.
func addCount(c *posture.Counts, status posture.Status, masked bool, n int) {
	if masked {
		c.Masked += n
		return
	}
	switch status {
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
}

// ControlHistory returns one control's results on one node over the node's newest limit scans
// that hold it, newest scan first (by creation, then id), then by resource.
func (s *Store) ControlHistory(ctx context.Context, nodeID, controlID string, limit int) ([]store.HistoryEntry, error) {
	var out []store.HistoryEntry
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM nodes WHERE id = ?`, nodeID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("node %q: %w", nodeID, store.ErrNotFound)
		}
		rows, err := tx.QueryContext(ctx, `SELECT s.id, s.state, s.created_at, r.resource, r.status, r.reason
			FROM (SELECT s.id, s.state, s.created_at FROM scans s
			      WHERE s.node_id = ? AND EXISTS (SELECT 1 FROM results r WHERE r.scan_id = s.id AND r.control_id = ?)
			      ORDER BY s.created_at DESC, s.id DESC LIMIT ?) s
			JOIN results r ON r.scan_id = s.id AND r.control_id = ?
			ORDER BY s.created_at DESC, s.id DESC, r.resource`, nodeID, controlID, store.HistoryLimit(limit), controlID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e             store.HistoryEntry
				state, status string
				created       sql.NullInt64
			)
			if err := rows.Scan(&e.ScanID, &state, &created, &e.Resource, &status, &e.Reason); err != nil {
				return err
			}
			e.ScanState, e.ScanCreatedAt, e.Status = posture.ScanState(state), fromNanos(created), posture.Status(status)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s on node %q: %w", controlID, nodeID, err)
	}
	return out, nil
}
