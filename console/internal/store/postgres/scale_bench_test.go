package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/palisadehq/palisade/console/internal/api"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/postgres"
	"github.com/palisadehq/palisade/pkg/posture"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkQueriesAtScale loads nodes x scans x results (PALISADE_SCALE_NODES, _SCANS,
// _RESULTS; default 1,000 x 10 x 250, the figure is 10,000 x 10 x 250) with COPY and
// reports the p50 and p99 latency of the posture summary, of a filtered results page (the default
// view: unmasked results only, with 160 masks stored), of looking every node up by name (as a
// start of the whole fleet does) and of a page of every result with its mask, by severity.
func BenchmarkQueriesAtScale(b *testing.B) {
	nodes, scans, perScan := envInt("PALISADE_SCALE_NODES", 1000), envInt("PALISADE_SCALE_SCANS", 10), envInt("PALISADE_SCALE_RESULTS", 250)
	dsn := freshSchema(b)
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgres.Config{URL: dsn})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)

	start := time.Now()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	statuses := []string{"pass", "pass", "pass", "fail", "skip", "info", "error"}
	severities := []string{"critical", "high", "medium", "low"}
	services := []string{"SSH", "Kernel", "Filesystem", "Audit", "PAM"}
	copyRows := func(table string, cols []string, n int, row func(i int) []any) {
		b.Helper()
		i := 0
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
			if i == n {
				return nil, nil
			}
			r := row(i)
			i++
			return r, nil
		})); err != nil {
			b.Fatalf("copy %s: %v", table, err)
		}
	}
	copyRows("nodes", []string{"id", "name", "target_type", "facts", "enrol_token_id", "enrolled_at", "last_seen_at"}, nodes, func(i int) []any {
		facts := fmt.Sprintf(`{"hostname": "host-%05d", "os_id": "debian", "os_version": "12", "os_name": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0-28-amd64", "arch": "amd64", "machine_id": "%032x", "sensor_version": "1.0.0", "catalog_version": "40325dfeea97"}`, i, i)
		return []any{fmt.Sprintf("n%05d", i), fmt.Sprintf("host-%05d", i), "linux", facts, "tok", t0, t0}
	})
	scanID := func(n, s int) string { return fmt.Sprintf("s%05d-%02d", n, s) }
	// Every scan shares one control set, as the scans CreateScans stores for one fleet do.
	const controlSet = "bench-set"
	copyRows("control_sets", []string{"id"}, 1, func(int) []any { return []any{controlSet} })
	copyRows("control_set_controls", []string{"set_id", "control_id", "title", "severity", "service", "benchmarks"}, perScan, func(c int) []any {
		return []any{controlSet, fmt.Sprintf("linux.c%03d", c), "control", severities[c%4], services[c%5], []string{"linux-cis"}}
	})
	copyRows("scans", []string{"id", "node_id", "state", "benchmark_ids", "controls_total", "controls_done", "results_stored", "created_at", "started_at", "finished_at", "control_set_id"}, nodes*scans, func(i int) []any {
		n, s := i/scans, i%scans
		at := t0 + int64(s)*int64(time.Hour)
		return []any{scanID(n, s), fmt.Sprintf("n%05d", n), "complete", []string{"linux-cis", "linux-nist"}, perScan, perScan, perScan, at, at, at + int64(time.Second), controlSet}
	})
	copyRows("results", []string{"scan_id", "control_id", "resource", "node_id", "status", "severity", "service", "reason"}, nodes*scans*perScan, func(i int) []any {
		sc, c := i/perScan, i%perScan
		return []any{scanID(sc/scans, sc%scans), fmt.Sprintf("linux.c%03d", c), "host", fmt.Sprintf("n%05d", sc/scans), statuses[(sc*3+c)%len(statuses)], severities[c%4], services[c%5], "reason"}
	})
	copyRows("scores", []string{"scan_id", "benchmark_id", "pass", "fail", "info", "skip", "error"}, nodes*scans*2, func(i int) []any {
		sc := i / 2
		return []any{scanID(sc/scans, sc%scans), []string{"linux-cis", "linux-nist"}[i%2], 150, 50, 10, 20, 20}
	})
	copyRows("latest_scores", []string{"node_id", "benchmark_id", "scan_id", "finished_at", "pass", "fail", "info", "skip", "error"}, nodes*2, func(i int) []any {
		n := i / 2
		return []any{fmt.Sprintf("n%05d", n), []string{"linux-cis", "linux-nist"}[i%2], scanID(n, scans-1), t0, 150, 50, 10, 20, 20}
	})
	// A few masks, as a fleet has: of a control everywhere, of a control on some nodes, of one
	// result on one node.
	var masks []store.Mask
	for i := range 10 {
		masks = append(masks, store.Mask{ID: fmt.Sprintf("m-global-%d", i), ControlID: fmt.Sprintf("linux.c%03d", i*25%perScan)})
	}
	for i := range 100 {
		masks = append(masks, store.Mask{ID: fmt.Sprintf("m-nodes-%d", i), ControlID: fmt.Sprintf("linux.c%03d", i%perScan),
			NodeIDs: []string{fmt.Sprintf("n%05d", i*7%nodes), fmt.Sprintf("n%05d", i*13%nodes)}})
	}
	for i := range 50 {
		masks = append(masks, store.Mask{ID: fmt.Sprintf("m-result-%d", i), ControlID: fmt.Sprintf("linux.c%03d", i*3%perScan),
			NodeIDs: []string{fmt.Sprintf("n%05d", i*11%nodes)}, Resource: "host"})
	}
	for i, m := range masks {
		m.Reason, m.CreatedBy, m.CreatedAt = "does not apply", "bench", time.Unix(0, t0).Add(time.Duration(i)*time.Second)
		if err := st.CreateMask(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	// Settle the tables as autovacuum does after a load: statistics for the planner, and the
	// visibility map that lets index-only scans skip the heap.
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d nodes x %d scans x %d results in %s", nodes, scans, perScan, time.Since(start).Round(time.Second))

	measure := func(name string, iters int, fn func() error) {
		b.Helper()
		d := make([]time.Duration, iters)
		for i := range d {
			s := time.Now()
			if err := fn(); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			d[i] = time.Since(s)
		}
		slices.Sort(d)
		p50, p99 := d[iters/2], d[iters*99/100]
		b.ReportMetric(float64(p50.Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, name+"-p99-ms")
	}
	b.ResetTimer()
	for range b.N {
		measure("posture", 300, func() error {
			ns, err := st.PostureNodes(ctx, store.NodeFilter{TargetType: posture.Linux})
			if err != nil {
				return err
			}
			if p := api.Summarise(ns); len(p.GetNodes()) != nodes {
				return fmt.Errorf("posture has %d nodes; want %d", len(p.GetNodes()), nodes)
			}
			return nil
		})
		measure("results-page", 1000, func() error {
			sc := scanID(rand.IntN(nodes), rand.IntN(scans))
			page, err := st.ListResults(ctx, store.ResultFilter{ScanID: sc, Statuses: []posture.Status{posture.Fail, posture.Error},
				Severity: posture.High, PageSize: 50})
			if err != nil {
				return err
			}
			if page.Total == 0 {
				return fmt.Errorf("scan %s: no results matched", sc)
			}
			if page.Results[0].Title != "control" {
				return fmt.Errorf("scan %s: result without its control's title: %+v", sc, page.Results[0])
			}
			return nil
		})
		// A start of every node looks them all up by name first.
		names := make([]string, nodes)
		for i := range names {
			names[i] = fmt.Sprintf("host-%05d", i)
		}
		measure("find-every-node", 30, func() error {
			found, err := st.FindNodes(ctx, names)
			if err != nil {
				return err
			}
			if n := found[names[nodes-1]]; len(found) != nodes || len(n) != 1 || n[0].Facts.Hostname != names[nodes-1] || n[0].Facts.CatalogVersion != "40325dfeea97" {
				return fmt.Errorf("found %d of %d nodes; the last: %+v", len(found), nodes, n)
			}
			return nil
		})
		// Every result with its mask, by severity: the masked view's heaviest page.
		measure("results-masked-page", 1000, func() error {
			sc := scanID(rand.IntN(nodes), rand.IntN(scans))
			page, err := st.ListResults(ctx, store.ResultFilter{ScanID: sc, Masked: store.MaskedInclude, Now: time.Now(),
				Order: store.OrderBySeverity, PageSize: 50})
			if err != nil {
				return err
			}
			if page.Total != int64(perScan) {
				return fmt.Errorf("scan %s: %d results; want %d", sc, page.Total, perScan)
			}
			return nil
		})
	}
}
