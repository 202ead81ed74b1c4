package standalone

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/engine/enginetest"
	"github.com/palisadehq/palisade/pkg/posture"
)

var update = flag.Bool("update", false, "rewrite testdata/report.sarif")

// testCatalog is a small catalogue whose results on testRoot are known exactly: a failing
// sshd setting (evidence with file and line), a passing file mode, a failing package, an
// unreadable file (error) and a manual control (info).
const testCatalog = `
benchmarks:
  - {id: t-cis, short_name: cis, framework: CIS, title: Test CIS, version: "1", target_type: linux, requirements: []}
  - {id: t-nist, short_name: nist, framework: NIST SP 800-53, title: Test NIST, version: rev5, target_type: linux, requirements: []}
requirements:
  t-nist:
    - {id: AC-6(2), title: "Least Privilege | Non-privileged Access for Nonsecurity Functions"}
    - {id: CM-7, title: Least Functionality}
    - {id: RA-3, title: Risk Assessment}
controls:
  - id: t.ssh.root
    title: SSH root login is disabled
    description: PermitRootLogin must be no.
    rationale: Root logins are anonymous.
    remediation: Set PermitRootLogin no.
    severity: high
    service: SSH
    target_type: linux
    check: {sshd: {key: PermitRootLogin, expect: {equals: "no"}}}
    refs: {t-cis: ["5.1.20"], t-nist: [AC-6(2)]}
  - id: t.files.motd
    title: motd is not writable by others
    description: Mode 0644 or stricter.
    rationale: Others could change the message.
    remediation: chmod 0644 /etc/motd
    severity: low
    service: Files
    target_type: linux
    check: {file: {path: /etc/motd, max_mode: "0644"}}
    refs: {t-cis: ["1.6.4"]}
  - id: t.pkg.telnet
    title: telnet is not installed
    description: The telnet client sends passwords in clear text.
    rationale: Clear-text protocols leak credentials.
    remediation: apt purge telnet
    severity: medium
    service: Packages
    target_type: linux
    check: {package: {names: telnet, state: absent}}
    refs: {t-cis: ["2.2.4"], t-nist: [CM-7]}
  - id: t.files.issue
    title: issue has no OS details
    description: No \v or \r escapes.
    rationale: Banners should not help attackers.
    remediation: Edit /etc/issue.
    severity: low
    service: Files
    target_type: linux
    check: {file_content: {path: /etc/issue, no_match: '\\[rv]'}}
    refs: {t-cis: ["1.6.2"]}
  - id: t.manual.risk
    title: A risk analysis covers the host
    description: Risks are assessed.
    rationale: Controls follow risk.
    remediation: Run a risk assessment.
    severity: medium
    service: Governance
    target_type: linux
    check: {manual: {guidance: Ask for the risk assessment.}}
    refs: {t-nist: [RA-3]}
`

func testRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]string{
		"etc/ssh/sshd_config": "Port 22\nPermitRootLogin yes\n",
		"etc/motd":            "hello\n",
		"var/lib/dpkg/status": "Package: telnet\nStatus: install ok installed\nVersion: 0.17-44\n\n",
	}
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "etc/motd"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "etc/issue"), 0o755); err != nil { // unreadable as a file: error
		t.Fatal(err)
	}
	return root
}

func testReport(t *testing.T) (*Report, string) {
	t.Helper()
	cat, err := catalog.Load(fstest.MapFS{"c.yaml": {Data: []byte(testCatalog)}})
	if err != nil {
		t.Fatal(err)
	}
	root := testRoot(t)
	rep, err := Run(context.Background(), Options{Root: root, Catalog: cat, Benchmarks: []string{"cis", "nist"}, ToolVersion: "1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	return rep, root
}

func TestScanScoresAndTable(t *testing.T) {
	rep, _ := testReport(t)
	want := map[string]posture.Counts{"t-cis": {Pass: 1, Fail: 2, Error: 1}, "t-nist": {Fail: 2, Info: 1}}
	if len(rep.Benchmarks) != 2 || rep.Controls != 5 || len(rep.Results) != 5 {
		t.Fatalf("%d benchmarks, %d controls, %d results; want 2, 5, 5", len(rep.Benchmarks), rep.Controls, len(rep.Results))
	}
	for _, b := range rep.Benchmarks {
		if b.Counts != want[b.ID] {
			t.Errorf("%s counts %+v; want %+v", b.ID, b.Counts, want[b.ID])
		}
	}
	var table bytes.Buffer
	if err := rep.Write(&table, "table"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(table.String(), "\n")
	wantHead := []string{
		"BENCHMARK  SCORE  PASS  FAIL  INFO  SKIP  ERROR",
		"t-cis      25.0%  1     2     0     0     1",
		"t-nist     33.3%  0     2     1     0     0",
	}
	for i, w := range wantHead {
		if strings.TrimRight(lines[i], " ") != w {
			t.Fatalf("table line %d %q; want %q\n%s", i+1, lines[i], w, table.String())
		}
	}

	var js bytes.Buffer
	if err := rep.Write(&js, "json"); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != 5 || back.Benchmarks[0].Score == nil || *back.Benchmarks[0].Score != 25 {
		t.Fatalf("json round trip: %d results, score %v", len(back.Results), back.Benchmarks[0].Score)
	}
	if err := rep.Write(&js, "xml"); err == nil || err.Error() != `unknown format "xml" (want table, json, csv or sarif)` {
		t.Fatalf("unknown format: %v", err)
	}
}

func TestCSV(t *testing.T) {
	rep, _ := testReport(t)
	var out bytes.Buffer
	if err := rep.Write(&out, "csv"); err != nil {
		t.Fatal(err)
	}
	want := `control_id,title,severity,service,resource,status,reason,t-cis,t-nist
t.files.issue,issue has no OS details,low,Files,/etc/issue,error,cannot read /etc/issue: is a directory,1.6.2,
t.files.motd,motd is not writable by others,low,Files,/etc/motd,pass,/etc/motd has mode 0644,1.6.4,
t.manual.risk,A risk analysis covers the host,medium,Governance,host,info,manual verification required: Ask for the risk assessment.,,RA-3
t.pkg.telnet,telnet is not installed,medium,Packages,telnet,fail,telnet 0.17-44 is installed; expected absent,2.2.4,CM-7
t.ssh.root,SSH root login is disabled,high,SSH,/etc/ssh/sshd_config,fail,PermitRootLogin is yes at /etc/ssh/sshd_config:2; expected no,5.1.20,AC-6(2)
`
	if got := out.String(); got != want {
		t.Fatalf("csv:\n%s\nwant:\n%s", got, want)
	}
}

func TestSARIF(t *testing.T) {
	rep, root := testReport(t)
	var out bytes.Buffer
	if err := rep.Write(&out, "sarif"); err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(out.String(), "file://"+root+"/", "file://ROOT/")
	golden := filepath.Join("testdata", "report.sarif")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("sarif differs from %s (rerun with -update and review the diff):\n%s", golden, got)
	}
}

// TestScanFixtureRoot scans a fixture root with the built-in catalogue: each shared control
// is evaluated once, the counts add up, and manual controls report info.
func TestScanFixtureRoot(t *testing.T) {
	root := enginetest.Root(t, "debian-bad")
	rep, err := Run(context.Background(), Options{Root: root, Benchmarks: []string{"cis", "nist"}})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	set, err := cat.ControlSet([]string{"linux-cis", "linux-nist"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Controls != len(set) {
		t.Fatalf("%d controls scanned; want %d (the union, each once)", rep.Controls, len(set))
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		seen[r.ControlID] = true
		if c, _ := cat.Control(r.ControlID); c.Check.Manual != nil && r.Status != posture.Info && r.Status != posture.Skip {
			t.Errorf("manual control %s: %s", r.ControlID, r.Status)
		}
	}
	if len(seen) != len(set) {
		t.Fatalf("results for %d controls; want %d", len(seen), len(set))
	}
	if _, err := Run(context.Background(), Options{Root: root, Benchmarks: []string{"iso-27001"}}); err == nil || !strings.Contains(err.Error(), `unknown benchmark "iso-27001" for linux targets`) {
		t.Fatalf("unknown benchmark: %v", err)
	}
}

func TestParseVmHWM(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		err  string
	}{
		{"Name:\tx\nVmPeak:\t  9000 kB\nVmHWM:\t    12345 kB\nVmRSS:\t 100 kB\n", 12345 * 1024, ""},
		{"Name:\tx\n", 0, "read peak RSS: no VmHWM line in /proc/self/status (is this Linux?)"},
		{"VmHWM:\t12 MB\n", 0, `read peak RSS: unexpected VmHWM line "VmHWM:\t12 MB"`},
	} {
		got, err := parseVmHWM([]byte(tt.in))
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.err {
			t.Errorf("parseVmHWM(%q) = %d, %q; want %d, %q", tt.in, got, gotErr, tt.want, tt.err)
		}
	}
}

func TestExclude(t *testing.T) {
	cat, err := catalog.Load(fstest.MapFS{"c.yaml": {Data: []byte(testCatalog)}})
	if err != nil {
		t.Fatal(err)
	}
	root := testRoot(t)
	rep, err := Run(context.Background(), Options{Root: root, Catalog: cat, Exclude: []string{"t.manual.risk", "t.ssh.root"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Controls != 3 || len(rep.Results) != 3 {
		t.Fatalf("%d controls, %d results; want 3, 3", rep.Controls, len(rep.Results))
	}
	if _, err := Run(context.Background(), Options{Root: root, Catalog: cat, Exclude: []string{"t.nope"}}); err == nil || err.Error() != `unknown control "t.nope"` {
		t.Fatalf("unknown excluded control: %v", err)
	}
}

func TestCatalogDir(t *testing.T) {
	base, err := catalog.Load(fstest.MapFS{"c.yaml": {Data: []byte(testCatalog)}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	extra := `
benchmarks:
  - {id: site, short_name: site, framework: Site, title: Site baseline, version: "1", target_type: linux, requirements: []}
controls:
  - id: site.motd
    title: motd exists
    description: The message of the day is present.
    rationale: Users see the terms of use.
    remediation: Write /etc/motd.
    severity: low
    service: Files
    target_type: linux
    check: {file: {path: /etc/motd}}
    refs: {site: [SB-1]}
`
	if err := os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{Root: testRoot(t), Catalog: base, CatalogDir: dir, Benchmarks: []string{"site"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].ControlID != "site.motd" || rep.Results[0].Status != posture.Pass {
		t.Fatalf("results %+v; want one pass of site.motd", rep.Results)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("controls: [{id: t.ssh.root}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Options{Root: testRoot(t), Catalog: base, CatalogDir: dir}); err == nil || !strings.HasPrefix(err.Error(), "load extra catalogue from "+dir+": ") {
		t.Fatalf("invalid extra catalogue: %v", err)
	}
}
