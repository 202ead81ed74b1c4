package catalog

import (
	"testing"
)

// TestFrameworkRequirementTitles fails when a requirement of a non-CIS benchmark has no title
// of its own: a cited requirement nobody declared takes the citing control's title, which
// describes the control and not the framework's requirement. Declare the title in
// linux/frameworks-*.yaml.
func TestFrameworkRequirementTitles(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	controlTitles := map[string]string{}
	for _, ctl := range c.Controls() {
		controlTitles[ctl.Title] = ctl.ID
	}
	for _, bm := range c.Benchmarks() {
		if bm.Framework == "CIS" {
			continue
		}
		for _, r := range bm.Requirements {
			if id, ok := controlTitles[r.Title]; ok || r.Title == "" {
				t.Errorf("%s requirement %q has the title of control %s (%q); declare its own title in linux/frameworks-*.yaml", bm.ID, r.ID, id, r.Title)
			}
		}
	}
}

// TestManualControls checks the controls that use the manual primitive: at least 25, each
// with guidance, each citing at least one framework requirement.
func TestManualControls(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ctl := range c.Controls() {
		if ctl.Check.Manual == nil {
			continue
		}
		n++
		if len(ctl.References()) == 0 {
			t.Errorf("manual control %s cites no requirement", ctl.ID)
		}
	}
	if n < 25 {
		t.Errorf("%d manual controls; want at least 25", n)
	}
}

func TestManualCheckValidate(t *testing.T) {
	for _, tt := range []struct {
		check Check
		want  string
	}{
		{Check{Manual: &ManualCheck{Guidance: "Ask for the plan."}}, ""},
		{Check{Manual: &ManualCheck{Guidance: "  \n"}}, "manual: guidance is required: say what an auditor checks and how"},
		{Check{Manual: &ManualCheck{Guidance: "x"}, File: &FileCheck{Path: "/etc/x"}}, "2 check primitives set; set exactly one"},
	} {
		err := tt.check.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("Validate() = %q; want %q", got, tt.want)
		}
	}
}

// BenchmarkDefault measures loading and validating the built-in catalogue, the fixed cost of
// every sensor scan.
func BenchmarkDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Default(); err != nil {
			b.Fatal(err)
		}
	}
}
