package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/palisadehq/palisade/console/internal/store"
)

// ResultsCopy returns results as the binary COPY data StoreBatch sends for them (in their
// order, none left out), for the raw COPY benchmarks.
func ResultsCopy(scanID, nodeID string, results []store.Result) []byte {
	c := newCopy()
	for i := range results {
		c.result(scanID, nodeID, &results[i])
	}
	return c.data()
}

// MigrateTo migrates the schema of dsn up or down to version, for tests of a migration on
// data written by the schema before it.
func MigrateTo(ctx context.Context, dsn string, version int64) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := migrations(db)
	if err != nil {
		return err
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	if version < current {
		_, err = p.DownTo(ctx, version)
	} else {
		_, err = p.UpTo(ctx, version)
	}
	return err
}

// Capacity exposes capacity to the tests.
var Capacity = capacity
