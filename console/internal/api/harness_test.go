package api

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/console/internal/apitest"
	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/scans"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/enrolment"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Controls of the built-in linux-cis benchmark the tests report results for.
const (
	ctlRootLogin  = "linux.ssh.permit-root-login"
	ctlEmptyPw    = "linux.ssh.permit-empty-passwords"
	ctlMaxAuth    = "linux.ssh.max-auth-tries"
	ctlX11        = "linux.ssh.x11-forwarding"
	ctlLogLevel   = "linux.ssh.log-level"
	ctlAliveCount = "linux.ssh.client-alive-count-max"
)

// sshdConfig is the resource the tests' results are about.
const sshdConfig = "/etc/ssh/sshd_config"

// testFingerprint is the CA fingerprint the tests' enrolment tokens pin.
const testFingerprint = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// start is the tests' clock at the beginning.
var start = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// harness is a ConsoleService on a real SQLite store, with a scan manager and a settable
// clock.
type harness struct {
	t     *testing.T
	st    store.Store
	mgr   *scans.Manager
	srv   *Server
	clock *apitest.Clock
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	clk := apitest.NewClock(start)
	b := apitest.NewBackend(t, clk.Now)
	srv, err := New(Config{
		Store: b.Store, Catalog: b.Catalog, Scans: b.Scans, Now: clk.Now, SensorAddr: "console.example.com:7443",
		NewEnrolToken: func() (string, []byte, error) { return enrolment.NewToken(testFingerprint) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, st: b.Store, mgr: b.Scans, srv: srv, clock: clk}
}

// as is a context whose caller is name with role.
func as(name string, role store.Role) context.Context {
	return auth.WithPrincipal(context.Background(), auth.Principal{Name: name, Role: role})
}

var (
	viewer  = as("vera", store.RoleViewer)
	analyst = as("ana", store.RoleAnalyst)
	admin   = as("adam", store.RoleAdmin)
)

// enrol enrols a linux node.
func (h *harness) enrol(id, name string) {
	h.t.Helper()
	ctx := context.Background()
	hash := []byte(fmt.Sprintf("%-32s", "hash-"+id))
	now := h.clock.Now()
	if err := h.st.CreateEnrolToken(ctx, store.EnrolToken{ID: "tok-" + id, Hash: hash, CreatedAt: now, ExpiresAt: now.Add(time.Hour), Uses: 1}); err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.EnrolNode(ctx, hash, store.Node{ID: id, Name: name, TargetType: "linux", EnrolledAt: now, LastSeenAt: now}, now); err != nil {
		h.t.Fatal(err)
	}
}

// res is one result a test's sensor reports.
type res struct {
	control, resource string
	status            sensorv1.Status
}

// Result statuses, short.
const (
	pass = sensorv1.Status_STATUS_PASS
	fail = sensorv1.Status_STATUS_FAIL
	info = sensorv1.Status_STATUS_INFO
	skip = sensorv1.Status_STATUS_SKIP
	errS = sensorv1.Status_STATUS_ERROR
)

// completeScan runs a linux-cis scan of node through the scan manager as its sensor would,
// reporting results, and returns the completed scan's id. The clock moves on a minute.
func (h *harness) completeScan(node string, results ...res) string {
	h.t.Helper()
	id := h.startScan(node)
	sc, err := h.st.GetScan(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	batch := &sensorv1.ResultBatch{ScanId: id, Seq: 1, Final: true, TotalResults: uint64(len(results))}
	for _, r := range results {
		batch.Results = append(batch.Results, &sensorv1.Result{ControlId: r.control, Resource: r.resource, Status: r.status, Reason: "reason of " + r.control})
	}
	ack, err := h.mgr.Ingest(context.Background(), sc.NodeID, batch)
	if err != nil || ack.GetError() != "" {
		h.t.Fatalf("ingest: %v, %q", err, ack.GetError())
	}
	h.clock.Advance(time.Minute)
	return id
}

// startScan starts a linux-cis scan of node and reports it running; the clock moves on a
// minute.
func (h *harness) startScan(node string) string {
	h.t.Helper()
	ctx := context.Background()
	_, started, err := h.mgr.Start(ctx, scans.StartRequest{Nodes: []string{node}, Benchmarks: []string{"cis"}, Actor: "ana"})
	if err != nil {
		h.t.Fatal(err)
	}
	sc := started[0]
	if _, err := h.mgr.Update(ctx, sc.NodeID, &sensorv1.UpdateScanRequest{ScanId: sc.ID, State: sensorv1.ScanState_SCAN_STATE_RUNNING}); err != nil {
		h.t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	return sc.ID
}

// scoreText renders a score with every count, for exact comparisons.
func scoreText(s *consolev1.Score) string {
	v := "n/a"
	if s.Score != nil {
		v = strconv.FormatFloat(s.GetScore(), 'f', -1, 64)
	}
	return fmt.Sprintf("%s: %s (pass %d, fail %d, info %d, skip %d, error %d, masked %d)",
		s.GetBenchmarkId(), v, s.GetPass(), s.GetFail(), s.GetInfo(), s.GetSkip(), s.GetError(), s.GetMasked())
}

// scanScore is the linux-cis score of a scan as GetScan reports it.
func (h *harness) scanScore(scanID string) string {
	h.t.Helper()
	sc, err := h.srv.GetScan(viewer, &consolev1.GetScanRequest{ScanId: scanID})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(sc.GetScores()) != 1 {
		h.t.Fatalf("scan %s has scores %v; want one (linux-cis)", scanID, sc.GetScores())
	}
	return scoreText(sc.GetScores()[0])
}

// audit returns the audit log, oldest first, as "actor action target" lines.
func (h *harness) audit() []string {
	h.t.Helper()
	entries, err := h.st.ListAudit(context.Background(), 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		out = append(out, e.Actor+" "+e.Action+" "+e.Target)
	}
	return out
}

// wantStatus fails the test unless err is a status error with code and message.
func wantStatus(t *testing.T, what string, err error, code codes.Code, msg string) {
	t.Helper()
	st, _ := status.FromError(err)
	if err == nil || st.Code() != code || st.Message() != msg {
		t.Errorf("%s: error %v\nwant %s: %s", what, err, code, msg)
	}
}
