// Package storetest is the conformance suite every store.Store implementation must pass. An
// implementation's test calls Run with a function that opens a new, empty store; each subtest
// opens its own.
//
// Beyond the interface's documentation, the suite pins these behaviours, so that every
// implementation answers alike:
//
//   - Times come back in UTC and Equal to what was stored, to the nanosecond; a zero time is
//     stored and returned as zero.
//   - Empty lists come back nil (Scan.BenchmarkIDs, ScanControl.Benchmarks, Result.Evidence,
//     the slices of the List methods and Scores).
//   - EnrolNode checks an enrolment token in this order: unknown hash (ErrNotFound), revoked,
//     expired (now at or after ExpiresAt; a zero ExpiresAt never expires), used up (Used >=
//     Uses). The node gets the token's id as EnrolTokenID and now as EnrolledAt and LastSeenAt.
//     A taken node id is ErrConflict and consumes nothing.
//   - Creating a token, user or scan whose id (or hash, or name) is taken is ErrConflict.
//     Revoking an unknown token is ErrNotFound; revoking twice keeps the first time.
//   - UpdateNodeFacts keeps the name when the hostname is empty.
//   - ListNodes orders by name, then id; ListEnrolTokens and ListAPITokens by CreatedAt, then
//     id; ListUsers by name; ListAudit newest first (same At: last appended first).
//   - A new scan is queued with ControlsTotal = len(Controls). CreateScans with an unknown node
//     is ErrNotFound and stores none of the scans.
//   - RecordProgress and CompleteScan on a scan that is not running are ErrBadTransition.
//     Every method taking a scan id answers ErrNotFound for an unknown one.
//   - StoreBatch from a node other than the scan's is ErrConflict and stores nothing, not even
//     the sequence number.
//   - ListResults orders by control id, resource, node id comparing bytes, after the rank of
//     the severity (critical, high, medium, low, info, then any other) or status (fail, error,
//     info, pass, skip) when the filter's Order asks for it; ControlIDs empty but not nil
//     matches nothing; a page is followed by a NextPageToken only when more results follow it.
//     ListScans likewise. A token that is not one, or was made for another scan, filter or
//     order (PageSize and Now aside), is store.ErrBadPageToken. Query ignores the case of ASCII
//     letters only and has no wildcards. Every result has its control's title in the scan ("" for
//     a control the scan lacks); Mask is filled for a masked result (the oldest active mask by
//     CreatedAt, then ID) and nil otherwise.
//   - A mask is active at a time when it is not removed and expires after that time; its
//     CreatedAt plays no part. Masks apply to every scan, whatever its state. RemoveMask
//     removes an expired mask too.
//   - ReplaceScores of a scan that is not complete is ErrConflict. Scores with a benchmark
//     twice (CompleteScan, ReplaceScores) are ErrConflict and store nothing.
//   - ControlHistory and LatestScans order scans by CreatedAt, then id (both newest first).
//   - DeleteExpiredSessions deletes sessions expiring at or before the time given; deleting a
//     user deletes their sessions. CreateSession needs a hash, a user and both times.
//   - StaleScans: a running scan's reference is its last heartbeat, or before any its
//     StartedAt; a queued or dispatched one's its dispatch time, or before that its CreatedAt;
//     stale means strictly older than the bound. Ordered by CreatedAt, then id.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// Run runs the conformance suite; open must return a new, empty store, which the suite closes.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Nodes", testNodes},
		{"EnrolTokens", testEnrolTokens},
		{"EnrolRejected", testEnrolRejected},
		{"EnrolConcurrent", testEnrolConcurrent},
		{"APITokens", testAPITokens},
		{"Users", testUsers},
		{"CreateScans", testCreateScans},
		{"ScanLifecycle", testScanLifecycle},
		{"Heartbeats", testHeartbeats},
		{"ScanNotFound", testScanNotFound},
		{"ListScans", testListScans},
		{"Batches", testBatches},
		{"BatchesConcurrent", testBatchesConcurrent},
		{"BatchText", testBatchText},
		{"ListResults", testListResults},
		{"ListResultsPages", testListResultsPages},
		{"StatusCounts", testStatusCounts},
		{"Scores", testScores},
		{"StaleScans", testStaleScans},
		{"Audit", testAudit},
		{"Leases", testLeases},
		{"LatestScores", testLatestScores},
		{"PruneScans", testPruneScans},
		{"ResultOrders", testResultOrders},
		{"MasksStored", testMasksStored},
		{"MaskedCounts", testMaskedCounts},
		{"MaskedResults", testMaskedResults},
		{"MaskedScans", testMaskedScans},
		{"ResultQuery", testResultQuery},
		{"ReplaceScores", testReplaceScores},
		{"ControlHistory", testControlHistory},
		{"LatestScans", testLatestScans},
		{"PostureLastScan", testPostureLastScan},
		{"Sessions", testSessions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// t0 is the suite's clock origin. It has nanoseconds so that a store that loses precision fails.
var t0 = time.Date(2026, 11, 26, 9, 30, 0, 123456789, time.UTC)

// at is t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// cet is a zone the suite writes some times in, to check that they come back in UTC.
var cet = time.FixedZone("CET", 60*60)

// hash makes a distinct 32-byte token hash.
func hash(s string) []byte {
	h := make([]byte, 32)
	copy(h, s)
	return h
}

func ctx(t *testing.T) context.Context { return t.Context() }

// must fails the test on err.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr fails the test unless errors.Is(err, want).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error = %v; want %v", what, err, want)
	}
}

// equal fails the test unless got and want are deeply equal.
func equal(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// enrolNode creates a single-use token and enrols a node with it at now.
func enrolNode(t *testing.T, s store.Store, id, name string, tt posture.TargetType, now time.Time) store.Node {
	t.Helper()
	tok := store.EnrolToken{ID: "tok-" + id, Hash: hash("secret-" + id), CreatedAt: now, ExpiresAt: now.Add(time.Hour), Uses: 1}
	must(t, "CreateEnrolToken", s.CreateEnrolToken(ctx(t), tok))
	n := store.Node{ID: id, Name: name, TargetType: tt, Facts: store.NodeFacts{Hostname: name}}
	must(t, "EnrolNode "+id, s.EnrolNode(ctx(t), tok.Hash, n, now))
	n.EnrolTokenID, n.EnrolledAt, n.LastSeenAt = tok.ID, now.UTC(), now.UTC()
	return n
}

// controls is the control set the suite's scans use.
var controls = []store.ScanControl{
	{ControlID: "linux.ssh.root-login", Title: "SSH root login disabled", Severity: posture.High, Service: "SSH", Benchmarks: []string{"cis-linux", "pci-linux"}},
	{ControlID: "linux.fs.tmp-noexec", Title: "/tmp mounted noexec", Severity: posture.Medium, Service: "Filesystem", Benchmarks: []string{"cis-linux"}},
	{ControlID: "linux.audit.enabled", Title: "auditd enabled", Severity: posture.Critical, Service: "Audit", Benchmarks: []string{"pci-linux"}},
}

// newScan is a scan on node with the suite's controls.
func newScan(id, group, node string, created time.Time) store.NewScan {
	return store.NewScan{
		ID: id, GroupID: group, NodeID: node, BenchmarkIDs: []string{"cis-linux", "pci-linux"},
		Controls: controls, CreatedAt: created, CreatedBy: "alice",
	}
}

// queuedScan is what GetScan returns for newScan(id, group, node, created) on a node named name.
func queuedScan(id, group, node, name string, created time.Time) store.Scan {
	return store.Scan{
		ID: id, GroupID: group, NodeID: node, NodeName: name, State: posture.Queued,
		BenchmarkIDs: []string{"cis-linux", "pci-linux"}, ControlsTotal: len(controls),
		CreatedBy: "alice", CreatedAt: created.UTC(),
	}
}

// runningScan creates a scan on a new node and moves it to running; it returns the scan.
func runningScan(t *testing.T, s store.Store, scanID, nodeID string) store.Scan {
	t.Helper()
	enrolNode(t, s, nodeID, nodeID+".example", posture.Linux, t0)
	must(t, "CreateScans", s.CreateScans(ctx(t), []store.NewScan{newScan(scanID, "g-"+scanID, nodeID, at(time.Minute))}))
	sc, err := s.TransitionScan(ctx(t), scanID, store.Transition{State: posture.Running, At: at(2 * time.Minute)})
	must(t, "TransitionScan running", err)
	return sc
}

// checkUTC fails the test unless every non-zero time is in UTC.
func checkUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for i, tm := range times {
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Fatalf("%s: time %d (%v) is in %v; want UTC", what, i, tm, tm.Location())
		}
	}
}
