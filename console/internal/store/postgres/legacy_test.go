package postgres_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/console/internal/store/postgres"
	"github.com/palisadehq/palisade/console/internal/store/storetest"
	"github.com/palisadehq/palisade/pkg/posture"
)

// TestLegacyScanTitles writes a scan as the store did before control sets, its controls in
// scan_controls, and checks that ListResults finds their titles.
func TestLegacyScanTitles(t *testing.T) {
	ctx := t.Context()
	dsn := freshSchema(t)
	s, err := postgres.Open(ctx, postgres.Config{URL: dsn})
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
	exec(t, dsn, `INSERT INTO scans (id, node_id, state, benchmark_ids, controls_total, created_at) VALUES ('s-old', 'n-1', 'running', '{cis}', 2, 1)`)
	for _, c := range storetest.LegacyControls {
		exec(t, dsn, fmt.Sprintf(`INSERT INTO scan_controls (scan_id, control_id, title, severity, service, benchmarks)
			VALUES ('s-old', '%s', '%s', '%s', '%s', '{%s}')`, c.ControlID, c.Title, c.Severity, c.Service, strings.Join(c.Benchmarks, ",")))
	}
	storetest.CheckLegacyTitles(t, s, "s-old", "n-1")
}
