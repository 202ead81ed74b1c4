package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// slow consumer; a dropped job comes back with the node's next hello.
const handlerQueue = 64

// takenMemory is how many scan ids a subscription remembers to hand each scan's job to the
// handler once: a job arrives live on the node's subject and again in a hello's pending jobs
// until the node reports on the scan.
const takenMemory = 4096

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

// JobHandler receives a job addressed to this node, once per scan.
type JobHandler func(job *sensorv1.Job)

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
	// pending carries jobs handed in by Deliver to the job loop.
	pending chan *sensorv1.Job

	// takenMu guards taken and takenOrder: the scan ids whose job went to onJob, oldest
	// first, at most takenMemory.
	takenMu    sync.Mutex
	taken      map[string]struct{}
	takenOrder []string

	stopOnce sync.Once
	stop     chan struct{}
	// wg counts the handler goroutines and the context watcher; Close waits for them.
	wg sync.WaitGroup
}

// Subscribe takes nodeID's jobs from its job subject, where the console publishes them into
// the jobs stream, and its commands from its control subject, with core NATS subscriptions:
// a node needs no JetStream permissions. Jobs published while the node was not subscribed
// reach it through Deliver, from the console's answer to its hello. Each handler runs on its
// own goroutine, one message at a time, so a slow onJob does not hold up a stop command;
// handlers should hand long work to another goroutine. onCommand may be nil to ignore
// commands.
//
// Each scan's job goes to onJob once, however often it arrives (live and in a hello, or
// published twice). Messages that cannot be jobs for this node (oversized, not a valid Job,
// addressed to another node, or without scan id) and malformed commands are logged and
// dropped. Expiry is left to the handler, which can report an expired job to the console. The
// subscription ends when ctx ends or Close is called.
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
		pending:   make(chan *sensorv1.Job, handlerQueue),
		stop:      make(chan struct{}),
		taken:     make(map[string]struct{}),
	}
	for _, opt := range opts {
		opt(&s.o)
	}
	s.o.log = s.o.log.With(zap.String(logFieldNode, nodeID))

	jobCh := make(chan *nats.Msg, handlerQueue)
	var err error
	if s.jobSub, err = nc.ChanSubscribe(JobSubject(nodeID), jobCh); err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", JobSubject(nodeID), err)
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
		s.jobLoop(jobCh)
	}()
	if cmdCh != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				select {
				case <-s.stop:
					return
				case m := <-cmdCh:
					s.handleCommand(m)
				}
			}
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

// Deliver hands the subscription jobs that came another way than its subject (the pending
// jobs of a hello), in order. Each goes through the same checks as a published one and to
// onJob only if this subscription has not handed that scan's job over already. It returns
// false, delivering no more, when the subscription has ended.
func (s *Subscription) Deliver(jobs ...*sensorv1.Job) bool {
	for _, job := range jobs {
		select {
		case <-s.stop:
			return false
		default:
		}
		select {
		case <-s.stop:
			return false
		case s.pending <- job:
		}
	}
	return true
}

// Close unsubscribes and waits for running handlers to return. It must not be called from a
// handler.
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

func (s *Subscription) jobLoop(msgs <-chan *nats.Msg) {
	for {
		select {
		case <-s.stop:
			return
		case m := <-msgs:
			job, reason := s.decodeJob(m.Data)
			if job == nil {
				s.o.log.Warn("rejecting job", zap.String(logFieldReason, reason), zap.Int(logFieldBytes, len(m.Data)))
				continue
			}
			s.handleJob(job)
		case job := <-s.pending:
			if reason := s.checkJob(job); reason != "" {
				s.o.log.Warn("rejecting pending job", zap.String(logFieldReason, reason))
				continue
			}
			s.handleJob(job)
		}
	}
}

// handleJob hands a checked job to onJob unless its scan's job went there before.
func (s *Subscription) handleJob(job *sensorv1.Job) {
	id := job.GetScanId()
	s.takenMu.Lock()
	if _, ok := s.taken[id]; ok {
		s.takenMu.Unlock()
		return
	}
	if len(s.takenOrder) >= takenMemory {
		delete(s.taken, s.takenOrder[0])
		s.takenOrder = s.takenOrder[1:]
	}
	s.taken[id] = struct{}{}
	s.takenOrder = append(s.takenOrder, id)
	s.takenMu.Unlock()
	s.onJob(job)
}

// Forget lets scanID's job through to onJob again: the handler gave it up before the console
// knew the node took it (it could not report the scan running), so the next hello's copy
// should run. Safe from any goroutine.
func (s *Subscription) Forget(scanID string) {
	s.takenMu.Lock()
	defer s.takenMu.Unlock()
	if _, ok := s.taken[scanID]; !ok {
		return
	}
	delete(s.taken, scanID)
	s.takenOrder = slices.DeleteFunc(s.takenOrder, func(id string) bool { return id == scanID })
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
	if reason := s.checkJob(job); reason != "" {
		return nil, reason
	}
	return job, ""
}

// checkJob says why job is not one for this node, or "" when it is.
func (s *Subscription) checkJob(job *sensorv1.Job) string {
	if job.GetScanId() == "" {
		return "job has no scan id"
	}
	if job.GetNodeId() != s.nodeID {
		return fmt.Sprintf("job for scan %s is addressed to node %q, not this node", job.GetScanId(), job.GetNodeId())
	}
	return ""
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
