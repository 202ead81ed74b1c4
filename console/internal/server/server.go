// Package server assembles the console: store, certificate authority, NATS bus, scan manager,
// the gRPC listener (sensor and user services) and the HTTP listener (REST/JSON, health,
// metrics), and runs them until the context ends.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/console/internal/api"
	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/bus"
	"github.com/palisadehq/palisade/console/internal/pki"
	"github.com/palisadehq/palisade/console/internal/rest"
	"github.com/palisadehq/palisade/console/internal/scans"
	"github.com/palisadehq/palisade/console/internal/sensorapi"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/postgres"
	"github.com/palisadehq/palisade/console/internal/store/sqlite"
	"github.com/palisadehq/palisade/console/internal/web"
	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/enrolment"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Config is everything `palisade-console serve` takes.
type Config struct {
	// DataDir holds the database, the PKI, JetStream data and the local CLI credentials.
	DataDir string
	// GRPCAddr is where sensors and automation connect (TLS).
	GRPCAddr string
	// HTTPAddr serves the web UI, REST/JSON, /healthz and /metrics.
	HTTPAddr string
	// DebugAddr, when set, serves Go's runtime profiles (/debug/pprof/) there, without
	// authentication: bind it to loopback or an operator-only network.
	DebugAddr string
	// HTTPCertFile and HTTPKeyFile, both or neither, make the HTTP listener serve HTTPS
	// (TLS 1.2 or later) with this PEM certificate chain and key.
	HTTPCertFile string
	HTTPKeyFile  string
	// NATSAddr is where the embedded NATS server listens for sensors.
	NATSAddr string
	// NATSAdvertise are the NATS URLs handed to sensors; by default the listen address with
	// the host's name.
	NATSAdvertise []string
	// NATSURL points at an external NATS cluster instead of the embedded server.
	NATSURL string
	// NATSCredsFile authenticates the console to the external cluster.
	NATSCredsFile string
	// NATSAccountSeedFile holds the nkey seed of the external cluster's Palisade account (or
	// of one of its signing keys); with it the console issues each node its own NATS
	// credentials, and itself when NATSCredsFile is empty.
	NATSAccountSeedFile string
	// NATSAccount is the account's public key, when NATSAccountSeedFile holds a signing key.
	NATSAccount string
	// NATSTLS makes the console connect to the external cluster over TLS with a client
	// certificate of its own CA, verifying the servers against that CA (which sensors trust
	// too).
	NATSTLS bool
	// NATSReplicas is the jobs stream's replication factor; 0 chooses 3 on a cluster of
	// three or more JetStream servers, else 1.
	NATSReplicas int
	// DatabaseURL selects PostgreSQL (postgres://...) instead of the embedded SQLite file.
	DatabaseURL string
	// CatalogDir adds an operator's controls and benchmarks to the built-in catalogue.
	CatalogDir string
	// Hosts are extra DNS names or IPs for the server certificate.
	Hosts []string

	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration
	JobExpiry         time.Duration
	SweepInterval     time.Duration
	// RetainScans keeps at most this many scans per node; RetainFor deletes older scans.
	RetainScans int
	RetainFor   time.Duration
	// ReplicaID names this replica for the leases of background duties (random when empty).
	ReplicaID string
	// BatchSize is the number of results per batch sensors are asked to send.
	BatchSize int
	// SplayRate is how many nodes per second a scan start lets begin evaluating (see
	// scans.Config.SplayRate): 0 the default, negative all at once.
	SplayRate int
	// GRPCOptions are added to the gRPC server's options (interceptors for tests or
	// extensions).
	GRPCOptions []grpc.ServerOption

	Logger *zap.Logger
	// OnReady is called once every listener is up.
	OnReady func(Info)
}

// Info describes a running console.
type Info struct {
	DataDir  string
	GRPCAddr string
	HTTPAddr string
	// HTTPURL is the web console's base URL: https://<HTTPAddr> with a certificate, else
	// http://<HTTPAddr>.
	HTTPURL  string
	NATSURLs []string
	// DebugAddr is where runtime profiles are served; empty unless Config.DebugAddr is set.
	DebugAddr string
	// AdminPassword is set only on the first start, when the admin user is created.
	AdminPassword string
	// CLIToken is the local admin API token, also stored in <data-dir>/cli.token.
	CLIToken       string
	CAFingerprint  string
	CatalogVersion string
}

// ConsoleFile is the name of the file in the data directory that tells local clients where
// the running console listens.
const ConsoleFile = "console.json"

// CLITokenFile holds the local admin API token.
const CLITokenFile = "cli.token"

// LocalInfo is the content of ConsoleFile.
type LocalInfo struct {
	GRPCAddr string   `json:"grpc_addr"`
	HTTPAddr string   `json:"http_addr"`
	NATSURLs []string `json:"nats_urls"`
}

// Run starts the console and serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.DataDir == "" {
		return errors.New("a data directory is required (--data-dir)")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	httpTLS, err := loadHTTPTLS(cfg.HTTPCertFile, cfg.HTTPKeyFile)
	if err != nil {
		return err
	}
	cat, err := catalog.Default()
	if err != nil {
		return fmt.Errorf("load catalogue: %w", err)
	}
	if cfg.CatalogDir != "" {
		if cat, err = cat.Merge(os.DirFS(cfg.CatalogDir)); err != nil {
			return fmt.Errorf("load extra catalogue from %s (--catalog-dir): %w", cfg.CatalogDir, err)
		}
	}

	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()

	ca, err := pki.LoadOrCreate(pki.Config{Dir: filepath.Join(cfg.DataDir, "pki"), Hosts: cfg.Hosts})
	if err != nil {
		return fmt.Errorf("certificate authority: %w", err)
	}

	grpcLis, err := listen(cfg.GRPCAddr, "--grpc-addr")
	if err != nil {
		return err
	}
	defer grpcLis.Close()
	httpLis, err := listen(cfg.HTTPAddr, "--http-addr")
	if err != nil {
		return err
	}
	defer httpLis.Close()
	var debugLis net.Listener
	if cfg.DebugAddr != "" {
		if debugLis, err = listen(cfg.DebugAddr, "--debug-addr"); err != nil {
			return err
		}
		defer debugLis.Close()
	}

	var natsTLS *tls.Config
	if cfg.NATSTLS {
		if cfg.NATSURL == "" {
			return errors.New("nats: --nats-tls applies to an external cluster; give its address with --nats-url")
		}
		cert, err := ca.IssueConsoleClient()
		if err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		natsTLS = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.CAPool(), Certificates: []tls.Certificate{cert}}
	}
	b, err := bus.Start(ctx, bus.Config{
		DataDir: cfg.DataDir, Listen: cfg.NATSAddr, Advertise: cfg.NATSAdvertise, Authority: ca, ExternalURL: cfg.NATSURL,
		ExternalCredsFile: cfg.NATSCredsFile, ExternalTLS: natsTLS, AccountSeedFile: cfg.NATSAccountSeedFile,
		Account: cfg.NATSAccount, Replicas: cfg.NATSReplicas, KeepJobs: keepJobs(cfg.JobExpiry), Logger: log.Named("nats"),
	})
	if err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	defer b.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mgr, err := scans.New(scans.Config{
		Store: st, Catalog: cat, Dispatcher: b, Logger: log.Named("scans"),
		HeartbeatInterval: cfg.HeartbeatInterval, HeartbeatTimeout: cfg.HeartbeatTimeout,
		JobExpiry: cfg.JobExpiry, SweepInterval: cfg.SweepInterval, BatchSize: cfg.BatchSize, SplayRate: cfg.SplayRate, Registerer: reg,
		RetainScans: cfg.RetainScans, RetainFor: cfg.RetainFor, ReplicaID: cfg.ReplicaID,
	})
	if err != nil {
		return err
	}
	apiSrv, err := api.New(api.Config{
		Store: st, Catalog: cat, Scans: mgr, SensorAddr: sensorAddr(grpcLis.Addr(), ca.ServerCertificate().Leaf.DNSNames),
		NewEnrolToken: func() (string, []byte, error) { return enrolment.NewToken(ca.CAFingerprint()) },
	})
	if err != nil {
		return err
	}
	sensorSrv, err := sensorapi.New(sensorapi.Config{
		Store: st, Scans: mgr, Authority: ca, Bus: b, Logger: log.Named("sensorapi"),
		ParseToken: func(token string) ([]byte, error) {
			t, err := enrolment.Parse(token)
			if err != nil {
				return nil, err
			}
			if t.CAFingerprint != ca.CAFingerprint() {
				return nil, errors.New("the token was made by another console (its CA pin does not match)")
			}
			return enrolment.Hash(t.Secret), nil
		},
		NodeIDFromCert: pki.NodeIDFromCert,
	})
	if err != nil {
		return err
	}

	info := Info{DataDir: cfg.DataDir, GRPCAddr: dialable(grpcLis.Addr()), HTTPAddr: dialable(httpLis.Addr()),
		NATSURLs: b.URLs(), CAFingerprint: ca.CAFingerprint(), CatalogVersion: cat.Version()}
	info.HTTPURL = "http://" + info.HTTPAddr
	if debugLis != nil {
		info.DebugAddr = dialable(debugLis.Addr())
	}
	if httpTLS != nil {
		info.HTTPURL = "https://" + info.HTTPAddr
	}
	if info.AdminPassword, info.CLIToken, err = bootstrap(ctx, st, cfg.DataDir); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if err := writeJSON(filepath.Join(cfg.DataDir, ConsoleFile), LocalInfo{GRPCAddr: info.GRPCAddr, HTTPAddr: info.HTTPAddr, NATSURLs: info.NATSURLs}); err != nil {
		return err
	}

	authn := &auth.Authenticator{Store: st}
	grpcOpts := append([]grpc.ServerOption{
		grpc.Creds(credentials.NewTLS(ca.ServerTLSConfig())),
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		// Every connection is TLS, whose record buffer already batches reads, and a fleet
		// holds ten thousand connections that are idle most of the time: without a read
		// buffer and with write buffers lent from a pool only while writing, each costs
		// 64 KiB less.
		grpc.ReadBufferSize(0),
		grpc.SharedWriteBuffer(true),
		// What the console writes to a sensor is small (acknowledgements, answers to its
		// reports, flow-control updates), so the lent write buffer is a quarter of gRPC's
		// 32 KiB; a larger write goes through it in pieces. At the peak of a scan of 9,800
		// sensors the lent 32 KiB buffers held about 100 MB of the heap.
		grpc.WriteBufferSize(writeBufferSize),
		// Calls run on a pool of goroutines whose stacks have already grown, instead of a
		// new goroutine each: thousands of sensors reporting at once otherwise spend a
		// tenth of the console's CPU growing new stacks. A call that finds every worker busy
		// (each long result stream holds one) gets a goroutine of its own as before.
		grpc.NumStreamWorkers(uint32(streamWorkersPerCPU * runtime.GOMAXPROCS(0))),
		grpc.ChainUnaryInterceptor(unaryAuth(authn)),
		grpc.ChainStreamInterceptor(streamAuth(authn)),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	}, cfg.GRPCOptions...)
	// Protobuf, but result streams take batches encoded and decode them within a budget
	// (sensorapi.Codec); last, so that no option given above can replace it.
	grpcOpts = append(grpcOpts, grpc.ForceServerCodecV2(sensorapi.Codec()))
	grpcSrv := grpc.NewServer(grpcOpts...)
	sensorv1.RegisterSensorServiceServer(grpcSrv, sensorSrv)
	consolev1.RegisterConsoleServiceServer(grpcSrv, apiSrv)

	sessions, err := auth.NewSessions(auth.SessionConfig{Store: st, Tokens: authn, Logger: log.Named("sessions")})
	if err != nil {
		return err
	}
	httpSrv := &http.Server{
		Handler:           httpHandler(apiSrv, sessions, reg, log),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         httpTLS,
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return grpcSrv.Serve(grpcLis) })
	g.Go(func() error {
		var err error
		if httpTLS != nil {
			err = httpSrv.ServeTLS(httpLis, "", "")
		} else {
			err = httpSrv.Serve(httpLis)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if debugLis != nil {
		debugSrv := &http.Server{Handler: debugHandler(), ReadHeaderTimeout: 10 * time.Second}
		g.Go(func() error {
			if err := debugSrv.Serve(debugLis); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			return debugSrv.Close()
		})
		log.Info("runtime profiles served", zap.String("debug", "http://"+info.DebugAddr+"/debug/pprof/"))
	}
	g.Go(func() error { return mgr.Run(gctx) })
	g.Go(func() error { return sessions.Run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = httpSrv.Shutdown(shutdownCtx)
		stopped := make(chan struct{})
		go func() { grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-shutdownCtx.Done():
			grpcSrv.Stop()
			<-stopped
		}
		return nil
	})
	log.Info("console ready", zap.String("grpc", info.GRPCAddr), zap.String("http", info.HTTPURL), zap.Strings("nats", info.NATSURLs))
	if cfg.OnReady != nil {
		cfg.OnReady(info)
	}
	err = g.Wait()
	_ = os.Remove(filepath.Join(cfg.DataDir, ConsoleFile))
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// httpHandler routes the HTTP listener: the session endpoints, the REST API, health,
// metrics, and the web UI for every other path.
func httpHandler(apiSrv consolev1.ConsoleServiceServer, sessions *auth.Sessions, metrics prometheus.Gatherer, log *zap.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(auth.SessionPath, sessions.Handler())
	mux.Handle(rest.Prefix, rest.NewHandler(rest.Config{
		API: apiSrv, Logger: log.Named("rest"),
		Authenticate: func(r *http.Request) (context.Context, error) {
			p, err := sessions.Authenticate(r)
			if err != nil {
				return nil, httpAuthError(log, err)
			}
			return auth.WithPrincipal(r.Context(), p), nil
		},
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	mux.Handle("/", web.Handler())
	return mux
}

// httpAuthError turns a failed HTTP authentication into the status error package rest
// answers with: 403 for a missing CSRF token, 500 when the credentials could not be
// checked, 401 otherwise.
func httpAuthError(log *zap.Logger, err error) error {
	switch {
	case errors.Is(err, auth.ErrCSRF):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, auth.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, err.Error())
	default:
		log.Error("checking HTTP credentials failed", zap.Error(err))
		return status.Error(codes.Internal, "checking the credentials failed; see the console log")
	}
}

// loadHTTPTLS loads the HTTPS certificate and key, both or neither (nil: plain HTTP).
func loadHTTPTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "" || keyFile == "":
		return nil, errors.New("HTTPS needs both --http-cert-file and --http-key-file; give both, or neither for plain HTTP")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load the HTTPS certificate (--http-cert-file %s, --http-key-file %s): %w", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// openStore opens PostgreSQL when a database URL is given, else the SQLite file in the data
// directory.
func openStore(ctx context.Context, cfg Config, log *zap.Logger) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL, Logger: log.Named("postgres")})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL store (--database-url): %w", err)
		}
		return st, nil
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(cfg.DataDir, "palisade.db"), Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// streamWorkersPerCPU sizes the gRPC server's pool of call goroutines.
const streamWorkersPerCPU = 16

// writeBufferSize is the gRPC server's write buffer, lent to a connection while it writes.
const writeBufferSize = 8 << 10

// MaxMessageBytes bounds one gRPC message (a result batch).
const MaxMessageBytes = 8 << 20

func listen(addr, flag string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w; pick another address with %s (port 0 picks a free one)", addr, err, flag)
	}
	return l, nil
}

// dialable turns a listener address into one a local client can dial.
func dialable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// sensorAddr is the gRPC address sensors are told to dial: the listen host when it is a
// specific one, else the first name of the server certificate other than localhost (the
// --host names, or this machine's name), else 127.0.0.1; with the listener's port.
func sensorAddr(a net.Addr, certDNS []string) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		for _, d := range certDNS {
			if d != "localhost" {
				host = d
				break
			}
		}
	}
	return net.JoinHostPort(host, port)
}

// bootstrap creates the first admin user and the local CLI token on first start.
func bootstrap(ctx context.Context, st store.Store, dataDir string) (adminPassword, cliToken string, err error) {
	now := time.Now().UTC()
	users, err := st.ListUsers(ctx)
	if err != nil {
		return "", "", err
	}
	if len(users) == 0 {
		var b [18]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", "", err
		}
		adminPassword = base64.RawURLEncoding.EncodeToString(b[:])
		hash, err := bcrypt.GenerateFromPassword([]byte(adminPassword), bcrypt.DefaultCost)
		if err != nil {
			return "", "", err
		}
		if err := st.CreateUser(ctx, store.User{Name: "admin", PasswordHash: hash, Role: store.RoleAdmin, CreatedAt: now}); err != nil {
			return "", "", err
		}
		_ = st.AppendAudit(ctx, store.AuditEntry{At: now, Actor: "console", Action: "user.create", Target: "admin", Detail: "first start"})
	}
	path := filepath.Join(dataDir, CLITokenFile)
	if data, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(data))
		if t, err := st.GetAPIToken(ctx, auth.HashToken(tok)); err == nil && t.RevokedAt.IsZero() {
			return adminPassword, tok, nil
		}
	}
	tok, hash, err := auth.NewAPIToken()
	if err != nil {
		return "", "", err
	}
	var idb [8]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", err
	}
	t := store.APIToken{ID: fmt.Sprintf("pat_%x", idb), Name: "local-cli", Hash: hash, Role: store.RoleAdmin, CreatedAt: now, CreatedBy: "console"}
	if err := st.CreateAPIToken(ctx, t); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", "", err
	}
	_ = st.AppendAudit(ctx, store.AuditEntry{At: now, Actor: "console", Action: "api_token.create", Target: t.ID, Detail: "local CLI token"})
	return adminPassword, tok, nil
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

const consolePrefix = "/palisade.console.v1.ConsoleService/"

func authenticate(ctx context.Context, authn *auth.Authenticator, method string) (context.Context, error) {
	if !strings.HasPrefix(method, consolePrefix) {
		return ctx, nil // sensor calls authenticate by client certificate
	}
	md, _ := metadata.FromIncomingContext(ctx)
	var header string
	if v := md.Get("authorization"); len(v) > 0 {
		header = v[0]
	}
	p, err := authn.Bearer(ctx, header)
	if err != nil {
		if errors.Is(err, auth.ErrUnauthenticated) {
			return nil, status.Error(codes.Unauthenticated, err.Error())
		}
		return nil, status.Error(codes.Internal, err.Error())
	}
	return auth.WithPrincipal(ctx, p), nil
}

func unaryAuth(authn *auth.Authenticator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := authenticate(ctx, authn, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

type authedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s authedStream) Context() context.Context { return s.ctx }

func streamAuth(authn *auth.Authenticator) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := authenticate(ss.Context(), authn, info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, authedStream{ServerStream: ss, ctx: ctx})
	}
}

// debugHandler serves Go's runtime profiles under /debug/pprof/.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// keepJobs is how long the jobs stream keeps a job: an hour past the job expiry, after which
// the console has timed the scan out and the job is useless.
func keepJobs(jobExpiry time.Duration) time.Duration {
	if jobExpiry <= 0 {
		jobExpiry = scans.DefaultJobExpiry
	}
	return jobExpiry + time.Hour
}
