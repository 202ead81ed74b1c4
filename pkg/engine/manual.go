package engine

import (
	"strings"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/posture"
)

// checkManual reports a requirement that needs a person to verify it: one info result about
// the host whose reason is the audit guidance. It reads nothing.
func (r *run) checkManual(m *catalog.ManualCheck) Result {
	return Result{
		Resource: HostResource,
		Status:   posture.Info,
		Reason:   "manual verification required: " + strings.TrimSpace(m.Guidance),
		Evidence: []Evidence{{Key: "verification", Actual: "not automated", Expected: "reviewed by an auditor"}},
	}
}
