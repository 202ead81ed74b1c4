package store

import (
	"errors"
	"testing"
	"time"

	"github.com/palisadehq/palisade/pkg/posture"
)

func TestRank(t *testing.T) {
	tests := []struct {
		order ResultOrder
		r     Result
		want  int
	}{
		{OrderByControl, Result{Severity: posture.Critical, Status: posture.Fail}, 0},
		{OrderBySeverity, Result{Severity: posture.Critical}, 0},
		{OrderBySeverity, Result{Severity: posture.Low}, 3},
		{OrderBySeverity, Result{Severity: "info"}, 4},
		{OrderBySeverity, Result{Severity: "urgent"}, 5},
		{OrderBySeverity, Result{}, 5},
		{OrderByStatus, Result{Status: posture.Fail}, 0},
		{OrderByStatus, Result{Status: posture.Error}, 1},
		{OrderByStatus, Result{Status: posture.Skip}, 4},
		{OrderByStatus, Result{Status: "odd"}, 5},
	}
	for _, tt := range tests {
		if got := tt.order.Rank(tt.r); got != tt.want {
			t.Errorf("%s rank of %+v = %d; want %d", tt.order, tt.r, got, tt.want)
		}
	}
}

func TestLowerQuery(t *testing.T) {
	f := ResultFilter{Query: "SSHD_Config ÉTÉ 100%"}
	if got, want := f.LowerQuery(), "sshd_config ÉtÉ 100%"; got != want {
		t.Fatalf("LowerQuery = %q; want %q", got, want)
	}
}

func TestResultPageToken(t *testing.T) {
	f := ResultFilter{ScanID: "s-1", Statuses: []posture.Status{posture.Fail, posture.Pass}, ControlIDs: []string{"b", "a"},
		Order: OrderByStatus, Masked: MaskedInclude, Query: "ssh", PageSize: 2, Now: time.Unix(5, 0)}
	last := Result{NodeID: "n-1", ControlID: "c", Resource: "r", Status: posture.Pass}
	token := f.NextPageToken(last)

	next := f
	next.PageToken, next.PageSize, next.Now = token, 7, time.Unix(9, 0)
	next.Statuses, next.ControlIDs = []posture.Status{posture.Pass, posture.Fail}, []string{"a", "b"}
	got, err := next.After()
	if err != nil {
		t.Fatalf("After: %v", err)
	}
	if want := (ResultCursor{Rank: 3, ControlID: "c", Resource: "r", NodeID: "n-1"}); *got != want {
		t.Fatalf("After = %+v; want %+v", *got, want)
	}

	first := f
	if c, err := first.After(); err != nil || c != nil {
		t.Fatalf("After without a token = %v, %v; want nil, nil", c, err)
	}
	for name, change := range map[string]func(f *ResultFilter){
		"nil controls":   func(f *ResultFilter) { f.ControlIDs = nil },
		"empty controls": func(f *ResultFilter) { f.ControlIDs = []string{} },
		"order":          func(f *ResultFilter) { f.Order = OrderBySeverity },
		"masked":         func(f *ResultFilter) { f.Masked = MaskedOnly },
		"query":          func(f *ResultFilter) { f.Query = "SSH" },
		"scan token":     func(f *ResultFilter) { f.PageToken = ScanCursor{ID: "s"}.Token() },
		"garbage":        func(f *ResultFilter) { f.PageToken = "%%" },
	} {
		other := next
		change(&other)
		if _, err := other.After(); !errors.Is(err, ErrBadPageToken) {
			t.Errorf("After with another %s: error = %v; want ErrBadPageToken", name, err)
		}
	}

	for _, bad := range []ResultFilter{{Order: 3}, {Order: -1}, {Masked: 3}, {Masked: -1}} {
		if _, err := bad.After(); err == nil || errors.Is(err, ErrBadPageToken) {
			t.Errorf("After with order %d and masked filter %d: error = %v; want one naming the bad value", bad.Order, bad.Masked, err)
		}
	}
}
