package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/storetest"
	"github.com/palisadehq/palisade/pkg/posture"
)

// TestLegacyScanTitles writes a scan as the store did before control sets, its controls in
// scan_controls, and checks that ListResults finds their titles.
func TestLegacyScanTitles(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "legacy.db")})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	now := time.Unix(0, 1).UTC()
	tok := store.EnrolToken{ID: "tok", Hash: []byte("hash"), CreatedAt: now, ExpiresAt: now.Add(time.Hour), Uses: 1}
	if err := s.CreateEnrolToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.EnrolNode(ctx, tok.Hash, store.Node{ID: "n-1", Name: "web-1", TargetType: posture.Linux}, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO scans (id, node_id, state, benchmark_ids, controls_total, created_at)
		VALUES ('s-old', 'n-1', 'running', '["cis"]', 2, 1)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range storetest.LegacyControls {
		if _, err := s.w.ExecContext(ctx, `INSERT INTO scan_controls (scan_id, control_id, title, severity, service, benchmarks)
			VALUES ('s-old', ?, ?, ?, ?, ?)`, c.ControlID, c.Title, string(c.Severity), c.Service, encodeStrings(c.Benchmarks)); err != nil {
			t.Fatal(err)
		}
	}
	storetest.CheckLegacyTitles(t, s, "s-old", "n-1")
}
