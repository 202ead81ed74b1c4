package loadgen

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/palisadehq/palisade/pkg/enrolment"
	"github.com/palisadehq/palisade/pkg/jobs"
	"github.com/palisadehq/palisade/pkg/retry"
	"github.com/palisadehq/palisade/pkg/wire"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// connBufferSize is the read and write buffer of each node's gRPC connection: simulated nodes
// send small messages, and ten thousand connections with the default 32 KiB buffers would
// cost more memory than the rest of the node.
const connBufferSize = 8 << 10

// Retry bounds for calls a busy console may refuse for a while.
const (
	maxAttempts = 8
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 5 * time.Second
	callTimeout = 30 * time.Second
)

// node is one simulated sensor.
type node struct {
	f      *fleet
	index  int
	id     string
	facts  *sensorv1.NodeFacts
	conn   *grpc.ClientConn
	client sensorv1.SensorServiceClient
	nc     *nats.Conn
	sub    *jobs.Subscription

	// mu guards running, the cancel functions of the node's running jobs by scan id.
	mu      sync.Mutex
	running map[string]context.CancelFunc
}

// connectNode loads or creates node i's identity, connects it over mTLS, says hello and
// subscribes to its jobs.
func (f *fleet) connectNode(ctx context.Context, i int, enrolClient func() (*grpc.ClientConn, error)) (*node, error) {
	n := &node{f: f, index: i, running: map[string]context.CancelFunc{}}
	n.facts = &sensorv1.NodeFacts{
		Hostname: fmt.Sprintf("loadgen-%05d", i), TargetType: "linux", OsId: "debian", OsVersion: "12",
		OsName: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.1.0-loadgen", Arch: "amd64", SensorVersion: "loadgen",
		// Like a real sensor, report the built-in catalogue, so jobs carry control ids only.
		CatalogVersion: f.catalogVersion,
	}
	dir := f.nodeDir(i)
	st, err := enrolment.LoadState(dir)
	switch {
	case errors.Is(err, enrolment.ErrNoState):
		conn, cerr := enrolClient()
		if cerr != nil {
			return nil, cerr
		}
		if st, err = n.enrol(ctx, conn, dir); err != nil {
			return nil, err
		}
		f.stats.enrolled.Add(1)
	case err != nil:
		return nil, fmt.Errorf("load identity from %s: %w", dir, err)
	default:
		f.stats.reused.Add(1)
	}
	n.id = st.NodeID

	tlsCfg, err := st.ClientTLSConfig(serverName(f.cfg.Console))
	if err != nil {
		return nil, fmt.Errorf("identity in %s: %w", dir, err)
	}
	n.conn, err = grpc.NewClient("passthrough:///"+f.cfg.Console,
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithReadBufferSize(connBufferSize), grpc.WithWriteBufferSize(connBufferSize),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(8<<20)))
	if err != nil {
		return nil, fmt.Errorf("console address %q: %w", f.cfg.Console, err)
	}
	n.client = sensorv1.NewSensorServiceClient(n.conn)
	fail := func(err error) (*node, error) {
		n.close()
		return nil, err
	}

	var hello *sensorv1.HelloResponse
	err = withRetries(ctx, func(ctx context.Context) error {
		var err error
		hello, err = n.client.Hello(ctx, &sensorv1.HelloRequest{Facts: n.facts, CapabilityVersion: wire.CapabilityVersion})
		return err
	})
	if err != nil {
		return fail(fmt.Errorf("hello: %w", err))
	}
	urls := hello.GetNatsUrls()
	if len(urls) == 0 {
		urls = st.NATSURLs
	}
	if len(urls) == 0 {
		return fail(errors.New("the console named no NATS server to take jobs from"))
	}
	natsTLS, err := st.ClientTLSConfig("")
	if err != nil {
		return fail(err)
	}
	n.nc, err = nats.Connect(strings.Join(urls, ","), nats.Secure(natsTLS), nats.Name("palisade-loadgen "+n.id),
		nats.MaxReconnects(-1), nats.ReconnectWait(time.Second), nats.Timeout(10*time.Second))
	if err != nil {
		return fail(fmt.Errorf("connect to NATS %v: %w", urls, err))
	}
	// The subscription lives until close; jobs run under the fleet's context, passed at
	// delivery.
	n.sub, err = jobs.Subscribe(context.WithoutCancel(ctx), n.nc, n.id,
		func(job *sensorv1.Job) { n.startJob(ctx, job) }, n.command,
		jobs.WithLogger(f.log))
	if err != nil {
		return fail(fmt.Errorf("subscribe to jobs: %w", err))
	}
	// As a real sensor does, say hello again now that the subscription exists: its answer
	// carries the jobs published before that.
	if err := withRetries(ctx, n.hello); err != nil {
		return fail(fmt.Errorf("hello: %w", err))
	}
	return n, nil
}

// enrol obtains a node identity with the enrolment token and saves it in dir.
func (n *node) enrol(ctx context.Context, conn *grpc.ClientConn, dir string) (enrolment.State, error) {
	key, csr, err := enrolment.NewKey()
	if err != nil {
		return enrolment.State{}, err
	}
	var resp *sensorv1.EnrolResponse
	err = withRetries(ctx, func(ctx context.Context) error {
		var err error
		resp, err = sensorv1.NewSensorServiceClient(conn).Enrol(ctx, &sensorv1.EnrolRequest{
			Token: n.f.cfg.Token, CsrDer: csr, Facts: n.facts, CapabilityVersion: wire.CapabilityVersion,
		})
		return err
	})
	if err != nil {
		return enrolment.State{}, fmt.Errorf("enrol with console %s: %w", n.f.cfg.Console, err)
	}
	st := enrolment.State{NodeID: resp.GetNodeId(), ConsoleAddr: n.f.cfg.Console, NATSURLs: resp.GetNatsUrls(),
		Key: key, CertPEM: resp.GetCertificatePem(), CAPEM: resp.GetCaPem()}
	if err := enrolment.SaveState(dir, st); err != nil {
		return enrolment.State{}, fmt.Errorf("save identity to %s: %w", dir, err)
	}
	return st, nil
}

func (n *node) hello(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := n.client.Hello(cctx, &sensorv1.HelloRequest{Facts: n.facts, CapabilityVersion: wire.CapabilityVersion})
	if err == nil {
		n.sub.Deliver(resp.GetPendingJobs()...)
	}
	return err
}

// close ends the subscription and both connections.
func (n *node) close() {
	n.closeSub()
	n.closeConns()
}

// closeSub ends the job subscription and waits for its handlers: no job starts afterwards.
func (n *node) closeSub() {
	if n.sub != nil {
		n.sub.Close()
	}
}

func (n *node) closeConns() {
	if n.nc != nil {
		n.nc.Close()
	}
	if n.conn != nil {
		_ = n.conn.Close()
	}
}

// command stops a running job when the console says so.
func (n *node) command(cmd *sensorv1.Command) {
	if cmd.GetAction() != sensorv1.Command_ACTION_STOP {
		return
	}
	n.mu.Lock()
	stop, ok := n.running[cmd.GetScanId()]
	n.mu.Unlock()
	if ok {
		stop()
	}
}

// startJob takes a job off the bus and runs it on a goroutine the fleet waits for.
func (n *node) startJob(ctx context.Context, job *sensorv1.Job) {
	f := n.f
	var created time.Time
	if c := job.GetCreatedAt(); c != nil {
		created = c.AsTime()
	}
	inRound := f.jobReceived(job.GetScanId(), created)
	if ctx.Err() != nil {
		f.jobDone(inRound)
		return
	}
	jobCtx, cancel := context.WithCancel(ctx)
	n.mu.Lock()
	if _, dup := n.running[job.GetScanId()]; dup {
		n.mu.Unlock()
		cancel()
		f.jobDone(inRound)
		return
	}
	n.running[job.GetScanId()] = cancel
	n.mu.Unlock()
	f.jobs.Add(1)
	go func() {
		defer f.jobs.Done()
		defer func() {
			n.mu.Lock()
			delete(n.running, job.GetScanId())
			n.mu.Unlock()
			cancel()
			f.jobDone(inRound)
		}()
		if err := n.runJob(jobCtx, job); err != nil && ctx.Err() == nil {
			f.stats.addError(fmt.Errorf("node %s scan %s: %w", n.id, job.GetScanId(), err))
			f.log.Warn("simulated scan failed", zap.String(logFieldNode, n.id), zap.String(logFieldScan, job.GetScanId()), zap.Error(err))
		}
	}()
}

// errRejected marks a batch the console refused; sending it again cannot help.
var errRejected = errors.New("batch rejected by the console")

// runJob reports running, streams the job's synthetic results with heartbeats and ends with
// the final batch.
func (n *node) runJob(ctx context.Context, job *sensorv1.Job) error {
	ids, err := n.f.controlIDs(job)
	// The controls document is by far the largest part of a job and is not needed any more;
	// with thousands of nodes busy at once, keeping it would dominate the generator's memory.
	job.Controls = nil
	if err != nil {
		n.update(ctx, &sensorv1.UpdateScanRequest{ScanId: job.GetScanId(), State: sensorv1.ScanState_SCAN_STATE_FAILED, Message: err.Error()})
		return err
	}
	if exp := job.GetExpiresAt(); exp != nil && time.Now().After(exp.AsTime()) {
		n.update(ctx, &sensorv1.UpdateScanRequest{ScanId: job.GetScanId(), State: sensorv1.ScanState_SCAN_STATE_FAILED, Message: "the job expired before the sensor took it"})
		return errors.New("the job expired before it was taken")
	}
	state, err := n.update(ctx, &sensorv1.UpdateScanRequest{ScanId: job.GetScanId(), State: sensorv1.ScanState_SCAN_STATE_RUNNING, ControlsTotal: uint32(len(ids))})
	if err != nil {
		return fmt.Errorf("report running: %w", err)
	}
	if state != sensorv1.ScanState_SCAN_STATE_RUNNING {
		return nil // the console no longer wants it (stopped or timed out)
	}
	plan := newPlan(job, ids, n.f.cfg)

	hbCtx, stopHB := context.WithCancel(ctx)
	var hbWG sync.WaitGroup
	hbWG.Add(1)
	go func() {
		defer hbWG.Done()
		every := time.Duration(max(1, job.GetHeartbeatSeconds())) * time.Second
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
				if _, err := n.update(hbCtx, &sensorv1.UpdateScanRequest{ScanId: job.GetScanId(), ControlsTotal: uint32(len(ids)), ControlsDone: uint32(len(ids) / 2)}); err != nil && hbCtx.Err() == nil {
					n.f.stats.addError(fmt.Errorf("heartbeat: %w", err))
				}
			}
		}
	}()
	// As a sensor does: wait the start's splay, then evaluate for ScanTime.
	if wait := jobs.Splay(job, time.Now()) + n.f.cfg.ScanTime; wait > 0 && !retry.Sleep(ctx, wait) {
		err = ctx.Err()
	} else {
		err = n.upload(ctx, plan)
	}
	stopHB()
	hbWG.Wait()
	if err != nil {
		n.update(context.WithoutCancel(ctx), &sensorv1.UpdateScanRequest{ScanId: job.GetScanId(), State: sensorv1.ScanState_SCAN_STATE_FAILED, Message: "result upload: " + err.Error()})
	}
	return err
}

// update sends a state change or heartbeat, retrying while the console is busy.
func (n *node) update(ctx context.Context, req *sensorv1.UpdateScanRequest) (sensorv1.ScanState, error) {
	var resp *sensorv1.UpdateScanResponse
	err := withRetries(ctx, func(ctx context.Context) error {
		var err error
		resp, err = n.client.UpdateScan(ctx, req)
		return err
	})
	return resp.GetState(), err
}

// plan describes the synthetic results of one job; batches are generated on demand, the same
// every time, so a batch resent after a broken stream is identical.
type plan struct {
	scanID string
	ids    []string
	// perControl is the number of results of each control: results come control by control,
	// perControl resources each, and in the console's key order, as a sensor sends them (ids
	// sorted, resource numbers zero-padded to width digits).
	perControl int
	width      int
	total      int
	batchSize  int
	batches    uint64
	failRatio  float64
	seed       uint64
}

func newPlan(job *sensorv1.Job, ids []string, cfg Config) plan {
	total := cfg.ControlsPerScan
	if total == 0 {
		total = len(ids)
	}
	size := cfg.BatchSize
	if size == 0 {
		size = int(job.GetBatchSize())
	}
	if size <= 0 {
		size = DefaultBatchSize
	}
	batches := uint64(max(1, (total+size-1)/size))
	sum := sha256.Sum256([]byte(job.GetScanId()))
	if !slices.IsSorted(ids) {
		ids = slices.Sorted(slices.Values(ids))
	}
	perControl := max(1, (total+len(ids)-1)/max(1, len(ids)))
	return plan{scanID: job.GetScanId(), ids: ids, perControl: perControl, width: digits(perControl - 1), total: total, batchSize: size,
		batches: batches, failRatio: cfg.FailureRatio, seed: binary.LittleEndian.Uint64(sum[:8])}
}

// The synthetic results are shaped like a real file check's (a reason and one evidence item),
// so that what is stored per result is about what a sensor sends.
const (
	passReason = "synthetic result from palisade-loadgen: PermitRootLogin is no at /etc/ssh/sshd_config:32"
	failReason = "synthetic result from palisade-loadgen: PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no"
)

// batch appends batch seq (from 1), encoded as a sensorv1.ResultBatch, to dst, and returns it
// with its number of results and of fail results. It writes the message's bytes directly: the
// load generator stands for thousands of machines on the console's own cores, so building and
// marshalling a message per result would be measured as the console's cost.
func (p plan) batch(dst []byte, seq uint64) (data []byte, results, fails int) {
	from := int(seq-1) * p.batchSize
	to := min(from+p.batchSize, p.total)
	rng := rand.New(rand.NewPCG(p.seed, seq))
	dst = protowire.AppendTag(dst, wire.FieldBatchScanID, protowire.BytesType)
	dst = protowire.AppendString(dst, p.scanID)
	dst = protowire.AppendTag(dst, wire.FieldBatchSeq, protowire.VarintType)
	dst = protowire.AppendVarint(dst, seq)
	var r, e []byte
	for i := from; i < to; i++ {
		status, reason, actual := sensorv1.Status_STATUS_PASS, passReason, "no"
		if rng.Float64() < p.failRatio {
			status, reason, actual = sensorv1.Status_STATUS_FAIL, failReason, "yes"
			fails++
		}
		e = protowire.AppendTag(e[:0], wire.FieldEvidenceSource, protowire.BytesType)
		e = protowire.AppendString(e, "/etc/ssh/sshd_config")
		e = protowire.AppendTag(e, wire.FieldEvidenceLine, protowire.VarintType)
		e = protowire.AppendVarint(e, 32)
		e = protowire.AppendTag(e, wire.FieldEvidenceKey, protowire.BytesType)
		e = protowire.AppendString(e, "PermitRootLogin")
		e = protowire.AppendTag(e, wire.FieldEvidenceActual, protowire.BytesType)
		e = protowire.AppendString(e, actual)
		e = protowire.AppendTag(e, wire.FieldEvidenceExpected, protowire.BytesType)
		e = protowire.AppendString(e, "no")

		r = protowire.AppendTag(r[:0], wire.FieldResultControlID, protowire.BytesType)
		r = protowire.AppendString(r, p.ids[i/p.perControl])
		r = protowire.AppendTag(r, wire.FieldResultResource, protowire.BytesType)
		n := i % p.perControl
		r = protowire.AppendVarint(r, uint64(len("synthetic-")+p.width))
		r = append(r, "synthetic-"...)
		for range p.width - digits(n) {
			r = append(r, '0')
		}
		r = strconv.AppendInt(r, int64(n), 10)
		r = protowire.AppendTag(r, wire.FieldResultStatus, protowire.VarintType)
		r = protowire.AppendVarint(r, uint64(status))
		r = protowire.AppendTag(r, wire.FieldResultReason, protowire.BytesType)
		r = protowire.AppendString(r, reason)
		r = protowire.AppendTag(r, wire.FieldResultEvidence, protowire.BytesType)
		r = protowire.AppendBytes(r, e)

		dst = protowire.AppendTag(dst, wire.FieldBatchResults, protowire.BytesType)
		dst = protowire.AppendBytes(dst, r)
	}
	if seq == p.batches {
		dst = protowire.AppendTag(dst, wire.FieldBatchFinal, protowire.VarintType)
		dst = protowire.AppendVarint(dst, 1)
		dst = protowire.AppendTag(dst, wire.FieldBatchTotalResults, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(p.total))
	}
	return dst, max(0, to-from), fails
}

// digits returns the number of decimal digits of n >= 0.
func digits(n int) int {
	d := 1
	for ; n >= 10; n /= 10 {
		d++
	}
	return d
}

// upload streams every batch of p until the final one is acknowledged, opening a new stream
// and resending what was not acknowledged when a stream breaks.
func (n *node) upload(ctx context.Context, p plan) error {
	acked := uint64(0)
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		err := n.stream(ctx, p, &acked)
		if err == nil {
			return nil
		}
		if errors.Is(err, errRejected) || ctx.Err() != nil || attempt >= maxAttempts {
			return err
		}
		if !retry.Sleep(ctx, retry.Jitter(backoff)) {
			return ctx.Err()
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// stream runs one result stream, sending batches after *acked without waiting for their
// acknowledgements and advancing *acked as they arrive.
func (n *node) stream(ctx context.Context, p plan, acked *uint64) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := n.client.StreamResults(sctx, grpc.ForceCodecV2(batchCodec{encoding.GetCodecV2("proto")}))
	if err != nil {
		return err
	}
	type sent struct{ results, fails int }
	// counts carries each sent batch's counts to the receiving loop, in order.
	counts := make(chan sent, p.batches)
	sendErr := make(chan error, 1)
	first := *acked + 1
	go func() {
		size := 0
		for seq := first; seq <= p.batches; seq++ {
			// A new buffer each time: gRPC may still be writing the last one.
			b, results, fails := p.batch(make([]byte, 0, size), seq)
			size = len(b)
			if err := s.SendMsg(encodedBatch(b)); err != nil {
				sendErr <- err
				return
			}
			counts <- sent{results, fails}
		}
		sendErr <- s.CloseSend()
	}()
	defer func() {
		cancel()
		<-sendErr
	}()
	for *acked < p.batches {
		ack, err := s.Recv()
		if err != nil {
			return err
		}
		if ack.GetSeq() != *acked+1 {
			return fmt.Errorf("acknowledgement for batch %d, want %d", ack.GetSeq(), *acked+1)
		}
		if ack.GetError() != "" {
			return fmt.Errorf("%w: batch %d: %s", errRejected, ack.GetSeq(), ack.GetError())
		}
		c := <-counts
		*acked++
		n.f.stats.resultsAcked.Add(int64(c.results))
		n.f.stats.resultsFail.Add(int64(c.fails))
	}
	// Read to the end of the stream so the console finishes it cleanly; every batch is
	// acknowledged, so how the stream ends changes nothing.
	_, _ = s.Recv()
	return nil
}

// encodedBatch is a result batch already encoded, which batchCodec sends as it is.
type encodedBatch []byte

// batchCodec is gRPC's protobuf codec, except that it sends an encodedBatch's bytes as they are.
type batchCodec struct {
	encoding.CodecV2
}

// Marshal implements encoding.CodecV2.
func (c batchCodec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(encodedBatch); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.CodecV2.Marshal(v)
}

// withRetries calls fn with a per-call timeout until it succeeds, fails for good, or maxAttempts
// calls failed with errors a busy console returns.
func withRetries(ctx context.Context, fn func(context.Context) error) error {
	backoff := minBackoff
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := fn(cctx)
		cancel()
		if err == nil || !retry.Retryable(err) || attempt >= maxAttempts || ctx.Err() != nil {
			return err
		}
		if !retry.Sleep(ctx, retry.Jitter(backoff)) {
			return err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func serverName(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
