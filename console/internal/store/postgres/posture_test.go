package postgres_test

import (
	"testing"

	"github.com/palisadehq/palisade/console/internal/store/postgres"
)

// TestCapacity checks the room PostureNodes reserves from the planner's row estimates: none
// for a table never analysed, a little over the estimate, and at most a million rows.
func TestCapacity(t *testing.T) {
	for _, tt := range []struct {
		estimate float32
		want     int
	}{
		{-1, 0},
		{0, 0},
		{1, 17},
		{10000, 10516},
		{1e9, 1 << 20},
	} {
		if got := postgres.Capacity(tt.estimate); got != tt.want {
			t.Errorf("capacity(%v) = %d; want %d", tt.estimate, got, tt.want)
		}
	}
}
