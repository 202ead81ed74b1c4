package facts

import (
	"reflect"
	"testing"
)

func TestParseFstab(t *testing.T) {
	in := "# comment\n" +
		"UUID=abc / ext4 errors=remount-ro 0 1\n" +
		"\n" +
		"  tmpfs /tmp tmpfs defaults,nodev,nosuid 0 0 # trailing\n" +
		"/dev/sdb1 /mnt/my\\040disk ext4\n" +
		"lonely\n"
	got := ParseFstab([]byte(in))
	want := []FstabEntry{
		{Source: "UUID=abc", MountPoint: "/", Type: "ext4", Options: []string{"errors=remount-ro"}, Line: 2},
		{Source: "tmpfs", MountPoint: "/tmp", Type: "tmpfs", Options: []string{"defaults", "nodev", "nosuid"}, Line: 4},
		{Source: "/dev/sdb1", MountPoint: "/mnt/my disk", Type: "ext4", Options: []string{"defaults"}, Line: 5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseFstab:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseMountinfo(t *testing.T) {
	in := "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n" +
		"30 28 0:27 / /tmp rw,nosuid,nodev,noexec shared:12 - tmpfs tmpfs rw,size=2097152k\n" +
		"31 28 0:28 / /with\\040space rw - tmpfs none\n" +
		"broken line without separator\n" +
		"1 2 3 4 5 6 -\n"
	got := ParseMountinfo([]byte(in))
	want := []MountInfo{
		{MountPoint: "/mnt2", Options: []string{"rw", "noatime"}, FSType: "ext3", Source: "/dev/root", SuperOptions: []string{"rw", "errors=continue"}, Line: 1},
		{MountPoint: "/tmp", Options: []string{"rw", "nosuid", "nodev", "noexec"}, FSType: "tmpfs", Source: "tmpfs", SuperOptions: []string{"rw", "size=2097152k"}, Line: 2},
		{MountPoint: "/with space", Options: []string{"rw"}, FSType: "tmpfs", Source: "none", Line: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseMountinfo:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseModprobe(t *testing.T) {
	in := "# disable cramfs\n" +
		"install cramfs /bin/false\n" +
		"Blacklist  usb-storage   # not a comment for modprobe, but a third word\n" +
		"install sctp /bin/echo \\\n  disabled\n" +
		"options\n" +
		"alias net-pf-33 off\n"
	got := ParseModprobe([]byte(in))
	want := []ModprobeDirective{
		{Command: "install", Module: "cramfs", Args: "/bin/false", Line: 2},
		{Command: "blacklist", Module: "usb-storage", Args: "# not a comment for modprobe, but a third word", Line: 3},
		{Command: "install", Module: "sctp", Args: "/bin/echo disabled", Line: 4},
		{Command: "alias", Module: "net-pf-33", Args: "off", Line: 7},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseModprobe:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseProcModulesAndLists(t *testing.T) {
	mods := ParseProcModules([]byte("usb_storage 81920 0 - Live 0x0\n\next4 1 1 -\n"))
	wantMods := []ProcModule{{Name: "usb_storage", State: "Live", Line: 1}, {Name: "ext4", Line: 3}}
	if !reflect.DeepEqual(mods, wantMods) {
		t.Fatalf("ParseProcModules: got %+v, want %+v", mods, wantMods)
	}
	list := ParseModulesList([]byte("kernel/drivers/usb/storage/usb-storage.ko.zst: kernel/drivers/usb/core/usbcore.ko\nkernel/fs/ext4/ext4.ko\nnot-a-module.txt:\n.ko\n"))
	wantList := []ModuleFile{
		{Name: "usb_storage", Path: "kernel/drivers/usb/storage/usb-storage.ko.zst", Line: 1},
		{Name: "ext4", Path: "kernel/fs/ext4/ext4.ko", Line: 2},
	}
	if !reflect.DeepEqual(list, wantList) {
		t.Fatalf("ParseModulesList: got %+v, want %+v", list, wantList)
	}
}

func TestParseGrubConfig(t *testing.T) {
	in := "set superusers=\"admin root\"\n" +
		"password_pbkdf2 admin grub.pbkdf2.sha512.10000.AA.BB\n" +
		"password root secret # clear text\n" +
		"if [ x$feature_default_font_path = xy ] ; then\n" +
		"  font=unicode\n" +
		"fi\n" +
		"menuentry 'Debian GNU/Linux' --class debian {\n" +
		"\tlinux\t/vmlinuz-6.1 root=UUID=1 ro quiet audit=1 'apparmor=1' security=\"apparmor\"\n" +
		"}\n" +
		"submenu \"Advanced\" {\n" +
		"  menuentry 'recovery' {\n" +
		"    linuxefi /vmlinuz-6.1 ro single\n" +
		"  }\n" +
		"}\n" +
		"linux16 /vmlinuz-top\n"
	got := ParseGrubConfig([]byte(in))
	want := GrubConfig{
		Superusers: []GrubSuperusers{{Users: []string{"admin", "root"}, Line: 1}},
		Passwords:  []GrubPassword{{User: "admin", PBKDF2: true, Line: 2}, {User: "root", Line: 3}},
		Kernels: []GrubKernel{
			{Image: "/vmlinuz-6.1", Entry: "Debian GNU/Linux", Line: 8, Args: []KernelParam{
				{Name: "root", Value: "UUID=1", HasValue: true}, {Name: "ro"}, {Name: "quiet"},
				{Name: "audit", Value: "1", HasValue: true}, {Name: "apparmor", Value: "1", HasValue: true},
				{Name: "security", Value: "apparmor", HasValue: true}}},
			{Image: "/vmlinuz-6.1", Entry: "recovery", Line: 12, Args: []KernelParam{{Name: "ro"}, {Name: "single"}}},
			{Image: "/vmlinuz-top", Line: 15},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseGrubConfig:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseKernelCmdline(t *testing.T) {
	got := ParseKernelCmdline("BOOT_IMAGE=/vmlinuz ro quiet audit=1 dyndbg=\"file x +p\" audit=0 -- init-arg=1\n")
	want := []KernelParam{
		{Name: "BOOT_IMAGE", Value: "/vmlinuz", HasValue: true}, {Name: "ro"}, {Name: "quiet"},
		{Name: "audit", Value: "1", HasValue: true}, {Name: "dyndbg", Value: "file x +p", HasValue: true},
		{Name: "audit", Value: "0", HasValue: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseKernelCmdline:\n got %+v\nwant %+v", got, want)
	}
	if p, ok := LookupKernelParam(got, "audit"); !ok || p.Value != "0" {
		t.Fatalf("LookupKernelParam(audit) = %+v, %v; want the last value 0", p, ok)
	}
	if _, ok := LookupKernelParam(got, "apparmor"); ok {
		t.Fatal("LookupKernelParam(apparmor) found a parameter that is not there")
	}
}

func TestParseBLS(t *testing.T) {
	entry := ParseBLSEntry([]byte("# generated\ntitle Red Hat Enterprise Linux (5.14.0)\nversion 5.14.0\nlinux /vmlinuz-5.14.0\noptions $kernelopts\noptions\taudit=1\n"))
	wantEntry := BLSEntry{Title: "Red Hat Enterprise Linux (5.14.0)", Linux: "/vmlinuz-5.14.0", Options: "$kernelopts audit=1", OptionsLine: 5}
	if entry != wantEntry {
		t.Fatalf("ParseBLSEntry = %+v, want %+v", entry, wantEntry)
	}
	env := ParseGrubenv([]byte("# GRUB Environment Block\nkernelopts=root=/dev/vda1 ro audit_backlog_limit=8192\nsaved_entry=x\n#######\n"))
	if got := ExpandGrubVars(entry.Options+" ${saved_entry} $unknown $ $", env); got != "root=/dev/vda1 ro audit_backlog_limit=8192 audit=1 x  $ $" {
		t.Fatalf("ExpandGrubVars = %q", got)
	}
}

func FuzzParseBLS(f *testing.F) {
	f.Add([]byte("title x\noptions $kernelopts ${a} audit=1\n"), []byte("kernelopts=ro quiet\n"))
	f.Fuzz(func(t *testing.T, entry, env []byte) {
		e := ParseBLSEntry(entry)
		if e.Options != "" && e.OptionsLine < 1 {
			t.Fatalf("options without a line: %+v", e)
		}
		ParseKernelCmdline(ExpandGrubVars(e.Options, ParseGrubenv(env)))
	})
}

func FuzzParseFstab(f *testing.F) {
	f.Add([]byte("UUID=1 / ext4 defaults 0 1\ntmpfs /tmp tmpfs nodev,nosuid\n/dev/x /a\\040b ext4\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, e := range ParseFstab(data) {
			if e.MountPoint == "" || e.Line < 1 {
				t.Fatalf("bad entry %+v", e)
			}
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add([]byte("36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, m := range ParseMountinfo(data) {
			if m.MountPoint == "" || m.FSType == "" || m.Line < 1 {
				t.Fatalf("bad entry %+v", m)
			}
		}
	})
}

func FuzzParseModprobe(f *testing.F) {
	f.Add([]byte("install cramfs /bin/false\nblacklist cramfs\noptions x \\\n y=1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range ParseModprobe(data) {
			if d.Command == "" || d.Module == "" || d.Line < 1 {
				t.Fatalf("bad directive %+v", d)
			}
		}
	})
}

func FuzzParseProcModules(f *testing.F) {
	f.Add([]byte("usb_storage 81920 0 - Live 0x0\n"), []byte("kernel/fs/x/x.ko.xz: y.ko\n"))
	f.Fuzz(func(t *testing.T, procModules, modulesDep []byte) {
		for _, m := range ParseProcModules(procModules) {
			if m.Name == "" || m.Line < 1 {
				t.Fatalf("bad module %+v", m)
			}
		}
		for _, m := range ParseModulesList(modulesDep) {
			if m.Name == "" || m.Path == "" || m.Line < 1 {
				t.Fatalf("bad module file %+v", m)
			}
		}
	})
}

func FuzzParseGrubConfig(f *testing.F) {
	f.Add([]byte("set superusers=\"a\"\npassword_pbkdf2 a grub.pbkdf2.x\nmenuentry 'x' {\n linux /v ro audit=1 \"q=\\\"x\\\"\"\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := ParseGrubConfig(data)
		for _, k := range cfg.Kernels {
			if k.Image == "" || k.Line < 1 {
				t.Fatalf("bad kernel %+v", k)
			}
		}
		for _, p := range cfg.Passwords {
			if p.User == "" || p.Line < 1 {
				t.Fatalf("bad password %+v", p)
			}
		}
	})
}

func FuzzParseKernelCmdline(f *testing.F) {
	f.Add("ro quiet audit=1 x=\"a b\" -- init")
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range ParseKernelCmdline(s) {
			if p.Name == "" && !p.HasValue {
				t.Fatalf("empty parameter in %q", s)
			}
		}
	})
}
