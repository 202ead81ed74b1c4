// Package jobs names the NATS subjects and stream that carry scan jobs and control commands
// from the console to the nodes, and holds the node side of that bus: Subscribe takes jobs and
// commands with plain core NATS subscriptions, so a node needs no JetStream permissions and
// publishes nothing at all.
//
// Layout:
//
//	palisade.jobs.<node>     jobs: the console publishes each into stream PALISADE_JOBS, which
//	                         keeps it until the node reports on its scan; a subscribed node
//	                         receives it as it is published, and the console hands the stored
//	                         ones to a node again in its answer to the node's hello
//	palisade.control.<node>  commands such as stop (core NATS, not stored)
package jobs

import (
	"errors"

	"github.com/palisadehq/palisade/pkg/enrolment"
)

// ErrUnconfirmed marks a job whose publication the server never confirmed: it may be stored
// and delivered, or not. A scan whose job is unconfirmed stays dispatched, so that it runs if the
// job arrives and times out when it does not.
var ErrUnconfirmed = errors.New("the NATS server did not confirm the job; it may still be delivered")

// Names on the bus.
const (
	// StreamName is the JetStream stream holding jobs.
	StreamName = "PALISADE_JOBS"
	// StreamSubjects is the subject filter of the stream.
	StreamSubjects = "palisade.jobs.>"

	jobPrefix     = "palisade.jobs."
	controlPrefix = "palisade.control."
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

// ValidateNodeID checks that node is a safe subject token (see enrolment.ValidateNodeID).
func ValidateNodeID(node string) error { return enrolment.ValidateNodeID(node) }
