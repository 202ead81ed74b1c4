package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/facts"
	"github.com/palisadehq/palisade/pkg/posture"
)

func confFormat(f string) string {
	switch f {
	case catalog.ConfigSpace:
		return facts.ConfSpace
	case catalog.ConfigSystemd:
		return facts.ConfSystemd
	}
	return facts.ConfEquals
}

func (r *run) checkConfig(c *catalog.ConfigCheck) Result {
	all, found, err := r.confSettings(c.Path, c.DropInDirs, c.DropInSuffix, c.DropInsFirst, confFormat(c.Format))
	if err != nil {
		return errorResult(c.Path, readFailure(failedPath(err, c.Path), err))
	}
	where := c.Path
	if len(c.DropInDirs) > 0 {
		where += " and its drop-ins"
	}
	if !found {
		res := missingResult(c.Path, c.IfMissing)
		if c.IfMissing == "" || c.IfMissing == catalog.MissingFail {
			// Without any file the program's default applies; judge it when one is known.
			if c.Key != "" && c.Default != "" {
				return judgeConfig(c, where, confSettingAt{}, false)
			}
		}
		return res
	}
	if c.NoMatch != "" {
		re, err := regexp.Compile(c.NoMatch)
		if err != nil {
			return errorResult(c.Path, fmt.Sprintf("the check's no_match expression is not valid: %v", err))
		}
		res := Result{Resource: c.Path}
		var hits []string
		for _, s := range all {
			text := s.Key
			if s.Value != "" || !s.Bare {
				text += " " + s.Value
			}
			if re.MatchString(text) {
				hits = append(hits, fmt.Sprintf("%s:%d", s.File, s.Line))
				res.Evidence = append(res.Evidence, Evidence{Source: s.File, Line: s.Line, Key: "no_match", Actual: strings.TrimSpace(text), Expected: "no setting matching " + c.NoMatch})
			}
		}
		if len(hits) > 0 {
			res.Status, res.Reason = posture.Fail, fmt.Sprintf("in %s, the setting at %s matches %s; expected none to", where, strings.Join(hits, ", "), c.NoMatch)
			return res
		}
		res.Status, res.Reason = posture.Pass, fmt.Sprintf("in %s, no setting matches %s", where, c.NoMatch)
		res.Evidence = []Evidence{{Source: c.Path, Key: "no_match", Actual: "no matching setting", Expected: "no setting matching " + c.NoMatch}}
		return res
	}
	s, ok := lookupConf(all, c.Section, c.Key, c.IgnoreKeyCase, c.FirstWins)
	return judgeConfig(c, where, s, ok)
}

func judgeConfig(c *catalog.ConfigCheck, where string, s confSettingAt, set bool) Result {
	expected := c.Expect.Describe()
	key := c.Key
	if c.Section != "" {
		key = "[" + c.Section + "] " + c.Key
	}
	res := Result{Resource: c.Path}
	var value, desc string
	switch {
	case set:
		value = s.Value
		desc = fmt.Sprintf("%s is %s at %s:%d", key, value, s.File, s.Line)
		res.Evidence = []Evidence{{Source: s.File, Line: s.Line, Key: key, Actual: value, Expected: expected}}
	case c.Default != "":
		value = c.Default
		desc = fmt.Sprintf("%s is not set in %s; the default %s applies", key, where, value)
		res.Evidence = []Evidence{{Source: c.Path, Key: key, Actual: value + " (default)", Expected: expected}}
	default:
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("%s is not set in %s; expected %s", key, where, expected)
		res.Evidence = []Evidence{{Source: c.Path, Key: key, Actual: "not set", Expected: expected}}
		return res
	}
	if ok, _ := c.Expect.Satisfied(value); ok {
		res.Status, res.Reason = posture.Pass, desc
	} else {
		res.Status, res.Reason = posture.Fail, desc+"; expected "+expected
	}
	return res
}

// errIsDir is what reading a directory as a file fails with.
const errIsDir = syscall.EISDIR

// defaultShellFiles are the system-wide shell start-up files.
var defaultShellFiles = []string{"/etc/profile", "/etc/profile.d/*.sh", "/etc/bash.bashrc"}

type shellSettingAt struct {
	facts.ShellSetting
	File string
}

// shellSettings reads the settings of the shell start-up files matching patterns, in order.
func (r *run) shellSettings(patterns []string) ([]shellSettingAt, []string, error) {
	var out []shellSettingAt
	var read []string
	for _, p := range patterns {
		matches, err := r.fs.Glob(p)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range matches {
			data, err := r.readFile(m)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errIsDir) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			read = append(read, m)
			for _, s := range facts.ParseShellSettings(data) {
				out = append(out, shellSettingAt{s, m})
			}
		}
	}
	return out, read, nil
}

func (r *run) checkShellProfile(c *catalog.ShellProfileCheck) Result {
	patterns := []string(c.Files)
	if len(patterns) == 0 {
		patterns = defaultShellFiles
	}
	resource := patterns[0]
	all, read, err := r.shellSettings(patterns)
	if err != nil {
		return errorResult(resource, readFailure(failedPath(err, resource), err))
	}
	where := strings.Join(patterns, ", ")
	if c.Umask != "" {
		return shellUmask(c, resource, where, all)
	}
	expected := c.Expect.Describe()
	res := Result{Resource: resource}
	var bad, good []string
	assigned, ro, ex := false, false, false
	for _, s := range all {
		if s.Name != c.Variable {
			continue
		}
		at := fmt.Sprintf("%s:%d", s.File, s.Line)
		if s.Assigned {
			assigned = true
			res.Evidence = append(res.Evidence, Evidence{Source: s.File, Line: s.Line, Key: c.Variable, Actual: s.Value, Expected: expected})
			if ok, _ := c.Expect.Satisfied(s.Value); ok {
				good = append(good, fmt.Sprintf("%s=%s at %s", c.Variable, s.Value, at))
			} else {
				bad = append(bad, fmt.Sprintf("%s=%s at %s; expected %s", c.Variable, s.Value, at, expected))
			}
		}
		ro = ro || s.Readonly
		ex = ex || s.Export
	}
	if !assigned {
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("%s is not set in %s (%d files read); expected %s", c.Variable, where, len(read), expected)
		res.Evidence = []Evidence{{Source: resource, Key: c.Variable, Actual: "not set", Expected: expected}}
		return res
	}
	if c.Readonly && !ro {
		bad = append(bad, c.Variable+" is never made read-only (readonly "+c.Variable+")")
		res.Evidence = append(res.Evidence, Evidence{Source: resource, Key: "readonly " + c.Variable, Actual: "no", Expected: "yes"})
	}
	if c.Export && !ex {
		bad = append(bad, c.Variable+" is never exported (export "+c.Variable+")")
		res.Evidence = append(res.Evidence, Evidence{Source: resource, Key: "export " + c.Variable, Actual: "no", Expected: "yes"})
	}
	if len(bad) > 0 {
		res.Status, res.Reason = posture.Fail, strings.Join(bad, "; ")
		return res
	}
	res.Status, res.Reason = posture.Pass, strings.Join(good, "; ")
	if c.Readonly || c.Export {
		res.Reason += " (read-only and exported)"
	}
	return res
}

func shellUmask(c *catalog.ShellProfileCheck, resource, where string, all []shellSettingAt) Result {
	need, _ := catalog.ParseMode(c.Umask)
	expected := fmt.Sprintf("%03o or stricter", need)
	res := Result{Resource: resource}
	var bad, good []string
	for _, s := range all {
		if s.Name != "umask" {
			continue
		}
		at := fmt.Sprintf("%s:%d", s.File, s.Line)
		res.Evidence = append(res.Evidence, Evidence{Source: s.File, Line: s.Line, Key: "umask", Actual: s.Value, Expected: expected})
		m, err := strconv.ParseUint(s.Value, 8, 32)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("umask %s at %s is not an octal mask (symbolic masks are not evaluated); expected %s", s.Value, at, expected))
		case uint32(m)&need != need:
			bad = append(bad, fmt.Sprintf("umask %s at %s leaves %03o open; expected %s", s.Value, at, need&^uint32(m), expected))
		default:
			good = append(good, fmt.Sprintf("umask %s at %s", s.Value, at))
		}
	}
	switch {
	case len(bad) > 0:
		res.Status, res.Reason = posture.Fail, strings.Join(bad, "; ")
	case len(good) == 0:
		res.Status, res.Reason = posture.Fail, fmt.Sprintf("no umask is set in %s; expected %s", where, expected)
		res.Evidence = []Evidence{{Source: resource, Key: "umask", Actual: "not set", Expected: expected}}
	default:
		res.Status, res.Reason = posture.Pass, strings.Join(good, "; ")
	}
	return res
}
