package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/palisadehq/palisade/pkg/facts"
)

// rpmDBPaths are where the rpm database in SQLite format lives: /var/lib/rpm on RHEL 9 and
// its rebuilds, /usr/lib/sysimage/rpm on newer Fedora (where /var/lib/rpm links to it).
var rpmDBPaths = []string{"/var/lib/rpm/rpmdb.sqlite", "/usr/lib/sysimage/rpm/rpmdb.sqlite"}

// installedPackage is one package of whichever package database the host has.
type installedPackage struct {
	Name      string
	Version   string // dpkg's Version or rpm's [epoch:]version-release
	Status    string // dpkg's status words; "installed" for rpm
	Line      int    // line of the stanza in the dpkg status file; 0 for rpm
	Installed bool
}

// packageDB is the host's package inventory and where it was read.
type packageDB struct {
	Source string // in-root path of the database
	Kind   string // "dpkg" or "rpm"
	Pkgs   map[string]installedPackage
}

// errNoPackageDB is the error of packages() on a root with neither database; it wraps
// fs.ErrNotExist.
var errNoPackageDB = fmt.Errorf("no package database (neither %s nor %s exists): %w", dpkgStatusPath, strings.Join(rpmDBPaths, " nor "), fs.ErrNotExist)

// packages returns the installed-package inventory: the dpkg status database when the root
// has one, else the rpm database. An error wrapping fs.ErrNotExist means there is neither.
func (r *run) packages() (packageDB, error) {
	return fact(r, "packages", func() (packageDB, error) {
		dp, err := r.dpkg()
		if err == nil {
			db := packageDB{Source: dpkgStatusPath, Kind: "dpkg", Pkgs: make(map[string]installedPackage, len(dp))}
			for name, p := range dp {
				db.Pkgs[name] = installedPackage{Name: name, Version: p.Version, Status: p.Status, Line: p.Line, Installed: p.Installed()}
			}
			return db, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return packageDB{Source: dpkgStatusPath}, err
		}
		for _, p := range rpmDBPaths {
			pkgs, err := r.readRPMDB(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return packageDB{Source: p}, err
			}
			db := packageDB{Source: p, Kind: "rpm", Pkgs: make(map[string]installedPackage, len(pkgs))}
			for _, rp := range pkgs {
				if old, ok := db.Pkgs[rp.Name]; ok && old.Version != rp.EVR() {
					// Several versions (kernels, multilib): keep them all in the version.
					rp.Version = old.Version + ", " + rp.EVR()
					rp.Release, rp.Epoch = "", -1
				}
				db.Pkgs[rp.Name] = installedPackage{Name: rp.Name, Version: rp.EVR(), Status: "installed", Installed: true}
			}
			return db, nil
		}
		return packageDB{Source: dpkgStatusPath}, errNoPackageDB
	})
}

func (r *run) readRPMDB(p string) ([]facts.RPMPackage, error) {
	f, err := r.fs.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: p, Err: err}
	}
	pkgs, err := facts.ReadRPMDB(f, fi.Size())
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: p, Err: err}
	}
	return pkgs, nil
}
