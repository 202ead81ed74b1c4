package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/postgres"
	"github.com/palisadehq/palisade/console/internal/store/storetest"
	"github.com/palisadehq/palisade/pkg/posture"
)

// urlEnv names the variable holding the test server's URL, for example
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. The tests skip without it, except in
// CI (CI=true), where they fail.
const urlEnv = "PALISADE_TEST_POSTGRES"

// serverURL returns the test server's URL, skipping (or, in CI, failing) the test without one.
func serverURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(urlEnv)
	if u != "" {
		return u
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL is required in CI: set %s to postgres://user@host:port/database?sslmode=disable", urlEnv)
	}
	t.Skipf("%s is not set; set it to postgres://user@host:port/database?sslmode=disable to run the PostgreSQL store tests", urlEnv)
	return ""
}

// freshSchema creates an empty schema, dropped when the test ends, and returns the server URL
// with search_path set to it, so that every test has a database of its own.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := serverURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", urlEnv, err)
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "test_" + hex.EncodeToString(b)
	exec(t, base, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { exec(t, base, `DROP SCHEMA `+schema+` CASCADE`) })
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on a connection of its own.
func exec(t testing.TB, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to the test server (%s): %v", urlEnv, err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// openFresh opens a store on a fresh schema.
func openFresh(t testing.TB) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{URL: freshSchema(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	serverURL(t) // skip or fail once, rather than in every subtest
	t.Run("postgres", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
	})
}

// TestOpenConcurrently opens several stores on one new schema at once, as replicas starting
// together do: the migration lock lets exactly one of them migrate, and all of them work.
func TestOpenConcurrently(t *testing.T) {
	dsn := freshSchema(t)
	const replicas = 4
	stores := make([]*postgres.Store, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(t.Context(), postgres.Config{URL: dsn, MaxConns: 2}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	u := store.User{Name: "alice", PasswordHash: []byte("h"), Role: store.RoleAdmin, CreatedAt: time.Unix(0, 1).UTC()}
	if err := stores[0].CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	for i, s := range stores {
		got, err := s.GetUser(t.Context(), "alice")
		if err != nil {
			t.Fatalf("GetUser on store %d: %v", i, err)
		}
		if got.Name != u.Name || string(got.PasswordHash) != "h" || !got.CreatedAt.Equal(u.CreatedAt) {
			t.Fatalf("GetUser on store %d = %+v; want %+v", i, got, u)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  postgres.Config
		want string
	}{
		{"no url", postgres.Config{}, "open postgres store: no database URL given; pass postgres://user@host:port/database"},
		{"bad url", postgres.Config{URL: "postgres://u:secret@host:notaport/db"},
			"open postgres store: the database URL is not valid; use postgres://user:password@host:port/database?sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := postgres.Open(t.Context(), tt.cfg)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Open: error = %v; want %q", err, tt.want)
			}
		})
	}
}

// benchResults is one batch of the benchmarks: 1000 results over 250 controls, four resources
// each, in control order, as a sensor sends them; round makes the resources distinct per batch.
func benchResults(results []store.Result, round int) {
	for i := range results {
		results[i] = store.Result{
			ControlID: fmt.Sprintf("linux.control-%03d", i/4), Resource: fmt.Sprintf("/etc/resource-%d-%d", round, i%4),
			Status: posture.Fail, Severity: posture.High, Service: "SSH",
			Reason:   "PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no",
			Evidence: []store.Evidence{{Source: "/etc/ssh/sshd_config", Line: 32, Key: "PermitRootLogin", Actual: "yes", Expected: "no"}},
		}
	}
}

const benchPerBatch, benchBatchesPerScan = 1000, 10

// enrolNode enrols node id, named name, through a one-use token.
func enrolNode(ctx context.Context, tb testing.TB, s *postgres.Store, id, name string) {
	tb.Helper()
	tok := store.EnrolToken{ID: "tok-" + id, Hash: []byte("hash-" + id), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), Uses: 1}
	if err := s.CreateEnrolToken(ctx, tok); err != nil {
		tb.Fatal(err)
	}
	if err := s.EnrolNode(ctx, tok.Hash, store.Node{ID: id, Name: name, TargetType: posture.Linux}, time.Now()); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkStoreBatch stores batches of 1000 results and reports results per second. Every ten
// batches go to a new scan, so the table grows as with many nodes' scans rather than one
// endless scan.
func BenchmarkStoreBatch(b *testing.B) {
	ctx := context.Background()
	s := openFresh(b)
	defer s.Close()
	enrolNode(ctx, b, s, "n-1", "bench")
	results := make([]store.Result, benchPerBatch)
	b.ResetTimer()
	for n := range b.N {
		scanID := fmt.Sprintf("s-%d", n/benchBatchesPerScan)
		if n%benchBatchesPerScan == 0 {
			b.StopTimer()
			if err := s.CreateScans(ctx, []store.NewScan{{ID: scanID, NodeID: "n-1", CreatedAt: time.Now()}}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		benchResults(results, n%benchBatchesPerScan)
		out, err := s.StoreBatch(ctx, store.Batch{ScanID: scanID, NodeID: "n-1", Seq: uint64(n%benchBatchesPerScan + 1), Results: results, ReceivedAt: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		if out.Stored != benchPerBatch {
			b.Fatalf("stored %d of %d", out.Stored, benchPerBatch)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*benchPerBatch/b.Elapsed().Seconds(), "results/s")
}

// BenchmarkStoreBatchParallel is BenchmarkStoreBatch with concurrent writers (four goroutines
// per CPU), each storing into scans of its own, as several sensors'
// streams do: commits overlap, so this is the store's throughput rather than one stream's.
func BenchmarkStoreBatchParallel(b *testing.B) {
	ctx := context.Background()
	s, err := postgres.Open(ctx, postgres.Config{URL: freshSchema(b), MaxConns: 16})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	enrolNode(ctx, b, s, "n-1", "bench")
	var (
		mu      sync.Mutex // guards writers
		writers int
	)
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		w := writers
		writers++
		mu.Unlock()
		results := make([]store.Result, benchPerBatch)
		for n := 0; pb.Next(); n++ {
			scanID := fmt.Sprintf("s-%d-%d", w, n/benchBatchesPerScan)
			if n%benchBatchesPerScan == 0 {
				if err := s.CreateScans(ctx, []store.NewScan{{ID: scanID, NodeID: "n-1", CreatedAt: time.Now()}}); err != nil {
					b.Error(err)
					return
				}
			}
			benchResults(results, n%benchBatchesPerScan)
			out, err := s.StoreBatch(ctx, store.Batch{ScanID: scanID, NodeID: "n-1", Seq: uint64(n%benchBatchesPerScan + 1), Results: results, ReceivedAt: time.Now()})
			if err != nil {
				b.Error(err)
				return
			}
			if out.Stored != benchPerBatch {
				b.Errorf("stored %d of %d", out.Stored, benchPerBatch)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)*benchPerBatch/b.Elapsed().Seconds(), "results/s")
}

// BenchmarkCopyRaw COPYs the rows of BenchmarkStoreBatch, one batch per transaction, into a bare
// table with the results' columns and no key or index: the ceiling StoreBatch is measured
// against.
func BenchmarkCopyRaw(b *testing.B) {
	copyRaw(b, `CREATE TABLE raw_results (scan_id TEXT, control_id TEXT, resource TEXT, node_id TEXT,
		status TEXT, severity TEXT, service TEXT, reason TEXT, evidence TEXT)`)
}

// BenchmarkCopyRawKeyed is BenchmarkCopyRaw into a table with the results' primary key (and its
// collation): what maintaining that key costs the server, apart from everything else
// StoreBatch does.
func BenchmarkCopyRawKeyed(b *testing.B) {
	copyRaw(b, `CREATE TABLE raw_results (scan_id TEXT COLLATE "C", control_id TEXT COLLATE "C", resource TEXT COLLATE "C",
		node_id TEXT COLLATE "C", status TEXT, severity TEXT, service TEXT, reason TEXT, evidence TEXT,
		PRIMARY KEY (scan_id, control_id, resource))`)
}

// copyRaw creates raw_results with create and COPYs the rows of BenchmarkStoreBatch into it.
func copyRaw(b *testing.B, create string) {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, freshSchema(b))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, create); err != nil {
		b.Fatal(err)
	}
	results := make([]store.Result, benchPerBatch)
	b.ResetTimer()
	for n := range b.N {
		benchResults(results, n%benchBatchesPerScan)
		// Encoded as StoreBatch encodes them, so that both measure the same client work.
		data := postgres.ResultsCopy(fmt.Sprintf("s-%d", n/benchBatchesPerScan), "n-1", results)
		tag, err := c.PgConn().CopyFrom(ctx, bytes.NewReader(data),
			"COPY raw_results (scan_id, control_id, resource, node_id, status, severity, service, reason, evidence) FROM STDIN (FORMAT binary)")
		if err != nil {
			b.Fatal(err)
		}
		if got := tag.RowsAffected(); got != benchPerBatch {
			b.Fatalf("copied %d of %d", got, benchPerBatch)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*benchPerBatch/b.Elapsed().Seconds(), "results/s")
}

// TestHeartbeatSkipsABusyScan: a heartbeat on a scan whose row another transaction holds (here
// a stop) does not wait for it: it writes nothing and answers the state committed so far; the
// next heartbeat after the stop answers the new state.
func TestHeartbeatSkipsABusyScan(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	s, err := postgres.Open(ctx, postgres.Config{URL: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enrolNode(ctx, t, s, "n-1", "web-1")
	if err := s.CreateScans(ctx, []store.NewScan{{ID: "s-1", NodeID: "n-1", CreatedAt: time.Now(), State: posture.Dispatched}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TransitionScan(ctx, "s-1", store.Transition{State: posture.Running, At: time.Now()}); err != nil {
		t.Fatal(err)
	}

	stopper, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer stopper.Close(ctx)
	tx, err := stopper.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE scans SET state = 'cancelled', message = 'stopped by bob' WHERE id = 's-1'`); err != nil {
		t.Fatal(err)
	}
	beat := []store.Heartbeat{{ScanID: "s-1", NodeID: "n-1", Done: 5, Total: 9}}
	owners, err := s.RecordHeartbeats(ctx, beat, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.ScanOwner{NodeID: "n-1", State: posture.Running}); owners["s-1"] != want {
		t.Fatalf("heartbeat during the stop answered %+v; want %+v", owners["s-1"], want)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	sc, err := s.GetScan(ctx, "s-1")
	if err != nil {
		t.Fatal(err)
	}
	if sc.State != posture.Cancelled || sc.ControlsDone != 0 || !sc.LastHeartbeatAt.IsZero() {
		t.Fatalf("scan %s with %d done, heartbeat at %s; want cancelled and untouched by the heartbeat", sc.State, sc.ControlsDone, sc.LastHeartbeatAt)
	}
	owners, err = s.RecordHeartbeats(ctx, beat, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.ScanOwner{NodeID: "n-1", State: posture.Cancelled}); owners["s-1"] != want {
		t.Fatalf("heartbeat after the stop answered %+v; want %+v", owners["s-1"], want)
	}
}
