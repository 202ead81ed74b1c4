package facts

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

func TestParseSSHDConfig(t *testing.T) {
	in := "# comment\n" +
		"PermitRootLogin no\n" +
		"  maxauthtries=4 # trailing\n" +
		"Banner \"/etc/issue net\"\n" +
		"LogLevel = VERBOSE\n" +
		"Include /etc/ssh/sshd_config.d/*.conf\r\n" +
		"\n" +
		"Match User backup\n" +
		"\tPermitRootLogin yes\n" +
		"Match all\n" +
		"X11Forwarding\n"
	got := ParseSSHDConfig([]byte(in))
	want := []SSHDDirective{
		{Keyword: "permitrootlogin", Name: "PermitRootLogin", Args: []string{"no"}, Line: 2},
		{Keyword: "maxauthtries", Name: "maxauthtries", Args: []string{"4"}, Line: 3},
		{Keyword: "banner", Name: "Banner", Args: []string{"/etc/issue net"}, Line: 4},
		{Keyword: "loglevel", Name: "LogLevel", Args: []string{"VERBOSE"}, Line: 5},
		{Keyword: "include", Name: "Include", Args: []string{"/etc/ssh/sshd_config.d/*.conf"}, Line: 6},
		{Keyword: "match", Name: "Match", Args: []string{"User", "backup"}, Line: 8, Match: "User backup"},
		{Keyword: "permitrootlogin", Name: "PermitRootLogin", Args: []string{"yes"}, Line: 9, Match: "User backup"},
		{Keyword: "match", Name: "Match", Args: []string{"all"}, Line: 10, Match: "all"},
		{Keyword: "x11forwarding", Name: "X11Forwarding", Line: 11, Match: "all"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseSSHDConfig:\n got %+v\nwant %+v", got, want)
	}
	if v, ok := SSHDDefault("PermitRootLogin"); !ok || v != "prohibit-password" {
		t.Errorf("SSHDDefault(PermitRootLogin) = %q, %v", v, ok)
	}
}

func TestParseSysctlConf(t *testing.T) {
	in := "# c\n; c\nnet.ipv4.ip_forward = 0\n-net/ipv4/conf/eth0.1/rp_filter=1\nnet.ipv4.tcp_rmem =  4096\t87380   6291456 \nbogus\n = 3\n-net.ipv4.conf.all.rp_filter\n"
	got := ParseSysctlConf([]byte(in))
	want := []SysctlSetting{
		{Key: "net.ipv4.ip_forward", Value: "0", Line: 3},
		{Key: "net.ipv4.conf.eth0/1.rp_filter", Value: "1", Line: 4, IgnoreErrors: true},
		{Key: "net.ipv4.tcp_rmem", Value: "4096 87380 6291456", Line: 5},
		{Key: "net.ipv4.conf.all.rp_filter", Line: 8, IgnoreErrors: true, Exclude: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseSysctlConf:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseDpkgStatus(t *testing.T) {
	in := "Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2p1-2\nDescription: x\n more\n\n" +
		"Package: telnet\nStatus: deinstall ok config-files\n\n\nStatus: install ok installed\n\nPackage: auditd\nStatus: install ok half-installed\n"
	got := ParseDpkgStatus([]byte(in))
	want := []DpkgPackage{
		{Name: "openssh-server", Status: "install ok installed", Version: "1:9.2p1-2", Line: 1},
		{Name: "telnet", Status: "deinstall ok config-files", Line: 7},
		{Name: "auditd", Status: "install ok half-installed", Line: 13},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseDpkgStatus:\n got %+v\nwant %+v", got, want)
	}
	for i, inst := range []bool{true, false, false} {
		if got[i].Installed() != inst {
			t.Errorf("%s Installed() = %v, want %v", got[i].Name, !inst, inst)
		}
	}
}

func TestParseAccounts(t *testing.T) {
	pw := ParsePasswd([]byte("root:x:0:0:root:/root:/bin/bash\n# c\n+nis\nbad:x\nodd:x:abc:1\n"))
	wantPw := []PasswdEntry{
		{Name: "root", Password: "x", UID: 0, GID: 0, GECOS: "root", Home: "/root", Shell: "/bin/bash", Line: 1},
		{Name: "odd", Password: "x", UID: -1, GID: 1, Line: 5},
	}
	if !reflect.DeepEqual(pw, wantPw) {
		t.Errorf("ParsePasswd:\n got %+v\nwant %+v", pw, wantPw)
	}
	sh := ParseShadow([]byte("root:$y$abc:19000:0:99999:7:::\nguest::19000\nx\n"))
	wantSh := []ShadowEntry{
		{Name: "root", Hash: "$y$abc", LastChange: "19000", MinDays: "0", MaxDays: "99999", WarnDays: "7", Line: 1},
		{Name: "guest", Hash: "", LastChange: "19000", Line: 2},
	}
	if !reflect.DeepEqual(sh, wantSh) {
		t.Errorf("ParseShadow:\n got %+v\nwant %+v", sh, wantSh)
	}
	gr := ParseGroup([]byte("root:x:0:\nshadow:x:42:a,b\nshort:x\n"))
	wantGr := []GroupEntry{{Name: "root", GID: 0, Line: 1}, {Name: "shadow", GID: 42, Members: []string{"a", "b"}, Line: 2}}
	if !reflect.DeepEqual(gr, wantGr) {
		t.Errorf("ParseGroup:\n got %+v\nwant %+v", gr, wantGr)
	}
}

func TestParseLoginDefsAndKeyValue(t *testing.T) {
	kvs := ParseLoginDefs([]byte("# PASS_MAX_DAYS 1\nPASS_MAX_DAYS\t99999\nUMASK \"022\" # trailing\nPASS_MAX_DAYS 365\nENV_PATH PATH=/bin#x\n"))
	want := []KV{{Key: "PASS_MAX_DAYS", Value: "99999", Line: 2}, {Key: "UMASK", Value: "022", Line: 3}, {Key: "PASS_MAX_DAYS", Value: "365", Line: 4}, {Key: "ENV_PATH", Value: "PATH=/bin#x", Line: 5}}
	if !reflect.DeepEqual(kvs, want) {
		t.Fatalf("ParseLoginDefs:\n got %+v\nwant %+v", kvs, want)
	}
	if kv, ok := Lookup(kvs, "PASS_MAX_DAYS", false, true); !ok || kv.Value != "365" {
		t.Errorf("Lookup last = %+v, %v", kv, ok)
	}
	if kv, ok := Lookup(kvs, "pass_max_days", true, false); !ok || kv.Value != "99999" {
		t.Errorf("Lookup first folded = %+v, %v", kv, ok)
	}
	eq := ParseKeyValue([]byte("max_log_file_action = keep_logs\n#x = y\nspace_left=75 # c\nnoeq\n"), "=", "")
	wantEq := []KV{{Key: "max_log_file_action", Value: "keep_logs", Line: 1}, {Key: "space_left", Value: "75", Line: 3}}
	if !reflect.DeepEqual(eq, wantEq) {
		t.Fatalf("ParseKeyValue:\n got %+v\nwant %+v", eq, wantEq)
	}
}

func TestParseOSRelease(t *testing.T) {
	got := ParseOSRelease([]byte("PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nID_LIKE='rhel fedora'\nX=\"a\\\"b\"\n# c\nbad line\n"))
	want := map[string]string{"PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)", "ID": "debian", "ID_LIKE": "rhel fedora", "X": `a"b`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseOSRelease = %v, want %v", got, want)
	}
	if !OSMatches(got, "fedora") || !OSMatches(got, "DEBIAN") || OSMatches(got, "ubuntu") {
		t.Error("OSMatches wrong")
	}
}

// The fuzz targets check that no parser panics and that what they return stays within the
// input's bounds.

func FuzzParseSSHDConfig(f *testing.F) {
	f.Add([]byte("PermitRootLogin no\nMatch User x\n  X11Forwarding \"yes\"\nInclude a b\n"))
	f.Add([]byte("k=\"unterminated\n=\n#\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range ParseSSHDConfig(data) {
			if d.Keyword == "" || d.Line < 1 {
				t.Fatalf("bad directive %+v", d)
			}
		}
	})
}

func FuzzParseSysctlConf(f *testing.F) {
	f.Add([]byte("net.ipv4.ip_forward = 0\n-kernel/x.y = 1 2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range ParseSysctlConf(data) {
			if s.Key == "" || s.Line < 1 {
				t.Fatalf("bad setting %+v", s)
			}
		}
	})
}

func FuzzParseDpkgStatus(f *testing.F) {
	f.Add([]byte("Package: a\nStatus: install ok installed\n\nPackage: b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, p := range ParseDpkgStatus(data) {
			if p.Name == "" {
				t.Fatalf("package without a name: %+v", p)
			}
			_ = p.Installed()
		}
	})
}

func FuzzParseAccounts(f *testing.F) {
	f.Add([]byte("root:x:0:0:root:/root:/bin/bash\nshadow:x:42:a,b\nroot:$6$x:1:0:99999:7:::\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range ParsePasswd(data) {
			if e.UID < -1 || e.GID < -1 {
				t.Fatalf("bad ids %+v", e)
			}
		}
		_ = ParseShadow(data)
		for _, g := range ParseGroup(data) {
			if g.GID < -1 {
				t.Fatalf("bad gid %+v", g)
			}
		}
	})
}

func FuzzParseLoginDefs(f *testing.F) {
	f.Add([]byte("PASS_MAX_DAYS 90\nUMASK \"027\" # c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kv := range ParseLoginDefs(data) {
			if kv.Key == "" {
				t.Fatalf("empty key: %+v", kv)
			}
		}
		_ = ParseKeyValue(data, "=", ";")
	})
}

func FuzzParseOSRelease(f *testing.F) {
	f.Add([]byte("ID=debian\nPRETTY_NAME=\"Debian \\\"x\\\"\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for k, v := range ParseOSRelease(data) {
			if k == "" || (utf8.Valid(data) && !utf8.ValidString(v)) {
				t.Fatalf("bad entry %q=%q", k, v)
			}
		}
	})
}
