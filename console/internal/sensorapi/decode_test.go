package sensorapi

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

func budgetServer(budget int64) *Server {
	return &Server{cfg: Config{DecodeBudget: budget}, log: zap.NewNop(), decoding: semaphore.NewWeighted(budget)}
}

// undecodable is a batch whose field 1 claims 255 bytes that never come.
var undecodable = []byte{0x0a, 0xff}

// encoded is a rawBatch of data, as the codec would hand it over.
func encoded(data []byte) *rawBatch {
	return &rawBatch{data: mem.BufferSlice{mem.SliceBuffer(data)}}
}

// TestDecodeWaitsForBudget: a batch is decoded only when the budget has room for it, and a
// stream whose sensor goes away while waiting leaves with the context's status.
func TestDecodeWaitsForBudget(t *testing.T) {
	s := budgetServer(10)
	if !s.decoding.TryAcquire(9) {
		t.Fatal("the budget is not free")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := s.ingest(ctx, "node-1", encoded(undecodable))
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("ingest with 1 of 10 bytes of budget free for a 2-byte batch: %v; want DeadlineExceeded while waiting", err)
	}
	s.decoding.Release(9)
	_, err = s.ingest(context.Background(), "node-1", encoded(undecodable))
	const want = "the result batch could not be decoded"
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), want) {
		t.Fatalf("ingest with the budget free: %v; want InvalidArgument containing %q", err, want)
	}
	// What the batch took is given back.
	if !s.decoding.TryAcquire(10) {
		t.Fatal("the budget was not given back after the batch")
	}
}

// TestDecodeBatchLargerThanBudget: a batch larger than the whole budget waits for all of it
// rather than forever.
func TestDecodeBatchLargerThanBudget(t *testing.T) {
	s := budgetServer(1)
	big := append(append([]byte(nil), undecodable...), make([]byte, 100)...)
	_, err := s.ingest(context.Background(), "node-1", encoded(big))
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a 102-byte batch with a 1-byte budget: %v; want it decoded (and refused as malformed)", err)
	}
}

// TestCodecKeepsBatchesEncoded: the server codec hands a result stream the bytes as sent and
// decodes every other message as protobuf.
func TestCodecKeepsBatchesEncoded(t *testing.T) {
	b := &sensorv1.ResultBatch{ScanId: "scn_1", Seq: 3, Results: []*sensorv1.Result{{ControlId: "linux.a", Resource: "host", Status: sensorv1.Status_STATUS_PASS}}}
	data, err := proto.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	c := Codec()
	if c.Name() != "proto" {
		t.Fatalf("codec name %q, want proto", c.Name())
	}
	// In two pieces, as two HTTP/2 frames would bring it.
	var raw rawBatch
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data[:5]), mem.SliceBuffer(data[5:])}, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.len() != len(data) {
		t.Fatalf("raw batch of %d bytes, want %d", raw.len(), len(data))
	}
	if string(raw.bytes()) != string(data) {
		t.Fatalf("raw batch holds %x, want %x", raw.bytes(), data)
	}
	got, err := decodeBatch(raw.bytes())
	raw.free()
	if raw.len() != 0 {
		t.Fatal("a freed batch still has bytes")
	}
	if _, ok := PeekBatch(&raw); ok {
		t.Fatal("a freed batch was seen as a batch")
	}
	if err != nil || !proto.Equal(got, b) {
		t.Fatalf("decoded %v (%v), want %v", got, err, b)
	}
	var typed sensorv1.ResultBatch
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data)}, &typed); err != nil || !proto.Equal(&typed, b) {
		t.Fatalf("typed decode %v (%v), want %v", &typed, err, b)
	}
}

// TestPeekBatch: an interceptor sees the batch in a received message, encoded or not, and
// nothing in other messages or in bytes that are no batch.
func TestPeekBatch(t *testing.T) {
	b := &sensorv1.ResultBatch{ScanId: "scn_2", Seq: 7}
	data, err := proto.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := PeekBatch(encoded(data)); !ok || !proto.Equal(got, b) {
		t.Fatalf("encoded batch: %v, %v; want %v", got, ok, b)
	}
	if got, ok := PeekBatch(b); !ok || got != b {
		t.Fatalf("decoded batch: %v, %v; want the same batch", got, ok)
	}
	if _, ok := PeekBatch(encoded(undecodable)); ok {
		t.Fatal("bytes that are no batch were seen as one")
	}
	if _, ok := PeekBatch(&sensorv1.BatchAck{}); ok {
		t.Fatal("an acknowledgement was seen as a batch")
	}
}
