// Package postgres is the PostgreSQL implementation of store.Store, for estates too large for
// the embedded SQLite store and for several console replicas sharing one database.
//
// It talks to the server through a pgx connection pool. The schema is migrated on open by the
// embedded, append-only migrations under a session advisory lock, so replicas starting together
// migrate once. Results are ingested with COPY into a per-connection temporary staging table
// followed by one INSERT ... SELECT ... ON CONFLICT DO NOTHING, in the transaction that also
// records the batch, so a batch is stored exactly once however often it is sent.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"go.uber.org/zap"

	"github.com/palisadehq/palisade/console/internal/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Log field names.
const (
	logFieldHost      = "host"
	logFieldDatabase  = "database"
	logFieldMigration = "migration"
	logFieldDuration  = "duration"
)

// SQLSTATE codes the store maps onto its errors.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

// stagingTable is the temporary table each connection COPYs a batch's results into. Its rows
// vanish at every commit (and with a rollback), so a connection never sees another batch's rows.
const stagingTable = "result_staging"

// createStaging creates the staging table on a new connection. Its text columns use the "C"
// collation so that sorting them matches the order of the results' primary key.
const createStaging = `CREATE TEMPORARY TABLE IF NOT EXISTS ` + stagingTable + ` (
	ord        INTEGER          NOT NULL,
	control_id TEXT COLLATE "C" NOT NULL,
	resource   TEXT COLLATE "C" NOT NULL,
	status     TEXT COLLATE "C" NOT NULL,
	severity   TEXT COLLATE "C" NOT NULL,
	service    TEXT COLLATE "C" NOT NULL,
	reason     TEXT             NOT NULL,
	evidence   TEXT
) ON COMMIT DELETE ROWS`

// migrationLockKey names the advisory lock that serialises migrations of one schema; the
// schema's name is appended, so that databases or schemas migrate independently.
const migrationLockKey = "palisade.migrate:"

// Config configures Open.
type Config struct {
	// URL is the connection string, postgres://user:password@host:port/database?sslmode=...
	// Server parameters such as search_path may be given as query parameters.
	URL string
	// Logger receives migration and lifecycle logs; nil discards them.
	Logger *zap.Logger
	// MaxConns is the size of the connection pool; zero means pgx's default (four, or the
	// number of CPUs when greater).
	MaxConns int32
}

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// liveness is a small pool of its own for the writes that only say a node or a scan is
	// alive (TouchNodes, RecordProgress): ten thousand sensors send a few of them a second.
	// They commit without waiting for the WAL flush (a crash loses at most the last few,
	// which the next heartbeat rewrites) and never wait for a connection behind ingest.
	liveness *pgxpool.Pool
}

// livenessConns is the size of the liveness pool.
const livenessConns = 2

var _ store.Store = (*Store)(nil)

// Open connects to the database at cfg.URL and brings its schema up to date.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("open postgres store: no database URL given; pass postgres://user@host:port/database")
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// The parse error may quote the URL with its password; say only what to fix.
		return nil, errors.New("open postgres store: the database URL is not valid; use postgres://user:password@host:port/database?sslmode=disable")
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if _, err := c.Exec(ctx, createStaging); err != nil {
			return fmt.Errorf("create the staging table: %w", err)
		}
		return nil
	}
	where := fmt.Sprintf("%s:%d/%s", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w (check that the server runs and the URL's user, password and database are right)", where, err)
	}
	if err := migrate(ctx, pool, log); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	lc := pc.Copy()
	lc.MaxConns, lc.MinConns = livenessConns, 0
	// A SET after connecting rather than a startup parameter: poolers such as PgBouncer refuse
	// startup parameters they do not know.
	lc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		if _, err := c.Exec(ctx, `SET synchronous_commit = off`); err != nil {
			return fmt.Errorf("turn off synchronous commit for liveness writes: %w", err)
		}
		return nil
	}
	liveness, err := pgxpool.NewWithConfig(ctx, lc)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	log.Info("postgres store open", zap.String(logFieldHost, fmt.Sprintf("%s:%d", pc.ConnConfig.Host, pc.ConnConfig.Port)),
		zap.String(logFieldDatabase, pc.ConnConfig.Database))
	return &Store{pool: pool, liveness: liveness}, nil
}

// migrate applies the embedded migrations that the schema has not seen yet. A connection of its
// own, outside the pool, holds an advisory lock on the schema meanwhile, so that concurrent Opens
// (replicas starting together) migrate one after another.
func migrate(ctx context.Context, pool *pgxpool.Pool, log *zap.Logger) error {
	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("migrate schema: connect for the migration lock: %w", err)
	}
	defer func() {
		// Closing the session releases its advisory lock. A fresh context: the lock must go
		// even when ctx is done.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1 || COALESCE(current_schema(), ''), 0))`, migrationLockKey); err != nil {
		return fmt.Errorf("migrate schema: take the migration lock: %w", err)
	}

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := migrations(db)
	if err != nil {
		return err
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

// migrations is the goose provider of the embedded migrations on db.
func migrations(db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("prepare migrations: %w", err)
	}
	return p, nil
}

// Close closes the pool, waiting for connections in use to be returned.
func (s *Store) Close() error {
	s.liveness.Close()
	s.pool.Close()
	return nil
}

// inTx runs fn in a read-committed transaction, committing when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.runTx(ctx, pgx.TxOptions{}, fn)
}

// inReadTx runs fn in a read-only repeatable-read transaction, so that several queries see one
// snapshot.
func (s *Store) inReadTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.runTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

func (s *Store) runTx(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", classify(err))
	}
	return nil
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// classify maps constraint violations onto the store's errors: a duplicate key is
// store.ErrConflict, a missing referenced row store.ErrNotFound.
func classify(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case codeUniqueViolation:
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	case codeForeignKeyViolation:
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
func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// mustChange fails with store.ErrNotFound when an update by id matched no row.
func mustChange(tag pgconn.CommandTag, kind, id string) error {
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s %q: %w", kind, id, store.ErrNotFound)
	}
	return nil
}

// orNil returns nil for an empty list, so that empty lists come back nil as the store promises.
func orNil(v []string) []string {
	if len(v) == 0 {
		return nil
	}
	return v
}

// orEmpty returns an empty list for nil, for NOT NULL array columns.
func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}
