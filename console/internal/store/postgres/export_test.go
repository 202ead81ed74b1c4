package postgres

import "github.com/palisadehq/palisade/console/internal/store"

// ResultsCopy returns results as the binary COPY data StoreBatch sends for them (in their
// order, none left out), for the raw COPY benchmarks.
func ResultsCopy(scanID, nodeID string, results []store.Result) []byte {
	c := newCopy()
	for i := range results {
		c.result(scanID, nodeID, &results[i])
	}
	return c.data()
}
