// Command palisade-loadgen simulates a fleet of sensors against a running console: each
// simulated sensor enrols for real, keeps its own mutual-TLS gRPC and NATS connections, takes
// its jobs from JetStream and streams synthetic results. With --scans it also starts scans
// over the whole fleet through the console API and times them.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/palisadehq/palisade/console/internal/cli"
	"github.com/palisadehq/palisade/console/internal/loadgen"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

var version = "dev"

func main() {
	if err := newCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "palisade-loadgen:", err)
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var (
		cfg        loadgen.Config
		benchmarks string
		dataDir    string
		apiToken   string
		caFile     string
		jsonOut    string
		verbose    bool
	)
	cmd := &cobra.Command{
		Use:   "palisade-loadgen",
		Short: "Simulate many sensors against a console and measure it",
		Long: "Simulate --sensors sensors against the console at --console. Each enrols with the\n" +
			"multi-use enrolment --token (identities are kept in --state-dir and reused by later runs),\n" +
			"connects over mutual TLS and NATS, takes its jobs and streams --controls-per-scan synthetic\n" +
			"results per job in acknowledged batches.\n\n" +
			"With --scans N the load generator also starts N scans over the whole fleet, one after the\n" +
			"other, through the console API (an admin token from --api-token, $" + cli.TokenEnv + " or the\n" +
			"console's --data-dir) and prints how long dispatch and completion took.",
		Args:          cobra.NoArgs,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Console, "console", "", "the console's gRPC address (host:port)")
	f.StringVar(&cfg.Token, "token", "", "multi-use enrolment token (needed while some sensors have no identity in --state-dir)")
	f.IntVar(&cfg.Sensors, "sensors", 100, "number of simulated sensors")
	f.StringVar(&cfg.StateDir, "state-dir", "./loadgen-state", "directory keeping the simulated sensors' identities")
	f.Float64Var(&cfg.ConnectRate, "connect-rate", 0, "sensors starting to connect per second (0: as fast as --concurrency allows)")
	f.IntVar(&cfg.Concurrency, "concurrency", loadgen.DefaultConcurrency, "sensors enrolling or connecting at once")
	f.IntVar(&cfg.MaxConnectFailures, "max-connect-failures", 0, "stop connecting more sensors after this many failed (0: 1% of --sensors, at least 10; -1: never)")
	f.IntVar(&cfg.ControlsPerScan, "controls-per-scan", 0, "results per job (0: one per control in the job)")
	f.Float64Var(&cfg.FailureRatio, "failure-ratio", 0.2, "probability that a result is fail")
	f.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: after the --scans, or at interrupt)")
	f.IntVar(&cfg.BatchSize, "batch-size", 0, "results per batch (0: what the console asks for)")
	f.DurationVar(&cfg.ScanTime, "scan-time", 0, "how long each simulated scan evaluates before streaming its results, heartbeating meanwhile (0: at once)")
	f.DurationVar(&cfg.Keepalive, "keepalive", loadgen.DefaultKeepalive, "how often each sensor says hello")
	f.IntVar(&cfg.Scans, "scans", 0, "scans to start over the whole fleet through the console API (0: none, only serve jobs)")
	f.StringVar(&benchmarks, "benchmarks", "cis", "comma-separated benchmarks of each started scan")
	f.DurationVar(&cfg.ScanTimeout, "scan-timeout", loadgen.DefaultScanTimeout, "longest a started scan may take")
	f.StringVar(&dataDir, "data-dir", "", "the console's data directory, for the API token and CA when starting scans")
	f.StringVar(&apiToken, "api-token", "", "API token for starting scans (default $"+cli.TokenEnv+" or <data-dir>/cli.token)")
	f.StringVar(&caFile, "ca-file", "", "the console CA (PEM) for API calls (default <data-dir>/pki/ca.pem)")
	f.IntVar(&cfg.ConsolePID, "console-pid", 0, "the console's process id on this machine, to report its memory")
	f.DurationVar(&cfg.ProgressInterval, "progress", loadgen.DefaultProgressInterval, "how often to print progress")
	f.StringVar(&jsonOut, "json", "", "also write the summary as JSON to this file")
	f.BoolVar(&verbose, "verbose", false, "log warnings of individual sensors")

	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if verbose {
			log, err := zap.NewProduction()
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			cfg.Logger = log
		}
		for _, b := range strings.Split(benchmarks, ",") {
			if b = strings.TrimSpace(b); b != "" {
				cfg.Benchmarks = append(cfg.Benchmarks, b)
			}
		}
		if cfg.Scans > 0 {
			if apiToken == "" {
				apiToken = os.Getenv(cli.TokenEnv)
			}
			conn, err := cli.Dial(ctx, cli.ConnOptions{Addr: cfg.Console, Token: apiToken, CAFile: caFile, DataDir: dataDir})
			if err != nil {
				return fmt.Errorf("console API for --scans: %w", err)
			}
			defer conn.Close()
			cfg.API = consolev1.NewConsoleServiceClient(conn)
		}
		out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
		cfg.Progress = func(p loadgen.Progress) {
			fmt.Fprintf(errOut, "[%6.1fs] sensors %d connected (%d enrolled, %d reused, %d failed, %d not tried)  jobs %d received, %d done  results %d (%d fail)  errors %d\n",
				p.Elapsed.Seconds(), p.Connected, p.Enrolled, p.Reused, p.Failed, p.Skipped, p.JobsReceived, p.JobsDone, p.ResultsAcked, p.ResultsFail, p.Errors)
		}
		sum, err := loadgen.Run(ctx, cfg)
		printSummary(out, cfg, sum)
		if jsonOut != "" {
			data, jerr := json.MarshalIndent(sum, "", "  ")
			if jerr == nil {
				jerr = os.WriteFile(jsonOut, append(data, '\n'), 0o644)
			}
			if jerr != nil {
				return errors.Join(err, fmt.Errorf("write --json %s: %w", jsonOut, jerr))
			}
		}
		return err
	}
	return cmd
}

func printSummary(w interface{ Write([]byte) (int, error) }, cfg loadgen.Config, s loadgen.Summary) {
	fmt.Fprintf(w, "sensors connected:   %d of %d (%d enrolled, %d reused, %d failed, %d not tried) in %s\n",
		s.Connected, cfg.Sensors, s.Enrolled, s.Reused, s.Failed, s.Skipped, s.ConnectTime.Round(time.Millisecond))
	fmt.Fprintf(w, "jobs:                %d received, %d done\n", s.JobsReceived, s.JobsDone)
	fmt.Fprintf(w, "results:             %d acknowledged (%d fail), %.0f results/s\n", s.ResultsAcked, s.ResultsFail, s.ResultsPerSecond)
	for i, r := range s.Rounds {
		fmt.Fprintf(w, "scan %d (%s, %d nodes): StartScan returned in %s; all jobs received %s after start; all scans complete %s after start; %d results, %.0f results/s\n",
			i+1, r.GroupID, r.Scans, r.StartCall.Round(time.Millisecond), r.AllJobsReceived.Round(time.Millisecond),
			r.AllDone.Round(time.Millisecond), r.Results, r.ResultsPerSecond)
	}
	if s.ConsoleRSSConnected > 0 || s.ConsolePeakRSS > 0 {
		fmt.Fprintf(w, "console RSS:         %.1f MiB with all sensors connected, peak %.1f MiB\n", mib(s.ConsoleRSSConnected), mib(s.ConsolePeakRSS))
	}
	fmt.Fprintf(w, "loadgen RSS:         %.1f MiB with all sensors connected, peak %.1f MiB\n", mib(s.LoadgenRSSConnected), mib(s.LoadgenPeakRSS))
	fmt.Fprintf(w, "errors:              %d\n", s.Errors)
	for _, e := range s.ErrorSamples {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
