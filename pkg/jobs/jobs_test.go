package jobs

import (
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
		{DeliverSubject("n1"), "palisade.deliver.n1"},
		{ConsumerName("n1"), "node-n1"},
		{AckSubjects("n1"), "$JS.ACK.PALISADE_JOBS.node-n1.>"},
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

func TestHandleJobIgnoresForeignMessages(t *testing.T) {
	called := 0
	s := &Subscription{nodeID: "n1", o: options{log: zap.NewNop(), maxJobBytes: MaxJobBytes}, onJob: func(*sensorv1.Job, func() error) { called++ }}
	valid := mustMarshal(t, &sensorv1.Job{ScanId: "s1", NodeId: "n1"})
	status := &nats.Msg{Subject: DeliverSubject("n1"), Header: nats.Header{"Status": []string{"100"}}}
	s.handleJob(status)
	s.handleJob(&nats.Msg{Subject: DeliverSubject("n1"), Data: valid})                                        // no reply: not from JetStream
	s.handleJob(&nats.Msg{Subject: DeliverSubject("n1"), Data: valid, Reply: "_INBOX.x"})                     // reply is not an ack subject
	s.handleJob(&nats.Msg{Subject: DeliverSubject("n1"), Data: []byte{0xff}, Reply: "$JS.ACK.PALISADE_JOBS"}) // malformed, cannot even be terminated here
	if called != 0 {
		t.Errorf("job handler called %d times, want 0", called)
	}
	s.handleJob(&nats.Msg{Subject: DeliverSubject("n1"), Data: valid, Reply: "$JS.ACK.PALISADE_JOBS.node-n1.1.1.1.1.0"})
	if called != 1 {
		t.Errorf("job handler called %d times, want 1", called)
	}
}
