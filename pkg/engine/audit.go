package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/facts"
	"github.com/palisadehq/palisade/pkg/posture"
)

// Host paths of the audit rules.
const (
	auditRulesDir  = "/etc/audit/rules.d"
	auditRulesFile = "/etc/audit/audit.rules"
)

// auditRuleAt is an audit rule with the file it came from.
type auditRuleAt struct {
	facts.AuditRule
	File string
}

// auditRulesFact is the rules on disk and where they were read.
type auditRulesFact struct {
	rules []auditRuleAt
	// source names what was read: the rules.d directory or audit.rules.
	source string
	// found is false when neither rules.d files nor audit.rules exist.
	found bool
}

// auditRules reads /etc/audit/rules.d/*.rules in name order, as augenrules joins them into
// the rules loaded at boot, or /etc/audit/audit.rules when rules.d holds none.
func (r *run) auditRules() (auditRulesFact, error) {
	return fact(r, "audit-rules", func() (auditRulesFact, error) {
		var files []string
		ents, err := r.fs.ReadDir(auditRulesDir)
		switch {
		case err == nil:
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".rules") && !e.IsDir() {
					files = append(files, path.Join(auditRulesDir, e.Name()))
				}
			}
			sort.Strings(files)
		case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotDir):
			return auditRulesFact{}, err
		}
		f := auditRulesFact{source: auditRulesDir + "/*.rules"}
		if len(files) == 0 {
			files, f.source = []string{auditRulesFile}, auditRulesFile
		}
		for _, p := range files {
			data, err := r.readFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return auditRulesFact{}, err
			}
			f.found = true
			for _, rule := range facts.ParseAuditRules(data) {
				f.rules = append(f.rules, auditRuleAt{rule, p})
			}
		}
		return f, nil
	})
}

func (r *run) checkAuditRules(c *catalog.AuditRulesCheck) []Result {
	f, err := r.auditRules()
	if err != nil {
		return []Result{errorResult(auditRulesDir, readFailure(failedPath(err, auditRulesDir), err))}
	}
	if !f.found {
		return []Result{{Resource: auditRulesDir, Status: posture.Fail,
			Reason:   fmt.Sprintf("no audit rules on disk: neither %s/*.rules nor %s exists; expected the audit rules there", auditRulesDir, auditRulesFile),
			Evidence: []Evidence{{Source: auditRulesDir, Key: "rules", Actual: "none", Expected: "audit rules files"}}}}
	}
	switch {
	case c.Immutable:
		return []Result{immutableResult(f)}
	case c.SudoLog:
		return []Result{r.sudoLogWatch(f)}
	}
	out := make([]Result, 0, len(c.Rules))
	for _, text := range c.Rules {
		want, ok := facts.ParseAuditRule(text)
		if !ok {
			out = append(out, errorResult(text, "the expected rule cannot be parsed"))
			continue
		}
		out = append(out, findAuditRule(f, want, text))
	}
	return out
}

func findAuditRule(f auditRulesFact, want facts.AuditRule, text string) Result {
	for _, have := range f.rules {
		if have.Covers(want) {
			return Result{Resource: text, Status: posture.Pass,
				Reason:   fmt.Sprintf("%s:%d (%s) records what %q asks for", have.File, have.Line, have.Text, text),
				Evidence: []Evidence{{Source: have.File, Line: have.Line, Key: "rule", Actual: have.Text, Expected: text}}}
		}
	}
	return Result{Resource: text, Status: posture.Fail,
		Reason:   fmt.Sprintf("no rule in %s records what %q asks for (%d rules read)", f.source, text, len(f.rules)),
		Evidence: []Evidence{{Source: f.source, Key: "rule", Actual: "no equivalent rule", Expected: text}}}
}

func immutableResult(f auditRulesFact) Result {
	var last *auditRuleAt
	var lastRule *auditRuleAt
	for i := range f.rules {
		if f.rules[i].Kind == facts.AuditControl && f.rules[i].Flag == "-e" {
			last = &f.rules[i]
		}
		lastRule = &f.rules[i]
	}
	res := Result{Resource: f.source}
	switch {
	case last == nil:
		res.Status, res.Reason = posture.Fail, fmt.Sprintf("no -e rule in %s; expected -e 2 as the last rule", f.source)
		res.Evidence = []Evidence{{Source: f.source, Key: "-e", Actual: "not set", Expected: "2"}}
	case last.Value != "2":
		res.Status, res.Reason = posture.Fail, fmt.Sprintf("the last -e rule is -e %s at %s:%d; expected -e 2", last.Value, last.File, last.Line)
		res.Evidence = []Evidence{{Source: last.File, Line: last.Line, Key: "-e", Actual: last.Value, Expected: "2"}}
	case last != lastRule:
		res.Status, res.Reason = posture.Fail, fmt.Sprintf("-e 2 at %s:%d is followed by rules (the last at %s:%d) that cannot be loaded once the configuration is locked; expected -e 2 last", last.File, last.Line, lastRule.File, lastRule.Line)
		res.Evidence = []Evidence{{Source: last.File, Line: last.Line, Key: "-e", Actual: "2, not last", Expected: "2, last"}}
	default:
		res.Status, res.Reason = posture.Pass, fmt.Sprintf("the audit configuration is locked: -e 2 is the last rule, at %s:%d", last.File, last.Line)
		res.Evidence = []Evidence{{Source: last.File, Line: last.Line, Key: "-e", Actual: "2", Expected: "2"}}
	}
	return res
}

// sudoLogWatch checks that the file sudo logs to is watched for writes and attribute changes.
func (r *run) sudoLogWatch(f auditRulesFact) Result {
	lines, err := r.sudoers(sudoersDefaultPath)
	if errors.Is(err, fs.ErrNotExist) && failedPath(err, sudoersDefaultPath) == sudoersDefaultPath {
		return Result{Resource: sudoersDefaultPath, Status: posture.Skip, Reason: fmt.Sprintf("not applicable: sudo is not configured here (%s does not exist)", sudoersDefaultPath),
			Evidence: []Evidence{{Source: sudoersDefaultPath, Key: "exists", Actual: "no"}}}
	}
	if err != nil {
		return errorResult(sudoersDefaultPath, readFailure(failedPath(err, sudoersDefaultPath), err))
	}
	var logfile *sudoersLine
	for i := range lines {
		l := &lines[i]
		if l.Kind != facts.SudoersDefaults || l.Scope != "" {
			continue
		}
		for _, d := range l.Settings {
			if d.Name == "logfile" {
				if d.Negated || d.Op != "=" {
					logfile = nil
				} else {
					logfile = l
				}
			}
		}
	}
	if logfile == nil {
		return Result{Resource: sudoersDefaultPath, Status: posture.Fail,
			Reason:   fmt.Sprintf("sudo has no log file (no Defaults logfile in %s or its includes), so there is nothing to watch; expected Defaults logfile and an audit watch on it", sudoersDefaultPath),
			Evidence: []Evidence{{Source: sudoersDefaultPath, Key: "logfile", Actual: "not set", Expected: "a log file path"}}}
	}
	var p string
	for _, d := range logfile.Settings {
		if d.Name == "logfile" && d.Op == "=" {
			p = d.Value
		}
	}
	text := fmt.Sprintf("-w %s -p wa", p)
	want, _ := facts.ParseAuditRule(text)
	res := findAuditRule(f, want, text)
	res.Evidence = append([]Evidence{{Source: logfile.File, Line: logfile.Line, Key: "logfile", Actual: p}}, res.Evidence...)
	return res
}
