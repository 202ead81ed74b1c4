package sensorapi

import (
	"errors"
	"fmt"
	"unicode/utf8"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/palisadehq/palisade/pkg/wire"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// evidenceChunk is how many Evidence messages (and pointers to them) decodeBatch allocates at a
// time.
const evidenceChunk = 256

// evidencePool hands out the evidence of a batch's results from shared slices: items, and
// ptrs, in which each result's evidence is a run of consecutive pointers.
type evidencePool struct {
	items []sensorv1.Evidence
	ptrs  []*sensorv1.Evidence
}

// next returns a new evidence item for the result whose run in ptrs starts at *start, and adds
// it to the run (moving the run to a new slice when the current one is full).
func (p *evidencePool) next(start *int) *sensorv1.Evidence {
	if len(p.items) == cap(p.items) {
		p.items = make([]sensorv1.Evidence, 0, evidenceChunk)
	}
	p.items = p.items[:len(p.items)+1]
	e := &p.items[len(p.items)-1]
	if len(p.ptrs) == cap(p.ptrs) {
		run := p.ptrs[*start:]
		p.ptrs = append(make([]*sensorv1.Evidence, 0, max(evidenceChunk, 2*len(run))), run...)
		*start = 0
	}
	p.ptrs = append(p.ptrs, e)
	return e
}

// maxPreallocated bounds the results decodeBatch allocates in one slice; twice the largest
// batch the console accepts by default.
const maxPreallocated = 10_000

// errInvalidUTF8 is a string field that is not UTF-8, which proto3 forbids.
var errInvalidUTF8 = errors.New("string field contains invalid UTF-8")

// decodeBatch decodes a result batch from data, which it takes over: data must not be changed
// afterwards. It gives what proto.Unmarshal gives (unknown fields aside, which it drops), and
// fails where proto.Unmarshal fails, but ingest decodes every result of every batch, so it is
// written for that message alone:
//   - the strings are views of data rather than copies (data is a batch's own copy of the
//     bytes gRPC received, and lives as long as any of them);
//   - the results are allocated in one slice, their evidence in slices of evidenceChunk,
//     instead of one allocation per message.
func decodeBatch(data []byte) (*sensorv1.ResultBatch, error) {
	b := &sensorv1.ResultBatch{}
	n := 0
	if err := fields(data, func(num protowire.Number, typ protowire.Type, v []byte) int {
		if num == wire.FieldBatchResults && typ == protowire.BytesType {
			n++
		}
		return protowire.ConsumeFieldValue(num, typ, v)
	}); err != nil {
		return nil, err
	}
	// At most maxPreallocated results are allocated ahead: a malformed batch of millions of
	// empty results gets no more room than it takes.
	results := make([]sensorv1.Result, min(n, maxPreallocated))
	b.Results = make([]*sensorv1.Result, 0, min(n, maxPreallocated))
	var pool evidencePool
	var nested error
	err := fields(data, func(num protowire.Number, typ protowire.Type, data []byte) (m int) {
		switch {
		case num == wire.FieldBatchScanID && typ == protowire.BytesType:
			b.ScanId, m = consumeString(data)
		case num == wire.FieldBatchSeq && typ == protowire.VarintType:
			b.Seq, m = protowire.ConsumeVarint(data)
		case num == wire.FieldBatchResults && typ == protowire.BytesType:
			var v []byte
			if v, m = protowire.ConsumeBytes(data); m < 0 {
				return m
			}
			var r *sensorv1.Result
			if i := len(b.Results); i < len(results) {
				r = &results[i]
			} else {
				r = new(sensorv1.Result)
			}
			if err := decodeResult(v, r, &pool); err != nil {
				nested = fmt.Errorf("result %d: %w", len(b.Results), err)
				return errNested
			}
			b.Results = append(b.Results, r)
		case num == wire.FieldBatchFinal && typ == protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(data)
			b.Final = v != 0
		case num == wire.FieldBatchTotalResults && typ == protowire.VarintType:
			b.TotalResults, m = protowire.ConsumeVarint(data)
		default:
			m = protowire.ConsumeFieldValue(num, typ, data)
		}
		return m
	})
	if nested != nil {
		return nil, nested
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// decodeResult decodes one result into r, taking its evidence from pool.
func decodeResult(data []byte, r *sensorv1.Result, pool *evidencePool) error {
	start := len(pool.ptrs)
	defer func() {
		if n := len(pool.ptrs); n > start {
			r.Evidence = pool.ptrs[start:n:n]
		}
	}()
	var nested error
	err := fields(data, func(num protowire.Number, typ protowire.Type, data []byte) (m int) {
		switch {
		case num == wire.FieldResultControlID && typ == protowire.BytesType:
			r.ControlId, m = consumeString(data)
		case num == wire.FieldResultResource && typ == protowire.BytesType:
			r.Resource, m = consumeString(data)
		case num == wire.FieldResultStatus && typ == protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(data)
			r.Status = sensorv1.Status(int32(v))
		case num == wire.FieldResultReason && typ == protowire.BytesType:
			r.Reason, m = consumeString(data)
		case num == wire.FieldResultEvidence && typ == protowire.BytesType:
			var v []byte
			if v, m = protowire.ConsumeBytes(data); m < 0 {
				return m
			}
			if err := decodeEvidence(v, pool.next(&start)); err != nil {
				nested = fmt.Errorf("evidence %d: %w", len(pool.ptrs)-start-1, err)
				return errNested
			}
		default:
			m = protowire.ConsumeFieldValue(num, typ, data)
		}
		return m
	})
	if nested != nil {
		return nested
	}
	return err
}

// decodeEvidence decodes one evidence item into e.
func decodeEvidence(data []byte, e *sensorv1.Evidence) error {
	return fields(data, func(num protowire.Number, typ protowire.Type, data []byte) (m int) {
		switch {
		case num == wire.FieldEvidenceSource && typ == protowire.BytesType:
			e.Source, m = consumeString(data)
		case num == wire.FieldEvidenceLine && typ == protowire.VarintType:
			var v uint64
			v, m = protowire.ConsumeVarint(data)
			e.Line = uint32(v)
		case num == wire.FieldEvidenceKey && typ == protowire.BytesType:
			e.Key, m = consumeString(data)
		case num == wire.FieldEvidenceActual && typ == protowire.BytesType:
			e.Actual, m = consumeString(data)
		case num == wire.FieldEvidenceExpected && typ == protowire.BytesType:
			e.Expected, m = consumeString(data)
		default:
			m = protowire.ConsumeFieldValue(num, typ, data)
		}
		return m
	})
}

// fields calls field for each field of an encoded message with its number, its wire type and
// the bytes from its value on. field returns how many of them the value took, as protowire's
// Consume functions do, or a negative code: protowire's, errUTF8 or errNested (the caller
// keeps that error).
func fields(data []byte, field func(num protowire.Number, typ protowire.Type, data []byte) int) error {
	for len(data) > 0 {
		num, typ, m := protowire.ConsumeTag(data)
		if m < 0 {
			return protowire.ParseError(m)
		}
		if !num.IsValid() {
			return fmt.Errorf("invalid field number %d", num)
		}
		data = data[m:]
		switch m = field(num, typ, data); {
		case m == errUTF8:
			return errInvalidUTF8
		case m == errNested:
			return errNestedMessage
		case m < 0:
			return protowire.ParseError(m)
		}
		data = data[m:]
	}
	return nil
}

// Codes a fields callback returns in place of a length, below every code protowire returns:
// errUTF8 for a string that is not UTF-8, errNested for an embedded message that failed to
// decode.
const (
	errUTF8   = -1000
	errNested = -1001
)

// errNestedMessage is what fields returns for errNested; the callback keeps the real error.
var errNestedMessage = errors.New("an embedded message could not be decoded")

// consumeString is protowire.ConsumeBytes for a string field: a view of data, not a copy,
// checked to be UTF-8.
func consumeString(data []byte) (string, int) {
	v, m := protowire.ConsumeBytes(data)
	if m < 0 {
		return "", m
	}
	if !utf8.Valid(v) {
		return "", errUTF8
	}
	if len(v) == 0 {
		return "", m
	}
	return unsafe.String(&v[0], len(v)), m
}
