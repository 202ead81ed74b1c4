// Package enginetest materialises the engine's fixture host roots for tests in any package:
// Root copies a named tree from pkg/engine/testdata/roots into a temporary directory and gives
// its files the modes and owners listed in the tree's manifest (<name>.modes), which git
// cannot store. It is imported only by tests.
package enginetest

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// RootsDir returns the directory holding the fixture roots (pkg/engine/testdata/roots).
func RootsDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", fmt.Errorf("enginetest: cannot locate the source directory")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", "roots"), nil
}

// Names lists the fixture roots.
func Names() ([]string, error) {
	dir, err := RootsDir()
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Attr is the mode and owner one path gets.
type Attr struct {
	Mode     fs.FileMode
	UID, GID int
}

// Root materialises the fixture root name ("debian-good", "debian-bad") into a fresh
// temporary directory and returns its path. Files get mode 0644 and directories 0755,
// owned by 0:0, unless <name>.modes says otherwise. Setting owners needs root: when the
// test process is not root the test is skipped with a message saying so (CI runs as root).
func Root(t testing.TB, name string) string {
	t.Helper()
	dir, err := RootsDir()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, name)
	manifest, err := ReadManifest(filepath.Join(dir, name+".modes"))
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skipf("fixture root %s needs files owned by root (uid 0); run the tests as root", name)
	}
	dst := filepath.Join(t.TempDir(), name)
	if err := Materialise(src, dst, manifest); err != nil {
		t.Fatal(err)
	}
	return dst
}

// ReadManifest reads a modes manifest: "path mode uid gid" lines (mode in octal, path
// relative to the root), "#" comments. A missing manifest is empty.
func ReadManifest(file string) (map[string]Attr, error) {
	out := map[string]Attr{}
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 4 {
			return nil, fmt.Errorf("%s:%d: want \"path mode uid gid\"", file, n)
		}
		mode, err1 := strconv.ParseUint(fields[1], 8, 32)
		uid, err2 := strconv.Atoi(fields[2])
		gid, err3 := strconv.Atoi(fields[3])
		if err1 != nil || err2 != nil || err3 != nil || mode > 0o7777 {
			return nil, fmt.Errorf("%s:%d: bad mode, uid or gid", file, n)
		}
		out[filepath.Clean(fields[0])] = Attr{Mode: fileMode(uint32(mode)), UID: uid, GID: gid}
	}
	return out, sc.Err()
}

func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// Materialise copies the tree src to dst (links recreated as links, never followed) and
// applies the manifest; owners are set only when the process is root.
func Materialise(src, dst string, manifest map[string]Attr) error {
	chown := os.Geteuid() == 0
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		attr, listed := manifest[rel]
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
			if chown {
				return os.Lchown(target, 0, 0)
			}
			return nil
		case d.IsDir():
			if !listed {
				attr = Attr{Mode: 0o755}
			}
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		default:
			if !listed {
				attr = Attr{Mode: 0o644}
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, data, 0o600); err != nil {
				return err
			}
		}
		if chown {
			if err := os.Lchown(target, attr.UID, attr.GID); err != nil {
				return err
			}
		}
		return os.Chmod(target, attr.Mode)
	})
}
