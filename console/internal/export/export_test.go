package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/palisadehq/palisade/console/internal/api"
	"github.com/palisadehq/palisade/console/internal/apitest"
	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/scans"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/enrolment"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// The controls of the built-in catalogue the fixture reports results for.
const (
	ctlRootLogin = "linux.ssh.permit-root-login"
	ctlEmptyPw   = "linux.ssh.permit-empty-passwords"
	ctlMaxAuth   = "linux.ssh.max-auth-tries"
	ctlX11       = "linux.ssh.x11-forwarding"
	ctlLogLevel  = "linux.ssh.log-level"
	sshdConfig   = "/etc/ssh/sshd_config"
)

// t0 is the fixture's clock at the start.
var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func as(name string, role store.Role) context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Name: name, Role: role})
}

// fixture is one completed CIS + NIST scan of node web-1 on a real SQLite store, read
// through the real ConsoleService, with one result mask and one control mask.
type fixture struct {
	srv     *api.Server
	scanID  string
	x11Mask *consolev1.Mask
	logMask *consolev1.Mask
	report  *Report
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := apitest.NewClock(t0)
	b := apitest.NewBackend(t, clk.Now)
	st, mgr := b.Store, b.Scans
	srv, err := api.New(api.Config{
		Store: st, Catalog: b.Catalog, Scans: mgr, Now: clk.Now,
		NewEnrolToken: func() (string, []byte, error) { return enrolment.NewToken(strings.Repeat("ab", 32)) },
	})
	if err != nil {
		t.Fatal(err)
	}

	hash := bytes.Repeat([]byte{7}, 32)
	if err := st.CreateEnrolToken(ctx, store.EnrolToken{ID: "tok-1", Hash: hash, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), Uses: 1}); err != nil {
		t.Fatal(err)
	}
	if err := st.EnrolNode(ctx, hash, store.Node{ID: "n-1", Name: "web-1", TargetType: "linux", EnrolledAt: t0, LastSeenAt: t0}, t0); err != nil {
		t.Fatal(err)
	}
	facts := store.NodeFacts{Hostname: "web-1", OSID: "debian", OSVersion: "12", OSName: "Debian GNU/Linux 12 (bookworm)",
		Kernel: "6.1.0-18-amd64", Arch: "amd64", SensorVersion: "0.4.0"}
	if err := st.UpdateNodeFacts(ctx, "n-1", facts, t0); err != nil {
		t.Fatal(err)
	}

	_, started, err := mgr.Start(ctx, scans.StartRequest{Nodes: []string{"web-1"}, Benchmarks: []string{"cis", "nist"}, Actor: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	scanID := started[0].ID
	clk.Advance(time.Minute)
	if _, err := mgr.Update(ctx, "n-1", &sensorv1.UpdateScanRequest{ScanId: scanID, State: sensorv1.ScanState_SCAN_STATE_RUNNING}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	results := []*sensorv1.Result{
		{ControlId: ctlRootLogin, Resource: sshdConfig, Status: sensorv1.Status_STATUS_FAIL,
			Reason:   "PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no",
			Evidence: []*sensorv1.Evidence{{Source: sshdConfig, Line: 32, Key: "PermitRootLogin", Actual: "yes", Expected: "no"}}},
		{ControlId: ctlEmptyPw, Resource: sshdConfig, Status: sensorv1.Status_STATUS_PASS, Reason: "PermitEmptyPasswords is no",
			Evidence: []*sensorv1.Evidence{{Source: sshdConfig, Key: "PermitEmptyPasswords", Actual: "no"}}},
		{ControlId: ctlMaxAuth, Resource: sshdConfig, Status: sensorv1.Status_STATUS_ERROR, Reason: "=cmd|' /C calc'!A0 is not a number",
			Evidence: []*sensorv1.Evidence{{Source: "/etc/ssh/sshd_config.d/50 cloud.conf", Line: 3}}},
		{ControlId: ctlX11, Resource: sshdConfig, Status: sensorv1.Status_STATUS_FAIL, Reason: "X11Forwarding is yes",
			Evidence: []*sensorv1.Evidence{
				{Source: sshdConfig, Line: 12, Key: "X11Forwarding", Actual: "yes", Expected: "no"},
				{Source: sshdConfig, Line: 12, Key: "X11Forwarding", Actual: "yes", Expected: "no"},
			}},
		{ControlId: ctlLogLevel, Resource: "web-1", Status: sensorv1.Status_STATUS_SKIP, Reason: "sshd is not installed"},
	}
	ack, err := mgr.Ingest(ctx, "n-1", &sensorv1.ResultBatch{ScanId: scanID, Seq: 1, Final: true, TotalResults: uint64(len(results)), Results: results})
	if err != nil || ack.GetError() != "" {
		t.Fatalf("ingest: %v, %q", err, ack.GetError())
	}
	clk.Advance(time.Minute)

	analyst := as("ana", store.RoleAnalyst)
	x11Mask, err := srv.CreateMask(analyst, &consolev1.CreateMaskRequest{
		ControlId: ctlX11, Nodes: []string{"web-1"}, Resource: sshdConfig, Reason: `X11 needed for <admin> tools & "legacy" apps`,
		ExpiresAt: timestamppb.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)),
	})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	logMask, err := srv.CreateMask(analyst, &consolev1.CreateMaskRequest{ControlId: ctlLogLevel, Reason: "logging is handled centrally"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)

	rep, err := Load(as("vera", store.RoleViewer), srv, scanID, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, scanID: scanID, x11Mask: x11Mask, logMask: logMask, report: rep}
}

// render writes the fixture's report in format f.
func (f *fixture) render(t *testing.T, format Format) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, format, f.report); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestLoad(t *testing.T) {
	f := newFixture(t)
	r := f.report
	if !r.GeneratedAt.Equal(t0.Add(5*time.Minute)) || r.Scan.GetId() != f.scanID || r.Node.GetName() != "web-1" {
		t.Fatalf("report of %v at %v on %v", r.Scan.GetId(), r.GeneratedAt, r.Node.GetName())
	}
	var got []string
	for _, row := range r.Results {
		got = append(got, fmt.Sprintf("%s %s masked=%v", row.GetControlId(), statusName(row.GetStatus()), row.GetMask() != nil))
	}
	want := []string{
		ctlLogLevel + " skip masked=true",
		ctlMaxAuth + " error masked=false",
		ctlEmptyPw + " pass masked=false",
		ctlRootLogin + " fail masked=false",
		ctlX11 + " fail masked=true",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("results %q; want every result, masked ones included, by control id: %q", got, want)
	}
	if len(r.Controls) != 5 || r.Controls[ctlRootLogin].GetTitle() != "SSH root login is disabled" {
		t.Errorf("controls %v", r.Controls)
	}
	if len(r.Benchmarks) != 2 || r.Benchmarks["linux-cis"] == nil || r.Benchmarks["linux-nist"] == nil {
		t.Errorf("benchmarks %v; want linux-cis and linux-nist", r.Benchmarks)
	}
	if len(r.Masks) != 2 || r.Masks[0].GetId() != f.x11Mask.GetId() || r.Masks[1].GetId() != f.logMask.GetId() {
		t.Errorf("masks %v; want the two active masks covering n-1", r.Masks)
	}
}

func TestLoadChecksTheCallersRole(t *testing.T) {
	f := newFixture(t)
	_, err := Load(context.Background(), f.srv, f.scanID, t0)
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("anonymous export: %v; want Unauthenticated", err)
	}
	_, err = Load(as("vera", store.RoleViewer), f.srv, "s-nope", t0)
	if status.Code(err) != codes.NotFound {
		t.Errorf("unknown scan: %v; want NotFound", err)
	}
}

func TestCSV(t *testing.T) {
	f := newFixture(t)
	records, err := csv.NewReader(bytes.NewReader(f.render(t, CSV))).ReadAll()
	if err != nil {
		t.Fatalf("the CSV export does not parse: %v", err)
	}
	id := f.scanID
	want := [][]string{
		{"scan_id", "node", "control_id", "title", "benchmarks", "severity", "service", "status", "resource", "reason", "masked", "mask_reason", "mask_by", "mask_until", "evidence"},
		{id, "web-1", ctlLogLevel, "SSH logs at level INFO or VERBOSE", "linux-cis 5.1.14; linux-nist AU-3", "low", "SSH", "skip", "web-1", "sshd is not installed",
			"true", "logging is handled centrally", "ana", "", ""},
		{id, "web-1", ctlMaxAuth, "SSH allows at most 4 authentication attempts per connection", "linux-cis 5.1.16; linux-nist AC-7", "medium", "SSH", "error", sshdConfig,
			"'=cmd|' /C calc'!A0 is not a number", "false", "", "", "", "/etc/ssh/sshd_config.d/50 cloud.conf:3"},
		{id, "web-1", ctlEmptyPw, "SSH logins with empty passwords are refused", "linux-cis 5.1.19; linux-nist IA-5(1)", "critical", "SSH", "pass", sshdConfig,
			"PermitEmptyPasswords is no", "false", "", "", "", "/etc/ssh/sshd_config PermitEmptyPasswords=no"},
		{id, "web-1", ctlRootLogin, "SSH root login is disabled", "linux-cis 5.1.20; linux-nist AC-6(2)", "high", "SSH", "fail", sshdConfig,
			"PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no", "false", "", "", "", "/etc/ssh/sshd_config:32 PermitRootLogin=yes (expected no)"},
		{id, "web-1", ctlX11, "SSH X11 forwarding is disabled", "linux-cis 5.1.8; linux-nist CM-7", "medium", "SSH", "fail", sshdConfig,
			"X11Forwarding is yes", "true", `X11 needed for <admin> tools & "legacy" apps`, "ana", "2027-01-01T00:00:00Z",
			"/etc/ssh/sshd_config:12 X11Forwarding=yes (expected no); /etc/ssh/sshd_config:12 X11Forwarding=yes (expected no)"},
	}
	if !reflect.DeepEqual(records, want) {
		t.Errorf("CSV\n%q\nwant\n%q", records, want)
	}
}

func TestDefuseFormula(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"=1+1":          "'=1+1",
		"+1":            "'+1",
		"-1":            "'-1",
		"@SUM(A1)":      "'@SUM(A1)",
		"\tx":           "'\tx",
		"\rx":           "'\rx",
		"PermitRoot=no": "PermitRoot=no",
	} {
		if got := defuseFormula(in); got != want {
			t.Errorf("defuseFormula(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestJSON(t *testing.T) {
	f := newFixture(t)
	out := f.render(t, JSON)
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	var got JSONExport
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("the JSON export does not parse: %v\n%s", err, out)
	}
	str := func(s string) *string { return &s }
	score := func(v float64) *float64 { return &v }
	x11Mask := JSONMask{ID: f.x11Mask.GetId(), ControlID: ctlX11, NodeIDs: []string{"n-1"}, Resource: sshdConfig,
		Reason: `X11 needed for <admin> tools & "legacy" apps`, CreatedBy: "ana", CreatedAt: str("2026-11-26T09:03:00Z"), ExpiresAt: str("2027-01-01T00:00:00Z")}
	logMask := JSONMask{ID: f.logMask.GetId(), ControlID: ctlLogLevel, NodeIDs: []string{}, Reason: "logging is handled centrally",
		CreatedBy: "ana", CreatedAt: str("2026-11-26T09:04:00Z")}
	want := JSONExport{
		Format: "palisade.scan-export", Version: 1, GeneratedAt: "2026-11-26T09:05:00Z",
		Scan: JSONScan{
			ID: f.scanID, GroupID: f.report.Scan.GetGroupId(), State: "complete", BenchmarkIDs: []string{"linux-cis", "linux-nist"},
			ControlsTotal: f.report.Scan.GetControlsTotal(), ControlsDone: f.report.Scan.GetControlsDone(), ResultsStored: 5, CreatedBy: "ana",
			CreatedAt: str("2026-11-26T09:00:00Z"), StartedAt: str("2026-11-26T09:01:00Z"), FinishedAt: str("2026-11-26T09:02:00Z"),
		},
		Node: JSONNode{ID: "n-1", Name: "web-1", TargetType: "linux", Hostname: "web-1", OSID: "debian", OSVersion: "12",
			OSName: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.1.0-18-amd64", Arch: "amd64", SensorVersion: "0.4.0"},
		Scores: []JSONScore{
			{BenchmarkID: "linux-cis", Title: "CIS Debian Linux 12 Benchmark, Level 2 Server profile", Version: "1.1.0", Score: score(100.0 / 3),
				Pass: 1, Fail: 1, Error: 1, Masked: 2},
			{BenchmarkID: "linux-nist", Title: "NIST SP 800-53 Rev. 5 controls for Linux hosts", Version: "rev5", Score: score(100.0 / 3),
				Pass: 1, Fail: 1, Error: 1, Masked: 2},
		},
		Results: []JSONResult{
			{ControlID: ctlLogLevel, Title: "SSH logs at level INFO or VERBOSE", Severity: "low", Service: "SSH",
				References: []JSONReference{{"linux-cis", "5.1.14"}, {"linux-nist", "AU-3"}}, Resource: "web-1", Status: "skip",
				Reason: "sshd is not installed", Evidence: []JSONEvidence{}, Masked: true, Mask: &logMask},
			{ControlID: ctlMaxAuth, Title: "SSH allows at most 4 authentication attempts per connection", Severity: "medium", Service: "SSH",
				References: []JSONReference{{"linux-cis", "5.1.16"}, {"linux-nist", "AC-7"}}, Resource: sshdConfig, Status: "error",
				Reason: "=cmd|' /C calc'!A0 is not a number", Evidence: []JSONEvidence{{Source: "/etc/ssh/sshd_config.d/50 cloud.conf", Line: 3}}},
			{ControlID: ctlEmptyPw, Title: "SSH logins with empty passwords are refused", Severity: "critical", Service: "SSH",
				References: []JSONReference{{"linux-cis", "5.1.19"}, {"linux-nist", "IA-5(1)"}}, Resource: sshdConfig, Status: "pass",
				Reason: "PermitEmptyPasswords is no", Evidence: []JSONEvidence{{Source: sshdConfig, Key: "PermitEmptyPasswords", Actual: "no"}}},
			{ControlID: ctlRootLogin, Title: "SSH root login is disabled", Severity: "high", Service: "SSH",
				References: []JSONReference{{"linux-cis", "5.1.20"}, {"linux-nist", "AC-6(2)"}}, Resource: sshdConfig, Status: "fail",
				Reason:   "PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no",
				Evidence: []JSONEvidence{{Source: sshdConfig, Line: 32, Key: "PermitRootLogin", Actual: "yes", Expected: "no"}}},
			{ControlID: ctlX11, Title: "SSH X11 forwarding is disabled", Severity: "medium", Service: "SSH",
				References: []JSONReference{{"linux-cis", "5.1.8"}, {"linux-nist", "CM-7"}}, Resource: sshdConfig, Status: "fail",
				Reason: "X11Forwarding is yes", Evidence: []JSONEvidence{
					{Source: sshdConfig, Line: 12, Key: "X11Forwarding", Actual: "yes", Expected: "no"},
					{Source: sshdConfig, Line: 12, Key: "X11Forwarding", Actual: "yes", Expected: "no"},
				}, Masked: true, Mask: &x11Mask},
		},
		Masks: []JSONMask{x11Mask, logMask},
	}
	if !reflect.DeepEqual(got, want) {
		gotJSON, _ := json.MarshalIndent(got, "", "  ")
		wantJSON, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("JSON export\n%s\nwant\n%s", gotJSON, wantJSON)
	}
	// Absent times and "no score" are explicit nulls, never missing keys or zero values.
	var raw map[string]any
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	masks := raw["masks"].([]any)
	if v, ok := masks[1].(map[string]any)["expires_at"]; !ok || v != nil {
		t.Errorf("a mask without expiry has expires_at %v (present %v); want null", v, ok)
	}
}

func TestJSONScoreNullWhenNoScore(t *testing.T) {
	r := &Report{
		GeneratedAt: t0, Node: &consolev1.Node{Id: "n-1", Name: "web-1"},
		Scan: &consolev1.Scan{Id: "s-1", Scores: []*consolev1.Score{{BenchmarkId: "linux-gdpr", Skip: 3}}},
	}
	var b bytes.Buffer
	if err := Write(&b, JSON, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"benchmark_id": "linux-gdpr",
      "title": "",
      "version": "",
      "score": null,`) {
		t.Errorf("a benchmark without a score must say null:\n%s", b.String())
	}
	for _, key := range []string{`"results": []`, `"masks": []`, `"benchmark_ids": []`, `"created_at": null`} {
		if !strings.Contains(b.String(), key) {
			t.Errorf("missing %s in\n%s", key, b.String())
		}
	}
}

func TestSARIF(t *testing.T) {
	f := newFixture(t)
	out := f.render(t, SARIF)
	var got any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("the SARIF export does not parse: %v", err)
	}
	ctl := f.report.Controls
	rule := func(id string) map[string]any {
		c := ctl[id]
		refs := []any{}
		for _, r := range f.report.references(id) {
			refs = append(refs, r.GetBenchmarkId()+" "+r.GetRequirementId())
		}
		return map[string]any{
			"id":               id,
			"shortDescription": map[string]any{"text": c.GetTitle()},
			"fullDescription":  map[string]any{"text": c.GetDescription()},
			"help":             map[string]any{"text": c.GetRemediation()},
			"properties":       map[string]any{"severity": c.GetSeverity(), "service": "SSH", "references": refs},
		}
	}
	loc := func(uri string, line float64) any {
		pl := map[string]any{"artifactLocation": map[string]any{"uri": uri}}
		if line > 0 {
			pl["region"] = map[string]any{"startLine": line}
		}
		return map[string]any{"physicalLocation": pl}
	}
	want := map[string]any{
		"version": "2.1.0",
		"$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/os/schemas/sarif-schema-2.1.0.json",
		"runs": []any{map[string]any{
			"tool": map[string]any{"driver": map[string]any{
				"name":  "Palisade",
				"rules": []any{rule(ctlMaxAuth), rule(ctlRootLogin), rule(ctlX11)},
			}},
			"automationDetails": map[string]any{"id": "palisade/scan/" + f.scanID},
			"invocations": []any{map[string]any{
				"executionSuccessful": true, "startTimeUtc": "2026-11-26T09:01:00Z", "endTimeUtc": "2026-11-26T09:02:00Z",
			}},
			"properties": map[string]any{"scanId": f.scanID, "nodeId": "n-1", "node": "web-1", "benchmarkIds": []any{"linux-cis", "linux-nist"}},
			"results": []any{
				map[string]any{
					"ruleId": ctlMaxAuth, "ruleIndex": 0.0, "level": "warning",
					"message":    map[string]any{"text": "Could not be evaluated: =cmd|' /C calc'!A0 is not a number"},
					"locations":  []any{loc("file:///etc/ssh/sshd_config.d/50%20cloud.conf", 3)},
					"properties": map[string]any{"status": "error", "resource": sshdConfig, "severity": "medium"},
				},
				map[string]any{
					"ruleId": ctlRootLogin, "ruleIndex": 1.0, "level": "error",
					"message":    map[string]any{"text": "PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no"},
					"locations":  []any{loc("file:///etc/ssh/sshd_config", 32)},
					"properties": map[string]any{"status": "fail", "resource": sshdConfig, "severity": "high"},
				},
				map[string]any{
					"ruleId": ctlX11, "ruleIndex": 2.0, "level": "warning",
					"message":   map[string]any{"text": "X11Forwarding is yes"},
					"locations": []any{loc("file:///etc/ssh/sshd_config", 12)},
					"suppressions": []any{map[string]any{
						"kind": "external", "status": "accepted", "justification": `X11 needed for <admin> tools & "legacy" apps`,
						"properties": map[string]any{"maskId": f.x11Mask.GetId(), "createdBy": "ana", "createdAt": "2026-11-26T09:03:00Z", "expiresAt": "2027-01-01T00:00:00Z"},
					}},
					"properties": map[string]any{"status": "fail", "resource": sshdConfig, "severity": "medium"},
				},
			},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		wantJSON, _ := json.MarshalIndent(want, "", "  ")
		t.Errorf("SARIF\n%s\nwant\n%s", out, wantJSON)
	}
	if c := ctl[ctlRootLogin]; c.GetDescription() == "" || c.GetRemediation() == "" {
		t.Errorf("the catalogue control has no description or remediation to carry: %v", c)
	}
}

func TestSARIFLevelsAndURIs(t *testing.T) {
	for sev, want := range map[string]string{"critical": "error", "high": "error", "medium": "warning", "low": "warning", "": "warning"} {
		if got := sarifLevel(sev); got != want {
			t.Errorf("sarifLevel(%q) = %q; want %q", sev, got, want)
		}
	}
	for src, want := range map[string]string{
		"/etc/ssh/sshd_config":  "file:///etc/ssh/sshd_config",
		"/etc/a b#c?d":          "file:///etc/a%20b%23c%3Fd",
		"proc/sys/kernel/x":     "proc/sys/kernel/x",
		"relative path/with %x": "relative%20path/with%20%25x",
	} {
		if got := sourceURI(src); got != want {
			t.Errorf("sourceURI(%q) = %q; want %q", src, got, want)
		}
	}
}

func TestHTML(t *testing.T) {
	f := newFixture(t)
	page := string(f.render(t, HTML))
	ctl := f.report.Controls
	mustContain := []string{
		"<!DOCTYPE html>",
		`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
		"<title>Palisade compliance report: web-1, scan " + f.scanID + "</title>",
		"@media print",
		".page { break-before: page; page-break-before: always; }",
		// Scope.
		"<dt>Node</dt><dd>web-1 (n-1)</dd>",
		"<dt>Operating system</dt><dd>Debian GNU/Linux 12 (bookworm)</dd>",
		"<dt>Kernel</dt><dd>6.1.0-18-amd64</dd>",
		// Scan.
		"<dt>State</dt><dd>complete</dd>",
		"<dt>Benchmarks</dt><dd>CIS Debian Linux 12 Benchmark, Level 2 Server profile 1.1.0 (linux-cis); NIST SP 800-53 Rev. 5 controls for Linux hosts rev5 (linux-nist)</dd>",
		"<dt>Created</dt><dd>2026-11-26T09:00:00Z by ana</dd>",
		"<dt>Finished</dt><dd>2026-11-26T09:02:00Z</dd>",
		"<dt>Results</dt><dd>5 stored: 1 pass, 1 fail, 0 info (manual check), 0 skip, 1 error, 2 masked</dd>",
		// Scores with counts.
		`<td class="num">33.3%</td><td class="num">1</td><td class="num">1</td><td class="num">0</td><td class="num">0</td><td class="num">1</td><td class="num">2</td>`,
		// Failing controls with description and remediation, HTML-escaped.
		`<article class="control high">`,
		"<h3>SSH root login is disabled</h3>",
		"<p class=\"meta\">" + ctlRootLogin + " &middot; severity high &middot; SSH &middot; linux-cis 5.1.20; linux-nist AC-6(2)</p>",
		`<p class="text">` + htmlEscape(strings.TrimSpace(ctl[ctlRootLogin].GetDescription())) + `</p>`,
		`<p class="text">` + htmlEscape(strings.TrimSpace(ctl[ctlRootLogin].GetRemediation())) + `</p>`,
		`<tr><td>/etc/ssh/sshd_config</td><td>fail</td><td>PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no<br><span class="evidence">/etc/ssh/sshd_config:32 PermitRootLogin=yes (expected no)</span></td></tr>`,
		`<tr><td>/etc/ssh/sshd_config</td><td>error</td><td>=cmd|&#39; /C calc&#39;!A0 is not a number`,
		// Masked items with who, why and until.
		`<td>X11 needed for &lt;admin&gt; tools &amp; &#34;legacy&#34; apps</td><td>ana<br><span class="meta">2026-11-26T09:03:00Z</span></td><td>2027-01-01T00:00:00Z</td>`,
		`<td>logging is handled centrally</td><td>ana<br><span class="meta">2026-11-26T09:04:00Z</span></td><td>no expiry</td>`,
		"<td>node n-1; resource /etc/ssh/sshd_config</td>",
		"<td>all nodes; every resource</td>",
	}
	for _, s := range mustContain {
		if !strings.Contains(page, s) {
			t.Errorf("the report lacks %q", s)
		}
	}
	if strings.Contains(page, "<admin>") {
		t.Error("the report carries unescaped text from a mask reason")
	}
	// Failing controls: highest severity first; masked and passing ones are not listed there.
	failing := page[strings.Index(page, `<section id="failing"`):strings.Index(page, `<section id="masked"`)]
	high, medium := strings.Index(failing, "<h3>SSH root login is disabled</h3>"), strings.Index(failing, "<h3>SSH allows at most 4 authentication attempts per connection</h3>")
	if high < 0 || medium < 0 || high > medium {
		t.Errorf("failing controls out of severity order (high at %d, medium at %d)", high, medium)
	}
	for _, absent := range []string{"SSH X11 forwarding is disabled", "SSH logins with empty passwords are refused"} {
		if strings.Contains(failing, absent) {
			t.Errorf("failing controls list %q, which is masked or passing", absent)
		}
	}
}

// htmlEscape escapes text the way html/template does in element content.
func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		got, err := ParseFormat(string(f))
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	for in, want := range map[string]string{
		"":    "no export format given (want one of csv, json, sarif, html)",
		"pdf": `unknown export format "pdf" (want one of csv, json, sarif, html)`,
		"CSV": `unknown export format "CSV" (want one of csv, json, sarif, html)`,
	} {
		if _, err := ParseFormat(in); err == nil || err.Error() != want {
			t.Errorf("ParseFormat(%q) error %v; want %q", in, err, want)
		}
	}
	if got := Filename("s-42", SARIF); got != "palisade-scan-s-42.sarif" {
		t.Errorf("Filename = %q", got)
	}
	for f, want := range map[Format]string{CSV: "text/csv; charset=utf-8", JSON: "application/json", SARIF: "application/sarif+json", HTML: "text/html; charset=utf-8"} {
		if got := f.ContentType(); got != want {
			t.Errorf("%s content type %q; want %q", f, got, want)
		}
	}
}
