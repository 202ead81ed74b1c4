package wire

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

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

// TestFieldNumbers: the field number constants are the generated messages' own.
func TestFieldNumbers(t *testing.T) {
	for _, tt := range []struct {
		msg   proto.Message
		field string
		want  int
	}{
		{&sensorv1.ResultBatch{}, "scan_id", FieldBatchScanID},
		{&sensorv1.ResultBatch{}, "seq", FieldBatchSeq},
		{&sensorv1.ResultBatch{}, "results", FieldBatchResults},
		{&sensorv1.ResultBatch{}, "final", FieldBatchFinal},
		{&sensorv1.ResultBatch{}, "total_results", FieldBatchTotalResults},
		{&sensorv1.Result{}, "control_id", FieldResultControlID},
		{&sensorv1.Result{}, "resource", FieldResultResource},
		{&sensorv1.Result{}, "status", FieldResultStatus},
		{&sensorv1.Result{}, "reason", FieldResultReason},
		{&sensorv1.Result{}, "evidence", FieldResultEvidence},
		{&sensorv1.Evidence{}, "source", FieldEvidenceSource},
		{&sensorv1.Evidence{}, "line", FieldEvidenceLine},
		{&sensorv1.Evidence{}, "key", FieldEvidenceKey},
		{&sensorv1.Evidence{}, "actual", FieldEvidenceActual},
		{&sensorv1.Evidence{}, "expected", FieldEvidenceExpected},
	} {
		d := tt.msg.ProtoReflect().Descriptor()
		f := d.Fields().ByName(protoreflect.Name(tt.field))
		if f == nil {
			t.Errorf("%s has no field %s", d.FullName(), tt.field)
			continue
		}
		if int(f.Number()) != tt.want {
			t.Errorf("%s.%s is field %d, the constant says %d", d.FullName(), tt.field, f.Number(), tt.want)
		}
	}
	for _, m := range []proto.Message{&sensorv1.ResultBatch{}, &sensorv1.Result{}, &sensorv1.Evidence{}} {
		if d := m.ProtoReflect().Descriptor(); d.Fields().Len() != 5 {
			t.Errorf("%s has %d fields; the batch decoder and the load generator know 5", d.FullName(), d.Fields().Len())
		}
	}
}
