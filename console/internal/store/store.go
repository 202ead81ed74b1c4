// Package store defines the console's persistence: one Store interface with an embedded SQLite
// implementation (package sqlite) and, for scale, PostgreSQL. Both pass the conformance suite
// in package storetest.
package store

import (
	"context"
	"errors"
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
	// TouchNode sets LastSeenAt.
	TouchNode(ctx context.Context, id string, seenAt time.Time) error

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

	// CreateScans stores new scans (state queued) with their controls, in one transaction.
	CreateScans(ctx context.Context, scans []NewScan) error
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
	// CompleteScan stores the scores and moves a running scan to complete, in one transaction.
	CompleteScan(ctx context.Context, id string, scores []Score, at time.Time) (Scan, error)
	// StaleScans returns non-terminal scans whose last heartbeat (or, before any, the
	// dispatch) is older than heartbeatBefore while running, or which are still queued or
	// dispatched and older than dispatchBefore.
	StaleScans(ctx context.Context, heartbeatBefore, dispatchBefore time.Time) ([]Scan, error)

	// StoreBatch stores a batch of results in one transaction. A batch already stored (same
	// scan and seq) stores nothing and returns Duplicate. A result whose (scan, node,
	// control, resource) is already stored is ignored. Stored counts the new rows.
	StoreBatch(ctx context.Context, b Batch) (BatchOutcome, error)
	// ListResults filters and pages a scan's results, ordered by (control id, resource).
	ListResults(ctx context.Context, f ResultFilter) (ResultPage, error)
	// StatusCounts counts a scan's results per control id and status.
	StatusCounts(ctx context.Context, scanID string) (map[string]posture.Counts, error)
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
	PageSize   int // default 100, at most 5000
	PageToken  string
}

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

// AuditEntry records one change made by a person or token.
type AuditEntry struct {
	At     time.Time
	Actor  string
	Action string
	Target string
	Detail string
}
