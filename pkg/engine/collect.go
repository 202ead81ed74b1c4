package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/palisadehq/palisade/pkg/facts"
)

// Host paths the collectors read.
const (
	dpkgStatusPath  = "/var/lib/dpkg/status"
	passwdPath      = "/etc/passwd"
	shadowPath      = "/etc/shadow"
	groupPath       = "/etc/group"
	loginDefsPath   = "/etc/login.defs"
	sshdDefaultPath = "/etc/ssh/sshd_config"
	sysctlConfPath  = "/etc/sysctl.conf"
	procSysPath     = "/proc/sys"
)

// sysctlDirs are the sysctl.d directories, most authoritative first: a file in an earlier
// directory hides a file of the same name in a later one (systemd-sysctl's rule).
var sysctlDirs = []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}

// readFile returns a file's bytes, read once per run.
func (r *run) readFile(p string) ([]byte, error) {
	return fact(r, "read:"+p, func() ([]byte, error) { return r.fs.ReadFile(p) })
}

type statFact struct{ fi fs.FileInfo }

// stat returns a file's metadata (links followed), once per run.
func (r *run) stat(p string) (fs.FileInfo, error) {
	s, err := fact(r, "stat:"+p, func() (statFact, error) {
		fi, err := r.fs.Stat(p)
		return statFact{fi}, err
	})
	return s.fi, err
}

func (r *run) osRelease() (map[string]string, string, error) {
	type osFact struct {
		m   map[string]string
		src string
	}
	f, err := fact(r, "os-release", func() (osFact, error) {
		var first error
		for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
			data, err := r.readFile(p)
			if err == nil {
				return osFact{facts.ParseOSRelease(data), p}, nil
			}
			if first == nil || !errors.Is(err, fs.ErrNotExist) {
				first = err
			}
		}
		return osFact{src: "/etc/os-release"}, first
	})
	return f.m, f.src, err
}

// dpkg returns the installed-package database by name. A package listed for several
// architectures counts as installed when any of them is.
func (r *run) dpkg() (map[string]facts.DpkgPackage, error) {
	return fact(r, "dpkg", func() (map[string]facts.DpkgPackage, error) {
		data, err := r.readFile(dpkgStatusPath)
		if err != nil {
			return nil, err
		}
		db := map[string]facts.DpkgPackage{}
		for _, p := range facts.ParseDpkgStatus(data) {
			if old, ok := db[p.Name]; ok && old.Installed() {
				continue
			}
			db[p.Name] = p
		}
		return db, nil
	})
}

func (r *run) passwd() ([]facts.PasswdEntry, error) {
	return fact(r, "passwd", func() ([]facts.PasswdEntry, error) {
		data, err := r.readFile(passwdPath)
		if err != nil {
			return nil, err
		}
		return facts.ParsePasswd(data), nil
	})
}

func (r *run) shadow() ([]facts.ShadowEntry, error) {
	return fact(r, "shadow", func() ([]facts.ShadowEntry, error) {
		data, err := r.readFile(shadowPath)
		if err != nil {
			return nil, err
		}
		return facts.ParseShadow(data), nil
	})
}

func (r *run) groups() ([]facts.GroupEntry, error) {
	return fact(r, "group", func() ([]facts.GroupEntry, error) {
		data, err := r.readFile(groupPath)
		if err != nil {
			return nil, err
		}
		return facts.ParseGroup(data), nil
	})
}

func (r *run) loginDefs() ([]facts.KV, error) {
	return fact(r, "login.defs", func() ([]facts.KV, error) {
		data, err := r.readFile(loginDefsPath)
		if err != nil {
			return nil, err
		}
		return facts.ParseLoginDefs(data), nil
	})
}

// sshdLine is a directive of the effective sshd configuration with the file it came from.
type sshdLine struct {
	facts.SSHDDirective
	File string
}

// maxIncludeDepth bounds nested Include directives (sshd's own limit is 16).
const maxIncludeDepth = 16

// sshdConfig returns the directives of the sshd configuration rooted at main, with Include
// expanded in place (globs sorted, relative paths under /etc/ssh). A directive of an included
// file inherits the Match block the Include sits in.
func (r *run) sshdConfig(main string) ([]sshdLine, error) {
	return fact(r, "sshd:"+main, func() ([]sshdLine, error) {
		var out []sshdLine
		var expand func(file, match string, depth int) error
		expand = func(file, match string, depth int) error {
			data, err := r.readFile(file)
			if err != nil {
				return err
			}
			for _, d := range facts.ParseSSHDConfig(data) {
				if d.Match == "" {
					d.Match = match
				}
				if d.Keyword != "include" {
					out = append(out, sshdLine{d, file})
					continue
				}
				if depth >= maxIncludeDepth {
					return fmt.Errorf("%s:%d: Include nested more than %d deep", file, d.Line, maxIncludeDepth)
				}
				for _, pattern := range d.Args {
					if !path.IsAbs(pattern) {
						pattern = path.Join("/etc/ssh", pattern)
					}
					matches, err := r.fs.Glob(path.Clean(pattern))
					if err != nil {
						return fmt.Errorf("%s:%d: Include %s: %w", file, d.Line, pattern, err)
					}
					for _, m := range matches {
						if err := expand(m, d.Match, depth+1); err != nil {
							return err
						}
					}
				}
			}
			return nil
		}
		return out, expand(main, "", 0)
	})
}

// sysctlValue is one effective setting with where it was made.
type sysctlValue struct {
	Value, File string
	Line        int
}

// sysctlConfig returns the ordered assignments of every sysctl configuration file, in the
// order systemd-sysctl applies them: the sysctl.d files sorted by name (a name in an earlier
// directory hiding the same name in later ones), then /etc/sysctl.conf.
type sysctlAssignment struct {
	facts.SysctlSetting
	File string
}

func (r *run) sysctlConfig() ([]sysctlAssignment, error) {
	return fact(r, "sysctl", func() ([]sysctlAssignment, error) {
		chosen := map[string]string{} // file name -> in-root path
		for _, dir := range sysctlDirs {
			ents, err := r.fs.ReadDir(dir)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
				continue
			}
			if err != nil {
				return nil, err
			}
			for _, e := range ents {
				if !strings.HasSuffix(e.Name(), ".conf") {
					continue
				}
				if _, seen := chosen[e.Name()]; !seen {
					chosen[e.Name()] = path.Join(dir, e.Name())
				}
			}
		}
		names := make([]string, 0, len(chosen))
		for n := range chosen {
			names = append(names, n)
		}
		sort.Strings(names)
		files := make([]string, 0, len(names)+1)
		for _, n := range names {
			files = append(files, chosen[n])
		}
		files = append(files, sysctlConfPath)
		var out []sysctlAssignment
		for _, f := range files {
			data, err := r.readFile(f)
			if errors.Is(err, fs.ErrNotExist) {
				continue // a dangling link, or no /etc/sysctl.conf
			}
			if err != nil {
				return nil, err
			}
			for _, s := range facts.ParseSysctlConf(data) {
				out = append(out, sysctlAssignment{s, f})
			}
		}
		return out, nil
	})
}

// lookupSysctl returns the configured value of key: the last assignment that names it or a
// glob matching it (unless a "-key" line excludes the key from globs).
func lookupSysctl(all []sysctlAssignment, key string) (sysctlValue, bool) {
	excluded := false
	for _, a := range all {
		excluded = excluded || (a.Exclude && a.Key == key)
	}
	var v sysctlValue
	found := false
	for _, a := range all {
		if a.Exclude {
			continue
		}
		if a.Key == key {
			v, found = sysctlValue{a.Value, a.File, a.Line}, true
			continue
		}
		if !excluded && strings.ContainsAny(a.Key, "*?[") {
			if ok, _ := path.Match(a.Key, key); ok {
				v, found = sysctlValue{a.Value, a.File, a.Line}, true
			}
		}
	}
	return v, found
}

// procSysExists reports whether the root has a /proc/sys to read live values from.
func (r *run) procSysExists() bool {
	fi, err := r.stat(procSysPath)
	return err == nil && fi.IsDir()
}

// procSysPathOf maps a dotted key to its /proc/sys file (the reverse of the key rule: "."
// separates, "/" stands for a dot inside a name).
func procSysPathOf(key string) string {
	return procSysPath + "/" + strings.Map(func(c rune) rune {
		switch c {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return c
	}, key)
}
