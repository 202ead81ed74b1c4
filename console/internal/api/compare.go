package api

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
	"github.com/palisadehq/palisade/pkg/wire"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// comparePageSize is how many results CompareScans reads per page.
const comparePageSize = 5000

// CompareScans compares two complete scans of one node: their scores per benchmark, and which
// results newly fail, were fixed or still fail, with the masks active now applied to both.
func (s *Server) CompareScans(ctx context.Context, req *consolev1.CompareScansRequest) (*consolev1.ScanComparison, error) {
	if _, err := auth.Require(ctx, store.RoleViewer); err != nil {
		return nil, toStatus(err)
	}
	base, err := s.scanForCompare(ctx, "base_scan_id", req.GetBaseScanId())
	if err != nil {
		return nil, err
	}
	head, err := s.scanForCompare(ctx, "head_scan_id", req.GetHeadScanId())
	if err != nil {
		return nil, err
	}
	if base.NodeID != head.NodeID {
		return nil, status.Errorf(codes.InvalidArgument, "scan %s is of node %s and scan %s of node %s; compare two scans of one node",
			base.ID, nodeLabel(base), head.ID, nodeLabel(head))
	}
	baseScores, err := s.cfg.Store.Scores(ctx, base.ID)
	if err != nil {
		return nil, toStatus(err)
	}
	headScores, err := s.cfg.Store.Scores(ctx, head.ID)
	if err != nil {
		return nil, toStatus(err)
	}
	now := s.cfg.Now().UTC()
	baseResults, err := s.unmaskedResults(ctx, base.ID, now)
	if err != nil {
		return nil, err
	}
	headResults, err := s.unmaskedResults(ctx, head.ID, now)
	if err != nil {
		return nil, err
	}
	out := &consolev1.ScanComparison{
		Base: scanToProto(base, baseScores), Head: scanToProto(head, headScores),
		Scores: scoreDeltas(baseScores, headScores),
	}
	classify(out, baseResults, headResults)
	return out, nil
}

// scanForCompare loads one scan of a comparison; field names the request field.
func (s *Server) scanForCompare(ctx context.Context, field, id string) (store.Scan, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return store.Scan{}, status.Errorf(codes.InvalidArgument, "%s is required", field)
	}
	sc, err := s.cfg.Store.GetScan(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Scan{}, status.Errorf(codes.NotFound, "%s: no scan has id %q", field, id)
	}
	if err != nil {
		return store.Scan{}, toStatus(err)
	}
	if sc.State != posture.Complete {
		return store.Scan{}, status.Errorf(codes.FailedPrecondition, "scan %s is %s; only complete scans can be compared", sc.ID, sc.State)
	}
	return sc, nil
}

func nodeLabel(sc store.Scan) string {
	if sc.NodeName != "" && sc.NodeName != sc.NodeID {
		return sc.NodeName + " (" + sc.NodeID + ")"
	}
	return sc.NodeID
}

// resultKey identifies a result within one node's scan.
type resultKey struct{ control, resource string }

// unmaskedResults reads every result of a scan that no mask active at now covers.
func (s *Server) unmaskedResults(ctx context.Context, scanID string, now time.Time) (map[resultKey]store.Result, error) {
	out := map[resultKey]store.Result{}
	f := store.ResultFilter{ScanID: scanID, Masked: store.MaskedExclude, Now: now, PageSize: comparePageSize}
	seen := map[string]bool{}
	for {
		page, err := s.cfg.Store.ListResults(ctx, f)
		if err != nil {
			return nil, toStatus(err)
		}
		for _, r := range page.Results {
			out[resultKey{r.ControlID, r.Resource}] = r
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		if seen[page.NextPageToken] {
			return nil, status.Errorf(codes.Internal, "reading the results of scan %s: the store returned page token %q twice", scanID, page.NextPageToken)
		}
		seen[page.NextPageToken] = true
		f.PageToken = page.NextPageToken
	}
}

// scoreDeltas pairs the scores of two scans by benchmark, ordered by benchmark id.
func scoreDeltas(base, head []store.Score) []*consolev1.ScoreDelta {
	byID := map[string]*consolev1.ScoreDelta{}
	var ids []string
	get := func(id string) *consolev1.ScoreDelta {
		d, ok := byID[id]
		if !ok {
			d = &consolev1.ScoreDelta{BenchmarkId: id}
			byID[id] = d
			ids = append(ids, id)
		}
		return d
	}
	for _, sc := range base {
		get(sc.BenchmarkID).Base = ScoreToProto(sc)
	}
	for _, sc := range head {
		get(sc.BenchmarkID).Head = ScoreToProto(sc)
	}
	sort.Strings(ids)
	out := make([]*consolev1.ScoreDelta, 0, len(ids))
	for _, id := range ids {
		d := byID[id]
		if d.Base != nil && d.Head != nil && d.Base.Score != nil && d.Head.Score != nil {
			v := d.Head.GetScore() - d.Base.GetScore()
			d.Delta = &v
		}
		out = append(out, d)
	}
	return out
}

// failing reports whether a status counts as failing in a comparison.
func failing(st posture.Status) bool { return st == posture.Fail || st == posture.Error }

// classify sorts the results of two scans into newly failing, fixed and still failing (each
// ordered by control id, then resource) and counts those whose status did not change.
func classify(out *consolev1.ScanComparison, base, head map[resultKey]store.Result) {
	keys := make([]resultKey, 0, len(base)+len(head))
	for k := range base {
		keys = append(keys, k)
	}
	for k := range head {
		if _, ok := base[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].control != keys[j].control {
			return keys[i].control < keys[j].control
		}
		return keys[i].resource < keys[j].resource
	})
	for _, k := range keys {
		b, inBase := base[k]
		h, inHead := head[k]
		if inBase && inHead && b.Status == h.Status {
			out.Unchanged++
		}
		var list *[]*consolev1.ComparedResult
		switch {
		case inHead && failing(h.Status) && inBase && failing(b.Status):
			list = &out.StillFailing
		case inHead && failing(h.Status):
			list = &out.NewlyFailing
		case inBase && failing(b.Status):
			list = &out.Fixed
		default:
			continue
		}
		// Title and severity come from the head scan when it has the result.
		cr := &consolev1.ComparedResult{ControlId: k.control, Resource: k.resource}
		if inBase {
			cr.BaseStatus = wire.StatusToProto(b.Status)
			cr.Title, cr.Severity = b.Title, string(b.Severity)
		}
		if inHead {
			cr.HeadStatus = wire.StatusToProto(h.Status)
			cr.Title, cr.Severity = h.Title, string(h.Severity)
		}
		*list = append(*list, cr)
	}
}

// Limits of ListControlHistory.
const (
	defaultHistoryLimit = 50
	maxHistoryLimit     = 1000
)

// ListControlHistory lists one control's results on one node over its scans, newest first.
func (s *Server) ListControlHistory(ctx context.Context, req *consolev1.ListControlHistoryRequest) (*consolev1.ListControlHistoryResponse, error) {
	if _, err := auth.Require(ctx, store.RoleViewer); err != nil {
		return nil, toStatus(err)
	}
	c, err := s.control(req.GetControlId())
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.GetNode()) == "" {
		return nil, status.Error(codes.InvalidArgument, "node is required (a node id or name)")
	}
	n, err := s.findNode(ctx, req.GetNode())
	if err != nil {
		return nil, err
	}
	limit := int(req.GetLimit())
	if limit == 0 {
		limit = defaultHistoryLimit
	}
	if limit > maxHistoryLimit {
		return nil, status.Errorf(codes.InvalidArgument, "limit %d is over the limit of %d", limit, maxHistoryLimit)
	}
	entries, err := s.cfg.Store.ControlHistory(ctx, n.ID, c.ID, limit)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &consolev1.ListControlHistoryResponse{}
	for _, e := range entries {
		out.Entries = append(out.Entries, &consolev1.ControlHistoryEntry{
			ScanId: e.ScanID, ScanState: wire.StateToProto(e.ScanState), ScanCreatedAt: ts(e.ScanCreatedAt),
			Resource: e.Resource, Status: wire.StatusToProto(e.Status), Reason: e.Reason,
		})
	}
	return out, nil
}
