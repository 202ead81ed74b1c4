package standalone

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/pkg/engine/enginetest"
	"github.com/palisadehq/palisade/pkg/posture"
)

func TestScanFixtureRoot(t *testing.T) {
	root := enginetest.Root(t, "debian-bad")
	rep, err := Run(context.Background(), Options{Root: root, Benchmarks: []string{"cis", "nist"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]posture.Counts{"linux-cis": {Pass: 3, Fail: 74}, "linux-nist": {Pass: 3, Fail: 51}}
	if len(rep.Benchmarks) != 2 {
		t.Fatalf("%d benchmarks; want 2", len(rep.Benchmarks))
	}
	for _, b := range rep.Benchmarks {
		if b.Counts != want[b.ID] {
			t.Fatalf("%s counts %+v; want %+v", b.ID, b.Counts, want[b.ID])
		}
	}
	if len(rep.Results) != 77 {
		t.Fatalf("%d results; want 77 (each shared control evaluated once)", len(rep.Results))
	}

	var table bytes.Buffer
	if err := rep.Write(&table, "table"); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(table.String(), "\n")
	if !strings.HasPrefix(lines[0], "BENCHMARK") || !strings.HasPrefix(lines[1], "linux-cis") || !strings.Contains(lines[1], "3.9%") ||
		!strings.HasPrefix(lines[2], "linux-nist") || !strings.Contains(lines[2], "5.6%") {
		t.Fatalf("table head:\n%s", strings.Join(lines[:3], "\n"))
	}

	var js bytes.Buffer
	if err := rep.Write(&js, "json"); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Results) != 77 || back.Benchmarks[0].Score == nil || *back.Benchmarks[0].Score != 300.0/77 {
		t.Fatalf("json round trip: %d results, score %v", len(back.Results), back.Benchmarks[0].Score)
	}
	if err := rep.Write(&js, "xml"); err == nil || err.Error() != `unknown format "xml" (want table or json)` {
		t.Fatalf("unknown format: %v", err)
	}
	if _, err := Run(context.Background(), Options{Root: root, Benchmarks: []string{"iso-27001"}}); err == nil || !strings.Contains(err.Error(), `unknown benchmark "iso-27001" for linux targets`) {
		t.Fatalf("unknown benchmark: %v", err)
	}
}
