package jobs

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
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

func TestAckedMemoryIsBounded(t *testing.T) {
	s := &Subscription{acked: make(map[string]struct{})}
	for i := range ackedMemory + 2 {
		s.rememberAcked(fmt.Sprintf("scan-%d", i))
	}
	s.rememberAcked("scan-5") // already remembered: no second entry
	tests := []struct {
		scan string
		want bool
	}{
		{"scan-0", false},
		{"scan-1", false},
		{"scan-2", true},
		{fmt.Sprintf("scan-%d", ackedMemory+1), true},
		{"never", false},
	}
	for _, tt := range tests {
		if got := s.wasAcked(tt.scan); got != tt.want {
			t.Errorf("wasAcked(%s) = %v, want %v", tt.scan, got, tt.want)
		}
	}
	if len(s.acked) != ackedMemory || len(s.ackedOrder) != ackedMemory || !slices.Equal(s.ackedOrder[:1], []string{"scan-2"}) {
		t.Errorf("remembers %d ids (%d in order, oldest %v), want %d", len(s.acked), len(s.ackedOrder), s.ackedOrder[:1], ackedMemory)
	}
}
