package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/facts"
	"github.com/palisadehq/palisade/pkg/posture"
)

func sshdConfigPath(c *catalog.SSHDCheck) string {
	if c.Config != "" {
		return c.Config
	}
	return sshdDefaultPath
}

func (r *run) checkSSHD(c *catalog.SSHDCheck) Result {
	main := sshdConfigPath(c)
	lines, err := r.sshdConfig(main)
	if errors.Is(err, fs.ErrNotExist) && failedPath(err, main) == main {
		return Result{Resource: main, Status: posture.Skip, Reason: fmt.Sprintf("not applicable: sshd is not configured here (%s does not exist)", main),
			Evidence: []Evidence{{Source: main, Key: "exists", Actual: "no"}}}
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return errorResult(main, readFailure(pe.Path, err))
		}
		return errorResult(main, fmt.Sprintf("cannot read the sshd configuration: %v", err))
	}
	key := strings.ToLower(c.Key)
	expected := c.Expect.Describe()
	var global *sshdLine
	var overrides []sshdLine
	for i := range lines {
		l := &lines[i]
		if l.Keyword != key {
			continue
		}
		if l.Match != "" {
			overrides = append(overrides, *l)
		} else if global == nil {
			global = l
		}
	}
	res := Result{Resource: main}
	var value, where string
	switch {
	case global != nil:
		value = global.Value()
		where = fmt.Sprintf("%s is %s at %s:%d", c.Key, value, global.File, global.Line)
		res.Evidence = append(res.Evidence, Evidence{Source: global.File, Line: global.Line, Key: c.Key, Actual: value, Expected: expected})
	default:
		def, ok := facts.SSHDDefault(key)
		if !ok {
			res.Status = posture.Fail
			res.Reason = fmt.Sprintf("%s is not set in %s and has no known default; expected %s", c.Key, main, expected)
			res.Evidence = []Evidence{{Source: main, Key: c.Key, Actual: "not set", Expected: expected}}
			return res
		}
		value = def
		where = fmt.Sprintf("%s is not set; the OpenSSH default %s applies", c.Key, def)
		res.Evidence = append(res.Evidence, Evidence{Source: main, Key: c.Key, Actual: def + " (default)", Expected: expected})
	}
	var notes []string
	for _, o := range overrides {
		res.Evidence = append(res.Evidence, Evidence{Source: o.File, Line: o.Line, Key: c.Key + " (Match " + o.Match + ")", Actual: o.Value(), Expected: expected})
		notes = append(notes, fmt.Sprintf("a Match block (%s) sets %s at %s:%d", o.Match, o.Value(), o.File, o.Line))
	}
	note := ""
	if len(notes) > 0 {
		note = " (" + strings.Join(notes, "; ") + ")"
	}
	if ok, _ := c.Expect.Satisfied(value); ok {
		res.Status = posture.Pass
		res.Reason = where + note
	} else {
		res.Status = posture.Fail
		res.Reason = where + "; expected " + expected + note
	}
	return res
}

func (r *run) checkSysctl(c *catalog.SysctlCheck) []Result {
	cfg, err := r.sysctlConfig()
	if err != nil {
		res := make([]Result, 0, len(c.Keys))
		for _, k := range c.Keys {
			res = append(res, errorResult(k, readFailure(failedPath(err, "the sysctl configuration"), err)))
		}
		return res
	}
	live := r.procSysExists()
	out := make([]Result, 0, len(c.Keys))
	for _, k := range c.Keys {
		out = append(out, r.checkSysctlKey(c, cfg, live, k))
	}
	return out
}

func (r *run) checkSysctlKey(c *catalog.SysctlCheck, cfg []sysctlAssignment, haveProc bool, key string) Result {
	expected := c.Expect.Describe()
	res := Result{Resource: key}
	var seen, bad []string
	judge := func(what, value string) {
		if ok, _ := c.Expect.Satisfied(value); !ok {
			bad = append(bad, what)
		}
	}
	conf, configured := lookupSysctl(cfg, key)
	switch {
	case configured:
		seen = append(seen, fmt.Sprintf("%s in %s:%d", conf.Value, conf.File, conf.Line))
		res.Evidence = append(res.Evidence, Evidence{Source: conf.File, Line: conf.Line, Key: key, Actual: conf.Value, Expected: expected})
		judge("configured", conf.Value)
	case c.Default != "":
		seen = append(seen, fmt.Sprintf("not configured (kernel default %s)", c.Default))
		res.Evidence = append(res.Evidence, Evidence{Key: key, Actual: c.Default + " (kernel default)", Expected: expected})
		judge("default", c.Default)
	}
	liveValue, haveLive := "", false
	if haveProc {
		p := procSysPathOf(key)
		data, err := r.readFile(p)
		switch {
		case err == nil:
			liveValue, haveLive = facts.NormalizeSysctlValue(string(data)), true
			seen = append(seen, fmt.Sprintf("%s live (%s)", liveValue, p))
			res.Evidence = append(res.Evidence, Evidence{Source: p, Key: key, Actual: liveValue, Expected: expected})
			judge("live", liveValue)
		case errors.Is(err, fs.ErrNotExist):
			seen = append(seen, "absent from the running kernel")
		default:
			return errorResult(key, readFailure(p, err))
		}
	}
	if !configured && c.Default == "" && !haveLive {
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("%s is not set; expected %s", key, expected)
		res.Evidence = append(res.Evidence, Evidence{Key: key, Actual: "not set", Expected: expected})
		return res
	}
	reason := key + " is " + strings.Join(seen, " and ")
	bootValue := c.Default
	if configured {
		bootValue = conf.Value
	}
	if haveLive && bootValue != "" && bootValue != liveValue {
		reason += "; the running value differs from the one applied at boot"
	}
	if len(bad) > 0 {
		res.Status = posture.Fail
		verb := "value does not comply"
		if len(bad) > 1 {
			verb = "values do not comply"
		}
		res.Reason = fmt.Sprintf("%s; expected %s (%s %s)", reason, expected, strings.Join(bad, " and "), verb)
		return res
	}
	res.Status = posture.Pass
	res.Reason = reason
	return res
}

func (r *run) checkPackages(c *catalog.PackageCheck) []Result {
	db, err := r.packages()
	out := make([]Result, 0, len(c.Names))
	for _, name := range c.Names {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out = append(out, Result{Resource: name, Status: posture.Skip,
				Reason:   fmt.Sprintf("not applicable: no package database (neither %s nor %s exists); package checks cover dpkg- and rpm-based systems", dpkgStatusPath, strings.Join(rpmDBPaths, " nor ")),
				Evidence: []Evidence{{Source: dpkgStatusPath, Key: "exists", Actual: "no"}, {Source: rpmDBPaths[0], Key: "exists", Actual: "no"}}})
			continue
		case err != nil:
			out = append(out, errorResult(name, readFailure(failedPath(err, db.Source), err)))
			continue
		}
		p, listed := db.Pkgs[name]
		installed := listed && p.Installed
		actual := "not installed"
		if listed {
			actual = p.Status
		}
		ev := Evidence{Source: db.Source, Line: p.Line, Key: name, Actual: actual, Expected: c.State}
		res := Result{Resource: name, Evidence: []Evidence{ev}}
		desc := name + " is not installed"
		if installed {
			desc = fmt.Sprintf("%s %s is installed", name, p.Version)
		} else if listed {
			desc = fmt.Sprintf("%s is not installed (dpkg status %q)", name, p.Status)
		}
		if db.Kind == "rpm" {
			desc += " (rpm database " + db.Source + ")"
		}
		if installed == (c.State == "installed") {
			res.Status, res.Reason = posture.Pass, desc
		} else {
			res.Status, res.Reason = posture.Fail, fmt.Sprintf("%s; expected %s", desc, c.State)
		}
		out = append(out, res)
	}
	return out
}

func (r *run) checkLoginDefs(c *catalog.LoginDefsCheck) Result {
	kvs, err := r.loginDefs()
	expected := c.Expect.Describe()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return errorResult(loginDefsPath, readFailure(loginDefsPath, err))
	}
	res := Result{Resource: loginDefsPath}
	var value, where string
	if kv, ok := facts.Lookup(kvs, c.Key, false, true); ok {
		value = kv.Value
		where = fmt.Sprintf("%s is %s at %s:%d", c.Key, kv.Value, loginDefsPath, kv.Line)
		res.Evidence = []Evidence{{Source: loginDefsPath, Line: kv.Line, Key: c.Key, Actual: kv.Value, Expected: expected}}
	} else if c.Default != "" {
		value = c.Default
		where = fmt.Sprintf("%s is not set in %s; the built-in default %s applies", c.Key, loginDefsPath, c.Default)
		res.Evidence = []Evidence{{Source: loginDefsPath, Key: c.Key, Actual: c.Default + " (default)", Expected: expected}}
	} else {
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("%s is not set in %s; expected %s", c.Key, loginDefsPath, expected)
		res.Evidence = []Evidence{{Source: loginDefsPath, Key: c.Key, Actual: "not set", Expected: expected}}
		return res
	}
	if ok, _ := c.Expect.Satisfied(value); ok {
		res.Status, res.Reason = posture.Pass, where
	} else {
		res.Status, res.Reason = posture.Fail, where+"; expected "+expected
	}
	return res
}

func (r *run) checkAccounts(c *catalog.AccountsCheck) []Result {
	switch c.Rule {
	case catalog.RuleOnlyRootUID0, catalog.RuleOnlyRootGID0, catalog.RuleShadowedPasswords:
		pw, err := r.passwd()
		if err != nil {
			return []Result{errorResult(passwdPath, readFailure(passwdPath, err))}
		}
		var out []Result
		for _, e := range pw {
			var reason string
			var key, actual, expected string
			switch c.Rule {
			case catalog.RuleOnlyRootUID0:
				if e.UID == 0 && e.Name != "root" {
					key, actual, expected = "uid", "0", "not 0"
					reason = fmt.Sprintf("account %s has uid 0 at %s:%d; only root may", e.Name, passwdPath, e.Line)
				}
			case catalog.RuleOnlyRootGID0:
				if e.GID == 0 && !gid0Exempt[e.Name] {
					key, actual, expected = "gid", "0", "not 0"
					reason = fmt.Sprintf("account %s has primary group 0 at %s:%d; only root may", e.Name, passwdPath, e.Line)
				}
			case catalog.RuleShadowedPasswords:
				if e.Password != "x" {
					key, actual, expected = "password field", redact(e.Password), "x"
					reason = fmt.Sprintf("account %s keeps its password in %s:%d instead of %s", e.Name, passwdPath, e.Line, shadowPath)
				}
			}
			if reason != "" {
				out = append(out, Result{Resource: e.Name, Status: posture.Fail, Reason: reason,
					Evidence: []Evidence{{Source: passwdPath, Line: e.Line, Key: key, Actual: actual, Expected: expected}}})
			}
		}
		if len(out) > 0 {
			return out
		}
		reasons := map[string]string{
			catalog.RuleOnlyRootUID0:      "only root has uid 0",
			catalog.RuleOnlyRootGID0:      "only root has primary group 0",
			catalog.RuleShadowedPasswords: "every account's password is kept in " + shadowPath,
		}
		return []Result{{Resource: passwdPath, Status: posture.Pass, Reason: fmt.Sprintf("%s (%d accounts in %s)", reasons[c.Rule], len(pw), passwdPath),
			Evidence: []Evidence{{Source: passwdPath, Key: "accounts", Actual: fmt.Sprint(len(pw))}}}}
	case catalog.RuleNoEmptyPasswords:
		sh, err := r.shadow()
		if err != nil {
			return []Result{errorResult(shadowPath, readFailure(shadowPath, err))}
		}
		var out []Result
		for _, e := range sh {
			if e.Hash == "" {
				out = append(out, Result{Resource: e.Name, Status: posture.Fail,
					Reason:   fmt.Sprintf("account %s has an empty password at %s:%d; anyone can log in as it without a password", e.Name, shadowPath, e.Line),
					Evidence: []Evidence{{Source: shadowPath, Line: e.Line, Key: "password", Actual: "empty", Expected: "a hash or a locked marker (! or *)"}}})
			}
		}
		if len(out) > 0 {
			return out
		}
		return []Result{{Resource: shadowPath, Status: posture.Pass, Reason: fmt.Sprintf("no account has an empty password (%d entries in %s)", len(sh), shadowPath),
			Evidence: []Evidence{{Source: shadowPath, Key: "accounts", Actual: fmt.Sprint(len(sh))}}}}
	}
	if res, ok := r.checkMoreAccounts(c); ok {
		return res
	}
	return []Result{errorResult(HostResource, fmt.Sprintf("unknown accounts rule %q", c.Rule))}
}

// gid0Exempt are system accounts that some distributions give primary group 0 by design.
var gid0Exempt = map[string]bool{"root": true, "sync": true, "shutdown": true, "halt": true, "operator": true}

// redact hides a password hash, keeping only whether there is one.
func redact(s string) string {
	if s == "" {
		return "empty"
	}
	return "a password hash"
}
