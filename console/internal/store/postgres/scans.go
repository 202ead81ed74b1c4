package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// scanColumns are the columns of scans s with their node n's name; scanScan decodes them.
const scanColumns = `s.id, s.group_id, s.node_id, COALESCE(n.name, ''), s.state, s.benchmark_ids,
	s.controls_total, s.controls_done, s.results_stored, s.message, s.created_by, s.created_at,
	s.started_at, s.finished_at, s.last_heartbeat_at`

// scanSelect reads scans with their node's name.
const scanSelect = `SELECT ` + scanColumns + ` FROM scans s LEFT JOIN nodes n ON n.id = s.node_id`

func scanScan(row pgx.Row) (store.Scan, error) {
	var (
		sc                      store.Scan
		state                   string
		created                 int64
		started, finished, beat *int64
	)
	err := row.Scan(&sc.ID, &sc.GroupID, &sc.NodeID, &sc.NodeName, &state, &sc.BenchmarkIDs,
		&sc.ControlsTotal, &sc.ControlsDone, &sc.ResultsStored, &sc.Message, &sc.CreatedBy, &created,
		&started, &finished, &beat)
	if err != nil {
		return store.Scan{}, err
	}
	sc.State = posture.ScanState(state)
	sc.BenchmarkIDs = orNil(sc.BenchmarkIDs)
	sc.CreatedAt, sc.StartedAt = fromNanos(&created), fromNanos(started)
	sc.FinishedAt, sc.LastHeartbeatAt = fromNanos(finished), fromNanos(beat)
	return sc, nil
}

func queryScans(ctx context.Context, q querier, query string, args ...any) ([]store.Scan, error) {
	rows, err := q.Query(ctx, query, args...)
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

func getScan(ctx context.Context, q querier, id string) (store.Scan, error) {
	sc, err := scanScan(q.QueryRow(ctx, scanSelect+` WHERE s.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Scan{}, fmt.Errorf("scan %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Scan{}, fmt.Errorf("get scan %q: %w", id, err)
	}
	return sc, nil
}

// scanState returns a scan's state, or store.ErrNotFound. With lock, the scan's row stays
// locked until the transaction ends, so that a read-check-write cannot interleave with another.
func scanState(ctx context.Context, q querier, id string, lock bool) (posture.ScanState, error) {
	query := `SELECT state FROM scans WHERE id = $1`
	if lock {
		query += ` FOR NO KEY UPDATE`
	}
	var state string
	err := q.QueryRow(ctx, query, id).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("scan %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read state of scan %q: %w", id, err)
	}
	return posture.ScanState(state), nil
}

// CreateScans stores new queued scans with their controls, COPYing both, and the audit entries
// that record them, in one transaction. An unknown node is store.ErrNotFound, a taken scan id
// (or a control listed twice) store.ErrConflict; either way nothing is stored.
func (s *Store) CreateScans(ctx context.Context, scans []store.NewScan, audit ...store.AuditEntry) error {
	if len(scans) == 0 {
		return nil
	}
	nControls := 0
	for _, sc := range scans {
		if sc.ID == "" {
			return errors.New("create scans: empty scan id")
		}
		nControls += len(sc.Controls)
	}
	states := make([]string, len(scans))
	for i, sc := range scans {
		st, err := sc.InitialState()
		if err != nil {
			return fmt.Errorf("create scans: %w", err)
		}
		states[i] = string(st)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		// Each distinct control set is stored once; the scans refer to it.
		setIDs := controlSetIDs(scans)
		firstUse := map[string]int{}
		for i := range scans {
			if _, ok := firstUse[setIDs[i]]; !ok {
				firstUse[setIDs[i]] = i
			}
		}
		for id, i := range firstUse {
			tag, err := tx.Exec(ctx, `INSERT INTO control_sets (id) VALUES ($1) ON CONFLICT (id) DO NOTHING`, id)
			if err != nil {
				return fmt.Errorf("create scans: control set: %w", classify(err))
			}
			if tag.RowsAffected() == 0 || len(scans[i].Controls) == 0 {
				continue
			}
			ctls := scans[i].Controls
			_, err = tx.CopyFrom(ctx, pgx.Identifier{"control_set_controls"},
				[]string{"set_id", "control_id", "title", "severity", "service", "benchmarks"},
				pgx.CopyFromSlice(len(ctls), func(j int) ([]any, error) {
					c := ctls[j]
					return []any{id, c.ControlID, c.Title, string(c.Severity), c.Service, orEmpty(c.Benchmarks)}, nil
				}))
			if err != nil {
				return fmt.Errorf("create scans: controls: %w", classify(err))
			}
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"scans"},
			[]string{"id", "group_id", "node_id", "state", "benchmark_ids", "controls_total", "created_by", "created_at", "control_set_id"},
			pgx.CopyFromSlice(len(scans), func(i int) ([]any, error) {
				sc := scans[i]
				return []any{sc.ID, sc.GroupID, sc.NodeID, states[i], orEmpty(sc.BenchmarkIDs), len(sc.Controls),
					sc.CreatedBy, nanos(sc.CreatedAt), setIDs[i]}, nil
			}))
		if err != nil {
			return fmt.Errorf("create scans: %w", classify(err))
		}
		for _, e := range audit {
			if _, err := tx.Exec(ctx, insertAudit, nanos(e.At), e.Actor, e.Action, e.Target, e.Detail); err != nil {
				return fmt.Errorf("create scans: audit entry %s: %w", e.Action, err)
			}
		}
		return nil
	})
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
	return getScan(ctx, s.pool, id)
}

// placeholders numbers query parameters as they are added.
type placeholders struct{ args []any }

// add appends a parameter and returns its placeholder.
func (p *placeholders) add(v any) string {
	p.args = append(p.args, v)
	return "$" + strconv.Itoa(len(p.args))
}

// ListScans returns scans newest first (CreatedAt, then ID, both descending).
func (s *Store) ListScans(ctx context.Context, f store.ScanFilter) (store.ScanPage, error) {
	var (
		where []string
		p     placeholders
	)
	if f.NodeID != "" {
		where = append(where, `s.node_id = `+p.add(f.NodeID))
	}
	if f.GroupID != "" {
		where = append(where, `s.group_id = `+p.add(f.GroupID))
	}
	if f.State != "" {
		where = append(where, `s.state = `+p.add(string(f.State)))
	}
	if f.PageToken != "" {
		c, err := store.ParseScanCursor(f.PageToken)
		if err != nil {
			return store.ScanPage{}, fmt.Errorf("list scans: %w", err)
		}
		where = append(where, `(s.created_at, s.id) < (`+p.add(c.CreatedAt.UnixNano())+`, `+p.add(c.ID)+`)`)
	}
	query := scanSelect
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	limit := f.Limit()
	query += ` ORDER BY s.created_at DESC, s.id DESC LIMIT ` + p.add(limit+1)
	scans, err := queryScans(ctx, s.pool, query, p.args...)
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
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		if _, err := scanState(ctx, tx, scanID, false); err != nil {
			return err
		}
		var setID *string
		if err := tx.QueryRow(ctx, `SELECT control_set_id FROM scans WHERE id = $1`, scanID).Scan(&setID); err != nil {
			return err
		}
		query, arg := `SELECT control_id, title, severity, service, benchmarks FROM scan_controls WHERE scan_id = $1`, scanID
		if setID != nil {
			query, arg = `SELECT control_id, title, severity, service, benchmarks FROM control_set_controls WHERE set_id = $1`, *setID
		}
		rows, err := tx.Query(ctx, query, arg)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				c        store.ScanControl
				severity string
			)
			if err := rows.Scan(&c.ControlID, &c.Title, &severity, &c.Service, &c.Benchmarks); err != nil {
				return err
			}
			c.Severity = posture.Severity(severity)
			c.Benchmarks = orNil(c.Benchmarks)
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
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanState(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if !cur.CanMoveTo(t.State) {
			return fmt.Errorf("scan %s is %s and cannot become %s: %w", id, cur, t.State, store.ErrBadTransition)
		}
		var p placeholders
		query := `UPDATE scans SET ` + transitionSet(&p, t) + ` WHERE id = ` + p.add(id)
		if _, err := tx.Exec(ctx, query, p.args...); err != nil {
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

// transitionSet returns the SET clause of an UPDATE that applies t, adding its parameters to p.
func transitionSet(p *placeholders, t store.Transition) string {
	set := []string{`state = ` + p.add(string(t.State))}
	switch {
	case t.State == posture.Dispatched:
		set = append(set, `dispatched_at = `+p.add(nanos(t.At)))
	case t.State == posture.Running:
		set = append(set, `started_at = `+p.add(nanos(t.At)))
	case t.State.Terminal():
		set = append(set, `finished_at = `+p.add(nanos(t.At)))
	}
	if t.Message != "" {
		set = append(set, `message = `+p.add(t.Message))
	}
	return strings.Join(set, `, `)
}

// TransitionScans applies t, in one transaction, to each of the scans whose state allows it:
// one UPDATE over the ids (which locks the rows it changes, as TransitionScan does), then one
// SELECT of the scans.
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
	var out []store.Scan
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if len(from) > 0 {
			var p placeholders
			query := `UPDATE scans SET ` + transitionSet(&p, t) + ` WHERE id = ANY(` + p.add(ids) + `::text[])
				AND state = ANY(` + p.add(from) + `::text[])`
			if _, err := tx.Exec(ctx, query, p.args...); err != nil {
				return err
			}
		}
		scans, err := queryScans(ctx, tx, scanSelect+` WHERE s.id = ANY($1::text[])`, ids)
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
// is store.ErrBadTransition. The common case, a running scan, takes one statement.
func (s *Store) RecordProgress(ctx context.Context, id string, done, total int, at time.Time) error {
	tag, err := s.liveness.Exec(ctx, `UPDATE scans SET controls_done = $1, controls_total = $2, last_heartbeat_at = $3
		WHERE id = $4 AND state = $5`, done, total, nanos(at), id, string(posture.Running))
	if err != nil {
		return fmt.Errorf("record progress of scan %s: %w", id, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	cur, err := scanState(ctx, s.pool, id, false)
	if err != nil {
		return fmt.Errorf("record progress: %w", err)
	}
	return fmt.Errorf("record progress of scan %s: it is %s, not running: %w", id, cur, store.ErrBadTransition)
}

// RecordHeartbeats stores the beats of running scans of the beats' nodes in one statement,
// through the liveness pool like RecordProgress, and returns the node and state of every
// named scan that exists.
func (s *Store) RecordHeartbeats(ctx context.Context, beats []store.Heartbeat, at time.Time) (map[string]store.ScanOwner, error) {
	beats = slices.Clone(store.LastBeats(beats))
	out := make(map[string]store.ScanOwner, len(beats))
	slices.SortFunc(beats, func(x, y store.Heartbeat) int { return strings.Compare(x.ScanID, y.ScanID) })
	var again []string
	for chunk := range slices.Chunk(beats, heartbeatChunk) {
		busy, err := s.recordHeartbeats(ctx, chunk, at, out)
		if err != nil {
			return nil, fmt.Errorf("record %d heartbeats: %w", len(beats), err)
		}
		again = append(again, busy...)
	}
	if len(again) > 0 {
		rows, err := s.liveness.Query(ctx, `SELECT id, node_id, state FROM scans WHERE id = ANY($1)`, again)
		if err := readOwners(rows, err, out); err != nil {
			return nil, fmt.Errorf("record %d heartbeats: read %d scans again: %w", len(beats), len(again), err)
		}
	}
	return out, nil
}

// heartbeatChunk is how many heartbeats one statement stores: each statement holds the rows
// it writes until it ends, and a batch of results of one of those scans waits meanwhile.
const heartbeatChunk = 64

// recordHeartbeats stores one chunk of beats (sorted by scan id) in one statement, adds the
// named scans' owners to out and returns the ids of running scans of the beats' nodes that
// were busy or ended meanwhile, whose state must be read again.
func (s *Store) recordHeartbeats(ctx context.Context, beats []store.Heartbeat, at time.Time, out map[string]store.ScanOwner) ([]string, error) {
	ids, nodes := make([]string, len(beats)), make([]string, len(beats))
	done, total := make([]int64, len(beats)), make([]int64, len(beats))
	for i, b := range beats {
		ids[i], nodes[i], done[i], total[i] = b.ScanID, b.NodeID, int64(b.Done), int64(b.Total)
	}
	// The statement never waits for a row: a scan whose row another transaction holds (a
	// batch of its results being stored, a stop, its completion) is skipped, and its next
	// heartbeat, a few seconds later, is written. Waiting would hold the rows already locked
	// and stall every batch of those scans behind it; one heartbeat less is harmless against a
	// timeout many heartbeats long. The rows are locked in id order (locking happens after the
	// sort).
	rows, err := s.liveness.Query(ctx, `WITH beat AS (
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS b(id, node_id, done, total)
		), locked AS (
			SELECT s.id FROM scans s JOIN beat b ON s.id = b.id AND s.node_id = b.node_id
			WHERE s.state = $6 ORDER BY s.id FOR NO KEY UPDATE OF s SKIP LOCKED
		), stored AS (
			UPDATE scans s SET controls_done = b.done, controls_total = b.total, last_heartbeat_at = $5
			FROM beat b WHERE s.id = b.id AND s.node_id = b.node_id AND s.id IN (SELECT id FROM locked)
			RETURNING s.id
		)
		SELECT id, node_id, state, id IN (SELECT id FROM stored) FROM scans WHERE id = ANY($1)`,
		ids, nodes, done, total, nanos(at), string(posture.Running))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	// The SELECT sees the scans as they were when the statement began: a running scan of a
	// beat's node that was not written was busy or ended meanwhile, and is read again.
	var again []string
	for rows.Next() {
		var (
			id, node, state string
			stored          bool
		)
		if err := rows.Scan(&id, &node, &state, &stored); err != nil {
			return nil, err
		}
		out[id] = store.ScanOwner{NodeID: node, State: posture.ScanState(state)}
		if !stored && posture.ScanState(state) == posture.Running && slices.ContainsFunc(beats, func(b store.Heartbeat) bool { return b.ScanID == id && b.NodeID == node }) {
			again = append(again, id)
		}
	}
	return again, rows.Err()
}

// ScanOwners returns the node and state of each of the scans ids that exists.
func (s *Store) ScanOwners(ctx context.Context, ids []string) (map[string]store.ScanOwner, error) {
	out := make(map[string]store.ScanOwner, len(ids))
	rows, err := s.pool.Query(ctx, `SELECT id, node_id, state FROM scans WHERE id = ANY($1)`, ids)
	if err := readOwners(rows, err, out); err != nil {
		return nil, fmt.Errorf("read the owners of %d scans: %w", len(ids), err)
	}
	return out, nil
}

// readOwners adds the (id, node_id, state) rows of a query that returned rows and err to out.
func readOwners(rows pgx.Rows, err error, out map[string]store.ScanOwner) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, node, state string
		if err := rows.Scan(&id, &node, &state); err != nil {
			return err
		}
		out[id] = store.ScanOwner{NodeID: node, State: posture.ScanState(state)}
	}
	return rows.Err()
}

// CompleteScan stores the scores and moves a running scan to complete in one transaction.
func (s *Store) CompleteScan(ctx context.Context, id string, scores []store.Score, at time.Time) (store.Scan, error) {
	var out store.Scan
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := scanState(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if cur != posture.Running {
			return fmt.Errorf("complete scan %s: it is %s, not running: %w", id, cur, store.ErrBadTransition)
		}
		if err := insertScores(ctx, tx, id, scores); err != nil {
			return fmt.Errorf("complete scan %s: %w", id, err)
		}
		_, err = tx.Exec(ctx, `UPDATE scans SET state = $1, finished_at = $2 WHERE id = $3`,
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

// insertScores stores a scan's scores in one round trip; a benchmark given twice is
// store.ErrConflict.
func insertScores(ctx context.Context, tx pgx.Tx, scanID string, scores []store.Score) error {
	if len(scores) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, sc := range scores {
		c := sc.Counts
		b.Queue(`INSERT INTO scores (scan_id, benchmark_id, pass, fail, info, skip, error, masked)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, scanID, sc.BenchmarkID, c.Pass, c.Fail, c.Info, c.Skip, c.Error, c.Masked)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("store scores: %w", classify(err))
	}
	return nil
}

// updateLatestScores makes the completed scan's scores its node's latest, benchmark by
// benchmark, unless a scan that finished later holds the latest score; one round trip.
func updateLatestScores(ctx context.Context, tx pgx.Tx, sc store.Scan, scores []store.Score) error {
	if len(scores) == 0 {
		return nil
	}
	var b pgx.Batch
	for _, score := range scores {
		c := score.Counts
		b.Queue(`INSERT INTO latest_scores (node_id, benchmark_id, scan_id, finished_at, pass, fail, info, skip, error, masked)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (node_id, benchmark_id) DO UPDATE SET scan_id = excluded.scan_id, finished_at = excluded.finished_at,
				pass = excluded.pass, fail = excluded.fail, info = excluded.info, skip = excluded.skip, error = excluded.error,
				masked = excluded.masked
			WHERE excluded.finished_at >= latest_scores.finished_at`,
			sc.NodeID, score.BenchmarkID, sc.ID, nanos(sc.FinishedAt), c.Pass, c.Fail, c.Info, c.Skip, c.Error, c.Masked)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("latest scores: %w", classify(err))
	}
	return nil
}

// ReplaceScores replaces the stored scores of a completed scan and the latest scores that
// point at it, in one transaction. The scan's row stays locked meanwhile, so concurrent
// replacements of one scan's scores apply one after the other.
func (s *Store) ReplaceScores(ctx context.Context, scanID string, scores []store.Score) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		state, err := scanState(ctx, tx, scanID, true)
		if err != nil {
			return fmt.Errorf("replace scores: %w", err)
		}
		if state != posture.Complete {
			return fmt.Errorf("replace scores of scan %s: it is %s, not complete: %w", scanID, state, store.ErrConflict)
		}
		sc, err := getScan(ctx, tx, scanID)
		if err != nil {
			return fmt.Errorf("replace scores: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scores WHERE scan_id = $1`, scanID); err != nil {
			return fmt.Errorf("replace scores of scan %s: %w", scanID, err)
		}
		if err := insertScores(ctx, tx, scanID, scores); err != nil {
			return fmt.Errorf("replace scores of scan %s: %w", scanID, err)
		}
		benchmarks := make([]string, len(scores))
		for i, score := range scores {
			benchmarks[i] = score.BenchmarkID
		}
		_, err = tx.Exec(ctx, `DELETE FROM latest_scores WHERE scan_id = $1 AND NOT benchmark_id = ANY($2::text[])`, scanID, benchmarks)
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
// matching f, keyed by node id: one probe of the scans' node index per node.
func (s *Store) LatestScans(ctx context.Context, f store.NodeFilter) (map[string]store.Scan, error) {
	scans, err := queryScans(ctx, s.pool, `SELECT `+scanColumns+` FROM nodes n
		CROSS JOIN LATERAL (SELECT * FROM scans s2 WHERE s2.node_id = n.id ORDER BY s2.created_at DESC, s2.id DESC LIMIT 1) s
		WHERE $1 = '' OR n.target_type = $1`, string(f.TargetType))
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
// is older than dispatchBefore. The state test repeats the predicate of the partial index
// scans_unfinished, so that the planner can use it.
func (s *Store) StaleScans(ctx context.Context, heartbeatBefore, dispatchBefore time.Time) ([]store.Scan, error) {
	scans, err := queryScans(ctx, s.pool, scanSelect+`
		WHERE s.state IN ('queued', 'dispatched', 'running')
		  AND ((s.state = 'running' AND COALESCE(s.last_heartbeat_at, s.started_at, s.dispatched_at, s.created_at) < $1)
		    OR (s.state IN ('queued', 'dispatched') AND COALESCE(s.dispatched_at, s.created_at) < $2))
		ORDER BY s.created_at, s.id`, heartbeatBefore.UnixNano(), dispatchBefore.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("find stale scans: %w", err)
	}
	return scans, nil
}

// Scores returns the stored scores of a scan, ordered by benchmark id.
func (s *Store) Scores(ctx context.Context, scanID string) ([]store.Score, error) {
	var out []store.Score
	err := s.inReadTx(ctx, func(tx pgx.Tx) error {
		if _, err := scanState(ctx, tx, scanID, false); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT benchmark_id, pass, fail, info, skip, error, masked FROM scores
			WHERE scan_id = $1 ORDER BY benchmark_id`, scanID)
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
