package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/engine"
	"github.com/palisadehq/palisade/pkg/posture"
)

// writeTree creates files (path -> content; content "->target" makes a link) under a fresh
// root and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, full); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func control(t *testing.T, check string) *catalog.Control {
	t.Helper()
	c := &catalog.Control{ID: "test.control", Title: "t", Description: "d", Rationale: "r", Remediation: "m",
		Severity: posture.Low, Service: "Test", TargetType: posture.Linux}
	if err := yaml.Unmarshal([]byte(check), &c.Check); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

func runOne(t *testing.T, root string, c *catalog.Control) []engine.Result {
	t.Helper()
	e, err := engine.New(engine.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	var out []engine.Outcome
	if err := e.Run(context.Background(), []*catalog.Control{c}, func(o engine.Outcome) { out = append(out, o) }); err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 {
		t.Fatalf("%d outcomes, want 1", len(out))
	}
	return out[0].Results
}

const dpkgWithSSH = "Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2p1-2\n\n"

func TestCases(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		check      string
		wantStatus []posture.Status
		wantReason string // substring of the first result's reason
	}{
		{
			name:       "sshd skipped when openssh-server is not installed",
			files:      map[string]string{"var/lib/dpkg/status": "Package: bash\nStatus: install ok installed\n"},
			check:      "{only_if_packages: openssh-server, sshd: {key: PermitRootLogin, expect: {equals: 'no'}}}",
			wantStatus: []posture.Status{posture.Skip},
			wantReason: "not applicable: openssh-server is not installed",
		},
		{
			name:       "sshd skipped when sshd_config is absent",
			files:      map[string]string{"var/lib/dpkg/status": dpkgWithSSH},
			check:      "{only_if_packages: openssh-server, sshd: {key: PermitRootLogin, expect: {equals: 'no'}}}",
			wantStatus: []posture.Status{posture.Skip},
			wantReason: "/etc/ssh/sshd_config does not exist",
		},
		{
			name: "sshd Include loop is an error",
			files: map[string]string{
				"etc/ssh/sshd_config":               "Include conf.d/*.conf\nPermitRootLogin yes\n",
				"etc/ssh/conf.d/20-b.conf":          "PermitRootLogin without-password\n",
				"etc/ssh/conf.d/10-a.conf":          "# a\nPermitRootLogin no\n",
				"etc/ssh/conf.d/30-loop.conf":       "Include /etc/ssh/conf.d/30-loop.conf\n",
				"etc/ssh/conf.d/ignored.conf.disab": "PermitRootLogin yes\n",
			},
			check:      "{sshd: {key: permitrootlogin, expect: {equals: 'no'}}}",
			wantStatus: []posture.Status{posture.Error},
			wantReason: "Include nested more than 16 deep",
		},
		{
			name: "sshd Include in order",
			files: map[string]string{
				"etc/ssh/sshd_config":      "Include conf.d/*.conf\nPermitRootLogin yes\n",
				"etc/ssh/conf.d/20-b.conf": "PermitRootLogin without-password\n",
				"etc/ssh/conf.d/10-a.conf": "# a\nPermitRootLogin no\n",
			},
			check:      "{sshd: {key: permitrootlogin, expect: {equals: 'no'}}}",
			wantStatus: []posture.Status{posture.Pass},
			wantReason: "permitrootlogin is no at /etc/ssh/conf.d/10-a.conf:2",
		},
		{
			name:       "sshd default applies",
			files:      map[string]string{"etc/ssh/sshd_config": "Port 22\n"},
			check:      "{sshd: {key: PermitRootLogin, expect: {equals: 'no'}}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "PermitRootLogin is not set; the OpenSSH default prohibit-password applies; expected no",
		},
		{
			name:       "unreadable shadow is an error, not a pass or fail",
			files:      map[string]string{"etc/shadow/": ""},
			check:      "{accounts: {rule: no_empty_passwords}}",
			wantStatus: []posture.Status{posture.Error},
			wantReason: "cannot read /etc/shadow: is a directory",
		},
		{
			name:       "symlinked config stays inside the root",
			files:      map[string]string{"etc/login.defs": "->/usr/share/login.defs", "usr/share/login.defs": "PASS_MAX_DAYS 90\n"},
			check:      "{login_defs: {key: PASS_MAX_DAYS, expect: {max: 365}}}",
			wantStatus: []posture.Status{posture.Pass},
			wantReason: "PASS_MAX_DAYS is 90 at /etc/login.defs:1",
		},
		{
			name:       "link loop is an error",
			files:      map[string]string{"etc/passwd": "->/etc/passwd"},
			check:      "{accounts: {rule: only_root_uid0}}",
			wantStatus: []posture.Status{posture.Error},
			wantReason: "cannot read /etc/passwd: too many levels of symbolic links",
		},
		{
			name:       "no dpkg database: package checks skip",
			files:      map[string]string{"etc/": ""},
			check:      "{package: {names: [telnet, nis], state: absent}}",
			wantStatus: []posture.Status{posture.Skip, posture.Skip},
			wantReason: "no package database",
		},
		{
			name:       "only_if_os skips other distributions",
			files:      map[string]string{"etc/os-release": "ID=fedora\nPRETTY_NAME=\"Fedora Linux 40\"\n"},
			check:      "{only_if_os: debian, package: {names: telnet, state: absent}}",
			wantStatus: []posture.Status{posture.Skip},
			wantReason: "the operating system is Fedora Linux 40",
		},
		{
			name: "sysctl: /etc hides a same-named file in /usr/lib; sysctl.conf applies last",
			files: map[string]string{
				"usr/lib/sysctl.d/10-x.conf": "net.ipv4.ip_forward = 1\n",
				"etc/sysctl.d/10-x.conf":     "net.ipv4.tcp_syncookies = 1\n",
				"run/sysctl.d/20-y.conf":     "net.ipv4.tcp_syncookies = 0\n",
				"etc/sysctl.conf":            "net.ipv4.tcp_syncookies=1\n",
			},
			check:      "{sysctl: {keys: [net.ipv4.ip_forward, net.ipv4.tcp_syncookies], expect: {equals: '1'}}}",
			wantStatus: []posture.Status{posture.Fail, posture.Pass},
			wantReason: "net.ipv4.ip_forward is not set; expected 1",
		},
		{
			name:       "file content must match",
			files:      map[string]string{"etc/issue": "Welcome\n"},
			check:      "{file_content: {path: /etc/issue, match: '^Authorized'}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "no line matches ^Authorized",
		},
		{
			name:       "file absent",
			files:      map[string]string{"etc/hosts.equiv": ""},
			check:      "{file: {path: /etc/hosts.equiv, state: absent}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "/etc/hosts.equiv exists; expected it to be absent",
		},
		{
			name:       "systemd unit: alias link means enabled",
			files:      map[string]string{"lib/systemd/system/ssh.service": "[Unit]\n", "etc/systemd/system/sshd.service": "->/lib/systemd/system/ssh.service"},
			check:      "{systemd_unit: {units: sshd.service, state: disabled}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "sshd.service is enabled (alias /etc/systemd/system/sshd.service)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := writeTree(t, tc.files)
			res := runOne(t, root, control(t, tc.check))
			if len(res) != len(tc.wantStatus) {
				t.Fatalf("%d results, want %d: %+v", len(res), len(tc.wantStatus), res)
			}
			for i, r := range res {
				if r.Status != tc.wantStatus[i] {
					t.Errorf("result %d (%s) status %s, want %s: %s", i, r.Resource, r.Status, tc.wantStatus[i], r.Reason)
				}
			}
			if !strings.Contains(res[0].Reason, tc.wantReason) {
				t.Errorf("reason %q does not contain %q", res[0].Reason, tc.wantReason)
			}
		})
	}
}

func TestPermissionDeniedIsError(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every file; the directory case in TestCases covers errors as root")
	}
	root := writeTree(t, map[string]string{"etc/shadow": "root:!:1::::::\n"})
	if err := os.Chmod(filepath.Join(root, "etc/shadow"), 0); err != nil {
		t.Fatal(err)
	}
	res := runOne(t, root, control(t, "{accounts: {rule: no_empty_passwords}}"))
	if res[0].Status != posture.Error || res[0].Reason != "cannot read /etc/shadow: permission denied" {
		t.Fatalf("got %s %q", res[0].Status, res[0].Reason)
	}
}

func TestRunCancelled(t *testing.T) {
	root := writeTree(t, map[string]string{"etc/passwd": "root:x:0:0::/root:/bin/sh\n"})
	e, err := engine.New(engine.Options{Root: root, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctl := control(t, "{accounts: {rule: only_root_uid0}}")
	controls := make([]*catalog.Control, 1000)
	for i := range controls {
		controls[i] = ctl
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err = e.Run(ctx, controls, func(engine.Outcome) {
		n++
		if n == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run error = %v, want context.Canceled", err)
	}
	if n != 3 {
		t.Fatalf("emit called %d times after cancel at 3", n)
	}
}

func TestNewOptions(t *testing.T) {
	if _, err := engine.New(engine.Options{Root: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("New with a missing root succeeded")
	}
	if _, err := engine.New(engine.Options{Concurrency: -1}); err == nil {
		t.Error("New with negative concurrency succeeded")
	}
}
