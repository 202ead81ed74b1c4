package catalog

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Check says how a control is evaluated: exactly one primitive (file, file_content, sshd,
// sysctl, package, systemd_unit, accounts, login_defs) with its parameters, plus optional
// applicability conditions shared by every primitive. New primitives are new fields here and
// new evaluators in the engine; existing documents keep their meaning.
//
// Example:
//
//	check:
//	  only_if_packages: [openssh-server]
//	  sshd:
//	    key: PermitRootLogin
//	    expect: {equals: "no", ignore_case: true}
type Check struct {
	// OnlyIfPackages makes the control not applicable (skip) unless at least one of these
	// packages is installed. Where no package database exists the condition is not decided
	// and the primitive's own applicability rules apply.
	OnlyIfPackages StringList `yaml:"only_if_packages,omitempty" json:"only_if_packages,omitempty"`
	// OnlyIfOS makes the control not applicable unless os-release ID or ID_LIKE names one of
	// these distributions (debian, ubuntu, rhel, ...).
	OnlyIfOS StringList `yaml:"only_if_os,omitempty" json:"only_if_os,omitempty"`

	// File checks a file's existence, mode, owner and group.
	File *FileCheck `yaml:"file,omitempty" json:"file,omitempty"`
	// FileContent checks a file's lines or one key's value.
	FileContent *FileContentCheck `yaml:"file_content,omitempty" json:"file_content,omitempty"`
	// SSHD checks one keyword of the effective OpenSSH server configuration.
	SSHD *SSHDCheck `yaml:"sshd,omitempty" json:"sshd,omitempty"`
	// Sysctl checks kernel parameters, configured and live.
	Sysctl *SysctlCheck `yaml:"sysctl,omitempty" json:"sysctl,omitempty"`
	// Package checks that packages are installed or absent.
	Package *PackageCheck `yaml:"package,omitempty" json:"package,omitempty"`
	// SystemdUnit checks whether systemd units are enabled, disabled or masked.
	SystemdUnit *SystemdUnitCheck `yaml:"systemd_unit,omitempty" json:"systemd_unit,omitempty"`
	// Accounts checks a rule over the local accounts (passwd, shadow, group).
	Accounts *AccountsCheck `yaml:"accounts,omitempty" json:"accounts,omitempty"`
	// LoginDefs checks one setting of /etc/login.defs.
	LoginDefs *LoginDefsCheck `yaml:"login_defs,omitempty" json:"login_defs,omitempty"`
	// Manual marks a requirement an auditor verifies by hand; it always yields info.
	Manual *ManualCheck `yaml:"manual,omitempty" json:"manual,omitempty"`
	// PAM checks a PAM module's use and arguments in /etc/pam.d services (check_auth.go).
	PAM *PAMCheck `yaml:"pam,omitempty" json:"pam,omitempty"`
	// Sudoers checks the effective sudoers policy (check_auth.go).
	Sudoers *SudoersCheck `yaml:"sudoers,omitempty" json:"sudoers,omitempty"`
	// AuditRules checks the audit rules on disk (check_auth.go).
	AuditRules *AuditRulesCheck `yaml:"audit_rules,omitempty" json:"audit_rules,omitempty"`
	// Config checks a setting of a configuration with drop-in files (check_auth.go).
	Config *ConfigCheck `yaml:"config,omitempty" json:"config,omitempty"`
	// ShellProfile checks settings of the shells' start-up files (check_auth.go).
	ShellProfile *ShellProfileCheck `yaml:"shell_profile,omitempty" json:"shell_profile,omitempty"`
	// KernelModule checks that kernel modules are disabled and not loaded (check_filesystem.go).
	KernelModule *KernelModuleCheck `yaml:"kernel_module,omitempty" json:"kernel_module,omitempty"`
	// Mount checks a separate mount and its options (check_filesystem.go).
	Mount *MountCheck `yaml:"mount,omitempty" json:"mount,omitempty"`
	// Grub checks the boot loader's password and kernel parameters (check_filesystem.go).
	Grub *GrubCheck `yaml:"grub,omitempty" json:"grub,omitempty"`
	// FileWalk applies a rule to bounded walks of directory trees (check_filesystem.go).
	FileWalk *FileWalkCheck `yaml:"file_walk,omitempty" json:"file_walk,omitempty"`
	// CEL evaluates an expression over host facts where no primitive fits (check_cel.go).
	CEL *CELCheck `yaml:"cel,omitempty" json:"cel,omitempty"`
}

// Primitive returns the name of the primitive that is set ("" when none).
func (c *Check) Primitive() string {
	names := c.primitives()
	if len(names) != 1 {
		return ""
	}
	return names[0]
}

func (c *Check) primitives() []string {
	var set []string
	for name, ok := range map[string]bool{
		"file": c.File != nil, "file_content": c.FileContent != nil, "sshd": c.SSHD != nil,
		"sysctl": c.Sysctl != nil, "package": c.Package != nil, "systemd_unit": c.SystemdUnit != nil,
		"accounts": c.Accounts != nil, "login_defs": c.LoginDefs != nil,
		"manual": c.Manual != nil,
		"pam":    c.PAM != nil, "sudoers": c.Sudoers != nil, "audit_rules": c.AuditRules != nil,
		"config": c.Config != nil, "shell_profile": c.ShellProfile != nil,
		"kernel_module": c.KernelModule != nil, "mount": c.Mount != nil, "grub": c.Grub != nil,
		"file_walk": c.FileWalk != nil,
		"cel":       c.CEL != nil,
	} {
		if ok {
			set = append(set, name)
		}
	}
	return set
}

// Validate checks that exactly one primitive is set and its parameters are valid.
func (c *Check) Validate() error {
	set := c.primitives()
	switch {
	case len(set) == 0:
		return errors.New("no check primitive set (want one of file, file_content, sshd, sysctl, package, systemd_unit, accounts, login_defs, manual, pam, sudoers, audit_rules, config, shell_profile, kernel_module, mount, grub, file_walk, cel)")
	case len(set) > 1:
		return fmt.Errorf("%d check primitives set; set exactly one", len(set))
	}
	for _, p := range c.OnlyIfPackages {
		if p == "" {
			return errors.New("only_if_packages: empty package name")
		}
	}
	var err error
	switch {
	case c.File != nil:
		err = c.File.Validate()
	case c.FileContent != nil:
		err = c.FileContent.Validate()
	case c.SSHD != nil:
		err = c.SSHD.Validate()
	case c.Sysctl != nil:
		err = c.Sysctl.Validate()
	case c.Package != nil:
		err = c.Package.Validate()
	case c.SystemdUnit != nil:
		err = c.SystemdUnit.Validate()
	case c.Accounts != nil:
		err = c.Accounts.Validate()
	case c.LoginDefs != nil:
		err = c.LoginDefs.Validate()
	case c.Manual != nil:
		err = c.Manual.Validate()
	case c.PAM != nil:
		err = c.PAM.Validate()
	case c.Sudoers != nil:
		err = c.Sudoers.Validate()
	case c.AuditRules != nil:
		err = c.AuditRules.Validate()
	case c.Config != nil:
		err = c.Config.Validate()
	case c.ShellProfile != nil:
		err = c.ShellProfile.Validate()
	case c.KernelModule != nil:
		err = c.KernelModule.Validate()
	case c.Mount != nil:
		err = c.Mount.Validate()
	case c.Grub != nil:
		err = c.Grub.Validate()
	case c.FileWalk != nil:
		err = c.FileWalk.Validate()
	case c.CEL != nil:
		err = c.CEL.Validate()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", set[0], err)
	}
	return nil
}

// StringList is a list of strings written in YAML either as one scalar or as a sequence.
type StringList []string

// UnmarshalYAML accepts a scalar or a sequence of scalars.
func (l *StringList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = StringList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(StringList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: want a string", c.Line)
			}
			out = append(out, c.Value)
		}
		*l = out
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
}

// MarshalYAML writes one element as a scalar, more as a sequence.
func (l StringList) MarshalYAML() (any, error) {
	if len(l) == 1 {
		return l[0], nil
	}
	return []string(l), nil
}

// What to report when the subject of a check is missing.
const (
	MissingFail = "fail"
	MissingSkip = "skip"
	MissingPass = "pass"
)

func validMissing(v string) error {
	switch v {
	case "", MissingFail, MissingSkip, MissingPass:
		return nil
	}
	return fmt.Errorf("if_missing %q: want fail, skip or pass", v)
}

func validPath(p string) error {
	if p == "" {
		return errors.New("path is required")
	}
	if !path.IsAbs(p) || path.Clean(p) != p {
		return fmt.Errorf("path %q: want an absolute, clean path", p)
	}
	return nil
}

// FileCheck checks one file's metadata. Links are followed.
type FileCheck struct {
	// Path may hold glob metacharacters (*, ?, [...]): each matching file is one result, and
	// no match counts as a missing file (see IfMissing).
	Path string `yaml:"path" json:"path"`
	// State is "present" (default) or "absent".
	State string `yaml:"state,omitempty" json:"state,omitempty"`
	// MaxMode is the most permissive mode allowed, in octal ("0640"): the file's permission
	// bits (including setuid, setgid, sticky) must be a subset of it, "this or stricter".
	MaxMode string `yaml:"max_mode,omitempty" json:"max_mode,omitempty"`
	// Owner lists the allowed owners, by name (resolved through the host's /etc/passwd) or
	// numeric id.
	Owner StringList `yaml:"owner,omitempty" json:"owner,omitempty"`
	// Group lists the allowed groups, by name (resolved through /etc/group) or numeric id.
	Group StringList `yaml:"group,omitempty" json:"group,omitempty"`
	// IfMissing says what a missing file means for a present-state check: fail (default),
	// skip (the control does not apply) or pass.
	IfMissing string `yaml:"if_missing,omitempty" json:"if_missing,omitempty"`
}

// Validate checks the parameters.
func (f *FileCheck) Validate() error {
	if err := validPath(f.Path); err != nil {
		return err
	}
	switch f.State {
	case "", "present":
	case "absent":
		if f.MaxMode != "" || len(f.Owner) > 0 || len(f.Group) > 0 {
			return errors.New("state absent takes no max_mode, owner or group")
		}
	default:
		return fmt.Errorf("state %q: want present or absent", f.State)
	}
	if f.MaxMode != "" {
		if _, err := ParseMode(f.MaxMode); err != nil {
			return err
		}
	}
	return validMissing(f.IfMissing)
}

// ParseMode parses an octal permission mode such as "0640" or "644".
func ParseMode(s string) (uint32, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("mode %q: want octal permission bits such as 0640", s)
	}
	return uint32(m), nil
}

// FileContentCheck checks a text file: lines that must or must not match a regular
// expression, and/or the value of one key in a key-value file.
type FileContentCheck struct {
	Path string `yaml:"path" json:"path"`
	// Match: at least one line (comments included, trailing newline removed) must match.
	Match string `yaml:"match,omitempty" json:"match,omitempty"`
	// NoMatch: no line may match.
	NoMatch string `yaml:"no_match,omitempty" json:"no_match,omitempty"`
	// Key is looked up in a key-value file (comment lines and trailing comments ignored).
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
	// Separator between key and value: "" for whitespace (default) or a string such as "=".
	Separator string `yaml:"separator,omitempty" json:"separator,omitempty"`
	// Comment starts a comment ("#" by default).
	Comment string `yaml:"comment,omitempty" json:"comment,omitempty"`
	// IgnoreKeyCase compares keys without regard to case.
	IgnoreKeyCase bool `yaml:"ignore_key_case,omitempty" json:"ignore_key_case,omitempty"`
	// LastWins takes the last occurrence of the key (default: the first).
	LastWins bool `yaml:"last_wins,omitempty" json:"last_wins,omitempty"`
	// Default is the value that applies when the key is absent; without it an absent key fails.
	Default string `yaml:"default,omitempty" json:"default,omitempty"`
	// Expect is what the key's value must satisfy; required with Key.
	Expect *Value `yaml:"expect,omitempty" json:"expect,omitempty"`
	// IfMissing says what a missing file means: fail (default), skip or pass.
	IfMissing string `yaml:"if_missing,omitempty" json:"if_missing,omitempty"`
}

// Validate checks the parameters.
func (f *FileContentCheck) Validate() error {
	if err := validPath(f.Path); err != nil {
		return err
	}
	if f.Match == "" && f.NoMatch == "" && f.Key == "" {
		return errors.New("set match, no_match or key")
	}
	for name, re := range map[string]string{"match": f.Match, "no_match": f.NoMatch} {
		if re == "" {
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if (f.Key == "") != (f.Expect == nil) {
		return errors.New("key and expect go together")
	}
	if f.Expect != nil {
		if err := f.Expect.Validate(); err != nil {
			return fmt.Errorf("expect: %w", err)
		}
	}
	return validMissing(f.IfMissing)
}

// SSHDCheck checks one keyword of the effective sshd configuration (Include expanded, the
// first value wins, OpenSSH's default when the keyword is absent). Match blocks do not change
// the global value; settings they make are reported in the evidence.
type SSHDCheck struct {
	// Key is the keyword, any case (PermitRootLogin).
	Key string `yaml:"key" json:"key"`
	// Expect is what the value must satisfy.
	Expect Value `yaml:"expect" json:"expect"`
	// Config is the main configuration file (default /etc/ssh/sshd_config). Without it the
	// control does not apply.
	Config string `yaml:"config,omitempty" json:"config,omitempty"`
}

var keywordPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

// Validate checks the parameters.
func (s *SSHDCheck) Validate() error {
	if !keywordPattern.MatchString(s.Key) {
		return fmt.Errorf("key %q: want an sshd keyword such as PermitRootLogin", s.Key)
	}
	if s.Config != "" {
		if err := validPath(s.Config); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	if err := s.Expect.Validate(); err != nil {
		return fmt.Errorf("expect: %w", err)
	}
	return nil
}

// SysctlCheck checks kernel parameters. The configured value comes from sysctl.d files and
// /etc/sysctl.conf with systemd-sysctl's precedence; when the root has /proc/sys the live
// value is read too, both must satisfy Expect, and a disagreement is reported. Each key is
// one result.
type SysctlCheck struct {
	// Keys are parameter names in dotted form (net.ipv4.ip_forward).
	Keys StringList `yaml:"keys" json:"keys"`
	// Expect is what each value must satisfy.
	Expect Value `yaml:"expect" json:"expect"`
	// Default is the kernel's built-in value, used when nothing is configured and no live
	// value can be read; without it such a key fails as "not set".
	Default string `yaml:"default,omitempty" json:"default,omitempty"`
}

var sysctlKeyPattern = regexp.MustCompile(`^[a-z0-9_][a-zA-Z0-9_.-]*$`)

// Validate checks the parameters.
func (s *SysctlCheck) Validate() error {
	if len(s.Keys) == 0 {
		return errors.New("keys: at least one parameter is required")
	}
	for _, k := range s.Keys {
		if !sysctlKeyPattern.MatchString(k) || strings.Contains(k, "..") {
			return fmt.Errorf("key %q: want a dotted parameter name such as net.ipv4.ip_forward", k)
		}
	}
	if err := s.Expect.Validate(); err != nil {
		return fmt.Errorf("expect: %w", err)
	}
	return nil
}

// PackageCheck checks that packages are installed or absent. Each name is one result.
type PackageCheck struct {
	Names StringList `yaml:"names" json:"names"`
	// State is "installed" or "absent".
	State string `yaml:"state" json:"state"`
}

// Validate checks the parameters.
func (p *PackageCheck) Validate() error {
	if len(p.Names) == 0 {
		return errors.New("names: at least one package is required")
	}
	for _, n := range p.Names {
		if n == "" || strings.ContainsAny(n, " \t/") {
			return fmt.Errorf("package name %q is not valid", n)
		}
	}
	switch p.State {
	case "installed", "absent":
		return nil
	}
	return fmt.Errorf("state %q: want installed or absent", p.State)
}

// SystemdUnitCheck checks systemd units' enablement. Each unit is one result.
//
//   - enabled: the unit file exists, is not masked and is pulled in by a .wants/.requires link
//     (or an alias link).
//   - disabled: not enabled (masked or not installed also satisfy it).
//   - masked: linked to /dev/null in /etc or /run.
type SystemdUnitCheck struct {
	Units StringList `yaml:"units" json:"units"`
	State string     `yaml:"state" json:"state"`
}

var unitPattern = regexp.MustCompile(`^[A-Za-z0-9:_.@\\-]+\.(service|socket|timer|target|mount|path|automount|swap)$`)

// Validate checks the parameters.
func (s *SystemdUnitCheck) Validate() error {
	if len(s.Units) == 0 {
		return errors.New("units: at least one unit is required")
	}
	for _, u := range s.Units {
		if !unitPattern.MatchString(u) {
			return fmt.Errorf("unit %q: want a full unit name such as auditd.service", u)
		}
	}
	switch s.State {
	case "enabled", "disabled", "masked":
		return nil
	}
	return fmt.Errorf("state %q: want enabled, disabled or masked", s.State)
}

// The account rules.
const (
	// RuleOnlyRootUID0: no account but root has uid 0.
	RuleOnlyRootUID0 = "only_root_uid0"
	// RuleOnlyRootGID0: no account but root has primary group 0.
	RuleOnlyRootGID0 = "only_root_gid0"
	// RuleNoEmptyPasswords: no shadow entry has an empty password field.
	RuleNoEmptyPasswords = "no_empty_passwords"
	// RuleShadowedPasswords: every passwd entry's password field is "x".
	RuleShadowedPasswords = "shadowed_passwords"
)

// AccountsCheck checks a rule over the local accounts. A passing rule is one result about the
// file it read; each offending account is one failing result.
type AccountsCheck struct {
	Rule string `yaml:"rule" json:"rule"`
	// Expect is what a per-account value must satisfy, for the rules that take one
	// (password_max_days, password_min_days, password_warn_days; see check_auth.go).
	Expect *Value `yaml:"expect,omitempty" json:"expect,omitempty"`
}

// Validate checks the parameters.
func (a *AccountsCheck) Validate() error {
	if known, err := a.validateMore(); known || err != nil {
		return err
	}
	switch a.Rule {
	case RuleOnlyRootUID0, RuleOnlyRootGID0, RuleNoEmptyPasswords, RuleShadowedPasswords:
		return nil
	}
	return fmt.Errorf("rule %q: want one of %s, %s, %s, %s", a.Rule, RuleOnlyRootUID0, RuleOnlyRootGID0, RuleNoEmptyPasswords, RuleShadowedPasswords)
}

// LoginDefsCheck checks one setting of /etc/login.defs.
type LoginDefsCheck struct {
	Key    string `yaml:"key" json:"key"`
	Expect Value  `yaml:"expect" json:"expect"`
	// Default applies when the key is absent (shadow-utils' built-in value); without it an
	// absent key fails.
	Default string `yaml:"default,omitempty" json:"default,omitempty"`
}

var loginDefsKeyPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// Validate checks the parameters.
func (l *LoginDefsCheck) Validate() error {
	if !loginDefsKeyPattern.MatchString(l.Key) {
		return fmt.Errorf("key %q: want an upper-case login.defs key such as PASS_MAX_DAYS", l.Key)
	}
	if err := l.Expect.Validate(); err != nil {
		return fmt.Errorf("expect: %w", err)
	}
	return nil
}

// Value says what a setting's value must be. Every condition that is set must hold.
type Value struct {
	Equals   string   `yaml:"equals,omitempty" json:"equals,omitempty"`
	OneOf    []string `yaml:"one_of,omitempty" json:"one_of,omitempty"`
	NotOneOf []string `yaml:"not_one_of,omitempty" json:"not_one_of,omitempty"`
	// Min and Max bound a whole-number value (inclusive).
	Min *int64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max *int64 `yaml:"max,omitempty" json:"max,omitempty"`
	// Match is a regular expression the whole value must match.
	Match string `yaml:"match,omitempty" json:"match,omitempty"`
	// IgnoreCase compares Equals, OneOf, NotOneOf and Match without regard to case.
	IgnoreCase bool `yaml:"ignore_case,omitempty" json:"ignore_case,omitempty"`
}

// Validate checks that at least one condition is set and they are consistent.
func (v *Value) Validate() error {
	if v.Equals == "" && len(v.OneOf) == 0 && len(v.NotOneOf) == 0 && v.Min == nil && v.Max == nil && v.Match == "" {
		return errors.New("no condition set (want equals, one_of, not_one_of, min, max or match)")
	}
	if v.Min != nil && v.Max != nil && *v.Min > *v.Max {
		return fmt.Errorf("min %d is greater than max %d", *v.Min, *v.Max)
	}
	if v.Match != "" {
		if _, err := regexp.Compile(v.Match); err != nil {
			return fmt.Errorf("match: %w", err)
		}
	}
	return nil
}

// Describe renders the expectation for people ("no", "at most 4", "one of INFO, VERBOSE").
func (v *Value) Describe() string {
	var parts []string
	if v.Equals != "" {
		parts = append(parts, v.Equals)
	}
	if len(v.OneOf) > 0 {
		parts = append(parts, "one of "+strings.Join(v.OneOf, ", "))
	}
	if len(v.NotOneOf) > 0 {
		parts = append(parts, "not "+strings.Join(v.NotOneOf, " or "))
	}
	switch {
	case v.Min != nil && v.Max != nil:
		parts = append(parts, fmt.Sprintf("between %d and %d", *v.Min, *v.Max))
	case v.Min != nil:
		parts = append(parts, fmt.Sprintf("at least %d", *v.Min))
	case v.Max != nil:
		parts = append(parts, fmt.Sprintf("at most %d", *v.Max))
	}
	if v.Match != "" {
		parts = append(parts, "matching "+v.Match)
	}
	return strings.Join(parts, " and ")
}

// Satisfied reports whether s meets every condition; when it does not, why says which
// condition failed.
func (v *Value) Satisfied(s string) (ok bool, why string) {
	eq := func(a, b string) bool {
		if v.IgnoreCase {
			return strings.EqualFold(a, b)
		}
		return a == b
	}
	if v.Equals != "" && !eq(s, v.Equals) {
		return false, "not " + v.Equals
	}
	if len(v.OneOf) > 0 {
		found := false
		for _, o := range v.OneOf {
			found = found || eq(s, o)
		}
		if !found {
			return false, "not one of " + strings.Join(v.OneOf, ", ")
		}
	}
	for _, o := range v.NotOneOf {
		if eq(s, o) {
			return false, "a forbidden value"
		}
	}
	if v.Min != nil || v.Max != nil {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return false, "not a whole number"
		}
		if v.Min != nil && n < *v.Min {
			return false, fmt.Sprintf("less than %d", *v.Min)
		}
		if v.Max != nil && n > *v.Max {
			return false, fmt.Sprintf("more than %d", *v.Max)
		}
	}
	if v.Match != "" {
		expr := "^(?:" + v.Match + ")$"
		if v.IgnoreCase {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil || !re.MatchString(s) {
			return false, "not matching " + v.Match
		}
	}
	return true, ""
}
