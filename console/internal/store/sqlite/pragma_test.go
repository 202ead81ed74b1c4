package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
)

// TestPragmas checks how Open set up both pools.
func TestPragmas(t *testing.T) {
	s, err := Open(t.Context(), Config{Path: filepath.Join(t.TempDir(), "p.db")})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	tests := []struct {
		pool   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"write", s.w, "journal_mode", "wal"},
		{"write", s.w, "foreign_keys", "1"},
		{"write", s.w, "busy_timeout", "10000"},
		{"write", s.w, "synchronous", "1"},
		{"write", s.w, "page_size", "16384"},
		{"write", s.w, "cache_size", "-65536"},
		{"write", s.w, "query_only", "0"},
		{"read", s.r, "journal_mode", "wal"},
		{"read", s.r, "foreign_keys", "1"},
		{"read", s.r, "busy_timeout", "10000"},
		{"read", s.r, "query_only", "1"},
	}
	for _, tt := range tests {
		var got string
		if err := tt.db.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatalf("%s pool: PRAGMA %s: %v", tt.pool, tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("%s pool: PRAGMA %s = %s; want %s", tt.pool, tt.pragma, got, tt.want)
		}
	}
	if _, err := s.r.ExecContext(t.Context(), `INSERT INTO audit (at, actor, action, target, detail) VALUES (1, 'a', 'b', 'c', 'd')`); err == nil {
		t.Fatal("the read pool accepted a write")
	}
}
