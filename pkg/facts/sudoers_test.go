package facts

import (
	"reflect"
	"testing"
)

func TestParseSudoers(t *testing.T) {
	in := "# comment\n" +
		"Defaults\tenv_reset, mail_badpass,secure_path=\"/usr/sbin:/usr/bin\"\n" +
		"Defaults:%admins !authenticate\n" +
		"Defaults use_pty, logfile=\"/var/log/sudo.log\" # trailing\n" +
		"Defaults timestamp_timeout=-1, env_keep += \"A B\"\n" +
		"Cmnd_Alias SHUT = /sbin/halt, \\\n  /sbin/reboot\n" +
		"%sudo ALL=(ALL:ALL) ALL\n" +
		"#1000 ALL = (root) NOPASSWD: /usr/bin/apt, NOEXEC:PASSWD: /bin/x\n" +
		"#includedir /etc/sudoers.d\n" +
		"@include \"extra file\"\n" +
		"#include_not_a_directive x\n"
	got := ParseSudoers([]byte(in))
	want := []SudoersEntry{
		{Kind: SudoersDefaults, Line: 2, Text: "Defaults\tenv_reset, mail_badpass,secure_path=\"/usr/sbin:/usr/bin\"", Settings: []SudoDefault{
			{Name: "env_reset"}, {Name: "mail_badpass"}, {Name: "secure_path", Op: "=", Value: "/usr/sbin:/usr/bin"}}},
		{Kind: SudoersDefaults, Line: 3, Text: "Defaults:%admins !authenticate", Scope: ":%admins", Settings: []SudoDefault{{Name: "authenticate", Negated: true}}},
		{Kind: SudoersDefaults, Line: 4, Text: "Defaults use_pty, logfile=\"/var/log/sudo.log\"", Settings: []SudoDefault{
			{Name: "use_pty"}, {Name: "logfile", Op: "=", Value: "/var/log/sudo.log"}}},
		{Kind: SudoersDefaults, Line: 5, Text: "Defaults timestamp_timeout=-1, env_keep += \"A B\"", Settings: []SudoDefault{
			{Name: "timestamp_timeout", Op: "=", Value: "-1"}, {Name: "env_keep", Op: "+=", Value: "A B"}}},
		{Kind: SudoersAlias, Line: 6, Text: "Cmnd_Alias SHUT = /sbin/halt,    /sbin/reboot"},
		{Kind: SudoersUserSpec, Line: 8, Text: "%sudo ALL=(ALL:ALL) ALL"},
		{Kind: SudoersUserSpec, Line: 9, Text: "#1000 ALL = (root) NOPASSWD: /usr/bin/apt, NOEXEC:PASSWD: /bin/x", Tags: []string{"NOPASSWD", "NOEXEC", "PASSWD"}},
		{Kind: SudoersIncludeDir, Line: 10, Text: "#includedir /etc/sudoers.d", Path: "/etc/sudoers.d"},
		{Kind: SudoersInclude, Line: 11, Text: "@include \"extra file\"", Path: "extra file"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseSudoers:\n got %+v\nwant %+v", got, want)
	}
}

func FuzzParseSudoers(f *testing.F) {
	f.Add([]byte("Defaults use_pty,logfile=\"/x\"\n#includedir /etc/sudoers.d\nalice ALL=(ALL) NOPASSWD: ALL\nDefaults:bob !authenticate \\\n, x\n"))
	f.Add([]byte("Defaults!\"\\\n#1 ALL=\"#\n@include"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range ParseSudoers(data) {
			if e.Line < 1 || e.Kind == "" {
				t.Fatalf("bad entry %+v", e)
			}
			if (e.Kind == SudoersInclude || e.Kind == SudoersIncludeDir) && e.Path == "" {
				t.Fatalf("include without a path: %+v", e)
			}
		}
	})
}
