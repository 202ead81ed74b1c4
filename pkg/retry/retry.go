// Package retry holds the reconnect policy shared by the sensor and the load generator: which
// gRPC failures are worth retrying, jittered backoff and context-aware waits.
package retry

import (
	"context"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Retryable reports whether a gRPC error is transient (the console is unreachable, busy or
// slow), so the call may be made again after a backoff.
func Retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

// Sleep waits d or until ctx ends; it reports whether the wait was completed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Jitter returns a random duration between d/2 and d, so that many clients backing off at
// once do not come back at once.
func Jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
