// Package agent is the sensor's long-running loop: enrol once, then keep a mutual-TLS session
// with the console and a NATS subscription for the node's jobs, run each job with the check
// engine and stream its results back in acknowledged batches, resending whatever was not
// acknowledged after a reconnect.
package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/enrolment"
	"github.com/palisadehq/palisade/pkg/jobs"
	"github.com/palisadehq/palisade/pkg/retry"
	"github.com/palisadehq/palisade/pkg/wire"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
	"github.com/palisadehq/palisade/sensor/internal/nodeinfo"
)

// Config is everything `palisade-sensor run` takes.
type Config struct {
	// Console is the console's gRPC address (host:port).
	Console string
	// Token is the enrolment token; needed only until the sensor has enrolled.
	Token string
	// StateDir keeps the node's key, certificate and id.
	StateDir string
	// HostRoot is where the inspected host's filesystem is mounted ("/" by default).
	HostRoot string
	// Hostname overrides the hostname read from the host root.
	Hostname string
	// Version is the sensor's version, reported to the console.
	Version string
	// TargetType is linux or kubernetes.
	TargetType string
	// MinBackoff and MaxBackoff bound the wait between reconnects.
	MinBackoff, MaxBackoff time.Duration
	// KeepaliveInterval is how often the sensor says hello while idle.
	KeepaliveInterval time.Duration
	// Dialer opens connections to the console (tests inject proxies); nil uses the network.
	Dialer func(ctx context.Context, addr string) (net.Conn, error)
	Logger *zap.Logger
	// OnEnrolled is called with the node id once the sensor has an identity.
	OnEnrolled func(nodeID string)
}

// Agent is a running sensor.
type Agent struct {
	cfg   Config
	log   *zap.Logger
	state enrolment.State

	// mu guards scans, the cancel functions of running scans by scan id.
	mu    sync.Mutex
	scans map[string]context.CancelFunc
	// wg counts running scans.
	wg sync.WaitGroup
}

// Run enrols if needed and serves jobs until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	a, err := newAgent(cfg)
	if err != nil {
		return err
	}
	return a.run(ctx)
}

func newAgent(cfg Config) (*Agent, error) {
	if cfg.StateDir == "" {
		return nil, errors.New("a state directory is required (--state-dir)")
	}
	if cfg.HostRoot == "" {
		cfg.HostRoot = "/"
	}
	if cfg.TargetType == "" {
		cfg.TargetType = "linux"
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.KeepaliveInterval <= 0 {
		cfg.KeepaliveInterval = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Agent{cfg: cfg, log: cfg.Logger, scans: map[string]context.CancelFunc{}}, nil
}

func (a *Agent) facts() *sensorv1.NodeFacts {
	info := nodeinfo.Read(a.cfg.HostRoot)
	if a.cfg.Hostname != "" {
		info.Hostname = a.cfg.Hostname
	}
	version := ""
	if cat, err := catalog.Default(); err == nil {
		version = cat.Version()
	}
	return &sensorv1.NodeFacts{
		Hostname: info.Hostname, TargetType: a.cfg.TargetType, OsId: info.OSID, OsVersion: info.OSVersion,
		OsName: info.OSName, Kernel: info.Kernel, Arch: info.Arch, MachineId: info.MachineID,
		SensorVersion: a.cfg.Version, CatalogVersion: version,
	}
}

func (a *Agent) run(ctx context.Context) error {
	st, err := enrolment.LoadState(a.cfg.StateDir)
	switch {
	case errors.Is(err, enrolment.ErrNoState):
		if st, err = a.enrol(ctx); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("load state from %s: %w", a.cfg.StateDir, err)
	}
	a.state = st
	if a.cfg.Console == "" {
		a.cfg.Console = st.ConsoleAddr
	}
	if a.cfg.OnEnrolled != nil {
		a.cfg.OnEnrolled(st.NodeID)
	}
	a.log.Info("sensor identity", zap.String("node", st.NodeID), zap.String("console", a.cfg.Console))

	tlsCfg, err := st.ClientTLSConfig(serverName(a.cfg.Console))
	if err != nil {
		return fmt.Errorf("load node certificate from %s: %w", a.cfg.StateDir, err)
	}
	conn, err := a.dial(tlsCfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := sensorv1.NewSensorServiceClient(conn)

	backoff := a.cfg.MinBackoff
	for {
		start := time.Now()
		err := a.session(ctx, client)
		if ctx.Err() != nil {
			a.waitScans()
			return nil
		}
		if time.Since(start) > time.Minute {
			backoff = a.cfg.MinBackoff
		}
		a.log.Warn("console session ended; reconnecting", zap.Error(err), zap.Duration("after", backoff))
		if !retry.Sleep(ctx, retry.Jitter(backoff)) {
			a.waitScans()
			return nil
		}
		backoff = min(backoff*2, a.cfg.MaxBackoff)
	}
}

// enrol obtains the node identity with the enrolment token.
func (a *Agent) enrol(ctx context.Context) (enrolment.State, error) {
	if a.cfg.Token == "" {
		return enrolment.State{}, fmt.Errorf("the sensor is not enrolled yet (no state in %s): pass --token with an enrolment token from `palisade-console token create`", a.cfg.StateDir)
	}
	if a.cfg.Console == "" {
		return enrolment.State{}, errors.New("the console address is required to enrol (--console host:port)")
	}
	tok, err := enrolment.Parse(a.cfg.Token)
	if err != nil {
		return enrolment.State{}, fmt.Errorf("enrolment token: %w", err)
	}
	key, csr, err := enrolment.NewKey()
	if err != nil {
		return enrolment.State{}, err
	}
	conn, err := a.dial(enrolment.PinnedTLSConfig(tok.CAFingerprint, serverName(a.cfg.Console)))
	if err != nil {
		return enrolment.State{}, err
	}
	defer conn.Close()
	backoff := a.cfg.MinBackoff
	for {
		resp, err := sensorv1.NewSensorServiceClient(conn).Enrol(ctx, &sensorv1.EnrolRequest{
			Token: a.cfg.Token, CsrDer: csr, Facts: a.facts(), CapabilityVersion: wire.CapabilityVersion,
		})
		if err == nil {
			st := enrolment.State{NodeID: resp.GetNodeId(), ConsoleAddr: a.cfg.Console, NATSURLs: resp.GetNatsUrls(),
				Key: key, CertPEM: resp.GetCertificatePem(), CAPEM: resp.GetCaPem()}
			if err := enrolment.SaveState(a.cfg.StateDir, st); err != nil {
				return enrolment.State{}, fmt.Errorf("save enrolment to %s: %w", a.cfg.StateDir, err)
			}
			a.log.Info("enrolled", zap.String("node", st.NodeID))
			return st, nil
		}
		if !retry.Retryable(err) {
			return enrolment.State{}, fmt.Errorf("enrol with console %s: %w", a.cfg.Console, err)
		}
		a.log.Warn("console not reachable for enrolment; retrying", zap.Error(err))
		if !retry.Sleep(ctx, retry.Jitter(backoff)) {
			return enrolment.State{}, ctx.Err()
		}
		backoff = min(backoff*2, a.cfg.MaxBackoff)
	}
}

func (a *Agent) dial(tlsCfg *tls.Config) (*grpc.ClientConn, error) {
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		// A hello's answer may carry a job with a whole catalogue document (up to the job
		// limit), beside the rest of the answer.
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(8<<20), grpc.MaxCallRecvMsgSize(jobs.MaxJobBytes+1<<20)),
	}
	if a.cfg.Dialer != nil {
		opts = append(opts, grpc.WithContextDialer(a.cfg.Dialer))
	}
	conn, err := grpc.NewClient("passthrough:///"+a.cfg.Console, opts...)
	if err != nil {
		return nil, fmt.Errorf("console address %q: %w", a.cfg.Console, err)
	}
	return conn, nil
}

// session says hello, subscribes to the node's jobs and keeps saying hello until something
// fails or ctx ends.
func (a *Agent) session(ctx context.Context, client sensorv1.SensorServiceClient) error {
	hello, err := client.Hello(ctx, &sensorv1.HelloRequest{Facts: a.facts(), CapabilityVersion: wire.CapabilityVersion})
	if err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	urls := hello.GetNatsUrls()
	if len(urls) == 0 {
		urls = a.state.NATSURLs
	}
	if len(urls) == 0 {
		return errors.New("the console named no NATS server to take jobs from")
	}
	tlsCfg, err := a.state.ClientTLSConfig("")
	if err != nil {
		return err
	}
	// After a reconnect, say hello at once: its answer carries the jobs published while the
	// connection was down.
	reconnected := make(chan struct{}, 1)
	natsOpts := []nats.Option{nats.Secure(tlsCfg), nats.Name("palisade-sensor " + a.state.NodeID),
		nats.MaxReconnects(-1), nats.ReconnectWait(time.Second), nats.Timeout(5 * time.Second),
		nats.ReconnectHandler(func(*nats.Conn) {
			select {
			case reconnected <- struct{}{}:
			default:
			}
		})}
	if creds := hello.GetNatsCredentials(); creds != "" {
		// An external cluster in operator mode: the console's credentials for this node,
		// presented together with the certificate.
		opt, err := jobs.Credentials(creds)
		if err != nil {
			return fmt.Errorf("NATS credentials from the console: %w", err)
		}
		natsOpts = append(natsOpts, opt)
	}
	nc, err := nats.Connect(strings.Join(urls, ","), natsOpts...)
	if err != nil {
		return fmt.Errorf("connect to NATS %v: %w", urls, err)
	}
	defer nc.Close()
	sessCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The handler may run before Subscribe returns; it finds the subscription through subRef.
	var subRef atomic.Pointer[jobs.Subscription]
	sub, err := jobs.Subscribe(sessCtx, nc, a.state.NodeID,
		func(job *sensorv1.Job) {
			a.startJob(ctx, client, job, func() {
				if s := subRef.Load(); s != nil {
					s.Forget(job.GetScanId())
				}
			})
		},
		a.command)
	if err != nil {
		return fmt.Errorf("subscribe to jobs: %w", err)
	}
	subRef.Store(sub)
	defer sub.Close()
	a.log.Info("waiting for jobs", zap.Strings("nats", urls))
	// Say hello again now that the subscription exists: its answer carries every job
	// published before that, including any published since the first hello.
	select {
	case reconnected <- struct{}{}:
	default: // a reconnect already asked for one
	}

	t := time.NewTicker(a.cfg.KeepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-reconnected:
		}
		if nc.IsClosed() {
			return errors.New("NATS connection closed")
		}
		resp, err := client.Hello(ctx, &sensorv1.HelloRequest{Facts: a.facts(), CapabilityVersion: wire.CapabilityVersion})
		if err != nil {
			return fmt.Errorf("hello: %w", err)
		}
		sub.Deliver(resp.GetPendingJobs()...)
	}
}

var errStopped = errors.New("stopped by the console")

// startJob takes a job off the bus and runs it in the background. giveBack lets the job come
// again (with a later hello) when the scan could not be reported running.
func (a *Agent) startJob(ctx context.Context, client sensorv1.SensorServiceClient, job *sensorv1.Job, giveBack func()) {
	log := a.log.With(zap.String("scan", job.GetScanId()))
	if exp := job.GetExpiresAt(); exp != nil && time.Now().After(exp.AsTime()) {
		log.Warn("job expired before it was taken; discarding it")
		a.report(ctx, client, job.GetScanId(), sensorv1.ScanState_SCAN_STATE_FAILED, "the job expired before the sensor took it")
		return
	}
	scanCtx, cancel := context.WithCancelCause(ctx)
	a.mu.Lock()
	if _, running := a.scans[job.GetScanId()]; running {
		a.mu.Unlock()
		cancel(nil)
		return
	}
	a.scans[job.GetScanId()] = func() { cancel(errStopped) }
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		defer func() {
			a.mu.Lock()
			delete(a.scans, job.GetScanId())
			a.mu.Unlock()
			cancel(nil)
		}()
		runScan(scanCtx, scanConfig{client: client, job: job, root: a.cfg.HostRoot, log: log, minBackoff: a.cfg.MinBackoff, maxBackoff: a.cfg.MaxBackoff, giveBack: giveBack})
	}()
}

// command handles a console command for one of the node's scans.
func (a *Agent) command(cmd *sensorv1.Command) {
	if cmd.GetAction() != sensorv1.Command_ACTION_STOP {
		a.log.Warn("ignoring unknown command", zap.String("action", cmd.GetAction().String()))
		return
	}
	a.mu.Lock()
	stop, ok := a.scans[cmd.GetScanId()]
	a.mu.Unlock()
	if ok {
		a.log.Info("stopping scan", zap.String("scan", cmd.GetScanId()))
		stop()
	}
}

func (a *Agent) report(ctx context.Context, client sensorv1.SensorServiceClient, scanID string, st sensorv1.ScanState, msg string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := client.UpdateScan(rctx, &sensorv1.UpdateScanRequest{ScanId: scanID, State: st, Message: msg}); err != nil {
		a.log.Warn("could not report scan state", zap.String("scan", scanID), zap.Error(err))
	}
}

func (a *Agent) waitScans() { a.wg.Wait() }

func serverName(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
