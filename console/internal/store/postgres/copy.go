package postgres

import (
	"encoding/binary"
	"math"
	"strings"
	"sync"

	"github.com/palisadehq/palisade/console/internal/store"
)

// copyData builds the data of a COPY ... FROM STDIN (FORMAT binary) in one buffer: the
// signature and header, one tuple per row (a field count, then each field as its length and
// bytes, or length -1 for NULL), and the trailer. A text field is its UTF-8 bytes as they are,
// so no value needs escaping; the server checks the encoding as it does for any text it
// receives. StoreBatch writes its rows this way rather than through pgx's CopyFrom, which
// would box every value into an interface and encode it through the type map.
type copyData struct {
	buf  []byte
	rows int
}

// copySignature starts binary COPY data; a zero flags field and a zero-length header
// extension follow it.
const copySignature = "PGCOPY\n\xff\r\n\x00"

// maxPooledCopy is the largest buffer returned to copyPool; larger ones (a batch of unusually
// long results) are left to the collector rather than held.
const maxPooledCopy = 4 << 20

var copyPool = sync.Pool{New: func() any { return new(copyData) }}

// newCopy takes a copyData from the pool, started.
func newCopy() *copyData {
	c := copyPool.Get().(*copyData)
	c.buf = append(c.buf[:0], copySignature...)
	c.buf = binary.BigEndian.AppendUint32(c.buf, 0) // flags
	c.buf = binary.BigEndian.AppendUint32(c.buf, 0) // header extension length
	c.rows = 0
	return c
}

// release returns c to the pool; c must not be used afterwards.
func (c *copyData) release() {
	if cap(c.buf) <= maxPooledCopy {
		copyPool.Put(c)
	}
}

// tuple starts a row of n fields.
func (c *copyData) tuple(n int) {
	c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(n))
	c.rows++
}

// text adds a text field.
func (c *copyData) text(s string) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(len(s)))
	c.buf = append(c.buf, s...)
}

// int4 adds an integer field.
func (c *copyData) int4(v int32) {
	c.buf = binary.BigEndian.AppendUint32(c.buf, 4)
	c.buf = binary.BigEndian.AppendUint32(c.buf, uint32(v))
}

// evidence adds a text field holding ev as JSON, or NULL when ev is empty.
func (c *copyData) evidence(ev []store.Evidence) {
	if len(ev) == 0 {
		c.buf = binary.BigEndian.AppendUint32(c.buf, math.MaxUint32) // -1: NULL
		return
	}
	at := len(c.buf)
	c.buf = append(c.buf, 0, 0, 0, 0)
	c.buf = store.AppendEvidenceJSON(c.buf, ev)
	binary.BigEndian.PutUint32(c.buf[at:], uint32(len(c.buf)-at-4))
}

// result adds r as a row of results (copyResults's columns), on scan scanID of node nodeID.
func (c *copyData) result(scanID, nodeID string, r *store.Result) {
	c.tuple(9)
	c.text(scanID)
	c.text(r.ControlID)
	c.text(r.Resource)
	c.text(nodeID)
	c.text(string(r.Status))
	c.text(string(r.Severity))
	c.text(r.Service)
	c.text(r.Reason)
	c.evidence(r.Evidence)
}

// staged adds r, the batch's result at position ord, as a row of the staging table
// (copyStaged's columns).
func (c *copyData) staged(ord int, r *store.Result) {
	c.tuple(8)
	c.int4(int32(ord))
	c.text(r.ControlID)
	c.text(r.Resource)
	c.text(string(r.Status))
	c.text(string(r.Severity))
	c.text(r.Service)
	c.text(r.Reason)
	c.evidence(r.Evidence)
}

// data ends the COPY data and returns it.
func (c *copyData) data() []byte {
	c.buf = binary.BigEndian.AppendUint16(c.buf, math.MaxUint16) // -1: no more tuples
	return c.buf
}

// copyStatement is the COPY ... FROM STDIN (FORMAT binary) of columns into table.
func copyStatement(table string, columns []string) string {
	return "COPY " + table + " (" + strings.Join(columns, ", ") + ") FROM STDIN (FORMAT binary)"
}
