package api

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/store"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// Limits on a mask.
const (
	maxMaskReasonLen   = 1000 // characters
	maxMaskResourceLen = 1024 // bytes, as for a result's resource
	maxMaskNodes       = 1000
)

// CreateMask stores a mask and recounts the scores of the completed scans it touches.
func (s *Server) CreateMask(ctx context.Context, req *consolev1.CreateMaskRequest) (*consolev1.Mask, error) {
	p, err := auth.Require(ctx, store.RoleAnalyst)
	if err != nil {
		return nil, toStatus(err)
	}
	now := s.cfg.Now().UTC()
	m, err := s.newMask(ctx, req, now)
	if err != nil {
		return nil, err
	}
	m.ID, m.CreatedAt, m.CreatedBy = newID("msk"), now, p.Name
	if err := s.cfg.Store.CreateMask(ctx, m); err != nil {
		return nil, toStatus(err)
	}
	s.audit(ctx, p, "mask.create", m.ID, maskDetail(m))
	if err := s.rescore(ctx, m); err != nil {
		return nil, status.Errorf(codes.Internal, "mask %s was created, but recounting the scores it changes failed: %v; remove and create the mask again to retry", m.ID, err)
	}
	return maskToProto(m, now), nil
}

// newMask validates a mask request and resolves its nodes; it returns the mask without id
// and creation fields.
func (s *Server) newMask(ctx context.Context, req *consolev1.CreateMaskRequest, now time.Time) (store.Mask, error) {
	c, err := s.control(req.GetControlId())
	if err != nil {
		return store.Mask{}, err
	}
	m := store.Mask{ControlID: c.ID, Resource: strings.TrimSpace(req.GetResource()), Reason: strings.TrimSpace(req.GetReason())}
	if m.Reason == "" {
		return store.Mask{}, status.Error(codes.InvalidArgument, "a mask needs a reason: say why the control or result does not apply")
	}
	if n := utf8.RuneCountInString(m.Reason); n > maxMaskReasonLen {
		return store.Mask{}, status.Errorf(codes.InvalidArgument, "the reason has %d characters; the limit is %d", n, maxMaskReasonLen)
	}
	if len(m.Resource) > maxMaskResourceLen {
		return store.Mask{}, status.Errorf(codes.InvalidArgument, "the resource is longer than %d bytes", maxMaskResourceLen)
	}
	if len(req.GetNodes()) > maxMaskNodes {
		return store.Mask{}, status.Errorf(codes.InvalidArgument, "a mask names at most %d nodes, not %d; leave nodes empty to mask on every node", maxMaskNodes, len(req.GetNodes()))
	}
	for _, ref := range req.GetNodes() {
		n, err := s.findNode(ctx, ref)
		if err != nil {
			return store.Mask{}, err
		}
		if !slices.Contains(m.NodeIDs, n.ID) {
			m.NodeIDs = append(m.NodeIDs, n.ID)
		}
	}
	if m.Resource != "" && len(m.NodeIDs) != 1 {
		return store.Mask{}, status.Errorf(codes.InvalidArgument, "a mask of one resource applies to exactly one node; name one node, not %d", len(m.NodeIDs))
	}
	if e := req.GetExpiresAt(); e != nil {
		if err := e.CheckValid(); err != nil {
			return store.Mask{}, status.Errorf(codes.InvalidArgument, "expires_at: %v", err)
		}
		m.ExpiresAt = e.AsTime().UTC()
		if !m.ExpiresAt.After(now) {
			return store.Mask{}, status.Errorf(codes.InvalidArgument, "expires_at %s is not in the future (now is %s)", m.ExpiresAt.Format(time.RFC3339), now.Format(time.RFC3339))
		}
	}
	return m, nil
}

// findNode looks a node up by id or name, as a status error when that fails.
func (s *Server) findNode(ctx context.Context, ref string) (store.Node, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return store.Node{}, status.Error(codes.InvalidArgument, "empty node name; give a node id or name")
	}
	n, err := s.cfg.Store.FindNode(ctx, ref)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Node{}, status.Errorf(codes.NotFound, "unknown node %q; list the nodes to find its id or name", ref)
	case errors.Is(err, store.ErrConflict):
		return store.Node{}, status.Errorf(codes.InvalidArgument, "several nodes are named %q; use the node id", ref)
	case err != nil:
		return store.Node{}, toStatus(err)
	}
	return n, nil
}

// ListMasks lists masks, by default the active ones.
func (s *Server) ListMasks(ctx context.Context, req *consolev1.ListMasksRequest) (*consolev1.ListMasksResponse, error) {
	if _, err := auth.Require(ctx, store.RoleViewer); err != nil {
		return nil, toStatus(err)
	}
	now := s.cfg.Now().UTC()
	f := store.MaskFilter{ControlID: strings.TrimSpace(req.GetControlId())}
	if req.GetNode() != "" {
		n, err := s.findNode(ctx, req.GetNode())
		if err != nil {
			return nil, err
		}
		f.NodeID = n.ID
	}
	if !req.GetIncludeInactive() {
		f.ActiveAt = now
	}
	masks, err := s.cfg.Store.ListMasks(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	out := &consolev1.ListMasksResponse{}
	for _, m := range masks {
		out.Masks = append(out.Masks, maskToProto(m, now))
	}
	return out, nil
}

// RemoveMask ends a mask and recounts the scores of the completed scans it touched.
func (s *Server) RemoveMask(ctx context.Context, req *consolev1.RemoveMaskRequest) (*consolev1.Mask, error) {
	p, id, err := requireTarget(ctx, store.RoleAnalyst, "mask_id", req.GetMaskId())
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	m, err := s.cfg.Store.RemoveMask(ctx, id, p.Name, now)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, status.Errorf(codes.NotFound, "no mask has id %q; list the masks to find its id", id)
	case errors.Is(err, store.ErrConflict):
		return nil, status.Errorf(codes.FailedPrecondition, "mask %s was already removed", id)
	case err != nil:
		return nil, toStatus(err)
	}
	s.audit(ctx, p, "mask.remove", m.ID, maskDetail(m))
	if err := s.rescore(ctx, m); err != nil {
		return nil, status.Errorf(codes.Internal, "mask %s was removed, but recounting the scores it changes failed: %v", m.ID, err)
	}
	return maskToProto(m, now), nil
}

// rescore recounts the scores a mask change affects. The change is stored by then, so the
// recount runs to its end even when the caller goes away.
func (s *Server) rescore(ctx context.Context, m store.Mask) error {
	return s.cfg.Scans.RescoreMasks(context.WithoutCancel(ctx), m)
}

// maskDetail describes a mask for the audit log.
func maskDetail(m store.Mask) string {
	d := fmt.Sprintf("control=%s nodes=%s", m.ControlID, strings.Join(m.NodeIDs, ","))
	if len(m.NodeIDs) == 0 {
		d = fmt.Sprintf("control=%s nodes=all", m.ControlID)
	}
	if m.Resource != "" {
		d += " resource=" + m.Resource
	}
	if !m.ExpiresAt.IsZero() {
		d += " expires=" + m.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return d + " reason=" + m.Reason
}

func maskToProto(m store.Mask, now time.Time) *consolev1.Mask {
	return &consolev1.Mask{
		Id: m.ID, ControlId: m.ControlID, NodeIds: m.NodeIDs, Resource: m.Resource, Reason: m.Reason,
		CreatedAt: ts(m.CreatedAt), CreatedBy: m.CreatedBy, ExpiresAt: ts(m.ExpiresAt),
		RemovedAt: ts(m.RemovedAt), RemovedBy: m.RemovedBy, Active: m.Active(now),
	}
}
