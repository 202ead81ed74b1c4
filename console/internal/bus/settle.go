package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/palisadehq/palisade/pkg/jobs"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

const (
	// settleTimeout bounds the requests that settle one job.
	settleTimeout = 5 * time.Second
	// nodeJobLookups is how many of a node's stored jobs are read, oldest first, looking for
	// one: taken jobs are deleted, so what is left are jobs waiting for the node.
	nodeJobLookups = 256
	// maxRemembered bounds how many stored jobs' sequences the settler keeps (see remember),
	// and rememberFor how long: a job taken later, or settled by another replica (whose
	// sensor reported there), is found by reading its node's jobs.
	maxRemembered = 1 << 18
	rememberFor   = 10 * time.Minute
	// While a start publishes its jobs, settling waits, polling every settleHoldPoll, up to
	// settleHoldMax for each group of taken jobs (see pause).
	settleHoldPoll = 50 * time.Millisecond
	settleHoldMax  = 30 * time.Second
)

// taken is a job a node took: its scan and node, and how many times settling it failed.
type taken struct {
	node, scan string
	failures   int
}

// Settling a job that failed (a cluster electing a stream leader, say) is tried again after
// settleRetry, doubling, up to settleAttempts attempts in all.
const (
	settleRetry    = time.Second
	settleAttempts = 6
)

// settler drops jobs nobody should take any more (taken, or of a scan that ended) from the
// stream, in the background, one at a time. The stream keeps jobs by age (see streamConfig);
// without this, a node's stored jobs would pile up for a day, each hello's PendingJobs and
// each settle would read past them (at most nodeJobLookups), and they would be handed to the
// node again until its scans' states turned them away.
type settler struct {
	log *zap.Logger
	js  jetstream.JetStream
	// stream is the jobs stream, looked up on first use by the run goroutine only.
	stream jetstream.Stream

	// ctx ends when the settler closes, cutting a request in flight short.
	ctx    context.Context
	cancel context.CancelFunc

	// held reports whether settling should wait: a start is publishing its jobs. The sensors
	// of a large start report running as their jobs arrive, and settling their jobs meanwhile
	// (two requests to the stream each) competes with the publishing for the server and the
	// stream. Nil never holds.
	held func() bool

	// mu guards pending and queued, the jobs waiting to be settled and their keys (a job
	// settled twice before its turn is queued once), and seqs.
	mu      sync.Mutex
	pending []taken
	queued  map[string]bool
	// seqs is the stream sequence of jobs this console published, by node/scan key, when the
	// first attempt was acknowledged: there is one copy, and settling it is one delete
	// instead of reading the node's jobs to find it. Every rememberFor, seqs becomes
	// oldSeqs and oldSeqs is dropped, so that an entry lives one to two rememberFor.
	seqs, oldSeqs map[string]uint64
	rotated       time.Time
	// lookups counts the settles that read a node's jobs to find the one to drop.
	lookups atomic.Int64
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newSettler(log *zap.Logger, js jetstream.JetStream, held func() bool) *settler {
	s := &settler{
		log: log, js: js, held: held,
		queued:  make(map[string]bool),
		seqs:    make(map[string]uint64),
		rotated: time.Now(),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s
}

// jobKey is the key of a node's job for a scan in queued and seqs.
func jobKey(node, scan string) string { return node + "/" + scan }

// remember notes that the node's job for the scan is stored once, at seq.
func (s *settler) remember(node, scan string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := time.Now(); now.Sub(s.rotated) >= rememberFor {
		s.oldSeqs, s.seqs, s.rotated = s.seqs, make(map[string]uint64), now
	}
	if len(s.seqs) < maxRemembered {
		s.seqs[jobKey(node, scan)] = seq
	}
}

// recall returns and forgets the sequence remember noted of the node's job for the scan.
func (s *settler) recall(node, scan string) (uint64, bool) {
	key := jobKey(node, scan)
	s.mu.Lock()
	defer s.mu.Unlock()
	seq, ok := s.seqs[key]
	if !ok {
		seq, ok = s.oldSeqs[key]
	}
	delete(s.seqs, key)
	delete(s.oldSeqs, key)
	return seq, ok
}

// forget drops what remember noted of the node's job for the scan: it may be stored again.
func (s *settler) forget(node, scan string) { s.recall(node, scan) }

func (s *settler) add(t taken) {
	key := jobKey(t.node, t.scan)
	s.mu.Lock()
	if s.queued[key] {
		s.mu.Unlock()
		return
	}
	s.queued[key] = true
	s.pending = append(s.pending, t)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// retry schedules t again after a failure, or gives up after settleAttempts.
func (s *settler) retry(t taken, err error) {
	t.failures++
	if t.failures >= settleAttempts {
		s.log.Warn("could not drop a taken job from the stream; it leaves with age",
			zap.String(logFieldNode, t.node), zap.String(logFieldScan, t.scan), zap.Int("attempts", t.failures), zap.Error(err))
		return
	}
	// A failed request may have been about a stream that moved (a new leader); look it up
	// afresh next time.
	s.stream = nil
	wait := settleRetry << (t.failures - 1)
	time.AfterFunc(wait, func() {
		select {
		case <-s.stop:
		default:
			s.add(t)
		}
	})
}

func (s *settler) close() {
	s.once.Do(func() {
		close(s.stop)
		s.cancel()
	})
	<-s.done
}

func (s *settler) run() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		s.mu.Lock()
		batch := s.pending
		s.pending = nil
		clear(s.queued)
		s.mu.Unlock()
		hold := settleHoldMax
		for _, t := range batch {
			if hold = s.pause(hold); hold < 0 {
				return
			}
			if err := s.settle(t); err != nil {
				s.retry(t, err)
			}
		}
	}
}

// pause waits while settling is held, for at most budget, and returns what is left of the
// budget, or -1 when the settler closes meanwhile.
func (s *settler) pause(budget time.Duration) time.Duration {
	for s.held != nil && budget > 0 && s.held() {
		t := time.NewTimer(settleHoldPoll)
		select {
		case <-s.stop:
			t.Stop()
			return -1
		case <-t.C:
		}
		budget -= settleHoldPoll
	}
	select {
	case <-s.stop:
		return -1
	default:
		return budget
	}
}

// settle deletes the job of t.scan from t.node's subject. It reads the node's jobs oldest
// first; a job that is gone already (settled twice, aged out, the node removed) is not an
// error.
func (s *settler) settle(t taken) error {
	ctx, cancel := context.WithTimeout(s.ctx, settleTimeout)
	defer cancel()
	if s.stream == nil {
		st, err := s.js.Stream(ctx, jobs.StreamName)
		if err != nil {
			return fmt.Errorf("look up the jobs stream: %w", err)
		}
		s.stream = st
	}
	if seq, known := s.recall(t.node, t.scan); known {
		if err := s.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("drop job %d: %w", seq, err)
		}
		return nil
	}
	s.lookups.Add(1)
	// Every stored copy: a publish retried while a cluster elected a new stream leader can
	// be stored twice, and each copy would be handed to the node at its next hello.
	var found []uint64
	err := eachJob(ctx, s.stream, t.node, func(seq uint64, job *sensorv1.Job) bool {
		if job.GetScanId() == t.scan {
			found = append(found, seq)
		}
		return true
	})
	if err != nil {
		return err
	}
	for _, seq := range found {
		if err := s.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("drop job %d: %w", seq, err)
		}
	}
	return nil
}
