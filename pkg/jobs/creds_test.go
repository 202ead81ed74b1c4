package jobs

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

func TestCredentials(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	const token = "eyJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln"
	valid := fmt.Sprintf("-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n", token, seed)
	noSeed := fmt.Sprintf("-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n", token)
	tests := []struct {
		name  string
		creds string
		want  string // error prefix, "" for none
	}{
		{"valid", valid, ""},
		{"empty", "", "NATS credentials hold no user JWT; ask the console for new ones by reconnecting"},
		{"garbage", "not credentials", "NATS credentials hold no user JWT; ask the console for new ones by reconnecting"},
		{"no seed", noSeed, "NATS credentials hold no user seed: "},
	}
	for _, tt := range tests {
		opt, err := Credentials(tt.creds)
		switch {
		case tt.want == "" && (err != nil || opt == nil):
			t.Errorf("%s: Credentials = %v, want an option", tt.name, err)
		case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestTakenMemoryIsBounded(t *testing.T) {
	var handled int
	s := &Subscription{taken: make(map[string]struct{}), onJob: func(*sensorv1.Job) { handled++ }}
	for i := range takenMemory + 2 {
		s.handleJob(&sensorv1.Job{ScanId: fmt.Sprintf("scan-%d", i), NodeId: "n1"})
	}
	s.handleJob(&sensorv1.Job{ScanId: "scan-5", NodeId: "n1"}) // remembered: not handled again
	if handled != takenMemory+2 {
		t.Fatalf("handled %d jobs, want %d", handled, takenMemory+2)
	}
	s.handleJob(&sensorv1.Job{ScanId: "scan-0", NodeId: "n1"}) // forgotten: handled again
	if handled != takenMemory+3 {
		t.Fatalf("handled %d jobs, want %d: the oldest scan id should have been forgotten", handled, takenMemory+3)
	}
	if len(s.taken) != takenMemory || len(s.takenOrder) != takenMemory || !slices.Equal(s.takenOrder[:1], []string{"scan-3"}) {
		t.Errorf("remembers %d ids (%d in order, oldest %v), want %d with scan-3 oldest", len(s.taken), len(s.takenOrder), s.takenOrder[:1], takenMemory)
	}
}

func TestForgetLetsAJobThroughAgain(t *testing.T) {
	var handled []string
	s := &Subscription{taken: make(map[string]struct{}), onJob: func(j *sensorv1.Job) { handled = append(handled, j.GetScanId()) }}
	for _, id := range []string{"s1", "s2", "s1"} {
		s.handleJob(&sensorv1.Job{ScanId: id, NodeId: "n1"})
	}
	s.Forget("s1")
	s.Forget("never-seen")
	s.handleJob(&sensorv1.Job{ScanId: "s1", NodeId: "n1"})
	s.handleJob(&sensorv1.Job{ScanId: "s2", NodeId: "n1"})
	if !slices.Equal(handled, []string{"s1", "s2", "s1"}) || !slices.Equal(s.takenOrder, []string{"s2", "s1"}) {
		t.Fatalf("handled %v, remembered %v; want s1 s2 s1, and s2 s1", handled, s.takenOrder)
	}
}
