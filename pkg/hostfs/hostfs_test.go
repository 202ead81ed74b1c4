package hostfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tree builds a host root in a temp dir plus an "outside" directory next to it holding a
// secret, so any escape would be visible.
func tree(t *testing.T) (root string, fsys *FS) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{root, outside, root + "/etc/ssh/sshd_config.d", root + "/usr/lib", root + "/a/b"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		outside + "/secret":                       "OUTSIDE",
		outside + "/etc/y":                        "OUTSIDE-Y",
		root + "/etc/y":                           "inside-y",
		root + "/secret":                          "inside-secret",
		root + "/etc/ssh/sshd_config":             "Port 22\n",
		root + "/etc/ssh/sshd_config.d/10-a.conf": "A\n",
		root + "/etc/ssh/sshd_config.d/20-b.conf": "B\n",
		root + "/usr/lib/os-release":              "ID=debian\n",
		root + "/a/b/file":                        "deep",
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		root + "/etc/abs":        "/etc/y",                   // absolute link: means <root>/etc/y
		root + "/etc/rel":        "y",                        // relative link
		root + "/etc/os-release": "../usr/lib/os-release",    // relative with ..
		root + "/etc/escape-rel": "../../../../../../secret", // climbs above root: clamps at root
		root + "/etc/escape-abs": outside + "/secret",        // absolute host path: stays inside
		root + "/etc/chain1":     "chain2",
		root + "/etc/chain2":     "/etc/chain3",
		root + "/etc/chain3":     "../a/b/file",
		root + "/etc/loop1":      "loop2",
		root + "/etc/loop2":      "/etc/loop1",
		root + "/etc/self":       "self",
		root + "/dirlink":        "/a/b",
		root + "/uplink":         "..",
		root + "/etc/dangling":   "/nowhere/file",
		root + "/etc/dotdot-abs": "/../../etc/y",
	}
	for p, target := range links {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	fsys, err := New(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, fsys
}

func TestReadFileContainment(t *testing.T) {
	_, fsys := tree(t)
	tests := []struct {
		path    string
		want    string
		wantErr error
	}{
		{path: "/etc/y", want: "inside-y"},
		{path: "/etc/abs", want: "inside-y"},
		{path: "/etc/rel", want: "inside-y"},
		{path: "/etc/os-release", want: "ID=debian\n"},
		{path: "/etc/escape-rel", want: "inside-secret"},
		{path: "/etc/escape-abs", wantErr: fs.ErrNotExist}, // <root>/<outside>/secret does not exist
		{path: "/etc/chain1", want: "deep"},
		{path: "/etc/loop1", wantErr: syscall.ELOOP},
		{path: "/etc/self", wantErr: syscall.ELOOP},
		{path: "/dirlink/file", want: "deep"},
		{path: "/uplink/uplink/etc/y", want: "inside-y"},
		{path: "/../../../secret", want: "inside-secret"},
		{path: "/a/b/../../etc/y", want: "inside-y"},
		{path: "/etc/dangling", wantErr: fs.ErrNotExist},
		{path: "/etc/dotdot-abs", want: "inside-y"},
		{path: "/etc/missing", wantErr: fs.ErrNotExist},
		{path: "/etc", wantErr: syscall.EISDIR},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			got, err := fsys.ReadFile(tc.path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ReadFile(%q) error = %v, want %v", tc.path, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), fsys.Root()) {
					t.Errorf("error %q leaks the host root path", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadFile(%q): %v", tc.path, err)
			}
			if string(got) != tc.want {
				t.Errorf("ReadFile(%q) = %q, want %q", tc.path, got, tc.want)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	_, fsys := tree(t)
	tests := map[string]string{
		"/etc/abs":           "/etc/y",
		"/etc/chain1":        "/a/b/file",
		"/etc/escape-rel":    "/secret",
		"/uplink/etc/../etc": "/etc",
		"/dirlink/../b":      "/a/b",
		"/etc/missing":       "/etc/missing",
	}
	for in, want := range tests {
		got, err := fsys.Resolve(in)
		if err != nil {
			t.Errorf("Resolve(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("Resolve(%q) = %q, want %q", in, got, want)
		}
	}
	for _, p := range []string{"/etc/dangling", "/missing/../etc/abs"} {
		if _, err := fsys.Resolve(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Resolve(%q) error = %v, want not exist", p, err)
		}
	}
	if _, err := fsys.Resolve("etc/y"); err == nil {
		t.Error("Resolve of a relative path succeeded")
	}
}

func TestStatLstatReadlink(t *testing.T) {
	_, fsys := tree(t)
	fi, err := fsys.Stat("/etc/abs")
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != int64(len("inside-y")) {
		t.Fatalf("Stat(/etc/abs) = %v, %v", fi, err)
	}
	li, err := fsys.Lstat("/etc/abs")
	if err != nil || li.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("Lstat(/etc/abs) = %v, %v; want a link", li, err)
	}
	target, err := fsys.Readlink("/etc/abs")
	if err != nil || target != "/etc/y" {
		t.Fatalf("Readlink(/etc/abs) = %q, %v", target, err)
	}
	// Lstat resolves links in directories but not in the final component.
	li, err = fsys.Lstat("/dirlink/file")
	if err != nil || !li.Mode().IsRegular() {
		t.Fatalf("Lstat(/dirlink/file) = %v, %v", li, err)
	}
	if _, err := fsys.Stat("/etc/dangling"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(dangling) error = %v, want not exist", err)
	}
}

func TestReadDirAndGlob(t *testing.T) {
	_, fsys := tree(t)
	ents, err := fsys.ReadDir("/etc/ssh/sshd_config.d")
	if err != nil || len(ents) != 2 || ents[0].Name() != "10-a.conf" {
		t.Fatalf("ReadDir = %v, %v", ents, err)
	}
	got, err := fsys.Glob("/etc/ssh/sshd_config.d/*.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := "/etc/ssh/sshd_config.d/10-a.conf /etc/ssh/sshd_config.d/20-b.conf"
	if strings.Join(got, " ") != want {
		t.Fatalf("Glob = %v, want %s", got, want)
	}
	got, err = fsys.Glob("/dirlink/f*")
	if err != nil || strings.Join(got, " ") != "/dirlink/file" {
		t.Fatalf("Glob via link = %v, %v", got, err)
	}
	got, err = fsys.Glob("/nothing/*")
	if err != nil || len(got) != 0 {
		t.Fatalf("Glob(nothing) = %v, %v", got, err)
	}
	if _, err := fsys.Glob("/etc/[x"); err == nil {
		t.Fatal("Glob with a bad pattern succeeded")
	}
}

func TestReadFileLimitAndSpecialFiles(t *testing.T) {
	root, fsys := tree(t)
	big, err := os.Create(filepath.Join(root, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	big.Close()
	if _, err := fsys.ReadFile("/big"); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadFile(big) error = %v, want ErrTooLarge", err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := fsys.ReadFile("/fifo"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("ReadFile(fifo) error = %v, want not a regular file", err)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("New(missing) succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(f); err == nil {
		t.Error("New(file) succeeded")
	}
	fsys, err := New("")
	if err != nil || fsys.Root() != "/" {
		t.Errorf("New(\"\") = %v, %v; want root /", fsys, err)
	}
}

func TestNeverWrites(t *testing.T) {
	root, fsys := tree(t)
	before := snapshot(t, root)
	for _, p := range []string{"/etc/abs", "/etc/loop1", "/etc/escape-abs", "/dirlink/file"} {
		_, _ = fsys.ReadFile(p)
		_, _ = fsys.Stat(p)
	}
	if after := snapshot(t, root); after != before {
		t.Fatalf("the tree changed:\nbefore %s\nafter  %s", before, after)
	}
}

func snapshot(t *testing.T, root string) string {
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b.WriteString(p + " " + fi.Mode().String() + " " + fi.ModTime().String() + "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
