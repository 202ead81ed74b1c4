package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/sqlite"
	"github.com/palisadehq/palisade/console/internal/store/storetest"
	"github.com/palisadehq/palisade/pkg/posture"
)

func openTemp(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "palisade.db")})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
	})
}

// TestReopen checks that data survives a close and that migrating again is a no-op.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sub dir?#", "palisade.db")
	if _, err := sqlite.Open(ctx, sqlite.Config{Path: path}); err == nil {
		t.Fatal("Open in a missing directory succeeded")
	}
	path = filepath.Join(t.TempDir(), "odd ?name#.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	u := store.User{Name: "alice", PasswordHash: []byte("h"), Role: store.RoleAdmin, CreatedAt: time.Unix(0, 1).UTC()}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err = sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("Open again: %v", err)
	}
	defer s.Close()
	got, err := s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if got.Name != u.Name || string(got.PasswordHash) != "h" || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("GetUser after reopen = %+v; want %+v", got, u)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*")); len(matches) == 0 {
		t.Fatal("no database file was created")
	}
}

func TestOpenWithoutPath(t *testing.T) {
	_, err := sqlite.Open(t.Context(), sqlite.Config{})
	if err == nil || err.Error() != "open sqlite store: no database path given; set the data directory" {
		t.Fatalf("Open without a path: error = %v", err)
	}
}

// BenchmarkStoreBatch stores batches of 1000 results (250 controls, four resources each, in
// control order, as a sensor sends them) and reports results per second. Every ten batches go to
// a new scan, so the table grows as with many nodes' scans rather than one endless scan.
func BenchmarkStoreBatch(b *testing.B) {
	ctx := context.Background()
	s := openTemp(b)
	defer s.Close()
	tok := store.EnrolToken{ID: "tok", Hash: []byte("hash"), CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), Uses: 1}
	if err := s.CreateEnrolToken(ctx, tok); err != nil {
		b.Fatal(err)
	}
	if err := s.EnrolNode(ctx, tok.Hash, store.Node{ID: "n-1", Name: "bench", TargetType: posture.Linux}, time.Now()); err != nil {
		b.Fatal(err)
	}
	const perBatch, batchesPerScan = 1000, 10
	results := make([]store.Result, perBatch)
	for i := range results {
		results[i] = store.Result{
			ControlID: fmt.Sprintf("linux.control-%03d", i/4), Status: posture.Fail, Severity: posture.High, Service: "SSH",
			Reason:   "PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no",
			Evidence: []store.Evidence{{Source: "/etc/ssh/sshd_config", Line: 32, Key: "PermitRootLogin", Actual: "yes", Expected: "no"}},
		}
	}
	b.ResetTimer()
	for n := range b.N {
		scanID := fmt.Sprintf("s-%d", n/batchesPerScan)
		if n%batchesPerScan == 0 {
			b.StopTimer()
			if err := s.CreateScans(ctx, []store.NewScan{{ID: scanID, NodeID: "n-1", CreatedAt: time.Now()}}); err != nil {
				b.Fatal(err)
			}
			for i := range results {
				results[i].Resource = fmt.Sprintf("/etc/resource-%d", i%4)
			}
			b.StartTimer()
		}
		for i := range results {
			results[i].Resource = fmt.Sprintf("/etc/resource-%d-%d", n%batchesPerScan, i%4)
		}
		out, err := s.StoreBatch(ctx, store.Batch{ScanID: scanID, NodeID: "n-1", Seq: uint64(n%batchesPerScan + 1), Results: results, ReceivedAt: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		if out.Stored != perBatch {
			b.Fatalf("stored %d of %d", out.Stored, perBatch)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*perBatch/b.Elapsed().Seconds(), "results/s")
}
