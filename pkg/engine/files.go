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

// missingResult is the result for a file that does not exist, per the check's if_missing.
func missingResult(p, ifMissing string) Result {
	switch ifMissing {
	case catalog.MissingSkip:
		return Result{Resource: p, Status: posture.Skip, Reason: fmt.Sprintf("not applicable: %s does not exist", p),
			Evidence: []Evidence{{Source: p, Key: "exists", Actual: "no"}}}
	case catalog.MissingPass:
		return Result{Resource: p, Status: posture.Pass, Reason: fmt.Sprintf("%s does not exist", p),
			Evidence: []Evidence{{Source: p, Key: "exists", Actual: "no"}}}
	}
	return Result{Resource: p, Status: posture.Fail, Reason: fmt.Sprintf("%s does not exist; expected it to exist", p),
		Evidence: []Evidence{{Source: p, Key: "exists", Actual: "no", Expected: "yes"}}}
}

// unixMode returns the permission bits of fi as chmod writes them (setuid 04000 ...).
func unixMode(fi fs.FileInfo) uint32 {
	m := uint32(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

func (r *run) checkFile(c *catalog.FileCheck) Result {
	p := c.Path
	fi, err := r.stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		if c.State == "absent" {
			return Result{Resource: p, Status: posture.Pass, Reason: fmt.Sprintf("%s does not exist", p),
				Evidence: []Evidence{{Source: p, Key: "exists", Actual: "no", Expected: "no"}}}
		}
		return missingResult(p, c.IfMissing)
	}
	if err != nil {
		return errorResult(p, fmt.Sprintf("cannot inspect %s: %s", p, osReason(err)))
	}
	if c.State == "absent" {
		return Result{Resource: p, Status: posture.Fail, Reason: fmt.Sprintf("%s exists; expected it to be absent", p),
			Evidence: []Evidence{{Source: p, Key: "exists", Actual: "yes", Expected: "no"}}}
	}
	var ev []Evidence
	var bad, good []string
	if c.MaxMode != "" {
		maxMode, _ := catalog.ParseMode(c.MaxMode)
		mode := unixMode(fi)
		actual, expected := fmt.Sprintf("%04o", mode), fmt.Sprintf("%04o or stricter", maxMode)
		ev = append(ev, Evidence{Source: p, Key: "mode", Actual: actual, Expected: expected})
		if mode&^maxMode != 0 {
			bad = append(bad, fmt.Sprintf("mode %s (%04o too permissive); expected %s", actual, mode&^maxMode, expected))
		} else {
			good = append(good, "mode "+actual)
		}
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	for _, o := range []struct {
		what    string
		allowed catalog.StringList
	}{{"owner", c.Owner}, {"group", c.Group}} {
		if len(o.allowed) == 0 {
			continue
		}
		if st == nil {
			return errorResult(p, fmt.Sprintf("cannot tell the %s of %s on this platform", o.what, p))
		}
		id := int64(st.Uid)
		if o.what == "group" {
			id = int64(st.Gid)
		}
		ids, err := r.resolveIDs(o.what, o.allowed)
		if err != nil {
			return errorResult(p, fmt.Sprintf("cannot resolve the allowed %s names: %s", o.what, err))
		}
		actual := r.idName(o.what, id)
		expected := strings.Join(o.allowed, " or ")
		ev = append(ev, Evidence{Source: p, Key: o.what, Actual: actual, Expected: expected})
		if ids[id] {
			good = append(good, o.what+" "+actual)
		} else {
			bad = append(bad, fmt.Sprintf("%s %s; expected %s", o.what, actual, expected))
		}
	}
	if len(bad) > 0 {
		return Result{Resource: p, Status: posture.Fail, Reason: fmt.Sprintf("%s has %s", p, strings.Join(bad, "; ")), Evidence: ev}
	}
	reason := p + " exists"
	if len(good) > 0 {
		reason = fmt.Sprintf("%s has %s", p, strings.Join(good, ", "))
	}
	if len(ev) == 0 {
		ev = []Evidence{{Source: p, Key: "exists", Actual: "yes", Expected: "yes"}}
	}
	return Result{Resource: p, Status: posture.Pass, Reason: reason, Evidence: ev}
}

// resolveIDs maps allowed owner or group names (or numbers) to ids through the host's
// passwd or group file. root is uid/gid 0 whatever the files say. Names the files do not
// define are left out: such an owner cannot exist on the host.
func (r *run) resolveIDs(what string, names []string) (map[int64]bool, error) {
	ids := map[int64]bool{}
	var table map[string]int64
	for _, n := range names {
		if id, err := strconv.ParseUint(n, 10, 32); err == nil {
			ids[int64(id)] = true
			continue
		}
		if n == "root" {
			ids[0] = true
			continue
		}
		if table == nil {
			var err error
			if table, err = r.idTable(what); err != nil {
				return nil, err
			}
		}
		if id, ok := table[n]; ok {
			ids[id] = true
		}
	}
	return ids, nil
}

func (r *run) idTable(what string) (map[string]int64, error) {
	t := map[string]int64{}
	if what == "owner" {
		pw, err := r.passwd()
		if err != nil {
			return nil, fmt.Errorf("%s: %s", passwdPath, osReason(err))
		}
		for _, e := range pw {
			if _, dup := t[e.Name]; !dup && e.UID >= 0 {
				t[e.Name] = e.UID
			}
		}
		return t, nil
	}
	gr, err := r.groups()
	if err != nil {
		return nil, fmt.Errorf("%s: %s", groupPath, osReason(err))
	}
	for _, e := range gr {
		if _, dup := t[e.Name]; !dup && e.GID >= 0 {
			t[e.Name] = e.GID
		}
	}
	return t, nil
}

// idName renders an id with its name when the host's files know it: "shadow (42)".
func (r *run) idName(what string, id int64) string {
	if what == "owner" {
		if pw, err := r.passwd(); err == nil {
			for _, e := range pw {
				if e.UID == id {
					return fmt.Sprintf("%s (%d)", e.Name, id)
				}
			}
		}
	} else if gr, err := r.groups(); err == nil {
		for _, e := range gr {
			if e.GID == id {
				return fmt.Sprintf("%s (%d)", e.Name, id)
			}
		}
	}
	return strconv.FormatInt(id, 10)
}

func (r *run) checkFileContent(c *catalog.FileContentCheck) Result {
	p := c.Path
	data, err := r.readFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return missingResult(p, c.IfMissing)
	}
	if err != nil {
		return errorResult(p, readFailure(p, err))
	}
	var ev []Evidence
	var bad, good []string
	text := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	if c.Match != "" {
		re, err := regexp.Compile(c.Match)
		if err != nil {
			return errorResult(p, fmt.Sprintf("the check's match expression is not valid: %v", err))
		}
		found := false
		for i, line := range text {
			if re.MatchString(line) {
				found = true
				ev = append(ev, Evidence{Source: p, Line: i + 1, Key: "match", Actual: line, Expected: c.Match})
				good = append(good, fmt.Sprintf("line %d matches %s", i+1, c.Match))
				break
			}
		}
		if !found {
			ev = append(ev, Evidence{Source: p, Key: "match", Actual: "no matching line", Expected: c.Match})
			bad = append(bad, fmt.Sprintf("no line matches %s", c.Match))
		}
	}
	if c.NoMatch != "" {
		re, err := regexp.Compile(c.NoMatch)
		if err != nil {
			return errorResult(p, fmt.Sprintf("the check's no_match expression is not valid: %v", err))
		}
		var hits []string
		for i, line := range text {
			if re.MatchString(line) {
				ev = append(ev, Evidence{Source: p, Line: i + 1, Key: "no_match", Actual: line, Expected: "no line matching " + c.NoMatch})
				hits = append(hits, strconv.Itoa(i+1))
			}
		}
		if len(hits) > 0 {
			bad = append(bad, fmt.Sprintf("line %s matches %s; expected no line to match", strings.Join(hits, ", "), c.NoMatch))
		} else {
			good = append(good, "no line matches "+c.NoMatch)
		}
	}
	if c.Key != "" {
		kvs := facts.ParseKeyValue(data, c.Separator, c.Comment)
		kv, ok := facts.Lookup(kvs, c.Key, c.IgnoreKeyCase, c.LastWins)
		expected := c.Expect.Describe()
		switch {
		case ok:
			e := Evidence{Source: p, Line: kv.Line, Key: c.Key, Actual: kv.Value, Expected: expected}
			ev = append(ev, e)
			if sat, _ := c.Expect.Satisfied(kv.Value); sat {
				good = append(good, fmt.Sprintf("%s is %s at line %d", c.Key, kv.Value, kv.Line))
			} else {
				bad = append(bad, fmt.Sprintf("%s is %s at line %d; expected %s", c.Key, kv.Value, kv.Line, expected))
			}
		case c.Default != "":
			ev = append(ev, Evidence{Source: p, Key: c.Key, Actual: c.Default + " (default)", Expected: expected})
			if sat, _ := c.Expect.Satisfied(c.Default); sat {
				good = append(good, fmt.Sprintf("%s is not set; the default %s applies", c.Key, c.Default))
			} else {
				bad = append(bad, fmt.Sprintf("%s is not set; the default %s applies; expected %s", c.Key, c.Default, expected))
			}
		default:
			ev = append(ev, Evidence{Source: p, Key: c.Key, Actual: "not set", Expected: expected})
			bad = append(bad, fmt.Sprintf("%s is not set; expected %s", c.Key, expected))
		}
	}
	if len(bad) > 0 {
		return Result{Resource: p, Status: posture.Fail, Reason: fmt.Sprintf("in %s, %s", p, strings.Join(bad, "; ")), Evidence: ev}
	}
	return Result{Resource: p, Status: posture.Pass, Reason: fmt.Sprintf("in %s, %s", p, strings.Join(good, "; ")), Evidence: ev}
}
