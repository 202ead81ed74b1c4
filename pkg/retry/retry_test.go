package retry

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRetryable(t *testing.T) {
	for code, want := range map[codes.Code]bool{
		codes.Unavailable: true, codes.DeadlineExceeded: true, codes.ResourceExhausted: true, codes.Aborted: true,
		codes.Unauthenticated: false, codes.InvalidArgument: false, codes.PermissionDenied: false,
	} {
		if got := Retryable(status.Error(code, "x")); got != want {
			t.Errorf("Retryable(%s) = %v; want %v", code, got, want)
		}
	}
	if Retryable(errors.New("plain")) {
		t.Error("a non-gRPC error is not retryable")
	}
}

func TestJitterBounds(t *testing.T) {
	for range 1000 {
		if j := Jitter(100 * time.Millisecond); j < 50*time.Millisecond || j > 100*time.Millisecond {
			t.Fatalf("Jitter(100ms) = %s; want within [50ms, 100ms]", j)
		}
	}
}

func TestSleepStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep completed although its context had ended")
	}
	if !Sleep(context.Background(), time.Millisecond) {
		t.Fatal("Sleep(1ms) did not complete")
	}
}
