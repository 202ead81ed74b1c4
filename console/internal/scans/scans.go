// Package scans owns the scan lifecycle on the console: starting scans (one per target node,
// sharing a group id), dispatching their jobs, taking progress and heartbeats, ingesting result
// batches, computing scores at completion (and again when a mask is created, removed or
// expires), stopping, and timing out scans whose sensor went quiet or whose node never took
// the job.
package scans

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/jobs"
	"github.com/palisadehq/palisade/pkg/posture"
	"github.com/palisadehq/palisade/pkg/wire"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Dispatcher delivers jobs and commands to nodes (the NATS bus).
type Dispatcher interface {
	PublishJob(ctx context.Context, job *sensorv1.Job) error
	PublishCommand(ctx context.Context, nodeID string, cmd *sensorv1.Command) error
}

// Config builds a Manager.
type Config struct {
	Store      store.Store
	Catalog    *catalog.Catalog
	Dispatcher Dispatcher
	Logger     *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// JobExpiry is how long a job waits for an offline node before the scan times out.
	JobExpiry time.Duration
	// HeartbeatInterval is how often a running sensor reports.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is how long a running scan may go without a heartbeat.
	HeartbeatTimeout time.Duration
	// BatchSize is the number of results per batch a sensor is asked to send.
	BatchSize int
	// MaxBatchResults is the most results one batch may carry.
	MaxBatchResults int
	// SweepInterval is how often timeouts are checked.
	SweepInterval time.Duration
	// Registerer receives the manager's metrics; none are registered when nil.
	Registerer prometheus.Registerer
	// RetainScans keeps at most this many scans per node (0: no limit).
	RetainScans int
	// RetainFor deletes scans older than this (0: keep them).
	RetainFor time.Duration
	// ReplicaID names this console replica for the lease that lets one replica at a time
	// sweep for timeouts; a random id when empty.
	ReplicaID string
	// IngestConcurrency is how many result batches are checked and stored at once; others
	// wait their turn before anything of them is converted. 0 means DefaultIngestConcurrency.
	IngestConcurrency int
	// SplayRate is how many nodes per second a start lets begin evaluating: the nodes of a
	// start of n nodes each wait a random time up to n / SplayRate seconds (at most
	// maxSplay) before they evaluate, so their results reach the console spread over about
	// the time it needs to store them rather than all at once. A start of at most SplayRate
	// nodes, one second's worth, is not spread. 0 means DefaultSplayRate; a negative rate
	// lets every node begin at once.
	SplayRate int
}

// Defaults for Config fields left zero.
const (
	DefaultJobExpiry         = 24 * time.Hour
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultHeartbeatTimeout  = 60 * time.Second
	DefaultBatchSize         = 2000
	// DefaultIngestConcurrency keeps the store's connections mostly for ingest but leaves the
	// rest of the console (a scan start, a sensor's state report) a short queue: with ten
	// thousand sensors streaming at once, an unbounded ingest queued every other write
	// behind thousands of batches, each held in memory twice while it waited.
	DefaultIngestConcurrency = 4
	DefaultMaxBatchResults   = 5000
	DefaultSweepInterval     = 5 * time.Second
	// DefaultSplayRate is about how many full Linux scans (about 400 results each) one
	// replica on two cores completes per second while thousands of sensors heartbeat
	// (measured: 9,800 scans of 250 results in 66-83 s, 30,000-37,000 results/s): 10,000
	// nodes spread over 100 s, about the time they take to store anyway.
	DefaultSplayRate = 100
	// maxSplay bounds the spread of a start however large.
	maxSplay         = 10 * time.Minute
	maxReasonLen     = 4096
	maxResourceLen   = 1024
	maxEvidence      = 64
	maxEvidenceField = 4096
)

// Error kinds; the API edge turns them into status codes.
var (
	ErrInvalid    = errors.New("invalid request")
	ErrNotFound   = errors.New("not found")
	ErrPermission = errors.New("permission denied")
	ErrState      = errors.New("wrong state")
)

// Manager runs the scan lifecycle. It is safe for concurrent use.
type Manager struct {
	cfg Config
	log *zap.Logger

	// mu guards controls, the control sets cached for ingest by scan id, and masksCheckedAt,
	// the time up to which expired masks have had their scans rescored.
	mu             sync.Mutex
	controls       map[string]cachedControls
	masksCheckedAt time.Time

	// rescoreMu serialises Rescore.
	rescoreMu sync.Mutex

	// starts stores running reports in groups (see markRunning), beats heartbeats (see
	// heartbeat), touches nodes' last-seen times (see Touch).
	starts  group[startReq, started]
	beats   group[store.Heartbeat, store.ScanOwner]
	touches group[store.Sighting, struct{}]
	// ingestSlots holds a token per batch being ingested (IngestConcurrency).
	ingestSlots chan struct{}
	// touched is when each node's last-seen time was last written, by node id (time.Time).
	touched sync.Map

	batches *prometheus.CounterVec // by outcome: stored, duplicate, rejected
	results prometheus.Counter
	states  *prometheus.CounterVec // scans reaching a state
}

// New builds a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil || cfg.Catalog == nil || cfg.Dispatcher == nil {
		return nil, errors.New("scans: store, catalog and dispatcher are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.JobExpiry <= 0 {
		cfg.JobExpiry = DefaultJobExpiry
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.HeartbeatTimeout <= 0 {
		cfg.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MaxBatchResults <= 0 {
		cfg.MaxBatchResults = DefaultMaxBatchResults
	}
	if cfg.IngestConcurrency <= 0 {
		cfg.IngestConcurrency = DefaultIngestConcurrency
	}
	if cfg.SplayRate == 0 {
		cfg.SplayRate = DefaultSplayRate
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.ReplicaID == "" {
		cfg.ReplicaID = newID("replica")
	}
	m := &Manager{
		cfg: cfg, log: cfg.Logger, controls: map[string]cachedControls{},
		ingestSlots: make(chan struct{}, cfg.IngestConcurrency),
		batches:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "palisade_result_batches_total", Help: "Result batches received, by outcome (stored, duplicate, rejected)."}, []string{"outcome"}),
		results:     prometheus.NewCounter(prometheus.CounterOpts{Name: "palisade_results_stored_total", Help: "Results committed to the store."}),
		states:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "palisade_scan_transitions_total", Help: "Scans reaching a state."}, []string{"state"}),
	}
	m.starts.store, m.beats.store, m.touches.store = m.storeStarts, m.storeHeartbeats, m.storeTouches
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{m.batches, m.results, m.states} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register metrics: %w", err)
			}
		}
	}
	return m, nil
}

// HeartbeatInterval is how often sensors are asked to report while scanning.
func (m *Manager) HeartbeatInterval() time.Duration { return m.cfg.HeartbeatInterval }

// StartRequest asks for a scan of nodes against benchmarks.
type StartRequest struct {
	// Nodes are node ids or names.
	Nodes []string
	// Benchmarks are benchmark ids or short names (resolved per node's target type).
	Benchmarks []string
	// Exclude lists controls left out.
	Exclude []string
	Actor   string
}

// JobsPublisher is a Dispatcher that also publishes many jobs at once (the NATS bus does).
// Start uses it when the Dispatcher has it, and otherwise publishes jobs one by one, a few at
// a time.
type JobsPublisher interface {
	// PublishJobs publishes the jobs and returns once each is stored or has failed: errs[i]
	// is nil when jobs[i] is stored, else what went wrong.
	PublishJobs(ctx context.Context, jobs []*sensorv1.Job) (errs []error)
}

// JobsSettler is a Dispatcher that can drop a job from its node's queue (the NATS bus does).
// The manager calls it when a node reports on a scan (it took the job) and when a scan ends
// by a stop or a timeout (nobody should take the job any more).
type JobsSettler interface {
	// Settle drops the node's job for the scan, in the background.
	Settle(nodeID, scanID string)
}

// Start creates one scan per node (sharing a group id), stores them dispatched and publishes
// one job per node; a scan whose job could not be published is marked failed with the
// reason. Nothing is stored when the request is invalid. The nodes are looked up in one store
// call, the control set is worked out once per target type, and the scans are stored and
// published in bulk, so that a scan of ten thousand nodes takes a few seconds at most.
func (m *Manager) Start(ctx context.Context, req StartRequest) (string, []store.Scan, error) {
	if len(req.Nodes) == 0 {
		return "", nil, fmt.Errorf("%w: name at least one node", ErrInvalid)
	}
	if len(req.Benchmarks) == 0 {
		return "", nil, fmt.Errorf("%w: name at least one benchmark", ErrInvalid)
	}
	now := m.cfg.Now().UTC()
	groupID := newID("grp")
	began := time.Now()
	if len(req.Nodes) >= collectBeforeStart {
		// A start of thousands of nodes allocates a few hundred megabytes within a second or
		// two: its jobs and their acknowledgements, then the nodes' running reports. With
		// ten thousand sensors connected the heap sits close to its goal, and a collection
		// that begins while the jobs are published makes the publishing goroutines do its
		// marking (assists): a second of CPU inside the start in the runs measured. Begun
		// now, it runs while the scans are looked up and stored, which wait for the
		// database, and the jobs go out into a swept heap.
		go runtime.GC()
	}
	found, err := m.cfg.Store.FindNodes(ctx, req.Nodes)
	if err != nil {
		return "", nil, err
	}
	looked := time.Now()
	// Sized for the request up front: grown by appending, these cost a start of 10,000 nodes
	// 17 MB more in allocations (BenchmarkStart).
	scans := make([]store.NewScan, 0, len(req.Nodes))
	scanPlans := make([]*controlPlan, 0, len(req.Nodes))
	nodes := make([]store.Node, 0, len(req.Nodes))
	plans := map[posture.TargetType]*controlPlan{}
	seenNodes := make(map[string]bool, len(req.Nodes))
	for _, ref := range req.Nodes {
		node, err := onlyNode(ref, found[ref])
		if err != nil {
			return "", nil, err
		}
		if seenNodes[node.ID] {
			continue
		}
		seenNodes[node.ID] = true
		plan, ok := plans[node.TargetType]
		if !ok {
			if plan, err = m.planControls(node, req); err != nil {
				return "", nil, err
			}
			plans[node.TargetType] = plan
		}
		scans = append(scans, store.NewScan{
			ID: newScanID(now), GroupID: groupID, NodeID: node.ID, BenchmarkIDs: plan.benchIDs,
			Controls: plan.controls, CreatedAt: now, CreatedBy: req.Actor, State: posture.Dispatched,
		})
		scanPlans = append(scanPlans, plan)
		nodes = append(nodes, node)
	}
	jobs := make([]*sensorv1.Job, len(scans))
	splay, beat := m.splay(len(scans)), m.heartbeatSeconds(len(scans))
	for i, ns := range scans {
		if jobs[i], err = m.job(ns, nodes[i], scanPlans[i], now); err != nil {
			return "", nil, err
		}
		jobs[i].SplayMillis, jobs[i].HeartbeatSeconds = splay, beat
	}
	// The scans are stored dispatched: their jobs go out right after. Stored queued and then
	// marked, the second write of every scan would cost a large scan a few tenths of a
	// second more before its first job leaves.
	//
	// The start's audit entry is committed with the scans: one more row in that transaction,
	// where written on its own after them it waited for a connection behind the reports of the
	// first nodes to take their jobs (up to 0.87 s in a start of 9,800).
	planned := time.Now()
	entry := store.AuditEntry{At: now, Actor: req.Actor, Action: "scan.start", Target: groupID,
		Detail: fmt.Sprintf("nodes=%d benchmarks=%s", len(scans), strings.Join(req.Benchmarks, ","))}
	if err := m.cfg.Store.CreateScans(ctx, scans, entry); err != nil {
		return "", nil, fmt.Errorf("store scans: %w", err)
	}
	stored := time.Now()
	sets := make([]map[string]store.ScanControl, len(scans))
	for i, p := range scanPlans {
		sets[i] = p.byID
	}
	m.cacheControls(scans, sets)
	m.counted(posture.Queued, len(scans))
	m.counted(posture.Dispatched, len(scans))
	out := make([]store.Scan, len(scans))
	for i, ns := range scans {
		out[i] = store.Scan{ID: ns.ID, GroupID: ns.GroupID, NodeID: ns.NodeID, NodeName: nodes[i].Name,
			State: posture.Dispatched, BenchmarkIDs: ns.BenchmarkIDs, ControlsTotal: len(ns.Controls),
			CreatedBy: ns.CreatedBy, CreatedAt: ns.CreatedAt}
	}

	// A node subscribed now receives its job as it is stored; one that is not gets it with
	// the answer to its next hello.
	errs := m.publishJobs(ctx, jobs)
	published := time.Now()
	if err := m.recordDispatch(ctx, scans, errs, out); err != nil {
		return "", nil, fmt.Errorf("scan group %s: %w", groupID, err)
	}
	m.log.Info("scan group dispatched", zap.String("group", groupID), zap.Int("scans", len(scans)),
		zap.Duration("plan", planned.Sub(began)), zap.Duration("find", looked.Sub(began)), zap.Duration("store", stored.Sub(planned)),
		zap.Duration("publish", published.Sub(stored)), zap.Duration("record", time.Since(published)))
	return groupID, out, nil
}

// collectBeforeStart is the size of a start from which it begins with a garbage collection (a
// variable for the tests).
var collectBeforeStart = 2000

// touchEvery is how often a node's reports refresh its last-seen time in the store; a node
// counts as connected when seen within 90 s, and a connected sensor says hello every 30 s.
const touchEvery = 30 * time.Second

// Seen notes that the store already has nodeID's last-seen time as at (its hello wrote it), so
// that reports within touchEvery write nothing more.
func (m *Manager) Seen(nodeID string, at time.Time) {
	m.touched.Store(nodeID, at)
}

// Touch records that nodeID was seen at now, at most once per touchEvery per replica: every
// running scan reports every few seconds, and ten thousand of them would otherwise write the
// node table thousands of times a second to say the same thing. The touches of many nodes
// are written together: when a start hands out thousands of jobs, their sensors all report
// within the same second or two.
func (m *Manager) Touch(ctx context.Context, nodeID string, now time.Time) {
	if last, ok := m.touched.Load(nodeID); ok && now.Sub(last.(time.Time)) < touchEvery && !now.Before(last.(time.Time)) {
		return
	}
	if _, err := m.touches.do(ctx, store.Sighting{NodeID: nodeID, At: now}); err == nil {
		m.touched.Store(nodeID, now)
	}
}

// settle lets the bus drop the scan's job, when the Dispatcher can: the node took it, or the
// scan ended and nobody should take it any more.
func (m *Manager) settle(nodeID, scanID string) {
	if st, ok := m.cfg.Dispatcher.(JobsSettler); ok {
		st.Settle(nodeID, scanID)
	}
}

// counted adds n scans reaching state to palisade_scan_transitions_total.
func (m *Manager) counted(state posture.ScanState, n int) {
	if n > 0 {
		m.states.WithLabelValues(string(state)).Add(float64(n))
	}
}

// onlyNode returns the one node a reference matched.
func onlyNode(ref string, matches []store.Node) (store.Node, error) {
	switch len(matches) {
	case 0:
		return store.Node{}, fmt.Errorf("%w: unknown node %q", ErrNotFound, ref)
	case 1:
		return matches[0], nil
	}
	return store.Node{}, fmt.Errorf("%w: several nodes are named %q; use the node id", ErrInvalid, ref)
}

// controlPlan is what a Start gives every node of one target type: the benchmarks, the
// controls as stored with each scan, and the controls as sent in jobs. Its slices are shared
// by all those scans and jobs and never modified.
type controlPlan struct {
	benchIDs []string
	controls []store.ScanControl
	// byID is controls by control id, the set ingest checks results against.
	byID map[string]store.ScanControl
	ctls []*catalog.Control
	// exclude lists the controls left out, sorted: with the benchmark ids, all a sensor that
	// runs the console's catalogue version needs to resolve the same controls.
	exclude []string
	// doc is the encoded controls, sent to the other sensors; encoded when first needed.
	doc []byte
}

// planControls resolves the requested benchmarks for the node's target type and the controls
// they run; node names the node in errors.
func (m *Manager) planControls(node store.Node, req StartRequest) (*controlPlan, error) {
	p := &controlPlan{}
	for _, b := range req.Benchmarks {
		bm, err := m.cfg.Catalog.ResolveBenchmark(strings.TrimSpace(b), node.TargetType)
		if err != nil {
			return nil, fmt.Errorf("%w: node %s: %v", ErrInvalid, node.Name, err)
		}
		if !contains(p.benchIDs, bm.ID) {
			p.benchIDs = append(p.benchIDs, bm.ID)
		}
	}
	sort.Strings(p.benchIDs)
	ctls, err := m.cfg.Catalog.ControlSet(p.benchIDs, req.Exclude)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(ctls) == 0 {
		return nil, fmt.Errorf("%w: node %s: no controls left to run", ErrInvalid, node.Name)
	}
	p.ctls = ctls
	p.exclude = slices.Sorted(slices.Values(req.Exclude))
	p.exclude = slices.Compact(p.exclude)
	for _, c := range ctls {
		sc := store.ScanControl{ControlID: c.ID, Title: c.Title, Severity: c.Severity, Service: c.Service}
		for _, ref := range c.References() {
			if contains(p.benchIDs, ref.BenchmarkID) && !contains(sc.Benchmarks, ref.BenchmarkID) {
				sc.Benchmarks = append(sc.Benchmarks, ref.BenchmarkID)
			}
		}
		p.controls = append(p.controls, sc)
	}
	p.byID = make(map[string]store.ScanControl, len(p.controls))
	for _, sc := range p.controls {
		p.byID[sc.ControlID] = sc
	}
	return p, nil
}

// job builds a scan's job. A node whose sensor runs the console's own catalogue version gets
// the benchmark ids and the exclusions only, from which it resolves the same controls (a job
// of a few hundred bytes instead of one id per control); the others get the encoded controls,
// shared by every node of the plan. The start sets what depends on its size: the splay and the
// heartbeat interval.
func (m *Manager) job(ns store.NewScan, node store.Node, p *controlPlan, now time.Time) (*sensorv1.Job, error) {
	job := &sensorv1.Job{
		ScanId:       ns.ID,
		NodeId:       ns.NodeID,
		BenchmarkIds: ns.BenchmarkIDs,
		CreatedAt:    timestamppb.New(now),
		ExpiresAt:    timestamppb.New(now.Add(m.cfg.JobExpiry)),
		BatchSize:    uint32(m.cfg.BatchSize),
	}
	if v := node.Facts.CatalogVersion; v != "" && v == m.cfg.Catalog.Version() {
		job.ExcludeControlIds, job.CatalogVersion = p.exclude, v
		return job, nil
	}
	if p.doc == nil {
		doc, err := catalog.MarshalControls(p.ctls)
		if err != nil {
			return nil, fmt.Errorf("encode controls: %w", err)
		}
		p.doc = doc
	}
	job.Controls = p.doc
	return job, nil
}

// splay returns how long, in milliseconds, the nodes of a start of n nodes may wait before
// they evaluate (SplayRate).
func (m *Manager) splay(n int) uint32 {
	if m.cfg.SplayRate < 0 || n <= m.cfg.SplayRate {
		return 0
	}
	d := min(time.Duration(n)*time.Second/time.Duration(m.cfg.SplayRate), maxSplay)
	return uint32(d / time.Millisecond)
}

// heartbeatSeconds is how often the nodes of a start of n nodes report while their scans run:
// every HeartbeatInterval, or less often in a large start, so that its nodes together send
// about maxHeartbeatRate reports a second, but at least five times within HeartbeatTimeout,
// so that a scan whose reports go missing for a while is not taken for stale. Nine thousand
// eight hundred nodes reporting every five seconds kept a console on two cores answering two
// thousand reports a second for minutes, most of them from nodes waiting out the splay.
func (m *Manager) heartbeatSeconds(n int) uint32 {
	every := min(time.Duration(n)*time.Second/maxHeartbeatRate, m.cfg.HeartbeatTimeout/5)
	every = max(every, m.cfg.HeartbeatInterval)
	return uint32(max(1, every/time.Second))
}

// maxHeartbeatRate is about how many reports a second a large start's nodes send together.
const maxHeartbeatRate = 1000

// dispatchWorkers is how many jobs are published at once through a Dispatcher that publishes
// one job per call.
const dispatchWorkers = 16

// publishJobs publishes the jobs, in bulk when the Dispatcher can, and returns each one's
// outcome.
func (m *Manager) publishJobs(ctx context.Context, jobs []*sensorv1.Job) []error {
	if p, ok := m.cfg.Dispatcher.(JobsPublisher); ok {
		return p.PublishJobs(ctx, jobs)
	}
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(dispatchWorkers, len(jobs)) {
		wg.Go(func() {
			for i := range next {
				errs[i] = m.cfg.Dispatcher.PublishJob(ctx, jobs[i])
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	return errs
}

// recordTimeout bounds recording the outcome of a dispatch. It runs even when the caller has
// gone away meanwhile, so that no scan whose job failed is left dispatched unnoticed.
const recordTimeout = time.Minute

// recordDispatch marks the scans whose job could not be published failed with the reason, one
// store call per reason, and replaces those in out (every scan, in the order of scans, as
// marked dispatched) with the scans as stored after that. The others stay dispatched: a scan
// whose job is on the bus, or may be when the server did not confirm it; its node may have
// reported running since.
func (m *Manager) recordDispatch(ctx context.Context, scans []store.NewScan, errs []error, out []store.Scan) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	now := m.cfg.Now().UTC()
	var unconfirmed []string
	failed := map[string][]string{} // scan ids by failure message
	at := map[string]int{}          // the position in scans of each failed scan id
	var messages []string
	for i, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, jobs.ErrUnconfirmed):
			unconfirmed = append(unconfirmed, scans[i].ID)
		default:
			msg := truncate("dispatch failed: "+err.Error(), maxReasonLen)
			if _, ok := failed[msg]; !ok {
				messages = append(messages, msg)
			}
			failed[msg] = append(failed[msg], scans[i].ID)
			at[scans[i].ID] = i
		}
	}
	if len(unconfirmed) > 0 {
		first := errs[slices.IndexFunc(errs, func(err error) bool { return errors.Is(err, jobs.ErrUnconfirmed) })]
		m.log.Warn("the NATS server did not confirm some jobs; their scans stay dispatched until their node takes the job or it expires",
			zap.String("group", scans[0].GroupID), zap.Int("scans", len(unconfirmed)), zap.Error(first))
	}
	for _, msg := range messages {
		m.log.Warn("dispatch failed", zap.String("group", scans[0].GroupID), zap.Int("scans", len(failed[msg])), zap.String("reason", msg))
		got, err := m.cfg.Store.TransitionScans(ctx, failed[msg], store.Transition{State: posture.Failed, Message: msg, At: now})
		if err != nil {
			return fmt.Errorf("mark %d scans failed (%s): %w; they stay dispatched until they time out", len(failed[msg]), msg, err)
		}
		for _, sc := range got {
			if i, ok := at[sc.ID]; ok {
				out[i] = sc
			}
			if sc.State == posture.Failed {
				m.counted(posture.Failed, 1)
				m.forget(sc.ID)
			}
		}
	}
	return nil
}

// Stop asks the node to stop a scan and records it cancelled.
func (m *Manager) Stop(ctx context.Context, scanID, actor string) (store.Scan, error) {
	sc, err := m.getScan(ctx, scanID)
	if err != nil {
		return store.Scan{}, err
	}
	if sc.State.Terminal() {
		return store.Scan{}, fmt.Errorf("%w: scan %s is already %s", ErrState, scanID, sc.State)
	}
	if err := m.cfg.Dispatcher.PublishCommand(ctx, sc.NodeID, &sensorv1.Command{ScanId: scanID, Action: sensorv1.Command_ACTION_STOP}); err != nil {
		m.log.Warn("stop command not delivered", zap.String("scan", scanID), zap.Error(err))
	}
	now := m.cfg.Now().UTC()
	msg := "stopped by " + actor
	sc, err = m.cfg.Store.TransitionScan(ctx, scanID, store.Transition{State: posture.Cancelled, Message: msg, At: now})
	if errors.Is(err, store.ErrBadTransition) {
		cur, _ := m.cfg.Store.GetScan(ctx, scanID)
		return store.Scan{}, fmt.Errorf("%w: scan %s is already %s", ErrState, scanID, cur.State)
	}
	if err != nil {
		return store.Scan{}, err
	}
	m.counted(posture.Cancelled, 1)
	m.settle(sc.NodeID, scanID)
	m.forget(scanID)
	_ = m.cfg.Store.AppendAudit(ctx, store.AuditEntry{At: now, Actor: actor, Action: "scan.stop", Target: scanID})
	return sc, nil
}

func (m *Manager) getScan(ctx context.Context, scanID string) (store.Scan, error) {
	sc, err := m.cfg.Store.GetScan(ctx, scanID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Scan{}, fmt.Errorf("%w: unknown scan %q", ErrNotFound, scanID)
	}
	return sc, err
}

// waitingPage is the page size Waiting reads with; a node with more scans waiting than that
// gets the rest at a later hello, after it has taken these.
const waitingPage = 1000

// Waiting returns the ids of the node's scans that wait for it to take their job (queued or
// dispatched).
func (m *Manager) Waiting(ctx context.Context, nodeID string) ([]string, error) {
	var ids []string
	for _, st := range []posture.ScanState{posture.Queued, posture.Dispatched} {
		page, err := m.cfg.Store.ListScans(ctx, store.ScanFilter{NodeID: nodeID, State: st, PageSize: waitingPage})
		if err != nil {
			return nil, fmt.Errorf("scans waiting for node %s: %w", nodeID, err)
		}
		for _, sc := range page.Scans {
			ids = append(ids, sc.ID)
		}
	}
	return ids, nil
}

// ownScan loads a scan and checks that it belongs to the node.
func (m *Manager) ownScan(ctx context.Context, nodeID, scanID string) (store.Scan, error) {
	sc, err := m.getScan(ctx, scanID)
	if err != nil {
		return store.Scan{}, err
	}
	if sc.NodeID != nodeID {
		return store.Scan{}, fmt.Errorf("%w: scan %s belongs to another node", ErrPermission, scanID)
	}
	return sc, nil
}

// Update takes a sensor's state report, progress or heartbeat for one of its scans and
// returns the scan's state afterwards.
func (m *Manager) Update(ctx context.Context, nodeID string, req *sensorv1.UpdateScanRequest) (posture.ScanState, error) {
	var next posture.ScanState
	switch req.GetState() {
	case sensorv1.ScanState_SCAN_STATE_UNSPECIFIED:
		// A heartbeat: by far the most frequent report (every running node, every few
		// seconds), stored with the others that arrive with it.
		st, err := m.heartbeat(ctx, store.Heartbeat{ScanID: req.GetScanId(), NodeID: nodeID,
			Done: int(req.GetControlsDone()), Total: int(req.GetControlsTotal())})
		if err == nil {
			m.Touch(ctx, nodeID, m.cfg.Now().UTC())
		}
		return st, err
	case sensorv1.ScanState_SCAN_STATE_RUNNING:
		return m.reportRunning(ctx, nodeID, req)
	case sensorv1.ScanState_SCAN_STATE_FAILED:
		next = posture.Failed
	case sensorv1.ScanState_SCAN_STATE_CANCELLED:
		next = posture.Cancelled
	default:
		return "", fmt.Errorf("%w: a sensor may report running, failed or cancelled, not %s", ErrInvalid, req.GetState())
	}
	sc, err := m.ownScan(ctx, nodeID, req.GetScanId())
	if err != nil {
		return "", err
	}
	now := m.cfg.Now().UTC()
	m.Touch(ctx, nodeID, now)
	// The node took the job: it reports only on scans whose job it received. When the scan
	// has ended, nobody wants the job any more either.
	m.settle(nodeID, sc.ID)
	if sc.State.Terminal() {
		return sc.State, nil
	}
	sc, err = m.cfg.Store.TransitionScan(ctx, sc.ID, store.Transition{State: next, Message: truncate(req.GetMessage(), maxReasonLen), At: now})
	if err != nil {
		return m.stateAfter(ctx, req.GetScanId(), err)
	}
	m.counted(next, 1)
	m.forget(sc.ID)
	return sc.State, nil
}

// reportRunning takes a node's report that it runs one of its scans: the scan moves to
// running when it waited for the node, and the report's progress is stored when there is
// any.
func (m *Manager) reportRunning(ctx context.Context, nodeID string, req *sensorv1.UpdateScanRequest) (posture.ScanState, error) {
	r, err := m.markRunning(ctx, nodeID, req.GetScanId())
	if err != nil {
		return "", err
	}
	now := m.cfg.Now().UTC()
	m.Touch(ctx, nodeID, now)
	// The node took the job; when the scan has ended, nobody wants it any more either.
	m.settle(nodeID, req.GetScanId())
	state := r.prev
	if r.moved {
		if r.sc.State != posture.Running {
			return r.sc.State, nil // stopped or timed out meanwhile
		}
		m.counted(posture.Running, 1)
		// A scan that has just started has done nothing yet; its start time stands in for a
		// heartbeat and it was stored with its control count, so there is nothing to write
		// unless the node counts otherwise. At the start of a large scan every node reports
		// at once.
		if req.GetControlsDone() == 0 && (req.GetControlsTotal() == 0 || int(req.GetControlsTotal()) == r.sc.ControlsTotal) {
			return posture.Running, nil
		}
		state = posture.Running
	}
	if state != posture.Running {
		return state, nil
	}
	err = m.cfg.Store.RecordProgress(ctx, req.GetScanId(), int(req.GetControlsDone()), int(req.GetControlsTotal()), now)
	if err != nil {
		return m.stateAfter(ctx, req.GetScanId(), err)
	}
	return posture.Running, nil
}

// stateAfter answers a report on scanID whose write failed with err. A write refused because
// the scan's state changed meanwhile (its final batch, a stop, a timeout) is not an error:
// the node learns the scan's state from the answer.
func (m *Manager) stateAfter(ctx context.Context, scanID string, err error) (posture.ScanState, error) {
	if !errors.Is(err, store.ErrBadTransition) {
		return "", err
	}
	cur, gerr := m.cfg.Store.GetScan(ctx, scanID)
	if gerr != nil {
		return "", gerr
	}
	return cur.State, nil
}

// Ingest validates and stores one result batch of a node's running scan. A batch is stored
// whole or not at all; a batch seen before is acknowledged again without storing anything. On
// the final batch the scan's scores are computed and the scan completes. Validation failures
// come back as an ack with an error (nothing stored) and a nil error.
func (m *Manager) Ingest(ctx context.Context, nodeID string, b *sensorv1.ResultBatch) (*sensorv1.BatchAck, error) {
	select {
	case m.ingestSlots <- struct{}{}:
		defer func() { <-m.ingestSlots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to store batch %d of scan %s: %w", b.GetSeq(), b.GetScanId(), ctx.Err())
	}
	ack := &sensorv1.BatchAck{ScanId: b.GetScanId(), Seq: b.GetSeq()}
	reject := func(format string, args ...any) (*sensorv1.BatchAck, error) {
		ack.Error = fmt.Sprintf(format, args...)
		m.batches.WithLabelValues("rejected").Inc()
		return ack, nil
	}
	sc, err := m.ownScan(ctx, nodeID, b.GetScanId())
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrPermission) {
		return reject("%v", err)
	}
	if err != nil {
		return nil, err
	}
	if b.GetSeq() == 0 {
		return reject("batch seq must start at 1")
	}
	if n := len(b.GetResults()); n > m.cfg.MaxBatchResults {
		return reject("batch %d has %d results; the limit is %d", b.GetSeq(), n, m.cfg.MaxBatchResults)
	}
	if sc.State != posture.Running {
		if sc.State == posture.Complete && b.GetFinal() {
			// The final ack was lost; the scan is already complete.
			return ack, nil
		}
		return reject("scan %s is %s, not running", sc.ID, sc.State)
	}
	ctls, err := m.scanControls(ctx, sc.ID)
	if err != nil {
		return nil, err
	}
	now := m.cfg.Now().UTC()
	buf := ingestPool.Get().(*ingestBuffers)
	defer buf.release()
	evidence := 0
	for i, r := range b.GetResults() {
		if len(r.GetEvidence()) > maxEvidence {
			return reject("result %d (control %s): %d evidence items; the limit is %d", i, r.GetControlId(), len(r.GetEvidence()), maxEvidence)
		}
		evidence += len(r.GetEvidence())
	}
	buf.grow(len(b.GetResults()), evidence)
	batch := store.Batch{ScanID: sc.ID, NodeID: nodeID, Seq: b.GetSeq(), ReceivedAt: now, Results: buf.results}
	for i, r := range b.GetResults() {
		ctl, ok := ctls[r.GetControlId()]
		if !ok {
			return reject("result %d: control %q is not part of scan %s", i, r.GetControlId(), sc.ID)
		}
		st, ok := wire.StatusFromProto(r.GetStatus())
		if !ok {
			return reject("result %d (control %s): unknown status %d", i, r.GetControlId(), r.GetStatus())
		}
		res := strings.TrimSpace(r.GetResource())
		if res == "" {
			return reject("result %d (control %s): empty resource", i, r.GetControlId())
		}
		if len(res) > maxResourceLen {
			return reject("result %d (control %s): resource longer than %d bytes", i, r.GetControlId(), maxResourceLen)
		}
		out := store.Result{
			ScanID: sc.ID, NodeID: nodeID, ControlID: ctl.ControlID, Resource: res, Status: st,
			Severity: ctl.Severity, Service: ctl.Service, Reason: truncate(r.GetReason(), maxReasonLen),
		}
		if len(r.GetEvidence()) > 0 {
			from := len(buf.evidence)
			for _, e := range r.GetEvidence() {
				buf.evidence = append(buf.evidence, store.Evidence{
					Source: truncate(e.GetSource(), maxEvidenceField), Line: int(e.GetLine()), Key: truncate(e.GetKey(), maxEvidenceField),
					Actual: truncate(e.GetActual(), maxEvidenceField), Expected: truncate(e.GetExpected(), maxEvidenceField),
				})
			}
			out.Evidence = buf.evidence[from:len(buf.evidence):len(buf.evidence)]
		}
		batch.Results = append(batch.Results, out)
	}
	outcome, err := m.cfg.Store.StoreBatch(ctx, batch)
	if err != nil {
		return nil, fmt.Errorf("store batch: %w", err)
	}
	ack.Stored = uint32(outcome.Stored)
	if outcome.Duplicate {
		m.batches.WithLabelValues("duplicate").Inc()
	} else {
		m.batches.WithLabelValues("stored").Inc()
		m.results.Add(float64(outcome.Stored))
	}
	if !b.GetFinal() {
		return ack, nil
	}
	if err := m.complete(ctx, sc.ID, b.GetTotalResults(), ctls); err != nil {
		if errors.Is(err, ErrInvalid) {
			return reject("%v", err)
		}
		return nil, err
	}
	return ack, nil
}

// ingestBuffers hold the store's form of one batch's results while Ingest stores them, and
// then serve the next batch: at a hundred thousand results a second, building each batch anew
// would be most of what the console allocates, and every byte allocated brings the next
// collection nearer.
type ingestBuffers struct {
	results  []store.Result
	evidence []store.Evidence
}

// maxPooledResults bounds the batches whose buffers go back to ingestPool.
const maxPooledResults = 2 * DefaultMaxBatchResults

var ingestPool = sync.Pool{New: func() any { return new(ingestBuffers) }}

// grow makes room for a batch of results with evidence items in all, both empty.
func (b *ingestBuffers) grow(results, evidence int) {
	b.results = slices.Grow(b.results[:0], results)
	b.evidence = slices.Grow(b.evidence[:0], evidence)
}

// release clears the buffers, so that they keep no batch's strings alive, and returns them to
// the pool.
func (b *ingestBuffers) release() {
	if cap(b.results) > maxPooledResults || cap(b.evidence) > maxPooledResults {
		return
	}
	clear(b.results[:cap(b.results)])
	clear(b.evidence[:cap(b.evidence)])
	ingestPool.Put(b)
}

// complete scores a scan and marks it complete.
func (m *Manager) complete(ctx context.Context, scanID string, resultsTotal uint64, ctls map[string]store.ScanControl) error {
	sc, err := m.cfg.Store.GetScan(ctx, scanID)
	if err != nil {
		return err
	}
	if uint64(sc.ResultsStored) < resultsTotal {
		return fmt.Errorf("%w: final batch says %d results but %d are stored; resend the missing batches", ErrInvalid, resultsTotal, sc.ResultsStored)
	}
	now := m.cfg.Now().UTC()
	scores, err := m.score(ctx, sc, ctls, now)
	if err != nil {
		return err
	}
	total := max(sc.ControlsTotal, len(ctls))
	if err := m.cfg.Store.RecordProgress(ctx, scanID, total, total, now); err != nil {
		return err
	}
	if _, err := m.cfg.Store.CompleteScan(ctx, scanID, scores, now); err != nil {
		if errors.Is(err, store.ErrBadTransition) {
			return fmt.Errorf("%w: scan %s is no longer running", ErrInvalid, scanID)
		}
		return err
	}
	m.counted(posture.Complete, 1)
	m.forget(scanID)
	m.log.Info("scan complete", zap.String("scan", scanID), zap.Int64("results", sc.ResultsStored))
	return nil
}

// score computes a scan's scores from its stored results, leaving out those covered by a mask
// active at now. Completion and rescoring both come through here.
func (m *Manager) score(ctx context.Context, sc store.Scan, ctls map[string]store.ScanControl, now time.Time) ([]store.Score, error) {
	counts, err := m.cfg.Store.StatusCounts(ctx, sc.ID, now)
	if err != nil {
		return nil, fmt.Errorf("count results of scan %s: %w", sc.ID, err)
	}
	return ScoreBenchmarks(sc.BenchmarkIDs, ctls, counts), nil
}

// ScoreBenchmarks sums each benchmark's control counts (masked results included, in Masked)
// and returns the scores in benchmark order. It is the one place scores are computed from
// counts.
func ScoreBenchmarks(benchmarkIDs []string, ctls map[string]store.ScanControl, counts map[string]posture.Counts) []store.Score {
	scores := make([]store.Score, 0, len(benchmarkIDs))
	for _, bid := range benchmarkIDs {
		var c posture.Counts
		for id, ctl := range ctls {
			if contains(ctl.Benchmarks, bid) {
				c.Merge(counts[id])
			}
		}
		scores = append(scores, store.Score{BenchmarkID: bid, Counts: c})
	}
	return scores
}

// cachedControls is a scan's control set, by control id, and when ingest last used it. The
// scans a Start creates share one map per control plan.
type cachedControls struct {
	ctls map[string]store.ScanControl
	used time.Time
}

// controlsIdle is how long a scan's cached control set stays unused before it is dropped:
// a scan that ended on another replica (or a scan that a replica saw only part of) leaves its
// entry behind otherwise. A scan still running after that reads its set again.
const controlsIdle = 30 * time.Minute

func (m *Manager) scanControls(ctx context.Context, scanID string) (map[string]store.ScanControl, error) {
	now := time.Now()
	m.mu.Lock()
	c, ok := m.controls[scanID]
	if ok {
		c.used = now
		m.controls[scanID] = c
	}
	m.mu.Unlock()
	if ok {
		return c.ctls, nil
	}
	ctls, err := m.cfg.Store.ScanControls(ctx, scanID)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.controls[scanID] = cachedControls{ctls: ctls, used: now}
	m.mu.Unlock()
	return ctls, nil
}

// cacheControls caches ctls, shared and never modified, as the control set of each of scans.
func (m *Manager) cacheControls(scans []store.NewScan, ctls []map[string]store.ScanControl) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, ns := range scans {
		m.controls[ns.ID] = cachedControls{ctls: ctls[i], used: now}
	}
}

// dropIdleControls drops the cached control sets unused since before cutoff.
func (m *Manager) dropIdleControls(cutoff time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, c := range m.controls {
		if c.used.Before(cutoff) {
			delete(m.controls, id)
		}
	}
}

func (m *Manager) forget(scanID string) {
	m.mu.Lock()
	delete(m.controls, scanID)
	m.mu.Unlock()
}

// Sweep times out running scans without a recent heartbeat and scans whose job was not taken
// before it expired, and recounts the scores of scans whose masks have expired.
func (m *Manager) Sweep(ctx context.Context) error {
	now := m.cfg.Now().UTC()
	stale, err := m.cfg.Store.StaleScans(ctx, now.Add(-m.cfg.HeartbeatTimeout), now.Add(-m.cfg.JobExpiry))
	if err != nil {
		return err
	}
	for _, sc := range stale {
		msg := fmt.Sprintf("no heartbeat from the sensor for %s", m.cfg.HeartbeatTimeout)
		if sc.State != posture.Running {
			msg = fmt.Sprintf("the node did not take the job within %s", m.cfg.JobExpiry)
		}
		_, err := m.cfg.Store.TransitionScan(ctx, sc.ID, store.Transition{State: posture.TimedOut, Message: msg, At: now})
		if err != nil && !errors.Is(err, store.ErrBadTransition) {
			return err
		}
		if err == nil { // else the node or another replica was first
			m.counted(posture.TimedOut, 1)
		}
		m.settle(sc.NodeID, sc.ID)
		m.forget(sc.ID)
		// Tell a sensor that may still be working to stop.
		_ = m.cfg.Dispatcher.PublishCommand(ctx, sc.NodeID, &sensorv1.Command{ScanId: sc.ID, Action: sensorv1.Command_ACTION_STOP})
		m.log.Info("scan timed out", zap.String("scan", sc.ID), zap.String("reason", msg))
	}
	return m.rescoreExpired(ctx, now)
}

// sweepLease is the lease that lets one replica at a time sweep.
const sweepLease = "scan-sweeper"

// SweepIfLeader sweeps when this replica holds (or takes) the sweeper lease, so that with
// several console replicas on one database the sweep runs once per interval. It reports
// whether this replica swept.
func (m *Manager) SweepIfLeader(ctx context.Context) (bool, error) {
	ok, err := m.cfg.Store.TryLease(ctx, sweepLease, m.cfg.ReplicaID, m.cfg.Now().UTC(), 3*m.cfg.SweepInterval)
	if err != nil || !ok {
		return false, err
	}
	return true, m.Sweep(ctx)
}

// retentionLease is the lease that lets one replica at a time apply retention.
const retentionLease = "scan-retention"

// pruneBatch is how many scans one retention transaction deletes, so ingest never waits long.
const pruneBatch = 50

// PruneIfLeader applies the retention policy when this replica holds the retention lease,
// deleting in small batches until nothing is left to delete or ctx ends. It returns how many
// scans it deleted.
func (m *Manager) PruneIfLeader(ctx context.Context) (int, error) {
	if m.cfg.RetainScans <= 0 && m.cfg.RetainFor <= 0 {
		return 0, nil
	}
	now := m.cfg.Now().UTC()
	ok, err := m.cfg.Store.TryLease(ctx, retentionLease, m.cfg.ReplicaID, now, 3*m.cfg.SweepInterval)
	if err != nil || !ok {
		return 0, err
	}
	var before time.Time
	if m.cfg.RetainFor > 0 {
		before = now.Add(-m.cfg.RetainFor)
	}
	total := 0
	for ctx.Err() == nil {
		n, err := m.cfg.Store.PruneScans(ctx, m.cfg.RetainScans, before, pruneBatch)
		total += n
		if err != nil {
			return total, err
		}
		if n < pruneBatch {
			break
		}
	}
	if total > 0 {
		m.log.Info("retention deleted scans", zap.Int("scans", total))
	}
	return total, nil
}

// Run sweeps for timeouts, and applies retention, until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.SweepInterval)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := m.SweepIfLeader(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn("sweep failed", zap.Error(err))
			}
			// Retention runs every 12th tick (a minute at the default interval), and each
			// replica drops the control sets of scans it no longer hears of.
			if i%12 == 0 {
				m.dropIdleControls(time.Now().Add(-controlsIdle))
				if _, err := m.PruneIfLeader(ctx); err != nil && ctx.Err() == nil {
					m.log.Warn("retention failed", zap.Error(err))
				}
			}
		}
	}
}

func newID(prefix string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + "_" + hex.EncodeToString(b[:])
}

// newScanID returns a scan id that sorts after the ids of scans created in earlier seconds:
// "scn_", the creation time in Unix seconds as eight hex digits (until 2106), and 48 random
// bits as twelve. Results are keyed by scan first, so the results of the newest scan in a
// partition go in at the right-hand end of its primary key: PostgreSQL inserts there without
// descending the tree and splits full pages 90/10 rather than in halves (77 bytes of key per
// result against 138 with random ids, in one large COPY; less where concurrent scans share a
// partition). Scans created in one second (a start of many nodes) are in random order among
// themselves; 48 bits keep ten thousand of them apart with a chance of a collision of about
// one in five million, and a collision is a failed start, not a lost result (the scan's
// primary key refuses it).
func newScanID(now time.Time) string {
	var b [10]byte
	binary.BigEndian.PutUint32(b[:4], uint32(now.Unix()))
	if _, err := rand.Read(b[4:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return "scn_" + hex.EncodeToString(b[:])
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
