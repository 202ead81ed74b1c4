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

// scanColumns are the columns of scans s with their node n's name; scanScan decodes them.
const scanColumns = `s.id, s.group_id, s.node_id, COALESCE(n.name, ''), s.state, s.benchmark_ids,
	s.controls_total, s.controls_done, s.results_stored, s.message, s.created_by, s.created_at,
	s.started_at, s.finished_at, s.last_heartbeat_at`

// scanSelect reads scans with their node's name.
const scanSelect = `SELECT ` + scanColumns + ` FROM scans s LEFT JOIN nodes n ON n.id = s.node_id`

func scanScan(row interface{ Scan(...any) error }) (store.Scan, error) {
	var (
		sc                               store.Scan
		state, benchmarks                string
		created, started, finished, beat sql.NullInt64
	)
	err := row.Scan(&sc.ID, &sc.GroupID, &sc.NodeID, &sc.NodeName, &state, &benchmarks,
		&sc.ControlsTotal, &sc.ControlsDone, &sc.ResultsStored, &sc.Message, &sc.CreatedBy, &created,
		&started, &finished, &beat)
	if err != nil {
		return store.Scan{}, err
	}
	sc.State = posture.ScanState(state)
	if sc.BenchmarkIDs, err = decodeStrings(benchmarks); err != nil {
		return store.Scan{}, fmt.Errorf("decode benchmarks of scan %s: %w", sc.ID, err)
	}
	sc.CreatedAt, sc.StartedAt = fromNanos(created), fromNanos(started)
	sc.FinishedAt, sc.LastHeartbeatAt = fromNanos(finished), fromNanos(beat)
	return sc, nil
}

func queryScans(ctx context.Context, q queryer, query string, args ...any) ([]store.Scan, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Scan
	for rows.Next() {
		sc, err := scanScan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}

func getScan(ctx context.Context, q queryer, id string) (store.Scan, error) {
	sc, err := scanScan(q.QueryRowContext(ctx, scanSelect+` WHERE s.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Scan{}, fmt.Errorf("scan %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Scan{}, fmt.Errorf("get scan %q: %w", id, err)
	}
	return sc, nil
}

// scanState returns a scan's state, or store.ErrNotFound.
func scanState(ctx context.Context, q queryer, id string) (posture.ScanState, error) {
	var state string
	err := q.QueryRowContext(ctx, `SELECT state FROM scans WHERE id = ?`, id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("scan %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read state of scan %q: %w", id, err)
	}
	return posture.ScanState(state), nil
}

// encodeStrings stores a list as a JSON array (never null).
func encodeStrings(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

// decodeStrings reads a JSON array; an empty one is nil.
func decodeStrings(s string) ([]string, error) {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, err
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// CreateScans stores new queued scans with their controls and the audit entries that record
// them in one transaction. An unknown node is store.ErrNotFound, a taken scan id (or a control
// listed twice) store.ErrConflict; either way nothing is stored, not even the entries.
func (s *Store) CreateScans(ctx context.Context, scans []store.NewScan, audit ...store.AuditEntry) error {
	if len(scans) == 0 {
		return nil
	}
	for _, sc := range scans {
		if sc.ID == "" {
			return errors.New("create scans: empty scan id")
		}
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		insScan, err := tx.PrepareContext(ctx, `INSERT INTO scans (id, group_id, node_id, state, benchmark_ids,
			controls_total, created_by, created_at, control_set_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("create scans: %w", err)
		}
		defer insScan.Close()
		insCtl, err := tx.PrepareContext(ctx, `INSERT INTO control_set_controls (set_id, control_id, title, severity,
			service, benchmarks) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("create scans: %w", err)
		}
		defer insCtl.Close()
		if err := checkScanNodes(ctx, tx, scans); err != nil {
			return err
		}
		setIDs := controlSetIDs(scans)
		sets := map[string]bool{} // control sets already stored or found in this transaction
		for i, sc := range scans {
			setID := setIDs[i]
			if !sets[setID] {
				sets[setID] = true
				res, err := tx.ExecContext(ctx, `INSERT INTO control_sets (id) VALUES (?) ON CONFLICT (id) DO NOTHING`, setID)
				if err != nil {
					return fmt.Errorf("create scan %s: control set: %w", sc.ID, err)
				}
				if n, err := rowsAffected(res); err != nil {
					return err
				} else if n == 1 {
					for _, c := range sc.Controls {
						_, err := insCtl.ExecContext(ctx, setID, c.ControlID, c.Title, string(c.Severity), c.Service,
							encodeStrings(c.Benchmarks))
						if err != nil {
							return fmt.Errorf("create scan %s: control %s: %w", sc.ID, c.ControlID, classify(err))
						}
					}
				}
			}
			state, err := sc.InitialState()
			if err != nil {
				return fmt.Errorf("create scans: %w", err)
			}
			_, err = insScan.ExecContext(ctx, sc.ID, sc.GroupID, sc.NodeID, string(state),
				encodeStrings(sc.BenchmarkIDs), len(sc.Controls), sc.CreatedBy, nanos(sc.CreatedAt), setID)
			if err != nil {
				return fmt.Errorf("create scan %s: %w", sc.ID, classify(err))
			}
		}
		for _, e := range audit {
			if _, err := tx.ExecContext(ctx, insertAudit, nanos(e.At), e.Actor, e.Action, e.Target, e.Detail); err != nil {
				return fmt.Errorf("create scans: audit entry %s: %w", e.Action, err)
			}
		}
		return nil
	})
}

// checkScanNodes fails with store.ErrNotFound, naming the first scan concerned, when a scan's
// node does not exist: one query for all the scans.
func checkScanNodes(ctx context.Context, tx *sql.Tx, scans []store.NewScan) error {
	ids := make([]string, len(scans))
	for i, sc := range scans {
		ids[i] = sc.NodeID
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM nodes WHERE id IN (SELECT value FROM json_each(?))`, encodeStrings(ids))
	if err != nil {
		return fmt.Errorf("create scans: look up their nodes: %w", err)
	}
	defer rows.Close()
	known := make(map[string]bool, len(scans))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("create scans: look up their nodes: %w", err)
		}
		known[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("create scans: look up their nodes: %w", err)
	}
	for _, sc := range scans {
		if !known[sc.NodeID] {
			return fmt.Errorf("create scan %s: node %q: %w", sc.ID, sc.NodeID, store.ErrNotFound)
		}
	}
	return nil
}

// controlSetIDs returns the control set id of each scan. Scans started together share one
// controls slice per target type, so each distinct slice (same first element and length, hence
// the same memory) is hashed once.
func controlSetIDs(scans []store.NewScan) []string {
	type sliceKey struct {
		first *store.ScanControl
		n     int
	}
	seen := map[sliceKey]string{}
	out := make([]string, len(scans))
	for i, sc := range scans {
		if len(sc.Controls) == 0 {
			out[i] = store.ControlSetID(nil)
			continue
		}
		k := sliceKey{&sc.Controls[0], len(sc.Controls)}
		id, ok := seen[k]
		if !ok {
			id = store.ControlSetID(sc.Controls)
			seen[k] = id
		}
		out[i] = id
	}
	return out
}

// GetScan returns the scan with the id.
func (s *Store) GetScan(ctx context.Context, id string) (store.Scan, error) {
	return getScan(ctx, s.r, id)
}

// ListScans returns scans newest first (CreatedAt, then ID, both descending).
func (s *Store) ListScans(ctx context.Context, f store.ScanFilter) (store.ScanPage, error) {
	var (
		where []string
		args  []any
	)
	if f.NodeID != "" {
		where, args = append(where, `s.node_id = ?`), append(args, f.NodeID)
	}
	if f.GroupID != "" {
		where, args = append(where, `s.group_id = ?`), append(args, f.GroupID)
	}
	if f.State != "" {
		where, args = append(where, `s.state = ?`), append(args, string(f.State))
	}
	if f.PageToken != "" {
		c, err := store.ParseScanCursor(f.PageToken)
		if err != nil {
			return store.ScanPage{}, fmt.Errorf("list scans: %w", err)
		}
		where = append(where, `(s.created_at, s.id) < (?, ?)`)
		args = append(args, c.CreatedAt.UnixNano(), c.ID)
	}
	query := scanSelect
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := f.Limit()
	query += ` ORDER BY s.created_at DESC, s.id DESC LIMIT ?`
	args = append(args, limit+1)
	scans, err := queryScans(ctx, s.r, query, args...)
	if err != nil {
		return store.ScanPage{}, fmt.Errorf("list scans: %w", err)
	}
	var page store.ScanPage
	if len(scans) > limit {
		scans = scans[:limit]
		last := scans[limit-1]
		page.NextPageToken = store.ScanCursor{CreatedAt: last.CreatedAt, ID: last.ID}.Token()
	}
	page.Scans = scans
	return page, nil
}

// ScanControls returns the controls a scan evaluates, keyed by control id.
func (s *Store) ScanControls(ctx context.Context, scanID string) (map[string]store.ScanControl, error) {
	out := map[string]store.ScanControl{}
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if _, err := scanState(ctx, tx, scanID); err != nil {
			return err
		}
		var setID sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT control_set_id FROM scans WHERE id = ?`, scanID).Scan(&setID); err != nil {
			return err
		}
		query, arg := `SELECT control_id, title, severity, service, benchmarks FROM scan_controls WHERE scan_id = ?`, scanID
		if setID.Valid {
			query, arg = `SELECT control_id, title, severity, service, benchmarks FROM control_set_controls WHERE set_id = ?`, setID.String
		}
		rows, err := tx.QueryContext(ctx, query, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				c                    store.ScanControl
				severity, benchmarks string
			)
			if err := rows.Scan(&c.ControlID, &c.Title, &severity, &c.Service, &benchmarks); err != nil {
				return err
			}
			c.Severity = posture.Severity(severity)
			if c.Benchmarks, err = decodeStrings(benchmarks); err != nil {
				return fmt.Errorf("decode benchmarks of control %s: %w", c.ControlID, err)
			}
			out[c.ControlID] = c
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("controls of scan %q: %w", scanID, err)
	}
	return out, nil
}

// TransitionScan moves a scan to t.State when the lifecycle allows it.
func (s *Store) TransitionScan(ctx context.Context, id string, t store.Transition) (store.Scan, error) {
	var out store.Scan
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := scanState(ctx, tx, id)
		if err != nil {
			return err
		}
		if !cur.CanMoveTo(t.State) {
			return fmt.Errorf("scan %s is %s and cannot become %s: %w", id, cur, t.State, store.ErrBadTransition)
		}
		set, args := transitionSet(t)
		args = append(args, id)
		if _, err := tx.ExecContext(ctx, `UPDATE scans SET `+set+` WHERE id = ?`, args...); err != nil {
			return fmt.Errorf("move scan %s to %s: %w", id, t.State, err)
		}
		out, err = getScan(ctx, tx, id)
		return err
	})
	if err != nil {
		return store.Scan{}, err
	}
	return out, nil
}

// transitionSet returns the SET clause of an UPDATE that applies t, and its arguments.
func transitionSet(t store.Transition) (string, []any) {
	set := []string{`state = ?`}
	args := []any{string(t.State)}
	switch {
	case t.State == posture.Dispatched:
		set, args = append(set, `dispatched_at = ?`), append(args, nanos(t.At))
	case t.State == posture.Running:
		set, args = append(set, `started_at = ?`), append(args, nanos(t.At))
	case t.State.Terminal():
		set, args = append(set, `finished_at = ?`), append(args, nanos(t.At))
	}
	if t.Message != "" {
		set, args = append(set, `message = ?`), append(args, t.Message)
	}
	return strings.Join(set, `, `), args
}

// TransitionScans applies t, in one transaction, to each of the scans whose state allows it:
// one UPDATE over the ids, then one SELECT of the scans.
func (s *Store) TransitionScans(ctx context.Context, ids []string, t store.Transition) ([]store.Scan, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var from []string
	for _, st := range posture.ScanStates {
		if st.CanMoveTo(t.State) {
			from = append(from, string(st))
		}
	}
	idList := encodeStrings(ids)
	var out []store.Scan
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if len(from) > 0 {
			set, args := transitionSet(t)
			args = append(args, idList, encodeStrings(from))
			_, err := tx.ExecContext(ctx, `UPDATE scans SET `+set+` WHERE id IN (SELECT value FROM json_each(?))
				AND state IN (SELECT value FROM json_each(?))`, args...)
			if err != nil {
				return err
			}
		}
		scans, err := queryScans(ctx, tx, scanSelect+` WHERE s.id IN (SELECT value FROM json_each(?))`, idList)
		if err != nil {
			return err
		}
		out, err = inOrder(ids, scans)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("move %d scans to %s: %w", len(ids), t.State, err)
	}
	return out, nil
}

// inOrder returns scans in the order of ids; an id missing from scans is store.ErrNotFound.
func inOrder(ids []string, scans []store.Scan) ([]store.Scan, error) {
	byID := make(map[string]store.Scan, len(scans))
	for _, sc := range scans {
		byID[sc.ID] = sc
	}
	out := make([]store.Scan, len(ids))
	for i, id := range ids {
		sc, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("scan %q: %w", id, store.ErrNotFound)
		}
		out[i] = sc
	}
	return out, nil
}

// RecordProgress stores progress and the heartbeat of a running scan; a scan in another state
// is store.ErrBadTransition.
func (s *Store) RecordProgress(ctx context.Context, id string, done, total int, at time.Time) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := scanState(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur != posture.Running {
			return fmt.Errorf("record progress of scan %s: it is %s, not running: %w", id, cur, store.ErrBadTransition)
		}
		_, err = tx.ExecContext(ctx, `UPDATE scans SET controls_done = ?, controls_total = ?, last_heartbeat_at = ? WHERE id = ?`,
			done, total, nanos(at), id)
		if err != nil {
			return fmt.Errorf("record progress of scan %s: %w", id, err)
		}
		return nil
	})
}

// ownersChunk is how many scans one statement of scanOwners reads, well below SQLite's limit
// on parameters.
const ownersChunk = 500

// ScanOwners returns the node and state of each of the scans ids that exists.
func (s *Store) ScanOwners(ctx context.Context, ids []string) (map[string]store.ScanOwner, error) {
	out := make(map[string]store.ScanOwner, len(ids))
	if err := scanOwners(ctx, s.r, ids, out); err != nil {
		return nil, fmt.Errorf("read the owners of %d scans: %w", len(ids), err)
	}
	return out, nil
}

// scanOwners adds the node and state of each of the scans ids that exists to out.
func scanOwners(ctx context.Context, q queryer, ids []string, out map[string]store.ScanOwner) error {
	for chunk := range slices.Chunk(ids, ownersChunk) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := q.QueryContext(ctx, `SELECT id, node_id, state FROM scans WHERE id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, node, state string
			if err := rows.Scan(&id, &node, &state); err != nil {
				rows.Close()
				return err
			}
			out[id] = store.ScanOwner{NodeID: node, State: posture.ScanState(state)}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// RecordHeartbeats stores the beats of running scans of the beats' nodes in one transaction
// and returns the node and state of every named scan that exists.
func (s *Store) RecordHeartbeats(ctx context.Context, beats []store.Heartbeat, at time.Time) (map[string]store.ScanOwner, error) {
	beats = store.LastBeats(beats)
	out := make(map[string]store.ScanOwner, len(beats))
	if len(beats) == 0 {
		return out, nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		ids := make([]string, len(beats))
		for i, b := range beats {
			ids[i] = b.ScanID
		}
		if err := scanOwners(ctx, tx, ids, out); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `UPDATE scans SET controls_done = ?, controls_total = ?, last_heartbeat_at = ? WHERE id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, b := range beats {
			if o, ok := out[b.ScanID]; !ok || o.NodeID != b.NodeID || o.State != posture.Running {
				continue
			}
			if _, err := stmt.ExecContext(ctx, b.Done, b.Total, nanos(at), b.ScanID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record %d heartbeats: %w", len(beats), err)
	}
	return out, nil
}

// CompleteScan stores the scores and moves a running scan to complete in one transaction.
func (s *Store) CompleteScan(ctx context.Context, id string, scores []store.Score, at time.Time) (store.Scan, error) {
	var out store.Scan
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := scanState(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur != posture.Running {
			return fmt.Errorf("complete scan %s: it is %s, not running: %w", id, cur, store.ErrBadTransition)
		}
		if err := insertScores(ctx, tx, id, scores); err != nil {
			return fmt.Errorf("complete scan %s: %w", id, err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE scans SET state = ?, finished_at = ? WHERE id = ?`,
			string(posture.Complete), nanos(at), id)
		if err != nil {
			return fmt.Errorf("complete scan %s: %w", id, err)
		}
		out, err = getScan(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := updateLatestScores(ctx, tx, out, scores); err != nil {
			return fmt.Errorf("complete scan %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return store.Scan{}, err
	}
	return out, nil
}

// insertScores stores a scan's scores; a benchmark given twice is store.ErrConflict.
func insertScores(ctx context.Context, tx *sql.Tx, scanID string, scores []store.Score) error {
	for _, sc := range scores {
		c := sc.Counts
		_, err := tx.ExecContext(ctx, `INSERT INTO scores (scan_id, benchmark_id, pass, fail, info, skip, error, masked)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, scanID, sc.BenchmarkID, c.Pass, c.Fail, c.Info, c.Skip, c.Error, c.Masked)
		if err != nil {
			return fmt.Errorf("score of %s: %w", sc.BenchmarkID, classify(err))
		}
	}
	return nil
}

// updateLatestScores makes the completed scan's scores its node's latest, benchmark by
// benchmark, unless a scan that finished later holds the latest score.
func updateLatestScores(ctx context.Context, tx *sql.Tx, sc store.Scan, scores []store.Score) error {
	for _, score := range scores {
		c := score.Counts
		_, err := tx.ExecContext(ctx, `INSERT INTO latest_scores (node_id, benchmark_id, scan_id, finished_at, pass, fail, info, skip, error, masked)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (node_id, benchmark_id) DO UPDATE SET scan_id = excluded.scan_id, finished_at = excluded.finished_at,
				pass = excluded.pass, fail = excluded.fail, info = excluded.info, skip = excluded.skip, error = excluded.error,
				masked = excluded.masked
			WHERE excluded.finished_at >= latest_scores.finished_at`,
			sc.NodeID, score.BenchmarkID, sc.ID, nanos(sc.FinishedAt), c.Pass, c.Fail, c.Info, c.Skip, c.Error, c.Masked)
		if err != nil {
			return fmt.Errorf("latest score of %s: %w", score.BenchmarkID, err)
		}
	}
	return nil
}

// ReplaceScores replaces the stored scores of a completed scan and the latest scores that
// point at it, in one transaction.
func (s *Store) ReplaceScores(ctx context.Context, scanID string, scores []store.Score) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		sc, err := getScan(ctx, tx, scanID)
		if err != nil {
			return fmt.Errorf("replace scores: %w", err)
		}
		if sc.State != posture.Complete {
			return fmt.Errorf("replace scores of scan %s: it is %s, not complete: %w", scanID, sc.State, store.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM scores WHERE scan_id = ?`, scanID); err != nil {
			return fmt.Errorf("replace scores of scan %s: %w", scanID, err)
		}
		if err := insertScores(ctx, tx, scanID, scores); err != nil {
			return fmt.Errorf("replace scores of scan %s: %w", scanID, err)
		}
		benchmarks := make([]string, len(scores))
		for i, score := range scores {
			benchmarks[i] = score.BenchmarkID
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM latest_scores WHERE scan_id = ?
			AND benchmark_id NOT IN (SELECT value FROM json_each(?))`, scanID, encodeStrings(benchmarks))
		if err != nil {
			return fmt.Errorf("replace scores of scan %s: latest scores: %w", scanID, err)
		}
		if err := updateLatestScores(ctx, tx, sc, scores); err != nil {
			return fmt.Errorf("replace scores of scan %s: %w", scanID, err)
		}
		return nil
	})
}

// LatestScans returns each node's most recent scan (by creation, then id), for the nodes
// matching f, keyed by node id.
func (s *Store) LatestScans(ctx context.Context, f store.NodeFilter) (map[string]store.Scan, error) {
	scans, err := queryScans(ctx, s.r, `SELECT `+scanColumns+` FROM nodes n
		JOIN scans s ON s.id = (SELECT s2.id FROM scans s2 WHERE s2.node_id = n.id ORDER BY s2.created_at DESC, s2.id DESC LIMIT 1)
		WHERE ? = '' OR n.target_type = ?`, string(f.TargetType), string(f.TargetType))
	if err != nil {
		return nil, fmt.Errorf("latest scans: %w", err)
	}
	out := make(map[string]store.Scan, len(scans))
	for _, sc := range scans {
		out[sc.NodeID] = sc
	}
	return out, nil
}

// StaleScans returns unfinished scans that have gone quiet, oldest first (CreatedAt, then ID).
// A running scan is stale when its last heartbeat, or before any its start, is older than
// heartbeatBefore; a queued or dispatched one when its dispatch, or before that its creation,
// is older than dispatchBefore.
func (s *Store) StaleScans(ctx context.Context, heartbeatBefore, dispatchBefore time.Time) ([]store.Scan, error) {
	scans, err := queryScans(ctx, s.r, scanSelect+`
		WHERE (s.state = 'running' AND COALESCE(s.last_heartbeat_at, s.started_at, s.dispatched_at, s.created_at) < ?)
		   OR (s.state IN ('queued', 'dispatched') AND COALESCE(s.dispatched_at, s.created_at) < ?)
		ORDER BY s.created_at, s.id`, heartbeatBefore.UnixNano(), dispatchBefore.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("find stale scans: %w", err)
	}
	return scans, nil
}

// Scores returns the stored scores of a scan, ordered by benchmark id.
func (s *Store) Scores(ctx context.Context, scanID string) ([]store.Score, error) {
	var out []store.Score
	err := s.inReadTx(ctx, func(tx *sql.Tx) error {
		if _, err := scanState(ctx, tx, scanID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT benchmark_id, pass, fail, info, skip, error, masked FROM scores
			WHERE scan_id = ? ORDER BY benchmark_id`, scanID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var sc store.Score
			c := &sc.Counts
			if err := rows.Scan(&sc.BenchmarkID, &c.Pass, &c.Fail, &c.Info, &c.Skip, &c.Error, &c.Masked); err != nil {
				return err
			}
			out = append(out, sc)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("scores of scan %q: %w", scanID, err)
	}
	return out, nil
}
