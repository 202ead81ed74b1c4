package standalone

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/engine"
	"github.com/palisadehq/palisade/pkg/posture"
)

// benchmarkIDs returns the ids of the scanned benchmarks in report order.
func (r *Report) benchmarkIDs() []string {
	ids := make([]string, len(r.Benchmarks))
	for i, b := range r.Benchmarks {
		ids[i] = b.ID
	}
	return ids
}

// refsByBenchmark returns, for each scanned benchmark, the requirement ids that cite the
// control.
func (r *Report) refsByBenchmark(c *catalog.Control) map[string][]string {
	out := map[string][]string{}
	if c == nil {
		return out
	}
	scanned := map[string]bool{}
	for _, id := range r.benchmarkIDs() {
		scanned[id] = true
	}
	for _, ref := range c.References() {
		if scanned[ref.BenchmarkID] {
			out[ref.BenchmarkID] = append(out[ref.BenchmarkID], ref.RequirementID)
		}
	}
	for _, ids := range out {
		sort.Slice(ids, func(i, j int) bool { return catalog.NaturalCompare(ids[i], ids[j]) < 0 })
	}
	return out
}

// writeCSV writes one row per result: control_id, title, severity, service, resource,
// status, reason, then one column per scanned benchmark (named by its id) holding the
// requirement ids the control maps to there, separated by spaces.
func (r *Report) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	bids := r.benchmarkIDs()
	header := append([]string{"control_id", "title", "severity", "service", "resource", "status", "reason"}, bids...)
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, res := range r.Results {
		c := r.controls[res.ControlID]
		var title, severity, service string
		if c != nil {
			title, severity, service = c.Title, string(c.Severity), c.Service
		}
		row := []string{res.ControlID, title, severity, service, res.Resource, string(res.Status), res.Reason}
		refs := r.refsByBenchmark(c)
		for _, bid := range bids {
			row = append(row, strings.Join(refs[bid], " "))
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// SARIF 2.1.0, the subset palisade-sensor writes.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                   `json:"tool"`
	OriginalURIBaseIDs map[string]sarifArtifactLoc `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult               `json:"results"`
	Properties         map[string]any              `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifText       `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	Message          *sarifText     `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLoc `json:"artifactLocation"`
	Region           *sarifRegion     `json:"region,omitempty"`
}

type sarifArtifactLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

// sarifSchema is the location of the SARIF 2.1.0 JSON schema.
const sarifSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

// hostRootBase is the uriBaseId that evidence paths are relative to: the scanned host root.
const hostRootBase = "HOSTROOT"

// sarifLevel maps a control's severity to a SARIF level.
func sarifLevel(s posture.Severity) string {
	switch s {
	case posture.Critical, posture.High:
		return "error"
	case posture.Low:
		return "note"
	}
	return "warning"
}

// securitySeverity is the numeric score code-scanning tools read from rule properties.
func securitySeverity(s posture.Severity) string {
	switch s {
	case posture.Critical:
		return "9.5"
	case posture.High:
		return "8.0"
	case posture.Medium:
		return "5.5"
	}
	return "3.0"
}

// writeSARIF writes one SARIF 2.1.0 run: a rule per scanned control (with its description,
// rationale and remediation as help, and its framework requirements as properties) and a
// result per failing or errored result. Evidence with a file becomes a physical location
// relative to the host root (with the line when known); otherwise the resource is a
// logical location.
func (r *Report) writeSARIF(w io.Writer) error {
	ids := make([]string, 0, len(r.controls))
	for id := range r.controls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	index := make(map[string]int, len(ids))
	rules := make([]sarifRule, 0, len(ids))
	for i, id := range ids {
		c := r.controls[id]
		index[id] = i
		props := map[string]any{
			"severity":          string(c.Severity),
			"security-severity": securitySeverity(c.Severity),
			"service":           c.Service,
			"tags":              []string{"security", "compliance", strings.ToLower(c.Service)},
		}
		if refs := r.refsByBenchmark(c); len(refs) > 0 {
			props["frameworks"] = refs
		}
		help := fmt.Sprintf("%s\n\nWhy: %s\n\nRemediation:\n%s", strings.TrimSpace(c.Description), strings.TrimSpace(c.Rationale), strings.TrimSpace(c.Remediation))
		rules = append(rules, sarifRule{
			ID:                   c.ID,
			Name:                 ruleName(c.ID),
			ShortDescription:     sarifText{Text: c.Title},
			FullDescription:      sarifText{Text: strings.TrimSpace(c.Description)},
			Help:                 sarifText{Text: help},
			DefaultConfiguration: sarifConfig{Level: sarifLevel(c.Severity)},
			Properties:           props,
		})
	}
	results := []sarifResult{}
	for _, res := range r.Results {
		if res.Status != posture.Fail && res.Status != posture.Error {
			continue
		}
		c := r.controls[res.ControlID]
		var sev posture.Severity
		if c != nil {
			sev = c.Severity
		}
		msg := res.Reason
		if res.Status == posture.Error {
			msg = "could not be evaluated: " + res.Reason
		}
		results = append(results, sarifResult{
			RuleID:     res.ControlID,
			RuleIndex:  index[res.ControlID],
			Level:      sarifLevel(sev),
			Message:    sarifText{Text: msg},
			Locations:  []sarifLocation{sarifLocationOf(res)},
			Properties: map[string]any{"status": string(res.Status), "resource": res.Resource},
		})
	}
	run := sarifRun{
		Tool:    sarifTool{Driver: sarifDriver{Name: "palisade-sensor", Version: r.toolVersion, Rules: rules}},
		Results: results,
	}
	if root, err := filepath.Abs(r.Root); err == nil && r.Root != "" {
		run.OriginalURIBaseIDs = map[string]sarifArtifactLoc{hostRootBase: {URI: "file://" + strings.TrimSuffix(filepath.ToSlash(root), "/") + "/"}}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: sarifSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}

// sarifLocationOf places a result: the first evidence that names a file, else the resource.
func sarifLocationOf(res engine.Result) sarifLocation {
	for _, ev := range res.Evidence {
		if !strings.HasPrefix(ev.Source, "/") {
			continue
		}
		loc := sarifLocation{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifactLoc{URI: strings.TrimPrefix(ev.Source, "/"), URIBaseID: hostRootBase}}}
		if ev.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: ev.Line}
		}
		return loc
	}
	return sarifLocation{LogicalLocations: []sarifLogical{{Name: res.Resource, Kind: "resource"}}}
}

// ruleName turns a control id into the PascalCase name SARIF viewers show
// (linux.ssh.permit-root-login -> LinuxSshPermitRootLogin).
func ruleName(id string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(id, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
