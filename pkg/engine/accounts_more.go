package engine

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/facts"
	"github.com/palisadehq/palisade/pkg/posture"
)

// nologinShells are shells that refuse interactive logins.
var nologinShells = map[string]bool{"/usr/sbin/nologin": true, "/sbin/nologin": true, "/bin/false": true, "/usr/bin/false": true}

// systemAccountsExempt are system accounts whose shell is a special program by design.
var systemAccountsExempt = map[string]bool{"root": true, "sync": true, "shutdown": true, "halt": true}

// checkMoreAccounts evaluates the account rules of check_auth.go; handled is false for a
// rule it does not know.
func (r *run) checkMoreAccounts(c *catalog.AccountsCheck) ([]Result, bool) {
	switch c.Rule {
	case catalog.RuleUniqueUIDs, catalog.RuleUniqueUserNames:
		pw, err := r.passwd()
		if err != nil {
			return []Result{errorResult(passwdPath, readFailure(passwdPath, err))}, true
		}
		what, key := "uid", func(e facts.PasswdEntry) string { return strconv.FormatInt(e.UID, 10) }
		if c.Rule == catalog.RuleUniqueUserNames {
			what, key = "name", func(e facts.PasswdEntry) string { return e.Name }
		}
		groups := map[string][]facts.PasswdEntry{}
		for _, e := range pw {
			if e.UID < 0 && what == "uid" {
				continue
			}
			groups[key(e)] = append(groups[key(e)], e)
		}
		return duplicates(passwdPath, "account", what, len(pw), groups, func(e facts.PasswdEntry) (string, int) { return e.Name, e.Line }), true
	case catalog.RuleUniqueGIDs, catalog.RuleUniqueGroupNames:
		gr, err := r.groups()
		if err != nil {
			return []Result{errorResult(groupPath, readFailure(groupPath, err))}, true
		}
		what, key := "gid", func(e facts.GroupEntry) string { return strconv.FormatInt(e.GID, 10) }
		if c.Rule == catalog.RuleUniqueGroupNames {
			what, key = "name", func(e facts.GroupEntry) string { return e.Name }
		}
		groups := map[string][]facts.GroupEntry{}
		for _, e := range gr {
			if e.GID < 0 && what == "gid" {
				continue
			}
			groups[key(e)] = append(groups[key(e)], e)
		}
		return duplicates(groupPath, "group", what, len(gr), groups, func(e facts.GroupEntry) (string, int) { return e.Name, e.Line }), true
	case catalog.RulePrimaryGroupsExist:
		return r.primaryGroupsExist(), true
	case catalog.RuleShadowGroupEmpty:
		return r.shadowGroupEmpty(), true
	case catalog.RuleSystemAccountsNoLogin:
		return r.systemAccountsNoLogin(), true
	case catalog.RulePasswordMaxDays, catalog.RulePasswordMinDays, catalog.RulePasswordWarnDays:
		return r.passwordAgeing(c), true
	}
	return nil, false
}

// duplicates reports each value shared by several entries as one failing result.
func duplicates[T any](file, noun, what string, total int, groups map[string][]T, id func(T) (string, int)) []Result {
	keys := make([]string, 0, len(groups))
	for k, es := range groups {
		if len(es) > 1 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return []Result{{Resource: file, Status: posture.Pass, Reason: fmt.Sprintf("every %s in %s has its own %s (%d entries)", noun, file, what, total),
			Evidence: []Evidence{{Source: file, Key: "entries", Actual: strconv.Itoa(total)}}}}
	}
	out := make([]Result, 0, len(keys))
	for _, k := range keys {
		var names []string
		var ev []Evidence
		for _, e := range groups[k] {
			name, line := id(e)
			names = append(names, fmt.Sprintf("%s (line %d)", name, line))
			ev = append(ev, Evidence{Source: file, Line: line, Key: what, Actual: k, Expected: "unique"})
		}
		out = append(out, Result{Resource: fmt.Sprintf("%s %s", what, k), Status: posture.Fail,
			Reason:   fmt.Sprintf("%s %s is shared by %d %ss in %s: %s; expected each %s to have its own", what, k, len(names), noun, file, strings.Join(names, ", "), noun),
			Evidence: ev})
	}
	return out
}

func (r *run) primaryGroupsExist() []Result {
	pw, err := r.passwd()
	if err != nil {
		return []Result{errorResult(passwdPath, readFailure(passwdPath, err))}
	}
	gr, err := r.groups()
	if err != nil {
		return []Result{errorResult(groupPath, readFailure(groupPath, err))}
	}
	gids := map[int64]bool{}
	for _, g := range gr {
		gids[g.GID] = true
	}
	var out []Result
	for _, e := range pw {
		if !gids[e.GID] {
			out = append(out, Result{Resource: e.Name, Status: posture.Fail,
				Reason:   fmt.Sprintf("account %s has primary group %d at %s:%d, which %s does not define", e.Name, e.GID, passwdPath, e.Line, groupPath),
				Evidence: []Evidence{{Source: passwdPath, Line: e.Line, Key: "gid", Actual: strconv.FormatInt(e.GID, 10), Expected: "a gid defined in " + groupPath}}})
		}
	}
	if len(out) > 0 {
		return out
	}
	return []Result{{Resource: passwdPath, Status: posture.Pass, Reason: fmt.Sprintf("every primary group of the %d accounts in %s is defined in %s", len(pw), passwdPath, groupPath),
		Evidence: []Evidence{{Source: passwdPath, Key: "accounts", Actual: strconv.Itoa(len(pw))}}}}
}

func (r *run) shadowGroupEmpty() []Result {
	gr, err := r.groups()
	if err != nil {
		return []Result{errorResult(groupPath, readFailure(groupPath, err))}
	}
	var shadow *facts.GroupEntry
	for i := range gr {
		if gr[i].Name == "shadow" {
			shadow = &gr[i]
			break
		}
	}
	if shadow == nil {
		return []Result{{Resource: groupPath, Status: posture.Skip, Reason: fmt.Sprintf("not applicable: %s defines no shadow group", groupPath),
			Evidence: []Evidence{{Source: groupPath, Key: "shadow", Actual: "not defined"}}}}
	}
	var out []Result
	for _, m := range shadow.Members {
		out = append(out, Result{Resource: m, Status: posture.Fail,
			Reason:   fmt.Sprintf("%s is a member of the shadow group at %s:%d and can read every password hash; expected the group to have no members", m, groupPath, shadow.Line),
			Evidence: []Evidence{{Source: groupPath, Line: shadow.Line, Key: "shadow members", Actual: strings.Join(shadow.Members, ","), Expected: "none"}}})
	}
	pw, err := r.passwd()
	if err != nil {
		return []Result{errorResult(passwdPath, readFailure(passwdPath, err))}
	}
	for _, e := range pw {
		if e.GID == shadow.GID {
			out = append(out, Result{Resource: e.Name, Status: posture.Fail,
				Reason:   fmt.Sprintf("account %s has the shadow group (%d) as its primary group at %s:%d; expected no account to", e.Name, e.GID, passwdPath, e.Line),
				Evidence: []Evidence{{Source: passwdPath, Line: e.Line, Key: "gid", Actual: strconv.FormatInt(e.GID, 10), Expected: "not " + strconv.FormatInt(shadow.GID, 10)}}})
		}
	}
	if len(out) > 0 {
		return dedupeResources(out)
	}
	return []Result{{Resource: groupPath, Status: posture.Pass, Reason: fmt.Sprintf("the shadow group (%s:%d) has no members and is no account's primary group", groupPath, shadow.Line),
		Evidence: []Evidence{{Source: groupPath, Line: shadow.Line, Key: "shadow members", Actual: "none", Expected: "none"}}}}
}

// dedupeResources keeps the first result per resource, so results stay unique.
func dedupeResources(in []Result) []Result {
	seen := map[string]bool{}
	out := in[:0]
	for _, r := range in {
		if !seen[r.Resource] {
			seen[r.Resource] = true
			out = append(out, r)
		}
	}
	return out
}

func (r *run) systemAccountsNoLogin() []Result {
	pw, err := r.passwd()
	if err != nil {
		return []Result{errorResult(passwdPath, readFailure(passwdPath, err))}
	}
	uidMin, src := int64(1000), "default 1000"
	if kvs, err := r.loginDefs(); err == nil {
		if kv, ok := facts.Lookup(kvs, "UID_MIN", false, true); ok {
			if n, err := strconv.ParseInt(kv.Value, 10, 64); err == nil {
				uidMin, src = n, fmt.Sprintf("%s:%d", loginDefsPath, kv.Line)
			}
		}
	}
	var out []Result
	n := 0
	for _, e := range pw {
		if e.UID < 0 || e.UID >= uidMin || systemAccountsExempt[e.Name] {
			continue
		}
		n++
		if !nologinShells[e.Shell] {
			out = append(out, Result{Resource: e.Name, Status: posture.Fail,
				Reason:   fmt.Sprintf("system account %s (uid %d, below UID_MIN %d from %s) has the login shell %q at %s:%d; expected a nologin shell", e.Name, e.UID, uidMin, src, e.Shell, passwdPath, e.Line),
				Evidence: []Evidence{{Source: passwdPath, Line: e.Line, Key: "shell", Actual: e.Shell, Expected: "/usr/sbin/nologin"}}})
		}
	}
	if len(out) > 0 {
		return out
	}
	return []Result{{Resource: passwdPath, Status: posture.Pass, Reason: fmt.Sprintf("none of the %d system accounts (uid below %d, from %s) has a login shell", n, uidMin, src),
		Evidence: []Evidence{{Source: passwdPath, Key: "system accounts", Actual: strconv.Itoa(n)}}}}
}

// usablePassword reports whether a shadow hash can be used to log in (not empty, not
// locked with "!" or "*").
func usablePassword(h string) bool {
	return h != "" && h[0] != '!' && h[0] != '*'
}

func (r *run) passwordAgeing(c *catalog.AccountsCheck) []Result {
	sh, err := r.shadow()
	if err != nil {
		return []Result{errorResult(shadowPath, readFailure(shadowPath, err))}
	}
	field, name := func(e facts.ShadowEntry) string { return e.MaxDays }, "maximum password age"
	switch c.Rule {
	case catalog.RulePasswordMinDays:
		field, name = func(e facts.ShadowEntry) string { return e.MinDays }, "minimum password age"
	case catalog.RulePasswordWarnDays:
		field, name = func(e facts.ShadowEntry) string { return e.WarnDays }, "password expiry warning"
	}
	expected := c.Expect.Describe()
	var out []Result
	n := 0
	for _, e := range sh {
		if !usablePassword(e.Hash) {
			continue
		}
		n++
		v := field(e)
		if ok, _ := c.Expect.Satisfied(v); ok {
			continue
		}
		actual, desc := v, fmt.Sprintf("a %s of %s days", name, v)
		if v == "" {
			actual, desc = "not set", "no "+name+" set"
		}
		out = append(out, Result{Resource: e.Name, Status: posture.Fail,
			Reason:   fmt.Sprintf("account %s has %s at %s:%d; expected %s", e.Name, desc, shadowPath, e.Line, expected),
			Evidence: []Evidence{{Source: shadowPath, Line: e.Line, Key: name, Actual: actual, Expected: expected}}})
	}
	if len(out) > 0 {
		return out
	}
	return []Result{{Resource: shadowPath, Status: posture.Pass, Reason: fmt.Sprintf("every one of the %d accounts with a password in %s has a %s of %s days", n, shadowPath, name, expected),
		Evidence: []Evidence{{Source: shadowPath, Key: "accounts with a password", Actual: strconv.Itoa(n), Expected: expected}}}}
}
