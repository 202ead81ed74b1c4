package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/palisadehq/palisade/pkg/jobs"
)

// clusterReplicas is the replication factor wanted when the JetStream cluster is big enough.
const clusterReplicas = 3

// errCodeNoPeers is the JetStream API error a cluster answers when it has too few servers for
// the replicas asked for.
const errCodeNoPeers jetstream.ErrorCode = 10005

// streamConfig is the jobs stream as the console wants it.
//
// The stream has no consumers. A subscribed node receives a job as it is published; the
// console reads the stored jobs of a node that was away (PendingJobs) and deletes a job when
// its node reports on the scan (Settle); what is never taken ages out after keepJobs.
// Retention is therefore by age (limits). One durable consumer per node, the obvious design,
// does not scale: on a work-queue stream the server checks every consumer on every
// acknowledgement and every other consumer's filter on every consumer creation (10,000 nodes
// took 37 s to take one job each), and even on a limits stream each consumer costs the server
// about 22 KB and, in a cluster, a replicated group of its own.
func streamConfig(replicas int, keepJobs time.Duration) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        jobs.StreamName,
		Description: "Palisade scan jobs, one subject per node",
		Subjects:    []string{jobs.StreamSubjects},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		MaxAge:      keepJobs,
		MaxMsgSize:  jobs.MaxJobBytes,
		Duplicates:  DuplicateWindow,
		Replicas:    replicas,
	}
}

// streamDiff names the settings in which have differs from want, as "field old -> new".
func streamDiff(have, want jetstream.StreamConfig) []string {
	var d []string
	add := func(field string, differ bool, old, cur any) {
		if differ {
			d = append(d, fmt.Sprintf("%s %v -> %v", field, old, cur))
		}
	}
	add("description", have.Description != want.Description, have.Description, want.Description)
	add("subjects", !slices.Equal(have.Subjects, want.Subjects), have.Subjects, want.Subjects)
	add("retention", have.Retention != want.Retention, have.Retention, want.Retention)
	add("storage", have.Storage != want.Storage, have.Storage, want.Storage)
	add("discard", have.Discard != want.Discard, have.Discard, want.Discard)
	add("max age", have.MaxAge != want.MaxAge, have.MaxAge, want.MaxAge)
	add("max message size", have.MaxMsgSize != want.MaxMsgSize, have.MaxMsgSize, want.MaxMsgSize)
	add("duplicate window", have.Duplicates != want.Duplicates, have.Duplicates, want.Duplicates)
	add("replicas", have.Replicas != want.Replicas, have.Replicas, want.Replicas)
	return d
}

// applyStream copies the settings the console manages from want into have, keeping the ones
// the server filled in.
func applyStream(have, want jetstream.StreamConfig) jetstream.StreamConfig {
	have.Description = want.Description
	have.Subjects = want.Subjects
	have.Retention = want.Retention
	have.Storage = want.Storage
	have.Discard = want.Discard
	have.MaxAge = want.MaxAge
	have.MaxMsgSize = want.MaxMsgSize
	have.Duplicates = want.Duplicates
	have.Replicas = want.Replicas
	return have
}

// replicaCandidates are the replication factors to try, best first. fixed (from Config) wins;
// a server outside a cluster gets 1; in a cluster 3 is tried first and a cluster of fewer than
// three JetStream servers refuses it for lack of peers, so 1 follows.
func replicaCandidates(fixed int, clusterName string) []int {
	switch {
	case fixed > 0:
		return []int{fixed}
	case clusterName == "":
		return []int{1}
	default:
		return []int{clusterReplicas, 1}
	}
}

// isNoPeers reports whether err is the cluster saying it has too few servers.
func isNoPeers(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeNoPeers
}

// ensureStream creates the jobs stream or brings the existing one to the wanted
// configuration. With fixed 0 the replication factor follows the cluster (see
// replicaCandidates) but never drops below what the stream already has: a cluster that lost a
// server keeps its R3 stream.
func (b *Bus) ensureStream(ctx context.Context, fixed int) error {
	var have *jetstream.StreamConfig
	st, err := b.js.Stream(ctx, jobs.StreamName)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return fmt.Errorf("bus: look up the %s stream: %w", jobs.StreamName, err)
	default:
		cfg := st.CachedInfo().Config
		have = &cfg
	}
	candidates := replicaCandidates(fixed, b.nc.ConnectedClusterName())
	for i, r := range candidates {
		if fixed == 0 && have != nil && have.Replicas > r {
			r = have.Replicas
		}
		err := b.putStream(ctx, have, streamConfig(r, b.keepJobs))
		if err == nil {
			b.replicas = r
			return nil
		}
		if i+1 < len(candidates) && isNoPeers(err) {
			b.log.Info("the JetStream cluster has too few servers for a replicated jobs stream; keeping one copy", zap.Int("replicas_wanted", r), zap.Error(err))
			continue
		}
		return err
	}
	return nil // not reached: the last candidate returns
}

// putStream creates the stream (have nil) or updates it when it differs from want.
func (b *Bus) putStream(ctx context.Context, have *jetstream.StreamConfig, want jetstream.StreamConfig) error {
	if have == nil {
		if _, err := b.js.CreateStream(ctx, want); err != nil {
			if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
				// Another console replica created it meanwhile; bring it to our settings.
				_, err = b.js.CreateOrUpdateStream(ctx, want)
			}
			if err != nil {
				return fmt.Errorf("bus: create the %s stream with %d replica(s): %w", jobs.StreamName, want.Replicas, err)
			}
		}
		b.log.Info("created the jobs stream", zap.String("stream", jobs.StreamName), zap.Int("replicas", want.Replicas))
		return nil
	}
	diff := streamDiff(*have, want)
	if len(diff) == 0 {
		return nil
	}
	if _, err := b.js.UpdateStream(ctx, applyStream(*have, want)); err != nil {
		if isNoPeers(err) {
			return fmt.Errorf("bus: update the %s stream (%s): %w", jobs.StreamName, strings.Join(diff, ", "), err)
		}
		return fmt.Errorf("bus: the %s stream exists with other settings (%s) and the server refused to change them in place: %w; "+
			"stop the consoles, let the sensors drain their jobs, delete the stream (nats stream rm %s) and start the console again to recreate it",
			jobs.StreamName, strings.Join(diff, ", "), err, jobs.StreamName)
	}
	b.log.Info("updated the jobs stream", zap.String("stream", jobs.StreamName), zap.Strings("changes", diff))
	return nil
}

// Replicas is the jobs stream's replication factor.
func (b *Bus) Replicas() int { return b.replicas }
