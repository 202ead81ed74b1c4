// Package standalone runs a scan of a host root without a console and prints the scores per
// benchmark and every result (`palisade-sensor scan`).
package standalone

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/engine"
	"github.com/palisadehq/palisade/pkg/posture"
)

// Options configure one standalone scan.
type Options struct {
	// Root is the host root to inspect.
	Root string
	// Benchmarks are ids or short names; empty means every benchmark of the target type.
	Benchmarks []string
	// Exclude are control ids left out of the scan.
	Exclude []string
	// TargetType resolves short names; linux by default.
	TargetType posture.TargetType
	// Format is table, json, csv or sarif.
	Format string
	// ToolVersion is the sensor's version, written into SARIF output.
	ToolVersion string
	// Catalog is the catalogue to use; the built-in one when nil.
	Catalog *catalog.Catalog
	// CatalogDir is a directory of extra control and benchmark documents merged into the
	// catalogue (the same form as the console's --catalog-dir).
	CatalogDir string
}

// Report is the outcome of a standalone scan.
type Report struct {
	Root       string          `json:"root"`
	Benchmarks []BenchmarkRun  `json:"benchmarks"`
	Results    []engine.Result `json:"results"`
	Controls   int             `json:"controls"`
	DurationMS float64         `json:"duration_ms"`

	// controls are the scanned controls by id, for the csv and sarif formats.
	controls map[string]*catalog.Control
	// toolVersion is Options.ToolVersion.
	toolVersion string
}

// BenchmarkRun is one benchmark's score in the scan.
type BenchmarkRun struct {
	ID     string         `json:"id"`
	Title  string         `json:"title"`
	Score  *float64       `json:"score"`
	Counts posture.Counts `json:"counts"`
}

// Run scans and returns the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	cat := opts.Catalog
	if cat == nil {
		var err error
		if cat, err = catalog.Default(); err != nil {
			return nil, err
		}
	}
	if opts.CatalogDir != "" {
		merged, err := cat.Merge(os.DirFS(opts.CatalogDir))
		if err != nil {
			return nil, fmt.Errorf("load extra catalogue from %s: %w", opts.CatalogDir, err)
		}
		cat = merged
	}
	tt := opts.TargetType
	if tt == "" {
		tt = posture.Linux
	}
	var bms []*catalog.Benchmark
	if len(opts.Benchmarks) == 0 {
		for _, bm := range cat.Benchmarks() {
			if bm.TargetType == tt {
				bms = append(bms, bm)
			}
		}
	}
	for _, name := range opts.Benchmarks {
		bm, err := cat.ResolveBenchmark(strings.TrimSpace(name), tt)
		if err != nil {
			return nil, err
		}
		bms = append(bms, bm)
	}
	ids := make([]string, len(bms))
	for i, bm := range bms {
		ids[i] = bm.ID
	}
	ctls, err := cat.ControlSet(ids, opts.Exclude)
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(engine.Options{Root: opts.Root})
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &Report{Root: opts.Root, Controls: len(ctls), controls: make(map[string]*catalog.Control, len(ctls)), toolVersion: opts.ToolVersion}
	for _, c := range ctls {
		rep.controls[c.ID] = c
	}
	perControl := map[string]posture.Counts{}
	err = eng.Run(ctx, ctls, func(o engine.Outcome) {
		c := perControl[o.ControlID]
		for _, r := range o.Results {
			c.Add(r.Status)
			rep.Results = append(rep.Results, r)
		}
		perControl[o.ControlID] = c
	})
	if err != nil {
		return nil, err
	}
	rep.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	sort.Slice(rep.Results, func(i, j int) bool {
		a, b := rep.Results[i], rep.Results[j]
		if a.ControlID != b.ControlID {
			return a.ControlID < b.ControlID
		}
		return a.Resource < b.Resource
	})
	for _, bm := range bms {
		run := BenchmarkRun{ID: bm.ID, Title: bm.Title}
		for _, id := range bm.ControlIDs() {
			run.Counts.Merge(perControl[id])
		}
		if s, ok := run.Counts.Score(); ok {
			run.Score = &s
		}
		rep.Benchmarks = append(rep.Benchmarks, run)
	}
	return rep, nil
}

// FormatNames lists the output formats Write knows, for help texts and errors.
const FormatNames = "table, json, csv or sarif"

// Write prints the report as a table, JSON, CSV (one row per result) or SARIF 2.1.0.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case "csv":
		return r.writeCSV(w)
	case "sarif":
		return r.writeSARIF(w)
	case "table", "":
	default:
		return fmt.Errorf("unknown format %q (want %s)", format, FormatNames)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BENCHMARK\tSCORE\tPASS\tFAIL\tINFO\tSKIP\tERROR")
	for _, b := range r.Benchmarks {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", b.ID, b.Counts.FormatScore(), b.Counts.Pass, b.Counts.Fail, b.Counts.Info, b.Counts.Skip, b.Counts.Error)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "STATUS\tCONTROL\tRESOURCE\tREASON")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Status, res.ControlID, res.Resource, oneLine(res.Reason))
	}
	fmt.Fprintf(tw, "\n%d controls, %d results in %.1f ms\n", r.Controls, len(r.Results), r.DurationMS)
	return tw.Flush()
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}
