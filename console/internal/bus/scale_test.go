package bus

import (
	"fmt"
	"testing"
)

// TestMoreThanAThousandNodes: the server's default cap of 1,000 consumers per stream must not
// cap the fleet (one job consumer per node).
func TestMoreThanAThousandNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 1,001 consumers")
	}
	b := startBus(t, newAuthority(t))
	ctx := ctxT(t)
	for i := 0; i <= 1000; i++ {
		if err := b.EnsureNode(ctx, fmt.Sprintf("node-%d", i)); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
}
