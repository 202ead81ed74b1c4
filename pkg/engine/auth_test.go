package engine_test

import (
	"strings"
	"testing"

	"github.com/palisadehq/palisade/pkg/posture"
)

// authCase is one single-check case over a small tree: the statuses of the results in
// resource order, and a substring of each result's reason.
type authCase struct {
	name   string
	files  map[string]string
	check  string
	status []posture.Status
	reason []string
}

func runAuthCases(t *testing.T, tests []authCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runOne(t, writeTree(t, tc.files), control(t, tc.check))
			if len(res) != len(tc.status) {
				t.Fatalf("%d results, want %d: %+v", len(res), len(tc.status), res)
			}
			for i, r := range res {
				if r.Status != tc.status[i] {
					t.Errorf("result %d (%s) status %s, want %s: %s", i, r.Resource, r.Status, tc.status[i], r.Reason)
				}
				if i < len(tc.reason) && !strings.Contains(r.Reason, tc.reason[i]) {
					t.Errorf("result %d reason %q does not contain %q", i, r.Reason, tc.reason[i])
				}
				if r.Status != posture.Error && len(r.Evidence) == 0 {
					t.Errorf("result %d has no evidence", i)
				}
			}
		})
	}
}

const pwqualityCheck = "{pam: {services: common-password, type: password, module: pam_pwquality, arg: minlen, expect: {min: 14}, default: '8', config: /etc/security/pwquality.conf, config_dirs: [/etc/security/pwquality.conf.d]}}"

func TestPAMCheck(t *testing.T) {
	runAuthCases(t, []authCase{
		{
			name: "config value, drop-ins read before the main file",
			files: map[string]string{
				"etc/pam.d/common-password":                    "password requisite pam_pwquality.so retry=3\n",
				"etc/security/pwquality.conf":                  "minlen = 14\n",
				"etc/security/pwquality.conf.d/99-late.conf":   "minlen = 6\n",
				"etc/security/pwquality.conf.d/ignored.conf~x": "minlen = 1\n",
			},
			check:  pwqualityCheck,
			status: []posture.Status{posture.Pass},
			reason: []string{"minlen=14 (/etc/security/pwquality.conf:1)"},
		},
		{
			name: "an argument on the line overrides the configuration file",
			files: map[string]string{
				"etc/pam.d/common-password":   "password requisite pam_pwquality.so retry=3 \\\n  minlen=8\n",
				"etc/security/pwquality.conf": "minlen = 14\n",
			},
			check:  pwqualityCheck,
			status: []posture.Status{posture.Fail},
			reason: []string{"minlen is 8 at /etc/pam.d/common-password:1 for the line at /etc/pam.d/common-password:1; expected at least 14"},
		},
		{
			name:   "built-in default when nothing sets the argument",
			files:  map[string]string{"etc/pam.d/common-password": "password requisite pam_pwquality.so\n"},
			check:  pwqualityCheck,
			status: []posture.Status{posture.Fail},
			reason: []string{"minlen is not set for the line at /etc/pam.d/common-password:1, so the default 8 applies; expected at least 14"},
		},
		{
			name: "substack brings in only the lines of its type; @include brings all",
			files: map[string]string{
				"etc/pam.d/login":        "auth substack system-login\n@include common-extra\n",
				"etc/pam.d/system-login": "password required pam_faillock.so\nauth required pam_unix.so\n",
				"etc/pam.d/common-extra": "-auth optional pam_faillock.so preauth deny=4\n",
			},
			check:  "{pam: {services: login, type: auth, module: pam_faillock.so, arg: deny, expect: {max: 5}}}",
			status: []posture.Status{posture.Pass},
			reason: []string{"deny=4 (/etc/pam.d/common-extra:1)"},
		},
		{
			name:   "module not used",
			files:  map[string]string{"etc/pam.d/common-auth": "auth required pam_unix.so\n"},
			check:  "{pam: {services: common-auth, type: auth, module: pam_faillock}}",
			status: []posture.Status{posture.Fail},
			reason: []string{"/etc/pam.d/common-auth does not use pam_faillock (auth)"},
		},
		{
			name:   "forbidden flag; a service without the module passes",
			files:  map[string]string{"etc/pam.d/common-auth": "auth required pam_unix.so nullok\n", "etc/pam.d/common-session": "session optional pam_systemd.so\n"},
			check:  "{pam: {services: [common-auth, common-session], module: pam_unix, forbid: nullok}}",
			status: []posture.Status{posture.Fail, posture.Pass},
			reason: []string{"the line at /etc/pam.d/common-auth:1 has nullok", "does not use pam_unix, so no line carries nullok"},
		},
		{
			name:   "flag from a bare configuration setting",
			files:  map[string]string{"etc/pam.d/common-auth": "auth required pam_faillock.so preauth\n", "etc/security/faillock.conf": "# even_deny_root\nroot_unlock_time = 60\n"},
			check:  "{pam: {services: common-auth, type: auth, module: pam_faillock, require_one_of: [even_deny_root, root_unlock_time], config: /etc/security/faillock.conf}}",
			status: []posture.Status{posture.Pass},
			reason: []string{"root_unlock_time set (/etc/security/faillock.conf:2)"},
		},
		{
			name:   "state absent",
			files:  map[string]string{"etc/pam.d/sshd": "auth sufficient pam_permit.so\n"},
			check:  "{pam: {services: sshd, module: pam_permit, state: absent}}",
			status: []posture.Status{posture.Fail},
			reason: []string{"/etc/pam.d/sshd uses pam_permit at /etc/pam.d/sshd:1; expected it not to"},
		},
		{
			name:   "missing service file, skipped on request",
			files:  map[string]string{"etc/pam.d/other": "auth required pam_deny.so\n"},
			check:  "{pam: {services: system-auth, module: pam_unix, if_missing: skip}}",
			status: []posture.Status{posture.Skip},
			reason: []string{"not applicable: /etc/pam.d/system-auth does not exist"},
		},
		{
			name:   "include loop is an error",
			files:  map[string]string{"etc/pam.d/a": "@include b\n", "etc/pam.d/b": "@include a\n"},
			check:  "{pam: {services: a, module: pam_unix}}",
			status: []posture.Status{posture.Error},
			reason: []string{"includes nested more than 16 deep"},
		},
	})
}

func TestSudoersCheck(t *testing.T) {
	runAuthCases(t, []authCase{
		{
			name: "includedir skips names with a dot or a tilde; relative include",
			files: map[string]string{
				"etc/sudoers":               "Defaults use_pty\n#includedir /etc/sudoers.d\n@include extra\n",
				"etc/sudoers.d/10-ok":       "Defaults timestamp_timeout=10\n",
				"etc/sudoers.d/20-x.bak":    "Defaults timestamp_timeout=60\n",
				"etc/sudoers.d/30-editing~": "Defaults timestamp_timeout=60\n",
				"etc/extra":                 "Defaults timestamp_timeout=12\n",
			},
			check:  "{sudoers: {default: timestamp_timeout, expect: {min: 0, max: 15}, if_unset: '15'}}",
			status: []posture.Status{posture.Pass},
			reason: []string{"timestamp_timeout is 12 at /etc/extra:1"},
		},
		{
			name:   "a scoped Defaults line that weakens the setting fails",
			files:  map[string]string{"etc/sudoers": "Defaults use_pty\nDefaults:bob !use_pty\n"},
			check:  "{sudoers: {default: use_pty, expect: {equals: 'on'}, if_unset: 'off'}}",
			status: []posture.Status{posture.Fail},
			reason: []string{"use_pty is on at /etc/sudoers:1, but Defaults:bob sets use_pty to off at /etc/sudoers:2"},
		},
		{
			name: "forbidden tag: one result per file",
			files: map[string]string{
				"etc/sudoers":         "root ALL=(ALL) ALL\n#includedir /etc/sudoers.d\nalice ALL=(ALL) NOPASSWD: /usr/bin/apt, \\\n  /usr/bin/systemctl\n",
				"etc/sudoers.d/ops":   "%ops ALL=(ALL) NOPASSWD:ALL\nbob ALL=(ALL) NOEXEC: NOPASSWD: /bin/ls\n",
				"etc/sudoers.d/clean": "carol ALL=(ALL) ALL\n",
			},
			check:  "{sudoers: {forbid_tag: NOPASSWD}}",
			status: []posture.Status{posture.Fail, posture.Fail},
			reason: []string{"/etc/sudoers:3 carries NOPASSWD", "/etc/sudoers.d/ops:1, /etc/sudoers.d/ops:2 carries NOPASSWD"},
		},
		{
			name:   "no sudoers: not applicable",
			files:  map[string]string{"etc/": ""},
			check:  "{sudoers: {forbid_tag: NOPASSWD}}",
			status: []posture.Status{posture.Skip},
			reason: []string{"sudo is not configured here"},
		},
		{
			name:   "include loop is an error",
			files:  map[string]string{"etc/sudoers": "@include /etc/sudoers\n"},
			check:  "{sudoers: {forbid_tag: NOPASSWD}}",
			status: []posture.Status{posture.Error},
			reason: []string{"includes nested more than 16 deep"},
		},
	})
}

func TestAuditRulesCheck(t *testing.T) {
	runAuthCases(t, []authCase{
		{
			name:   "rules.d empty: audit.rules is read",
			files:  map[string]string{"etc/audit/rules.d/": "", "etc/audit/audit.rules": "-w /etc/sudoers -p rwa -k scope\n"},
			check:  "{audit_rules: {rules: ['-w /etc/sudoers -p wa', '-w /etc/sudoers.d -p wa']}}",
			status: []posture.Status{posture.Pass, posture.Fail},
			reason: []string{"/etc/audit/audit.rules:1", "no rule in /etc/audit/audit.rules records"},
		},
		{
			name:   "no rules on disk",
			files:  map[string]string{"etc/audit/auditd.conf": ""},
			check:  "{audit_rules: {immutable: true}}",
			status: []posture.Status{posture.Fail},
			reason: []string{"no audit rules on disk"},
		},
		{
			name:   "the last -e wins",
			files:  map[string]string{"etc/audit/rules.d/10-a.rules": "-e 2\n", "etc/audit/rules.d/99-b.rules": "-e 1\n"},
			check:  "{audit_rules: {immutable: true}}",
			status: []posture.Status{posture.Fail},
			reason: []string{"the last -e rule is -e 1 at /etc/audit/rules.d/99-b.rules:1; expected -e 2"},
		},
		{
			name: "sudo log file watched",
			files: map[string]string{
				"etc/sudoers":                  "Defaults logfile=\"/var/log/sudo-io.log\"\n",
				"etc/audit/rules.d/sudo.rules": "-a always,exit -F path=/var/log/sudo-io.log -F perm=wa -k sudo\n",
			},
			check:  "{audit_rules: {sudo_log: true}}",
			status: []posture.Status{posture.Pass},
			reason: []string{"records what \"-w /var/log/sudo-io.log -p wa\" asks for"},
		},
	})
}

func TestConfigAndShellChecks(t *testing.T) {
	journald := "{config: {path: /etc/systemd/journald.conf, drop_in_dirs: [/etc/systemd/journald.conf.d, /usr/lib/systemd/journald.conf.d], format: systemd, section: Journal, key: Storage, expect: {equals: persistent}, default: auto}}"
	runAuthCases(t, []authCase{
		{
			name: "systemd drop-ins: /etc hides /usr/lib, names sorted, last wins",
			files: map[string]string{
				"etc/systemd/journald.conf":                 "[Journal]\nStorage=volatile\n[Other]\nStorage=persistent\n",
				"usr/lib/systemd/journald.conf.d/10-a.conf": "[Journal]\nStorage=persistent\n",
				"usr/lib/systemd/journald.conf.d/20-b.conf": "[Journal]\nStorage=persistent\n",
				"etc/systemd/journald.conf.d/20-b.conf":     "[Journal]\nStorage=none\n",
			},
			check:  journald,
			status: []posture.Status{posture.Fail},
			reason: []string{"[Journal] Storage is none at /etc/systemd/journald.conf.d/20-b.conf:2; expected persistent"},
		},
		{
			name:   "no file at all: the default is judged",
			files:  map[string]string{"etc/": ""},
			check:  journald,
			status: []posture.Status{posture.Fail},
			reason: []string{"the default auto applies; expected persistent"},
		},
		{
			name:   "first value wins on request",
			files:  map[string]string{"etc/x.conf": "a = 1\na = 2\n"},
			check:  "{config: {path: /etc/x.conf, key: a, first_wins: true, expect: {equals: '1'}}}",
			status: []posture.Status{posture.Pass},
			reason: []string{"a is 1 at /etc/x.conf:1"},
		},
		{
			name:   "missing configuration skipped on request",
			files:  map[string]string{"etc/": ""},
			check:  "{config: {path: /etc/rsyslog.conf, drop_in_dirs: [/etc/rsyslog.d], format: space, no_match: imtcp, if_missing: skip}}",
			status: []posture.Status{posture.Skip},
			reason: []string{"not applicable: /etc/rsyslog.conf does not exist"},
		},
		{
			name:   "symbolic umask is not evaluated",
			files:  map[string]string{"etc/profile": "umask u=rwx,g=rx,o=\n"},
			check:  "{shell_profile: {umask: '027'}}",
			status: []posture.Status{posture.Fail},
			reason: []string{"is not an octal mask"},
		},
		{
			name:   "no umask anywhere",
			files:  map[string]string{"etc/profile": "PATH=/bin\n", "etc/profile.d/": ""},
			check:  "{shell_profile: {umask: '027'}}",
			status: []posture.Status{posture.Fail},
			reason: []string{"no umask is set in /etc/profile, /etc/profile.d/*.sh, /etc/bash.bashrc"},
		},
		{
			name:   "TMOUT set, read-only and exported in one statement",
			files:  map[string]string{"etc/bash.bashrc": "declare -rx TMOUT=600\n"},
			check:  "{shell_profile: {variable: TMOUT, expect: {min: 1, max: 900}, readonly: true, export: true}}",
			status: []posture.Status{posture.Pass},
			reason: []string{"TMOUT=600 at /etc/bash.bashrc:1 (read-only and exported)"},
		},
	})
}

func TestMoreAccountRules(t *testing.T) {
	runAuthCases(t, []authCase{
		{
			name:   "shadow as a primary group",
			files:  map[string]string{"etc/group": "shadow:x:42:\n", "etc/passwd": "root:x:0:0::/root:/bin/bash\nbackup:x:34:42::/var/backups:/usr/sbin/nologin\n"},
			check:  "{accounts: {rule: shadow_group_empty}}",
			status: []posture.Status{posture.Fail},
			reason: []string{"account backup has the shadow group (42) as its primary group at /etc/passwd:2"},
		},
		{
			name:   "no shadow group: not applicable",
			files:  map[string]string{"etc/group": "root:x:0:\n"},
			check:  "{accounts: {rule: shadow_group_empty}}",
			status: []posture.Status{posture.Skip},
			reason: []string{"defines no shadow group"},
		},
		{
			name:   "locked accounts are not judged on ageing",
			files:  map[string]string{"etc/shadow": "root:!:19700:0:99999:7:::\nbob:$y$x:19700:0::7:::\n"},
			check:  "{accounts: {rule: password_max_days, expect: {min: 1, max: 365}}}",
			status: []posture.Status{posture.Fail},
			reason: []string{"account bob has no maximum password age set at /etc/shadow:2; expected between 1 and 365"},
		},
		{
			name:   "UID_MIN from login.defs",
			files:  map[string]string{"etc/login.defs": "UID_MIN 500\n", "etc/passwd": "root:x:0:0::/root:/bin/bash\nold:x:600:600::/home/old:/bin/bash\n"},
			check:  "{accounts: {rule: system_accounts_nologin}}",
			status: []posture.Status{posture.Pass},
			reason: []string{"none of the 0 system accounts (uid below 500, from /etc/login.defs:1)"},
		},
	})
}
