package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/engine"
	"github.com/palisadehq/palisade/pkg/engine/enginetest"
	"github.com/palisadehq/palisade/pkg/posture"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

func defaultControls(t testing.TB) []*catalog.Control {
	t.Helper()
	c, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	return c.Controls()
}

// scan runs controls over root and returns the outcomes sorted by control id.
func scan(t testing.TB, root string, controls []*catalog.Control) []engine.Outcome {
	t.Helper()
	e, err := engine.New(engine.Options{Root: root, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var out []engine.Outcome
	err = e.Run(context.Background(), controls, func(o engine.Outcome) {
		mu.Lock()
		defer mu.Unlock()
		out = append(out, o)
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ControlID < out[j].ControlID })
	return out
}

// fixtureRoots lists every root in testdata/roots (debian-good, debian-bad, rhel-9,
// rhel-9-bad, ubuntu-22.04, ...); the golden and pass/fail tests cover them all.
func fixtureRoots(t testing.TB) []string {
	t.Helper()
	names, err := enginetest.Names()
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// skippedForOS reports whether a result is the skip of a control whose only_if_os rules the
// root's distribution out (a Debian-only control on a RHEL root and the other way round), or
// whose CEL applies expression is false there.
func skippedForOS(c *catalog.Control, r engine.Result) bool {
	if r.Status != posture.Skip {
		return false
	}
	if len(c.Check.OnlyIfOS) > 0 && strings.HasPrefix(r.Reason, "not applicable: the operating system is") {
		return true
	}
	// A CEL control's own applicability rule ("if chrony is in use, ...").
	return c.Check.CEL != nil && c.Check.CEL.Applies != "" && r.Reason == "not applicable: "+c.Check.CEL.Applies+" is false"
}

func TestGolden(t *testing.T) {
	controls := defaultControls(t)
	for _, name := range fixtureRoots(t) {
		t.Run(name, func(t *testing.T) {
			out := scan(t, enginetest.Root(t, name), controls)
			if len(out) != len(controls) {
				t.Fatalf("got %d outcomes for %d controls", len(out), len(controls))
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "golden", name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("outcomes differ from %s (rerun with -update and review the diff):\n%s", golden, firstDiff(string(want), string(got)))
			}
		})
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + itoa(i+1) + ":\n want " + wl + "\n  got " + gl
		}
	}
	return ""
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestFixtureExpectations pins the intent of the fixtures: on debian-good every result passes
// (or is a justified skip), on debian-bad every control has at least one failing result.
func TestFixtureExpectations(t *testing.T) {
	controls := defaultControls(t)
	good := scan(t, enginetest.Root(t, "debian-good"), controls)
	bad := scan(t, enginetest.Root(t, "debian-bad"), controls)
	manual := manualControls(controls)
	byID := map[string]*catalog.Control{}
	for _, c := range controls {
		byID[c.ID] = c
	}
	for _, o := range good {
		if manual[o.ControlID] {
			continue // always info; TestEveryControlHasPassAndFail checks them
		}
		for _, r := range o.Results {
			if r.Status != posture.Pass && !skippedForOS(byID[o.ControlID], r) {
				t.Errorf("debian-good %s %s: %s (%s)", o.ControlID, r.Resource, r.Status, r.Reason)
			}
		}
	}
	for _, o := range bad {
		if manual[o.ControlID] {
			continue
		}
		failed, otherOS := false, true
		for _, r := range o.Results {
			otherOS = otherOS && skippedForOS(byID[o.ControlID], r)
			failed = failed || r.Status == posture.Fail
			if r.Status == posture.Error {
				t.Errorf("debian-bad %s %s: error (%s)", o.ControlID, r.Resource, r.Reason)
			}
		}
		if !failed && !otherOS {
			t.Errorf("debian-bad %s: no failing result", o.ControlID)
		}
	}
}

// TestEveryControlHasPassAndFail fails when a control of the default catalogue lacks a
// passing or a failing case across the fixture roots.
func TestEveryControlHasPassAndFail(t *testing.T) {
	controls := defaultControls(t)
	seen := map[string]map[posture.Status]bool{}
	for _, name := range fixtureRoots(t) {
		for _, o := range scan(t, enginetest.Root(t, name), controls) {
			if seen[o.ControlID] == nil {
				seen[o.ControlID] = map[posture.Status]bool{}
			}
			for _, r := range o.Results {
				seen[o.ControlID][r.Status] = true
			}
		}
	}
	for _, c := range controls {
		if c.Check.Manual != nil {
			// Manual controls are exempt: they never pass or fail, they yield info (or skip
			// where only_if_* rules them out).
			s := seen[c.ID]
			if !s[posture.Info] || s[posture.Pass] || s[posture.Fail] || s[posture.Error] {
				t.Errorf("manual control %s: statuses %v; want info (and at most skip)", c.ID, s)
			}
			continue
		}
		if !seen[c.ID][posture.Pass] || !seen[c.ID][posture.Fail] {
			t.Errorf("control %s has no %s case in the fixtures (statuses seen: %v)", c.ID, missing(seen[c.ID]), seen[c.ID])
		}
	}
}

// manualControls returns the ids of the controls evaluated by the manual primitive.
func manualControls(controls []*catalog.Control) map[string]bool {
	out := map[string]bool{}
	for _, c := range controls {
		if c.Check.Manual != nil {
			out[c.ID] = true
		}
	}
	return out
}

func missing(s map[posture.Status]bool) string {
	if !s[posture.Pass] {
		return "passing"
	}
	return "failing"
}

func BenchmarkScan(b *testing.B) {
	controls := defaultControls(b)
	root := enginetest.Root(b, "debian-bad")
	e, err := engine.New(engine.Options{Root: root})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := e.Run(context.Background(), controls, func(engine.Outcome) { n++ }); err != nil {
			b.Fatal(err)
		}
		if n != len(controls) {
			b.Fatalf("%d outcomes, want %d", n, len(controls))
		}
	}
}
