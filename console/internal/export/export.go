// Package export renders one scan as a file for people and tools outside the console: CSV
// for spreadsheets, a documented JSON object, SARIF 2.1.0 for code-scanning tools, and a
// self-contained printable HTML report for auditors. It reads everything through the
// ConsoleService calls, so the caller's role applies as it does to every other read.
package export

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/palisadehq/palisade/pkg/posture"
	"github.com/palisadehq/palisade/pkg/wire"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Format is an export file format.
type Format string

// The formats.
const (
	CSV   Format = "csv"
	JSON  Format = "json"
	SARIF Format = "sarif"
	HTML  Format = "html"
)

// Formats lists every format, in the order error messages name them.
var Formats = []Format{CSV, JSON, SARIF, HTML}

// ParseFormat validates a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if s == string(f) {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	if s == "" {
		return "", fmt.Errorf("no export format given (want one of %s)", strings.Join(names, ", "))
	}
	return "", fmt.Errorf("unknown export format %q (want one of %s)", s, strings.Join(names, ", "))
}

// ContentType is the media type of the format.
func (f Format) ContentType() string {
	switch f {
	case CSV:
		return "text/csv; charset=utf-8"
	case SARIF:
		return "application/sarif+json"
	case HTML:
		return "text/html; charset=utf-8"
	default:
		return "application/json"
	}
}

// Filename is the name an export of a scan is saved under: palisade-scan-<id>.<format>.
func Filename(scanID string, f Format) string {
	return "palisade-scan-" + scanID + "." + string(f)
}

// timeLayout is how exports write times: RFC 3339, UTC, whole seconds.
const timeLayout = time.RFC3339

// resultsPageSize is the page size Load asks ListResults for (the API's maximum).
const resultsPageSize = 5000

// Report is everything an export holds about one scan.
type Report struct {
	// GeneratedAt is when the report was made.
	GeneratedAt time.Time
	Scan        *consolev1.Scan
	// Node is the scanned node (only id and name when it is no longer enrolled).
	Node *consolev1.Node
	// Benchmarks are the scan's benchmarks by id (absent when the catalogue no longer has one).
	Benchmarks map[string]*consolev1.Benchmark
	// Controls are the controls of the results by id (absent when the catalogue no longer
	// has one; the result rows still carry title, severity and service).
	Controls map[string]*consolev1.Control
	// Results is every result of the scan, masked ones included, by control id then
	// resource. A masked result carries its mask.
	Results []*consolev1.ResultRow
	// Masks are the masks active now that cover the node, whether or not a result matched.
	Masks []*consolev1.Mask
}

// Load gathers the report of a scan through api, as the caller of ctx. API errors are
// returned as they are (gRPC status errors); a scan that does not exist is NotFound.
func Load(ctx context.Context, api consolev1.ConsoleServiceServer, scanID string, now time.Time) (*Report, error) {
	sc, err := api.GetScan(ctx, &consolev1.GetScanRequest{ScanId: scanID})
	if err != nil {
		return nil, err
	}
	r := &Report{GeneratedAt: now.UTC(), Scan: sc, Benchmarks: map[string]*consolev1.Benchmark{}, Controls: map[string]*consolev1.Control{}}
	r.Node, err = api.GetNode(ctx, &consolev1.GetNodeRequest{Node: sc.GetNodeId()})
	if status.Code(err) == codes.NotFound {
		r.Node = &consolev1.Node{Id: sc.GetNodeId(), Name: sc.GetNodeName()}
	} else if err != nil {
		return nil, err
	}
	bms, err := api.ListBenchmarks(ctx, &consolev1.ListBenchmarksRequest{})
	if err != nil {
		return nil, err
	}
	for _, b := range bms.GetBenchmarks() {
		for _, id := range sc.GetBenchmarkIds() {
			if b.GetId() == id {
				r.Benchmarks[id] = b
			}
		}
	}
	if r.Results, err = allResults(ctx, api, sc.GetId()); err != nil {
		return nil, err
	}
	for _, row := range r.Results {
		id := row.GetControlId()
		if _, seen := r.Controls[id]; seen {
			continue
		}
		c, err := api.GetControl(ctx, &consolev1.GetControlRequest{ControlId: id})
		if status.Code(err) == codes.NotFound {
			r.Controls[id] = nil
			continue
		}
		if err != nil {
			return nil, err
		}
		r.Controls[id] = c
	}
	for id, c := range r.Controls {
		if c == nil {
			delete(r.Controls, id)
		}
	}
	masks, err := api.ListMasks(ctx, &consolev1.ListMasksRequest{Node: sc.GetNodeId()})
	if err != nil {
		return nil, err
	}
	r.Masks = masks.GetMasks()
	return r, nil
}

// allResults pages through every result of a scan, masked ones included.
func allResults(ctx context.Context, api consolev1.ConsoleServiceServer, scanID string) ([]*consolev1.ResultRow, error) {
	var out []*consolev1.ResultRow
	token := ""
	for {
		page, err := api.ListResults(ctx, &consolev1.ListResultsRequest{
			ScanId: scanID, Masked: consolev1.MaskedFilter_MASKED_FILTER_INCLUDE, PageSize: resultsPageSize, PageToken: token,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, page.GetResults()...)
		next := page.GetNextPageToken()
		if next == "" {
			return out, nil
		}
		if next == token {
			return nil, status.Errorf(codes.Internal, "listing the results of scan %s returned the same page token twice", scanID)
		}
		token = next
	}
}

// Write renders r in format f.
func Write(w io.Writer, f Format, r *Report) error {
	switch f {
	case CSV:
		return writeCSV(w, r)
	case JSON:
		return writeJSON(w, r)
	case SARIF:
		return writeSARIF(w, r)
	case HTML:
		return writeHTML(w, r)
	default:
		_, err := ParseFormat(string(f))
		return err
	}
}

// nodeName is the node's name, or its id when it has none.
func (r *Report) nodeName() string {
	for _, n := range []string{r.Scan.GetNodeName(), r.Node.GetName(), r.Scan.GetNodeId()} {
		if n != "" {
			return n
		}
	}
	return ""
}

// references returns a control's requirements in the scan's benchmarks, ordered by
// benchmark id then requirement id.
func (r *Report) references(controlID string) []*consolev1.ControlReference {
	var out []*consolev1.ControlReference
	for _, ref := range r.Controls[controlID].GetReferences() {
		for _, id := range r.Scan.GetBenchmarkIds() {
			if ref.GetBenchmarkId() == id {
				out = append(out, ref)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].GetBenchmarkId() != out[j].GetBenchmarkId() {
			return out[i].GetBenchmarkId() < out[j].GetBenchmarkId()
		}
		return out[i].GetRequirementId() < out[j].GetRequirementId()
	})
	return out
}

// referenceText renders references as "linux-cis 5.2.7; linux-nist AC-6(9)".
func referenceText(refs []*consolev1.ControlReference) string {
	parts := make([]string, len(refs))
	for i, ref := range refs {
		parts[i] = ref.GetBenchmarkId() + " " + ref.GetRequirementId()
	}
	return strings.Join(parts, "; ")
}

// evidenceText renders evidence compactly: "/etc/ssh/sshd_config:32 PermitRootLogin=yes
// (expected no)", items separated by "; ".
func evidenceText(ev []*sensorv1.Evidence) string {
	items := make([]string, 0, len(ev))
	for _, e := range ev {
		var parts []string
		if src := e.GetSource(); src != "" {
			if e.GetLine() > 0 {
				src = fmt.Sprintf("%s:%d", src, e.GetLine())
			}
			parts = append(parts, src)
		}
		switch {
		case e.GetKey() != "":
			parts = append(parts, e.GetKey()+"="+e.GetActual())
		case e.GetActual() != "":
			parts = append(parts, e.GetActual())
		}
		if e.GetExpected() != "" {
			parts = append(parts, "(expected "+e.GetExpected()+")")
		}
		if len(parts) > 0 {
			items = append(items, strings.Join(parts, " "))
		}
	}
	return strings.Join(items, "; ")
}

// statusName is a result status in its short form: pass, fail, info, skip, error.
func statusName(s sensorv1.Status) string { return wire.EnumName(s.String(), "STATUS_") }

// stateName is a scan state in its short form: complete, timed_out.
func stateName(s sensorv1.ScanState) string { return wire.EnumName(s.String(), "SCAN_STATE_") }

// timeText renders a timestamp in RFC 3339, UTC, or "" when it is absent.
func timeText(t *timestamppb.Timestamp) string {
	if t == nil || !t.IsValid() {
		return ""
	}
	return t.AsTime().UTC().Format(timeLayout)
}

// severityRank orders severities from the highest; unknown ones come last.
func severityRank(s string) int {
	for i, sv := range posture.Severities {
		if string(sv) == s {
			return i
		}
	}
	return len(posture.Severities)
}

// failing reports whether a result is a finding: fail or error.
func failing(row *consolev1.ResultRow) bool {
	return row.GetStatus() == sensorv1.Status_STATUS_FAIL || row.GetStatus() == sensorv1.Status_STATUS_ERROR
}
