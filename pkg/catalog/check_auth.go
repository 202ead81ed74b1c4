package catalog

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// This file holds the check primitives for authentication, privilege, audit and logging:
// pam, sudoers, audit_rules, config and shell_profile, and the extra account rules.

func validPaths(what string, ps []string) error {
	for _, p := range ps {
		if err := validPath(p); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

func validExpect(e *Value) error {
	if e == nil {
		return nil
	}
	if err := e.Validate(); err != nil {
		return fmt.Errorf("expect: %w", err)
	}
	return nil
}

var (
	pamModulePattern  = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
	pamServicePattern = regexp.MustCompile(`^[A-Za-z0-9_.@+-]+$`)
	pamArgPattern     = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// PAMCheck checks how a PAM module is used in service files of /etc/pam.d, with @include,
// include and substack lines expanded. Each service is one result.
//
//	pam:
//	  services: [common-password]
//	  type: password
//	  module: pam_pwquality
//	  arg: minlen
//	  expect: {min: 14}
//	  config: /etc/security/pwquality.conf
//	  config_dirs: [/etc/security/pwquality.conf.d]
//	  default: "8"
//
// With state present (the default) the module must have at least one line of the type, and
// every such line must satisfy the argument conditions; a check that only forbids arguments
// passes when the module is not used at all. An argument's value is the one on
// the line; when the line does not set it, the module's configuration file (Config, its
// drop-in directories read first, the last value winning) and then Default apply.
type PAMCheck struct {
	// Services are service names under /etc/pam.d (common-auth, su) or absolute paths.
	Services StringList `yaml:"services" json:"services"`
	// Type is auth, account, password or session ("" for any).
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Module is the module name, with or without ".so" (pam_faillock).
	Module string `yaml:"module" json:"module"`
	// State is "present" (default) or "absent" (no line of the type uses the module).
	State string `yaml:"state,omitempty" json:"state,omitempty"`
	// Arg is a name=value argument whose value must satisfy Expect.
	Arg    string `yaml:"arg,omitempty" json:"arg,omitempty"`
	Expect *Value `yaml:"expect,omitempty" json:"expect,omitempty"`
	// Default is the module's built-in value of Arg; without it an unset argument fails.
	Default string `yaml:"default,omitempty" json:"default,omitempty"`
	// Require lists flags every line must have, on the line or as a bare or non-zero
	// setting in Config; RequireOneOf lists flags of which every line must have one;
	// Forbid lists arguments (flags or name=value) no line may have.
	Require      StringList `yaml:"require,omitempty" json:"require,omitempty"`
	RequireOneOf StringList `yaml:"require_one_of,omitempty" json:"require_one_of,omitempty"`
	Forbid       StringList `yaml:"forbid,omitempty" json:"forbid,omitempty"`
	// Config is the module's own configuration file ("key = value"), consulted for Arg and
	// Require; ConfigDirs are its drop-in directories (*.conf, read before Config).
	Config     string     `yaml:"config,omitempty" json:"config,omitempty"`
	ConfigDirs StringList `yaml:"config_dirs,omitempty" json:"config_dirs,omitempty"`
	// IfMissing says what a missing service file means: fail (default), skip or pass.
	IfMissing string `yaml:"if_missing,omitempty" json:"if_missing,omitempty"`
}

// Validate checks the parameters.
func (p *PAMCheck) Validate() error {
	if len(p.Services) == 0 {
		return errors.New("services: at least one PAM service is required")
	}
	for _, s := range p.Services {
		if strings.HasPrefix(s, "/") {
			if err := validPath(s); err != nil {
				return fmt.Errorf("services: %w", err)
			}
		} else if !pamServicePattern.MatchString(s) {
			return fmt.Errorf("service %q: want a name under /etc/pam.d such as common-auth, or an absolute path", s)
		}
	}
	switch p.Type {
	case "", "auth", "account", "password", "session":
	default:
		return fmt.Errorf("type %q: want auth, account, password or session", p.Type)
	}
	if !pamModulePattern.MatchString(p.Module) {
		return fmt.Errorf("module %q: want a module name such as pam_unix", p.Module)
	}
	hasArgs := p.Arg != "" || len(p.Require) > 0 || len(p.RequireOneOf) > 0 || len(p.Forbid) > 0
	switch p.State {
	case "", "present":
	case "absent":
		if hasArgs {
			return errors.New("state absent takes no arg, require, require_one_of or forbid")
		}
	default:
		return fmt.Errorf("state %q: want present or absent", p.State)
	}
	if (p.Arg == "") != (p.Expect == nil) {
		return errors.New("arg and expect go together")
	}
	if p.Default != "" && p.Arg == "" {
		return errors.New("default needs arg")
	}
	for _, a := range append(append(append([]string{p.Arg}, p.Require...), p.RequireOneOf...), p.Forbid...) {
		if a != "" && !pamArgPattern.MatchString(a) {
			return fmt.Errorf("argument %q: want a module argument name such as minlen", a)
		}
	}
	if p.Config != "" {
		if err := validPath(p.Config); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	if len(p.ConfigDirs) > 0 && p.Config == "" {
		return errors.New("config_dirs needs config")
	}
	if err := validPaths("config_dirs", p.ConfigDirs); err != nil {
		return err
	}
	if err := validExpect(p.Expect); err != nil {
		return err
	}
	return validMissing(p.IfMissing)
}

// SudoersCheck checks the effective sudoers policy: /etc/sudoers with #include, @include,
// #includedir and @includedir expanded (a directory's files sorted, names holding a "." or
// ending in "~" skipped, as sudo does).
//
// With Default, the last global "Defaults" setting of the parameter is its value (IfUnset
// when none sets it; flags read "on" or "off") and it must satisfy Expect; a scoped
// Defaults line (Defaults:user, @host, >runas, !cmnd) that sets it must satisfy Expect too.
// With ForbidTag, no user specification may carry the tag; each offending line is one
// failing result.
//
//	sudoers: {default: timestamp_timeout, expect: {min: 0, max: 15}, if_unset: "15"}
//	sudoers: {forbid_tag: NOPASSWD}
type SudoersCheck struct {
	// Config is the main file (default /etc/sudoers). Without it the control does not apply.
	Config    string `yaml:"config,omitempty" json:"config,omitempty"`
	Default   string `yaml:"default,omitempty" json:"default,omitempty"`
	Expect    *Value `yaml:"expect,omitempty" json:"expect,omitempty"`
	IfUnset   string `yaml:"if_unset,omitempty" json:"if_unset,omitempty"`
	ForbidTag string `yaml:"forbid_tag,omitempty" json:"forbid_tag,omitempty"`
}

var sudoNamePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Validate checks the parameters.
func (s *SudoersCheck) Validate() error {
	if s.Config != "" {
		if err := validPath(s.Config); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	switch {
	case (s.Default == "") == (s.ForbidTag == ""):
		return errors.New("set exactly one of default and forbid_tag")
	case s.ForbidTag != "":
		if s.Expect != nil || s.IfUnset != "" {
			return errors.New("forbid_tag takes no expect or if_unset")
		}
		switch s.ForbidTag {
		case "NOPASSWD", "PASSWD", "NOEXEC", "EXEC", "SETENV", "NOSETENV", "LOG_INPUT", "NOLOG_INPUT", "LOG_OUTPUT", "NOLOG_OUTPUT", "MAIL", "NOMAIL", "FOLLOW", "NOFOLLOW", "INTERCEPT", "NOINTERCEPT":
			return nil
		}
		return fmt.Errorf("forbid_tag %q: want a sudoers command tag such as NOPASSWD", s.ForbidTag)
	}
	if !sudoNamePattern.MatchString(s.Default) {
		return fmt.Errorf("default %q: want a Defaults parameter such as use_pty", s.Default)
	}
	if s.Expect == nil {
		return errors.New("default needs expect")
	}
	return validExpect(s.Expect)
}

// AuditRulesCheck checks the audit rules on disk: /etc/audit/rules.d/*.rules in name order
// (as augenrules joins them), or /etc/audit/audit.rules when rules.d holds none.
//
// Rules are written as for auditctl; each is one result, passing when some rule on disk
// records at least the same events (same action and list and arch, a superset of the
// syscalls and access types, no extra filter; keys ignored). SudoLog expects a watch for
// writes and attribute changes on the file the effective sudoers "Defaults logfile" names.
// Immutable expects the last -e rule to be "-e 2".
//
//	audit_rules: {rules: ["-w /etc/sudoers -p wa", "-w /etc/sudoers.d -p wa"]}
type AuditRulesCheck struct {
	Rules     StringList `yaml:"rules,omitempty" json:"rules,omitempty"`
	SudoLog   bool       `yaml:"sudo_log,omitempty" json:"sudo_log,omitempty"`
	Immutable bool       `yaml:"immutable,omitempty" json:"immutable,omitempty"`
}

// Validate checks the parameters.
func (a *AuditRulesCheck) Validate() error {
	n := 0
	for _, set := range []bool{len(a.Rules) > 0, a.SudoLog, a.Immutable} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New("set exactly one of rules, sudo_log and immutable")
	}
	for _, r := range a.Rules {
		f := strings.Fields(r)
		if len(f) < 2 || (f[0] != "-w" && f[0] != "-a") {
			return fmt.Errorf("rule %q: want a watch (-w path -p wa) or a syscall rule (-a always,exit ...)", r)
		}
		for i, w := range f {
			if (w == "-F" || w == "-C" || w == "-S" || w == "-p" || w == "-k" || w == "-w" || w == "-a") && i == len(f)-1 {
				return fmt.Errorf("rule %q: %s needs a value", r, w)
			}
		}
	}
	return nil
}

// Configuration file formats of ConfigCheck.
const (
	ConfigEquals  = "equals"  // key = value, "#" comments
	ConfigSpace   = "space"   // key value, "#" comments
	ConfigSystemd = "systemd" // INI sections, key=value, "#" and ";" comments
)

// ConfigCheck checks one setting of a configuration made of a main file and drop-in files
// (journald.conf and journald.conf.d, rsyslog.conf and rsyslog.d, pwquality.conf and
// pwquality.conf.d...). Files are read in order: the main file, then the drop-ins sorted by
// name (a name in an earlier directory hiding the same name in later ones), or the drop-ins
// first with DropInsFirst. The last value wins unless FirstWins.
//
//	config:
//	  path: /etc/systemd/journald.conf
//	  drop_in_dirs: [/etc/systemd/journald.conf.d, /run/systemd/journald.conf.d, /usr/lib/systemd/journald.conf.d]
//	  format: systemd
//	  section: Journal
//	  key: Storage
//	  expect: {equals: persistent}
//	  default: auto
//
// NoMatch instead fails on every setting line of any file that matches a regular expression.
type ConfigCheck struct {
	Path         string     `yaml:"path" json:"path"`
	DropInDirs   StringList `yaml:"drop_in_dirs,omitempty" json:"drop_in_dirs,omitempty"`
	DropInSuffix string     `yaml:"drop_in_suffix,omitempty" json:"drop_in_suffix,omitempty"` // default ".conf"
	DropInsFirst bool       `yaml:"drop_ins_first,omitempty" json:"drop_ins_first,omitempty"`
	// Format is equals (default), space or systemd.
	Format  string `yaml:"format,omitempty" json:"format,omitempty"`
	Section string `yaml:"section,omitempty" json:"section,omitempty"`
	Key     string `yaml:"key,omitempty" json:"key,omitempty"`
	// IgnoreKeyCase compares keys without regard to case.
	IgnoreKeyCase bool   `yaml:"ignore_key_case,omitempty" json:"ignore_key_case,omitempty"`
	FirstWins     bool   `yaml:"first_wins,omitempty" json:"first_wins,omitempty"`
	Expect        *Value `yaml:"expect,omitempty" json:"expect,omitempty"`
	// Default is the program's built-in value when no file sets the key.
	Default string `yaml:"default,omitempty" json:"default,omitempty"`
	NoMatch string `yaml:"no_match,omitempty" json:"no_match,omitempty"`
	// IfMissing says what it means when neither the main file nor any drop-in exists:
	// skip, pass, or fail (the default; then a Default, when given, is judged instead, as
	// the program runs with its built-in values).
	IfMissing string `yaml:"if_missing,omitempty" json:"if_missing,omitempty"`
}

// Validate checks the parameters.
func (c *ConfigCheck) Validate() error {
	if err := validPath(c.Path); err != nil {
		return err
	}
	if err := validPaths("drop_in_dirs", c.DropInDirs); err != nil {
		return err
	}
	if c.DropInSuffix != "" && strings.ContainsAny(c.DropInSuffix, "/*?[") {
		return fmt.Errorf("drop_in_suffix %q: want a file name ending such as .conf", c.DropInSuffix)
	}
	switch c.Format {
	case "", ConfigEquals, ConfigSpace, ConfigSystemd:
	default:
		return fmt.Errorf("format %q: want equals, space or systemd", c.Format)
	}
	if c.Section != "" && c.Format != ConfigSystemd {
		return errors.New("section needs format systemd")
	}
	switch {
	case (c.Key == "") == (c.NoMatch == ""):
		return errors.New("set exactly one of key and no_match")
	case c.NoMatch != "":
		if c.Expect != nil || c.Default != "" {
			return errors.New("no_match takes no expect or default")
		}
		if _, err := regexp.Compile(c.NoMatch); err != nil {
			return fmt.Errorf("no_match: %w", err)
		}
	case c.Expect == nil:
		return errors.New("key needs expect")
	}
	if err := validExpect(c.Expect); err != nil {
		return err
	}
	return validMissing(c.IfMissing)
}

// ShellProfileCheck checks settings made in the shells' start-up files (by default
// /etc/profile, /etc/profile.d/*.sh and /etc/bash.bashrc).
//
// With Variable, at least one file must assign it, every assignment must satisfy Expect,
// and with Readonly or Export some statement must mark it so. With Umask, at least one umask
// command must exist and each must mask at least the bits of Umask ("027": "this or
// stricter").
//
//	shell_profile: {variable: TMOUT, expect: {min: 1, max: 900}, readonly: true, export: true}
//	shell_profile: {umask: "027"}
type ShellProfileCheck struct {
	Files    StringList `yaml:"files,omitempty" json:"files,omitempty"`
	Variable string     `yaml:"variable,omitempty" json:"variable,omitempty"`
	Expect   *Value     `yaml:"expect,omitempty" json:"expect,omitempty"`
	Readonly bool       `yaml:"readonly,omitempty" json:"readonly,omitempty"`
	Export   bool       `yaml:"export,omitempty" json:"export,omitempty"`
	Umask    string     `yaml:"umask,omitempty" json:"umask,omitempty"`
}

var shellVarPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the parameters.
func (s *ShellProfileCheck) Validate() error {
	for _, f := range s.Files {
		if !path.IsAbs(f) || path.Clean(f) != f {
			return fmt.Errorf("files: %q: want an absolute, clean path or pattern", f)
		}
		if _, err := path.Match(f, ""); err != nil {
			return fmt.Errorf("files: %q: %w", f, err)
		}
	}
	switch {
	case (s.Variable == "") == (s.Umask == ""):
		return errors.New("set exactly one of variable and umask")
	case s.Umask != "":
		if s.Expect != nil || s.Readonly || s.Export {
			return errors.New("umask takes no expect, readonly or export")
		}
		if m, err := ParseMode(s.Umask); err != nil || m > 0o777 {
			return fmt.Errorf("umask %q: want octal permission bits such as 027", s.Umask)
		}
		return nil
	}
	if !shellVarPattern.MatchString(s.Variable) {
		return fmt.Errorf("variable %q: want a shell variable name such as TMOUT", s.Variable)
	}
	if s.Expect == nil {
		return errors.New("variable needs expect")
	}
	return validExpect(s.Expect)
}

// More account rules (see AccountsCheck).
const (
	// RuleUniqueUIDs: no two passwd entries share a uid.
	RuleUniqueUIDs = "unique_uids"
	// RuleUniqueGIDs: no two group entries share a gid.
	RuleUniqueGIDs = "unique_gids"
	// RuleUniqueUserNames: no two passwd entries share a name.
	RuleUniqueUserNames = "unique_user_names"
	// RuleUniqueGroupNames: no two group entries share a name.
	RuleUniqueGroupNames = "unique_group_names"
	// RulePrimaryGroupsExist: every passwd entry's primary gid is defined in /etc/group.
	RulePrimaryGroupsExist = "primary_groups_exist"
	// RuleShadowGroupEmpty: the shadow group has no members and is nobody's primary group.
	RuleShadowGroupEmpty = "shadow_group_empty"
	// RuleSystemAccountsNoLogin: accounts below UID_MIN (login.defs, default 1000) other
	// than root, sync, shutdown and halt have a nologin or false shell.
	RuleSystemAccountsNoLogin = "system_accounts_nologin"
	// RulePasswordMaxDays, RulePasswordMinDays and RulePasswordWarnDays: for every account
	// with a usable password, the shadow ageing field must satisfy Expect (an empty field
	// counts as not set and fails).
	RulePasswordMaxDays  = "password_max_days"
	RulePasswordMinDays  = "password_min_days"
	RulePasswordWarnDays = "password_warn_days"
)

// moreAccountRule reports whether rule is one of the rules above; expect says whether it
// needs an Expect.
func moreAccountRule(rule string) (known, expect bool) {
	switch rule {
	case RuleUniqueUIDs, RuleUniqueGIDs, RuleUniqueUserNames, RuleUniqueGroupNames, RulePrimaryGroupsExist,
		RuleShadowGroupEmpty, RuleSystemAccountsNoLogin:
		return true, false
	case RulePasswordMaxDays, RulePasswordMinDays, RulePasswordWarnDays:
		return true, true
	}
	return false, false
}

func (a *AccountsCheck) validateMore() (bool, error) {
	known, expect := moreAccountRule(a.Rule)
	if !known {
		if a.Expect != nil {
			return false, fmt.Errorf("rule %q takes no expect", a.Rule)
		}
		return false, nil
	}
	if expect != (a.Expect != nil) {
		if expect {
			return true, fmt.Errorf("rule %q needs expect", a.Rule)
		}
		return true, fmt.Errorf("rule %q takes no expect", a.Rule)
	}
	return true, validExpect(a.Expect)
}
