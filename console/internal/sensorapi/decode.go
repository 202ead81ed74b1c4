package sensorapi

import (
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"

	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// DefaultDecodeBudget is how many bytes of encoded result batches the console decodes and
// holds at once, across all streams. A decoded batch takes about four times its encoded size
// (the bytes themselves, which its strings point into, and the messages), so the default
// holds about 32 MiB of decoded results. A decoded batch waits for one of the few ingest
// workers, so a budget of a few batches per worker keeps them fed: 8 MiB is over twenty
// batches of 2,000 results, or hundreds of a fleet's small ones. Ten thousand sensors sending
// at once then cost each the encoded batch it waits with, not the decoded one. At the peak of
// a fleet of 9,800 sensors streaming small batches, decoding took about 117 MB of the heap
// with a budget of 32 MiB and about 23 MB with 8 MiB, with ingest as fast.
const DefaultDecodeBudget = 8 << 20

// rawBatch is a result batch as it arrived, still encoded: StreamResults receives batches so
// and decodes one only once the decode budget has room for it. The bytes stay in the buffers
// gRPC read them into (one per HTTP/2 frame, 16 KiB at most, from its pool) until free:
// copied into one piece at once, a batch of tens of kilobytes would wait in a buffer of the
// pool's next size, a megabyte.
type rawBatch struct {
	data mem.BufferSlice
}

// len returns the encoded batch's size.
func (r *rawBatch) len() int { return r.data.Len() }

// bytes returns the encoded batch in one piece (a copy).
func (r *rawBatch) bytes() []byte { return r.data.Materialize() }

// free gives the buffers back to the pool; the batch is empty after.
func (r *rawBatch) free() {
	r.data.Free()
	r.data = nil
}

// codec is gRPC's protobuf codec, but for rawBatch, which it fills with the message's bytes.
type codec struct {
	encoding.CodecV2
}

// Codec returns the codec the console's gRPC server uses for every message: protobuf, except
// that a result stream can take a batch's bytes without decoding them. It keeps the name
// "proto", so clients see nothing of it.
func Codec() encoding.CodecV2 {
	return codec{CodecV2: encoding.GetCodecV2("proto")}
}

// Unmarshal implements encoding.CodecV2.
func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	if raw, ok := v.(*rawBatch); ok {
		// A reference of its own: gRPC frees data when this returns.
		data.Ref()
		raw.data = data
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}

// PeekBatch returns the result batch m carries when m is a message a result stream received
// (which the stream takes encoded; see Codec), decoding a copy of it; ok is false for any
// other message. It lets a stream interceptor watch the batches go by.
func PeekBatch(m any) (b *sensorv1.ResultBatch, ok bool) {
	switch v := m.(type) {
	case *sensorv1.ResultBatch:
		return v, true
	case *rawBatch:
		if v.data == nil {
			return nil, false
		}
		b, err := decodeBatch(v.bytes())
		return b, err == nil
	}
	return nil, false
}
