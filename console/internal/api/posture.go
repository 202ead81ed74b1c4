package api

import (
	"context"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
	"github.com/palisadehq/palisade/pkg/wire"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// GetPosture summarises every node's latest completed score per benchmark.
func (s *Server) GetPosture(ctx context.Context, req *consolev1.GetPostureRequest) (*consolev1.Posture, error) {
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
	latest, err := s.cfg.Store.LatestScores(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	lastScans, err := s.cfg.Store.LatestScans(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	return Summarise(nodes, latest, lastScans), nil
}

// Summarise builds the posture view from nodes, their latest scores and their most recent
// scans (of any state, by node id): per node its scores and last scan, per target type the
// ratio of summed counts over its nodes, per benchmark and overall.
func Summarise(nodes []store.Node, latest []store.NodeScore, lastScans map[string]store.Scan) *consolev1.Posture {
	byNode := map[string][]store.NodeScore{}
	for _, ns := range latest {
		byNode[ns.NodeID] = append(byNode[ns.NodeID], ns)
	}
	type agg struct {
		nodes, scanned int
		bench          map[string]*posture.Counts
		overall        posture.Counts
	}
	targets := map[posture.TargetType]*agg{}
	out := &consolev1.Posture{}
	for _, n := range nodes {
		a := targets[n.TargetType]
		if a == nil {
			a = &agg{bench: map[string]*posture.Counts{}}
			targets[n.TargetType] = a
		}
		a.nodes++
		np := &consolev1.NodePosture{NodeId: n.ID, NodeName: n.Name, TargetType: string(n.TargetType)}
		if sc, ok := lastScans[n.ID]; ok {
			np.LastScanId, np.LastScanState, np.LastScanCreatedAt = sc.ID, wire.StateToProto(sc.State), ts(sc.CreatedAt)
		}
		scores := byNode[n.ID]
		if len(scores) > 0 {
			a.scanned++
		}
		for _, ns := range scores {
			np.Scores = append(np.Scores, ScoreToProto(store.Score{BenchmarkID: ns.BenchmarkID, Counts: ns.Counts}))
			if np.LastScanAt == nil || ns.FinishedAt.After(np.LastScanAt.AsTime()) {
				np.LastScanAt = ts(ns.FinishedAt)
			}
			c := a.bench[ns.BenchmarkID]
			if c == nil {
				c = &posture.Counts{}
				a.bench[ns.BenchmarkID] = c
			}
			c.Merge(ns.Counts)
			a.overall.Merge(ns.Counts)
		}
		out.Nodes = append(out.Nodes, np)
	}
	for _, tt := range posture.TargetTypes {
		a := targets[tt]
		if a == nil {
			continue
		}
		tp := &consolev1.TargetPosture{TargetType: string(tt), Nodes: uint32(a.nodes), ScannedNodes: uint32(a.scanned),
			Overall: ScoreToProto(store.Score{Counts: a.overall})}
		ids := make([]string, 0, len(a.bench))
		for id := range a.bench {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			tp.Scores = append(tp.Scores, ScoreToProto(store.Score{BenchmarkID: id, Counts: *a.bench[id]}))
		}
		out.Targets = append(out.Targets, tp)
	}
	return out
}
