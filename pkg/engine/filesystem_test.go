package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/pkg/posture"
)

const moduleDep = "kernel/fs/cramfs/cramfs.ko.xz:\nkernel/drivers/usb/storage/usb-storage.ko.xz: kernel/drivers/usb/core/usbcore.ko.xz\n"

// TestFilesystemChecks covers the kernel_module, mount and grub primitives and file globs:
// pass, fail, skip and error for each, with the exact reason of the first result.
func TestFilesystemChecks(t *testing.T) {
	tests := []struct {
		name       string
		files      map[string]string
		check      string
		wantStatus []posture.Status
		wantReason string // the first result's reason, exactly
	}{
		{
			name: "module disabled, blacklisted and not loaded",
			files: map[string]string{
				"lib/modules/6.1.0/modules.dep":  moduleDep,
				"usr/lib/modprobe.d/cramfs.conf": "install cramfs /bin/true\n",
				"etc/modprobe.d/cramfs.conf":     "install cramfs /bin/false\nblacklist cramfs\n",
				"proc/modules":                   "ext4 1 1 - Live 0x0\n",
			},
			check:      "{kernel_module: {names: cramfs, blacklist: true}}",
			wantStatus: []posture.Status{posture.Pass},
			wantReason: "kernel module cramfs is disabled: install cramfs /bin/false at /etc/modprobe.d/cramfs.conf:1; blacklisted at /etc/modprobe.d/cramfs.conf:2; not loaded",
		},
		{
			name: "module: the first install line wins, the loaded name uses underscores",
			files: map[string]string{
				"lib/modules/6.1.0/modules.dep": moduleDep,
				"etc/modprobe.d/a.conf":         "install usb_storage /sbin/modprobe --ignore-install usb-storage\n",
				"etc/modprobe.d/b.conf":         "install usb-storage /bin/false\n",
				"proc/modules":                  "usb_storage 81920 0 - Live 0x0\n",
			},
			check:      "{kernel_module: {names: [usb-storage]}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: `kernel module usb-storage: install usb-storage runs "/sbin/modprobe --ignore-install usb-storage" at /etc/modprobe.d/a.conf:1; expected /bin/false or /bin/true; usb-storage is loaded (/proc/modules:1); expected it not to be loaded (rmmod usb_storage)`,
		},
		{
			name: "module shipped by no kernel and not loaded is skipped; a missing blacklist fails",
			files: map[string]string{
				"lib/modules/6.1.0/modules.dep": moduleDep,
				"etc/modprobe.d/x.conf":         "install cramfs /bin/false\n",
			},
			check:      "{kernel_module: {names: [cramfs, dccp], blacklist: true}}",
			wantStatus: []posture.Status{posture.Fail, posture.Skip},
			wantReason: "kernel module cramfs: no modprobe.d file blacklists cramfs; expected blacklist cramfs",
		},
		{
			name: "module found by walking kernel/ when there is no modules.dep",
			files: map[string]string{
				"lib/modules/6.1.0/kernel/fs/cramfs/cramfs.ko": "",
			},
			check:      "{kernel_module: {names: [cramfs]}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "kernel module cramfs: no modprobe.d file sets install cramfs; expected install cramfs /bin/false (or /bin/true)",
		},
		{
			name: "module built into the kernel cannot be disabled",
			files: map[string]string{
				"lib/modules/6.1.0/modules.builtin": "kernel/fs/cramfs/cramfs.ko\n",
				"etc/modprobe.d/x.conf":             "install cramfs /bin/false\n",
			},
			check:      "{kernel_module: {names: [cramfs]}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "kernel module cramfs: cramfs is built into the kernel (/lib/modules/6.1.0/modules.builtin:1), so modprobe.d cannot keep it from being used",
		},
		{
			name:       "module: unreadable /proc/modules is an error",
			files:      map[string]string{"proc/modules/": ""},
			check:      "{kernel_module: {names: [cramfs]}}",
			wantStatus: []posture.Status{posture.Error},
			wantReason: "cannot read /proc/modules: is a directory",
		},
		{
			name: "mount: an unreadable live table is an error",
			files: map[string]string{
				"etc/fstab":           "tmpfs /tmp tmpfs defaults,nodev,nosuid,noexec 0 0\n",
				"proc/self/mountinfo": "28 1 8:1 / / rw - ext4 /dev/sda1 rw\n30 28 0:27 / /tmp rw,nosuid,nodev,noexec - tmpfs tmpfs rw\n",
				"proc/1/mountinfo/":   "", // unreadable as a file: the reader's own table is used
			},
			check:      "{mount: {path: /tmp, separate: true, options: [nodev, noexec]}}",
			wantStatus: []posture.Status{posture.Error},
			wantReason: "cannot read /proc/1/mountinfo: is a directory",
		},
		{
			name: "mount: separate with options, live table and fstab agree",
			files: map[string]string{
				"etc/fstab":           "tmpfs /tmp tmpfs defaults,nodev,nosuid,noexec 0 0\n",
				"proc/self/mountinfo": "28 1 8:1 / / rw - ext4 /dev/sda1 rw\n30 28 0:27 / /tmp rw,nosuid,nodev,noexec - tmpfs tmpfs rw\n",
			},
			check:      "{mount: {path: /tmp, separate: true, options: [nodev, noexec]}}",
			wantStatus: []posture.Status{posture.Pass},
			wantReason: "mount /tmp: /tmp is a separate mount (/proc/self/mountinfo:2); nodev is set (/proc/self/mountinfo:2, /etc/fstab:1); noexec is set (/proc/self/mountinfo:2, /etc/fstab:1)",
		},
		{
			name: "mount: a later dev undoes nodev in fstab; the live mount has it",
			files: map[string]string{
				"etc/fstab":           "/dev/sdb1 /var ext4 nodev,dev 0 2\n",
				"proc/self/mountinfo": "33 28 8:17 / /var rw,nodev - ext4 /dev/sdb1 rw\n",
			},
			check:      "{mount: {path: /var, options: [nodev]}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "mount /var: nodev is missing from /etc/fstab:1; expected nodev",
		},
		{
			name: "mount: mounted live but not in fstab is reported",
			files: map[string]string{
				"etc/fstab":           "UUID=1 / ext4 defaults 0 1\n",
				"proc/self/mountinfo": "29 24 0:26 / /dev/shm rw,nosuid,nodev - tmpfs tmpfs rw\n",
			},
			check:      "{mount: {path: /dev/shm, options: [noexec]}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "mount /dev/shm: noexec is missing from /proc/self/mountinfo:1; expected noexec (/dev/shm is mounted (/proc/self/mountinfo:1) but not listed in /etc/fstab; the mount may come from a systemd mount unit)",
		},
		{
			name:       "mount: user implies nodev, nosuid and noexec unless a later option undoes it",
			files:      map[string]string{"etc/fstab": "/dev/sr0 /media/cdrom udf user,exec 0 0\n"},
			check:      "{mount: {path: /media/cdrom, options: [nodev, nosuid, noexec]}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "mount /media/cdrom: noexec is missing from /etc/fstab:1; expected nodev,nosuid,noexec",
		},
		{
			name:       "mount: options of a path that is not a separate mount are not applicable",
			files:      map[string]string{"etc/fstab": "UUID=1 / ext4 defaults 0 1\n"},
			check:      "{mount: {path: /home, options: [nodev]}}",
			wantStatus: []posture.Status{posture.Skip},
			wantReason: "not applicable: /home is not a separate mount (/etc/fstab), so its mount options cannot be set; the separate-partition control reports this",
		},
		{
			name:       "mount: fstab only, no separate /home",
			files:      map[string]string{"etc/fstab": "UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n"},
			check:      "{mount: {path: /home, separate: true}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "/home is not a separate mount (no entry in /etc/fstab); expected its own partition, logical volume or tmpfs",
		},
		{
			name:       "mount: no fstab and no mount table is an error",
			files:      map[string]string{"etc/": ""},
			check:      "{mount: {path: /tmp, separate: true}}",
			wantStatus: []posture.Status{posture.Error},
			wantReason: "cannot tell how /tmp is mounted: the root has neither /etc/fstab nor a mount table (/proc/1/mountinfo, /proc/self/mountinfo)",
		},
		{
			name: "grub: hashed superuser password",
			files: map[string]string{
				"boot/grub2/grub.cfg": "set superusers=\"root\"\npassword_pbkdf2 root grub.pbkdf2.sha512.10000.AA.BB\n",
			},
			check:      "{grub: {password: true}}",
			wantStatus: []posture.Status{posture.Pass},
			wantReason: "GRUB superuser root has a password_pbkdf2 hash at /boot/grub2/grub.cfg:2",
		},
		{
			name:       "grub: password for someone who is not a superuser",
			files:      map[string]string{"boot/grub/grub.cfg": "set superusers=admin\npassword_pbkdf2 other grub.pbkdf2.x\n"},
			check:      "{grub: {password: true}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "/boot/grub/grub.cfg sets superusers admin at line 1 but no password_pbkdf2 for them; expected password_pbkdf2 <name> <hash>",
		},
		{
			name:       "grub: no configuration is not applicable",
			files:      map[string]string{"boot/": ""},
			check:      "{grub: {password: true}}",
			wantStatus: []posture.Status{posture.Skip},
			wantReason: "not applicable: no GRUB configuration (/boot/grub/grub.cfg, /boot/grub2/grub.cfg)",
		},
		{
			name:       "grub: unreadable configuration is an error",
			files:      map[string]string{"boot/grub/grub.cfg/": ""},
			check:      "{grub: {password: true}}",
			wantStatus: []posture.Status{posture.Error},
			wantReason: "cannot read /boot/grub/grub.cfg: is a directory",
		},
		{
			name: "grub: kernel arguments on every line; the running kernel lags behind",
			files: map[string]string{
				"boot/grub/grub.cfg": "menuentry 'a' {\n linux /v ro audit=1 audit_backlog_limit=8192\n}\nmenuentry 'b' {\n linux /v ro audit=1 audit_backlog_limit=16384\n}\n",
				"proc/cmdline":       "BOOT_IMAGE=/v ro audit=1\n",
			},
			check:      "{grub: {kernel_args: [{name: audit, expect: {equals: '1'}}, {name: audit_backlog_limit, expect: {min: 8192}}]}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "kernel parameters in /boot/grub/grub.cfg: the running kernel (/proc/cmdline): audit_backlog_limit is absent; the configuration is right but the host has not been rebooted since; expected audit=1, audit_backlog_limit at least 8192 on every linux line",
		},
		{
			name:       "grub: the last occurrence of a parameter counts",
			files:      map[string]string{"boot/grub/grub.cfg": "linux /v audit=1 ro audit=0\nlinux /w audit=1\n"},
			check:      "{grub: {kernel_args: [{name: audit, expect: {equals: '1'}}]}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "kernel parameters in /boot/grub/grub.cfg: line 1: audit=0; expected audit=1; expected audit=1 on every linux line",
		},
		{
			name:       "grub: parameters present on every line",
			files:      map[string]string{"boot/grub/grub.cfg": "linux /v ro apparmor=1 security=apparmor\nlinux /w apparmor=1 security=apparmor\n"},
			check:      "{grub: {kernel_args: [{name: apparmor, expect: {equals: '1'}}, {name: security}]}}",
			wantStatus: []posture.Status{posture.Pass},
			wantReason: "all 2 linux lines of /boot/grub/grub.cfg boot with apparmor=1, security present",
		},
		{
			name: "grub: blscfg entries with $kernelopts from grubenv",
			files: map[string]string{
				"boot/grub2/grub.cfg":                 "set default=0\nload_env -f ${config_directory}/grubenv\nblscfg\n",
				"boot/grub2/grubenv":                  "# GRUB Environment Block\nkernelopts=root=/dev/vda1 ro audit=1\n",
				"boot/loader/entries/a-5.14.0.conf":   "title RHEL (5.14.0)\nlinux /vmlinuz-5.14.0\noptions $kernelopts\n",
				"boot/loader/entries/b-rescue.conf":   "title RHEL (rescue)\nlinux /vmlinuz-0-rescue\noptions root=/dev/vda1 ro\n",
				"boot/loader/entries/c-ignored.conff": "options audit=0\n",
			},
			check:      "{grub: {kernel_args: [{name: audit, expect: {equals: '1'}}]}}",
			wantStatus: []posture.Status{posture.Fail},
			wantReason: "kernel parameters in /boot/grub2/grub.cfg: /boot/loader/entries/b-rescue.conf:3 (RHEL (rescue)): audit is absent; expected audit=1 on every linux line",
		},
		{
			name: "file glob: each match is a result",
			files: map[string]string{
				"etc/ssh/ssh_host_rsa_key":         "k",
				"etc/ssh/ssh_host_ed25519_key":     "k",
				"etc/ssh/ssh_host_ed25519_key.pub": "p",
			},
			check:      "{file: {path: '/etc/ssh/ssh_host_*_key', max_mode: '0600'}}",
			wantStatus: []posture.Status{posture.Fail, posture.Fail},
			wantReason: "/etc/ssh/ssh_host_ed25519_key has mode 0644 (0044 too permissive); expected 0600 or stricter",
		},
		{
			name:       "file glob: no match is a missing file",
			files:      map[string]string{"etc/ssh/": ""},
			check:      "{file: {path: '/etc/ssh/ssh_host_*_key', max_mode: '0600', if_missing: skip}}",
			wantStatus: []posture.Status{posture.Skip},
			wantReason: "not applicable: no file matches /etc/ssh/ssh_host_*_key",
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
				if len(r.Evidence) == 0 && r.Status != posture.Error {
					t.Errorf("result %d (%s) has no evidence", i, r.Resource)
				}
			}
			if res[0].Reason != tc.wantReason {
				t.Errorf("reason\n got %q\nwant %q", res[0].Reason, tc.wantReason)
			}
		})
	}
}

// walkTree builds a small tree for the walk rules. The passwd and group files know the
// test's own uid and gid, so files it creates are owned unless known is false.
func walkTree(t *testing.T, known bool) string {
	t.Helper()
	uid, gid := os.Getuid(), os.Getgid()
	if !known {
		uid, gid = uid+4242, gid+4242
	}
	root := writeTree(t, map[string]string{
		"etc/passwd":               fmt.Sprintf("me:x:%d:%d::/:/bin/sh\n", uid, gid),
		"etc/group":                fmt.Sprintf("me:x:%d:\n", gid),
		"srv/drop/file":            "x",
		"srv/drop/sub/deep/f":      "x",
		"srv/shared/open":          "x",
		"srv/tool":                 "x",
		"proc/1/environ":           "x",
		"srv/link":                 "->/srv/shared/open",
		"srv/nfs/remote-file":      "x",
		"proc/self/mountinfo":      "40 28 0:40 / /srv/nfs rw - nfs4 server:/export rw\n",
		"var/lib/placeholder/keep": "",
	})
	for p, mode := range map[string]os.FileMode{
		"srv/drop":            0o777,
		"srv/shared/open":     0o666,
		"srv/tool":            0o755 | os.ModeSetuid,
		"proc/1/environ":      0o666, // never walked
		"srv/nfs/remote-file": 0o666, // on a network file system: never walked
	} {
		if err := os.Chmod(filepath.Join(root, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFileWalk(t *testing.T) {
	tests := []struct {
		name       string
		known      bool
		check      string
		wantStatus []posture.Status
		wantRes    []string
		wantReason string // the first result's reason, with ROOTS for the scope text
	}{
		{
			name:       "world-writable regular files",
			known:      true,
			check:      "{file_walk: {rule: world_writable_files}}",
			wantStatus: []posture.Status{posture.Fail},
			wantRes:    []string{"/srv/shared/open"},
			wantReason: "/srv/shared/open is writable by everyone (mode 0666); expected no write permission for others",
		},
		{
			name:       "world-writable directory without the sticky bit",
			known:      true,
			check:      "{file_walk: {rule: world_writable_dirs_sticky}}",
			wantStatus: []posture.Status{posture.Fail},
			wantRes:    []string{"/srv/drop"},
			wantReason: "directory /srv/drop is writable by everyone without the sticky bit (mode 0777); expected the sticky bit (chmod +t)",
		},
		{
			name:       "every owner known",
			known:      true,
			check:      "{file_walk: {rule: unowned, roots: [/srv]}}",
			wantStatus: []posture.Status{posture.Pass},
			wantRes:    []string{"/srv"},
			wantReason: "no file owned by a uid without a passwd entry among 9 entries under /srv (excluding /dev, /proc, /srv/nfs, /sys)",
		},
		{
			name:       "unknown group",
			known:      false,
			check:      "{file_walk: {rule: ungrouped, roots: [/srv/drop]}}",
			wantStatus: []posture.Status{posture.Fail, posture.Fail, posture.Fail, posture.Fail},
			wantRes:    []string{"/srv/drop/file", "/srv/drop/sub", "/srv/drop/sub/deep", "/srv/drop/sub/deep/f"},
		},
		{
			name:       "inventory of set-uid files is info",
			known:      true,
			check:      "{file_walk: {rule: suid_sgid, roots: [/srv]}}",
			wantStatus: []posture.Status{posture.Info},
			wantRes:    []string{"/srv"},
			wantReason: "manual review: 1 set-uid or set-gid files among 9 entries under /srv (excluding /dev, /proc, /srv/nfs, /sys); check each against the packages installed and the host's role",
		},
		{
			name:       "set-uid file on the allowed list passes",
			known:      true,
			check:      "{file_walk: {rule: suid_sgid, roots: [/srv], allowed: ['/srv/t*']}}",
			wantStatus: []posture.Status{posture.Pass},
			wantRes:    []string{"/srv"},
			wantReason: "all 1 set-uid or set-gid files among 9 entries under /srv (excluding /dev, /proc, /srv/nfs, /sys) are expected programs",
		},
		{
			name:       "set-uid file outside the allowed list fails",
			known:      true,
			check:      "{file_walk: {rule: suid_sgid, roots: [/srv], allowed: [/usr/bin/passwd]}}",
			wantStatus: []posture.Status{posture.Fail},
			wantRes:    []string{"/srv/tool"},
		},
		{
			name:       "a partial walk without findings is an error, never a pass",
			known:      true,
			check:      "{file_walk: {rule: unowned, max_files: 3}}",
			wantStatus: []posture.Status{posture.Error},
			wantRes:    []string{"/"},
			wantReason: "no file owned by a uid without a passwd entry among the 3 entries examined under / (excluding /dev, /proc, /srv/nfs, /sys), but the walk was partial: stopped at the limit of 3 entries (max_files); raise the limit or narrow roots so the whole tree is examined",
		},
		{
			name:       "a depth-limited walk says so",
			known:      true,
			check:      "{file_walk: {rule: world_writable_dirs_sticky, roots: [/srv], max_depth: 2}}",
			wantStatus: []posture.Status{posture.Fail},
			wantRes:    []string{"/srv/drop"},
			wantReason: "directory /srv/drop is writable by everyone without the sticky bit (mode 0777); expected the sticky bit (chmod +t); the walk was partial: 1 directories deeper than 2 levels were not entered (max_depth)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := walkTree(t, tc.known)
			res := runOne(t, root, control(t, tc.check))
			var gotStatus []posture.Status
			var gotRes []string
			for _, r := range res {
				gotStatus = append(gotStatus, r.Status)
				gotRes = append(gotRes, r.Resource)
				if len(r.Evidence) == 0 {
					t.Errorf("%s has no evidence", r.Resource)
				}
			}
			if fmt.Sprint(gotStatus) != fmt.Sprint(tc.wantStatus) || strings.Join(gotRes, " ") != strings.Join(tc.wantRes, " ") {
				t.Fatalf("got %v %v, want %v %v: %+v", gotStatus, gotRes, tc.wantStatus, tc.wantRes, res)
			}
			if tc.wantReason != "" && res[0].Reason != tc.wantReason {
				t.Errorf("reason\n got %q\nwant %q", res[0].Reason, tc.wantReason)
			}
		})
	}
}
