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

// schemaQuery describes the tables (with their partitions and storage options), columns,
// constraints, indexes, triggers and functions of the current schema, one line each (a
// function's body on one line), in a stable order (goose's own table left out).
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
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'goose_db_version'
UNION ALL
SELECT 'table ' || c.relname || ' with ' || array_to_string(c.reloptions, ', ')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
WHERE c.relkind IN ('r', 'p') AND c.reloptions IS NOT NULL
UNION ALL
SELECT 'table ' || c.relname || ' partitioned by ' || pg_get_partkeydef(c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
WHERE c.relkind = 'p'
UNION ALL
SELECT 'table ' || p.relname || ' partition ' || c.relname || ' ' || pg_get_expr(c.relpartbound, c.oid)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
JOIN pg_inherits i ON i.inhrelid = c.oid
JOIN pg_class p ON p.oid = i.inhparent
WHERE c.relispartition AND c.relkind = 'r'
UNION ALL
SELECT 'table ' || c.relname || ' constraint ' || pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
WHERE c.relname <> 'goose_db_version' AND NOT c.relispartition AND k.contype IN ('p', 'u', 'f', 'c')
UNION ALL
SELECT 'index ' || replace(indexdef, current_schema() || '.', '')
FROM pg_indexes x
JOIN pg_class c ON c.relname = x.tablename
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = x.schemaname
WHERE x.schemaname = current_schema() AND x.tablename <> 'goose_db_version' AND NOT c.relispartition
UNION ALL
SELECT 'trigger ' || replace(pg_get_triggerdef(g.oid), current_schema() || '.', '')
FROM pg_trigger g
JOIN pg_class c ON c.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema()
WHERE NOT g.tgisinternal
UNION ALL
SELECT 'function ' || p.proname || '(' || pg_get_function_arguments(p.oid) || ') returns '
	|| pg_get_function_result(p.oid) || ': ' || btrim(regexp_replace(p.prosrc, '\s+', ' ', 'g'))
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = current_schema()
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
	if got, want := fmt.Sprint(applied), "[20261126000001 20261126000002 20261126000003 20261126000004 20261126000005 20261126000007 20261127000008 20261127000009]"; got != want {
		t.Fatalf("applied migrations = %s; want each once: %s", got, want)
	}
}

// queryText runs a query that returns one text value on a connection of its own.
// migrate moves the schema of the database at dsn to version, failing the test with what
// (migrate, migrate down, ...) when it cannot.
func migrate(t *testing.T, dsn string, version int64, what string) {
	t.Helper()
	if err := postgres.MigrateTo(t.Context(), dsn, version); err != nil {
		t.Fatalf("%s to %d: %v", what, version, err)
	}
}

func queryText(t *testing.T, dsn, sql string) string {
	t.Helper()
	ctx := t.Context()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var v string
	if err := c.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// TestResultsPartitionMigration writes results as the schema before partitioning held them,
// migrates up and down again, and checks that every row crosses both ways intact, that rows
// land in the partition of their scan, and that the primary key still refuses a duplicate.
func TestResultsPartitionMigration(t *testing.T) {
	ctx := t.Context()
	dsn := freshSchema(t)
	const before, partitioned = 20261126000007, 20261127000008
	migrate(t, dsn, before, "migrate")
	for s := 1; s <= 3; s++ {
		exec(t, dsn, fmt.Sprintf(`INSERT INTO results (scan_id, control_id, resource, node_id, status, severity, service, reason, evidence)
			VALUES ('s-%[1]d', 'c-1', '/etc/a', 'n-%[1]d', 'pass', 'high', 'ssh', 'ok %[1]d', '[{"path":"/etc/a"}]'),
			       ('s-%[1]d', 'c-2', '', 'n-%[1]d', 'fail', 'low', 'kernel', 'bad %[1]d', NULL)`, s))
	}
	const rows = `SELECT string_agg(concat_ws('|', scan_id, control_id, resource, node_id, status, severity, service, reason, coalesce(evidence, 'null')), ';'
		ORDER BY scan_id, control_id) FROM results`
	const want = `s-1|c-1|/etc/a|n-1|pass|high|ssh|ok 1|[{"path":"/etc/a"}];s-1|c-2||n-1|fail|low|kernel|bad 1|null;` +
		`s-2|c-1|/etc/a|n-2|pass|high|ssh|ok 2|[{"path":"/etc/a"}];s-2|c-2||n-2|fail|low|kernel|bad 2|null;` +
		`s-3|c-1|/etc/a|n-3|pass|high|ssh|ok 3|[{"path":"/etc/a"}];s-3|c-2||n-3|fail|low|kernel|bad 3|null`

	s, err := postgres.Open(ctx, postgres.Config{URL: dsn})
	if err != nil {
		t.Fatalf("Open (migrating to %d): %v", partitioned, err)
	}
	s.Close()
	if got := queryText(t, dsn, rows); got != want {
		t.Fatalf("results after partitioning:\n got %s\nwant %s", got, want)
	}
	// Both results of a scan sit in one partition, the one its hash names.
	const placement = `SELECT string_agg(DISTINCT scan_id || '=' || tableoid::regclass::text, ',') FROM results`
	const scanPartitions = `SELECT string_agg(scan_id || '=' || p, ',' ORDER BY scan_id) FROM (
		SELECT DISTINCT scan_id, (SELECT c.relname FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
			WHERE i.inhparent = 'results'::regclass AND satisfies_hash_partition('results'::regclass, 16,
				substr(c.relname, 10)::int, r.scan_id)) AS p FROM results r) x`
	if got, want := queryText(t, dsn, placement), queryText(t, dsn, scanPartitions); got != want {
		t.Fatalf("results placed in %s; their scans hash to %s", got, want)
	}
	if got := queryText(t, dsn, `SELECT count(DISTINCT tableoid)::text FROM results`); got == "1" {
		t.Fatal("three scans' results all in one partition: the table is not split")
	}
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	// The key is (scan, control, resource): a scan's results all come from its node.
	_, err = c.Exec(ctx, `INSERT INTO results (scan_id, control_id, resource, node_id, status, severity, service, reason)
		VALUES ('s-2', 'c-2', '', 'n-9', 'pass', 'low', 'kernel', 'again')`)
	c.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "duplicate key") {
		t.Fatalf("a second row with a stored result's key: err = %v; want a duplicate key error", err)
	}

	migrate(t, dsn, before, "migrate down")
	if got := queryText(t, dsn, rows); got != want {
		t.Fatalf("results after migrating down:\n got %s\nwant %s", got, want)
	}
	if got := queryText(t, dsn, `SELECT relkind::text FROM pg_class WHERE oid = 'results'::regclass`); got != "r" {
		t.Fatalf("results after migrating down has relkind %q; want a plain table (r)", got)
	}
}

// TestLastFinishedScanMigration migrates a database with scans of every kind to the version
// that keeps each node's most recent finished scan on the node, checks what it fills in, and
// migrates down and up again.
func TestLastFinishedScanMigration(t *testing.T) {
	dsn := freshSchema(t)
	const before, after = 20261127000008, 20261127000009
	migrate(t, dsn, before, "migrate")
	exec(t, dsn, `INSERT INTO nodes (id, name, target_type, facts, enrol_token_id, enrolled_at) VALUES
		('n-1', 'one', 'linux', '{}', 'tok', 0), ('n-2', 'two', 'linux', '{}', 'tok', 0), ('n-3', 'three', 'linux', '{}', 'tok', 0)`)
	exec(t, dsn, `INSERT INTO scans (id, node_id, state, benchmark_ids, created_at) VALUES
		('s-a', 'n-1', 'complete', '{}', 1), ('s-b', 'n-1', 'failed', '{}', 2), ('s-c', 'n-1', 'running', '{}', 3),
		('s-d', 'n-2', 'queued', '{}', 4),
		('s-e', 'n-3', 'cancelled', '{}', 5), ('s-f', 'n-3', 'timed_out', '{}', 5)`)
	const last = `SELECT string_agg(concat_ws('|', id, last_finished_scan_id, last_finished_scan_state, last_finished_scan_created_at), ';'
		ORDER BY id) FROM nodes`
	migrate(t, dsn, after, "migrate")
	if got, want := queryText(t, dsn, last), "n-1|s-b|failed|2;n-2;n-3|s-f|timed_out|5"; got != want {
		t.Fatalf("last finished scans after migrating up:\n got %s\nwant %s", got, want)
	}
	// From here the triggers keep the columns: s-c completes, s-b goes.
	exec(t, dsn, `UPDATE scans SET state = 'complete' WHERE id = 's-c'`)
	exec(t, dsn, `DELETE FROM scans WHERE id = 's-f'`)
	if got, want := queryText(t, dsn, last), "n-1|s-c|complete|3;n-2;n-3|s-e|cancelled|5"; got != want {
		t.Fatalf("last finished scans after a completion and a deletion:\n got %s\nwant %s", got, want)
	}

	migrate(t, dsn, before, "migrate down")
	const leftovers = `SELECT ((SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema()
			AND table_name = 'nodes' AND column_name LIKE 'last_finished%')
		+ (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'scans'::regclass AND NOT tgisinternal))::text`
	if got := queryText(t, dsn, leftovers); got != "0" {
		t.Fatalf("%s columns and triggers left after migrating down; want none", got)
	}
	migrate(t, dsn, after, "migrate up again")
	if got, want := queryText(t, dsn, last), "n-1|s-c|complete|3;n-2;n-3|s-e|cancelled|5"; got != want {
		t.Fatalf("last finished scans after migrating up again:\n got %s\nwant %s", got, want)
	}
}
