package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/hostfs"
	"github.com/palisadehq/palisade/pkg/posture"
)

// newTestRun returns a run over the host root root.
func newTestRun(t testing.TB, root string) *run {
	t.Helper()
	fsys, err := hostfs.New(root)
	if err != nil {
		t.Fatal(err)
	}
	return newRun(fsys)
}

// makeTree writes files under a new directory: "->target" makes a symbolic link, a name
// ending in "/" a directory. modes are applied afterwards (paths relative to the root).
func makeTree(t testing.TB, files map[string]string, modes map[string]os.FileMode) string {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch target, link := strings.CutPrefix(content, "->"); {
		case link:
			err = os.Symlink(target, full)
		case strings.HasSuffix(p, "/"):
			err = os.MkdirAll(full, 0o755)
		default:
			err = os.WriteFile(full, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for p, mode := range modes {
		if err := os.Chmod(filepath.Join(root, p), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// accounts are passwd and group files that know the test's own uid and gid.
func accounts() map[string]string {
	return map[string]string{
		"etc/passwd": fmt.Sprintf("me:x:%d:%d::/:/bin/sh\n", os.Getuid(), os.Getgid()),
		"etc/group":  fmt.Sprintf("me:x:%d:\n", os.Getgid()),
	}
}

func walkCheck(t testing.TB, check string) *catalog.FileWalkCheck {
	t.Helper()
	var c catalog.Check
	if err := yaml.Unmarshal([]byte(check), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c.FileWalk
}

func walkPaths(s *walkSet) []string {
	var out []string
	for _, e := range s.Entries {
		out = append(out, e.Path)
	}
	return out
}

func TestSkippedFSType(t *testing.T) {
	for typ, want := range map[string]bool{
		"ext4": false, "xfs": false, "btrfs": false, "overlay": false, "squashfs": false, "tmpfs": false,
		"ramfs": false, "fuseblk": false, "zfs": false,
		"proc": true, "sysfs": true, "devtmpfs": true, "cgroup2": true, "autofs": true, "nfs": true,
		"nfs4": true, "cifs": true, "smb3": true, "9p": true, "ceph": true, "fuse": true, "fuse.sshfs": true,
		"fuse.gvfsd-fuse": true, "fuse.s3fs": true, "vfat": true, "exfat": true, "iso9660": true,
	} {
		if got := skippedFSType(typ); got != want {
			t.Errorf("skippedFSType(%q) = %v, want %v", typ, got, want)
		}
	}
}

// TestWalkMountTypes checks which mounts of a fixture mount table are walked: the top-most
// mount on a mount point decides, tmpfs and fuseblk are walked, vfat, FUSE, autofs and
// network file systems are not, and the root's own file system always is.
func TestWalkMountTypes(t *testing.T) {
	files := accounts()
	for _, p := range []string{"run/user/1000/f", "boot/efi/EFI/x", "mnt/ssh/f", "mnt/usb/f", "net/host/f", "mnt/over/f", "mnt/under/f", "proc/1/environ"} {
		files[p] = "x"
	}
	files["proc/self/mountinfo"] = strings.Join([]string{
		"20 1 0:20 / / rw - 9p root rw",
		"21 20 0:21 / /proc rw - proc proc rw",
		"22 20 0:22 / /run rw,nosuid - tmpfs tmpfs rw",
		"23 20 8:1 / /boot/efi rw - vfat /dev/sda1 rw",
		"24 20 0:24 / /mnt/ssh rw - fuse.sshfs me@far:/ rw",
		"25 20 8:17 / /mnt/usb rw - fuseblk /dev/sdb1 rw",
		"26 20 0:26 / /net rw - autofs /etc/auto.net rw",
		"27 20 8:2 / /mnt/over rw - ext4 /dev/sda2 rw",
		"28 27 0:28 / /mnt/over rw - nfs4 far:/export rw",
		"29 20 0:29 / /mnt/under rw - autofs systemd-1 rw",
		"30 29 8:3 / /mnt/under rw - ext4 /dev/sda3 rw",
	}, "\n") + "\n"
	modes := map[string]os.FileMode{}
	for _, p := range []string{"run/user/1000/f", "boot/efi/EFI/x", "mnt/ssh/f", "mnt/usb/f", "net/host/f", "mnt/over/f", "mnt/under/f"} {
		modes[p] = 0o666
	}
	root := makeTree(t, files, modes)
	c := walkCheck(t, "{file_walk: {rule: world_writable_files}}")
	for _, workers := range []int{1, 4} {
		w, err := newTestRun(t, root).walk(c, workers)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(w.Excluded, " "), "/boot/efi /dev /mnt/over /mnt/ssh /net /proc /sys"; got != want {
			t.Errorf("%d workers: excluded %s, want %s", workers, got, want)
		}
		if got, want := strings.Join(walkPaths(w.Sets[catalog.WalkWorldWritable]), " "), "/mnt/under/f /mnt/usb/f /run/user/1000/f"; got != want {
			t.Errorf("%d workers: world-writable %s, want %s", workers, got, want)
		}
		// etc etc/group etc/passwd run run/user run/user/1000 run/user/1000/f boot mnt
		// mnt/usb mnt/usb/f mnt/under mnt/under/f
		if w.Examined != 13 || w.Partial != "" {
			t.Errorf("%d workers: examined %d, partial %q; want 13 and complete", workers, w.Examined, w.Partial)
		}
	}
}

// TestWalkShared checks that the five rules with the same roots, exclusions and limits are
// answered by one walk, and that other limits get a walk of their own.
func TestWalkShared(t *testing.T) {
	root, _ := bigTree(t)
	r := newTestRun(t, root)
	for _, rule := range []string{catalog.WalkWorldWritable, catalog.WalkStickyDirs, catalog.WalkUnowned, catalog.WalkUngrouped, catalog.WalkSUIDSGID} {
		if res := r.checkFileWalk(walkCheck(t, "{file_walk: {rule: "+rule+"}}")); len(res) == 0 {
			t.Fatalf("%s: no result", rule)
		}
	}
	walks := func() (n int) {
		for key := range r.cells {
			if strings.HasPrefix(key, "walk:") {
				n++
			}
		}
		return n
	}
	if n := walks(); n != 1 {
		t.Errorf("%d walks for the five rules, want 1", n)
	}
	r.checkFileWalk(walkCheck(t, "{file_walk: {rule: unowned, max_depth: 3}}"))
	if n := walks(); n != 2 {
		t.Errorf("%d walks after a rule with other limits, want 2", n)
	}
}

// bigTree builds a tree of 3 x 10 x 10 directories holding 1500 world-writable files, 60
// set-uid files and, as root, 45 files of an unknown owner.
func bigTree(t testing.TB) (root string, worldWritable []string) {
	t.Helper()
	files := accounts()
	modes := map[string]os.FileMode{}
	var unowned []string
	n := 0
	for a := range 3 {
		for b := range 10 {
			for c := range 10 {
				dir := fmt.Sprintf("srv/a%d/b%d/c%d", a, b, c)
				for f := range 5 {
					p := fmt.Sprintf("%s/open%d", dir, f)
					files[p] = "x"
					modes[p] = 0o666
					worldWritable = append(worldWritable, "/"+p)
				}
				files[dir+"/plain"] = "x"
				if n%5 == 0 {
					p := dir + "/tool"
					files[p] = "x"
					modes[p] = 0o755 | os.ModeSetuid
				}
				if n%20 == 0 {
					unowned = append(unowned, dir+"/plain", dir)
				}
				n++
			}
		}
	}
	root = makeTree(t, files, modes)
	if os.Geteuid() == 0 {
		for _, p := range unowned {
			if err := os.Lchown(filepath.Join(root, p), os.Getuid()+4242, os.Getgid()); err != nil {
				t.Fatal(err)
			}
		}
	}
	sort.Strings(worldWritable)
	return root, worldWritable
}

// TestWalkParallelDeterministic checks that a complete walk finds the same, in the same
// order, with one worker or several, and keeps the smallest paths when findings pass the
// cap.
func TestWalkParallelDeterministic(t *testing.T) {
	root, worldWritable := bigTree(t)
	c := walkCheck(t, "{file_walk: {rule: world_writable_files}}")
	first, err := newTestRun(t, root).walk(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	// 2 account files, etc, srv, 3 + 30 + 300 directories, 300 x 6 files, 60 set-uid files
	if first.Examined != 2197 || first.Partial != "" {
		t.Fatalf("examined %d, partial %q; want 2197 and complete", first.Examined, first.Partial)
	}
	ww := first.Sets[catalog.WalkWorldWritable]
	if ww.Total != 1500 || !reflect.DeepEqual(walkPaths(ww), worldWritable[:maxWalkFindings]) {
		t.Errorf("world-writable: total %d, kept %d; want 1500 and the %d smallest paths", ww.Total, len(ww.Entries), maxWalkFindings)
	}
	if s := first.Sets[catalog.WalkSUIDSGID]; s.Total != 60 || s.Entries[0].Path != "/srv/a0/b0/c0/tool" || s.Entries[0].Mode != 0o4755 {
		t.Errorf("set-uid: total %d, first %+v", s.Total, s.Entries[0])
	}
	if os.Geteuid() == 0 {
		if s := first.Sets[catalog.WalkUnowned]; s.Total != 30 || s.Entries[0].Path != "/srv/a0/b0/c0" || !s.Entries[0].Dir {
			t.Errorf("unowned: total %d, first %+v", s.Total, s.Entries[0])
		}
	}
	for _, workers := range []int{2, 4, 8, 4} {
		got, err := newTestRun(t, root).walk(c, workers)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, first) {
			t.Fatalf("%d workers found something else than 1:\n%+v\nwant\n%+v", workers, got, first)
		}
	}
}

// TestWalkLimits checks that each limit stops the walk exactly and says so.
func TestWalkLimits(t *testing.T) {
	root, _ := bigTree(t)
	tests := []struct {
		check        string
		wantExamined int
		wantPartial  string
	}{
		{"{file_walk: {rule: unowned, max_files: 10}}", 10, "stopped at the limit of 10 entries (max_files)"},
		{"{file_walk: {rule: unowned, max_files: 1000}}", 1000, "stopped at the limit of 1000 entries (max_files)"},
		{"{file_walk: {rule: unowned, max_files: 2197}}", 2197, ""},
		{"{file_walk: {rule: unowned, timeout: 1ns}}", 0, "stopped at the time limit of 1ns (timeout)"},
		// srv (depth 1 below /) holds a0..a2 (depth 2): their 30 subdirectories are cut.
		{"{file_walk: {rule: unowned, max_depth: 3}}", 2 + 2 + 3 + 30, "30 directories deeper than 3 levels were not entered (max_depth)"},
	}
	for _, tc := range tests {
		for _, workers := range []int{1, 4} {
			w, err := newTestRun(t, root).walk(walkCheck(t, tc.check), workers)
			if err != nil {
				t.Fatal(err)
			}
			if w.Examined != tc.wantExamined || w.Partial != tc.wantPartial {
				t.Errorf("%s, %d workers: examined %d, partial %q; want %d, %q", tc.check, workers, w.Examined, w.Partial, tc.wantExamined, tc.wantPartial)
			}
		}
	}
	// A walk stopped by its time limit never passes.
	r := newTestRun(t, root)
	res := r.checkFileWalk(walkCheck(t, "{file_walk: {rule: world_writable_dirs_sticky, timeout: 1ns}}"))
	want := "no world-writable directory without the sticky bit among the 0 entries examined under / (excluding /dev, /proc, /sys), but the walk was partial: stopped at the time limit of 1ns (timeout); raise the limit or narrow roots so the whole tree is examined"
	if len(res) != 1 || res[0].Status != posture.Error || res[0].Reason != want {
		t.Errorf("got %+v, want one error: %s", res, want)
	}
}

// TestWalkStaysInRoot checks that links are examined as links and never followed, to a
// directory inside the root or outside it.
func TestWalkStaysInRoot(t *testing.T) {
	outside := makeTree(t, map[string]string{"secret/open": "x"}, map[string]os.FileMode{"secret/open": 0o666})
	files := accounts()
	files["srv/abs"] = "->/"
	files["srv/up"] = "->../../../../../.."
	files["srv/out"] = "->" + filepath.Join(outside, "secret")
	files["srv/in"] = "->/etc"
	root := makeTree(t, files, nil)
	w, err := newTestRun(t, root).walk(walkCheck(t, "{file_walk: {rule: world_writable_files, roots: [/srv]}}"), 4)
	if err != nil {
		t.Fatal(err)
	}
	if w.Examined != 4 || w.Partial != "" || w.Sets[catalog.WalkWorldWritable].Total != 0 {
		t.Errorf("examined %d, partial %q, %d world-writable; want the 4 links only", w.Examined, w.Partial, w.Sets[catalog.WalkWorldWritable].Total)
	}

	dir, err := unix.Open(filepath.Join(root, "srv"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dir)
	for _, name := range []string{"abs", "out", "in"} {
		if fd, err := openChildDir(dir, name); err == nil {
			unix.Close(fd)
			t.Errorf("openChildDir opened the link %s", name)
		} else if !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
			t.Errorf("openChildDir(%s): %v, want ELOOP", name, err)
		}
	}
}

// TestForeignMount checks the statfs guard on the kernel's own pseudo file systems and on a
// test directory, looked at through O_PATH descriptors.
func TestForeignMount(t *testing.T) {
	tmp := t.TempDir()
	if err := os.Mkdir(filepath.Join(tmp, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir, name string
		want      bool
	}{{"/", "proc", true}, {"/", "sys", true}, {tmp, "sub", false}} {
		fd, err := unix.Open(tc.dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := foreignMount(fd, tc.name, "")
		unix.Close(fd)
		if err != nil || got != tc.want {
			t.Errorf("foreignMount(%s, %s) = %v, %v; want %v", tc.dir, tc.name, got, err, tc.want)
		}
	}
}

// BenchmarkWalk walks a generated tree, or the directory PALISADE_BENCH_WALK_ROOT names
// (for example / to measure a real host), with the default workers.
func BenchmarkWalk(b *testing.B) {
	root := os.Getenv("PALISADE_BENCH_WALK_ROOT")
	if root == "" {
		root, _ = bigTree(b)
	}
	c := walkCheck(b, "{file_walk: {rule: unowned}}")
	var examined int
	var before, after unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &before); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		w, err := newTestRun(b, root).walk(c, walkWorkers())
		if err != nil {
			b.Fatal(err)
		}
		examined = w.Examined
	}
	if err := unix.Getrusage(unix.RUSAGE_SELF, &after); err != nil {
		b.Fatal(err)
	}
	perEntry := func(ns int64) float64 { return float64(ns) / float64(b.N) / float64(max(examined, 1)) }
	cpu := after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano()
	b.ReportMetric(float64(examined), "entries/op")
	b.ReportMetric(perEntry(b.Elapsed().Nanoseconds()), "ns/entry")
	b.ReportMetric(perEntry(cpu), "cpu-ns/entry")
	b.ReportMetric(perEntry(after.Stime.Nano()-before.Stime.Nano()), "sys-ns/entry")
}
