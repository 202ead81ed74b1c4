package catalog

import (
	"testing"

	"github.com/palisadehq/palisade/pkg/posture"
)

func TestDefaultCatalogue(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	controls := c.Controls()
	if len(controls) < 30 {
		t.Fatalf("default catalogue has %d controls, want at least 30", len(controls))
	}
	cis, err := c.ResolveBenchmark("cis", posture.Linux)
	if err != nil {
		t.Fatal(err)
	}
	inCIS := map[string]bool{}
	for _, id := range cis.ControlIDs() {
		inCIS[id] = true
	}
	for _, ctl := range controls {
		if ctl.TargetType != posture.Linux {
			continue
		}
		// Every automated control is in CIS; manual (info) controls may serve other
		// frameworks only.
		if !inCIS[ctl.ID] && ctl.Check.Manual == nil {
			t.Errorf("control %s is not in %s", ctl.ID, cis.ID)
		}
		if ctl.Check.Primitive() == "" {
			t.Errorf("control %s has no single primitive", ctl.ID)
		}
	}
	for _, name := range []string{"nist", "pci-dss"} {
		if _, err := c.ResolveBenchmark(name, posture.Linux); err != nil {
			t.Error(err)
		}
	}
	// A combined CIS + NIST scan evaluates shared controls once.
	set, err := c.ControlSet([]string{"linux-cis", "linux-nist"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nist, _ := c.Benchmark("linux-nist")
	union := map[string]bool{}
	for _, id := range append(cis.ControlIDs(), nist.ControlIDs()...) {
		union[id] = true
	}
	if len(set) != len(union) {
		t.Errorf("cis+nist control set has %d controls, want %d (each shared control once)", len(set), len(union))
	}
	ctl, _ := c.Control("linux.ssh.permit-root-login")
	want := []Reference{{"linux-cis", "5.1.20"}, {"linux-cis-l1", "5.1.20"}, {"linux-gdpr", "Art. 32(1)(b)"}, {"linux-hipaa", "164.312(a)(1)"}, {"linux-nist", "AC-6(2)"}, {"linux-pci-dss", "2.2.6"}}
	got := ctl.References()
	if len(got) != len(want) {
		t.Fatalf("references = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("references = %v, want %v", got, want)
		}
	}
}

// TestDefaultRoundTrip checks that controls survive the job encoding (MarshalControls then
// UnmarshalControls) and Merge unchanged.
func TestDefaultRoundTrip(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	data, err := MarshalControls(c.Controls())
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalControls(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := MarshalControls(back)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(data) {
		t.Fatal("controls changed through a marshal/unmarshal round trip")
	}
}
