package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/facts"
	"github.com/palisadehq/palisade/pkg/posture"
)

const fstabPath = "/etc/fstab"

// mountinfoPaths are the live mount tables, preferred first: init's (the host's mount
// namespace when the sensor shares the host's process table), then the reader's own.
func mountinfoPaths() []string {
	return []string{"/proc/1/mountinfo", "/proc/self/mountinfo"}
}

// fstabFact is /etc/fstab; Exists is false when the root has none.
type fstabFact struct {
	Exists  bool
	Entries []facts.FstabEntry
}

func (r *run) fstab() (fstabFact, error) {
	return fact(r, "fstab", func() (fstabFact, error) {
		data, err := r.readFile(fstabPath)
		if errors.Is(err, fs.ErrNotExist) {
			return fstabFact{}, nil
		}
		if err != nil {
			return fstabFact{}, err
		}
		return fstabFact{Exists: true, Entries: facts.ParseFstab(data)}, nil
	})
}

// mountTable is the live mount table; Source is "" when the root has none.
type mountTable struct {
	Source  string
	Entries []facts.MountInfo
}

func (r *run) mountTable() (mountTable, error) {
	return fact(r, "mountinfo", func() (mountTable, error) {
		for _, p := range mountinfoPaths() {
			data, err := r.readFile(p)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) || errors.Is(err, fs.ErrPermission) {
				continue
			}
			if err != nil {
				return mountTable{}, err
			}
			return mountTable{Source: p, Entries: facts.ParseMountinfo(data)}, nil
		}
		return mountTable{}, nil
	})
}

// lastFstab returns the last non-swap fstab entry for mount point p (a later line mounts
// over an earlier one).
func lastFstab(entries []facts.FstabEntry, p string) (facts.FstabEntry, bool) {
	var e facts.FstabEntry
	ok := false
	for _, x := range entries {
		if x.Type != "swap" && cleanMountPoint(x.MountPoint) == p {
			e, ok = x, true
		}
	}
	return e, ok
}

// lastMount returns the top-most live mount on p.
func lastMount(entries []facts.MountInfo, p string) (facts.MountInfo, bool) {
	var m facts.MountInfo
	ok := false
	for _, x := range entries {
		if cleanMountPoint(x.MountPoint) == p {
			m, ok = x, true
		}
	}
	return m, ok
}

func cleanMountPoint(p string) string {
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
	}
	return p
}

// mountOptionSet reports whether option want is in effect in opts, which are applied left
// to right: "nodev" is undone by a later "dev" or "defaults", and "user"/"users" imply
// noexec, nosuid and nodev as mount(8) says.
func mountOptionSet(opts []string, want string) bool {
	opposite, negative := strings.CutPrefix(want, "no")
	set := false
	for _, o := range opts {
		switch {
		case o == want:
			set = true
		case negative && (o == opposite || o == "defaults"):
			set = false
		case negative && (o == "user" || o == "users") && (want == "noexec" || want == "nosuid" || want == "nodev"):
			set = true
		case !negative && o == "no"+want:
			set = false
		}
	}
	return set
}

func (r *run) checkMount(c *catalog.MountCheck) Result {
	p := c.Path
	tab, err := r.fstab()
	if err != nil {
		return errorResult(p, readFailure(fstabPath, err))
	}
	live, err := r.mountTable()
	if err != nil {
		return errorResult(p, readFailure(failedPath(err, mountinfoPaths()[0]), err))
	}
	if !tab.Exists && live.Source == "" {
		return errorResult(p, fmt.Sprintf("cannot tell how %s is mounted: the root has neither %s nor a mount table (%s)", p, fstabPath, strings.Join(mountinfoPaths(), ", ")))
	}
	fe, inFstab := lastFstab(tab.Entries, p)
	me, mounted := lastMount(live.Entries, p)

	var ev []Evidence
	var notes []string
	if tab.Exists {
		if inFstab {
			ev = append(ev, Evidence{Source: fstabPath, Line: fe.Line, Key: "mount " + p, Actual: fmt.Sprintf("%s %s %s", fe.Source, fe.Type, strings.Join(fe.Options, ","))})
		} else {
			ev = append(ev, Evidence{Source: fstabPath, Key: "mount " + p, Actual: "no entry"})
		}
	}
	if live.Source != "" {
		if mounted {
			opts := append(append([]string{}, me.Options...), me.SuperOptions...)
			ev = append(ev, Evidence{Source: live.Source, Line: me.Line, Key: "mount " + p, Actual: fmt.Sprintf("%s %s %s", me.Source, me.FSType, strings.Join(opts, ","))})
		} else {
			ev = append(ev, Evidence{Source: live.Source, Key: "mount " + p, Actual: "not mounted"})
		}
		switch {
		case inFstab && !mounted:
			notes = append(notes, fmt.Sprintf("%s lists %s at line %d but it is not mounted now", fstabPath, p, fe.Line))
		case mounted && tab.Exists && !inFstab:
			notes = append(notes, fmt.Sprintf("%s is mounted (%s:%d) but not listed in %s; the mount may come from a systemd mount unit", p, live.Source, me.Line, fstabPath))
		}
	}
	// The live table decides when there is one; otherwise fstab does.
	separate := inFstab
	where := fmt.Sprintf("%s:%d", fstabPath, fe.Line)
	if live.Source != "" {
		separate = mounted
		where = fmt.Sprintf("%s:%d", live.Source, me.Line)
	}
	sources := fstabPath
	if live.Source != "" {
		sources = live.Source
		if tab.Exists {
			sources = fstabPath + " and " + live.Source
		}
	}
	withNotes := func(s string) string {
		if len(notes) > 0 {
			s += " (" + strings.Join(notes, "; ") + ")"
		}
		return s
	}
	// Options apply wherever the mount is configured or mounted; only when neither table
	// has it is there nothing to set them on.
	if !c.Separate && !inFstab && !mounted {
		return Result{Resource: p, Status: posture.Skip, Evidence: ev,
			Reason: withNotes(fmt.Sprintf("not applicable: %s is not a separate mount (%s), so its mount options cannot be set; the separate-partition control reports this", p, sources))}
	}
	notSeparateWhere := "no entry in " + fstabPath
	if live.Source != "" {
		notSeparateWhere = "not mounted according to " + live.Source
	}
	if c.Separate && !separate {
		ev = append(ev, Evidence{Source: sources, Key: "separate mount", Actual: "no", Expected: "yes"})
		return Result{Resource: p, Status: posture.Fail, Evidence: ev,
			Reason: withNotes(fmt.Sprintf("%s is not a separate mount (%s); expected its own partition, logical volume or tmpfs", p, notSeparateWhere))}
	}
	var bad, good []string
	if c.Separate {
		good = append(good, fmt.Sprintf("%s is a separate mount (%s)", p, where))
	}
	for _, o := range c.Options {
		var missing []string
		if mounted && !mountOptionSet(append(append([]string{}, me.Options...), me.SuperOptions...), o) {
			missing = append(missing, fmt.Sprintf("%s:%d", live.Source, me.Line))
		}
		if inFstab && !mountOptionSet(fe.Options, o) {
			missing = append(missing, fmt.Sprintf("%s:%d", fstabPath, fe.Line))
		}
		var present []string
		if mounted {
			present = append(present, fmt.Sprintf("%s:%d", live.Source, me.Line))
		}
		if inFstab {
			present = append(present, fmt.Sprintf("%s:%d", fstabPath, fe.Line))
		}
		if len(missing) > 0 {
			ev = append(ev, Evidence{Source: strings.Join(missing, ", "), Key: o, Actual: "not set", Expected: "set"})
			bad = append(bad, fmt.Sprintf("%s is missing from %s", o, strings.Join(missing, " and ")))
		} else {
			ev = append(ev, Evidence{Source: sources, Key: o, Actual: "set", Expected: "set"})
			good = append(good, fmt.Sprintf("%s is set (%s)", o, strings.Join(present, ", ")))
		}
	}
	if len(bad) > 0 {
		return Result{Resource: p, Status: posture.Fail, Evidence: ev,
			Reason: withNotes(fmt.Sprintf("mount %s: %s; expected %s", p, strings.Join(bad, "; "), strings.Join(c.Options, ",")))}
	}
	return Result{Resource: p, Status: posture.Pass, Evidence: ev,
		Reason: withNotes(fmt.Sprintf("mount %s: %s", p, strings.Join(good, "; ")))}
}
