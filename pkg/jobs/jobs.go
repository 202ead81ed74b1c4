// Package jobs names the NATS subjects, stream and consumers that carry scan jobs and control
// commands from the console to the nodes, and holds the node side of that bus: Subscribe takes
// jobs from the node's JetStream push consumer and commands from its control subject with
// plain core NATS subscriptions, so a node needs no JetStream API permissions at all.
//
// Layout:
//
//	palisade.jobs.<node>     jobs, stored in stream PALISADE_JOBS (console publishes)
//	palisade.deliver.<node>  where the durable push consumer node-<node> delivers them
//	palisade.control.<node>  commands such as stop (core NATS, not stored)
//	$JS.ACK.PALISADE_JOBS.node-<node>.>  the acknowledgements the node publishes
package jobs

import (
	"errors"

	"github.com/palisadehq/palisade/pkg/enrolment"
)

// ErrUnconfirmed marks a job whose publication the server never confirmed: it may be stored
// and delivered, or not. A scan whose job is unconfirmed stays queued, so that it runs if the
// job arrives and times out when it does not.
var ErrUnconfirmed = errors.New("the NATS server did not confirm the job; it may still be delivered")

// Names on the bus.
const (
	// StreamName is the JetStream stream holding jobs.
	StreamName = "PALISADE_JOBS"
	// StreamSubjects is the subject filter of the stream.
	StreamSubjects = "palisade.jobs.>"

	jobPrefix      = "palisade.jobs."
	controlPrefix  = "palisade.control."
	deliverPrefix  = "palisade.deliver."
	consumerPrefix = "node-"
)

// Size limits. The embedded server's maximum payload is MaxJobBytes, so a job may carry a large
// custom catalogue; commands are tiny.
const (
	MaxJobBytes     = 8 << 20
	MaxCommandBytes = 4 << 10
)

// JobSubject is the subject the console publishes node's jobs on.
func JobSubject(node string) string { return jobPrefix + node }

// ControlSubject is the subject the console publishes node's commands on.
func ControlSubject(node string) string { return controlPrefix + node }

// DeliverSubject is where node's push consumer delivers its jobs.
func DeliverSubject(node string) string { return deliverPrefix + node }

// ConsumerName is the name of node's durable consumer on the jobs stream.
func ConsumerName(node string) string { return consumerPrefix + node }

// AckSubjects is the subject pattern of the acknowledgements node publishes for its jobs: the
// only thing a node may publish on the bus.
func AckSubjects(node string) string {
	return "$JS.ACK." + StreamName + "." + ConsumerName(node) + ".>"
}

// ValidateNodeID checks that node is a safe subject token (see enrolment.ValidateNodeID).
func ValidateNodeID(node string) error { return enrolment.ValidateNodeID(node) }
