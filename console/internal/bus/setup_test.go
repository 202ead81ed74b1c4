package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/palisadehq/palisade/pkg/jobs"
)

func TestReplicaCandidates(t *testing.T) {
	tests := []struct {
		name    string
		fixed   int
		cluster string
		want    []int
	}{
		{"fixed wins", 5, "c1", []int{5}},
		{"fixed outside a cluster", 1, "", []int{1}},
		{"single server", 0, "", []int{1}},
		{"cluster", 0, "c1", []int{3, 1}},
	}
	for _, tt := range tests {
		if got := replicaCandidates(tt.fixed, tt.cluster); !slices.Equal(got, tt.want) {
			t.Errorf("%s: replicaCandidates = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestIsNoPeersAndRetryable(t *testing.T) {
	noPeers := &jetstream.APIError{Code: 500, ErrorCode: 10005, Description: "no suitable peers for placement"}
	unavailable := &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}
	other := &jetstream.APIError{Code: 400, ErrorCode: 10058, Description: "stream name already in use"}
	tests := []struct {
		name                            string
		err                             error
		noPeers, retryable, unconfirmed bool
	}{
		{"no peers", fmt.Errorf("wrapped: %w", noPeers), true, false, false},
		{"cluster unavailable", unavailable, false, true, false},
		{"other API error", other, false, false, false},
		{"no stream response", jetstream.ErrNoStreamResponse, false, true, true},
		{"async ack timeout", jetstream.ErrAsyncPublishTimeout, false, true, true},
		{"deadline", fmt.Errorf("publish: %w", context.DeadlineExceeded), false, true, true},
		{"disconnected", nats.ErrDisconnected, false, true, true},
		{"no responders", nats.ErrNoResponders, false, true, false},
		{"reconnecting", nats.ErrConnectionReconnecting, false, true, false},
		{"plain", errors.New("boom"), false, false, false},
	}
	for _, tt := range tests {
		if got := unconfirmed(tt.err); got != tt.unconfirmed {
			t.Errorf("%s: unconfirmed = %v, want %v", tt.name, got, tt.unconfirmed)
		}
		wantMarked := tt.unconfirmed
		if got := errors.Is(publishFailure(tt.err, tt.err), jobs.ErrUnconfirmed); got != wantMarked {
			t.Errorf("%s: publishFailure marked unconfirmed = %v, want %v", tt.name, got, wantMarked)
		}
		if got := isNoPeers(tt.err); got != tt.noPeers {
			t.Errorf("%s: isNoPeers = %v, want %v", tt.name, got, tt.noPeers)
		}
		if got := retryablePublish(tt.err); got != tt.retryable {
			t.Errorf("%s: retryablePublish = %v, want %v", tt.name, got, tt.retryable)
		}
	}
}

func TestStreamBroughtToConfig(t *testing.T) {
	a := newAuthority(t)
	b := startBus(t, a)
	ctx := ctxT(t)
	if b.Replicas() != 1 {
		t.Errorf("replicas = %d on a single server, want 1", b.Replicas())
	}

	// A changed setting that can be changed in place is put back.
	drifted := streamConfig(1, DefaultKeepJobs)
	drifted.MaxAge = time.Hour
	if _, err := b.js.UpdateStream(ctx, drifted); err != nil {
		t.Fatal(err)
	}
	if err := b.ensureStream(ctx, 0); err != nil {
		t.Fatal(err)
	}
	st, err := b.js.Stream(ctx, jobs.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.CachedInfo().Config.MaxAge; got != DefaultKeepJobs {
		t.Errorf("stream max age = %s after ensureStream, want %s", got, DefaultKeepJobs)
	}

	// One that cannot is a clear error: a work-queue stream, as earlier consoles made it.
	if err := b.js.DeleteStream(ctx, jobs.StreamName); err != nil {
		t.Fatal(err)
	}
	workQueue := streamConfig(1, DefaultKeepJobs)
	workQueue.Retention = jetstream.WorkQueuePolicy
	if _, err := b.js.CreateStream(ctx, workQueue); err != nil {
		t.Fatal(err)
	}
	err = b.ensureStream(ctx, 0)
	const wantPrefix = "bus: the PALISADE_JOBS stream exists with other settings (retention WorkQueue -> Limits) and the server refused to change them in place: "
	const wantSuffix = "; stop the consoles, let the sensors drain their jobs, delete the stream (nats stream rm PALISADE_JOBS) and start the console again to recreate it"
	if err == nil || !strings.HasPrefix(err.Error(), wantPrefix) || !strings.HasSuffix(err.Error(), wantSuffix) {
		t.Errorf("error = %v\nwant    %s...%s", err, wantPrefix, wantSuffix)
	}
	if err := b.js.DeleteStream(ctx, jobs.StreamName); err != nil {
		t.Fatal(err)
	}
	// The server removes a deleted stream's directory in the background; a create racing that
	// removal fails once with "could not create storage directory", so poll until it succeeds.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := b.ensureStream(ctx, 0)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
