// Package sqlite is the embedded, pure-Go SQLite implementation of store.Store: one database
// file in the console's data directory, in WAL mode, migrated on open.
//
// Writes go through a pool of exactly one connection whose transactions begin IMMEDIATE, so
// writers queue in Go instead of failing with SQLITE_BUSY, and a read-check-write sequence in
// one method cannot interleave with another writer. Reads that need no write use a separate
// read-only pool and, thanks to WAL, never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"go.uber.org/zap"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/palisadehq/palisade/console/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// driverName is the database/sql driver that modernc.org/sqlite registers.
const driverName = "sqlite"

// writeCacheKiB is the page cache of the write connection: big enough that a large batch does
// not spill pages to the WAL before its commit.
const writeCacheKiB = 64 << 10

// busyTimeout is how long a connection waits for a lock held by another process (for example
// a backup tool) before failing.
const busyTimeout = 10 * time.Second

// Log field names.
const (
	logFieldPath      = "path"
	logFieldMigration = "migration"
	logFieldDuration  = "duration"
)

// Config configures Open.
type Config struct {
	// Path is the database file; it and its WAL files are created when missing. The directory
	// must exist.
	Path string
	// Logger receives migration and lifecycle logs; nil discards them.
	Logger *zap.Logger
	// ReadConns is the size of the read pool; zero means one per CPU, at least two.
	ReadConns int
}

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	// w is the single-connection write pool; r is the read-only pool.
	w *sql.DB
	r *sql.DB
}

var _ store.Store = (*Store)(nil)

// Open opens (creating when missing) the database at cfg.Path and brings its schema up to date.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Path == "" {
		return nil, errors.New("open sqlite store: no database path given; set the data directory")
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", cfg.Path, err)
	}
	timeout := fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds())

	w, err := sql.Open(driverName, dsn(abs, url.Values{
		"_pragma": {timeout, "foreign_keys(1)", "synchronous(NORMAL)", fmt.Sprintf("cache_size(-%d)", writeCacheKiB)},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w (check that the directory exists and is writable)", abs, err)
	}
	if err := useWAL(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	if err := migrate(ctx, w, log); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}

	readConns := cfg.ReadConns
	if readConns <= 0 {
		readConns = max(2, runtime.GOMAXPROCS(0))
	}
	r, err := sql.Open(driverName, dsn(abs, url.Values{
		"_pragma": {timeout, "foreign_keys(1)", "query_only(1)"},
	}))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", abs, err)
	}
	log.Info("sqlite store open", zap.String(logFieldPath, abs))
	return &Store{w: w, r: r}, nil
}

// useWAL sets the page size of a new database (it has no effect on an existing one, and must come
// before WAL mode) and switches to WAL mode, which is then recorded in the file.
func useWAL(ctx context.Context, w *sql.DB) error {
	if _, err := w.ExecContext(ctx, `PRAGMA page_size = 16384`); err != nil {
		return fmt.Errorf("set page size: %w", err)
	}
	var mode string
	if err := w.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
		return fmt.Errorf("enable WAL mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("enable WAL mode: the journal mode stayed %q; put the data directory on a local file system", mode)
	}
	return nil
}

// dsn builds a file URI for the driver; the path is escaped so that '?' or '#' in it cannot be
// read as parameters.
func dsn(path string, params url.Values) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: params.Encode()}
	return u.String()
}

// migrate applies the embedded migrations that the database has not seen yet.
func migrate(ctx context.Context, db *sql.DB, log *zap.Logger) error {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return fmt.Errorf("read embedded migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	for _, r := range results {
		log.Info("applied schema migration", zap.String(logFieldMigration, r.Source.Path), zap.Duration(logFieldDuration, r.Duration))
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// inTx runs fn in a write transaction, committing when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// inReadTx runs fn in a read transaction, so that several queries see one snapshot.
func (s *Store) inReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin read transaction: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to undo
	return fn(tx)
}

// queryer is what both a pool and a transaction offer.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// classify maps constraint violations onto the store's errors: a duplicate key is
// store.ErrConflict, a missing referenced row store.ErrNotFound.
func classify(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	}
	return err
}

// nanos turns a time into the stored form: UTC unix nanoseconds, NULL for the zero time.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos.
func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// rowsAffected returns how many rows a statement changed.
func rowsAffected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("count changed rows: %w", err)
	}
	return n, nil
}
