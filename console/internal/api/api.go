// Package api implements the user-facing ConsoleService (gRPC, and through package rest the
// REST/JSON mapping): nodes, benchmarks, controls, scans, results, masks, comparisons,
// enrolment and API tokens, and users. It checks the caller's role (viewers read; analysts also
// start and stop scans and mask results; admins also manage tokens and users), writes every
// change to the audit log, and turns domain errors into gRPC status codes.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/palisadehq/palisade/console/internal/apitoken"
	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/scans"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/posture"
	"github.com/palisadehq/palisade/pkg/wire"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// Config builds a Server.
type Config struct {
	Store   store.Store
	Catalog *catalog.Catalog
	Scans   *scans.Manager
	// NewEnrolToken makes an enrolment token (pinning the console CA) and its stored hash.
	NewEnrolToken func() (token string, hash []byte, err error)
	// ConnectedWithin is how recently a node must have been seen (LastSeenAt, set by its
	// sensor's hellos and scan reports) to be shown connected; DefaultConnectedWithin when
	// zero. The rule reads the shared database, so every console replica answers alike
	// whichever replica holds the sensor's connection.
	ConnectedWithin time.Duration
	// SensorAddr is the console's gRPC address as sensors dial it (host:port), used in the
	// enrolment command and DaemonSet snippet returned with a new enrolment token; when
	// empty, those are left out.
	SensorAddr string
	Now        func() time.Time
}

// Server implements consolev1.ConsoleServiceServer.
type Server struct {
	consolev1.UnimplementedConsoleServiceServer
	cfg Config
}

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Catalog == nil || cfg.Scans == nil || cfg.NewEnrolToken == nil {
		return nil, errors.New("api: store, catalog, scans and enrolment token maker are required")
	}
	if cfg.SensorAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.SensorAddr); err != nil {
			return nil, fmt.Errorf("api: the address sensors dial, %q, is not host:port: %w", cfg.SensorAddr, err)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ConnectedWithin <= 0 {
		cfg.ConnectedWithin = DefaultConnectedWithin
	}
	return &Server{cfg: cfg}, nil
}

// DefaultConnectedWithin is three times the interval at which an idle sensor says hello (30 s,
// sensor/agent's KeepaliveInterval; a scanning sensor also reports every heartbeat interval,
// 5 s by default): a node is shown disconnected once three hellos in a row are missing, not
// for one or two lost ones.
const DefaultConnectedWithin = 90 * time.Second

// Limits on list calls.
const (
	defaultPageSize = 100
	maxPageSize     = 5000
)

// ListNodes lists enrolled nodes.
func (s *Server) ListNodes(ctx context.Context, req *consolev1.ListNodesRequest) (*consolev1.ListNodesResponse, error) {
	if _, err := auth.Require(ctx, store.RoleViewer); err != nil {
		return nil, toStatus(err)
	}
	var f store.NodeFilter
	if req.GetTargetType() != "" {
		tt, err := posture.ParseTargetType(req.GetTargetType())
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		f.TargetType = tt
	}
	nodes, err := s.cfg.Store.ListNodes(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &consolev1.ListNodesResponse{}
	now := s.cfg.Now()
	for _, n := range nodes {
		out.Nodes = append(out.Nodes, s.node(n, now))
	}
	return out, nil
}

// GetNode returns one node by id or name.
func (s *Server) GetNode(ctx context.Context, req *consolev1.GetNodeRequest) (*consolev1.Node, error) {
	if _, err := auth.Require(ctx, store.RoleViewer); err != nil {
		return nil, toStatus(err)
	}
	n, err := s.cfg.Store.FindNode(ctx, req.GetNode())
	if err != nil {
		return nil, toStatus(err)
	}
	return s.node(n, s.cfg.Now()), nil
}

// node converts a node, judging at now whether it is connected.
func (s *Server) node(n store.Node, now time.Time) *consolev1.Node {
	return &consolev1.Node{
		Id: n.ID, Name: n.Name, TargetType: string(n.TargetType),
		Facts: &sensorv1.NodeFacts{
			Hostname: n.Facts.Hostname, TargetType: string(n.TargetType), OsId: n.Facts.OSID, OsVersion: n.Facts.OSVersion,
			OsName: n.Facts.OSName, Kernel: n.Facts.Kernel, Arch: n.Facts.Arch, MachineId: n.Facts.MachineID,
			SensorVersion: n.Facts.SensorVersion, CatalogVersion: n.Facts.CatalogVersion,
		},
		EnrolledAt: ts(n.EnrolledAt), LastSeenAt: ts(n.LastSeenAt), Connected: s.connected(n, now),
	}
}

// connected reports whether n's sensor was seen within ConnectedWithin of now. A LastSeenAt
// after now (written by a replica whose clock runs ahead) counts as seen.
func (s *Server) connected(n store.Node, now time.Time) bool {
	return !n.LastSeenAt.IsZero() && now.Sub(n.LastSeenAt) <= s.cfg.ConnectedWithin
}

// ListBenchmarks lists the catalogue's benchmarks.
func (s *Server) ListBenchmarks(ctx context.Context, req *consolev1.ListBenchmarksRequest) (*consolev1.ListBenchmarksResponse, error) {
	if _, err := auth.Require(ctx, store.RoleViewer); err != nil {
		return nil, toStatus(err)
	}
	var tt posture.TargetType
	if req.GetTargetType() != "" {
		var err error
		if tt, err = posture.ParseTargetType(req.GetTargetType()); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	out := &consolev1.ListBenchmarksResponse{}
	for _, bm := range s.cfg.Catalog.Benchmarks() {
		if tt != "" && bm.TargetType != tt {
			continue
		}
		b := &consolev1.Benchmark{
			Id: bm.ID, Title: bm.Title, Version: bm.Version, Framework: bm.Framework,
			TargetType: string(bm.TargetType), ShortName: bm.ShortName, ControlCount: uint32(len(bm.ControlIDs())),
		}
		if req.GetWithRequirements() {
			for _, r := range bm.Requirements {
				b.Requirements = append(b.Requirements, &consolev1.Requirement{Id: r.ID, Title: r.Title, ControlIds: r.Controls})
			}
		}
		out.Benchmarks = append(out.Benchmarks, b)
	}
	return out, nil
}

// ListControls lists the controls of a benchmark, or every control.
func (s *Server) ListControls(ctx context.Context, req *consolev1.ListControlsRequest) (*consolev1.ListControlsResponse, error) {
	if _, err := auth.Require(ctx, store.RoleViewer); err != nil {
		return nil, toStatus(err)
	}
	var tt posture.TargetType
	if req.GetTargetType() != "" {
		var err error
		if tt, err = posture.ParseTargetType(req.GetTargetType()); err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
	}
	ctls := s.cfg.Catalog.Controls()
	if req.GetBenchmark() != "" {
		if tt == "" {
			tt = posture.Linux
			if bm, ok := s.cfg.Catalog.Benchmark(req.GetBenchmark()); ok {
				tt = bm.TargetType
			}
		}
		bm, err := s.cfg.Catalog.ResolveBenchmark(req.GetBenchmark(), tt)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		if ctls, err = s.cfg.Catalog.ControlSet([]string{bm.ID}, nil); err != nil {
			return nil, toStatus(err)
		}
	}
	out := &consolev1.ListControlsResponse{}
	for _, c := range ctls {
		if tt != "" && c.TargetType != tt {
			continue
		}
		out.Controls = append(out.Controls, controlToProto(c))
	}
	return out, nil
}

// GetControl returns one control of the catalogue.
func (s *Server) GetControl(ctx context.Context, req *consolev1.GetControlRequest) (*consolev1.Control, error) {
	if _, err := auth.Require(ctx, store.RoleViewer); err != nil {
		return nil, toStatus(err)
	}
	c, err := s.control(req.GetControlId())
	if err != nil {
		return nil, err
	}
	return controlToProto(c), nil
}

// control looks a control up in the catalogue, as a status error when it is not there.
func (s *Server) control(id string) (*catalog.Control, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "control_id is required")
	}
	c, ok := s.cfg.Catalog.Control(id)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "unknown control %q; list the controls of a benchmark to find its id", id)
	}
	return c, nil
}

func controlToProto(c *catalog.Control) *consolev1.Control {
	pc := &consolev1.Control{
		Id: c.ID, Title: c.Title, Description: c.Description, Rationale: c.Rationale, Remediation: c.Remediation,
		Severity: string(c.Severity), Service: c.Service, TargetType: string(c.TargetType),
	}
	for _, r := range c.References() {
		pc.References = append(pc.References, &consolev1.ControlReference{BenchmarkId: r.BenchmarkID, RequirementId: r.RequirementID})
	}
	return pc
}

// StartScan starts one scan per node.
func (s *Server) StartScan(ctx context.Context, req *consolev1.StartScanRequest) (*consolev1.StartScanResponse, error) {
	p, err := auth.Require(ctx, store.RoleAnalyst)
	if err != nil {
		return nil, toStatus(err)
	}
	group, started, err := s.cfg.Scans.Start(ctx, scans.StartRequest{
		Nodes: req.GetNodes(), Benchmarks: req.GetBenchmarks(), Exclude: req.GetExcludeControls(), Actor: p.Name,
	})
	if err != nil {
		return nil, toStatus(err)
	}
	out := &consolev1.StartScanResponse{GroupId: group, ScanCount: uint32(len(started))}
	for _, sc := range started {
		if sc.State == posture.Failed {
			out.FailedCount++
		}
		if !req.GetBrief() {
			out.Scans = append(out.Scans, scanToProto(sc, nil))
		}
	}
	return out, nil
}

// StopScan stops a scan.
func (s *Server) StopScan(ctx context.Context, req *consolev1.StopScanRequest) (*consolev1.Scan, error) {
	p, err := auth.Require(ctx, store.RoleAnalyst)
	if err != nil {
		return nil, toStatus(err)
	}
	sc, err := s.cfg.Scans.Stop(ctx, req.GetScanId(), p.Name)
	if err != nil {
		return nil, toStatus(err)
	}
	return scanToProto(sc, nil), nil
}

// ListScans lists scans newest first.
func (s *Server) ListScans(ctx context.Context, req *consolev1.ListScansRequest) (*consolev1.ListScansResponse, error) {
	if _, err := auth.Require(ctx, store.RoleViewer); err != nil {
		return nil, toStatus(err)
	}
	f := store.ScanFilter{PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken()}
	if f.PageSize > 1000 {
		return nil, status.Errorf(codes.InvalidArgument, "page_size %d is over the limit of 1000", f.PageSize)
	}
	if req.GetNode() != "" {
		n, err := s.cfg.Store.FindNode(ctx, req.GetNode())
		if err != nil {
			return nil, toStatus(err)
		}
		f.NodeID = n.ID
	}
	if req.GetState() != sensorv1.ScanState_SCAN_STATE_UNSPECIFIED {
		st, ok := wire.StateFromProto(req.GetState())
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "unknown scan state %d", req.GetState())
		}
		f.State = st
	}
	page, err := s.cfg.Store.ListScans(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &consolev1.ListScansResponse{NextPageToken: page.NextPageToken}
	for _, sc := range page.Scans {
		scores, err := s.cfg.Store.Scores(ctx, sc.ID)
		if err != nil {
			return nil, toStatus(err)
		}
		out.Scans = append(out.Scans, scanToProto(sc, scores))
	}
	return out, nil
}

// GetScan returns a scan with its progress and scores.
func (s *Server) GetScan(ctx context.Context, req *consolev1.GetScanRequest) (*consolev1.Scan, error) {
	if _, err := auth.Require(ctx, store.RoleViewer); err != nil {
		return nil, toStatus(err)
	}
	sc, err := s.cfg.Store.GetScan(ctx, req.GetScanId())
	if err != nil {
		return nil, toStatus(err)
	}
	scores, err := s.cfg.Store.Scores(ctx, sc.ID)
	if err != nil {
		return nil, toStatus(err)
	}
	return scanToProto(sc, scores), nil
}

// ListResults filters, searches, sorts and pages a scan's results; by default only the
// unmasked ones.
func (s *Server) ListResults(ctx context.Context, req *consolev1.ListResultsRequest) (*consolev1.ListResultsResponse, error) {
	if _, err := auth.Require(ctx, store.RoleViewer); err != nil {
		return nil, toStatus(err)
	}
	sc, err := s.cfg.Store.GetScan(ctx, req.GetScanId())
	if err != nil {
		return nil, toStatus(err)
	}
	if req.GetPageSize() > maxPageSize {
		return nil, status.Errorf(codes.InvalidArgument, "page_size %d is over the limit of %d", req.GetPageSize(), maxPageSize)
	}
	now := s.cfg.Now().UTC()
	f := store.ResultFilter{ScanID: sc.ID, Service: req.GetService(), PageSize: int(req.GetPageSize()), PageToken: req.GetPageToken(), Now: now}
	if f.PageSize == 0 {
		f.PageSize = defaultPageSize
	}
	if f.Masked, err = maskedFilter(req.GetMasked()); err != nil {
		return nil, err
	}
	if f.Order, err = resultOrder(req.GetOrderBy()); err != nil {
		return nil, err
	}
	f.Query = strings.TrimSpace(req.GetQuery())
	if n := utf8.RuneCountInString(f.Query); n > maxQueryLen {
		return nil, status.Errorf(codes.InvalidArgument, "query has %d characters; the limit is %d", n, maxQueryLen)
	}
	if b := req.GetBenchmark(); b != "" {
		if f.ControlIDs, err = s.benchmarkControls(ctx, sc, b); err != nil {
			return nil, err
		}
	}
	for _, st := range req.GetStatuses() {
		ps, ok := wire.StatusFromProto(st)
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "unknown status %d", st)
		}
		f.Statuses = append(f.Statuses, ps)
	}
	if req.GetSeverity() != "" {
		sv, err := posture.ParseSeverity(req.GetSeverity())
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		f.Severity = sv
	}
	page, err := s.cfg.Store.ListResults(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &consolev1.ListResultsResponse{NextPageToken: page.NextPageToken, Total: uint64(page.Total)}
	for _, r := range page.Results {
		out.Results = append(out.Results, resultToProto(r, now))
	}
	return out, nil
}

// maxQueryLen bounds ListResults' text query, in characters.
const maxQueryLen = 200

// benchmarkControls returns the ids of the scan's controls that benchmark b (an id or short
// name among the scan's benchmarks) uses.
func (s *Server) benchmarkControls(ctx context.Context, sc store.Scan, b string) ([]string, error) {
	bid := ""
	for _, id := range sc.BenchmarkIDs {
		if bm, ok := s.cfg.Catalog.Benchmark(id); ok && (id == b || bm.ShortName == b) {
			bid = id
		}
	}
	if bid == "" {
		return nil, status.Errorf(codes.InvalidArgument, "benchmark %q is not part of scan %s (it has %v)", b, sc.ID, sc.BenchmarkIDs)
	}
	ctls, err := s.cfg.Store.ScanControls(ctx, sc.ID)
	if err != nil {
		return nil, toStatus(err)
	}
	ids := []string{}
	for id, c := range ctls {
		if slices.Contains(c.Benchmarks, bid) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// maskedFilter maps the wire's masked filter; unspecified is the default view, unmasked only.
func maskedFilter(m consolev1.MaskedFilter) (store.MaskedFilter, error) {
	switch m {
	case consolev1.MaskedFilter_MASKED_FILTER_UNSPECIFIED, consolev1.MaskedFilter_MASKED_FILTER_EXCLUDE:
		return store.MaskedExclude, nil
	case consolev1.MaskedFilter_MASKED_FILTER_ONLY:
		return store.MaskedOnly, nil
	case consolev1.MaskedFilter_MASKED_FILTER_INCLUDE:
		return store.MaskedInclude, nil
	}
	return 0, status.Errorf(codes.InvalidArgument, "unknown masked filter %d (want EXCLUDE, ONLY or INCLUDE)", m)
}

// resultOrder maps ListResults' order_by.
func resultOrder(s string) (store.ResultOrder, error) {
	switch s {
	case "", "control":
		return store.OrderByControl, nil
	case "severity":
		return store.OrderBySeverity, nil
	case "status":
		return store.OrderByStatus, nil
	}
	return 0, status.Errorf(codes.InvalidArgument, "unknown order_by %q (want control, severity or status)", s)
}

func resultToProto(r store.Result, now time.Time) *consolev1.ResultRow {
	row := &consolev1.ResultRow{
		ScanId: r.ScanID, NodeId: r.NodeID, ControlId: r.ControlID, Resource: r.Resource,
		Status: wire.StatusToProto(r.Status), Reason: r.Reason, Title: r.Title,
		Severity: string(r.Severity), Service: r.Service,
	}
	for _, e := range r.Evidence {
		row.Evidence = append(row.Evidence, &sensorv1.Evidence{Source: e.Source, Line: uint32(e.Line), Key: e.Key, Actual: e.Actual, Expected: e.Expected})
	}
	if r.Mask != nil {
		row.Mask = maskToProto(*r.Mask, now)
	}
	return row
}

// Enrolment token limits.
const (
	defaultTokenTTL = time.Hour
	maxTokenTTL     = 30 * 24 * time.Hour
	maxTokenUses    = 100000
)

// CreateEnrolmentToken makes an enrolment token.
func (s *Server) CreateEnrolmentToken(ctx context.Context, req *consolev1.CreateEnrolmentTokenRequest) (*consolev1.EnrolmentToken, error) {
	p, err := auth.Require(ctx, store.RoleAdmin)
	if err != nil {
		return nil, toStatus(err)
	}
	ttl := time.Duration(req.GetTtlSeconds()) * time.Second
	if ttl == 0 {
		ttl = defaultTokenTTL
	}
	if ttl > maxTokenTTL {
		return nil, status.Errorf(codes.InvalidArgument, "ttl %s is over the limit of %s", ttl, maxTokenTTL)
	}
	uses := int(req.GetUses())
	if uses == 0 {
		uses = 1
	}
	if uses > maxTokenUses {
		return nil, status.Errorf(codes.InvalidArgument, "uses %d is over the limit of %d", uses, maxTokenUses)
	}
	token, hash, err := s.cfg.NewEnrolToken()
	if err != nil {
		return nil, toStatus(err)
	}
	now := s.cfg.Now().UTC()
	t := store.EnrolToken{ID: newID("tok"), Hash: hash, CreatedAt: now, ExpiresAt: now.Add(ttl), Uses: uses, CreatedBy: p.Name}
	if err := s.cfg.Store.CreateEnrolToken(ctx, t); err != nil {
		return nil, toStatus(err)
	}
	s.audit(ctx, p, "enrolment_token.create", t.ID, fmt.Sprintf("ttl=%s uses=%d", ttl, uses))
	out := enrolTokenToProto(t)
	out.Token = token
	if s.cfg.SensorAddr != "" {
		out.SensorCommand = sensorCommand(s.cfg.SensorAddr, token)
		out.DaemonsetSnippet = daemonSetSnippet(s.cfg.SensorAddr, token, uses)
	}
	return out, nil
}

func scanToProto(sc store.Scan, scores []store.Score) *consolev1.Scan {
	out := &consolev1.Scan{
		Id: sc.ID, GroupId: sc.GroupID, NodeId: sc.NodeID, NodeName: sc.NodeName, State: wire.StateToProto(sc.State),
		BenchmarkIds: sc.BenchmarkIDs, ControlsTotal: uint32(sc.ControlsTotal), ControlsDone: uint32(sc.ControlsDone),
		ResultsStored: uint64(sc.ResultsStored), Message: sc.Message, CreatedAt: ts(sc.CreatedAt), StartedAt: ts(sc.StartedAt),
		FinishedAt: ts(sc.FinishedAt), LastHeartbeatAt: ts(sc.LastHeartbeatAt), CreatedBy: sc.CreatedBy,
	}
	for _, s := range scores {
		out.Scores = append(out.Scores, ScoreToProto(s))
	}
	return out
}

// ScoreToProto converts a stored score; the score field is absent when there is none.
func ScoreToProto(s store.Score) *consolev1.Score {
	ps := &consolev1.Score{}
	setScore(ps, new(float64), s)
	return ps
}

// setScore fills ps from s, keeping the score's value, when it has one, in *v.
func setScore(ps *consolev1.Score, v *float64, s store.Score) {
	ps.BenchmarkId, ps.Pass, ps.Fail = s.BenchmarkID, uint32(s.Counts.Pass), uint32(s.Counts.Fail)
	ps.Info, ps.Skip, ps.Error, ps.Masked = uint32(s.Counts.Info), uint32(s.Counts.Skip), uint32(s.Counts.Error), uint32(s.Counts.Masked)
	if x, ok := s.Counts.Score(); ok {
		*v, ps.Score = x, v
	}
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// newID returns a random id with a prefix naming its kind (tok_..., msk_...).
func newID(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return prefix + "_" + hex.EncodeToString(b[:])
}

// audit records a change in the audit log. Like the changes made elsewhere in the console, a
// change that was made is not undone when its audit entry cannot be written.
func (s *Server) audit(ctx context.Context, p auth.Principal, action, target, detail string) {
	_ = s.cfg.Store.AppendAudit(ctx, store.AuditEntry{At: s.cfg.Now().UTC(), Actor: p.Name, Action: action, Target: target, Detail: detail})
}

// toStatus turns a domain error into a gRPC status error.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
		return err
	}
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		return status.Error(codes.Unauthenticated, err.Error())
	case errors.Is(err, auth.ErrForbidden):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, scans.ErrInvalid), errors.Is(err, apitoken.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, scans.ErrNotFound), errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, scans.ErrPermission):
		return status.Error(codes.PermissionDenied, err.Error())
	case errors.Is(err, scans.ErrState), errors.Is(err, store.ErrBadTransition), errors.Is(err, apitoken.ErrRevoked):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, store.ErrConflict):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// ToStatus is toStatus for other API edges (the sensor service).
func ToStatus(err error) error { return toStatus(err) }
