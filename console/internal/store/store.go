// Package store defines the console's persistence: one Store interface with an embedded SQLite
// implementation (package sqlite) and, for scale, PostgreSQL. Both pass the conformance suite
// in package storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/palisadehq/palisade/pkg/posture"
)

// Errors callers test with errors.Is.
var (
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrTokenExpired = errors.New("enrolment token expired")
	ErrTokenUsedUp  = errors.New("enrolment token used up")
	ErrTokenRevoked = errors.New("enrolment token revoked")
	// ErrBadTransition is returned when a scan cannot move to the requested state.
	ErrBadTransition = errors.New("scan state transition not allowed")
)

// Store is everything the console persists. Implementations are safe for concurrent use.
type Store interface {
	Close() error

	// EnrolNode consumes one use of the enrolment token whose SHA-256 is tokenHash (failing
	// with ErrNotFound, ErrTokenExpired, ErrTokenUsedUp or ErrTokenRevoked, changing nothing)
	// and creates the node, in one transaction.
	EnrolNode(ctx context.Context, tokenHash []byte, node Node, now time.Time) error
	GetNode(ctx context.Context, id string) (Node, error)
	// FindNode looks a node up by id, or else by name (ErrConflict when several share it).
	FindNode(ctx context.Context, idOrName string) (Node, error)
	ListNodes(ctx context.Context, f NodeFilter) ([]Node, error)
	// UpdateNodeFacts replaces the node's facts and name (from the hostname) and sets
	// LastSeenAt.
	UpdateNodeFacts(ctx context.Context, id string, facts NodeFacts, seenAt time.Time) error
	// TouchNodes moves the LastSeenAt of each sighted node to the sighting's time, unless the
	// node was seen later already; sightings of nodes the store does not know are skipped.
	TouchNodes(ctx context.Context, seen []Sighting) error

	CreateEnrolToken(ctx context.Context, t EnrolToken) error
	ListEnrolTokens(ctx context.Context) ([]EnrolToken, error)
	RevokeEnrolToken(ctx context.Context, id string, at time.Time) error

	CreateAPIToken(ctx context.Context, t APIToken) error
	// GetAPIToken finds a token by the SHA-256 of its secret.
	GetAPIToken(ctx context.Context, hash []byte) (APIToken, error)
	ListAPITokens(ctx context.Context) ([]APIToken, error)
	RevokeAPIToken(ctx context.Context, id string, at time.Time) error

	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// DeleteUser deletes a user and every session of theirs (ErrNotFound when unknown).
	DeleteUser(ctx context.Context, name string) error

	// CreateSession stores a web console session; only the SHA-256 of its cookie is stored. A
	// taken hash is ErrConflict, an unknown user ErrNotFound.
	CreateSession(ctx context.Context, s Session) error
	// GetSession finds a session by the SHA-256 of its cookie (ErrNotFound when unknown).
	// Callers check ExpiresAt.
	GetSession(ctx context.Context, hash []byte) (Session, error)
	// DeleteSession signs a session out; deleting an unknown one is not an error.
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteExpiredSessions removes sessions that expired at or before now and returns how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	// CreateMask stores a mask (ErrConflict when the id exists).
	CreateMask(ctx context.Context, m Mask) error
	GetMask(ctx context.Context, id string) (Mask, error)
	// ListMasks returns masks ordered by creation time, then id.
	ListMasks(ctx context.Context, f MaskFilter) ([]Mask, error)
	// RemoveMask sets RemovedAt and RemovedBy of a mask not removed yet (an expired one
	// included) and returns it; removing an unknown mask fails with ErrNotFound and removing a
	// removed one with ErrConflict.
	RemoveMask(ctx context.Context, id, by string, at time.Time) (Mask, error)
	// MaskedScans returns the ids of completed scans holding a result that mask m matches,
	// whatever the mask's state: the scans whose scores change when m is created or removed.
	// They are ordered by creation time, then id.
	MaskedScans(ctx context.Context, m Mask) ([]string, error)
	// ReplaceScores replaces the stored scores of a completed scan (after a mask change) and
	// the node's latest scores that point at this scan, in one transaction. The node's latest
	// scores are then what CompleteScan would have made them with these scores: a latest score
	// of another scan is kept unless this scan finished at or after it, and one of this scan
	// for a benchmark no longer scored is deleted. An unknown scan is ErrNotFound, one that is
	// not complete ErrConflict.
	ReplaceScores(ctx context.Context, scanID string, scores []Score) error

	// CreateScans stores new scans (in their State) with their controls and the audit
	// entries that record them, in one transaction: scans are never stored without their
	// entry, nor an entry without its scans.
	CreateScans(ctx context.Context, scans []NewScan, audit ...AuditEntry) error
	GetScan(ctx context.Context, id string) (Scan, error)
	// ListScans returns scans newest first; PageToken continues a listing.
	ListScans(ctx context.Context, f ScanFilter) (ScanPage, error)
	// ScanControls returns the controls a scan evaluates, keyed by control id.
	ScanControls(ctx context.Context, scanID string) (map[string]ScanControl, error)
	// TransitionScan moves a scan to t.State when posture.ScanState.CanMoveTo allows it,
	// otherwise fails with ErrBadTransition and changes nothing. It sets StartedAt when the
	// state becomes running, FinishedAt when it becomes terminal, and Message when t.Message
	// is not empty. It returns the scan as stored afterwards.
	TransitionScan(ctx context.Context, id string, t Transition) (Scan, error)
	// RecordProgress stores progress and the heartbeat time of a running scan.
	RecordProgress(ctx context.Context, id string, done, total int, at time.Time) error
	// RecordHeartbeats stores, in one call, the progress and heartbeat time at of every beat
	// whose scan is running and belongs to the beat's node, and returns the node and state of
	// every scan the beats name that exists (as before this call; a beat stores nothing that
	// changes either). A scan absent from the answer is unknown. Of several beats of one
	// node for one scan, the last is stored.
	RecordHeartbeats(ctx context.Context, beats []Heartbeat, at time.Time) (map[string]ScanOwner, error)
	// ScanOwners returns the node and state of each of the scans ids that exists, by id.
	ScanOwners(ctx context.Context, ids []string) (map[string]ScanOwner, error)
	// CompleteScan stores the scores and moves a running scan to complete, in one transaction.
	CompleteScan(ctx context.Context, id string, scores []Score, at time.Time) (Scan, error)
	// StaleScans returns non-terminal scans whose last heartbeat (or, before any, the
	// dispatch) is older than heartbeatBefore while running, or which are still queued or
	// dispatched and older than dispatchBefore.
	StaleScans(ctx context.Context, heartbeatBefore, dispatchBefore time.Time) ([]Scan, error)

	// StoreBatch stores a batch of results in one transaction. A batch already stored (same
	// scan and seq) stores nothing and returns Duplicate. A result whose (scan, node,
	// control, resource) is already stored is ignored. Stored counts the new rows. The
	// caller may reuse b.Results once StoreBatch returns, so nothing of it may be kept.
	StoreBatch(ctx context.Context, b Batch) (BatchOutcome, error)
	// ListResults filters and pages a scan's results, in the filter's Order.
	ListResults(ctx context.Context, f ResultFilter) (ResultPage, error)
	// StatusCounts counts a scan's results per control id and status. Results covered by a
	// mask active at now count only in Masked.
	StatusCounts(ctx context.Context, scanID string, now time.Time) (map[string]posture.Counts, error)
	// ControlHistory returns one control's results on one node over the node's newest limit
	// scans that hold it (any state; limit as clamped by HistoryLimit), newest scan first (by
	// creation, then id), then by resource. An unknown node is ErrNotFound.
	ControlHistory(ctx context.Context, nodeID, controlID string, limit int) ([]HistoryEntry, error)
	// LatestScans returns each node's most recent scan of any state (by creation), for the
	// nodes matching f, keyed by node id. Nodes never scanned are absent.
	LatestScans(ctx context.Context, f NodeFilter) (map[string]Scan, error)
	// Scores returns the stored scores of a scan, by benchmark id.
	Scores(ctx context.Context, scanID string) ([]Score, error)

	AppendAudit(ctx context.Context, e AuditEntry) error
	ListAudit(ctx context.Context, limit int) ([]AuditEntry, error)

	// LatestScores returns each node's most recent completed score per benchmark (kept up to
	// date by CompleteScan), ordered by node name, node id and benchmark id.
	LatestScores(ctx context.Context, f NodeFilter) ([]NodeScore, error)
	// PruneScans deletes, with everything stored under them, up to limit terminal scans that
	// are either older than before (by creation; zero before disables this rule) or beyond the
	// keepPerNode newest scans of their node (zero disables this rule). A scan holding a node's
	// latest score for a benchmark is kept. It returns how many scans it deleted; callers loop
	// in small batches so ingest never waits long.
	PruneScans(ctx context.Context, keepPerNode int, before time.Time, limit int) (int, error)

	// TryLease takes or renews the named lease for holder until now+ttl when it is free,
	// expired (its expiry is at or before now) or already held by holder, and reports whether
	// holder has it. Console replicas use leases so background duties run once.
	TryLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)

	// PostureNodes returns what the posture summary shows of the nodes matching f, ordered by
	// name, then id: each node's most recent scan of any state (as LatestScans) and its latest
	// completed score per benchmark (as LatestScores), ordered by benchmark id. It reads no
	// facts, so one call serves a fleet of ten thousand nodes.
	PostureNodes(ctx context.Context, f NodeFilter) ([]PostureNode, error)

	// Bulk dispatch: starting a scan of ten thousand nodes takes a few statements, not a few
	// per node.

	// FindNodes looks many nodes up at once, each reference as FindNode would: the node whose
	// id it is, or else every node with that name, ordered by id. The result is keyed by
	// reference; a reference matching no node is absent, and a name shared by several nodes
	// maps to all of them.
	FindNodes(ctx context.Context, idsOrNames []string) (map[string][]Node, error)
	// TransitionScans applies t to many scans in one transaction, as TransitionScan does to
	// one, except that a scan whose state cannot move to t.State is left as it is instead of
	// failing the call. It returns the scans as stored afterwards, in the order of ids. An
	// unknown id fails with ErrNotFound and changes nothing.
	TransitionScans(ctx context.Context, ids []string, t Transition) ([]Scan, error)
}

// NodeFacts describes a node as its sensor reports it.
type NodeFacts struct {
	Hostname       string `json:"hostname"`
	OSID           string `json:"os_id"`
	OSVersion      string `json:"os_version"`
	OSName         string `json:"os_name"`
	Kernel         string `json:"kernel"`
	Arch           string `json:"arch"`
	MachineID      string `json:"machine_id"`
	SensorVersion  string `json:"sensor_version"`
	CatalogVersion string `json:"catalog_version"`
}

// Node is an enrolled sensor or connector.
type Node struct {
	ID         string
	Name       string
	TargetType posture.TargetType
	Facts      NodeFacts
	// EnrolTokenID is the enrolment token the node used.
	EnrolTokenID string
	EnrolledAt   time.Time
	LastSeenAt   time.Time
}

// NodeFilter narrows ListNodes; zero fields match everything.
type NodeFilter struct {
	TargetType posture.TargetType
}

// EnrolToken is an enrolment token; only the SHA-256 of its secret is stored.
type EnrolToken struct {
	ID        string
	Hash      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
	Uses      int
	Used      int
	RevokedAt time.Time // zero when not revoked
	CreatedBy string
}

// Role is what a user or API token may do.
type Role string

// The roles.
const (
	RoleAdmin   Role = "admin"
	RoleAnalyst Role = "analyst"
	RoleViewer  Role = "viewer"
)

// APIToken authenticates automation and the CLI; only the SHA-256 of its secret is stored.
type APIToken struct {
	ID        string
	Name      string
	Hash      []byte
	Role      Role
	CreatedAt time.Time
	ExpiresAt time.Time // zero: no expiry
	RevokedAt time.Time // zero: not revoked
	CreatedBy string
}

// User is a person who signs in to the web console.
type User struct {
	Name         string
	PasswordHash []byte
	Role         Role
	CreatedAt    time.Time
}

// ScanControl is one control of a scan, as it was when the scan started.
type ScanControl struct {
	ControlID string
	Title     string
	Severity  posture.Severity
	Service   string
	// Benchmarks lists the ids of the scan's benchmarks that use the control.
	Benchmarks []string
}

// NewScan is a scan to create.
type NewScan struct {
	ID           string
	GroupID      string
	NodeID       string
	BenchmarkIDs []string
	Controls     []ScanControl
	CreatedAt    time.Time
	CreatedBy    string
	// State is queued (when empty) or dispatched: a scan whose job goes out in the same
	// breath is stored dispatched at once.
	State posture.ScanState
}

// InitialState returns the state ns is created in, or an error when it may not start there.
func (ns NewScan) InitialState() (posture.ScanState, error) {
	switch ns.State {
	case "", posture.Queued:
		return posture.Queued, nil
	case posture.Dispatched:
		return posture.Dispatched, nil
	}
	return "", fmt.Errorf("scan %s cannot be created %s, only queued or dispatched: %w", ns.ID, ns.State, ErrBadTransition)
}

// Sighting is a node seen at a time: a report of its sensor reached the console.
type Sighting struct {
	NodeID string
	At     time.Time
}

// LastSightings returns one sighting per node, the latest, sorted by node id; seen is not
// modified.
func LastSightings(seen []Sighting) []Sighting {
	out := slices.Clone(seen)
	slices.SortStableFunc(out, func(x, y Sighting) int {
		if c := strings.Compare(x.NodeID, y.NodeID); c != 0 {
			return c
		}
		return y.At.Compare(x.At)
	})
	return slices.CompactFunc(out, func(x, y Sighting) bool { return x.NodeID == y.NodeID })
}

// Heartbeat is a sensor's progress report on one of its running scans.
type Heartbeat struct {
	ScanID, NodeID string
	Done, Total    int
}

// LastBeats returns beats with only the last beat of each scan from each node, in the order
// of those last beats; beats is not modified.
func LastBeats(beats []Heartbeat) []Heartbeat {
	type key struct{ scan, node string }
	last := make(map[key]int, len(beats))
	for i, b := range beats {
		last[key{b.ScanID, b.NodeID}] = i
	}
	if len(last) == len(beats) {
		return beats
	}
	out := make([]Heartbeat, 0, len(last))
	for i, b := range beats {
		if last[key{b.ScanID, b.NodeID}] == i {
			out = append(out, b)
		}
	}
	return out
}

// ScanOwner is the node and state of a scan.
type ScanOwner struct {
	NodeID string
	State  posture.ScanState
}

// Scan is one node's scan.
type Scan struct {
	ID              string
	GroupID         string
	NodeID          string
	NodeName        string
	State           posture.ScanState
	BenchmarkIDs    []string
	ControlsTotal   int
	ControlsDone    int
	ResultsStored   int64
	Message         string
	CreatedBy       string
	CreatedAt       time.Time
	StartedAt       time.Time // zero until running
	FinishedAt      time.Time // zero until terminal
	LastHeartbeatAt time.Time // zero until the first heartbeat
}

// Transition moves a scan to a new state.
type Transition struct {
	State   posture.ScanState
	Message string
	At      time.Time
}

// ScanFilter narrows ListScans; zero fields match everything.
type ScanFilter struct {
	NodeID    string
	GroupID   string
	State     posture.ScanState
	PageSize  int // default 50, at most 1000
	PageToken string
}

// ScanPage is one page of scans.
type ScanPage struct {
	Scans         []Scan
	NextPageToken string
}

// Evidence is one thing read to reach a result.
type Evidence struct {
	Source   string `json:"source,omitempty"`
	Line     int    `json:"line,omitempty"`
	Key      string `json:"key,omitempty"`
	Actual   string `json:"actual,omitempty"`
	Expected string `json:"expected,omitempty"`
}

// Result is one control's outcome on one resource of one node in one scan.
type Result struct {
	ScanID    string
	NodeID    string
	ControlID string
	Resource  string
	Status    posture.Status
	Severity  posture.Severity
	Service   string
	Reason    string
	Evidence  []Evidence
	// Title is the control's title in the scan (filled by ListResults).
	Title string
	// Mask is the active mask covering the result, when ListResults found one (the oldest
	// active one, by CreatedAt then ID, when several do).
	Mask *Mask
}

// Batch is a numbered group of results of one scan.
type Batch struct {
	ScanID     string
	NodeID     string
	Seq        uint64
	Results    []Result
	ReceivedAt time.Time
}

// BatchOutcome says what StoreBatch did.
type BatchOutcome struct {
	Stored    int
	Duplicate bool
}

// ResultFilter narrows ListResults; zero fields match everything.
type ResultFilter struct {
	ScanID string
	// ControlIDs restricts to these controls (a benchmark's controls); nil means all.
	ControlIDs []string
	Statuses   []posture.Status
	Service    string
	Severity   posture.Severity
	// Masked selects results by whether a mask active at Now covers them.
	Masked MaskedFilter
	// Now is the time masks are judged active at.
	Now time.Time
	// Query matches a substring of the control id, the control title, the resource or the
	// reason, ignoring the case of ASCII letters (see LowerQuery).
	Query string
	// Order is the sort order; the zero value sorts by control id, then resource.
	Order     ResultOrder
	PageSize  int // default 100, at most 5000
	PageToken string
}

// MaskedFilter selects results by masking.
type MaskedFilter int

// The masked filters.
const (
	MaskedExclude MaskedFilter = iota // unmasked results only (the default view)
	MaskedOnly                        // masked results only
	MaskedInclude                     // every result
)

// ResultOrder is the sort order of ListResults. Every order ends with control id, then
// resource, so pages are stable.
type ResultOrder int

// The result orders.
const (
	OrderByControl  ResultOrder = iota // control id, then resource
	OrderBySeverity                    // critical, high, medium, low, info; then control id
	OrderByStatus                      // fail, error, info, pass, skip; then control id
)

// ResultPage is one page of results.
type ResultPage struct {
	Results       []Result
	NextPageToken string
	// Total counts the results matching the filter over all pages.
	Total int64
}

// Score is the stored score of one benchmark in one scan.
type Score struct {
	BenchmarkID string
	Counts      posture.Counts
}

// NodeScore is a node's latest completed score for one benchmark.
type NodeScore struct {
	NodeID      string
	NodeName    string
	TargetType  posture.TargetType
	BenchmarkID string
	ScanID      string
	FinishedAt  time.Time
	Counts      posture.Counts
}

// HistoryEntry is one result of a control in one of a node's scans.
type HistoryEntry struct {
	ScanID        string
	ScanState     posture.ScanState
	ScanCreatedAt time.Time
	Resource      string
	Status        posture.Status
	Reason        string
}

// Session is a signed-in person's web console session.
type Session struct {
	// Hash is the SHA-256 of the session cookie's value.
	Hash     []byte
	UserName string
	Role     Role
	// CSRFToken must accompany every request that changes something.
	CSRFToken string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Mask leaves matching results out of scores and default views. It matches a result when
// the control ids are equal, NodeIDs is empty or holds the result's node, and Resource is
// empty or equals the result's resource. It is active while not removed and not expired
// (ExpiresAt zero or after the time asked about).
type Mask struct {
	ID        string
	ControlID string
	NodeIDs   []string // empty: every node
	Resource  string   // empty: every resource
	Reason    string
	CreatedAt time.Time
	CreatedBy string
	ExpiresAt time.Time // zero: no expiry
	RemovedAt time.Time // zero: not removed
	RemovedBy string
}

// Active reports whether the mask applies at now.
func (m Mask) Active(now time.Time) bool {
	return m.RemovedAt.IsZero() && (m.ExpiresAt.IsZero() || now.Before(m.ExpiresAt))
}

// MaskFilter narrows ListMasks; zero fields match everything.
type MaskFilter struct {
	ControlID string
	// NodeID keeps masks covering this node: those naming it and the global ones.
	NodeID string
	// ActiveAt, when set, keeps only masks active at that time.
	ActiveAt time.Time
}

// AuditEntry records one change made by a person or token.
type AuditEntry struct {
	At     time.Time
	Actor  string
	Action string
	Target string
	Detail string
}

// PostureNode is one node as the posture summary shows it.
type PostureNode struct {
	ID         string
	Name       string
	TargetType posture.TargetType
	// LastScanID, LastScanState and LastScanCreatedAt describe the node's most recent scan of
	// any state; LastScanID is empty when the node was never scanned.
	LastScanID        string
	LastScanState     posture.ScanState
	LastScanCreatedAt time.Time
	// Scores are the node's latest completed scores, ordered by benchmark id; empty when no
	// scan of the node completed.
	Scores []LatestScore
}

// LatestScore is a node's latest completed score for one benchmark, as PostureNodes returns it.
type LatestScore struct {
	BenchmarkID string
	FinishedAt  time.Time
	Counts      posture.Counts
}
