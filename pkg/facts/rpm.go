package facts

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/palisadehq/palisade/pkg/facts/sqlitefile"
)

// RPM header tags the package inventory reads.
const (
	RPMTagName    = 1000
	RPMTagVersion = 1001
	RPMTagRelease = 1002
	RPMTagEpoch   = 1003
	RPMTagArch    = 1022
)

// RPM header data types.
const (
	rpmTypeInt32       = 4
	rpmTypeString      = 6
	rpmTypeStringArray = 8
	rpmTypeI18NString  = 9
)

// Bounds of a header blob, as rpm itself enforces them.
const (
	maxRPMIndexEntries = 0xffff
	maxRPMDataLength   = 256 << 20
)

// ErrRPMHeader is wrapped by every error about a malformed rpm header.
var ErrRPMHeader = errors.New("malformed rpm header")

// RPMPackage is one installed package of the rpm database.
type RPMPackage struct {
	Name    string
	Epoch   int64 // -1 when the package has no epoch
	Version string
	Release string
	Arch    string
}

// EVR renders the package version the way rpm prints it: [epoch:]version-release.
func (p RPMPackage) EVR() string {
	v := p.Version
	if p.Release != "" {
		v += "-" + p.Release
	}
	if p.Epoch >= 0 {
		v = strconv.FormatInt(p.Epoch, 10) + ":" + v
	}
	return v
}

var rpmHeaderMagic = []byte{0x8e, 0xad, 0xe8, 0x01}

// ParseRPMHeader decodes the package identity from an rpm header blob as the rpm database
// stores it: the index entry count and data length (big-endian 32-bit), the index entries
// (tag, type, offset, count; 16 bytes each), then the data store. A blob that starts with the
// header magic (as in package files) is accepted too. Tags other than name, epoch, version,
// release and arch are ignored.
func ParseRPMHeader(blob []byte) (RPMPackage, error) {
	p := RPMPackage{Epoch: -1}
	if len(blob) >= 8 && bytes.Equal(blob[:4], rpmHeaderMagic) {
		blob = blob[8:]
	}
	if len(blob) < 8 {
		return p, fmt.Errorf("%w: %d bytes, shorter than the 8-byte preamble", ErrRPMHeader, len(blob))
	}
	il := binary.BigEndian.Uint32(blob[0:4])
	dl := binary.BigEndian.Uint32(blob[4:8])
	if il == 0 || il > maxRPMIndexEntries || dl > maxRPMDataLength {
		return p, fmt.Errorf("%w: %d index entries and %d data bytes are out of bounds", ErrRPMHeader, il, dl)
	}
	start := 8 + 16*uint64(il)
	if start+uint64(dl) > uint64(len(blob)) {
		return p, fmt.Errorf("%w: %d index entries and %d data bytes need more than the blob's %d bytes", ErrRPMHeader, il, dl, len(blob))
	}
	data := blob[start : start+uint64(dl)]
	for i := range uint64(il) {
		e := blob[8+16*i : 8+16*(i+1)]
		tag := binary.BigEndian.Uint32(e[0:4])
		typ := binary.BigEndian.Uint32(e[4:8])
		off := binary.BigEndian.Uint32(e[8:12])
		count := binary.BigEndian.Uint32(e[12:16])
		switch tag {
		case RPMTagName, RPMTagVersion, RPMTagRelease, RPMTagArch:
			s, err := rpmString(data, typ, off, count)
			if err != nil {
				return p, fmt.Errorf("tag %d: %w", tag, err)
			}
			switch tag {
			case RPMTagName:
				p.Name = s
			case RPMTagVersion:
				p.Version = s
			case RPMTagRelease:
				p.Release = s
			case RPMTagArch:
				p.Arch = s
			}
		case RPMTagEpoch:
			if typ != rpmTypeInt32 || count < 1 || uint64(off)+4 > uint64(len(data)) {
				return p, fmt.Errorf("%w: epoch entry (type %d, offset %d, count %d)", ErrRPMHeader, typ, off, count)
			}
			p.Epoch = int64(binary.BigEndian.Uint32(data[off:]))
		}
	}
	if p.Name == "" {
		return p, fmt.Errorf("%w: no package name", ErrRPMHeader)
	}
	return p, nil
}

// rpmString reads a NUL-terminated string (the first of an array) at off in the data store.
func rpmString(data []byte, typ, off, count uint32) (string, error) {
	switch typ {
	case rpmTypeString, rpmTypeStringArray, rpmTypeI18NString:
	default:
		return "", fmt.Errorf("%w: type %d, want a string", ErrRPMHeader, typ)
	}
	if count < 1 || uint64(off) >= uint64(len(data)) {
		return "", fmt.Errorf("%w: string at offset %d outside the %d-byte data store", ErrRPMHeader, off, len(data))
	}
	end := bytes.IndexByte(data[off:], 0)
	if end < 0 {
		return "", fmt.Errorf("%w: string at offset %d is not terminated", ErrRPMHeader, off)
	}
	return string(data[off : int(off)+end]), nil
}

// MaxRPMPackages bounds the rows ReadRPMDB accepts.
const MaxRPMPackages = 200000

// ReadRPMDB reads the installed packages from an rpm database in SQLite format
// (rpmdb.sqlite, table Packages(hnum, blob)) through r, size bytes long. A row whose header
// cannot be decoded is an error naming its hnum.
func ReadRPMDB(r io.ReaderAt, size int64) ([]RPMPackage, error) {
	db, err := sqlitefile.Open(r, size, sqlitefile.Options{})
	if err != nil {
		return nil, err
	}
	root, err := db.Table("Packages")
	if err != nil {
		return nil, err
	}
	var out []RPMPackage
	err = db.Scan(root, func(rowid int64, cols []any) error {
		if len(out) >= MaxRPMPackages {
			return fmt.Errorf("more than %d packages", MaxRPMPackages)
		}
		if len(cols) < 2 {
			return fmt.Errorf("package %d: %d columns, want hnum and blob", rowid, len(cols))
		}
		blob, ok := cols[1].([]byte)
		if !ok {
			return fmt.Errorf("package %d: the blob column is %T, want a blob", rowid, cols[1])
		}
		p, err := ParseRPMHeader(blob)
		if err != nil {
			return fmt.Errorf("package %d: %w", rowid, err)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}
