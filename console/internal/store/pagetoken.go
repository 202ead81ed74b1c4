package store

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/palisadehq/palisade/pkg/posture"
)

// ErrBadPageToken is returned when a page token was not produced by the same listing: another
// kind of listing, or results listed with another filter or order.
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
	DefaultHistoryLimit   = 50
	MaxHistoryLimit       = 1000
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

// HistoryLimit is the number of scans ControlHistory covers when asked for limit.
func HistoryLimit(limit int) int { return clampPageSize(limit, DefaultHistoryLimit, MaxHistoryLimit) }

func clampPageSize(n, def, maxSize int) int {
	switch {
	case n <= 0:
		return def
	case n > maxSize:
		return maxSize
	}
	return n
}

// The ranks of OrderBySeverity and OrderByStatus, first to last; values not listed rank after
// them.
var (
	severityRanks = []string{string(posture.Critical), string(posture.High), string(posture.Medium), string(posture.Low), "info"}
	statusRanks   = []string{string(posture.Fail), string(posture.Error), string(posture.Info), string(posture.Pass), string(posture.Skip)}
)

// Ranking returns the result column that o sorts by before the control id, and that column's
// values in rank order (a value not listed ranks after all of them, as len(values)).
// OrderByControl ranks nothing: it returns "" and nil.
func (o ResultOrder) Ranking() (column string, values []string) {
	switch o {
	case OrderBySeverity:
		return "severity", severityRanks
	case OrderByStatus:
		return "status", statusRanks
	}
	return "", nil
}

// Rank is r's rank in the order o (zero for OrderByControl).
func (o ResultOrder) Rank(r Result) int {
	column, values := o.Ranking()
	v := ""
	switch column {
	case "":
		return 0
	case "severity":
		v = string(r.Severity)
	case "status":
		v = string(r.Status)
	}
	if i := slices.Index(values, v); i >= 0 {
		return i
	}
	return len(values)
}

// String names the order as the API spells it.
func (o ResultOrder) String() string {
	switch o {
	case OrderByControl:
		return "control"
	case OrderBySeverity:
		return "severity"
	case OrderByStatus:
		return "status"
	}
	return "ResultOrder(" + strconv.Itoa(int(o)) + ")"
}

// String names the filter as the API spells it.
func (m MaskedFilter) String() string {
	switch m {
	case MaskedExclude:
		return "exclude"
	case MaskedOnly:
		return "only"
	case MaskedInclude:
		return "include"
	}
	return "MaskedFilter(" + strconv.Itoa(int(m)) + ")"
}

// LowerQuery is f.Query with its ASCII letters in lower case. The stores compare it with the
// searched columns lowered the same way, so the search ignores the case of ASCII letters only
// (SQLite's lower() touches no other letter).
func (f ResultFilter) LowerQuery() string {
	b := []byte(f.Query)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// ScanCursor is the last scan of a page of ListScans (which is ordered by CreatedAt, then ID,
// both descending); the next page starts after it.
type ScanCursor struct {
	CreatedAt time.Time
	ID        string
}

// ResultCursor is the last result of a page of ListResults; the next page starts after it.
// ListResults orders by Rank (the result's rank in the filter's Order; always zero for
// OrderByControl), then ControlID, Resource and NodeID, comparing bytes.
type ResultCursor struct {
	Rank      int
	ControlID string
	Resource  string
	NodeID    string
}

// pageToken is the encoded form of both cursors; Kind keeps one listing's token out of the
// other and Filter a results token out of a listing with another filter or order.
type pageToken struct {
	Kind     string `json:"k"`
	Nanos    int64  `json:"t,omitempty"`
	ID       string `json:"i,omitempty"`
	Rank     int    `json:"o,omitempty"`
	Control  string `json:"c,omitempty"`
	Resource string `json:"r,omitempty"`
	Node     string `json:"n,omitempty"`
	Filter   string `json:"f,omitempty"`
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

// NextPageToken is the token of the page of f that follows the one ending with last.
func (f ResultFilter) NextPageToken(last Result) string {
	return encodePageToken(pageToken{
		Kind: resultTokenKind, Rank: f.Order.Rank(last), Control: last.ControlID, Resource: last.Resource,
		Node: last.NodeID, Filter: f.fingerprint(),
	})
}

// After checks that the stores know f's Order and Masked, and returns the cursor f's page
// starts after: nil for a first page (no PageToken). A token made for another filter or order
// (PageSize and Now aside) is ErrBadPageToken.
func (f ResultFilter) After() (*ResultCursor, error) {
	if f.Order < OrderByControl || f.Order > OrderByStatus {
		return nil, fmt.Errorf("unknown result order %d; use OrderByControl, OrderBySeverity or OrderByStatus", int(f.Order))
	}
	if f.Masked < MaskedExclude || f.Masked > MaskedInclude {
		return nil, fmt.Errorf("unknown masked filter %d; use MaskedExclude, MaskedOnly or MaskedInclude", int(f.Masked))
	}
	if f.PageToken == "" {
		return nil, nil
	}
	p, err := decodePageToken(f.PageToken, resultTokenKind)
	if err != nil {
		return nil, err
	}
	if p.Filter != f.fingerprint() {
		return nil, fmt.Errorf("%w: the token belongs to a listing with another filter or order; pass the first page's filter unchanged, or start again without a token",
			ErrBadPageToken)
	}
	return &ResultCursor{Rank: p.Rank, ControlID: p.Control, Resource: p.Resource, NodeID: p.Node}, nil
}

// fingerprint identifies the listing f asks for, whatever its page size, page and time.
func (f ResultFilter) fingerprint() string {
	h := sha256.New()
	field := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	list := func(v []string) {
		if v == nil {
			field("nil")
			return
		}
		v = slices.Clone(v)
		slices.Sort(v)
		field(strconv.Itoa(len(v)))
		for _, s := range v {
			field(s)
		}
	}
	field(f.ScanID)
	list(f.ControlIDs)
	statuses := make([]string, len(f.Statuses))
	for i, s := range f.Statuses {
		statuses[i] = string(s)
	}
	list(statuses)
	field(f.Service)
	field(string(f.Severity))
	field(f.Masked.String())
	field(f.Query)
	field(f.Order.String())
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12])
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
