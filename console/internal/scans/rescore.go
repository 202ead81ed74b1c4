package scans

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// rescoreWorkers is how many scans are rescored at once.
const rescoreWorkers = 4

// RescoreMasks recounts the scores of every completed scan that one of masks matches, after
// the masks were created, removed or expired. Scores are judged with the masks active at the
// manager's clock.
func (m *Manager) RescoreMasks(ctx context.Context, masks ...store.Mask) error {
	var ids []string
	for _, mk := range masks {
		scanIDs, err := m.cfg.Store.MaskedScans(ctx, mk)
		if err != nil {
			return fmt.Errorf("find the scans mask %s touches: %w", mk.ID, err)
		}
		ids = append(ids, scanIDs...)
	}
	return m.Rescore(ctx, ids)
}

// Rescore recounts and stores the scores of completed scans (each id once), leaving out the
// results covered by a mask active at the manager's clock. A scan that is gone (pruned) or
// not complete is skipped. A few scans are rescored at once; the first error stops the rest.
//
// Rescoring is serialised on the manager, so of two mask changes made one after the other
// the later rescoring always counts both.
func (m *Manager) Rescore(ctx context.Context, scanIDs []string) error {
	m.rescoreMu.Lock()
	defer m.rescoreMu.Unlock()
	now := m.cfg.Now().UTC()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(rescoreWorkers)
	seen := make(map[string]bool, len(scanIDs))
	for _, id := range scanIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		g.Go(func() error { return m.rescoreScan(gctx, id, now) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(seen) > 0 {
		m.log.Info("scores recounted", zap.Int("scans", len(seen)))
	}
	return nil
}

func (m *Manager) rescoreScan(ctx context.Context, scanID string, now time.Time) error {
	sc, err := m.cfg.Store.GetScan(ctx, scanID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("rescore scan %s: %w", scanID, err)
	}
	if sc.State != posture.Complete {
		return nil
	}
	ctls, err := m.cfg.Store.ScanControls(ctx, scanID)
	if err != nil {
		return fmt.Errorf("rescore scan %s: %w", scanID, err)
	}
	scores, err := m.score(ctx, sc, ctls, now)
	if err != nil {
		return err
	}
	if err := m.cfg.Store.ReplaceScores(ctx, scanID, scores); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("store the recounted scores of scan %s: %w", scanID, err)
	}
	return nil
}

// rescoreExpired rescores the scans of masks that expired since the last check (on the first
// check, of every expired mask), so that scores count their results again.
func (m *Manager) rescoreExpired(ctx context.Context, now time.Time) error {
	m.mu.Lock()
	since := m.masksCheckedAt
	m.mu.Unlock()
	masks, err := m.cfg.Store.ListMasks(ctx, store.MaskFilter{})
	if err != nil {
		return fmt.Errorf("list masks: %w", err)
	}
	var expired []store.Mask
	for _, mk := range masks {
		if mk.RemovedAt.IsZero() && !mk.ExpiresAt.IsZero() && !mk.ExpiresAt.After(now) && mk.ExpiresAt.After(since) {
			expired = append(expired, mk)
		}
	}
	if err := m.RescoreMasks(ctx, expired...); err != nil {
		return err
	}
	m.mu.Lock()
	m.masksCheckedAt = now
	m.mu.Unlock()
	return nil
}
