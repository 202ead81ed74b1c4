package api

import (
	"context"
	"sort"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

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
	nodes, err := s.cfg.Store.PostureNodes(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	return Summarise(nodes), nil
}

// Summarise builds the posture view from nodes, each with its latest scores and its most recent
// scan (of any state): per node its scores and last scan, per target type the ratio of summed
// counts over its nodes, per benchmark and overall.
func Summarise(nodes []store.PostureNode) *consolev1.Posture {
	type agg struct {
		nodes, scanned int
		bench          map[string]*posture.Counts
		overall        posture.Counts
	}
	targets := map[posture.TargetType]*agg{}
	// The per-node messages and their scores come from a few large allocations instead of
	// several per node and score: at ten thousand nodes that is most of the summary's cost in
	// Go.
	nodeMsgs := make([]consolev1.NodePosture, len(nodes))
	stamps := make([]timestamppb.Timestamp, 2*len(nodes)) // at most two per node
	stamp := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		p := &stamps[0]
		stamps = stamps[1:]
		p.Seconds, p.Nanos = t.Unix(), int32(t.Nanosecond())
		return p
	}
	nScores := 0
	for _, n := range nodes {
		nScores += len(n.Scores)
	}
	scoreSlots := make([]*consolev1.Score, nScores)
	scoreMsgs, scoreValues := make([]consolev1.Score, nScores), make([]float64, nScores)
	out := &consolev1.Posture{Nodes: make([]*consolev1.NodePosture, len(nodes))}
	for i, n := range nodes {
		a := targets[n.TargetType]
		if a == nil {
			a = &agg{bench: map[string]*posture.Counts{}}
			targets[n.TargetType] = a
		}
		a.nodes++
		np := &nodeMsgs[i]
		np.NodeId, np.NodeName, np.TargetType = n.ID, n.Name, string(n.TargetType)
		if n.LastScanID != "" {
			np.LastScanId, np.LastScanState, np.LastScanCreatedAt = n.LastScanID, wire.StateToProto(n.LastScanState), stamp(n.LastScanCreatedAt)
		}
		if len(n.Scores) > 0 {
			a.scanned++
			np.Scores, scoreSlots = scoreSlots[:len(n.Scores):len(n.Scores)], scoreSlots[len(n.Scores):]
		}
		var last time.Time
		for j, ls := range n.Scores {
			setScore(&scoreMsgs[0], &scoreValues[0], store.Score{BenchmarkID: ls.BenchmarkID, Counts: ls.Counts})
			np.Scores[j], scoreMsgs, scoreValues = &scoreMsgs[0], scoreMsgs[1:], scoreValues[1:]
			if ls.FinishedAt.After(last) {
				last = ls.FinishedAt
			}
			c := a.bench[ls.BenchmarkID]
			if c == nil {
				c = &posture.Counts{}
				a.bench[ls.BenchmarkID] = c
			}
			c.Merge(ls.Counts)
			a.overall.Merge(ls.Counts)
		}
		np.LastScanAt = stamp(last)
		out.Nodes[i] = np
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
