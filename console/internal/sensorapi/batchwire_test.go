package sensorapi

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/palisadehq/palisade/pkg/wire"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// sampleBatch has every field of a batch, a result and an evidence item set, and some unset.
func sampleBatch() *sensorv1.ResultBatch {
	return &sensorv1.ResultBatch{
		ScanId: "scn_0123456789abcdef0123", Seq: 1<<64 - 1, Final: true, TotalResults: 4000,
		Results: []*sensorv1.Result{
			{ControlId: "linux.ssh.root-login", Resource: "/etc/ssh/sshd_config", Status: sensorv1.Status_STATUS_FAIL,
				Reason: "PermitRootLogin is yes\tat line 32\n", Evidence: []*sensorv1.Evidence{
					{Source: "/etc/ssh/sshd_config", Line: 32, Key: "PermitRootLogin", Actual: "yes", Expected: "no"},
					{Source: "/etc/ssh/sshd_config.d/données.conf", Key: "Include"},
				}},
			{ControlId: "linux.fs.tmp", Resource: "/tmp", Status: sensorv1.Status_STATUS_PASS},
			{},
			{ControlId: "linux.unknown-status", Resource: "日本", Status: sensorv1.Status(42), Reason: strings.Repeat("r", 300)},
		},
	}
}

// TestDecodeBatch: decodeBatch gives what proto.Unmarshal gives, for batches with every field,
// with unknown fields (dropped), with a field of a known number but another wire type
// (skipped, as proto.Unmarshal keeps it unknown), and with repeated singular fields (the last
// wins); and it fails where proto.Unmarshal fails.
func TestDecodeBatch(t *testing.T) {
	sample, err := proto.Marshal(sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	result0, err := proto.Marshal(sampleBatch().Results[0])
	if err != nil {
		t.Fatal(err)
	}
	var withUnknown []byte
	withUnknown = protowire.AppendTag(withUnknown, 99, protowire.BytesType)
	withUnknown = protowire.AppendBytes(withUnknown, []byte("future field"))
	withUnknown = append(withUnknown, sample...)
	withUnknown = protowire.AppendTag(withUnknown, wire.FieldBatchScanID, protowire.VarintType) // wrong wire type
	withUnknown = protowire.AppendVarint(withUnknown, 7)
	withUnknown = protowire.AppendTag(withUnknown, wire.FieldBatchSeq, protowire.VarintType) // again: the last wins
	withUnknown = protowire.AppendVarint(withUnknown, 5)
	withUnknown = protowire.AppendTag(withUnknown, 100, protowire.StartGroupType)
	withUnknown = protowire.AppendTag(withUnknown, 1, protowire.VarintType)
	withUnknown = protowire.AppendVarint(withUnknown, 1)
	withUnknown = protowire.AppendTag(withUnknown, 100, protowire.EndGroupType)

	// proto.Marshal refuses invalid UTF-8, so this batch is built by hand.
	var badEvidence []byte
	badEvidence = protowire.AppendTag(badEvidence, wire.FieldEvidenceActual, protowire.BytesType)
	badEvidence = protowire.AppendBytes(badEvidence, []byte{0xff})
	var badResult []byte
	badResult = protowire.AppendTag(badResult, wire.FieldResultEvidence, protowire.BytesType)
	badResult = protowire.AppendBytes(badResult, badEvidence)
	badUTF8Bytes := protowire.AppendTag(nil, wire.FieldBatchResults, protowire.BytesType)
	badUTF8Bytes = protowire.AppendBytes(badUTF8Bytes, badResult)

	// Three results of 200 evidence items each: the second's run of pointers moves to a new
	// slice halfway.
	many := &sensorv1.ResultBatch{}
	for i := range 3 {
		r := &sensorv1.Result{ControlId: fmt.Sprintf("c%d", i)}
		for j := range 200 {
			r.Evidence = append(r.Evidence, &sensorv1.Evidence{Line: uint32(j + 1), Key: fmt.Sprintf("k%d-%d", i, j)})
		}
		many.Results = append(many.Results, r)
	}
	manyBytes, err := proto.Marshal(many)
	if err != nil {
		t.Fatal(err)
	}

	// More results than decodeBatch allocates ahead: the last ones are allocated one by one.
	beyond := &sensorv1.ResultBatch{}
	for i := range maxPreallocated + 2 {
		beyond.Results = append(beyond.Results, &sensorv1.Result{Resource: fmt.Sprint(i)})
	}
	beyondBytes, err := proto.Marshal(beyond)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"600 evidence items", manyBytes, false},
		{"more results than allocated ahead", beyondBytes, false},
		{"empty", nil, false},
		{"every field", sample, false},
		{"one result twice", append(append(protowire.AppendTag(nil, wire.FieldBatchResults, protowire.BytesType), protowire.AppendBytes(nil, result0)...),
			append(protowire.AppendTag(nil, wire.FieldBatchResults, protowire.BytesType), protowire.AppendBytes(nil, result0)...)...), false},
		{"unknown fields, wrong wire type, a field twice", withUnknown, false},
		{"truncated inside a result", sample[:40], true},
		{"truncated length", undecodable, true},
		{"invalid UTF-8 in evidence", badUTF8Bytes, true},
		{"field number zero", []byte{0x00, 0x01}, true},
		{"field number above the largest", []byte("\x99\x87\xa6\x83000000000"), true},
		{"varint overflow", []byte{0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeBatch(append([]byte(nil), tt.data...))
			want := &sensorv1.ResultBatch{}
			wantErr := proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(tt.data, want)
			if (wantErr != nil) != tt.wantErr {
				t.Fatalf("proto.Unmarshal: %v; the test expects an error: %v", wantErr, tt.wantErr)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("decodeBatch: %v; want an error: %v", err, tt.wantErr)
			}
			if err == nil && !proto.Equal(got, want) {
				t.Errorf("decodeBatch gave\n%v\nproto.Unmarshal\n%v", got, want)
			}
		})
	}
}

// FuzzDecodeBatch: for any bytes, decodeBatch and proto.Unmarshal (unknown fields dropped)
// agree on whether they decode, and on the batch when they do.
func FuzzDecodeBatch(f *testing.F) {
	sample, err := proto.Marshal(sampleBatch())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add([]byte{})
	f.Add(undecodable)
	f.Fuzz(func(t *testing.T, data []byte) {
		want := &sensorv1.ResultBatch{}
		wantErr := proto.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, want)
		got, err := decodeBatch(append([]byte(nil), data...))
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("decodeBatch error %v, proto.Unmarshal error %v", err, wantErr)
		}
		if err == nil && !proto.Equal(got, want) {
			t.Fatalf("decodeBatch gave\n%v\nproto.Unmarshal\n%v", got, want)
		}
	})
}

// BenchmarkDecodeBatch decodes a batch of 2,000 results shaped like a file check's (a reason
// and one evidence item); proto.Unmarshal beside it for comparison.
func BenchmarkDecodeBatch(b *testing.B) {
	batch := &sensorv1.ResultBatch{ScanId: "scn_0123456789abcdef0123", Seq: 3}
	for i := range 2000 {
		batch.Results = append(batch.Results, &sensorv1.Result{
			ControlId: "linux.accounts.encrypt-method", Resource: "synthetic-" + strings.Repeat("x", i%7), Status: sensorv1.Status_STATUS_PASS,
			Reason:   "PermitRootLogin is no at /etc/ssh/sshd_config:32",
			Evidence: []*sensorv1.Evidence{{Source: "/etc/ssh/sshd_config", Line: 32, Key: "PermitRootLogin", Actual: "no", Expected: "no"}},
		})
	}
	data, err := proto.Marshal(batch)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decodeBatch", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeBatch(append([]byte(nil), data...)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*2000/b.Elapsed().Seconds(), "results/s")
	})
	b.Run("proto.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := proto.Unmarshal(append([]byte(nil), data...), &sensorv1.ResultBatch{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*2000/b.Elapsed().Seconds(), "results/s")
	})
}
