package catalog

import (
	"errors"
	"strings"
)

// ManualCheck marks a requirement that cannot be decided from the host's files: a policy,
// a procedure, a contract or a physical safeguard. It always yields one `info` result about
// the host whose reason is Guidance, so the requirement shows up in the scan and in the score
// (info counts as compliant) with the steps an auditor follows to verify it.
//
// Example:
//
//	check:
//	  manual:
//	    guidance: |
//	      Ask for the current risk analysis and check that it lists this host.
type ManualCheck struct {
	// Guidance is what an auditor does to verify the requirement: the documents to ask
	// for, what they must contain, the commands or records to review. Required.
	Guidance string `yaml:"guidance" json:"guidance"`
}

// Validate checks the parameters.
func (m *ManualCheck) Validate() error {
	if strings.TrimSpace(m.Guidance) == "" {
		return errors.New("guidance is required: say what an auditor checks and how")
	}
	return nil
}
