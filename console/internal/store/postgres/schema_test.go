package postgres_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/palisadehq/palisade/console/internal/store/postgres"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.txt from the migrated database")

// schemaQuery describes the tables, columns, constraints and indexes of the current schema,
// one line each, in a stable order (goose's own table left out).
const schemaQuery = `
SELECT 'table ' || c.relname || ' column ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
	|| COALESCE(' collate ' || NULLIF(co.collname, 'default'), '')
	|| CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
	|| COALESCE(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
	|| CASE WHEN a.attidentity <> '' THEN ' identity' ELSE '' END AS line
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE c.relkind = 'r' AND c.relname <> 'goose_db_version'
UNION ALL
SELECT 'table ' || c.relname || ' constraint ' || pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
WHERE c.relname <> 'goose_db_version' AND k.contype IN ('p', 'u', 'f', 'c')
UNION ALL
SELECT 'index ' || replace(indexdef, current_schema() || '.', '')
FROM pg_indexes WHERE schemaname = current_schema() AND tablename <> 'goose_db_version'
ORDER BY 1`

// TestSchema compares the schema the migrations produce with the canonical one in
// testdata/schema.txt; run with -update after adding a migration, and review the diff.
func TestSchema(t *testing.T) {
	dsn := freshSchema(t)
	s, err := postgres.Open(t.Context(), postgres.Config{URL: dsn})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s.Close()
	got := describeSchema(t, dsn)
	golden := filepath.Join("testdata", "schema.txt")
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

func describeSchema(t *testing.T, dsn string) string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, schemaQuery)
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	return strings.Join(lines, "\n") + "\n"
}

// TestReopen checks that opening a migrated schema again migrates nothing and keeps the data.
func TestReopen(t *testing.T) {
	dsn := freshSchema(t)
	for i := range 2 {
		s, err := postgres.Open(t.Context(), postgres.Config{URL: dsn})
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		s.Close()
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var applied []int64
	rows, err := c.Query(ctx, `SELECT version_id FROM goose_db_version WHERE version_id > 0 ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	if applied, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(applied), "[20261126000001 20261126000002 20261126000003 20261126000004 20261126000005 20261126000007]"; got != want {
		t.Fatalf("applied migrations = %s; want each once: %s", got, want)
	}
}
