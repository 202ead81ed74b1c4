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

var fixtureRoots = []string{"debian-good", "debian-bad"}

func TestGolden(t *testing.T) {
	controls := defaultControls(t)
	for _, name := range fixtureRoots {
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
	for _, o := range good {
		for _, r := range o.Results {
			if r.Status != posture.Pass {
				t.Errorf("debian-good %s %s: %s (%s)", o.ControlID, r.Resource, r.Status, r.Reason)
			}
		}
	}
	for _, o := range bad {
		failed := false
		for _, r := range o.Results {
			failed = failed || r.Status == posture.Fail
			if r.Status == posture.Error {
				t.Errorf("debian-bad %s %s: error (%s)", o.ControlID, r.Resource, r.Reason)
			}
		}
		if !failed {
			t.Errorf("debian-bad %s: no failing result", o.ControlID)
		}
	}
}

// TestEveryControlHasPassAndFail fails when a control of the default catalogue lacks a
// passing or a failing case across the fixture roots.
func TestEveryControlHasPassAndFail(t *testing.T) {
	controls := defaultControls(t)
	seen := map[string]map[posture.Status]bool{}
	for _, name := range fixtureRoots {
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
		if !seen[c.ID][posture.Pass] || !seen[c.ID][posture.Fail] {
			t.Errorf("control %s has no %s case in the fixtures (statuses seen: %v)", c.ID, missing(seen[c.ID]), seen[c.ID])
		}
	}
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
