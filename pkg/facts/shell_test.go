package facts

import (
	"reflect"
	"testing"
)

func TestParseShellSettings(t *testing.T) {
	in := "# TMOUT=0\n" +
		"TMOUT=900; readonly TMOUT; export TMOUT\n" +
		"if [ \"$UID\" -gt 199 ]; then umask 027; fi\n" +
		"declare -xr TMOUT=600\n" +
		"FOO=1 some_command\n" +
		"export PATH=\"/usr/bin\" # c\n" +
		"echo 'TMOUT=1'\n"
	got := ParseShellSettings([]byte(in))
	want := []ShellSetting{
		{Name: "TMOUT", Value: "900", Assigned: true, Line: 2},
		{Name: "TMOUT", Readonly: true, Line: 2},
		{Name: "TMOUT", Export: true, Line: 2},
		{Name: "umask", Value: "027", Assigned: true, Line: 3},
		{Name: "TMOUT", Value: "600", Assigned: true, Readonly: true, Export: true, Line: 4},
		{Name: "PATH", Value: "/usr/bin", Assigned: true, Export: true, Line: 6},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseShellSettings:\n got %+v\nwant %+v", got, want)
	}
}

func FuzzParseShellSettings(f *testing.F) {
	f.Add([]byte("TMOUT=900; readonly TMOUT\nexport TMOUT\numask 027 && x\ndeclare -r A=\"b c\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range ParseShellSettings(data) {
			if s.Name == "" || s.Line < 1 {
				t.Fatalf("bad setting %+v", s)
			}
		}
	})
}
