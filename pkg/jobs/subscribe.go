package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Log field names.
const (
	logFieldNode    = "node_id"
	logFieldScan    = "scan_id"
	logFieldSubject = "subject"
	logFieldBytes   = "bytes"
	logFieldReason  = "reason"
)

// handlerQueue is how many messages wait for a handler before the client drops more as a
// slow consumer; a dropped job comes back after the consumer's ack wait.
const handlerQueue = 64

// ackedMemory is how many acknowledged scan ids a subscription remembers to drop a job
// JetStream delivers again because the acknowledgement was lost (the node's server went away
// between the two, for example).
const ackedMemory = 4096

// flushTimeout bounds the round trip that confirms the subscriptions reached the server.
const flushTimeout = 10 * time.Second

// Option adjusts Subscribe.
type Option func(*options)

type options struct {
	log         *zap.Logger
	maxJobBytes int
}

// WithLogger sets where rejected messages are reported; the default discards.
func WithLogger(l *zap.Logger) Option { return func(o *options) { o.log = l } }

// WithMaxJobBytes lowers the largest job accepted (MaxJobBytes by default).
func WithMaxJobBytes(n int) Option { return func(o *options) { o.maxJobBytes = n } }

// JobHandler receives a job addressed to this node. ack tells JetStream the job was taken so it
// is not delivered again; a job not acked within the consumer's ack wait comes back. ack is
// safe to call from any goroutine, once.
type JobHandler func(job *sensorv1.Job, ack func() error)

// CommandHandler receives a command addressed to this node.
type CommandHandler func(cmd *sensorv1.Command)

// Subscription is a node's live subscription to its jobs and commands.
type Subscription struct {
	nodeID    string
	o         options
	onJob     JobHandler
	onCommand CommandHandler

	jobSub *nats.Subscription
	cmdSub *nats.Subscription

	// ackedMu guards acked and ackedOrder: the scan ids whose jobs this subscription
	// acknowledged, oldest first, at most ackedMemory.
	ackedMu    sync.Mutex
	acked      map[string]struct{}
	ackedOrder []string

	stopOnce sync.Once
	stop     chan struct{}
	// wg counts the handler goroutines and the context watcher; Close waits for them.
	wg sync.WaitGroup
}

// Subscribe takes nodeID's jobs from its push consumer's deliver subject and its commands from
// its control subject, using core NATS subscriptions only. Each handler runs on its own
// goroutine, one message at a time, so a slow onJob does not hold up a stop command; handlers
// should hand long work to another goroutine. onCommand may be nil to ignore commands.
//
// A job whose scan this subscription already acknowledged is acknowledged again and not
// handed to onJob: JetStream delivers a job again when an acknowledgement is lost, for example
// when the node's NATS server goes away, and the node must not run a scan twice.
//
// Messages that cannot be jobs for this node (oversized, not a valid Job, addressed to another
// node, or without scan id) are logged and terminated (+TERM) so JetStream never delivers them
// again; a malformed command is logged and dropped. Expiry is left to the handler, which can
// report an expired job to the console. The subscription ends when ctx ends or Close is
// called.
func Subscribe(ctx context.Context, nc *nats.Conn, nodeID string, onJob JobHandler, onCommand CommandHandler, opts ...Option) (*Subscription, error) {
	if err := ValidateNodeID(nodeID); err != nil {
		return nil, fmt.Errorf("subscribe to jobs: %w", err)
	}
	if nc == nil {
		return nil, errors.New("subscribe to jobs: no NATS connection")
	}
	if onJob == nil {
		return nil, errors.New("subscribe to jobs: a job handler is required")
	}
	s := &Subscription{
		nodeID:    nodeID,
		o:         options{log: zap.NewNop(), maxJobBytes: MaxJobBytes},
		onJob:     onJob,
		onCommand: onCommand,
		stop:      make(chan struct{}),
		acked:     make(map[string]struct{}),
	}
	for _, opt := range opts {
		opt(&s.o)
	}
	s.o.log = s.o.log.With(zap.String(logFieldNode, nodeID))

	jobCh := make(chan *nats.Msg, handlerQueue)
	var err error
	if s.jobSub, err = nc.ChanSubscribe(DeliverSubject(nodeID), jobCh); err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", DeliverSubject(nodeID), err)
	}
	var cmdCh chan *nats.Msg
	if onCommand != nil {
		cmdCh = make(chan *nats.Msg, handlerQueue)
		if s.cmdSub, err = nc.ChanSubscribe(ControlSubject(nodeID), cmdCh); err != nil {
			_ = s.jobSub.Unsubscribe()
			return nil, fmt.Errorf("subscribe to %s: %w", ControlSubject(nodeID), err)
		}
	}
	if nc.IsConnected() {
		if err := nc.FlushTimeout(flushTimeout); err != nil {
			s.unsubscribe()
			return nil, fmt.Errorf("confirm job subscriptions with the NATS server: %w", err)
		}
	}

	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.loop(jobCh, s.handleJob)
	}()
	if cmdCh != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.loop(cmdCh, s.handleCommand)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			s.shutdown()
		case <-s.stop:
		}
	}()
	return s, nil
}

// Close unsubscribes and waits for running handlers to return. It must not be called from a
// handler. Jobs delivered but not acked come back after the ack wait.
func (s *Subscription) Close() {
	s.shutdown()
	s.wg.Wait()
}

func (s *Subscription) shutdown() {
	s.stopOnce.Do(func() {
		s.unsubscribe()
		close(s.stop)
	})
}

func (s *Subscription) unsubscribe() {
	for _, sub := range []*nats.Subscription{s.jobSub, s.cmdSub} {
		if sub == nil {
			continue
		}
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			s.o.log.Warn("unsubscribing from the job bus failed", zap.String(logFieldSubject, sub.Subject), zap.Error(err))
		}
	}
}

func (s *Subscription) loop(ch <-chan *nats.Msg, handle func(*nats.Msg)) {
	for {
		select {
		case <-s.stop:
			return
		case m := <-ch:
			handle(m)
		}
	}
}

func (s *Subscription) handleJob(m *nats.Msg) {
	if len(m.Data) == 0 && m.Header.Get("Status") != "" {
		// A JetStream status message (idle heartbeat or flow control); the consumer is not
		// configured to send them, and a node may not answer them.
		return
	}
	if !strings.HasPrefix(m.Reply, "$JS.ACK.") {
		s.o.log.Warn("dropping a message on the deliver subject that did not come from the jobs stream", zap.String(logFieldSubject, m.Subject), zap.Int(logFieldBytes, len(m.Data)))
		return
	}
	job, reason := s.decodeJob(m.Data)
	if job == nil {
		s.o.log.Warn("rejecting job", zap.String(logFieldReason, reason), zap.Int(logFieldBytes, len(m.Data)))
		if err := m.Term(); err != nil {
			s.o.log.Warn("terminating rejected job failed", zap.Error(err))
		}
		return
	}
	if s.wasAcked(job.GetScanId()) {
		s.o.log.Info("job delivered again after it was acknowledged; acknowledging it again", zap.String(logFieldScan, job.GetScanId()))
		if err := m.Ack(); err != nil {
			s.o.log.Warn("acknowledging a job delivered again failed", zap.String(logFieldScan, job.GetScanId()), zap.Error(err))
		}
		return
	}
	s.onJob(job, func() error {
		if err := m.Ack(); err != nil {
			return fmt.Errorf("acknowledge job for scan %s: %w", job.GetScanId(), err)
		}
		s.rememberAcked(job.GetScanId())
		return nil
	})
}

func (s *Subscription) wasAcked(scanID string) bool {
	s.ackedMu.Lock()
	defer s.ackedMu.Unlock()
	_, ok := s.acked[scanID]
	return ok
}

func (s *Subscription) rememberAcked(scanID string) {
	s.ackedMu.Lock()
	defer s.ackedMu.Unlock()
	if _, ok := s.acked[scanID]; ok {
		return
	}
	if len(s.ackedOrder) >= ackedMemory {
		delete(s.acked, s.ackedOrder[0])
		s.ackedOrder = s.ackedOrder[1:]
	}
	s.acked[scanID] = struct{}{}
	s.ackedOrder = append(s.ackedOrder, scanID)
}

// decodeJob returns the job in data, or nil and why it was rejected.
func (s *Subscription) decodeJob(data []byte) (*sensorv1.Job, string) {
	if len(data) > s.o.maxJobBytes {
		return nil, fmt.Sprintf("job of %d bytes exceeds the limit of %d bytes", len(data), s.o.maxJobBytes)
	}
	job := &sensorv1.Job{}
	if err := proto.Unmarshal(data, job); err != nil {
		return nil, fmt.Sprintf("not a valid job message: %v", err)
	}
	if job.GetScanId() == "" {
		return nil, "job has no scan id"
	}
	if job.GetNodeId() != s.nodeID {
		return nil, fmt.Sprintf("job for scan %s is addressed to node %q, not this node", job.GetScanId(), job.GetNodeId())
	}
	return job, ""
}

func (s *Subscription) handleCommand(m *nats.Msg) {
	if len(m.Data) > MaxCommandBytes {
		s.o.log.Warn("dropping oversized command", zap.Int(logFieldBytes, len(m.Data)))
		return
	}
	cmd := &sensorv1.Command{}
	if err := proto.Unmarshal(m.Data, cmd); err != nil {
		s.o.log.Warn("dropping malformed command", zap.Error(err), zap.Int(logFieldBytes, len(m.Data)))
		return
	}
	if cmd.GetScanId() == "" || cmd.GetAction() == sensorv1.Command_ACTION_UNSPECIFIED {
		s.o.log.Warn("dropping command without scan id or action", zap.String(logFieldScan, cmd.GetScanId()))
		return
	}
	s.onCommand(cmd)
}
