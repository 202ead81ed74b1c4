package catalog

import (
	"strings"
	"testing"
	"testing/fstest"
)

const refsBench = `
benchmarks:
  - id: t-cis
    short_name: cis
    framework: CIS
    title: Test CIS
    version: "1"
    target_type: linux
    requirements:
      - {id: "1.10", title: Ten, controls: [a]}
  - id: t-nist
    short_name: nist
    framework: NIST
    title: Test NIST
    version: "5"
    target_type: linux
    requirements: []
`

const refsControls = `
requirements:
  t-nist:
    - {id: AC-12, title: Session termination}
    - {id: AC-2, title: Account management}
controls:
  - id: a
    title: Control A
    description: d
    rationale: r
    remediation: m
    severity: high
    service: SSH
    target_type: linux
    check: {file: {path: /etc/a}}
    refs: {t-cis: ["1.2"], t-nist: [AC-2, AC-12]}
  - id: b
    title: Control B
    description: d
    rationale: r
    remediation: m
    severity: low
    service: SSH
    target_type: linux
    check: {file: {path: /etc/b}}
    refs: {t-cis: ["1.9"], t-nist: [AC-2]}
`

func TestRefsBuildRequirements(t *testing.T) {
	cat, err := Load(fstest.MapFS{"b.yaml": {Data: []byte(refsBench)}, "c.yaml": {Data: []byte(refsControls)}})
	if err != nil {
		t.Fatal(err)
	}
	cis, _ := cat.Benchmark("t-cis")
	var got []string
	for _, r := range cis.Requirements {
		got = append(got, r.ID+"="+r.Title+":"+strings.Join(r.Controls, ","))
	}
	if want := "1.2=Control A:a 1.9=Control B:b 1.10=Ten:a"; strings.Join(got, " ") != want {
		t.Fatalf("cis requirements %q; want %q", strings.Join(got, " "), want)
	}
	nist, _ := cat.Benchmark("t-nist")
	got = nil
	for _, r := range nist.Requirements {
		got = append(got, r.ID+"="+r.Title+":"+strings.Join(r.Controls, ","))
	}
	if want := "AC-2=Account management:a,b AC-12=Session termination:a"; strings.Join(got, " ") != want {
		t.Fatalf("nist requirements %q; want %q", strings.Join(got, " "), want)
	}
	a, _ := cat.Control("a")
	var refs []string
	for _, r := range a.References() {
		refs = append(refs, r.BenchmarkID+" "+r.RequirementID)
	}
	if want := "t-cis 1.10,t-cis 1.2,t-nist AC-12,t-nist AC-2"; strings.Join(refs, ",") != want {
		t.Fatalf("references %q; want %q", strings.Join(refs, ","), want)
	}
}

func TestRefsErrors(t *testing.T) {
	bad := strings.Replace(refsControls, "t-nist: [AC-2]}", "t-iso: [A.5]}", 1)
	_, err := Load(fstest.MapFS{"b.yaml": {Data: []byte(refsBench)}, "c.yaml": {Data: []byte(bad)}})
	if err == nil || !strings.Contains(err.Error(), `control "b" refs: unknown benchmark "t-iso"`) {
		t.Fatalf("unknown benchmark in refs: %v", err)
	}
	unused := refsControls + "\n" + `  - id: c
    title: C
    description: d
    rationale: r
    remediation: m
    severity: low
    service: SSH
    target_type: linux
    check: {file: {path: /etc/c}}
`
	unused = strings.Replace(unused, "    - {id: AC-2, title: Account management}", "    - {id: AC-2, title: Account management}\n    - {id: AC-99, title: Nobody tests this}", 1)
	_, err = Load(fstest.MapFS{"b.yaml": {Data: []byte(refsBench)}, "c.yaml": {Data: []byte(unused)}})
	if err == nil || !strings.Contains(err.Error(), `benchmark "t-nist" requirement "AC-99": no controls`) {
		t.Fatalf("declared but untested requirement: %v", err)
	}
}

func TestNaturalCompare(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"1.2", "1.10", -1}, {"1.10", "1.9", 1}, {"AC-2", "AC-12", -1}, {"AC-6(9)", "AC-6(10)", -1},
		{"164.308(a)(1)", "164.312(b)", -1}, {"5.1.20", "5.1.20", 0}, {"1.1", "1.1.1", -1},
	} {
		got := NaturalCompare(tt.a, tt.b)
		if (got < 0) != (tt.want < 0) || (got > 0) != (tt.want > 0) {
			t.Errorf("NaturalCompare(%q, %q) = %d; want sign %d", tt.a, tt.b, got, tt.want)
		}
	}
}
