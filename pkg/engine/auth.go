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

// Host paths of the authentication and privilege checks.
const (
	pamDir             = "/etc/pam.d"
	sudoersDefaultPath = "/etc/sudoers"
)

// pamRule is a rule of an expanded PAM service with the file it came from.
type pamRule struct {
	facts.PAMLine
	File string
}

// pamServicePath maps a service name to its file.
func pamServicePath(s string) string {
	if strings.HasPrefix(s, "/") {
		return s
	}
	return path.Join(pamDir, s)
}

// pamService returns the rules of a PAM service file with @include (every rule of the file),
// include and substack (the rules of the including line's type) expanded in place.
func (r *run) pamService(file string) ([]pamRule, error) {
	return fact(r, "pam:"+file, func() ([]pamRule, error) {
		var out []pamRule
		var expand func(file, onlyType string, depth int) error
		expand = func(file, onlyType string, depth int) error {
			data, err := r.readFile(file)
			if err != nil {
				return err
			}
			for _, l := range facts.ParsePAM(data) {
				if onlyType != "" && l.Type != "@include" && l.Type != onlyType {
					continue
				}
				inc, ok := l.Includes()
				if !ok {
					out = append(out, pamRule{l, file})
					continue
				}
				if depth >= maxIncludeDepth {
					return fmt.Errorf("%s:%d: includes nested more than %d deep", file, l.Line, maxIncludeDepth)
				}
				typ := onlyType
				if l.Type != "@include" {
					typ = l.Type
				}
				if err := expand(pamServicePath(inc), typ, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		return out, expand(file, "", 0)
	})
}

// confSettingAt is a configuration setting with the file it came from.
type confSettingAt struct {
	facts.ConfSetting
	File string
}

// confFiles returns the files of a configuration in the order they are applied: the main
// file then the drop-ins sorted by name (a name in an earlier directory hiding the same name
// in later ones), or the drop-ins first.
func (r *run) confFiles(main string, dirs []string, suffix string, dropInsFirst bool) ([]string, error) {
	if suffix == "" {
		suffix = ".conf"
	}
	chosen := map[string]string{}
	for _, dir := range dirs {
		ents, err := r.fs.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if !strings.HasSuffix(e.Name(), suffix) || e.IsDir() {
				continue
			}
			if _, seen := chosen[e.Name()]; !seen {
				chosen[e.Name()] = path.Join(dir, e.Name())
			}
		}
	}
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	sort.Strings(names)
	drop := make([]string, 0, len(names))
	for _, n := range names {
		drop = append(drop, chosen[n])
	}
	if dropInsFirst {
		return append(drop, main), nil
	}
	return append([]string{main}, drop...), nil
}

// confSettings reads a configuration's settings in application order; found is false when
// none of its files exists.
func (r *run) confSettings(main string, dirs []string, suffix string, dropInsFirst bool, format string) (all []confSettingAt, found bool, err error) {
	files, err := r.confFiles(main, dirs, suffix, dropInsFirst)
	if err != nil {
		return nil, false, err
	}
	for _, f := range files {
		data, err := r.readFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		found = true
		for _, s := range facts.ParseConf(data, format) {
			all = append(all, confSettingAt{s, f})
		}
	}
	return all, found, nil
}

// lookupConf returns the effective setting of key: the last one (or the first).
func lookupConf(all []confSettingAt, section, key string, fold, firstWins bool) (confSettingAt, bool) {
	var v confSettingAt
	ok := false
	for _, s := range all {
		if s.Section != section || !(s.Key == key || (fold && strings.EqualFold(s.Key, key))) {
			continue
		}
		v, ok = s, true
		if firstWins {
			break
		}
	}
	return v, ok
}

func (r *run) checkPAM(c *catalog.PAMCheck) []Result {
	var cfg []confSettingAt
	if c.Config != "" {
		var err error
		if cfg, _, err = r.confSettings(c.Config, c.ConfigDirs, "", true, facts.ConfEquals); err != nil {
			out := make([]Result, 0, len(c.Services))
			for _, s := range c.Services {
				out = append(out, errorResult(pamServicePath(s), readFailure(failedPath(err, c.Config), err)))
			}
			return out
		}
	}
	out := make([]Result, 0, len(c.Services))
	for _, s := range c.Services {
		out = append(out, r.checkPAMService(c, pamServicePath(s), cfg))
	}
	return out
}

func (r *run) checkPAMService(c *catalog.PAMCheck, file string, cfg []confSettingAt) Result {
	module := strings.TrimSuffix(c.Module, ".so")
	rules, err := r.pamService(file)
	if errors.Is(err, fs.ErrNotExist) && failedPath(err, file) == file {
		return missingResult(file, c.IfMissing)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return errorResult(file, readFailure(pe.Path, err))
		}
		return errorResult(file, fmt.Sprintf("cannot read the PAM service %s: %v", file, err))
	}
	typ := c.Type
	what := module
	if typ != "" {
		what = fmt.Sprintf("%s (%s)", module, typ)
	}
	var used []pamRule
	for _, l := range rules {
		if l.ModuleName() == module && (typ == "" || l.Type == typ) {
			used = append(used, l)
		}
	}
	res := Result{Resource: file}
	if c.State == "absent" {
		if len(used) == 0 {
			res.Status, res.Reason = posture.Pass, fmt.Sprintf("%s does not use %s", file, what)
			res.Evidence = []Evidence{{Source: file, Key: module, Actual: "not used", Expected: "not used"}}
			return res
		}
		var where []string
		for _, l := range used {
			where = append(where, fmt.Sprintf("%s:%d", l.File, l.Line))
			res.Evidence = append(res.Evidence, Evidence{Source: l.File, Line: l.Line, Key: module, Actual: pamText(l.PAMLine), Expected: "not used"})
		}
		res.Status, res.Reason = posture.Fail, fmt.Sprintf("%s uses %s at %s; expected it not to", file, what, strings.Join(where, ", "))
		return res
	}
	if len(used) == 0 && c.Arg == "" && len(c.Require) == 0 && len(c.RequireOneOf) == 0 && len(c.Forbid) > 0 {
		res.Status, res.Reason = posture.Pass, fmt.Sprintf("%s does not use %s, so no line carries %s", file, what, strings.Join(c.Forbid, " or "))
		res.Evidence = []Evidence{{Source: file, Key: module, Actual: "not used", Expected: "no " + strings.Join(c.Forbid, ", ")}}
		return res
	}
	if len(used) == 0 {
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("%s does not use %s (includes expanded); expected it to", file, what)
		res.Evidence = []Evidence{{Source: file, Key: module, Actual: "not used", Expected: "a " + what + " line"}}
		return res
	}
	var bad, good []string
	for _, l := range used {
		at := fmt.Sprintf("%s:%d", l.File, l.Line)
		lineOK := true
		if c.Arg != "" {
			expected := c.Expect.Describe()
			value, src, line, set := "", l.File, l.Line, false
			if v, ok := l.Arg(c.Arg); ok {
				value, set = v, true
			} else if s, ok := lookupConf(cfg, "", c.Arg, false, false); ok && !s.Bare {
				value, src, line, set = s.Value, s.File, s.Line, true
			}
			switch {
			case set:
				res.Evidence = append(res.Evidence, Evidence{Source: src, Line: line, Key: c.Arg, Actual: value, Expected: expected})
				if ok, _ := c.Expect.Satisfied(value); ok {
					good = append(good, fmt.Sprintf("%s=%s (%s:%d)", c.Arg, value, src, line))
				} else {
					lineOK = false
					bad = append(bad, fmt.Sprintf("%s is %s at %s:%d for the line at %s; expected %s", c.Arg, value, src, line, at, expected))
				}
			case c.Default != "":
				res.Evidence = append(res.Evidence, Evidence{Source: l.File, Line: l.Line, Key: c.Arg, Actual: c.Default + " (default)", Expected: expected})
				if ok, _ := c.Expect.Satisfied(c.Default); ok {
					good = append(good, fmt.Sprintf("%s is not set, the default %s applies (%s)", c.Arg, c.Default, at))
				} else {
					lineOK = false
					bad = append(bad, fmt.Sprintf("%s is not set for the line at %s, so the default %s applies; expected %s", c.Arg, at, c.Default, expected))
				}
			default:
				lineOK = false
				res.Evidence = append(res.Evidence, Evidence{Source: l.File, Line: l.Line, Key: c.Arg, Actual: "not set", Expected: expected})
				bad = append(bad, fmt.Sprintf("%s is not set for the line at %s; expected %s", c.Arg, at, expected))
			}
		}
		has := func(flag string) (string, bool) {
			if l.HasArg(flag) {
				res.Evidence = append(res.Evidence, Evidence{Source: l.File, Line: l.Line, Key: flag, Actual: "set", Expected: "set"})
				return at, true
			}
			if s, ok := lookupConf(cfg, "", flag, false, false); ok && (s.Bare || (s.Value != "" && s.Value != "0")) {
				actual := "set"
				if !s.Bare {
					actual = s.Value
				}
				res.Evidence = append(res.Evidence, Evidence{Source: s.File, Line: s.Line, Key: flag, Actual: actual, Expected: "set"})
				return fmt.Sprintf("%s:%d", s.File, s.Line), true
			}
			return "", false
		}
		for _, f := range c.Require {
			if src, ok := has(f); ok {
				good = append(good, fmt.Sprintf("%s set (%s)", f, src))
			} else {
				lineOK = false
				res.Evidence = append(res.Evidence, Evidence{Source: l.File, Line: l.Line, Key: f, Actual: "not set", Expected: "set"})
				bad = append(bad, fmt.Sprintf("%s is not set for the line at %s; expected it to be", f, at))
			}
		}
		if len(c.RequireOneOf) > 0 {
			found := ""
			for _, f := range c.RequireOneOf {
				if src, ok := has(f); ok {
					found = fmt.Sprintf("%s set (%s)", f, src)
					break
				}
			}
			if found != "" {
				good = append(good, found)
			} else {
				lineOK = false
				res.Evidence = append(res.Evidence, Evidence{Source: l.File, Line: l.Line, Key: strings.Join(c.RequireOneOf, "|"), Actual: "none set", Expected: "one of " + strings.Join(c.RequireOneOf, ", ")})
				bad = append(bad, fmt.Sprintf("the line at %s sets none of %s; expected one", at, strings.Join(c.RequireOneOf, ", ")))
			}
		}
		for _, f := range c.Forbid {
			if l.HasArg(f) {
				lineOK = false
				res.Evidence = append(res.Evidence, Evidence{Source: l.File, Line: l.Line, Key: f, Actual: "set", Expected: "not set"})
				bad = append(bad, fmt.Sprintf("the line at %s has %s; expected it not to", at, f))
			}
		}
		switch {
		case !lineOK || c.Arg != "" || len(c.Require) > 0 || len(c.RequireOneOf) > 0:
		case len(c.Forbid) > 0:
			res.Evidence = append(res.Evidence, Evidence{Source: l.File, Line: l.Line, Key: strings.Join(c.Forbid, "|"), Actual: "not set", Expected: "not set"})
			good = append(good, fmt.Sprintf("the line at %s has no %s", at, strings.Join(c.Forbid, " or ")))
		default:
			res.Evidence = append(res.Evidence, Evidence{Source: l.File, Line: l.Line, Key: module, Actual: pamText(l.PAMLine), Expected: "a " + what + " line"})
			good = append(good, "used at "+at)
		}
	}
	if len(bad) > 0 {
		res.Status, res.Reason = posture.Fail, fmt.Sprintf("%s in %s: %s", what, file, strings.Join(bad, "; "))
		return res
	}
	res.Status, res.Reason = posture.Pass, fmt.Sprintf("%s in %s: %s", what, file, strings.Join(dedupe(good), "; "))
	return res
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func pamText(l facts.PAMLine) string {
	t := l.Type
	if l.Optional {
		t = "-" + t
	}
	return strings.TrimSpace(strings.Join(append([]string{t, l.Control, l.Module}, l.Args...), " "))
}

// sudoersLine is an entry of the effective sudoers policy with the file it came from.
type sudoersLine struct {
	facts.SudoersEntry
	File string
}

// sudoers returns the entries of the sudoers policy rooted at main, includes expanded in
// place. A relative include is resolved against the including file's directory; an
// included directory's files are read in name order, skipping names that hold a "." or end
// in "~".
func (r *run) sudoers(main string) ([]sudoersLine, error) {
	return fact(r, "sudoers:"+main, func() ([]sudoersLine, error) {
		var out []sudoersLine
		var expand func(file string, depth int) error
		expand = func(file string, depth int) error {
			data, err := r.readFile(file)
			if err != nil {
				return err
			}
			for _, e := range facts.ParseSudoers(data) {
				if e.Kind != facts.SudoersInclude && e.Kind != facts.SudoersIncludeDir {
					out = append(out, sudoersLine{e, file})
					continue
				}
				if depth >= maxIncludeDepth {
					return fmt.Errorf("%s:%d: includes nested more than %d deep", file, e.Line, maxIncludeDepth)
				}
				p := e.Path
				if !path.IsAbs(p) {
					p = path.Join(path.Dir(file), p)
				}
				p = path.Clean(p)
				if e.Kind == facts.SudoersInclude {
					// sudo warns about and skips an include that does not exist.
					if err := expand(p, depth+1); err != nil && !(errors.Is(err, fs.ErrNotExist) && failedPath(err, p) == p) {
						return err
					}
					continue
				}
				ents, err := r.fs.ReadDir(p)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					return err
				}
				names := make([]string, 0, len(ents))
				for _, ent := range ents {
					n := ent.Name()
					if ent.IsDir() || strings.Contains(n, ".") || strings.HasSuffix(n, "~") {
						continue
					}
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					if err := expand(path.Join(p, n), depth+1); err != nil {
						return err
					}
				}
			}
			return nil
		}
		return out, expand(main, 0)
	})
}

func sudoersMain(c *catalog.SudoersCheck) string {
	if c.Config != "" {
		return c.Config
	}
	return sudoersDefaultPath
}

// sudoDefaultValue renders a Defaults setting's value: flags read "on" or "off".
func sudoDefaultValue(d facts.SudoDefault) string {
	switch {
	case d.Op == "" && d.Negated:
		return "off"
	case d.Op == "":
		return "on"
	case d.Negated:
		return "off"
	}
	return d.Value
}

func (r *run) checkSudoers(c *catalog.SudoersCheck) []Result {
	main := sudoersMain(c)
	lines, err := r.sudoers(main)
	if errors.Is(err, fs.ErrNotExist) && failedPath(err, main) == main {
		return []Result{{Resource: main, Status: posture.Skip, Reason: fmt.Sprintf("not applicable: sudo is not configured here (%s does not exist)", main),
			Evidence: []Evidence{{Source: main, Key: "exists", Actual: "no"}}}}
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return []Result{errorResult(main, readFailure(pe.Path, err))}
		}
		return []Result{errorResult(main, fmt.Sprintf("cannot read the sudoers policy: %v", err))}
	}
	if c.ForbidTag != "" {
		return sudoersForbidTag(c, main, lines)
	}
	return []Result{sudoersDefault(c, main, lines)}
}

func sudoersForbidTag(c *catalog.SudoersCheck, main string, lines []sudoersLine) []Result {
	byFile := map[string]*Result{}
	var order []string
	for _, l := range lines {
		if l.Kind != facts.SudoersUserSpec {
			continue
		}
		found := false
		for _, t := range l.Tags {
			found = found || t == c.ForbidTag
		}
		if !found {
			continue
		}
		res, ok := byFile[l.File]
		if !ok {
			res = &Result{Resource: l.File, Status: posture.Fail}
			byFile[l.File] = res
			order = append(order, l.File)
		}
		res.Evidence = append(res.Evidence, Evidence{Source: l.File, Line: l.Line, Key: c.ForbidTag, Actual: l.Text, Expected: "no " + c.ForbidTag + " tag"})
	}
	if len(order) == 0 {
		return []Result{{Resource: main, Status: posture.Pass, Reason: fmt.Sprintf("no rule of the sudoers policy (%s and its includes) carries %s", main, c.ForbidTag),
			Evidence: []Evidence{{Source: main, Key: c.ForbidTag, Actual: "not used", Expected: "not used"}}}}
	}
	out := make([]Result, 0, len(order))
	for _, f := range order {
		res := byFile[f]
		var at []string
		for _, e := range res.Evidence {
			at = append(at, fmt.Sprintf("%s:%d", e.Source, e.Line))
		}
		res.Reason = fmt.Sprintf("the sudoers rule at %s carries %s; expected no rule to", strings.Join(at, ", "), c.ForbidTag)
		out = append(out, *res)
	}
	return out
}

func sudoersDefault(c *catalog.SudoersCheck, main string, lines []sudoersLine) Result {
	expected := c.Expect.Describe()
	res := Result{Resource: main}
	var global *sudoersLine
	var globalValue string
	var scopedBad, notes []string
	for i := range lines {
		l := &lines[i]
		if l.Kind != facts.SudoersDefaults {
			continue
		}
		for _, d := range l.Settings {
			if d.Name != c.Default {
				continue
			}
			v := sudoDefaultValue(d)
			if l.Scope == "" {
				global, globalValue = l, v
				continue
			}
			res.Evidence = append(res.Evidence, Evidence{Source: l.File, Line: l.Line, Key: "Defaults" + l.Scope + " " + c.Default, Actual: v, Expected: expected})
			if ok, _ := c.Expect.Satisfied(v); !ok {
				scopedBad = append(scopedBad, fmt.Sprintf("Defaults%s sets %s to %s at %s:%d", l.Scope, c.Default, v, l.File, l.Line))
			} else {
				notes = append(notes, fmt.Sprintf("Defaults%s sets it to %s at %s:%d", l.Scope, v, l.File, l.Line))
			}
		}
	}
	var value, where string
	switch {
	case global != nil:
		value = globalValue
		where = fmt.Sprintf("%s is %s at %s:%d", c.Default, value, global.File, global.Line)
		res.Evidence = append([]Evidence{{Source: global.File, Line: global.Line, Key: c.Default, Actual: value, Expected: expected}}, res.Evidence...)
	case c.IfUnset != "":
		value = c.IfUnset
		where = fmt.Sprintf("%s is not set in %s or its includes; sudo's default %s applies", c.Default, main, value)
		res.Evidence = append([]Evidence{{Source: main, Key: c.Default, Actual: value + " (default)", Expected: expected}}, res.Evidence...)
	default:
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("%s is not set in %s or its includes; expected %s", c.Default, main, expected)
		res.Evidence = append([]Evidence{{Source: main, Key: c.Default, Actual: "not set", Expected: expected}}, res.Evidence...)
		return res
	}
	ok, _ := c.Expect.Satisfied(value)
	switch {
	case !ok:
		res.Status, res.Reason = posture.Fail, where+"; expected "+expected
		if len(scopedBad) > 0 {
			res.Reason += "; also " + strings.Join(scopedBad, "; ")
		}
	case len(scopedBad) > 0:
		res.Status, res.Reason = posture.Fail, where+", but "+strings.Join(scopedBad, "; ")+"; expected "+expected+" everywhere"
	default:
		res.Status, res.Reason = posture.Pass, where
		if len(notes) > 0 {
			res.Reason += " (" + strings.Join(notes, "; ") + ")"
		}
	}
	return res
}
