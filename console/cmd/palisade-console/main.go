// Command palisade-console runs the Palisade console (`serve`) and is the client CLI for a
// running console (nodes, benchmarks, controls, scans, results, tokens).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/palisadehq/palisade/console/internal/cli"
	"github.com/palisadehq/palisade/console/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := rootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func rootCmd() *cobra.Command {
	root := &cobra.Command{Use: "palisade-console", Short: "Palisade compliance-posture console", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(serveCmd(), apitokenCmd(), cli.NewNATSAccountsCommand())
	cli.AddClientCommands(root)
	return root
}

func serveCmd() *cobra.Command {
	var cfg server.Config
	var debug bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the console (gRPC for sensors and automation, REST/JSON, embedded NATS and SQLite)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (cfg.HTTPCertFile == "") != (cfg.HTTPKeyFile == "") {
				return errors.New("--http-cert-file and --http-key-file go together: give both to serve HTTPS, or neither for plain HTTP")
			}
			zc := zap.NewProductionConfig()
			if debug {
				zc.Level = zap.NewAtomicLevelAt(zap.DebugLevel)
			}
			log, err := zc.Build()
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			cfg.Logger = log
			cfg.OnReady = func(info server.Info) {
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "Palisade console ready\n  gRPC (sensors, CLI): %s\n  web console, REST:   %s\n  NATS (jobs):         %v\n  data directory:      %s\n",
					info.GRPCAddr, info.HTTPURL, info.NATSURLs, info.DataDir)
				if info.AdminPassword != "" {
					fmt.Fprintf(out, "  first start: user admin, password %s (shown once)\n", info.AdminPassword)
				}
				fmt.Fprintf(out, "  local CLI token in %s/%s\n", info.DataDir, server.CLITokenFile)
			}
			return server.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "./data", "data directory (database, certificates, job queue)")
	f.StringVar(&cfg.GRPCAddr, "grpc-addr", ":7443", "gRPC listen address for sensors and automation (TLS)")
	f.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:7080", "HTTP listen address for the web console, REST/JSON, /healthz and /metrics")
	f.StringVar(&cfg.DebugAddr, "debug-addr", "", "serve Go runtime profiles (/debug/pprof/) on this address, unauthenticated; keep it on loopback (off when empty)")
	f.StringVar(&cfg.HTTPCertFile, "http-cert-file", "", "PEM certificate chain to serve the HTTP listener over HTTPS (TLS 1.2+); needs --http-key-file")
	f.StringVar(&cfg.HTTPKeyFile, "http-key-file", "", "PEM private key of --http-cert-file")
	f.StringVar(&cfg.NATSAddr, "nats-addr", ":7422", "listen address of the embedded NATS server sensors take jobs from")
	f.StringSliceVar(&cfg.NATSAdvertise, "nats-advertise", nil, "NATS URL(s) sensors should use, e.g. nats://console.example:7422 (default: the listen port on this host's name)")
	f.StringVar(&cfg.NATSURL, "nats-url", "", "use an external NATS cluster at this URL instead of the embedded server")
	f.StringVar(&cfg.NATSCredsFile, "nats-creds", "", "credentials file for the external NATS cluster")
	f.StringVar(&cfg.NATSAccountSeedFile, "nats-account-seed-file", "", "nkey seed of the external cluster's account (or of its signing key): the console issues each sensor its own NATS credentials")
	f.StringVar(&cfg.NATSAccount, "nats-account", "", "public key of that account, when --nats-account-seed-file holds a signing key")
	f.BoolVar(&cfg.NATSTLS, "nats-tls", false, "connect to the external cluster with a client certificate of the console CA, verifying its servers against that CA")
	f.IntVar(&cfg.NATSReplicas, "nats-replicas", 0, "replicas of the jobs stream (default: 3 on a cluster of three or more JetStream servers, else 1)")
	f.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL (postgres://user@host:5432/db) instead of the embedded SQLite store")
	f.StringVar(&cfg.CatalogDir, "catalog-dir", "", "directory of extra control and benchmark YAML documents")
	f.StringSliceVar(&cfg.Hosts, "host", nil, "extra DNS name or IP for the server certificate (repeatable)")
	f.DurationVar(&cfg.HeartbeatTimeout, "heartbeat-timeout", 0, "a running scan without a heartbeat for this long times out (default 60s)")
	f.DurationVar(&cfg.JobExpiry, "job-expiry", 0, "how long a job waits for an offline node (default 24h)")
	f.IntVar(&cfg.SplayRate, "scan-splay-rate", 0, "nodes per second a scan start lets begin evaluating: the nodes of one start spread their results over n/rate seconds, at most 10 minutes (default 100, about the full Linux scans one replica on two cores stores; -1: all at once)")
	f.IntVar(&cfg.RetainScans, "retain-scans", 0, "keep at most this many scans per node (0: all); a node's latest scores are always kept")
	f.DurationVar(&cfg.RetainFor, "retain-for", 0, "delete scans older than this, e.g. 2160h for 90 days (0: keep)")
	f.StringVar(&cfg.ReplicaID, "replica-id", "", "name of this console replica for background-duty leases (default: random)")
	f.BoolVar(&debug, "debug", false, "debug logging")
	return cmd
}
