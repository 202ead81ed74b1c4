package scans

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/palisadehq/palisade/console/internal/bus"
	"github.com/palisadehq/palisade/console/internal/pki"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/postgres"
	"github.com/palisadehq/palisade/console/internal/store/sqlite"
	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/posture"
)

// benchNodesEnv overrides the number of nodes BenchmarkStart dispatches to.
const benchNodesEnv = "PALISADE_BENCH_NODES"

// postgresEnv names the PostgreSQL server BenchmarkStart also measures on, as in the store
// tests: postgres://user@host:port/database?sslmode=disable.
const postgresEnv = "PALISADE_TEST_POSTGRES"

// BenchmarkStart measures dispatching one scan of 10,000 nodes (PALISADE_BENCH_NODES to change
// it): from the Start call until every scan is stored, its job acknowledged by JetStream (an
// embedded NATS server, as the console runs by default) and the scan marked dispatched. It runs
// on SQLite, and on PostgreSQL when PALISADE_TEST_POSTGRES is set. The target is 2 s for 10,000
// nodes on two cores; the custom metric is the mean per Start call.
func BenchmarkStart(b *testing.B) {
	nodes := 10000
	if v := os.Getenv(benchNodesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive number of nodes", benchNodesEnv, v)
		}
		nodes = n
	}
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(b.TempDir(), "db")})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchmarkStart(b, st, nodes)
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := os.Getenv(postgresEnv)
		if dsn == "" {
			b.Skipf("%s is not set; set it to postgres://user@host:port/database?sslmode=disable to measure PostgreSQL too", postgresEnv)
		}
		st, err := postgres.Open(context.Background(), postgres.Config{URL: benchSchema(b, dsn)})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchmarkStart(b, st, nodes)
	})
}

func benchmarkStart(b *testing.B, st store.Store, nodes int) {
	ctx := context.Background()
	cat, err := catalog.Default()
	if err != nil {
		b.Fatal(err)
	}
	ids := enrolBenchNodes(b, st, nodes, cat.Version())
	auth, err := pki.LoadOrCreate(pki.Config{Dir: b.TempDir(), Hosts: []string{"console.test"}})
	if err != nil {
		b.Fatal(err)
	}
	bs, err := bus.Start(ctx, bus.Config{DataDir: b.TempDir(), Listen: "127.0.0.1:0", Authority: auth})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	m, err := New(Config{Store: st, Catalog: cat, Dispatcher: bs})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		_, scans, err := m.Start(ctx, StartRequest{Nodes: ids, Benchmarks: []string{"cis"}, Actor: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		for _, sc := range scans {
			if sc.State != posture.Dispatched {
				b.Fatalf("scan %s of node %s is %s (%s); want dispatched", sc.ID, sc.NodeID, sc.State, sc.Message)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), fmt.Sprintf("ms/scan-of-%d-nodes", nodes))
}

// enrolBenchNodes enrols n Linux nodes whose sensors run the catalogue version given, a few at
// a time, and returns their ids.
func enrolBenchNodes(b *testing.B, st store.Store, n int, catalogVersion string) []string {
	ctx := context.Background()
	now := time.Now().UTC()
	tok := []byte("0123456789abcdef0123456789abcdef")
	if err := st.CreateEnrolToken(ctx, store.EnrolToken{ID: "t", Hash: tok, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Uses: n}); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	errs := make([]error, n)
	const workers = 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				ids[i] = fmt.Sprintf("n%05d", i)
				node := store.Node{ID: ids[i], Name: ids[i], TargetType: posture.Linux,
					Facts: store.NodeFacts{Hostname: ids[i], CatalogVersion: catalogVersion}}
				errs[i] = st.EnrolNode(ctx, tok, node, now)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			b.Fatalf("enrol node %d: %v", i, err)
		}
	}
	return ids
}

// benchSchema creates an empty schema on the server, dropped when the benchmark ends, and
// returns the server URL with search_path set to it.
func benchSchema(b *testing.B, dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		b.Fatalf("%s is not a URL: %v", postgresEnv, err)
	}
	r := make([]byte, 8)
	if _, err := rand.Read(r); err != nil {
		b.Fatal(err)
	}
	schema := "bench_" + hex.EncodeToString(r)
	run := func(sql string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			b.Fatalf("connect to %s: %v", postgresEnv, err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	run(`CREATE SCHEMA ` + schema)
	b.Cleanup(func() { run(`DROP SCHEMA ` + schema + ` CASCADE`) })
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
