// Package loadgen simulates a fleet of sensors against a running console to measure it at
// scale. Every simulated node is a real node as far as the console can tell: it enrols with
// an enrolment token and a certificate request, keeps its own mutual-TLS gRPC connection and
// its own NATS connection with its client certificate, takes its jobs from its JetStream push
// consumer through pkg/jobs, reports running, and streams synthetic results in acknowledged
// batches ending with a final batch. Only the evaluation is fake: results name the job's
// controls and synthetic resources, and fail with a configured probability.
//
// Run can also drive scans through the console API (Config.API) and time them: the StartScan
// call, the moment the last node received its job, and the moment the last node had its final
// batch acknowledged.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/enrolment"
	"github.com/palisadehq/palisade/pkg/jobs"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Log field names.
const (
	logFieldNode  = "node_id"
	logFieldScan  = "scan_id"
	logFieldIndex = "index"
	logFieldGroup = "group_id"
)

// Defaults for the zero values of Config.
const (
	DefaultConcurrency      = 32
	DefaultKeepalive        = 30 * time.Second
	DefaultProgressInterval = 5 * time.Second
	DefaultScanTimeout      = 30 * time.Minute // above the longest spread of a start (10 min)
	DefaultBatchSize        = 2000
)

// Config describes the simulated fleet and, optionally, the scans to drive.
type Config struct {
	// Console is the console's gRPC address (host:port).
	Console string
	// Token is a multi-use enrolment token; needed only for nodes without an identity in
	// StateDir.
	Token string
	// Sensors is how many nodes to simulate.
	Sensors int
	// StateDir keeps one sub-directory per node (key, certificate, node id), so a second run
	// reuses the identities instead of enrolling again.
	StateDir string
	// ConnectRate limits how many nodes start connecting per second; 0 means no limit.
	ConnectRate float64
	// Concurrency is how many nodes enrol or connect at once (DefaultConcurrency when 0).
	Concurrency int
	// MaxConnectFailures stops connecting further nodes once this many have failed, so a
	// console that refuses nodes past some limit is reported quickly (1% of Sensors, at least
	// 10, when 0; negative means never stop). The run goes on with the nodes that connected.
	MaxConnectFailures int
	// ControlsPerScan is how many results each job produces; 0 means one per control in the
	// job. Controls are reused with distinct synthetic resources when it exceeds the job's
	// controls.
	ControlsPerScan int
	// FailureRatio is the probability (0 to 1) that a result is fail rather than pass.
	FailureRatio float64
	// BatchSize is the number of results per batch; 0 uses the job's batch size.
	BatchSize int
	// ScanTime is how long a node spends evaluating a job before it streams the job's
	// results, as a real sensor does (0: results follow the running report at once). It
	// heartbeats meanwhile.
	ScanTime time.Duration
	// Duration ends the run after this long (counted from the start); 0 ends it when the
	// scans driven through API are done, or, without API, when ctx ends.
	Duration time.Duration
	// Keepalive is how often each node says hello while connected (DefaultKeepalive when 0).
	Keepalive time.Duration

	// API, when set, is used to start Scans scans over all connected nodes, one after the
	// other, each timed. It needs a token allowed to start scans.
	API consolev1.ConsoleServiceClient
	// Scans is how many scans to start when API is set (1 when 0).
	Scans int
	// Benchmarks are the benchmarks of each scan ("cis" when empty).
	Benchmarks []string
	// ScanTimeout bounds how long one driven scan may take (DefaultScanTimeout when 0).
	ScanTimeout time.Duration

	// ConsolePID, when not 0, is the console's process id on this machine; its resident set
	// size is then read from /proc into the summary.
	ConsolePID int

	// Progress is called every ProgressInterval while running, and once at the end.
	Progress         func(Progress)
	ProgressInterval time.Duration
	Logger           *zap.Logger
}

// Progress is a snapshot of the counters.
type Progress struct {
	Elapsed time.Duration
	// Enrolled nodes enrolled during this run; Reused nodes loaded their identity from
	// StateDir.
	Enrolled, Reused int64
	// Connected nodes have said hello and subscribed to their jobs; Failed nodes gave up;
	// Skipped nodes were not tried because MaxConnectFailures was reached.
	Connected, Failed, Skipped int64
	JobsReceived               int64
	JobsDone                   int64
	// ResultsAcked are results in batches the console acknowledged; ResultsFail the fail
	// results among them.
	ResultsAcked, ResultsFail int64
	Errors                    int64
}

// Round is one scan driven through the API.
type Round struct {
	GroupID string
	// Scans is how many scans StartScan started, one per node.
	Scans int
	// ScanIDs are the scans of the jobs the fleet received in the round, each once.
	ScanIDs []string
	// CalledAtUnixNano is when StartScan was called, in nanoseconds since the Unix epoch: with
	// the console's log it tells how long the request took to reach the console.
	CalledAtUnixNano int64
	// StartCall is how long StartScan took to return.
	StartCall time.Duration
	// AllJobsReceived is the time from calling StartScan to the last node receiving its job.
	AllJobsReceived time.Duration
	// AllDone is the time from calling StartScan to the last node's final acknowledgement.
	AllDone time.Duration
	// Results acknowledged in this round.
	Results int64
	// ResultsPerSecond is Results over the time from the first job received to AllDone.
	ResultsPerSecond float64
}

// Summary is what Run measured.
type Summary struct {
	Progress
	// ConnectTime is how long it took to connect every node (or give up on it).
	ConnectTime time.Duration
	// NodeIDs of the connected nodes.
	NodeIDs []string
	Rounds  []Round
	// ResultsPerSecond is ResultsAcked over the time from the first job received to the
	// last job done.
	ResultsPerSecond float64
	// ErrorSamples holds the first few distinct error messages.
	ErrorSamples []string
	// Peak (VmHWM) and current (VmRSS) resident set sizes in bytes, from /proc; 0 when
	// unknown. The ...Connected figures are read right after every node connected.
	LoadgenPeakRSS, LoadgenRSSConnected, ConsolePeakRSS, ConsoleRSSConnected int64
}

// parallel calls fn for every node, a few at a time, and waits for all of them.
func parallel(nodes []*node, fn func(*node)) {
	const workers = 16
	ch := make(chan *node)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range ch {
				fn(n)
			}
		}()
	}
	for _, n := range nodes {
		ch <- n
	}
	close(ch)
	wg.Wait()
}

// maxErrorSamples bounds Summary.ErrorSamples.
const maxErrorSamples = 10

// Run simulates the fleet until the driven scans are done, Duration passes or ctx ends. It
// returns an error when the configuration is invalid, no node could connect, or a driven scan
// did not finish; the summary is filled in as far as the run got.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	f, err := newFleet(cfg)
	if err != nil {
		return Summary{}, err
	}
	return f.run(ctx)
}

// fleet is one run of the load generator.
type fleet struct {
	// catalogVersion is the built-in catalogue's version, reported like a real sensor does.
	catalogVersion string
	cfg            Config
	log            *zap.Logger
	start          time.Time
	stats          stats

	// catalog is the built-in catalogue the simulated sensors report.
	catalog *catalog.Catalog
	// controls caches the control ids of jobs by a SHA-256 of their controls document, or of
	// their catalogue version, benchmarks and exclusions (see controlIDs). mu guards it.
	mu       sync.Mutex
	controls map[[sha256.Size]byte][]string

	// jobs counts running job goroutines.
	jobs sync.WaitGroup
	// watch is the round being timed, if any.
	watch atomic.Pointer[roundWatch]
}

func newFleet(cfg Config) (*fleet, error) {
	if cfg.Console == "" {
		return nil, errors.New("the console's gRPC address is required (--console host:port)")
	}
	if cfg.Sensors <= 0 {
		return nil, fmt.Errorf("the number of sensors must be at least 1, got %d (--sensors)", cfg.Sensors)
	}
	if cfg.StateDir == "" {
		return nil, errors.New("a state directory is required to keep the simulated identities (--state-dir)")
	}
	if cfg.FailureRatio < 0 || cfg.FailureRatio > 1 {
		return nil, fmt.Errorf("the failure ratio must be between 0 and 1, got %g (--failure-ratio)", cfg.FailureRatio)
	}
	if cfg.ControlsPerScan < 0 || cfg.BatchSize < 0 || cfg.ConnectRate < 0 || cfg.Duration < 0 || cfg.Scans < 0 || cfg.ScanTime < 0 {
		return nil, errors.New("controls per scan, batch size, connect rate, duration, scan time and scans must not be negative")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.MaxConnectFailures == 0 {
		cfg.MaxConnectFailures = max(10, cfg.Sensors/100)
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = DefaultKeepalive
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultProgressInterval
	}
	if cfg.ScanTimeout <= 0 {
		cfg.ScanTimeout = DefaultScanTimeout
	}
	if cfg.API != nil && cfg.Scans == 0 {
		cfg.Scans = 1
	}
	if len(cfg.Benchmarks) == 0 {
		cfg.Benchmarks = []string{"cis"}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", cfg.StateDir, err)
	}
	cat, err := catalog.Default()
	if err != nil {
		return nil, err
	}
	return &fleet{catalog: cat, catalogVersion: cat.Version(), cfg: cfg, log: cfg.Logger, controls: map[[sha256.Size]byte][]string{}}, nil
}

func (f *fleet) run(ctx context.Context) (Summary, error) {
	f.start = time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if f.cfg.Duration > 0 {
		var c context.CancelFunc
		runCtx, c = context.WithTimeout(runCtx, f.cfg.Duration)
		defer c()
	}

	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if f.cfg.Progress != nil {
		progressWG.Add(1)
		go func() {
			defer progressWG.Done()
			t := time.NewTicker(f.cfg.ProgressInterval)
			defer t.Stop()
			for {
				select {
				case <-progressDone:
					return
				case <-t.C:
					f.cfg.Progress(f.snapshot())
				}
			}
		}()
	}

	nodes := f.connectAll(runCtx)
	sum := Summary{ConnectTime: time.Since(f.start)}
	var connected []*node
	for _, n := range nodes {
		if n != nil {
			connected = append(connected, n)
			sum.NodeIDs = append(sum.NodeIDs, n.id)
		}
	}
	sum.LoadgenRSSConnected = readRSS(os.Getpid(), "VmRSS")
	if f.cfg.ConsolePID > 0 {
		sum.ConsoleRSSConnected = readRSS(f.cfg.ConsolePID, "VmRSS")
	}
	f.log.Info("fleet connected", zap.Int("connected", len(connected)), zap.Duration("took", sum.ConnectTime))

	var keepWG sync.WaitGroup
	keepWG.Add(1)
	go func() {
		defer keepWG.Done()
		f.keepalive(runCtx, connected)
	}()

	var runErr error
	switch {
	case runCtx.Err() != nil:
		// The run ended while connecting.
	case len(connected) == 0:
		runErr = fmt.Errorf("none of the %d simulated sensors could connect (%d failed); see the error samples", f.cfg.Sensors, f.stats.failed.Load())
	case f.cfg.API != nil:
		sum.Rounds, runErr = f.drive(runCtx, sum.NodeIDs)
		if runErr == nil && f.cfg.Duration > 0 {
			<-runCtx.Done()
		}
	default:
		<-runCtx.Done()
	}
	cancel()
	keepWG.Wait()
	// No job starts once the subscriptions are closed; then the running ones are waited for
	// before their connections close.
	parallel(connected, (*node).closeSub)
	f.jobs.Wait()
	parallel(connected, (*node).closeConns)
	close(progressDone)
	progressWG.Wait()

	sum.Progress = f.snapshot()
	sum.ErrorSamples = f.stats.samples()
	if first, last := f.stats.firstJob.Load(), f.stats.lastDone.Load(); first > 0 && last > first {
		sum.ResultsPerSecond = float64(sum.ResultsAcked) / time.Duration(last-first).Seconds()
	}
	sum.LoadgenPeakRSS = readRSS(os.Getpid(), "VmHWM")
	if f.cfg.ConsolePID > 0 {
		sum.ConsolePeakRSS = readRSS(f.cfg.ConsolePID, "VmHWM")
	}
	if f.cfg.Progress != nil {
		f.cfg.Progress(sum.Progress)
	}
	return sum, runErr
}

// connectAll brings up every node, at most Concurrency at a time and ConnectRate per second,
// until ctx ends. The slice has nil where a node did not connect.
func (f *fleet) connectAll(ctx context.Context) []*node {
	nodes := make([]*node, f.cfg.Sensors)
	var enrolConn *grpc.ClientConn
	var enrolOnce sync.Once
	var enrolErr error
	// enrolClient returns the connection used by every enrolment: enrolment needs no client
	// certificate, so one pinned-TLS connection serves them all.
	enrolClient := func() (*grpc.ClientConn, error) {
		enrolOnce.Do(func() {
			if f.cfg.Token == "" {
				enrolErr = fmt.Errorf("some simulated sensors have no identity in %s yet: pass an enrolment token (--token) that allows at least %d uses", f.cfg.StateDir, f.cfg.Sensors)
				return
			}
			tok, err := enrolment.Parse(f.cfg.Token)
			if err != nil {
				enrolErr = fmt.Errorf("enrolment token: %w", err)
				return
			}
			enrolConn, enrolErr = grpc.NewClient("passthrough:///"+f.cfg.Console,
				grpc.WithTransportCredentials(credentials.NewTLS(enrolment.PinnedTLSConfig(tok.CAFingerprint, serverName(f.cfg.Console)))))
		})
		return enrolConn, enrolErr
	}

	idx := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < f.cfg.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				n, err := f.connectNode(ctx, i, enrolClient)
				if err != nil {
					if ctx.Err() == nil {
						f.stats.failed.Add(1)
						f.stats.addError(fmt.Errorf("sensor %d: %w", i, err))
						f.log.Warn("simulated sensor did not connect", zap.Int(logFieldIndex, i), zap.Error(err))
					}
					continue
				}
				nodes[i] = n
				f.stats.connected.Add(1)
			}
		}()
	}
	var interval time.Duration
	if f.cfg.ConnectRate > 0 {
		interval = time.Duration(float64(time.Second) / f.cfg.ConnectRate)
	}
	began := time.Now()
feed:
	for i := 0; i < f.cfg.Sensors; i++ {
		if limit := f.cfg.MaxConnectFailures; limit > 0 && f.stats.failed.Load() >= int64(limit) {
			f.stats.skipped.Add(int64(f.cfg.Sensors - i))
			f.stats.addError(fmt.Errorf("stopped connecting after %d sensors failed; %d were not tried", f.stats.failed.Load(), f.cfg.Sensors-i))
			break
		}
		if interval > 0 {
			if wait := time.Until(began.Add(time.Duration(i) * interval)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					break feed
				case <-t.C:
				}
			}
		}
		select {
		case <-ctx.Done():
			break feed
		case idx <- i:
		}
	}
	close(idx)
	wg.Wait()
	if enrolConn != nil {
		_ = enrolConn.Close()
	}
	return nodes
}

// keepalive says hello for every node once per Keepalive, spread evenly over the interval.
func (f *fleet) keepalive(ctx context.Context, nodes []*node) {
	if len(nodes) == 0 {
		return
	}
	const tick = time.Second
	buckets := max(1, int(f.cfg.Keepalive/tick))
	t := time.NewTicker(tick)
	defer t.Stop()
	for b := 0; ; b = (b + 1) % buckets {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i := b; i < len(nodes); i += buckets {
			if ctx.Err() != nil {
				return
			}
			if err := nodes[i].hello(ctx); err != nil && ctx.Err() == nil {
				f.stats.addError(fmt.Errorf("keepalive of node %s: %w", nodes[i].id, err))
			}
		}
	}
}

// drive starts Scans scans over nodeIDs one after the other and times each.
func (f *fleet) drive(ctx context.Context, nodeIDs []string) ([]Round, error) {
	var rounds []Round
	for r := 0; r < f.cfg.Scans; r++ {
		round, err := f.driveOne(ctx, nodeIDs)
		if err != nil {
			return rounds, fmt.Errorf("scan %d of %d: %w", r+1, f.cfg.Scans, err)
		}
		rounds = append(rounds, round)
		f.log.Info("scan done", zap.String(logFieldGroup, round.GroupID), zap.Duration("start_call", round.StartCall),
			zap.Duration("all_jobs_received", round.AllJobsReceived), zap.Duration("all_done", round.AllDone))
	}
	return rounds, nil
}

func (f *fleet) driveOne(ctx context.Context, nodeIDs []string) (Round, error) {
	w := &roundWatch{target: int64(len(nodeIDs)), allReceived: make(chan struct{}), allDone: make(chan struct{}), seen: map[string]bool{}}
	// Jobs created before this instant belong to an earlier run or round.
	w.since = time.Now().Add(-time.Second)
	f.watch.Store(w)
	defer f.watch.Store(nil)
	resultsBefore := f.stats.resultsAcked.Load()

	start := time.Now()
	// A brief answer: the scans of ten thousand nodes are a few megabytes, which a load
	// generator busy with the jobs they start reads slowly, window by window, and that would
	// be timed as part of the start.
	resp, err := f.cfg.API.StartScan(ctx, &consolev1.StartScanRequest{Nodes: nodeIDs, Benchmarks: f.cfg.Benchmarks, Brief: true})
	if err != nil {
		return Round{}, fmt.Errorf("start scan: %w", err)
	}
	round := Round{GroupID: resp.GetGroupId(), Scans: int(resp.GetScanCount()), CalledAtUnixNano: start.UnixNano(), StartCall: time.Since(start)}
	if n := int(resp.GetScanCount()); n != len(nodeIDs) || resp.GetFailedCount() > 0 {
		return round, fmt.Errorf("start scan: %d scans started for %d nodes, %d of them failed at once", n, len(nodeIDs), resp.GetFailedCount())
	}
	timeout := time.NewTimer(f.cfg.ScanTimeout)
	defer timeout.Stop()
	for _, ch := range []chan struct{}{w.allReceived, w.allDone} {
		select {
		case <-ctx.Done():
			return round, fmt.Errorf("interrupted: %d of %d jobs received, %d done: %w", w.received.Load(), w.target, w.done.Load(), ctx.Err())
		case <-timeout.C:
			return round, fmt.Errorf("not finished after %s (%d of %d jobs received, %d done); raise --scan-timeout or look at the console's log", f.cfg.ScanTimeout, w.received.Load(), w.target, w.done.Load())
		case <-ch:
		}
	}
	w.mu.Lock()
	round.ScanIDs = slices.Clone(w.scanIDs)
	w.mu.Unlock()
	round.AllJobsReceived = time.Duration(w.receivedAt.Load() - start.UnixNano())
	round.AllDone = time.Duration(w.doneAt.Load() - start.UnixNano())
	round.Results = f.stats.resultsAcked.Load() - resultsBefore
	if span := time.Duration(w.doneAt.Load() - w.firstAt.Load()); span > 0 {
		round.ResultsPerSecond = float64(round.Results) / span.Seconds()
	}
	return round, nil
}

// roundWatch counts the jobs of the round being timed.
type roundWatch struct {
	since                       time.Time
	target                      int64
	received, done              atomic.Int64
	firstAt, receivedAt, doneAt atomic.Int64 // unix nanoseconds
	allReceived, allDone        chan struct{}
	// mu guards scanIDs, the scans of the jobs received in the round, in the order they
	// came, and seen, the same as a set.
	mu      sync.Mutex
	scanIDs []string
	seen    map[string]bool
}

// jobReceived counts a job taken off the bus; it reports whether the job belongs to the round
// being timed.
func (f *fleet) jobReceived(scanID string, created time.Time) bool {
	now := time.Now().UnixNano()
	f.stats.jobsReceived.Add(1)
	f.stats.firstJob.CompareAndSwap(0, now)
	w := f.watch.Load()
	if w == nil || created.Before(w.since) {
		return false
	}
	// A job delivered again (to a node that subscribed anew, say) counts once.
	w.mu.Lock()
	again := w.seen[scanID]
	if !again {
		w.seen[scanID] = true
		w.scanIDs = append(w.scanIDs, scanID)
	}
	w.mu.Unlock()
	if again {
		return false
	}
	w.firstAt.CompareAndSwap(0, now)
	if w.received.Add(1) == w.target {
		w.receivedAt.Store(now)
		close(w.allReceived)
	}
	return true
}

// jobDone counts a job that ended, well or not.
func (f *fleet) jobDone(inRound bool) {
	now := time.Now().UnixNano()
	f.stats.jobsDone.Add(1)
	f.stats.lastDone.Store(now)
	if !inRound {
		return
	}
	if w := f.watch.Load(); w != nil && w.done.Add(1) == w.target {
		w.doneAt.Store(now)
		close(w.allDone)
	}
}

// controlIDs returns the ids of the controls a job asks for (see jobs.Controls), cached by
// the job's controls document or by its benchmarks and exclusions: a fleet's jobs share them.
func (f *fleet) controlIDs(job *sensorv1.Job) ([]string, error) {
	if ids := job.GetControlIds(); len(ids) > 0 {
		return ids, nil
	}
	key := sha256.Sum256(job.GetControls())
	if len(job.GetControls()) == 0 {
		key = sha256.Sum256([]byte(job.GetCatalogVersion() + "\n" + strings.Join(job.GetBenchmarkIds(), ",") + "\n" + strings.Join(job.GetExcludeControlIds(), ",")))
	}
	f.mu.Lock()
	ids, ok := f.controls[key]
	f.mu.Unlock()
	if ok {
		return ids, nil
	}
	ctls, err := jobs.Controls(job, f.catalog)
	if err != nil {
		return nil, err
	}
	if len(ctls) == 0 {
		return nil, errors.New("the job has no controls")
	}
	ids = make([]string, len(ctls))
	for i, c := range ctls {
		ids[i] = c.ID
	}
	slices.Sort(ids) // in the results' key order, which the plans keep
	f.mu.Lock()
	f.controls[key] = ids
	f.mu.Unlock()
	return ids, nil
}

func (f *fleet) snapshot() Progress {
	s := &f.stats
	return Progress{
		Elapsed: time.Since(f.start), Enrolled: s.enrolled.Load(), Reused: s.reused.Load(),
		Connected: s.connected.Load(), Failed: s.failed.Load(), Skipped: s.skipped.Load(), JobsReceived: s.jobsReceived.Load(),
		JobsDone: s.jobsDone.Load(), ResultsAcked: s.resultsAcked.Load(), ResultsFail: s.resultsFail.Load(),
		Errors: s.errors.Load(),
	}
}

// stats are the fleet's counters.
type stats struct {
	enrolled, reused, connected, failed atomic.Int64
	skipped                             atomic.Int64
	jobsReceived, jobsDone              atomic.Int64
	resultsAcked, resultsFail           atomic.Int64
	errors                              atomic.Int64
	firstJob, lastDone                  atomic.Int64 // unix nanoseconds

	// mu guards errSamples.
	mu         sync.Mutex
	errSamples []string
}

func (s *stats) addError(err error) {
	s.errors.Add(1)
	msg := err.Error()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errSamples) >= maxErrorSamples {
		return
	}
	for _, m := range s.errSamples {
		if m == msg {
			return
		}
	}
	s.errSamples = append(s.errSamples, msg)
}

func (s *stats) samples() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.errSamples...)
}

// nodeDir is where simulated node i keeps its identity.
func (f *fleet) nodeDir(i int) string {
	return filepath.Join(f.cfg.StateDir, fmt.Sprintf("sensor-%05d", i))
}

// readRSS returns a memory figure (VmHWM, VmRSS) of process pid in bytes, or 0 when it cannot
// be read.
func readRSS(pid int, field string) int64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	return parseStatusField(data, field)
}

// parseStatusField reads a "Name:   123 kB" line of /proc/<pid>/status, in bytes.
func parseStatusField(data []byte, field string) int64 {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return 0
		}
		v, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0
		}
		if len(fields) > 1 && fields[1] == "kB" {
			v *= 1024
		}
		return v
	}
	return 0
}
