// Package posture holds the domain vocabulary shared by every part of Palisade: target types,
// result statuses, severities, scan states and the one definition of the compliance score.
package posture

import (
	"fmt"
	"strings"
)

// TargetType is the kind of node a control or benchmark applies to.
type TargetType string

// The target types.
const (
	Linux      TargetType = "linux"
	Kubernetes TargetType = "kubernetes"
	AWS        TargetType = "aws"
	Azure      TargetType = "azure"
	GCP        TargetType = "gcp"
)

// TargetTypes lists every target type in display order.
var TargetTypes = []TargetType{Linux, Kubernetes, AWS, Azure, GCP}

// ParseTargetType validates a target type name.
func ParseTargetType(s string) (TargetType, error) {
	for _, t := range TargetTypes {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown target type %q (want one of linux, kubernetes, aws, azure, gcp)", s)
}

// Status is the outcome of one control on one resource.
type Status string

// The result statuses.
const (
	Pass  Status = "pass"
	Fail  Status = "fail"
	Info  Status = "info"  // manual verification required
	Skip  Status = "skip"  // not applicable here
	Error Status = "error" // could not be evaluated
)

// Statuses lists every status in display order.
var Statuses = []Status{Pass, Fail, Info, Skip, Error}

// ParseStatus validates a status name.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if string(st) == strings.ToLower(s) {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown status %q (want one of pass, fail, info, skip, error)", s)
}

// Severity ranks how much a failing control matters.
type Severity string

// The severities, most severe first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
)

// Severities lists every severity, most severe first.
var Severities = []Severity{Critical, High, Medium, Low}

// ParseSeverity validates a severity name.
func ParseSeverity(s string) (Severity, error) {
	for _, sv := range Severities {
		if string(sv) == strings.ToLower(s) {
			return sv, nil
		}
	}
	return "", fmt.Errorf("unknown severity %q (want one of critical, high, medium, low)", s)
}

// ScanState is the lifecycle state of one node's scan:
// queued -> dispatched -> running -> complete | failed | cancelled | timed_out.
type ScanState string

// The scan states.
const (
	Queued     ScanState = "queued"
	Dispatched ScanState = "dispatched"
	Running    ScanState = "running"
	Complete   ScanState = "complete"
	Failed     ScanState = "failed"
	Cancelled  ScanState = "cancelled"
	TimedOut   ScanState = "timed_out"
)

// ScanStates lists every scan state in lifecycle order.
var ScanStates = []ScanState{Queued, Dispatched, Running, Complete, Failed, Cancelled, TimedOut}

// ParseScanState validates a scan state name.
func ParseScanState(s string) (ScanState, error) {
	for _, st := range ScanStates {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown scan state %q (want one of queued, dispatched, running, complete, failed, cancelled, timed_out)", s)
}

// Terminal reports whether no further transition can leave the state.
func (s ScanState) Terminal() bool {
	switch s {
	case Complete, Failed, Cancelled, TimedOut:
		return true
	}
	return false
}

// CanMoveTo reports whether the lifecycle allows moving from s to next.
func (s ScanState) CanMoveTo(next ScanState) bool {
	if s.Terminal() {
		return false
	}
	switch next {
	case Dispatched:
		return s == Queued
	case Running:
		return s == Queued || s == Dispatched
	case Complete:
		return s == Running
	case Failed, Cancelled, TimedOut:
		return true
	}
	return false
}

// Counts holds the number of results per status.
type Counts struct {
	Pass, Fail, Info, Skip, Error int
	// Masked counts results left out of the score by a mask, whatever their status.
	Masked int
}

// Add counts one result.
func (c *Counts) Add(s Status) {
	switch s {
	case Pass:
		c.Pass++
	case Fail:
		c.Fail++
	case Info:
		c.Info++
	case Skip:
		c.Skip++
	case Error:
		c.Error++
	}
}

// Merge adds other's counts into c.
func (c *Counts) Merge(other Counts) {
	c.Pass += other.Pass
	c.Fail += other.Fail
	c.Info += other.Info
	c.Skip += other.Skip
	c.Error += other.Error
	c.Masked += other.Masked
}

// Total is the number of unmasked results of every status.
func (c Counts) Total() int { return c.Pass + c.Fail + c.Info + c.Skip + c.Error }

// Score is the compliance score: 100 x (pass + info) / (pass + info + fail + error). Skipped
// and masked results do not count (masked results are counted only in Masked). ok is false when no result counts: such a benchmark has no score
// ("n/a"), never 0 or 100. Aggregates over many nodes merge Counts first and score the sum.
func (c Counts) Score() (score float64, ok bool) {
	den := c.Pass + c.Info + c.Fail + c.Error
	if den == 0 {
		return 0, false
	}
	return 100 * float64(c.Pass+c.Info) / float64(den), true
}

// FormatScore renders a score for people: one decimal, or "n/a" when there is none.
func (c Counts) FormatScore() string {
	s, ok := c.Score()
	if !ok {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", s)
}
