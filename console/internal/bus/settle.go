package bus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/palisadehq/palisade/pkg/jobs"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

const (
	// settleTimeout bounds the requests that settle one job.
	settleTimeout = 5 * time.Second
	// settleLookups is how many of a node's jobs are read, oldest first, looking for the one
	// to drop; a node holds at most MaxAckPending jobs it has not acknowledged.
	settleLookups = MaxAckPending
)

// taken is a job a node took: its scan and node.
type taken struct{ node, scan string }

// settler drops taken jobs from the stream, in the background, one at a time. The stream
// keeps jobs by age rather than as a work queue (see streamConfig), and the server finds a
// node's next job by walking from the previous one it delivered: taken jobs left in the stream
// make each later delivery to that node walk past the jobs of every other node published in
// between. Dropping them keeps each delivery a direct lookup.
type settler struct {
	log *zap.Logger
	js  jetstream.JetStream
	// stream is the jobs stream, looked up on first use by the run goroutine only.
	stream jetstream.Stream

	mu      sync.Mutex
	pending []taken
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

func newSettler(log *zap.Logger, js jetstream.JetStream) *settler {
	s := &settler{
		log: log, js: js,
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go s.run()
	return s
}

func (s *settler) add(t taken) {
	s.mu.Lock()
	s.pending = append(s.pending, t)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *settler) close() {
	s.once.Do(func() { close(s.stop) })
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
		s.mu.Unlock()
		for _, t := range batch {
			select {
			case <-s.stop:
				return
			default:
			}
			if err := s.settle(t); err != nil {
				s.log.Info("could not drop a taken job from the stream; it leaves with age",
					zap.String(logFieldNode, t.node), zap.String(logFieldScan, t.scan), zap.Error(err))
			}
		}
	}
}

// settle deletes the job of t.scan from t.node's subject. It reads the node's jobs oldest
// first; one that is gone already (settled twice, aged out, the node removed) is not an
// error.
func (s *settler) settle(t taken) error {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	if s.stream == nil {
		st, err := s.js.Stream(ctx, jobs.StreamName)
		if err != nil {
			return fmt.Errorf("look up the jobs stream: %w", err)
		}
		s.stream = st
	}
	subject := jobs.JobSubject(t.node)
	seq := uint64(1)
	for range settleLookups {
		m, err := s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the node's jobs from sequence %d: %w", seq, err)
		}
		var job sensorv1.Job
		if proto.Unmarshal(m.Data, &job) == nil && job.GetScanId() == t.scan {
			if err := s.stream.DeleteMsg(ctx, m.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
				return fmt.Errorf("drop job %d: %w", m.Sequence, err)
			}
			return nil
		}
		seq = m.Sequence + 1
	}
	return nil
}
