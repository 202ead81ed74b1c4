package postgres

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// copyStaged COPYs a batch's results into the staging table; ord is the result's position in
// the batch.
var copyStaged = copyStatement(stagingTable, []string{"ord", "control_id", "resource", "status", "severity", "service", "reason", "evidence"})

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
	ON CONFLICT (scan_id, control_id, resource) DO NOTHING
	RETURNING 1
), n AS (
	SELECT count(*)::integer AS stored FROM ins
), b AS (
	UPDATE batches SET stored = n.stored FROM n WHERE scan_id = $1 AND seq = $3
), s AS (
	UPDATE scans SET results_stored = results_stored + n.stored FROM n WHERE id = $1
)
SELECT stored FROM n`

// copyResults COPYs a batch's results straight into results.
var copyResults = copyStatement("results", []string{"scan_id", "control_id", "resource", "node_id", "status", "severity", "service", "reason", "evidence"})

// countBatch counts a batch's results, all of them new, into the batch and the scan.
const countBatch = `WITH b AS (
	UPDATE batches SET stored = $3 WHERE scan_id = $1 AND seq = $2
)
UPDATE scans SET results_stored = results_stored + $3 WHERE id = $1`

// errStoredBefore says a batch holds a result stored by an earlier batch of its scan.
var errStoredBefore = errors.New("a result of the batch is stored already")

// StoreBatch stores a batch of results in one transaction. The batch must come from the scan's
// node (store.ErrConflict otherwise) and each result's ScanID and NodeID must be empty or the
// batch's; an unknown scan is store.ErrNotFound. On any error nothing is stored, not even the
// batch's sequence number.
//
// A new batch's results (the first of each control and resource, in primary key order) are
// COPYed straight into results: four round trips whatever the batch's size. Only when one of
// them is stored already (an earlier batch sent it too) does the batch go again through the
// connection's staging table and one INSERT ... SELECT ... ON CONFLICT DO NOTHING, which
// stores the rest.
func (s *Store) StoreBatch(ctx context.Context, b store.Batch) (store.BatchOutcome, error) {
	for i, r := range b.Results {
		if (r.ScanID != "" && r.ScanID != b.ScanID) || (r.NodeID != "" && r.NodeID != b.NodeID) {
			return store.BatchOutcome{}, fmt.Errorf("store batch %d of scan %s: result %d (control %s) is for scan %q on node %q, not the batch's scan %s on node %s: %w",
				b.Seq, b.ScanID, i, r.ControlID, r.ScanID, r.NodeID, b.ScanID, b.NodeID, store.ErrConflict)
		}
	}
	seq := int64(b.Seq) // the full uint64 range, stored two's complement
	// A buffer goes back to the pool only after a COPY that succeeded: after an error the
	// driver may still be reading it as the connection closes.
	direct := newCopy()
	for _, i := range firstInKeyOrder(b.Results) {
		direct.result(b.ScanID, b.NodeID, &b.Results[i])
	}
	out, err := s.storeBatch(ctx, b, seq, direct.data(), direct.rows, false)
	if err == nil {
		direct.release()
	}
	if errors.Is(err, errStoredBefore) {
		staged := newCopy()
		for i := range b.Results {
			staged.staged(i, &b.Results[i])
		}
		out, err = s.storeBatch(ctx, b, seq, staged.data(), staged.rows, true)
		if err == nil {
			staged.release()
		}
	}
	if err != nil {
		return store.BatchOutcome{}, fmt.Errorf("store batch %d of scan %s: %w", b.Seq, b.ScanID, err)
	}
	return out, nil
}

// firstInKeyOrder returns the positions of the first result of each control and resource in
// results, in primary key order (byte order, the columns' "C" collation): concurrent batches
// with overlapping results lock them in one order and cannot deadlock. Results sent in that
// order already (a sensor reports control by control) are not sorted again.
func firstInKeyOrder(results []store.Result) []int32 {
	order := make([]int32, len(results))
	for i := range order {
		order[i] = int32(i)
	}
	byKey := func(x, y int32) int {
		if c := strings.Compare(results[x].ControlID, results[y].ControlID); c != 0 {
			return c
		}
		if c := strings.Compare(results[x].Resource, results[y].Resource); c != 0 {
			return c
		}
		return cmp.Compare(x, y) // the first of a result sent twice comes first
	}
	if !slices.IsSortedFunc(order, byKey) {
		slices.SortFunc(order, byKey)
	}
	first := order[:0]
	for _, i := range order {
		if n := len(first); n > 0 {
			if last := &results[first[n-1]]; last.ControlID == results[i].ControlID && last.Resource == results[i].Resource {
				continue
			}
		}
		first = append(first, i)
	}
	return first
}

// storeBatch records batch b and stores its results in one transaction: the n rows of binary
// COPY data, COPYed straight into results (errStoredBefore when one is stored already), or
// into the staging table and from there into results when staged.
func (s *Store) storeBatch(ctx context.Context, b store.Batch, seq int64, data []byte, n int, staged bool) (store.BatchOutcome, error) {
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
		if n == 0 {
			return nil
		}
		if !staged {
			if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), copyResults); err != nil {
				if errors.Is(classify(err), store.ErrConflict) {
					return errStoredBefore
				}
				return fmt.Errorf("copy results: %w", err)
			}
			if _, err := tx.Exec(ctx, countBatch, b.ScanID, seq, n); err != nil {
				return fmt.Errorf("count results: %w", err)
			}
			out.Stored = n
			return nil
		}
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), copyStaged); err != nil {
			return fmt.Errorf("copy results: %w", err)
		}
		if err := tx.QueryRow(ctx, moveStaged, b.ScanID, b.NodeID, seq).Scan(&out.Stored); err != nil {
			return fmt.Errorf("store results: %w", err)
		}
		return nil
	})
	return out, err
}

// controlJoins joins results r to their controls in the scan whose id is bound to scan: c from
// the scan's control set (found once per query), l from scan_controls for a scan stored before
// control sets. Joins, rather than a subquery per result, let the planner read the scan's
// controls once.
func controlJoins(scan string) string {
	return ` LEFT JOIN control_set_controls c ON c.set_id = (SELECT control_set_id FROM scans WHERE id = ` + scan + `)
		AND c.control_id = r.control_id
	LEFT JOIN scan_controls l ON l.scan_id = ` + scan + ` AND l.control_id = r.control_id`
}

// resultTitle is the title of result r's control in its scan (given controlJoins); the empty
// string for a control the scan lacks.
const resultTitle = `COALESCE(c.title, l.title, '')`

// resultWhere builds the source and the filter of a results query over results r (without
// the page position); the scan id is the first parameter. The source joins the results'
// controls only when the filter needs their titles.
func resultWhere(f store.ResultFilter, p *placeholders) (from, where string) {
	scan := p.add(f.ScanID)
	from = `results r`
	conds := []string{`r.scan_id = ` + scan}
	if f.ControlIDs != nil {
		conds = append(conds, `r.control_id = ANY(`+p.add(f.ControlIDs)+`::text[])`)
	}
	if len(f.Statuses) > 0 {
		st := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			st[i] = string(s)
		}
		conds = append(conds, `r.status = ANY(`+p.add(st)+`::text[])`)
	}
	if f.Service != "" {
		conds = append(conds, `r.service = `+p.add(f.Service))
	}
	if f.Severity != "" {
		conds = append(conds, `r.severity = `+p.add(string(f.Severity)))
	}
	if f.Query != "" {
		from += controlJoins(scan)
		// The "C" collation makes lower() change ASCII letters only, as SQLite's does.
		q := p.add(f.LowerQuery()) + `::text`
		conds = append(conds, `(strpos(lower(r.control_id), `+q+`) > 0 OR strpos(lower(r.resource), `+q+`) > 0
			OR strpos(lower(r.reason COLLATE "C"), `+q+`) > 0 OR strpos(lower(`+resultTitle+` COLLATE "C"), `+q+`) > 0)`)
	}
	switch f.Masked {
	case store.MaskedExclude:
		conds = append(conds, `NOT `+maskedResult(p.add(instant(f.Now))))
	case store.MaskedOnly:
		conds = append(conds, maskedResult(p.add(instant(f.Now))))
	}
	return from, strings.Join(conds, ` AND `)
}

// resultOrder is the sort key of results r in order o: the rank of the severity or status
// when o ranks one, then control id and resource. The store's order ends with the node id, but
// every result of a scan has the scan's node, so within one scan these keys order them the
// same, and they are the primary key's, which serves the default order.
func resultOrder(o store.ResultOrder) string {
	const keys = `r.control_id, r.resource`
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
// An unknown scan is store.ErrNotFound. The scan check, the count and the page are read from
// one snapshot in one round trip (two when the page holds masked results). The page is read
// first and only its rows are given their title and mask.
func (s *Store) ListResults(ctx context.Context, f store.ResultFilter) (store.ResultPage, error) {
	after, err := f.After()
	if err != nil {
		return store.ResultPage{}, fmt.Errorf("list results: %w", err)
	}
	limit := f.Limit()
	var p placeholders
	from, where := resultWhere(f, &p)
	countArgs := append([]any(nil), p.args...)
	order := resultOrder(f.Order)
	page := `SELECT r.control_id, r.resource, r.node_id, r.status, r.severity, r.service, r.reason, r.evidence
		FROM ` + from + ` WHERE ` + where
	if after != nil {
		cursor := []string{p.add(after.ControlID), p.add(after.Resource)}
		if column, _ := f.Order.Ranking(); column != "" {
			cursor = append([]string{p.add(after.Rank)}, cursor...)
		}
		page += ` AND (` + order + `) > (` + strings.Join(cursor, `, `) + `)`
	}
	page += ` ORDER BY ` + order + ` LIMIT ` + p.add(limit+1)
	mask := `NULL::text`
	if f.Masked != store.MaskedExclude {
		mask = coveringMask(p.add(instant(f.Now)))
	}
	// The scan id is the first parameter.
	query := `SELECT r.*, ` + resultTitle + `, ` + mask + ` FROM (` + page + `) r` + controlJoins("$1") + ` ORDER BY ` + order

	var out store.ResultPage
	err = s.inReadTx(ctx, func(tx pgx.Tx) error {
		var batch pgx.Batch
		batch.Queue(`SELECT EXISTS (SELECT 1 FROM scans WHERE id = $1)`, f.ScanID)
		batch.Queue(`SELECT count(*) FROM `+from+` WHERE `+where, countArgs...)
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
		if err := br.QueryRow().Scan(&out.Total); err != nil {
			return fmt.Errorf("count: %w", err)
		}
		maskIDs, err := readResultPage(br, f.ScanID, &out)
		if err != nil {
			return err
		}
		if err := br.Close(); err != nil {
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

// readResultPage appends the results of the batch's next query, the page, to page.Results and
// returns the id of each one's mask ("" for none).
func readResultPage(br pgx.BatchResults, scanID string, page *store.ResultPage) ([]string, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var maskIDs []string
	for rows.Next() {
		r := store.Result{ScanID: scanID}
		var (
			status, severity string
			evidence, maskID *string
		)
		if err := rows.Scan(&r.ControlID, &r.Resource, &r.NodeID, &status, &severity, &r.Service, &r.Reason, &evidence,
			&r.Title, &maskID); err != nil {
			return nil, err
		}
		r.Status, r.Severity = posture.Status(status), posture.Severity(severity)
		if evidence != nil {
			if err := json.Unmarshal([]byte(*evidence), &r.Evidence); err != nil {
				return nil, fmt.Errorf("decode evidence of %s on %s: %w", r.ControlID, r.Resource, err)
			}
			if len(r.Evidence) == 0 {
				r.Evidence = nil
			}
		}
		page.Results = append(page.Results, r)
		id := ""
		if maskID != nil {
			id = *maskID
		}
		maskIDs = append(maskIDs, id)
	}
	return maskIDs, rows.Err()
}

// fillMasks sets the Mask of each result whose mask id (at the same position) is not empty.
func fillMasks(ctx context.Context, q querier, results []store.Result, maskIDs []string) error {
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
	type key struct{ control, status string }
	totals := map[key]int{}
	masked := map[key]int{}
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		if _, err := scanState(ctx, tx, scanID, false); err != nil {
			return err
		}
		// Every result counted once, then those a mask covers: read only for the controls that
		// have an active mask (usually none), each a range of the results' primary key, rather
		// than looking for a mask for each of the scan's results.
		count := func(into map[key]int, query string, args ...any) error {
			rows, err := tx.Query(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var (
					k key
					n int
				)
				if err := rows.Scan(&k.control, &k.status, &n); err != nil {
					return err
				}
				into[k] = n
			}
			return rows.Err()
		}
		if err := count(totals, `SELECT control_id, status, count(*) FROM results WHERE scan_id = $1 GROUP BY control_id, status`, scanID); err != nil {
			return err
		}
		return count(masked, `SELECT r.control_id, r.status, count(*)
			FROM (SELECT DISTINCT m.control_id FROM masks m WHERE `+maskActive("$2")+`) mc
			JOIN results r ON r.scan_id = $1 AND r.control_id = mc.control_id
			WHERE `+maskedResult("$2")+`
			GROUP BY r.control_id, r.status`, scanID, instant(now))
	})
	if err != nil {
		return nil, fmt.Errorf("count results of scan %q: %w", scanID, err)
	}
	out := map[string]posture.Counts{}
	for k, n := range totals {
		c := out[k.control]
		addCount(&c, posture.Status(k.status), false, n-masked[k])
		addCount(&c, posture.Status(k.status), true, masked[k])
		out[k.control] = c
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
// that hold it, newest scan first (by creation, then id), then by resource. The node's scans
// are walked newest first on the scans' node index, each probed on the results' primary key.
func (s *Store) ControlHistory(ctx context.Context, nodeID, controlID string, limit int) ([]store.HistoryEntry, error) {
	var out []store.HistoryEntry
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM nodes WHERE id = $1)`, nodeID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("node %q: %w", nodeID, store.ErrNotFound)
		}
		rows, err := tx.Query(ctx, `SELECT s.id, s.state, s.created_at, r.resource, r.status, r.reason
			FROM (SELECT s.id, s.state, s.created_at FROM scans s
			      WHERE s.node_id = $1 AND EXISTS (SELECT 1 FROM results r WHERE r.scan_id = s.id AND r.control_id = $2)
			      ORDER BY s.created_at DESC, s.id DESC LIMIT $3) s
			JOIN results r ON r.scan_id = s.id AND r.control_id = $2
			ORDER BY s.created_at DESC, s.id DESC, r.resource`, nodeID, controlID, store.HistoryLimit(limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e             store.HistoryEntry
				state, status string
				created       int64
			)
			if err := rows.Scan(&e.ScanID, &state, &created, &e.Resource, &status, &e.Reason); err != nil {
				return err
			}
			e.ScanState, e.ScanCreatedAt, e.Status = posture.ScanState(state), fromNanos(&created), posture.Status(status)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("history of %s on node %q: %w", controlID, nodeID, err)
	}
	return out, nil
}
