package catalog

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestAuthCheckValidate(t *testing.T) {
	tests := []struct {
		yaml    string
		wantErr string // "" for valid
	}{
		{"{pam: {services: common-password, type: password, module: pam_pwquality, arg: minlen, expect: {min: 14}, default: '8', config: /etc/security/pwquality.conf, config_dirs: [/etc/security/pwquality.conf.d]}}", ""},
		{"{pam: {services: [], module: pam_unix}}", "at least one PAM service"},
		{"{pam: {services: 'a/b', module: pam_unix}}", "want a name under /etc/pam.d"},
		{"{pam: {services: su, type: login, module: pam_wheel}}", "type \"login\""},
		{"{pam: {services: su, module: 'pam wheel'}}", "want a module name"},
		{"{pam: {services: su, module: pam_wheel, state: absent, require: use_uid}}", "state absent takes no"},
		{"{pam: {services: su, module: pam_wheel, arg: group}}", "arg and expect go together"},
		{"{pam: {services: su, module: pam_wheel, default: x}}", "default needs arg"},
		{"{pam: {services: su, module: pam_wheel, forbid: 'a=b'}}", "want a module argument name"},
		{"{pam: {services: su, module: pam_wheel, require: use_uid, config_dirs: [/etc/x.d]}}", "config_dirs needs config"},
		{"{pam: {services: su, module: pam_wheel, if_missing: later}}", "if_missing \"later\""},
		{"{sudoers: {default: use_pty, expect: {equals: 'on'}, if_unset: 'off'}}", ""},
		{"{sudoers: {forbid_tag: NOPASSWD}}", ""},
		{"{sudoers: {}}", "set exactly one of default and forbid_tag"},
		{"{sudoers: {forbid_tag: NOPASS}}", "want a sudoers command tag"},
		{"{sudoers: {forbid_tag: NOPASSWD, if_unset: x}}", "forbid_tag takes no"},
		{"{sudoers: {default: Use-Pty, expect: {equals: 'on'}}}", "want a Defaults parameter"},
		{"{sudoers: {default: use_pty}}", "default needs expect"},
		{"{sudoers: {config: relative, forbid_tag: NOPASSWD}}", "config:"},
		{"{audit_rules: {rules: ['-w /etc/sudoers -p wa']}}", ""},
		{"{audit_rules: {immutable: true, sudo_log: true}}", "set exactly one of rules, sudo_log and immutable"},
		{"{audit_rules: {rules: ['-e 2']}}", "want a watch"},
		{"{audit_rules: {rules: ['-a always,exit -F']}}", "-F needs a value"},
		{"{config: {path: /etc/systemd/journald.conf, format: systemd, section: Journal, key: Storage, expect: {equals: persistent}}}", ""},
		{"{config: {path: /etc/a.conf, section: Journal, key: Storage, expect: {equals: x}}}", "section needs format systemd"},
		{"{config: {path: /etc/a.conf, format: ini, key: a, expect: {equals: x}}}", "format \"ini\""},
		{"{config: {path: /etc/a.conf, key: a}}", "key needs expect"},
		{"{config: {path: /etc/a.conf, key: a, no_match: b, expect: {equals: x}}}", "set exactly one of key and no_match"},
		{"{config: {path: /etc/a.conf, no_match: '('}}", "no_match:"},
		{"{config: {path: /etc/a.conf, drop_in_dirs: [rel], key: a, expect: {equals: x}}}", "drop_in_dirs:"},
		{"{config: {path: /etc/a.conf, drop_in_suffix: '*.conf', key: a, expect: {equals: x}}}", "drop_in_suffix"},
		{"{shell_profile: {umask: '027'}}", ""},
		{"{shell_profile: {variable: TMOUT, expect: {max: 900}, readonly: true}}", ""},
		{"{shell_profile: {umask: '0999'}}", "want octal permission bits"},
		{"{shell_profile: {umask: '027', readonly: true}}", "umask takes no"},
		{"{shell_profile: {}}", "set exactly one of variable and umask"},
		{"{shell_profile: {variable: 'T OUT', expect: {max: 1}}}", "want a shell variable name"},
		{"{shell_profile: {variable: TMOUT}}", "variable needs expect"},
		{"{shell_profile: {files: [etc/profile], umask: '027'}}", "want an absolute, clean path"},
		{"{accounts: {rule: password_max_days, expect: {max: 365}}}", ""},
		{"{accounts: {rule: unique_uids}}", ""},
		{"{accounts: {rule: password_max_days}}", "needs expect"},
		{"{accounts: {rule: unique_uids, expect: {max: 1}}}", "takes no expect"},
		{"{accounts: {rule: only_root_uid0, expect: {max: 1}}}", "takes no expect"},
	}
	for _, tc := range tests {
		var c Check
		if err := yaml.Unmarshal([]byte(tc.yaml), &c); err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		err := c.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.yaml, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tc.yaml, err, tc.wantErr)
		}
	}
}
