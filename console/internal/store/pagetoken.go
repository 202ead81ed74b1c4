package store

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrBadPageToken is returned when a page token was not produced by the same kind of listing.
var ErrBadPageToken = errors.New("invalid page token")

// Page sizes of the listings: the default used when a filter asks for none (or a negative
// number), and the most one page holds (larger requests are cut to it).
const (
	DefaultScanPageSize   = 50
	MaxScanPageSize       = 1000
	DefaultResultPageSize = 100
	MaxResultPageSize     = 5000
	DefaultAuditLimit     = 100
	MaxAuditLimit         = 10000
)

// Limit is the number of scans one page of f holds.
func (f ScanFilter) Limit() int {
	return clampPageSize(f.PageSize, DefaultScanPageSize, MaxScanPageSize)
}

// Limit is the number of results one page of f holds.
func (f ResultFilter) Limit() int {
	return clampPageSize(f.PageSize, DefaultResultPageSize, MaxResultPageSize)
}

// AuditLimit is the number of entries ListAudit returns when asked for limit.
func AuditLimit(limit int) int { return clampPageSize(limit, DefaultAuditLimit, MaxAuditLimit) }

func clampPageSize(n, def, maxSize int) int {
	switch {
	case n <= 0:
		return def
	case n > maxSize:
		return maxSize
	}
	return n
}

// ScanCursor is the last scan of a page of ListScans (which is ordered by CreatedAt, then ID,
// both descending); the next page starts after it.
type ScanCursor struct {
	CreatedAt time.Time
	ID        string
}

// ResultCursor is the last result of a page of ListResults (which is ordered by ControlID,
// Resource, then NodeID, comparing bytes); the next page starts after it.
type ResultCursor struct {
	ControlID string
	Resource  string
	NodeID    string
}

// pageToken is the encoded form of both cursors; Kind keeps one listing's token out of the other.
type pageToken struct {
	Kind     string `json:"k"`
	Nanos    int64  `json:"t,omitempty"`
	ID       string `json:"i,omitempty"`
	Control  string `json:"c,omitempty"`
	Resource string `json:"r,omitempty"`
	Node     string `json:"n,omitempty"`
}

const (
	scanTokenKind   = "scan"
	resultTokenKind = "result"
)

// Token encodes the cursor as an opaque page token.
func (c ScanCursor) Token() string {
	return encodePageToken(pageToken{Kind: scanTokenKind, Nanos: c.CreatedAt.UnixNano(), ID: c.ID})
}

// ParseScanCursor decodes a token made by ScanCursor.Token.
func ParseScanCursor(token string) (ScanCursor, error) {
	p, err := decodePageToken(token, scanTokenKind)
	if err != nil {
		return ScanCursor{}, err
	}
	return ScanCursor{CreatedAt: time.Unix(0, p.Nanos).UTC(), ID: p.ID}, nil
}

// Token encodes the cursor as an opaque page token.
func (c ResultCursor) Token() string {
	return encodePageToken(pageToken{Kind: resultTokenKind, Control: c.ControlID, Resource: c.Resource, Node: c.NodeID})
}

// ParseResultCursor decodes a token made by ResultCursor.Token.
func ParseResultCursor(token string) (ResultCursor, error) {
	p, err := decodePageToken(token, resultTokenKind)
	if err != nil {
		return ResultCursor{}, err
	}
	return ResultCursor{ControlID: p.Control, Resource: p.Resource, NodeID: p.Node}, nil
}

func encodePageToken(p pageToken) string {
	b, err := json.Marshal(p)
	if err != nil {
		// A struct of strings and integers always marshals.
		panic(fmt.Sprintf("encode page token: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(token, kind string) (pageToken, error) {
	bad := fmt.Errorf("%w: not a %s page token; pass the next page token of the previous page unchanged", ErrBadPageToken, kind)
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return pageToken{}, bad
	}
	var p pageToken
	if err := json.Unmarshal(b, &p); err != nil || p.Kind != kind {
		return pageToken{}, bad
	}
	return p, nil
}
