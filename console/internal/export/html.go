package export

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

//go:embed report.html.tmpl
var reportTemplateText string

// reportTemplate is parsed once; html/template escapes every value for its context.
var reportTemplate = template.Must(template.New("report").Parse(reportTemplateText))

// htmlReport is what the report template shows.
type htmlReport struct {
	GeneratedAt string
	Node        htmlNode
	Scan        htmlScan
	Scores      []htmlScore
	Totals      htmlCounts
	Failing     []htmlControl
	Masked      []htmlMaskedResult
	Masks       []htmlMask
}

type htmlNode struct {
	ID, Name, TargetType, Hostname, OS, Kernel, Arch, SensorVersion string
}

type htmlScan struct {
	ID, State, Message, CreatedBy, CreatedAt, StartedAt, FinishedAt string
	Benchmarks                                                      []string
	ResultsStored                                                   uint64
}

type htmlScore struct {
	BenchmarkID, Title, Version, Score string
	htmlCounts
}

// htmlCounts counts results per status; Masked counts masked results whatever their status.
type htmlCounts struct {
	Pass, Fail, Info, Skip, Error, Masked uint32
}

// htmlControl is a control with unmasked findings.
type htmlControl struct {
	ID, Title, Severity, Service, References, Description, Rationale, Remediation string
	Findings                                                                      []htmlFinding
}

type htmlFinding struct {
	Resource, Status, Reason, Evidence string
}

type htmlMaskedResult struct {
	ControlID, Title, Resource, Status, Reason, MaskReason, MaskedBy, MaskedAt, Until string
}

type htmlMask struct {
	ID, ControlID, Scope, Reason, CreatedBy, CreatedAt, Until string
}

// writeHTML writes the printable report: scope, scan, scores, failing controls with their
// description and remediation, masked results and the masks in effect.
func writeHTML(w io.Writer, r *Report) error {
	return reportTemplate.Execute(w, r.htmlReport())
}

func (r *Report) htmlReport() htmlReport {
	sc, n := r.Scan, r.Node
	facts := n.GetFacts()
	osText := facts.GetOsName()
	if osText == "" {
		osText = strings.TrimSpace(facts.GetOsId() + " " + facts.GetOsVersion())
	}
	out := htmlReport{
		GeneratedAt: r.GeneratedAt.UTC().Format(timeLayout),
		Node: htmlNode{
			ID: n.GetId(), Name: r.nodeName(), TargetType: n.GetTargetType(), Hostname: facts.GetHostname(),
			OS: osText, Kernel: facts.GetKernel(), Arch: facts.GetArch(), SensorVersion: facts.GetSensorVersion(),
		},
		Scan: htmlScan{
			ID: sc.GetId(), State: stateName(sc.GetState()), Message: sc.GetMessage(), CreatedBy: sc.GetCreatedBy(),
			CreatedAt: timeText(sc.GetCreatedAt()), StartedAt: timeText(sc.GetStartedAt()), FinishedAt: timeText(sc.GetFinishedAt()),
			ResultsStored: sc.GetResultsStored(),
		},
	}
	for _, id := range sc.GetBenchmarkIds() {
		name := id
		if b, ok := r.Benchmarks[id]; ok && b.GetTitle() != "" {
			name = fmt.Sprintf("%s %s (%s)", b.GetTitle(), b.GetVersion(), id)
		}
		out.Scan.Benchmarks = append(out.Scan.Benchmarks, name)
	}
	for _, s := range sc.GetScores() {
		b := r.Benchmarks[s.GetBenchmarkId()]
		score := "n/a"
		if s.Score != nil {
			score = fmt.Sprintf("%.1f%%", s.GetScore())
		}
		out.Scores = append(out.Scores, htmlScore{
			BenchmarkID: s.GetBenchmarkId(), Title: b.GetTitle(), Version: b.GetVersion(), Score: score,
			htmlCounts: htmlCounts{Pass: s.GetPass(), Fail: s.GetFail(), Info: s.GetInfo(), Skip: s.GetSkip(), Error: s.GetError(), Masked: s.GetMasked()},
		})
	}
	byControl := map[string]*htmlControl{}
	for _, row := range r.Results {
		if m := row.GetMask(); m != nil {
			out.Totals.Masked++
			out.Masked = append(out.Masked, htmlMaskedResult{
				ControlID: row.GetControlId(), Title: row.GetTitle(), Resource: row.GetResource(), Status: statusName(row.GetStatus()),
				Reason: row.GetReason(), MaskReason: m.GetReason(), MaskedBy: m.GetCreatedBy(), MaskedAt: timeText(m.GetCreatedAt()),
				Until: untilText(m),
			})
			continue
		}
		out.Totals.add(statusName(row.GetStatus()))
		if !failing(row) {
			continue
		}
		c, ok := byControl[row.GetControlId()]
		if !ok {
			c = r.htmlControl(row)
			byControl[row.GetControlId()] = c
		}
		c.Findings = append(c.Findings, htmlFinding{
			Resource: row.GetResource(), Status: statusName(row.GetStatus()), Reason: row.GetReason(), Evidence: evidenceText(row.GetEvidence()),
		})
	}
	for _, c := range byControl {
		out.Failing = append(out.Failing, *c)
	}
	sort.Slice(out.Failing, func(i, j int) bool {
		a, b := out.Failing[i], out.Failing[j]
		if ra, rb := severityRank(a.Severity), severityRank(b.Severity); ra != rb {
			return ra < rb
		}
		return a.ID < b.ID
	})
	for _, m := range r.Masks {
		out.Masks = append(out.Masks, htmlMask{
			ID: m.GetId(), ControlID: m.GetControlId(), Scope: maskScope(m), Reason: m.GetReason(),
			CreatedBy: m.GetCreatedBy(), CreatedAt: timeText(m.GetCreatedAt()), Until: untilText(m),
		})
	}
	return out
}

// htmlControl describes a finding's control, from the catalogue when it still has it.
func (r *Report) htmlControl(row *consolev1.ResultRow) *htmlControl {
	c := &htmlControl{
		ID: row.GetControlId(), Title: row.GetTitle(), Severity: row.GetSeverity(), Service: row.GetService(),
		References: referenceText(r.references(row.GetControlId())),
	}
	if ctl, ok := r.Controls[row.GetControlId()]; ok {
		c.Description = strings.TrimSpace(ctl.GetDescription())
		c.Rationale = strings.TrimSpace(ctl.GetRationale())
		c.Remediation = strings.TrimSpace(ctl.GetRemediation())
	}
	return c
}

func (c *htmlCounts) add(status string) {
	switch status {
	case "pass":
		c.Pass++
	case "fail":
		c.Fail++
	case "info":
		c.Info++
	case "skip":
		c.Skip++
	case "error":
		c.Error++
	}
}

// untilText is a mask's expiry, or "no expiry".
func untilText(m *consolev1.Mask) string {
	if t := timeText(m.GetExpiresAt()); t != "" {
		return t
	}
	return "no expiry"
}

// maskScope says what a mask covers: "all nodes", "node n-1" or "nodes n-1, n-2", then the
// resource.
func maskScope(m *consolev1.Mask) string {
	scope := "all nodes"
	switch ids := m.GetNodeIds(); len(ids) {
	case 0:
	case 1:
		scope = "node " + ids[0]
	default:
		scope = "nodes " + strings.Join(ids, ", ")
	}
	if res := m.GetResource(); res != "" {
		scope += "; resource " + res
	} else {
		scope += "; every resource"
	}
	return scope
}
