package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

	// mu guards pending and queued, the jobs waiting to be settled and their keys (a job
	// settled twice before its turn is queued once).
	mu      sync.Mutex
	pending []taken
	queued  map[string]bool
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newSettler(log *zap.Logger, js jetstream.JetStream) *settler {
	s := &settler{
		log: log, js: js,
		queued: make(map[string]bool),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.run()
	return s
}

func (s *settler) add(t taken) {
	key := t.node + "/" + t.scan
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
		for _, t := range batch {
			select {
			case <-s.stop:
				return
			default:
			}
			if err := s.settle(t); err != nil {
				s.retry(t, err)
			}
		}
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
