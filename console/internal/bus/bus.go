// Package bus is the console's side of the job bus: an embedded NATS server with JetStream
// (or a connection to an external cluster), the PALISADE_JOBS stream that keeps every job
// until its node reports on the scan, and publishing of jobs and control commands. A node
// receives its jobs live on its job subject and, for those published while it was away, from
// the console's answer to its hello (PendingJobs). In embedded mode every client
// authenticates with a certificate issued by the console's CA: the console itself gets full
// permissions, a node may only receive its own jobs and commands and publish nothing.
// With an external cluster in operator (JWT) mode the console holds an account signing key and
// issues each node a user JWT with exactly those permissions (NodeCredentials). The stream is
// replicated on three servers when the JetStream cluster has at least three.
package bus

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/palisadehq/palisade/console/internal/pki"
	"github.com/palisadehq/palisade/pkg/jobs"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Defaults.
const (
	// DefaultListen is where the embedded server listens when Config.Listen is empty.
	DefaultListen = ":4222"
	// DefaultKeepJobs is how long the stream keeps a job, taken or not, when Config.KeepJobs
	// is unset: the console's default job expiry (24 h) and an hour more.
	DefaultKeepJobs = 25 * time.Hour
	// DuplicateWindow is how long a scan id is remembered to drop a job published twice.
	DuplicateWindow = 2 * time.Minute

	readyTimeout   = 10 * time.Second
	consoleName    = "palisade-console"
	serverName     = "palisade-console"
	nodeUserPrefix = "node:"
)

// Publishing a job: one attempt is bounded by publishAttemptTimeout; PublishJob tries again
// after publishRetryMin, doubling up to publishRetryMax, until its context ends.
const (
	publishAttemptTimeout = 2 * time.Second
	publishRetryMin       = 50 * time.Millisecond
	publishRetryMax       = time.Second
	// errCodeClusterUnavailable is the JetStream API error of a cluster without a leader
	// for the moment.
	errCodeClusterUnavailable jetstream.ErrorCode = 10008
)

// Log field names.
const (
	logFieldURL     = "url"
	logFieldNode    = "node_id"
	logFieldRemote  = "remote"
	logFieldSubject = "subject"
	logFieldScan    = "scan_id"
)

// Config says how the bus runs.
type Config struct {
	// DataDir is the console's data directory; JetStream keeps its files in DataDir/nats.
	DataDir string
	// Listen is host:port where the embedded server accepts sensors; port 0 picks a free
	// port (see URLs). Empty means DefaultListen.
	Listen string
	// Advertise are the URLs handed to sensors (nats://host:port). Empty means: the listen
	// host when it is a specific address, else the first non-loopback name in the server
	// certificate, else 127.0.0.1, with the bound port.
	Advertise []string
	// Authority is the console CA; required in embedded mode.
	Authority *pki.Authority
	// ExternalURL, when set, makes the console use an external NATS server (comma-separated
	// URLs) instead of the embedded one; ExternalCredsFile is its credentials file.
	ExternalURL       string
	ExternalCredsFile string
	// ExternalTLS, when set, is the TLS configuration for the external server (a private CA
	// or a client certificate); without it the URL scheme and the system roots decide.
	ExternalTLS *tls.Config
	// AccountSeedFile, with ExternalURL, names a file holding the nkey seed of the NATS
	// account the console and the nodes use, or of one of its signing keys (not a scoped
	// one). The console then issues each node its own credentials (NodeCredentials) and, when
	// ExternalCredsFile is empty, itself too.
	AccountSeedFile string
	// Account is the account's public key; needed only when AccountSeedFile holds a signing
	// key rather than the account's own key.
	Account string
	// Replicas is the stream's replication factor; 0 means 3 when the JetStream cluster has
	// at least three servers, else 1.
	Replicas int
	// AllowNode, when set, is asked on every node connection; false refuses it (for example
	// for a node that was removed).
	AllowNode func(nodeID string) bool
	// KeepJobs is how long the stream keeps a job, taken or not; 0 means DefaultKeepJobs. It
	// should outlast the console's job expiry, after which an untaken job is useless.
	KeepJobs time.Duration
	// Logger receives the bus's and the embedded server's logs; nil discards.
	Logger *zap.Logger
}

// Bus is the running job bus. Its methods are safe for concurrent use.
type Bus struct {
	log  *zap.Logger
	srv  *server.Server // nil with an external server
	nc   *nats.Conn
	js   jetstream.JetStream
	urls []string
	// keepJobs is the stream's maximum message age.
	keepJobs time.Duration
	// issuer signs node credentials; nil unless Config.AccountSeedFile is set.
	issuer *issuer
	// replicas is the stream's replication factor once ensureStream has run.
	replicas int
	// settler drops taken jobs from the stream; nil until Start succeeds.
	settler *settler
	// publishing counts the PublishJobs calls under way; the settler waits while there are.
	publishing atomic.Int32
}

// Start starts the embedded server (or connects to the external one), connects the console to
// it and makes sure the jobs stream exists. The bus runs until Close.
func Start(ctx context.Context, cfg Config) (*Bus, error) {
	b := &Bus{log: cfg.Logger, keepJobs: cfg.KeepJobs}
	if b.log == nil {
		b.log = zap.NewNop()
	}
	if b.keepJobs <= 0 {
		b.keepJobs = DefaultKeepJobs
	}
	if cfg.Replicas < 0 || cfg.Replicas > 5 {
		return nil, fmt.Errorf("bus: --nats-replicas %d is out of range; use 1 to 5, or 0 to choose from the cluster size", cfg.Replicas)
	}
	if cfg.AccountSeedFile != "" && cfg.ExternalURL == "" {
		return nil, errors.New("bus: --nats-account-seed-file needs --nats-url: the embedded NATS server authenticates nodes by certificate")
	}
	var err error
	if cfg.ExternalURL != "" {
		err = b.connectExternal(cfg)
	} else {
		err = b.startEmbedded(cfg)
	}
	if err != nil {
		b.Close()
		return nil, err
	}
	// An asynchronous publish not acknowledged within asyncAckTimeout fails, and PublishJobs
	// publishes it again.
	if b.js, err = jetstream.New(b.nc, jetstream.WithPublishAsyncTimeout(asyncAckTimeout), jetstream.WithPublishAsyncMaxPending(publishWindow)); err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: %w", err)
	}
	if err := b.ensureStream(ctx, cfg.Replicas); err != nil {
		b.Close()
		return nil, err
	}
	b.settler = newSettler(b.log.Named("settle"), b.js, func() bool { return b.publishing.Load() > 0 })
	return b, nil
}

// Settle drops scanID's job from nodeID's jobs in the stream, in the background. The console
// calls it when the node reports on the scan, which means the node took its job. A job not
// settled (the console stopped first, say) leaves the stream with age (Config.KeepJobs).
func (b *Bus) Settle(nodeID, scanID string) {
	if b.settler != nil && scanID != "" && jobs.ValidateNodeID(nodeID) == nil {
		b.settler.add(taken{node: nodeID, scan: scanID})
	}
}

func (b *Bus) startEmbedded(cfg Config) error {
	if cfg.Authority == nil {
		return errors.New("bus: the console CA is required to run the embedded NATS server")
	}
	if cfg.DataDir == "" {
		return errors.New("bus: a data directory is required for the embedded NATS server's JetStream files")
	}
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultListen
	}
	host, port, err := splitListen(listen)
	if err != nil {
		return err
	}
	if port != 0 {
		if err := checkFree(listen); err != nil {
			return err
		}
	}
	tlsCfg := cfg.Authority.ServerTLSConfig()
	tlsCfg.ClientAuth = tls.RequireAndVerifyClientCert
	opts := &server.Options{
		ServerName:  serverName,
		Host:        host,
		Port:        port,
		NoSigs:      true,
		MaxPayload:  jobs.MaxJobBytes,
		JetStream:   true,
		StoreDir:    filepath.Join(cfg.DataDir, "nats"),
		TLS:         true,
		TLSVerify:   true,
		TLSConfig:   tlsCfg,
		TLSTimeout:  5,
		AuthTimeout: 5,
		CustomClientAuthentication: &authenticator{
			log:       b.log.Named("nats-auth"),
			allowNode: cfg.AllowNode,
		},
	}
	if port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return fmt.Errorf("bus: configure embedded NATS server: %w", err)
	}
	srv.SetLoggerV2(&serverLogger{log: b.log.Named("nats").Sugar()}, false, false, false)
	b.srv = srv
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		return fmt.Errorf("bus: the embedded NATS server did not start listening on %s within %s; check that the address is free or choose another with --nats-addr", listen, readyTimeout)
	}
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("bus: the embedded NATS server reports no TCP address")
	}
	leaf := cfg.Authority.ServerCertificate().Leaf
	b.urls = advertise(cfg.Advertise, host, addr.Port, leaf.DNSNames)

	// The console talks to its own server in process: no socket, no TLS, no system call per
	// flush. Its 10,000 job publishes and their acknowledgements are most of what a large
	// start asks of the server, beside delivering each job to its node.
	b.nc, err = nats.Connect("", append(b.connOptions(), nats.InProcessServer(srv))...)
	if err != nil {
		return fmt.Errorf("bus: connect the console to its embedded NATS server: %w", err)
	}
	b.log.Info("embedded NATS server ready", zap.Strings(logFieldURL, b.urls))
	return nil
}

func (b *Bus) connectExternal(cfg Config) error {
	opts := b.connOptions()
	if cfg.AccountSeedFile != "" {
		is, err := loadIssuer(cfg.AccountSeedFile, cfg.Account, time.Now)
		if err != nil {
			return err
		}
		b.issuer = is
	}
	switch {
	case cfg.ExternalCredsFile != "":
		opts = append(opts, nats.UserCredentials(cfg.ExternalCredsFile))
	case b.issuer != nil:
		// The console's own user: everything the account allows. Its seed lives only in
		// this process.
		creds, err := b.issuer.credentials(consoleName, nil, time.Time{})
		if err != nil {
			return err
		}
		opt, err := jobs.Credentials(creds)
		if err != nil {
			return fmt.Errorf("bus: %w", err)
		}
		opts = append(opts, opt)
	}
	if cfg.ExternalTLS != nil {
		opts = append(opts, nats.Secure(cfg.ExternalTLS))
	}
	nc, err := nats.Connect(cfg.ExternalURL, opts...)
	if err != nil {
		return fmt.Errorf("bus: connect to the NATS server at %s (--nats-url): %w", redactURLs(cfg.ExternalURL), err)
	}
	b.nc = nc
	if len(cfg.Advertise) > 0 {
		b.urls = cfg.Advertise
	} else {
		for _, u := range strings.Split(cfg.ExternalURL, ",") {
			if u = strings.TrimSpace(u); u != "" {
				b.urls = append(b.urls, redactURLs(u))
			}
		}
	}
	b.log.Info("connected to external NATS server", zap.Strings(logFieldURL, b.urls))
	return nil
}

func (b *Bus) connOptions() []nats.Option {
	return []nats.Option{
		nats.Name(consoleName),
		nats.MaxReconnects(-1),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			b.log.Warn("NATS error", zap.String(logFieldSubject, subject), zap.Error(err))
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("console disconnected from NATS", zap.Error(err))
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) {
			b.log.Info("console reconnected to NATS", zap.String(logFieldURL, c.ConnectedUrlRedacted()))
		}),
	}
}

// URLs returns the NATS URLs sensors should connect to.
func (b *Bus) URLs() []string { return append([]string(nil), b.urls...) }

// Conn returns the console's own connection (full permissions).
func (b *Bus) Conn() *nats.Conn { return b.nc }

// RemoveNode deletes the jobs still stored for the node. Removing a node that has none is
// not an error.
func (b *Bus) RemoveNode(ctx context.Context, nodeID string) error {
	if err := jobs.ValidateNodeID(nodeID); err != nil {
		return fmt.Errorf("bus: %w", err)
	}
	st, err := b.js.Stream(ctx, jobs.StreamName)
	if err != nil {
		return fmt.Errorf("bus: %w", err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(jobs.JobSubject(nodeID))); err != nil {
		return fmt.Errorf("bus: purge the jobs of node %s: %w", nodeID, err)
	}
	return nil
}

// encodeJob checks a job and encodes it for the stream.
func encodeJob(job *sensorv1.Job) ([]byte, error) {
	if err := jobs.ValidateNodeID(job.GetNodeId()); err != nil {
		return nil, fmt.Errorf("bus: publish job: %w", err)
	}
	if job.GetScanId() == "" {
		return nil, errors.New("bus: publish job: the job has no scan id")
	}
	data, err := proto.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("bus: publish job for scan %s: %w", job.GetScanId(), err)
	}
	if len(data) > jobs.MaxJobBytes {
		return nil, fmt.Errorf("bus: publish job for scan %s: the job is %d bytes, more than the %d allowed; scan with fewer controls", job.GetScanId(), len(data), jobs.MaxJobBytes)
	}
	return data, nil
}

// PublishJob stores the job in the stream for its node and returns once JetStream has
// acknowledged it. The scan id is the message id, so publishing the same job again within
// DuplicateWindow stores it once.
func (b *Bus) PublishJob(ctx context.Context, job *sensorv1.Job) error {
	data, err := encodeJob(job)
	if err != nil {
		return err
	}
	if b.settler != nil {
		// Published again (a second copy is possible after DuplicateWindow): settling finds
		// every copy by reading the node's jobs.
		b.settler.forget(job.GetNodeId(), job.GetScanId())
	}
	// A server of a cluster going away, or the stream electing a new leader, makes a publish
	// go unanswered for a moment. The scan id deduplicates, so trying again until ctx ends
	// stores the job once.
	wait := publishRetryMin
	for {
		if err := ctx.Err(); err != nil {
			return jobFailure(job.GetScanId(), notSent(err), notSent(err))
		}
		msg := nats.NewMsg(jobs.JobSubject(job.GetNodeId()))
		msg.Data = data
		attemptCtx, cancel := context.WithTimeout(ctx, publishAttemptTimeout)
		_, err := b.js.PublishMsg(attemptCtx, msg, jetstream.WithMsgID(job.GetScanId()), jetstream.WithExpectStream(jobs.StreamName))
		cancel()
		if err == nil {
			return nil
		}
		if !retryablePublish(err) || ctx.Err() != nil {
			return jobFailure(job.GetScanId(), err, err)
		}
		b.log.Info("publishing a job went unanswered; trying again", zap.String(logFieldScan, job.GetScanId()), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return jobFailure(job.GetScanId(), fmt.Errorf("%w (last attempt: %w)", ctx.Err(), err), err)
		case <-t.C:
		}
		wait = min(wait*2, publishRetryMax)
	}
}

// publishWindow is how many jobs PublishJobs keeps published but not yet acknowledged.
const publishWindow = 512

// asyncAckTimeout is how long an asynchronously published job waits for its acknowledgement
// before it is published again. It is longer than publishAttemptTimeout because the job waits
// behind up to publishWindow others, and a server busy with thousands of nodes acknowledges a
// window slowly but steadily; publishing again too early only adds duplicates to its queue.
const asyncAckTimeout = 10 * time.Second

// PublishJobs stores many jobs in the stream, as PublishJob does one, and returns once each
// has been acknowledged or has failed: errs[i] is nil when batch[i] is stored, else what went
// wrong (without the scan id, which the caller knows, so that one cause reads the same for
// every job it failed). Jobs are published asynchronously with up to publishWindow awaiting
// their acknowledgement, so the round trips overlap. Jobs whose publish failed in a way a
// retry may cure are published again after publishRetryMin, doubling up to publishRetryMax,
// until ctx ends; the scan ids deduplicate, so each job is stored once.
func (b *Bus) PublishJobs(ctx context.Context, batch []*sensorv1.Job) []error {
	b.publishing.Add(1)
	defer b.publishing.Add(-1)
	errs := make([]error, len(batch))
	data := make([][]byte, len(batch))
	var pending []int
	for i, job := range batch {
		if data[i], errs[i] = encodeJob(job); errs[i] == nil {
			pending = append(pending, i)
		}
	}
	wait := publishRetryMin
	for first := true; len(pending) > 0; first = false {
		b.publishAsync(ctx, batch, data, pending, errs, first)
		var again []int
		for _, i := range pending {
			if errs[i] != nil && retryablePublish(errs[i]) {
				again = append(again, i)
			}
		}
		if len(again) == 0 || ctx.Err() != nil {
			break
		}
		b.log.Info("publishing jobs went unanswered; trying again", zap.Int("jobs", len(again)), zap.Error(errs[again[0]]))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(wait*2, publishRetryMax)
		pending = again
	}
	for _, i := range pending {
		if last := errs[i]; last != nil {
			err := last
			if ctx.Err() != nil && retryablePublish(last) {
				err = fmt.Errorf("%w (last attempt: %w)", ctx.Err(), last)
			}
			errs[i] = publishFailure(err, last)
		}
	}
	return errs
}

// publishAsync publishes the jobs at the indexes in pending once each, keeping up to
// publishWindow unacknowledged, and sets errs[i] to the outcome of batch[i]. A collector takes
// the acknowledgements in publish order, which is about the order they arrive in. On the
// first attempt, an acknowledged job is stored once, and the settler keeps its sequence.
func (b *Bus) publishAsync(ctx context.Context, batch []*sensorv1.Job, data [][]byte, pending []int, errs []error, first bool) {
	type inFlight struct {
		i   int
		ack jetstream.PubAckFuture
	}
	window := make(chan inFlight, publishWindow)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		// Every future resolves: acknowledged, refused, or timed out after asyncAckTimeout.
		for f := range window {
			select {
			case ack := <-f.ack.Ok():
				errs[f.i] = nil
				if first && b.settler != nil {
					b.settler.remember(batch[f.i].GetNodeId(), batch[f.i].GetScanId(), ack.Sequence)
				}
			case err := <-f.ack.Err():
				errs[f.i] = err
			}
		}
	}()
	for _, i := range pending {
		if err := ctx.Err(); err != nil {
			errs[i] = notSent(err)
			continue
		}
		msg := nats.NewMsg(jobs.JobSubject(batch[i].GetNodeId()))
		msg.Data = data[i]
		ack, err := b.js.PublishMsgAsync(msg, jetstream.WithMsgID(batch[i].GetScanId()), jetstream.WithExpectStream(jobs.StreamName))
		if err != nil {
			errs[i] = err
			continue
		}
		window <- inFlight{i: i, ack: ack}
	}
	close(window)
	<-collected
}

// retryablePublish reports whether a failed publish may succeed when tried again: nobody
// answered (no stream leader for a moment, or the connection is moving to another server), or
// the cluster said it is briefly unavailable.
func retryablePublish(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == errCodeClusterUnavailable
	}
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrAsyncPublishTimeout) || errors.Is(err, jetstream.ErrTooManyStalledMsgs) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrDisconnected)
}

// notSent is the error of a job never sent because the caller's context ended first. It does
// not wrap the context's error, so that unconfirmed and retryablePublish see it for what it
// is: nothing was stored.
func notSent(ctxErr error) error {
	return fmt.Errorf("not sent: %v", ctxErr)
}

// unconfirmed reports whether a failed publish may have stored the job all the same: the
// message left, and the answer did not come back in time or the connection dropped before it
// did. A refusal, no responders or a publish that never left did not store it.
func unconfirmed(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrDisconnected)
}

// publishFailure is the error of a job that could not be published, marked
// jobs.ErrUnconfirmed when last, its last attempt's error, says the job may be stored.
func publishFailure(err, last error) error {
	if unconfirmed(last) {
		return fmt.Errorf("bus: publish job: %w: %w", jobs.ErrUnconfirmed, err)
	}
	return fmt.Errorf("bus: publish job: %w", err)
}

// jobFailure is publishFailure naming the scan, for PublishJob.
func jobFailure(scanID string, err, last error) error {
	if unconfirmed(last) {
		return fmt.Errorf("bus: publish job for scan %s: %w: %w", scanID, jobs.ErrUnconfirmed, err)
	}
	return fmt.Errorf("bus: publish job for scan %s: %w", scanID, err)
}

// PublishCommand sends a command to a node on its control subject. Commands are not stored: a
// node that is offline misses it (and learns the scan's state when it reports on it).
func (b *Bus) PublishCommand(ctx context.Context, nodeID string, cmd *sensorv1.Command) error {
	if err := jobs.ValidateNodeID(nodeID); err != nil {
		return fmt.Errorf("bus: publish command: %w", err)
	}
	data, err := proto.Marshal(cmd)
	if err != nil {
		return fmt.Errorf("bus: publish command for scan %s: %w", cmd.GetScanId(), err)
	}
	if err := b.nc.Publish(jobs.ControlSubject(nodeID), data); err != nil {
		return fmt.Errorf("bus: publish command for scan %s: %w", cmd.GetScanId(), err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, readyTimeout)
		defer cancel()
	}
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("bus: publish command for scan %s: %w", cmd.GetScanId(), err)
	}
	return nil
}

// Close disconnects the console and shuts the embedded server down, waiting for it to stop.
func (b *Bus) Close() {
	if b.settler != nil {
		b.settler.close()
	}
	if b.nc != nil {
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

// splitListen parses host:port for the embedded server.
func splitListen(listen string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("bus: --nats-addr %q is not host:port: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bus: --nats-addr %q has an invalid port; use 0 to 65535 (0 picks a free port)", listen)
	}
	return host, port, nil
}

// checkFree fails with an error naming the flag when listen cannot be bound. The server
// itself only logs such a failure, so this turns it into a clear startup error.
func checkFree(listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("bus: the embedded NATS server cannot listen on %s because the address is in use; choose another with --nats-addr (port 0 picks a free one) or use an existing server with --nats-url", listen)
		}
		return fmt.Errorf("bus: the embedded NATS server cannot listen on %s (--nats-addr): %w", listen, err)
	}
	return ln.Close()
}

// advertise decides the URLs handed to sensors.
func advertise(given []string, host string, port int, certDNS []string) []string {
	if len(given) > 0 {
		return append([]string(nil), given...)
	}
	ip := net.ParseIP(host)
	if host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		for _, d := range certDNS {
			if d != "localhost" {
				host = d
				break
			}
		}
	}
	return []string{"nats://" + net.JoinHostPort(host, strconv.Itoa(port))}
}

// redactURLs hides passwords in NATS URLs for logs and errors.
func redactURLs(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}
