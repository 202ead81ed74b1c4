package export

import (
	"encoding/json"
	"io"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// JSONFormatName and JSONVersion identify the JSON export's shape; the version changes only
// when a field changes meaning or goes away.
const (
	JSONFormatName = "palisade.scan-export"
	JSONVersion    = 1
)

// JSONExport is the JSON export of one scan. Times are RFC 3339 in UTC, null when absent;
// statuses, severities and states are in their short lower-case forms.
type JSONExport struct {
	Format      string       `json:"format"`
	Version     int          `json:"version"`
	GeneratedAt string       `json:"generated_at"`
	Scan        JSONScan     `json:"scan"`
	Node        JSONNode     `json:"node"`
	Scores      []JSONScore  `json:"scores"`
	Results     []JSONResult `json:"results"`
	// Masks are the masks active at GeneratedAt that cover the node.
	Masks []JSONMask `json:"masks"`
}

// JSONScan describes the scan.
type JSONScan struct {
	ID            string   `json:"id"`
	GroupID       string   `json:"group_id"`
	State         string   `json:"state"`
	Message       string   `json:"message"`
	BenchmarkIDs  []string `json:"benchmark_ids"`
	ControlsTotal uint32   `json:"controls_total"`
	ControlsDone  uint32   `json:"controls_done"`
	ResultsStored uint64   `json:"results_stored"`
	CreatedBy     string   `json:"created_by"`
	CreatedAt     *string  `json:"created_at"`
	StartedAt     *string  `json:"started_at"`
	FinishedAt    *string  `json:"finished_at"`
}

// JSONNode describes the scanned node as its sensor reported it.
type JSONNode struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	TargetType    string `json:"target_type"`
	Hostname      string `json:"hostname"`
	OSID          string `json:"os_id"`
	OSVersion     string `json:"os_version"`
	OSName        string `json:"os_name"`
	Kernel        string `json:"kernel"`
	Arch          string `json:"arch"`
	SensorVersion string `json:"sensor_version"`
}

// JSONScore is one benchmark's score; Score is null when no result counts ("n/a").
type JSONScore struct {
	BenchmarkID string   `json:"benchmark_id"`
	Title       string   `json:"title"`
	Version     string   `json:"version"`
	Score       *float64 `json:"score"`
	Pass        uint32   `json:"pass"`
	Fail        uint32   `json:"fail"`
	Info        uint32   `json:"info"`
	Skip        uint32   `json:"skip"`
	Error       uint32   `json:"error"`
	Masked      uint32   `json:"masked"`
}

// JSONResult is one result; Mask is the active mask covering it, or null.
type JSONResult struct {
	ControlID  string          `json:"control_id"`
	Title      string          `json:"title"`
	Severity   string          `json:"severity"`
	Service    string          `json:"service"`
	References []JSONReference `json:"references"`
	Resource   string          `json:"resource"`
	Status     string          `json:"status"`
	Reason     string          `json:"reason"`
	Evidence   []JSONEvidence  `json:"evidence"`
	Masked     bool            `json:"masked"`
	Mask       *JSONMask       `json:"mask"`
}

// JSONReference is a requirement of one of the scan's benchmarks that the control tests.
type JSONReference struct {
	BenchmarkID   string `json:"benchmark_id"`
	RequirementID string `json:"requirement_id"`
}

// JSONEvidence is one thing read to reach a result; Line is 0 when unknown.
type JSONEvidence struct {
	Source   string `json:"source"`
	Line     uint32 `json:"line"`
	Key      string `json:"key"`
	Actual   string `json:"actual"`
	Expected string `json:"expected"`
}

// JSONMask is a mask: NodeIDs empty means every node, Resource empty every resource,
// ExpiresAt null no expiry.
type JSONMask struct {
	ID        string   `json:"id"`
	ControlID string   `json:"control_id"`
	NodeIDs   []string `json:"node_ids"`
	Resource  string   `json:"resource"`
	Reason    string   `json:"reason"`
	CreatedBy string   `json:"created_by"`
	CreatedAt *string  `json:"created_at"`
	ExpiresAt *string  `json:"expires_at"`
}

// writeJSON writes the JSONExport of r, indented.
func writeJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r.jsonExport())
}

// jsonExport builds the JSON export; every list is present, empty when there is nothing.
func (r *Report) jsonExport() JSONExport {
	sc, n := r.Scan, r.Node
	out := JSONExport{
		Format: JSONFormatName, Version: JSONVersion, GeneratedAt: r.GeneratedAt.UTC().Format(timeLayout),
		Scan: JSONScan{
			ID: sc.GetId(), GroupID: sc.GetGroupId(), State: stateName(sc.GetState()), Message: sc.GetMessage(),
			BenchmarkIDs: nonNil(sc.GetBenchmarkIds()), ControlsTotal: sc.GetControlsTotal(), ControlsDone: sc.GetControlsDone(),
			ResultsStored: sc.GetResultsStored(), CreatedBy: sc.GetCreatedBy(),
			CreatedAt: optionalTime(timeText(sc.GetCreatedAt())), StartedAt: optionalTime(timeText(sc.GetStartedAt())),
			FinishedAt: optionalTime(timeText(sc.GetFinishedAt())),
		},
		Node: JSONNode{
			ID: n.GetId(), Name: r.nodeName(), TargetType: n.GetTargetType(), Hostname: n.GetFacts().GetHostname(),
			OSID: n.GetFacts().GetOsId(), OSVersion: n.GetFacts().GetOsVersion(), OSName: n.GetFacts().GetOsName(),
			Kernel: n.GetFacts().GetKernel(), Arch: n.GetFacts().GetArch(), SensorVersion: n.GetFacts().GetSensorVersion(),
		},
		Scores:  []JSONScore{},
		Results: []JSONResult{},
		Masks:   []JSONMask{},
	}
	for _, s := range sc.GetScores() {
		b := r.Benchmarks[s.GetBenchmarkId()]
		out.Scores = append(out.Scores, JSONScore{
			BenchmarkID: s.GetBenchmarkId(), Title: b.GetTitle(), Version: b.GetVersion(), Score: s.Score,
			Pass: s.GetPass(), Fail: s.GetFail(), Info: s.GetInfo(), Skip: s.GetSkip(), Error: s.GetError(), Masked: s.GetMasked(),
		})
	}
	for _, row := range r.Results {
		res := JSONResult{
			ControlID: row.GetControlId(), Title: row.GetTitle(), Severity: row.GetSeverity(), Service: row.GetService(),
			References: []JSONReference{}, Resource: row.GetResource(), Status: statusName(row.GetStatus()),
			Reason: row.GetReason(), Evidence: []JSONEvidence{}, Masked: row.GetMask() != nil,
		}
		for _, ref := range r.references(row.GetControlId()) {
			res.References = append(res.References, JSONReference{BenchmarkID: ref.GetBenchmarkId(), RequirementID: ref.GetRequirementId()})
		}
		for _, e := range row.GetEvidence() {
			res.Evidence = append(res.Evidence, JSONEvidence{Source: e.GetSource(), Line: e.GetLine(), Key: e.GetKey(), Actual: e.GetActual(), Expected: e.GetExpected()})
		}
		if m := row.GetMask(); m != nil {
			jm := jsonMask(m)
			res.Mask = &jm
		}
		out.Results = append(out.Results, res)
	}
	for _, m := range r.Masks {
		out.Masks = append(out.Masks, jsonMask(m))
	}
	return out
}

func jsonMask(m *consolev1.Mask) JSONMask {
	return JSONMask{
		ID: m.GetId(), ControlID: m.GetControlId(), NodeIDs: nonNil(m.GetNodeIds()), Resource: m.GetResource(),
		Reason: m.GetReason(), CreatedBy: m.GetCreatedBy(),
		CreatedAt: optionalTime(timeText(m.GetCreatedAt())), ExpiresAt: optionalTime(timeText(m.GetExpiresAt())),
	}
}

// optionalTime is nil for "", so that JSON says null.
func optionalTime(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nonNil turns a nil list into an empty one, so that JSON says [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
