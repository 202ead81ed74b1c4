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
// Retention is by age (limits), not a work queue: each node's durable consumer remembers what
// the node acknowledged, so a taken job is never delivered again, and the jobs themselves age
// out after keepJobs. A work queue would delete each job on its acknowledgement, but the
// server checks every consumer of the stream on every acknowledgement (and every other
// consumer's filter on every consumer creation), so with one consumer per node dispatch
// slows with the square of the fleet: 10,000 nodes took 37 s to take one job each.
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
		// One consumer per node. The server caps a stream without its own limit at 1,000
		// consumers (and -1 counts as "no limit set"), so name a limit no fleet reaches.
		MaxConsumers: MaxNodes,
	}
}

// MaxNodes is the most nodes (job consumers) the jobs stream admits.
const MaxNodes = 1_000_000

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
	add("max consumers", have.MaxConsumers != want.MaxConsumers, have.MaxConsumers, want.MaxConsumers)
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

// consumerConfig is node's consumer as the console wants it. Replicas 0 follows the stream.
func (b *Bus) consumerConfig(nodeID string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        jobs.ConsumerName(nodeID),
		Description:    "jobs for node " + nodeID,
		FilterSubject:  jobs.JobSubject(nodeID),
		DeliverSubject: jobs.DeliverSubject(nodeID),
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        b.ackWait,
		MaxDeliver:     MaxDeliver,
		MaxAckPending:  MaxAckPending,
		// The server keeps a file-backed consumer's state in a file of its own that it
		// rewrites after every acknowledgement: with a consumer per node, a dispatch to
		// 10,000 nodes meant 10,000 file rewrites and took four times as long. In memory (and
		// on every replica of a replicated stream), the state is lost only when the server
		// stops; the console then creates the consumer again when the node says hello, and a
		// job delivered a second time that way is refused by the console (its scan is no
		// longer queued) or skipped by the node.
		MemoryStorage: true,
	}
}

// consumerDiff names the settings in which have differs from want.
func consumerDiff(have, want jetstream.ConsumerConfig) []string {
	var d []string
	add := func(field string, differ bool, old, cur any) {
		if differ {
			d = append(d, fmt.Sprintf("%s %v -> %v", field, old, cur))
		}
	}
	add("description", have.Description != want.Description, have.Description, want.Description)
	add("filter subject", have.FilterSubject != want.FilterSubject, have.FilterSubject, want.FilterSubject)
	add("deliver subject", have.DeliverSubject != want.DeliverSubject, have.DeliverSubject, want.DeliverSubject)
	add("deliver policy", have.DeliverPolicy != want.DeliverPolicy, have.DeliverPolicy, want.DeliverPolicy)
	add("ack policy", have.AckPolicy != want.AckPolicy, have.AckPolicy, want.AckPolicy)
	add("ack wait", have.AckWait != want.AckWait, have.AckWait, want.AckWait)
	add("max deliver", have.MaxDeliver != want.MaxDeliver, have.MaxDeliver, want.MaxDeliver)
	add("max ack pending", have.MaxAckPending != want.MaxAckPending, have.MaxAckPending, want.MaxAckPending)
	add("memory storage", have.MemoryStorage != want.MemoryStorage, have.MemoryStorage, want.MemoryStorage)
	return d
}

// ensureConsumer creates node's consumer or updates it when it differs from the wanted one.
func (b *Bus) ensureConsumer(ctx context.Context, nodeID string) error {
	want := b.consumerConfig(nodeID)
	c, err := b.js.PushConsumer(ctx, jobs.StreamName, want.Durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		if _, err := b.js.CreateOrUpdatePushConsumer(ctx, jobs.StreamName, want); err != nil {
			return fmt.Errorf("bus: create the job consumer for node %s: %w", nodeID, err)
		}
		return nil
	case errors.Is(err, jetstream.ErrNotPushConsumer):
		return fmt.Errorf("bus: the job consumer of node %s exists as a pull consumer, which cannot be changed in place; "+
			"delete it (nats consumer rm %s %s) so the console creates it again — the node's queued jobs stay in the stream",
			nodeID, jobs.StreamName, want.Durable)
	case err != nil:
		return fmt.Errorf("bus: look up the job consumer of node %s: %w", nodeID, err)
	}
	have := c.CachedInfo().Config
	diff := consumerDiff(have, want)
	if len(diff) == 0 {
		return nil
	}
	want.Replicas = have.Replicas
	if _, err := b.js.UpdatePushConsumer(ctx, jobs.StreamName, want); err != nil {
		return fmt.Errorf("bus: the job consumer of node %s exists with other settings (%s) and the server refused to change them in place: %w; "+
			"remove and re-create it by deleting the consumer (nats consumer rm %s %s) — the node's queued jobs stay in the stream",
			nodeID, strings.Join(diff, ", "), err, jobs.StreamName, want.Durable)
	}
	b.log.Info("updated a node's job consumer", zap.String(logFieldNode, nodeID), zap.Strings("changes", diff))
	return nil
}

// Replicas is the jobs stream's replication factor.
func (b *Bus) Replicas() int { return b.replicas }
