package jobs

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

func TestNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{JobSubject("n1"), "palisade.jobs.n1"},
		{ControlSubject("n1"), "palisade.control.n1"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeJob(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Subscription{nodeID: "n1", o: options{log: zap.NewNop(), maxJobBytes: 200}}
	tests := []struct {
		name   string
		data   []byte
		reason string
	}{
		{"valid", mustMarshal(t, &sensorv1.Job{ScanId: "s1", NodeId: "n1", ExpiresAt: timestamppb.New(now.Add(time.Minute))}), ""},
		{"no expiry", mustMarshal(t, &sensorv1.Job{ScanId: "s1", NodeId: "n1"}), ""},
		{"garbage", []byte{0xff, 0xff, 0xff}, "not a valid job message: "},
		{"oversized", make([]byte, 201), "job of 201 bytes exceeds the limit of 200 bytes"},
		{"no scan id", mustMarshal(t, &sensorv1.Job{NodeId: "n1"}), "job has no scan id"},
		{"other node", mustMarshal(t, &sensorv1.Job{ScanId: "s1", NodeId: "n2"}), `job for scan s1 is addressed to node "n2", not this node`},
		{"expired is passed on", mustMarshal(t, &sensorv1.Job{ScanId: "s1", NodeId: "n1", ExpiresAt: timestamppb.New(now.Add(-time.Second))}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, reason := s.decodeJob(tt.data)
			if tt.reason == "" {
				if job == nil || reason != "" || job.GetScanId() != "s1" {
					t.Fatalf("decodeJob = %v, %q; want the job", job, reason)
				}
				return
			}
			if job != nil || !strings.HasPrefix(reason, tt.reason) {
				t.Errorf("decodeJob = %v, %q; want rejection %q", job, reason, tt.reason)
			}
		})
	}
}

func TestHandleCommand(t *testing.T) {
	var got []*sensorv1.Command
	s := &Subscription{nodeID: "n1", o: options{log: zap.NewNop()}, onCommand: func(c *sensorv1.Command) { got = append(got, c) }}
	msgs := [][]byte{
		{0xff, 0x01},
		make([]byte, MaxCommandBytes+1),
		mustMarshal(t, &sensorv1.Command{ScanId: "s1"}),
		mustMarshal(t, &sensorv1.Command{Action: sensorv1.Command_ACTION_STOP}),
		mustMarshal(t, &sensorv1.Command{ScanId: "s2", Action: sensorv1.Command_ACTION_STOP}),
	}
	for _, data := range msgs {
		s.handleCommand(&nats.Msg{Subject: ControlSubject("n1"), Data: data})
	}
	if len(got) != 1 || got[0].GetScanId() != "s2" || got[0].GetAction() != sensorv1.Command_ACTION_STOP {
		t.Errorf("handler got %v, want only the stop for s2", got)
	}
}

// TestEachScanOnce: a scan's job reaches the handler once, whether it arrives live, again in
// a hello's pending jobs, or published twice; a pending job for another node or without scan
// id is dropped, and Deliver after Close reports the subscription ended.
func TestEachScanOnce(t *testing.T) {
	s := &Subscription{
		nodeID: "n1", o: options{log: zap.NewNop(), maxJobBytes: MaxJobBytes},
		pending: make(chan *sensorv1.Job, handlerQueue), stop: make(chan struct{}), taken: map[string]struct{}{},
	}
	got := make(chan string, 16)
	s.onJob = func(j *sensorv1.Job) { got <- j.GetScanId() }
	msgs := make(chan *nats.Msg, 16)
	done := make(chan struct{})
	go func() { defer close(done); s.jobLoop(msgs) }()

	msgs <- &nats.Msg{Subject: JobSubject("n1"), Data: mustMarshal(t, &sensorv1.Job{ScanId: "s1", NodeId: "n1"}), Reply: "_INBOX.console.1"}
	msgs <- &nats.Msg{Subject: JobSubject("n1"), Data: []byte{0xff}}
	msgs <- &nats.Msg{Subject: JobSubject("n1"), Data: mustMarshal(t, &sensorv1.Job{ScanId: "s1", NodeId: "n1"})}
	for _, j := range []*sensorv1.Job{
		{ScanId: "s1", NodeId: "n1"}, // live already
		{ScanId: "s2", NodeId: "n2"}, // not ours
		{NodeId: "n1"},               // no scan
		{ScanId: "s3", NodeId: "n1"},
		{ScanId: "s3", NodeId: "n1"},
	} {
		if !s.Deliver(j) {
			t.Fatal("Deliver refused a job on a running subscription")
		}
	}
	msgs <- &nats.Msg{Subject: JobSubject("n1"), Data: mustMarshal(t, &sensorv1.Job{ScanId: "s4", NodeId: "n1"})}
	var order []string
	for range 3 {
		select {
		case id := <-got:
			order = append(order, id)
		case <-time.After(5 * time.Second):
			t.Fatalf("handled %v, then nothing", order)
		}
	}
	s.shutdown()
	<-done
	// Live messages and delivered jobs come through two channels: their order between the
	// two is not fixed.
	slices.Sort(order)
	if strings.Join(order, ",") != "s1,s3,s4" || len(got) != 0 {
		t.Fatalf("handled %v and %d more; want s1,s3,s4 once each", order, len(got))
	}
	if s.Deliver(&sensorv1.Job{ScanId: "s5", NodeId: "n1"}) {
		t.Fatal("Deliver accepted a job after the subscription ended")
	}
}

func TestSplay(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	if d := Splay(&sensorv1.Job{}, now); d != 0 {
		t.Fatalf("a job without splay waits %s, want 0", d)
	}
	fresh := &sensorv1.Job{SplayMillis: 40, CreatedAt: timestamppb.New(now)}
	// Created in the node's future (its clock is behind): the draw, no more.
	ahead := &sensorv1.Job{SplayMillis: 40, CreatedAt: timestamppb.New(now.Add(time.Hour))}
	for range 1000 {
		if d := Splay(fresh, now); d < 0 || d >= 40*time.Millisecond {
			t.Fatalf("splay %s outside [0, 40ms)", d)
		}
		if d := Splay(ahead, now); d < 0 || d >= 40*time.Millisecond {
			t.Fatalf("splay of a job from the node's future %s outside [0, 40ms)", d)
		}
	}
	// Taken after its whole spread has passed: at once.
	late := &sensorv1.Job{SplayMillis: 40, CreatedAt: timestamppb.New(now.Add(-time.Second))}
	if d := Splay(late, now); d != 0 {
		t.Fatalf("a job taken 1 s after a 40 ms spread waits %s, want 0", d)
	}
}
