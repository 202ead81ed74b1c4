// Command palisade-sensor inspects a Linux host or Kubernetes node: `run` enrols with a console
// and takes scan jobs, `scan` scans a host root standalone, `version` prints the version.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/sensor/agent"
	"github.com/palisadehq/palisade/sensor/internal/standalone"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

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
	root := &cobra.Command{Use: "palisade-sensor", Short: "Palisade host sensor", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(runCmd(), scanCmd(), versionCmd())
	return root
}

func runCmd() *cobra.Command {
	var cfg agent.Config
	var debug bool
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Enrol with a console (once) and run the scans it sends",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(debug)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			cfg.Logger = log
			cfg.Version = version
			if cfg.Token == "" {
				cfg.Token = os.Getenv("PALISADE_ENROL_TOKEN")
			}
			return agent.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Console, "console", "", "console gRPC address host:port (needed to enrol; remembered afterwards)")
	f.StringVar(&cfg.Token, "token", "", "enrolment token (or PALISADE_ENROL_TOKEN); needed only for the first start")
	f.StringVar(&cfg.StateDir, "state-dir", "/var/lib/palisade-sensor", "where the node key, certificate and id are kept")
	f.StringVar(&cfg.HostRoot, "host-root", "/", "where the inspected host's filesystem is mounted")
	f.StringVar(&cfg.Hostname, "hostname", "", "node name to report (default: the host's hostname)")
	f.StringVar(&cfg.TargetType, "target-type", "linux", "linux or kubernetes")
	f.BoolVar(&debug, "debug", false, "debug logging")
	return cmd
}

func scanCmd() *cobra.Command {
	var opts standalone.Options
	var benchmarks, exclude string
	var reportResources bool
	cmd := &cobra.Command{
		Use:   "scan",
		Short: "Scan a host root without a console and print scores and results",
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			if benchmarks != "" {
				opts.Benchmarks = strings.Split(benchmarks, ",")
			}
			if exclude != "" {
				opts.Exclude = strings.Split(exclude, ",")
			}
			opts.ToolVersion = version
			rep, err := standalone.Run(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if err := rep.Write(cmd.OutOrStdout(), opts.Format); err != nil {
				return err
			}
			if reportResources {
				return standalone.WriteResources(cmd.ErrOrStderr(), time.Since(start))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Root, "host-root", "/", "host root to scan")
	f.StringVar(&benchmarks, "benchmark", "", "benchmarks, comma separated (ids or cis, nist, pci-dss...); default: all for the target type")
	f.StringVar(&opts.CatalogDir, "catalog-dir", "", "directory of extra control and benchmark YAML documents, merged into the built-in catalogue")
	f.StringVar(&exclude, "exclude", "", "control ids to leave out, comma separated")
	f.StringVar(&opts.Format, "format", "table", "output format: "+standalone.FormatNames)
	f.BoolVar(&reportResources, "report-resources", false, "print wall time and peak RSS of the scan to stderr (for benchmarks)")
	_ = f.MarkHidden("report-resources")
	return cmd
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the sensor and catalogue versions",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat, err := catalog.Default()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "palisade-sensor %s (catalogue %s, %d controls)\n", version, cat.Version(), len(cat.Controls()))
			return nil
		},
	}
}

func newLogger(debug bool) (*zap.Logger, error) {
	cfg := zap.NewProductionConfig()
	if debug {
		cfg.Level = zap.NewAtomicLevelAt(zap.DebugLevel)
	}
	return cfg.Build()
}
