package scans

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/sqlite"
	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/posture"
)

// BenchmarkStart measures starting one scan over many nodes (PALISADE_BENCH_NODES, default
// 1,000) with the store on SQLite and a bus that only records, so the figure is the console's
// own work: resolving controls, storing the scans and recording the dispatch.
func BenchmarkStart(b *testing.B) {
	nodes := 1000
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "db")})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cat, err := catalog.Default()
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tok := []byte("0123456789abcdef0123456789abcdef")
	if err := st.CreateEnrolToken(ctx, store.EnrolToken{ID: "t", Hash: tok, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Uses: nodes}); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, nodes)
	for i := range ids {
		ids[i] = fmt.Sprintf("n%05d", i)
		n := store.Node{ID: ids[i], Name: ids[i], TargetType: posture.Linux, EnrolledAt: now, LastSeenAt: now,
			Facts: store.NodeFacts{Hostname: ids[i], CatalogVersion: cat.Version()}}
		if err := st.EnrolNode(ctx, tok, n, now); err != nil {
			b.Fatal(err)
		}
	}
	m, err := New(Config{Store: st, Catalog: cat, Dispatcher: &recordingDispatcher{}, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, _, err := m.Start(ctx, StartRequest{Nodes: ids, Benchmarks: []string{"cis"}, Actor: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/scan-of-1000-nodes")
}
