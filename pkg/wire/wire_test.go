package wire

import (
	"testing"

	"github.com/palisadehq/palisade/pkg/posture"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

func TestRoundTrip(t *testing.T) {
	for _, s := range posture.Statuses {
		p := StatusToProto(s)
		if p == sensorv1.Status_STATUS_UNSPECIFIED {
			t.Fatalf("status %s has no wire value", s)
		}
		back, ok := StatusFromProto(p)
		if !ok || back != s {
			t.Fatalf("status %s -> %v -> %s, %v", s, p, back, ok)
		}
		if got := EnumName(p.String(), "STATUS_"); got != string(s) {
			t.Fatalf("EnumName(%s) = %q", p, got)
		}
	}
	for _, s := range posture.ScanStates {
		p := StateToProto(s)
		back, ok := StateFromProto(p)
		if !ok || back != s {
			t.Fatalf("state %s -> %v -> %s, %v", s, p, back, ok)
		}
		if got := EnumName(p.String(), "SCAN_STATE_"); got != string(s) {
			t.Fatalf("EnumName(%s) = %q", p, got)
		}
	}
	if _, ok := StatusFromProto(sensorv1.Status(42)); ok {
		t.Fatal("status 42 accepted")
	}
}
