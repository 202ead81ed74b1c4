package bus

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/palisadehq/palisade/pkg/jobs"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// streamMsgs returns how many jobs the stream holds and how many of them are for node.
func streamMsgs(t *testing.T, b *Bus, node string) (total, forNode uint64) {
	t.Helper()
	st, err := b.js.Stream(ctxT(t), jobs.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	subject := jobs.JobSubject(node)
	bySubject, err := st.Info(ctxT(t), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs, bySubject.State.Subjects[subject]
}

func TestPublishJobs(t *testing.T) {
	b := startBus(t, newAuthority(t))
	// More jobs than the window, over three nodes, with two that cannot be published.
	const good = 4*publishWindow + 100
	batch := make([]*sensorv1.Job, 0, good+2)
	for i := range good {
		batch = append(batch, job(fmt.Sprintf("node-%d", i%3), fmt.Sprintf("scan-%d", i)))
	}
	batch = append(batch, job("Node/1", "scan-bad"), job("node-0", ""))
	want := make([]string, len(batch))
	want[good] = `bus: publish job: node id "Node/1" has 'N' at offset 0; only lowercase letters, digits and '-' are allowed`
	want[good+1] = "bus: publish job: the job has no scan id"

	check := func(what string, errs []error) {
		t.Helper()
		if len(errs) != len(batch) {
			t.Fatalf("%s: %d outcomes for %d jobs", what, len(errs), len(batch))
		}
		for i, err := range errs {
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != want[i] {
				t.Fatalf("%s: job %d: error %q, want %q", what, i, got, want[i])
			}
		}
	}
	check("first publish", b.PublishJobs(ctxT(t), batch))
	total, node1 := streamMsgs(t, b, "node-1")
	const forNode1 = (good + 1) / 3 // jobs 1, 4, 7, ...
	if total != good || node1 != forNode1 {
		t.Fatalf("stream holds %d jobs, %d for node-1; want %d and %d", total, node1, good, forNode1)
	}
	// The scan ids deduplicate: publishing the batch again stores nothing more.
	check("second publish", b.PublishJobs(ctxT(t), batch))
	if total, _ := streamMsgs(t, b, "node-1"); total != good {
		t.Fatalf("stream holds %d jobs after publishing twice, want %d", total, good)
	}

	// A caller that has gone away publishes nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	errs := b.PublishJobs(ctx, []*sensorv1.Job{job("node-0", "scan-late")})
	if len(errs) != 1 || errs[0] == nil || errs[0].Error() != "bus: publish job: not sent: context canceled" || errors.Is(errs[0], jobs.ErrUnconfirmed) {
		t.Fatalf("cancelled publish: %v; want not sent, and not unconfirmed", errs)
	}
	// Likewise one job at a time.
	if err := b.PublishJob(ctx, job("node-0", "scan-later")); err == nil || err.Error() != "bus: publish job for scan scan-later: not sent: context canceled" || errors.Is(err, jobs.ErrUnconfirmed) {
		t.Fatalf("cancelled PublishJob: %v; want not sent, and not unconfirmed", err)
	}
	if total, _ := streamMsgs(t, b, "node-0"); total != good {
		t.Fatalf("stream holds %d jobs after a cancelled publish, want %d", total, good)
	}
}

// TestPublishJobsRetries: jobs published while the stream is missing (as while a cluster elects
// a leader) are published again until it is back, and each is stored once.
func TestPublishJobsRetries(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	b := startBus(t, newAuthority(t), func(c *Config) { c.Logger = zap.New(core) })
	ctx := ctxT(t)
	if err := b.js.DeleteStream(ctx, jobs.StreamName); err != nil {
		t.Fatal(err)
	}
	batch := []*sensorv1.Job{job("node-a", "scan-1"), job("node-b", "scan-2"), job("node-a", "scan-3")}
	done := make(chan []error, 1)
	go func() { done <- b.PublishJobs(ctx, batch) }()
	waitFor(t, "a failed attempt", func() bool {
		return logs.FilterMessage("publishing jobs went unanswered; trying again").Len() > 0
	})
	if err := b.ensureStream(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for i, err := range receive(t, done, "PublishJobs") {
		if err != nil {
			t.Errorf("job %d: %v", i, err)
		}
	}
	if total, forA := streamMsgs(t, b, "node-a"); total != 3 || forA != 2 {
		t.Fatalf("stream holds %d jobs, %d for node-a; want 3 and 2", total, forA)
	}
}
