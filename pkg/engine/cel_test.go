package engine_test

import (
	"strings"
	"testing"

	"github.com/palisadehq/palisade/pkg/posture"
)

func TestCELCheck(t *testing.T) {
	chrony := map[string]string{
		"var/lib/dpkg/status":                                       "Package: chrony\nStatus: install ok installed\nVersion: 4.3-2\n\nPackage: ntp\nStatus: deinstall ok config-files\nVersion: 1\n",
		"etc/chrony/chrony.conf":                                    "# pool 2.debian.pool.ntp.org iburst\nserver time.example.org iburst\n",
		"etc/os-release":                                            "ID=debian\nVERSION_ID=\"12\"\n",
		"etc/apt/sources.list":                                      "deb http://deb.example.org/debian bookworm main\n",
		"etc/apt/sources.list.d/x.sources":                          "Types: deb\nURIs: http://x.example/\nSuites: x\nTrusted: yes\n",
		"etc/ssh/sshd_config":                                       "Port 22\n",
		"etc/sysctl.d/10.conf":                                      "net.ipv4.ip_forward = 0\n",
		"lib/systemd/system/chrony.service":                         "[Unit]\n",
		"etc/systemd/system/multi-user.target.wants/chrony.service": "->/lib/systemd/system/chrony.service",
	}
	tests := []struct {
		name       string
		files      map[string]string
		check      string
		wantStatus posture.Status
		wantReason string
		wantSource string // a source in the evidence
	}{
		{"package and file content pass", chrony,
			`{cel: {expr: "'chrony' in packages && file('/etc/chrony/chrony.conf').content.matches(r'(?m)^\\s*(server|pool)\\s')", resource: /etc/chrony/chrony.conf}}`,
			posture.Pass, "the expression holds", "/etc/chrony/chrony.conf"},
		{"config-files state is not installed", chrony,
			`{cel: {expr: "!('ntp' in packages)"}}`, posture.Pass, "the expression holds", "/var/lib/dpkg/status"},
		{"message on failure", chrony,
			`{cel: {expr: "apt_sources.all(s, !('trusted' in s.options) || s.options.trusted != 'yes')", message: an APT source is trusted without a signature}}`,
			posture.Fail, "an APT source is trusted without a signature (the expression is false: apt_sources.all(", "/etc/apt/sources.list"},
		{"os, sshd default, sysctl and unit", chrony,
			`{cel: {expr: "os.ID == 'debian' && sshd('PermitRootLogin') == 'prohibit-password' && sysctl('net.ipv4.ip_forward') == '0' && unit('chrony.service') == 'enabled' && unit('ntp.service') == 'not-installed'"}}`,
			posture.Pass, "the expression holds", "/etc/systemd/system/multi-user.target.wants/chrony.service"},
		{"file metadata and glob", chrony,
			`{cel: {expr: "file('/etc/chrony/chrony.conf').mode == 420 && file('/etc/chrony/chrony.conf').uid >= 0 && !file('/etc/nope').exists && glob('/etc/apt/sources.list.d/*').size() == 1"}}`,
			posture.Pass, "the expression holds", "/etc/nope"},
		{"applies false skips", chrony,
			`{cel: {applies: "installed('ntp')", expr: "false"}}`, posture.Skip, "not applicable: installed('ntp') is false", "/var/lib/dpkg/status"},
		{"applies true evaluates; installed names the package", chrony,
			`{cel: {applies: "installed('chrony')", expr: "unit('chrony.service') == 'masked'", message: chrony is not masked}}`, posture.Fail, "chrony is not masked (the expression is false: unit('chrony.service') == 'masked')", "/etc/systemd/system/multi-user.target.wants/chrony.service"},
		{"grep lists matching lines with their numbers", chrony,
			`{cel: {expr: "grep('/etc/chrony/chrony.conf', r'^[ \\t]*(server|pool)[ \\t]').map(m, m.line) == [2] && grep('/etc/missing', 'x').size() == 0 && grep('/etc/chrony', 'x').size() == 0"}}`,
			posture.Pass, "the expression holds", "/etc/chrony/chrony.conf"},
		{"grep with a bad expression is an error", chrony,
			`{cel: {expr: "grep('/etc/chrony/chrony.conf', '(').size() == 0"}}`, posture.Error, "error parsing regexp", ""},
		{"no package database skips", map[string]string{"etc/": ""},
			`{cel: {expr: "'chrony' in packages"}}`, posture.Skip, "no package database", ""},
		{"unreadable file is an error", map[string]string{"etc/x": "->/etc/x"},
			`{cel: {expr: "file('/etc/x').exists"}}`, posture.Error, "cannot read /etc/x", ""},
		{"relative path is an error", chrony,
			`{cel: {expr: "file('etc/x').exists"}}`, posture.Error, "want an absolute path", ""},
		{"cost limit", map[string]string{"etc/big": strings.Repeat("a", 1<<20)},
			`{cel: {expr: "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].all(i, !file('/etc/big').content.matches('b+c'))"}}`,
			posture.Error, "cost limit", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := runOne(t, writeTree(t, tc.files), control(t, tc.check))
			if len(res) != 1 {
				t.Fatalf("%d results: %+v", len(res), res)
			}
			r := res[0]
			if r.Status != tc.wantStatus || !strings.Contains(r.Reason, tc.wantReason) {
				t.Fatalf("got %s %q; want %s containing %q", r.Status, r.Reason, tc.wantStatus, tc.wantReason)
			}
			found := tc.wantSource == ""
			for _, e := range r.Evidence {
				found = found || e.Source == tc.wantSource
			}
			if !found {
				t.Errorf("no evidence from %s: %+v", tc.wantSource, r.Evidence)
			}
		})
	}
}
