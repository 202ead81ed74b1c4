// Package sqlitefile reads the tables of an SQLite 3 database file directly from its bytes,
// read-only and without an SQL engine: the file header, table b-trees (interior and leaf
// pages), records and overflow chains. It exists so the sensor can read the rpm database
// (rpmdb.sqlite) without linking an SQL driver. Index b-trees, the write-ahead log and
// UTF-16 databases are not supported: rows committed only to a -wal file are not seen.
//
// Every structure is bounded: page numbers are checked against the file size, b-tree descent
// has a depth limit and remembers the pages it visited (a cycle is an error), payloads and
// overflow chains have size limits. A malformed file yields an error, never a panic.
package sqlitefile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Limits applied when Options leaves them zero.
const (
	DefaultMaxPages   = 1 << 20  // 4 GiB of 4 KiB pages
	DefaultMaxPayload = 64 << 20 // one row's record
	maxDepth          = 32       // b-tree levels; SQLite's own trees stay far below
)

// ErrMalformed is wrapped by every error about the file's structure.
var ErrMalformed = errors.New("malformed sqlite file")

// Options bounds what a DB reads.
type Options struct {
	// MaxPages is the largest page count accepted (DefaultMaxPages when 0).
	MaxPages uint32
	// MaxPayload is the largest record accepted, in bytes (DefaultMaxPayload when 0).
	MaxPayload int64
}

// DB is an open database file. It holds no state besides the header fields and is safe for
// concurrent use when the underlying ReaderAt is.
type DB struct {
	r          io.ReaderAt
	pageSize   int
	usable     int
	pages      uint32
	maxPayload int64
}

var magic = []byte("SQLite format 3\x00")

// Open checks the header of the database read through r (size bytes long).
func Open(r io.ReaderAt, size int64, opts Options) (*DB, error) {
	if opts.MaxPages == 0 {
		opts.MaxPages = DefaultMaxPages
	}
	if opts.MaxPayload <= 0 {
		opts.MaxPayload = DefaultMaxPayload
	}
	var h [100]byte
	if size < int64(len(h)) {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the 100-byte header", ErrMalformed, size)
	}
	if _, err := r.ReadAt(h[:], 0); err != nil {
		return nil, fmt.Errorf("read sqlite header: %w", err)
	}
	if !bytes.Equal(h[:16], magic) {
		return nil, fmt.Errorf("%w: no SQLite 3 header", ErrMalformed)
	}
	ps := int(binary.BigEndian.Uint16(h[16:18]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 || ps > 65536 || ps&(ps-1) != 0 {
		return nil, fmt.Errorf("%w: page size %d is not a power of two between 512 and 65536", ErrMalformed, ps)
	}
	reserved := int(h[20])
	usable := ps - reserved
	if usable < 480 {
		return nil, fmt.Errorf("%w: %d usable bytes per page is below the minimum 480", ErrMalformed, usable)
	}
	if enc := binary.BigEndian.Uint32(h[56:60]); enc > 1 {
		return nil, fmt.Errorf("%w: text encoding %d is not supported (only UTF-8)", ErrMalformed, enc)
	}
	n := size / int64(ps)
	if hdr := binary.BigEndian.Uint32(h[28:32]); hdr != 0 && binary.BigEndian.Uint32(h[24:28]) == binary.BigEndian.Uint32(h[92:96]) && int64(hdr) < n {
		n = int64(hdr) // the header's count is valid and the file has trailing bytes
	}
	if n > int64(opts.MaxPages) {
		return nil, fmt.Errorf("database has %d pages; the limit is %d", n, opts.MaxPages)
	}
	return &DB{r: r, pageSize: ps, usable: usable, pages: uint32(n), maxPayload: opts.MaxPayload}, nil
}

// PageSize returns the database page size in bytes.
func (db *DB) PageSize() int { return db.pageSize }

// Pages returns the number of pages.
func (db *DB) Pages() uint32 { return db.pages }

func (db *DB) page(n uint32) ([]byte, error) {
	if n < 1 || n > db.pages {
		return nil, fmt.Errorf("%w: page %d is outside the file's %d pages", ErrMalformed, n, db.pages)
	}
	buf := make([]byte, db.pageSize)
	if _, err := db.r.ReadAt(buf, int64(n-1)*int64(db.pageSize)); err != nil {
		return nil, fmt.Errorf("read page %d: %w", n, err)
	}
	return buf, nil
}

// Table returns the root page of the table called name (names compare without regard to
// ASCII case, as in SQL), from the schema table on page 1.
func (db *DB) Table(name string) (uint32, error) {
	var root uint32
	found := false
	err := db.Scan(1, func(_ int64, cols []any) error {
		if len(cols) < 4 {
			return nil
		}
		typ, _ := cols[0].(string)
		n, _ := cols[1].(string)
		if typ != "table" || !strings.EqualFold(n, name) {
			return nil
		}
		p, ok := cols[3].(int64)
		if !ok || p < 1 || p > math.MaxUint32 {
			return fmt.Errorf("%w: table %s has root page %v", ErrMalformed, name, cols[3])
		}
		root, found = uint32(p), true
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("no table %q in the schema", name)
	}
	return root, nil
}

var errStop = errors.New("stop")

// Scan calls fn for every row of the table b-tree rooted at page root, in rowid order. Column
// values are nil, int64, float64, string (text) or []byte (blob); a column stored as NULL
// because it aliases the rowid (INTEGER PRIMARY KEY) stays nil, its value is rowid. An error
// from fn stops the scan and is returned.
func (db *DB) Scan(root uint32, fn func(rowid int64, cols []any) error) error {
	visited := map[uint32]bool{}
	return db.walk(root, 0, visited, fn)
}

func (db *DB) walk(n uint32, depth int, visited map[uint32]bool, fn func(int64, []any) error) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: b-tree deeper than %d levels", ErrMalformed, maxDepth)
	}
	if visited[n] {
		return fmt.Errorf("%w: page %d is reached twice (a cycle)", ErrMalformed, n)
	}
	visited[n] = true
	p, err := db.page(n)
	if err != nil {
		return err
	}
	off := 0
	if n == 1 {
		off = 100
	}
	if len(p) < off+8 {
		return fmt.Errorf("%w: page %d too small", ErrMalformed, n)
	}
	kind := p[off]
	cells := int(binary.BigEndian.Uint16(p[off+3 : off+5]))
	hdr := 8
	if kind == 0x05 {
		hdr = 12
	}
	if off+hdr+2*cells > db.usable {
		return fmt.Errorf("%w: page %d claims %d cells", ErrMalformed, n, cells)
	}
	ptrs := p[off+hdr : off+hdr+2*cells]
	cell := func(i int) (int, error) {
		c := int(binary.BigEndian.Uint16(ptrs[2*i:]))
		if c < off+hdr || c >= db.usable {
			return 0, fmt.Errorf("%w: page %d cell %d at offset %d", ErrMalformed, n, i, c)
		}
		return c, nil
	}
	switch kind {
	case 0x05: // interior table page: left children, then the right-most pointer
		for i := range cells {
			c, err := cell(i)
			if err != nil {
				return err
			}
			if c+4 > db.usable {
				return fmt.Errorf("%w: page %d cell %d truncated", ErrMalformed, n, i)
			}
			if err := db.walk(binary.BigEndian.Uint32(p[c:]), depth+1, visited, fn); err != nil {
				return err
			}
		}
		return db.walk(binary.BigEndian.Uint32(p[off+8:off+12]), depth+1, visited, fn)
	case 0x0D: // leaf table page
		for i := range cells {
			c, err := cell(i)
			if err != nil {
				return err
			}
			rowid, payload, err := db.leafCell(p[:db.usable], c)
			if err != nil {
				return fmt.Errorf("page %d cell %d: %w", n, i, err)
			}
			cols, err := ParseRecord(payload)
			if err != nil {
				return fmt.Errorf("page %d cell %d: %w", n, i, err)
			}
			if err := fn(rowid, cols); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: page %d has type 0x%02x, want a table b-tree page (0x05 or 0x0d)", ErrMalformed, n, kind)
}

// leafCell returns a table leaf cell's rowid and its whole payload, following the overflow
// chain when the payload does not fit on the page.
func (db *DB) leafCell(p []byte, c int) (int64, []byte, error) {
	size, k := Varint(p[c:])
	if k == 0 {
		return 0, nil, fmt.Errorf("%w: truncated payload size", ErrMalformed)
	}
	c += k
	rowid, k := Varint(p[c:])
	if k == 0 {
		return 0, nil, fmt.Errorf("%w: truncated rowid", ErrMalformed)
	}
	c += k
	total := int64(size)
	if size > uint64(db.maxPayload) {
		return 0, nil, fmt.Errorf("payload of %d bytes exceeds the limit of %d", size, db.maxPayload)
	}
	u := int64(db.usable)
	x := u - 35
	local := total
	if total > x {
		m := ((u-12)*32)/255 - 23
		local = m + (total-m)%(u-4)
		if local > x {
			local = m
		}
	}
	if int64(c)+local > int64(len(p)) {
		return 0, nil, fmt.Errorf("%w: payload runs past the page", ErrMalformed)
	}
	out := make([]byte, 0, total)
	out = append(out, p[c:c+int(local)]...)
	if local == total {
		return int64(rowid), out, nil
	}
	if c+int(local)+4 > len(p) {
		return 0, nil, fmt.Errorf("%w: overflow pointer runs past the page", ErrMalformed)
	}
	next := binary.BigEndian.Uint32(p[c+int(local):])
	seen := map[uint32]bool{}
	for int64(len(out)) < total {
		if next == 0 || seen[next] {
			return 0, nil, fmt.Errorf("%w: overflow chain broken at page %d", ErrMalformed, next)
		}
		seen[next] = true
		op, err := db.page(next)
		if err != nil {
			return 0, nil, err
		}
		next = binary.BigEndian.Uint32(op[:4])
		want := min(total-int64(len(out)), u-4)
		out = append(out, op[4:4+want]...)
	}
	return int64(rowid), out, nil
}

// Varint decodes SQLite's big-endian variable-length integer (1 to 9 bytes) at the start of
// b; n is 0 when b is too short.
func Varint(b []byte) (v uint64, n int) {
	for i := range 8 {
		if i >= len(b) {
			return 0, 0
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	if len(b) < 9 {
		return 0, 0
	}
	return v<<8 | uint64(b[8]), 9
}

// ParseRecord decodes a record (the payload of a table row): a header of serial types, then
// the values. See Scan for the Go types of the values.
func ParseRecord(rec []byte) ([]any, error) {
	hsize, n := Varint(rec)
	if n == 0 || hsize < uint64(n) || hsize > uint64(len(rec)) {
		return nil, fmt.Errorf("%w: record header size %d in a %d-byte record", ErrMalformed, hsize, len(rec))
	}
	hdr := rec[n:hsize]
	body := rec[hsize:]
	var cols []any
	for len(hdr) > 0 {
		st, k := Varint(hdr)
		if k == 0 {
			return nil, fmt.Errorf("%w: truncated record header", ErrMalformed)
		}
		hdr = hdr[k:]
		var width uint64
		switch {
		case st <= 4:
			width = []uint64{0, 1, 2, 3, 4}[st]
		case st == 5:
			width = 6
		case st == 6 || st == 7:
			width = 8
		case st == 8 || st == 9:
			width = 0
		case st == 10 || st == 11:
			return nil, fmt.Errorf("%w: reserved serial type %d", ErrMalformed, st)
		default:
			width = (st - 12) / 2
		}
		if width > uint64(len(body)) {
			return nil, fmt.Errorf("%w: value of %d bytes runs past the record", ErrMalformed, width)
		}
		v := body[:width]
		body = body[width:]
		switch {
		case st == 0:
			cols = append(cols, nil)
		case st <= 6:
			var x int64
			for _, b := range v {
				x = x<<8 | int64(b)
			}
			if shift := 64 - 8*len(v); shift > 0 {
				x = x << shift >> shift // sign-extend
			}
			cols = append(cols, x)
		case st == 7:
			cols = append(cols, math.Float64frombits(binary.BigEndian.Uint64(v)))
		case st == 8:
			cols = append(cols, int64(0))
		case st == 9:
			cols = append(cols, int64(1))
		case st%2 == 0:
			cols = append(cols, bytes.Clone(v))
		default:
			cols = append(cols, string(v))
		}
	}
	return cols, nil
}
