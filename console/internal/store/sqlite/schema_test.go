package sqlite

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.sql from the migrated database")

// TestSchema compares the schema the migrations produce with the canonical one in
// testdata/schema.sql; run with -update after adding a migration, and review the diff.
func TestSchema(t *testing.T) {
	s, err := Open(t.Context(), Config{Path: filepath.Join(t.TempDir(), "schema.db")})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	rows, err := s.r.QueryContext(t.Context(),
		`SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY type DESC, name`)
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var stmt string
		if err := rows.Scan(&stmt); err != nil {
			t.Fatalf("read schema: %v", err)
		}
		b.WriteString(stmt + ";\n\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read schema: %v", err)
	}
	got := b.String()
	golden := filepath.Join("testdata", "schema.sql")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read %s: %v (run go test -run TestSchema -update to create it)", golden, err)
	}
	if got != string(want) {
		t.Fatalf("the migrated schema differs from %s; if the change is intended, run go test -run TestSchema -update and review the diff\ngot:\n%s", golden, got)
	}
}
