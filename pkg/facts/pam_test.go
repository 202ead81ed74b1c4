package facts

import (
	"reflect"
	"testing"
)

func TestParsePAM(t *testing.T) {
	in := "# comment\n" +
		"auth\t[success=1 default=ignore]\tpam_unix.so nullok # trailing\n" +
		"-auth optional /lib/security/pam_gnome_keyring.so\n" +
		"password requisite pam_pwquality.so retry=3 \\\n" +
		"   minlen=14\n" +
		"@include common-account\n" +
		"session required pam_exec.so [quiet arg=a\\]b] x\n" +
		"auth include system-auth\n" +
		"broken line\n" +
		"password substack\n"
	got := ParsePAM([]byte(in))
	want := []PAMLine{
		{Type: "auth", Control: "[success=1 default=ignore]", Module: "pam_unix.so", Args: []string{"nullok"}, Line: 2},
		{Type: "auth", Optional: true, Control: "optional", Module: "/lib/security/pam_gnome_keyring.so", Line: 3},
		{Type: "password", Control: "requisite", Module: "pam_pwquality.so", Args: []string{"retry=3", "minlen=14"}, Line: 4},
		{Type: "@include", Module: "common-account", Line: 6},
		{Type: "session", Control: "required", Module: "pam_exec.so", Args: []string{"[quiet arg=a]b]", "x"}, Line: 7},
		{Type: "auth", Control: "include", Module: "system-auth", Line: 8},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParsePAM:\n got %+v\nwant %+v", got, want)
	}
	if got[1].ModuleName() != "pam_gnome_keyring" || got[0].ModuleName() != "pam_unix" {
		t.Errorf("ModuleName = %q, %q", got[1].ModuleName(), got[0].ModuleName())
	}
	if v, ok := got[2].Arg("minlen"); !ok || v != "14" {
		t.Errorf("Arg(minlen) = %q, %v", v, ok)
	}
	if !got[0].HasArg("nullok") || got[0].HasArg("null") {
		t.Error("HasArg wrong")
	}
	for i, want := range []string{"", "", "", "common-account", "", "system-auth"} {
		if f, _ := got[i].Includes(); f != want {
			t.Errorf("line %d Includes = %q, want %q", got[i].Line, f, want)
		}
	}
}

func TestParseConf(t *testing.T) {
	tests := []struct {
		name, format, in string
		want             []ConfSetting
	}{
		{"equals", ConfEquals, "# minlen = 1\nminlen = 14\nenforce_for_root\nx=\"q v\" # c\n=3\n", []ConfSetting{
			{Key: "minlen", Value: "14", Line: 2}, {Key: "enforce_for_root", Bare: true, Line: 3}, {Key: "x", Value: "q v", Line: 4}}},
		{"space", ConfSpace, "$FileCreateMode 0640\n#$FileCreateMode 0644\nmodule(load=\"imtcp\")\n", []ConfSetting{
			{Key: "$FileCreateMode", Value: "0640", Line: 1}, {Key: "module(load=\"imtcp\")", Bare: true, Line: 3}}},
		{"systemd", ConfSystemd, "[Journal]\n; c\n#Storage=auto\nStorage = persistent\nCompress=yes \\\n  no\n[Other]\nStorage=none\nnovalue\n", []ConfSetting{
			{Section: "Journal", Key: "Storage", Value: "persistent", Line: 4}, {Section: "Journal", Key: "Compress", Value: "yes    no", Line: 5},
			{Section: "Other", Key: "Storage", Value: "none", Line: 8}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseConf([]byte(tc.in), tc.format); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("ParseConf:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func FuzzParsePAM(f *testing.F) {
	f.Add([]byte("auth [success=1 default=ignore] pam_unix.so nullok\n@include common-auth\npassword requisite pam_pwquality.so \\\n retry=3\n"))
	f.Add([]byte("session required pam_exec.so [a\\]\n["))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, l := range ParsePAM(data) {
			if l.Line < 1 || l.Module == "" || l.Type == "" {
				t.Fatalf("bad line %+v", l)
			}
			_ = l.ModuleName()
		}
	})
}

func FuzzParseConf(f *testing.F) {
	f.Add([]byte("[Journal]\nStorage=persistent\\\n\n;x\nminlen = 14\nenforce_for_root\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []string{ConfEquals, ConfSpace, ConfSystemd} {
			for _, s := range ParseConf(data, format) {
				if s.Key == "" || s.Line < 1 {
					t.Fatalf("%s: bad setting %+v", format, s)
				}
			}
		}
	})
}
