// Package hostfs gives read-only access to a host's files under a configurable root (the host
// mounted at /host inside a container, a fixture tree in tests, or / itself). Every path is
// absolute as seen by the inspected host; symbolic links, absolute or relative, are resolved
// inside the root and can never lead out of it: an absolute link /etc/x -> /etc/y means
// <root>/etc/y, and ".." never climbs above the root. Nothing is ever written.
package hostfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// MaxFileSize bounds how much of one file ReadFile reads.
const MaxFileSize = 16 << 20

// maxLinks bounds how many symbolic links one path resolution follows.
const maxLinks = 40

// ErrTooLarge is returned (wrapped) by ReadFile for a file larger than MaxFileSize.
var ErrTooLarge = errors.New("file is larger than the 16 MiB read limit")

// FS reads files under a host root. It holds no open descriptors and is safe for concurrent
// use.
type FS struct {
	root string // absolute, cleaned host path of the root directory
}

// New returns an FS over root ("" means "/"). The root must be an existing directory.
func New(root string) (*FS, error) {
	if root == "" {
		root = "/"
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("host root %q: %w", root, err)
	}
	// The root itself may be a symbolic link (e.g. /host -> /mnt/host); resolve it once.
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("host root %q: %w; pass an existing directory", root, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, fmt.Errorf("host root %q: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("host root %q is not a directory; pass the directory the host is mounted at", root)
	}
	return &FS{root: real}, nil
}

// Root returns the host path of the root directory.
func (f *FS) Root() string { return f.root }

// Resolve returns the in-root path that p names after following every symbolic link, with
// the final component followed too when it is a link. The result is absolute and clean. A
// missing final component is not an error; a missing directory on the way is.
func (f *FS) Resolve(p string) (string, error) {
	return f.resolve(p, true)
}

// resolve walks p component by component below the root. follow says whether a link in the
// final component is followed.
func (f *FS) resolve(p string, follow bool) (string, error) {
	if !path.IsAbs(p) {
		return "", &fs.PathError{Op: "resolve", Path: p, Err: errors.New("path must be absolute")}
	}
	var done []string    // resolved components, none of them a link
	todo := splitPath(p) // components still to walk
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := append(done, c)
		if len(todo) == 0 && !follow {
			done = cur
			break
		}
		host := f.hostPath(cur)
		fi, err := os.Lstat(host)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && len(todo) == 0 {
				// A missing final component: the caller's operation reports it.
				done = cur
				break
			}
			return "", &fs.PathError{Op: "resolve", Path: p, Err: unwrapPathErr(err)}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = cur
			continue
		}
		links++
		if links > maxLinks {
			return "", &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
		}
		target, err := os.Readlink(host)
		if err != nil {
			return "", &fs.PathError{Op: "resolve", Path: p, Err: unwrapPathErr(err)}
		}
		if path.IsAbs(target) {
			done = done[:0:0]
		}
		todo = append(splitPath(target), todo...)
	}
	return "/" + strings.Join(done, "/"), nil
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

func (f *FS) hostPath(components []string) string {
	if len(components) == 0 {
		return f.root
	}
	return filepath.Join(f.root, filepath.FromSlash(strings.Join(components, "/")))
}

// host resolves p inside the root and returns the host path to operate on plus the in-root
// path (for messages).
func (f *FS) host(p string, follow bool) (string, error) {
	r, err := f.resolve(p, follow)
	if err != nil {
		return "", err
	}
	return filepath.Join(f.root, filepath.FromSlash(r)), nil
}

// unwrapPathErr drops the host path from an *fs.PathError so messages never show the root.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

func pathErr(op, p string, err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == p {
		return err
	}
	return &fs.PathError{Op: op, Path: p, Err: unwrapPathErr(err)}
}

// Stat returns the metadata of the file p names, following links.
func (f *FS) Stat(p string) (fs.FileInfo, error) {
	h, err := f.host(p, true)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(h)
	return fi, pathErr("stat", p, err)
}

// Lstat returns the metadata of p itself: a link in the final component is not followed.
func (f *FS) Lstat(p string) (fs.FileInfo, error) {
	h, err := f.host(p, false)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(h)
	return fi, pathErr("lstat", p, err)
}

// Readlink returns the target of the link p, exactly as stored (not resolved).
func (f *FS) Readlink(p string) (string, error) {
	h, err := f.host(p, false)
	if err != nil {
		return "", err
	}
	t, err := os.Readlink(h)
	return t, pathErr("readlink", p, err)
}

// Open opens the regular file p for reading. Only regular files are opened, so a FIFO or a
// device can never block or disturb a scan. The file is opened through an os.Root, so a link
// swapped in after resolution cannot lead out of the root either.
func (f *FS) Open(p string) (*os.File, error) {
	r, err := f.resolve(p, true)
	if err != nil {
		return nil, err
	}
	h := filepath.Join(f.root, filepath.FromSlash(r))
	fi, err := os.Lstat(h)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	if fi.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EISDIR}
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fmt.Errorf("not a regular file (%s)", fi.Mode().Type())}
	}
	file, err := os.OpenInRoot(f.root, strings.TrimPrefix(r, "/"))
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	return file, nil
}

// ReadFile reads the whole regular file p, at most MaxFileSize bytes; a larger file is an
// error wrapping ErrTooLarge. Files of procfs and sysfs (size 0 in their metadata) are read
// to their end.
func (f *FS) ReadFile(p string) ([]byte, error) {
	file, err := f.Open(p)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, MaxFileSize+1))
	if err != nil {
		return nil, pathErr("read", p, err)
	}
	if len(data) > MaxFileSize {
		return nil, &fs.PathError{Op: "read", Path: p, Err: ErrTooLarge}
	}
	return data, nil
}

// ReadDir lists the directory p, sorted by name.
func (f *FS) ReadDir(p string) ([]fs.DirEntry, error) {
	h, err := f.host(p, true)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(h)
	return ents, pathErr("readdir", p, err)
}

// Glob returns the in-root paths matching pattern (path.Match syntax, absolute), sorted.
// Links in the directories walked are resolved inside the root; the returned paths are the
// pattern's own spelling, not the resolved ones.
func (f *FS) Glob(pattern string) ([]string, error) {
	if !path.IsAbs(pattern) {
		return nil, &fs.PathError{Op: "glob", Path: pattern, Err: errors.New("pattern must be absolute")}
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, &fs.PathError{Op: "glob", Path: pattern, Err: err}
	}
	matches := []string{"/"}
	for _, comp := range splitPath(path.Clean(pattern)) {
		if comp == "" {
			continue
		}
		var next []string
		for _, dir := range matches {
			if !hasMeta(comp) {
				p := path.Join(dir, comp)
				if _, err := f.Lstat(p); err == nil {
					next = append(next, p)
				}
				continue
			}
			ents, err := f.ReadDir(dir)
			if err != nil {
				continue // not a directory or unreadable: no match below it
			}
			for _, e := range ents {
				if ok, _ := path.Match(comp, e.Name()); ok {
					next = append(next, path.Join(dir, e.Name()))
				}
			}
		}
		matches = next
		if len(matches) == 0 {
			return nil, nil
		}
	}
	sort.Strings(matches)
	return matches, nil
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }
