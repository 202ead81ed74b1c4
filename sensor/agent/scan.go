package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/engine"
	"github.com/palisadehq/palisade/pkg/jobs"
	"github.com/palisadehq/palisade/pkg/retry"
	"github.com/palisadehq/palisade/pkg/wire"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

type scanConfig struct {
	client                 sensorv1.SensorServiceClient
	job                    *sensorv1.Job
	root                   string
	log                    *zap.Logger
	minBackoff, maxBackoff time.Duration
	// giveBack, when set, lets the job come again: called when the scan could not be
	// reported running, so the console still waits for the node to take it.
	giveBack func()
}

// defaultBatchSize is used when a job does not say.
const defaultBatchSize = 2000

// maxBatchBytes is the most encoded bytes of results a batch holds, whatever the job's batch
// size (a single larger result goes alone): half the largest message the console accepts, so
// that results with long evidence do not make a batch the console must refuse.
const maxBatchBytes = 4 << 20

// runScan evaluates a job's controls and streams the results until the final batch is
// acknowledged, the console ends the scan, or ctx is cancelled.
func runScan(ctx context.Context, sc scanConfig) {
	job := sc.job
	scanID := job.GetScanId()
	// Reports use a context that survives the scan's cancellation.
	bg := context.WithoutCancel(ctx)
	update := func(req *sensorv1.UpdateScanRequest) (sensorv1.ScanState, error) {
		req.ScanId = scanID
		backoff := sc.minBackoff
		for attempt := 0; ; attempt++ {
			rctx, cancel := context.WithTimeout(bg, 10*time.Second)
			resp, err := sc.client.UpdateScan(rctx, req)
			cancel()
			if err == nil {
				return resp.GetState(), nil
			}
			if !retry.Retryable(err) || attempt >= 8 {
				return 0, err
			}
			if !retry.Sleep(bg, retry.Jitter(backoff)) {
				return 0, err
			}
			backoff = min(backoff*2, sc.maxBackoff)
		}
	}
	fail := func(msg string) {
		sc.log.Warn("scan failed", zap.String("reason", msg))
		if _, err := update(&sensorv1.UpdateScanRequest{State: sensorv1.ScanState_SCAN_STATE_FAILED, Message: msg}); err != nil {
			sc.log.Warn("could not report failure", zap.Error(err))
		}
	}

	ctls, err := jobControls(job)
	if err != nil {
		fail(err.Error())
		return
	}
	eng, err := engine.New(engine.Options{Root: sc.root})
	if err != nil {
		fail("check engine: " + err.Error())
		return
	}
	total := uint32(len(ctls))
	state, err := update(&sensorv1.UpdateScanRequest{State: sensorv1.ScanState_SCAN_STATE_RUNNING, ControlsTotal: total})
	if err != nil {
		sc.log.Warn("could not report running; the job comes again with a later hello", zap.Error(err))
		if sc.giveBack != nil {
			sc.giveBack()
		}
		return
	}
	if state != sensorv1.ScanState_SCAN_STATE_RUNNING {
		sc.log.Info("scan is no longer wanted", zap.String("state", state.String()))
		return
	}
	sc.log.Info("scan started", zap.Uint32("controls", total))

	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	batchSize := int(job.GetBatchSize())
	if batchSize <= 0 {
		batchSize = defaultBatchSize
	}
	up := newUploader(sc.client, scanID, batchSize, sc.log, sc.minBackoff, sc.maxBackoff)
	upErr := make(chan error, 1)
	go func() { upErr <- up.run(runCtx) }()

	var done atomic.Uint32
	hbEvery := time.Duration(max(1, job.GetHeartbeatSeconds())) * time.Second
	hbStop := make(chan struct{})
	var hbWG sync.WaitGroup
	hbWG.Add(1)
	go func() {
		defer hbWG.Done()
		t := time.NewTicker(hbEvery)
		defer t.Stop()
		for {
			select {
			case <-hbStop:
				return
			case <-runCtx.Done():
				return
			case <-t.C:
				st, err := update(&sensorv1.UpdateScanRequest{ControlsDone: done.Load(), ControlsTotal: total})
				if err != nil {
					sc.log.Warn("heartbeat failed", zap.Error(err))
					continue
				}
				if st != sensorv1.ScanState_SCAN_STATE_RUNNING {
					cancelRun(fmt.Errorf("the console ended the scan (%s)", wire.EnumName(st.String(), "SCAN_STATE_")))
					return
				}
			}
		}
	}()

	// A large start spreads its nodes' evaluation over a while; heartbeats go on meanwhile,
	// and a stop ends the wait as it would the evaluation.
	runErr := splayWait(runCtx, job, sc.log)
	start := time.Now()
	if runErr == nil {
		runErr = eng.Run(runCtx, ctls, func(o engine.Outcome) {
			for _, r := range o.Results {
				up.add(resultToProto(r))
			}
			done.Add(1)
		})
	}
	if runErr == nil {
		up.finish()
		sc.log.Info("scan evaluated", zap.Duration("took", time.Since(start)), zap.Uint64("results", up.count()))
	}
	var uerr error
	if runErr == nil {
		uerr = <-upErr
	}
	close(hbStop)
	cancelRun(nil)
	hbWG.Wait()
	if runErr != nil {
		<-upErr
	}

	cause := context.Cause(runCtx)
	switch {
	case runErr == nil && uerr == nil:
		sc.log.Info("scan complete", zap.Duration("took", time.Since(start)))
	case errors.Is(context.Cause(ctx), errStopped):
		sc.log.Info("scan stopped by the console")
		if _, err := update(&sensorv1.UpdateScanRequest{State: sensorv1.ScanState_SCAN_STATE_CANCELLED, Message: "stopped by the console"}); err != nil {
			sc.log.Warn("could not report cancellation", zap.Error(err))
		}
	case ctx.Err() != nil:
		fail("the sensor shut down during the scan")
	case runErr != nil && cause != nil && !errors.Is(cause, context.Canceled):
		sc.log.Info("scan ended", zap.Error(cause))
	case runErr != nil:
		fail("evaluation: " + runErr.Error())
	default:
		fail("result upload: " + uerr.Error())
	}
}

// splayWait waits a random time up to the job's splay_millis, or until ctx ends (its error).
func splayWait(ctx context.Context, job *sensorv1.Job, log *zap.Logger) error {
	d := jobs.Splay(job, time.Now())
	if d <= 0 {
		return nil
	}
	log.Info("waiting before evaluating: the start spreads its nodes", zap.Duration("wait", d))
	if !retry.Sleep(ctx, d) {
		return ctx.Err()
	}
	return nil
}

// jobControls returns the controls job asks for, resolved against the built-in catalogue.
func jobControls(job *sensorv1.Job) ([]*catalog.Control, error) {
	cat, err := catalog.Default()
	if err != nil {
		return nil, err
	}
	return jobs.Controls(job, cat)
}

func resultToProto(r engine.Result) *sensorv1.Result {
	out := &sensorv1.Result{ControlId: r.ControlID, Resource: r.Resource, Status: wire.StatusToProto(r.Status), Reason: r.Reason}
	for _, e := range r.Evidence {
		out.Evidence = append(out.Evidence, &sensorv1.Evidence{Source: e.Source, Line: uint32(max(0, e.Line)), Key: e.Key, Actual: e.Actual, Expected: e.Expected})
	}
	if out.Resource == "" {
		out.Resource = "host"
	}
	return out
}

// errRejected marks a batch the console refused; sending it again cannot help.
var errRejected = errors.New("batch rejected by the console")

// uploader queues a scan's results in numbered batches and streams them to the console,
// dropping each batch only once the console acknowledges its commit. After a broken stream
// it opens a new one and resends every batch not yet acknowledged, in order.
type uploader struct {
	client                 sensorv1.SensorServiceClient
	scanID                 string
	size                   int
	log                    *zap.Logger
	minBackoff, maxBackoff time.Duration

	// mu guards everything below.
	mu      sync.Mutex
	cur     []*sensorv1.Result
	curSize int                     // encoded bytes of cur
	queue   []*sensorv1.ResultBatch // sealed and not yet acknowledged, by seq
	nextSeq uint64
	total   uint64
	changed chan struct{} // closed and replaced whenever queue grows
}

func newUploader(client sensorv1.SensorServiceClient, scanID string, size int, log *zap.Logger, minB, maxB time.Duration) *uploader {
	return &uploader{client: client, scanID: scanID, size: size, log: log, minBackoff: minB, maxBackoff: maxB, nextSeq: 1, changed: make(chan struct{})}
}

func (u *uploader) add(r *sensorv1.Result) {
	u.mu.Lock()
	defer u.mu.Unlock()
	size := protowire.SizeBytes(proto.Size(r)) + 1 // the field's tag, length and bytes
	if len(u.cur) > 0 && u.curSize+size > maxBatchBytes {
		u.seal(false)
	}
	u.cur = append(u.cur, r)
	u.curSize += size
	u.total++
	if len(u.cur) >= u.size {
		u.seal(false)
	}
}

// finish seals the last batch, marked final with the scan's result count.
func (u *uploader) finish() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seal(true)
}

func (u *uploader) count() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.total
}

// seal queues the results added since the last batch as the next batch, in the order of the
// console's results key (control id, then resource, comparing bytes; results with one key keep
// the order they came in, since the console stores the first). The console sorts a batch that
// is not in that order before storing it, on cores that serve the whole fleet; sorted here, on
// the host the results come from, the console only checks the order.
func (u *uploader) seal(final bool) {
	slices.SortStableFunc(u.cur, func(x, y *sensorv1.Result) int {
		if c := strings.Compare(x.GetControlId(), y.GetControlId()); c != 0 {
			return c
		}
		return strings.Compare(x.GetResource(), y.GetResource())
	})
	b := &sensorv1.ResultBatch{ScanId: u.scanID, Seq: u.nextSeq, Results: u.cur, Final: final}
	if final {
		b.TotalResults = u.total
	}
	u.nextSeq++
	u.cur, u.curSize = nil, 0
	u.queue = append(u.queue, b)
	close(u.changed)
	u.changed = make(chan struct{})
}

// run streams batches until the final one is acknowledged.
func (u *uploader) run(ctx context.Context) error {
	backoff := u.minBackoff
	for {
		if err := u.waitFor(ctx, func() bool { return len(u.queue) > 0 }); err != nil {
			return err
		}
		done, err := u.stream(ctx)
		if done {
			return nil
		}
		if errors.Is(err, errRejected) || ctx.Err() != nil {
			return err
		}
		u.log.Warn("result stream broken; resending unacknowledged batches", zap.Error(err), zap.Duration("after", backoff))
		if !retry.Sleep(ctx, retry.Jitter(backoff)) {
			return ctx.Err()
		}
		backoff = min(backoff*2, u.maxBackoff)
	}
}

// waitFor blocks until cond (called with mu held) holds or ctx ends.
func (u *uploader) waitFor(ctx context.Context, cond func() bool) error {
	for {
		u.mu.Lock()
		ok, ch := cond(), u.changed
		u.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// stream runs one result stream; done reports that the final batch was acknowledged.
func (u *uploader) stream(ctx context.Context) (done bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := u.client.StreamResults(sctx)
	if err != nil {
		return false, err
	}
	u.mu.Lock()
	lastSent := u.queue[0].GetSeq() - 1
	u.mu.Unlock()
	sendDone := make(chan error, 1)
	go func() {
		for {
			var next *sensorv1.ResultBatch
			err := u.waitFor(sctx, func() bool {
				for _, b := range u.queue {
					if b.GetSeq() == lastSent+1 {
						next = b
						return true
					}
				}
				return false
			})
			if err != nil {
				sendDone <- err
				return
			}
			if err := s.Send(next); err != nil {
				sendDone <- err
				return
			}
			lastSent = next.GetSeq()
			if next.GetFinal() {
				sendDone <- s.CloseSend()
				return
			}
		}
	}()
	defer func() {
		cancel()
		<-sendDone
	}()
	for {
		ack, err := s.Recv()
		if err != nil {
			return false, err
		}
		u.mu.Lock()
		if len(u.queue) == 0 || u.queue[0].GetSeq() != ack.GetSeq() {
			u.mu.Unlock()
			return false, fmt.Errorf("acknowledgement for batch %d out of order", ack.GetSeq())
		}
		b := u.queue[0]
		u.queue = u.queue[1:]
		u.mu.Unlock()
		if ack.GetError() != "" {
			return false, fmt.Errorf("%w: batch %d: %s", errRejected, ack.GetSeq(), ack.GetError())
		}
		if b.GetFinal() {
			return true, nil
		}
	}
}
