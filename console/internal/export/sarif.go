package export

import (
	"encoding/json"
	"io"
	"net/url"
	"sort"
	"strings"

	"github.com/palisadehq/palisade/pkg/posture"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// SARIF constants.
const (
	SARIFVersion = "2.1.0"
	SARIFSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/os/schemas/sarif-schema-2.1.0.json"
	// SARIFToolName is runs[0].tool.driver.name.
	SARIFToolName = "Palisade"
)

// The subset of SARIF 2.1.0 the export writes.
type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool              sarifTool          `json:"tool"`
	AutomationDetails sarifAutomation    `json:"automationDetails"`
	Invocations       []sarifInvocation  `json:"invocations"`
	Results           []sarifResult      `json:"results"`
	Properties        sarifRunProperties `json:"properties"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name  string      `json:"name"`
	Rules []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string              `json:"id"`
	ShortDescription sarifText           `json:"shortDescription"`
	FullDescription  sarifText           `json:"fullDescription"`
	Help             sarifText           `json:"help"`
	Properties       sarifRuleProperties `json:"properties"`
}

type sarifRuleProperties struct {
	Severity string `json:"severity"`
	Service  string `json:"service"`
	// References are "benchmark-id requirement-id" pairs in the scan's benchmarks.
	References []string `json:"references"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifAutomation struct {
	ID string `json:"id"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool   `json:"executionSuccessful"`
	StartTimeUTC        string `json:"startTimeUtc,omitempty"`
	EndTimeUTC          string `json:"endTimeUtc,omitempty"`
}

type sarifRunProperties struct {
	ScanID       string   `json:"scanId"`
	NodeID       string   `json:"nodeId"`
	Node         string   `json:"node"`
	BenchmarkIDs []string `json:"benchmarkIds"`
}

type sarifResult struct {
	RuleID       string                `json:"ruleId"`
	RuleIndex    int                   `json:"ruleIndex"`
	Level        string                `json:"level"`
	Message      sarifText             `json:"message"`
	Locations    []sarifLocation       `json:"locations,omitempty"`
	Suppressions []sarifSuppression    `json:"suppressions,omitempty"`
	Properties   sarifResultProperties `json:"properties"`
}

type sarifResultProperties struct {
	Status   string `json:"status"`
	Resource string `json:"resource"`
	Severity string `json:"severity"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysicalLocation `json:"physicalLocation"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           *sarifRegion          `json:"region,omitempty"`
}

type sarifArtifactLocation struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine uint32 `json:"startLine"`
}

type sarifSuppression struct {
	Kind          string                     `json:"kind"`
	Status        string                     `json:"status"`
	Justification string                     `json:"justification"`
	Properties    sarifSuppressionProperties `json:"properties"`
}

type sarifSuppressionProperties struct {
	MaskID    string `json:"maskId"`
	CreatedBy string `json:"createdBy"`
	CreatedAt string `json:"createdAt,omitempty"`
	ExpiresAt string `json:"expiresAt,omitempty"`
}

// writeSARIF writes a SARIF 2.1.0 log with one run. The rules are the controls of the
// findings, by id; the results are the fail and error results, level "error" for critical
// and high severity and "warning" below, located at their evidence's files (and lines).
// A masked finding carries an accepted external suppression with the mask's reason.
func writeSARIF(w io.Writer, r *Report) error {
	run := sarifRun{
		Tool:              sarifTool{Driver: sarifDriver{Name: SARIFToolName, Rules: []sarifRule{}}},
		AutomationDetails: sarifAutomation{ID: "palisade/scan/" + r.Scan.GetId()},
		Invocations: []sarifInvocation{{
			ExecutionSuccessful: r.Scan.GetState() == sensorv1.ScanState_SCAN_STATE_COMPLETE,
			StartTimeUTC:        timeText(r.Scan.GetStartedAt()),
			EndTimeUTC:          timeText(r.Scan.GetFinishedAt()),
		}},
		Results: []sarifResult{},
		Properties: sarifRunProperties{
			ScanID: r.Scan.GetId(), NodeID: r.Scan.GetNodeId(), Node: r.nodeName(), BenchmarkIDs: nonNil(r.Scan.GetBenchmarkIds()),
		},
	}
	var findings []*consolev1.ResultRow
	ruleIDs := map[string]bool{}
	for _, row := range r.Results {
		if failing(row) {
			findings = append(findings, row)
			ruleIDs[row.GetControlId()] = true
		}
	}
	ids := make([]string, 0, len(ruleIDs))
	for id := range ruleIDs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	index := map[string]int{}
	for i, id := range ids {
		index[id] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, r.sarifRule(id, findings))
	}
	for _, row := range findings {
		run.Results = append(run.Results, sarifResultOf(row, index[row.GetControlId()]))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Version: SARIFVersion, Schema: SARIFSchema, Runs: []sarifRun{run}})
}

// sarifRule describes a control, from the catalogue when it still has it, else from the
// first finding's row.
func (r *Report) sarifRule(id string, findings []*consolev1.ResultRow) sarifRule {
	rule := sarifRule{ID: id, Properties: sarifRuleProperties{References: []string{}}}
	if c, ok := r.Controls[id]; ok {
		rule.ShortDescription.Text = c.GetTitle()
		rule.FullDescription.Text = c.GetDescription()
		rule.Help.Text = c.GetRemediation()
		rule.Properties.Severity = c.GetSeverity()
		rule.Properties.Service = c.GetService()
	} else {
		for _, row := range findings {
			if row.GetControlId() == id {
				rule.ShortDescription.Text = row.GetTitle()
				rule.Properties.Severity = row.GetSeverity()
				rule.Properties.Service = row.GetService()
				break
			}
		}
	}
	if rule.ShortDescription.Text == "" {
		rule.ShortDescription.Text = id
	}
	if rule.FullDescription.Text == "" {
		rule.FullDescription.Text = rule.ShortDescription.Text
	}
	for _, ref := range r.references(id) {
		rule.Properties.References = append(rule.Properties.References, ref.GetBenchmarkId()+" "+ref.GetRequirementId())
	}
	return rule
}

// sarifResultOf turns a finding into a SARIF result.
func sarifResultOf(row *consolev1.ResultRow, ruleIndex int) sarifResult {
	msg := row.GetReason()
	if msg == "" {
		msg = row.GetTitle()
	}
	if row.GetStatus() == sensorv1.Status_STATUS_ERROR {
		msg = "Could not be evaluated: " + msg
	}
	res := sarifResult{
		RuleID: row.GetControlId(), RuleIndex: ruleIndex, Level: sarifLevel(row.GetSeverity()), Message: sarifText{Text: msg},
		Properties: sarifResultProperties{Status: statusName(row.GetStatus()), Resource: row.GetResource(), Severity: row.GetSeverity()},
	}
	type place struct {
		uri  string
		line uint32
	}
	seen := map[place]bool{}
	for _, e := range row.GetEvidence() {
		if e.GetSource() == "" {
			continue
		}
		p := place{uri: sourceURI(e.GetSource()), line: e.GetLine()}
		if seen[p] {
			continue
		}
		seen[p] = true
		loc := sarifLocation{PhysicalLocation: sarifPhysicalLocation{ArtifactLocation: sarifArtifactLocation{URI: p.uri}}}
		if p.line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: p.line}
		}
		res.Locations = append(res.Locations, loc)
	}
	if m := row.GetMask(); m != nil {
		res.Suppressions = []sarifSuppression{{
			Kind: "external", Status: "accepted", Justification: m.GetReason(),
			Properties: sarifSuppressionProperties{
				MaskID: m.GetId(), CreatedBy: m.GetCreatedBy(), CreatedAt: timeText(m.GetCreatedAt()), ExpiresAt: timeText(m.GetExpiresAt()),
			},
		}}
	}
	return res
}

// sarifLevel maps a severity to a SARIF level: critical and high are errors, the rest
// warnings.
func sarifLevel(severity string) string {
	switch posture.Severity(severity) {
	case posture.Critical, posture.High:
		return "error"
	default:
		return "warning"
	}
}

// sourceURI turns an evidence source into a URI: an absolute path becomes a file URI
// (file:///etc/ssh/sshd_config), anything else a relative reference with unsafe characters
// escaped.
func sourceURI(src string) string {
	if strings.HasPrefix(src, "/") {
		return (&url.URL{Scheme: "file", Path: src}).String()
	}
	return (&url.URL{Path: src}).String()
}
