package posture

import "testing"

func TestScore(t *testing.T) {
	tests := []struct {
		name   string
		counts Counts
		want   float64
		ok     bool
		text   string
	}{
		{"no results", Counts{}, 0, false, "n/a"},
		{"only skipped", Counts{Skip: 4}, 0, false, "n/a"},
		{"all pass", Counts{Pass: 3}, 100, true, "100.0%"},
		{"info counts as compliant", Counts{Pass: 1, Info: 1, Fail: 2}, 50, true, "50.0%"},
		{"errors count against", Counts{Pass: 3, Error: 1, Skip: 9}, 75, true, "75.0%"},
		{"all fail", Counts{Fail: 5}, 0, true, "0.0%"},
		{"thirds", Counts{Pass: 1, Fail: 2}, 100.0 / 3, true, "33.3%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.counts.Score()
			if ok != tt.ok || got != tt.want {
				t.Fatalf("Score() = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
			if s := tt.counts.FormatScore(); s != tt.text {
				t.Fatalf("FormatScore() = %q; want %q", s, tt.text)
			}
		})
	}
}

func TestAggregateIsRatioOfSums(t *testing.T) {
	// Node a: 1 of 1 passes (100%); node b: 1 of 3 passes (33%). The average of percentages
	// would be 66.7%; the ratio of sums is 2 of 4 = 50%.
	var total Counts
	total.Merge(Counts{Pass: 1})
	total.Merge(Counts{Pass: 1, Fail: 2})
	if got, _ := total.Score(); got != 50 {
		t.Fatalf("aggregate score = %v; want 50", got)
	}
}

func TestScanStateTransitions(t *testing.T) {
	tests := []struct {
		from, to ScanState
		want     bool
	}{
		{Queued, Dispatched, true},
		{Dispatched, Running, true},
		{Queued, Running, true},
		{Running, Complete, true},
		{Dispatched, Complete, false},
		{Running, Cancelled, true},
		{Dispatched, TimedOut, true},
		{Complete, Running, false},
		{Cancelled, Complete, false},
		{Running, Dispatched, false},
	}
	for _, tt := range tests {
		if got := tt.from.CanMoveTo(tt.to); got != tt.want {
			t.Errorf("%s -> %s = %v; want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	if _, err := ParseStatus("PASS"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseStatus("ok"); err == nil || err.Error() != `unknown status "ok" (want one of pass, fail, info, skip, error)` {
		t.Fatalf("ParseStatus(ok) error = %v", err)
	}
	if _, err := ParseTargetType("windows"); err == nil {
		t.Fatal("ParseTargetType(windows) succeeded")
	}
	if s, err := ParseSeverity("High"); err != nil || s != High {
		t.Fatalf("ParseSeverity(High) = %v, %v", s, err)
	}
}
