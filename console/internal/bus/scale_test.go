package bus

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestMoreThanAThousandNodes: the server's default cap of 1,000 consumers per stream must not
// cap the fleet (one job consumer per node).
func TestMoreThanAThousandNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1,001 consumers")
	}
	b := startBus(t, newAuthority(t))
	// A thousand consumer creations take a while under the race detector on two busy cores.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for i := 0; i <= 1000; i++ {
		if err := b.EnsureNode(ctx, fmt.Sprintf("node-%d", i)); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
}
