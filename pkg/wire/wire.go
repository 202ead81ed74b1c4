// Package wire converts between the domain vocabulary (package posture) and the protobuf wire
// types shared by the console and its agents, and holds the capability version both sides
// check.
package wire

import (
	"strings"

	"github.com/palisadehq/palisade/pkg/posture"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// CapabilityVersion is the version of the sensor-console protocol. A console accepts sensors
// of its own version and older ones down to MinCapabilityVersion. Version 2: a sensor takes
// its jobs on its job subject and from its hellos' pending jobs, with no JetStream consumer,
// and resolves a job that names only benchmarks; a version 1 sensor would wait on a consumer
// that no longer exists, so it is told to upgrade.
const (
	CapabilityVersion    = 2
	MinCapabilityVersion = 2
)

var statuses = map[posture.Status]sensorv1.Status{
	posture.Pass:  sensorv1.Status_STATUS_PASS,
	posture.Fail:  sensorv1.Status_STATUS_FAIL,
	posture.Info:  sensorv1.Status_STATUS_INFO,
	posture.Skip:  sensorv1.Status_STATUS_SKIP,
	posture.Error: sensorv1.Status_STATUS_ERROR,
}

// StatusToProto converts a status; an unknown one becomes STATUS_UNSPECIFIED.
func StatusToProto(s posture.Status) sensorv1.Status { return statuses[s] }

// StatusFromProto converts a wire status; ok is false for an unknown one.
func StatusFromProto(s sensorv1.Status) (posture.Status, bool) {
	for k, v := range statuses {
		if v == s {
			return k, true
		}
	}
	return "", false
}

var states = map[posture.ScanState]sensorv1.ScanState{
	posture.Queued:     sensorv1.ScanState_SCAN_STATE_QUEUED,
	posture.Dispatched: sensorv1.ScanState_SCAN_STATE_DISPATCHED,
	posture.Running:    sensorv1.ScanState_SCAN_STATE_RUNNING,
	posture.Complete:   sensorv1.ScanState_SCAN_STATE_COMPLETE,
	posture.Failed:     sensorv1.ScanState_SCAN_STATE_FAILED,
	posture.Cancelled:  sensorv1.ScanState_SCAN_STATE_CANCELLED,
	posture.TimedOut:   sensorv1.ScanState_SCAN_STATE_TIMED_OUT,
}

// StateToProto converts a scan state; an unknown one becomes SCAN_STATE_UNSPECIFIED.
func StateToProto(s posture.ScanState) sensorv1.ScanState { return states[s] }

// StateFromProto converts a wire scan state; ok is false for an unknown one.
func StateFromProto(s sensorv1.ScanState) (posture.ScanState, bool) {
	for k, v := range states {
		if v == s {
			return k, true
		}
	}
	return "", false
}

// EnumName renders a wire enum value the way people read it: STATUS_PASS -> pass,
// SCAN_STATE_TIMED_OUT -> timed_out.
func EnumName(full, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(full, prefix))
}

// Field numbers of the result messages (proto/palisade/sensor/v1/sensor.proto), for the code
// that reads or writes those messages' bytes directly: the console's batch decoder and the
// load generator's batch encoder, both on the ingest path. TestFieldNumbers checks them
// against the generated descriptors.
const (
	FieldBatchScanID       = 1
	FieldBatchSeq          = 2
	FieldBatchResults      = 3
	FieldBatchFinal        = 4
	FieldBatchTotalResults = 5

	FieldResultControlID = 1
	FieldResultResource  = 2
	FieldResultStatus    = 3
	FieldResultReason    = 4
	FieldResultEvidence  = 5

	FieldEvidenceSource   = 1
	FieldEvidenceLine     = 2
	FieldEvidenceKey      = 3
	FieldEvidenceActual   = 4
	FieldEvidenceExpected = 5
)
