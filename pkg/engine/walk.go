package engine

import (
	"container/heap"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/posture"
)

// Walk bounds that are not parameters.
const (
	// maxWalkFindings bounds the offending entries one walk keeps per rule.
	maxWalkFindings = 1000
	// maxWalkResults bounds the failing results one rule reports; the rest are counted.
	maxWalkResults = 100
	// maxInventoryEvidence bounds the files listed in the evidence of an inventory.
	maxInventoryEvidence = 500
)

// alwaysExcluded are the pseudo file systems no walk enters.
func alwaysExcluded() []string { return []string{"/proc", "/sys", "/dev"} }

// skippedFSType reports whether a walk stays out of mounts of file system type t: kernel
// pseudo file systems (no files of the host's own), network and cluster file systems (slow,
// and owned by another host), FUSE file systems (a user-space daemon answers, possibly
// remote or hung) except fuseblk (a local disk), and file systems without Unix owners and
// modes (vfat, exfat, iso9660: every file shows the mount options, as the CIS audits note
// by leaving them out). tmpfs and ramfs are walked: they are local and small, and /run and a
// tmpfs /tmp are where world-writable and orphaned files gather.
func skippedFSType(t string) bool {
	if t == "fuse" || strings.HasPrefix(t, "fuse.") {
		return true
	}
	switch t {
	case "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs",
		"pstore", "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs", "autofs", "binfmt_misc", "efivarfs",
		"nsfs", "rpc_pipefs", "selinuxfs", "smackfs", "resctrl", "nfsd",
		"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "9p", "lustre", "gpfs",
		"ocfs2", "gfs2", "coda", "davfs", "beegfs", "orangefs", "pvfs2",
		"vfat", "msdos", "exfat", "iso9660":
		return true
	}
	return false
}

// walkEntry is one offending or inventoried file.
type walkEntry struct {
	Path     string
	Mode     uint32
	UID, GID uint32
	Dir      bool
}

// walkSet is the entries of one rule: the maxWalkFindings smallest paths kept, so which
// ones are kept does not depend on the order the walk met them, and all counted. While the
// walk runs Entries is a max-heap by path; sortEntries puts it in path order.
type walkSet struct {
	Entries []walkEntry
	Total   int
}

func (s *walkSet) add(e walkEntry) {
	s.Total++
	h := (*entryHeap)(&s.Entries)
	if len(s.Entries) < maxWalkFindings {
		heap.Push(h, e)
		return
	}
	if e.Path < s.Entries[0].Path {
		s.Entries[0] = e
		heap.Fix(h, 0)
	}
}

// merge adds the entries and the count of o.
func (s *walkSet) merge(o *walkSet) {
	for _, e := range o.Entries {
		s.add(e)
	}
	s.Total += o.Total - len(o.Entries)
}

func (s *walkSet) sortEntries() {
	sort.Slice(s.Entries, func(i, j int) bool { return s.Entries[i].Path < s.Entries[j].Path })
}

// entryHeap is a max-heap of entries by path (container/heap).
type entryHeap []walkEntry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].Path > h[j].Path }
func (h entryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *entryHeap) Push(x any)        { *h = append(*h, x.(walkEntry)) }
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// walkFacts is what one bounded walk found.
type walkFacts struct {
	Roots    []string
	Excluded []string
	Examined int
	// Partial says why the walk did not finish ("" when it did).
	Partial string
	// Unreadable are entries that could not be examined and directories that could not be
	// listed: the first maxWalkFindings paths in path order; UnreadableTotal counts them all.
	Unreadable      []string
	UnreadableTotal int
	Sets            map[string]*walkSet // by rule
	// OwnersErr and GroupsErr are set when passwd or group could not be read.
	OwnersErr, GroupsErr error
}

func walkKey(c *catalog.FileWalkCheck) string {
	maxFiles, maxDepth, timeout := c.Limits()
	return fmt.Sprintf("walk:%s|%s|%d|%d|%s", strings.Join(walkRoots(c), ","), strings.Join(c.Exclude, ","), maxFiles, maxDepth, timeout)
}

func walkRoots(c *catalog.FileWalkCheck) []string {
	if len(c.Roots) == 0 {
		return []string{"/"}
	}
	return c.Roots
}

// fileWalk runs (once per scan for the same roots, exclusions and limits, so every rule of
// the catalogue is answered by one pass) a bounded walk that sorts every entry into the
// rules' sets.
func (r *run) fileWalk(c *catalog.FileWalkCheck) (*walkFacts, error) {
	return fact(r, walkKey(c), func() (*walkFacts, error) {
		return r.walk(c, walkWorkers())
	})
}

// walk does the walk of fileWalk with the given number of workers.
func (r *run) walk(c *catalog.FileWalkCheck, workers int) (*walkFacts, error) {
	maxFiles, maxDepth, timeout := c.Limits()
	w := &walkFacts{Roots: walkRoots(c)}
	plan := &walkPlan{excluded: map[string]bool{}, mountTypes: map[string]string{},
		maxFiles: maxFiles, maxDepth: maxDepth, timeout: timeout, workers: workers}
	for _, p := range append(alwaysExcluded(), c.Exclude...) {
		plan.excluded[p] = true
	}
	live, err := r.mountTable()
	if err != nil {
		return nil, err
	}
	// The top-most mount on a mount point decides (a later line mounts over an earlier one).
	for _, m := range live.Entries {
		plan.mountTypes[cleanMountPoint(m.MountPoint)] = m.FSType
	}
	for mp, typ := range plan.mountTypes {
		if mp != "/" && skippedFSType(typ) {
			plan.excluded[mp] = true
		}
	}

	if pw, err := r.passwd(); err != nil {
		w.OwnersErr = err
	} else {
		plan.uids = map[uint32]bool{}
		for _, e := range pw {
			if e.UID >= 0 {
				plan.uids[uint32(e.UID)] = true
			}
		}
	}
	if gr, err := r.groups(); err != nil {
		w.GroupsErr = err
	} else {
		plan.gids = map[uint32]bool{}
		for _, e := range gr {
			if e.GID >= 0 {
				plan.gids[uint32(e.GID)] = true
			}
		}
	}

	// Roots are opened through an os.Root and every directory below relative to its parent
	// without following links, so nothing the host holds can lead the walk out of the root.
	hostRoot, err := os.OpenRoot(r.fs.Root())
	if err != nil {
		return nil, err
	}
	defer hostRoot.Close()
	var roots, unreadable []string
	for _, root := range w.Roots {
		resolved, err := r.fs.Resolve(root)
		if err != nil {
			unreadable = append(unreadable, root)
			continue
		}
		if fi, err := r.fs.Stat(root); err != nil || !fi.IsDir() {
			unreadable = append(unreadable, root)
			continue
		}
		roots = append(roots, resolved)
	}
	res := walkTree(hostRoot, roots, plan)

	w.Examined = res.examined
	w.Sets = res.sets
	w.UnreadableTotal = res.unreadableTotal + len(unreadable)
	w.Unreadable = append(unreadable, res.unreadable...)
	sort.Strings(w.Unreadable)
	w.Unreadable = w.Unreadable[:min(len(w.Unreadable), maxWalkFindings)]
	// Report only the outermost excluded paths: /sys covers /sys/fs/cgroup.
	excluded := plan.excluded
	for _, p := range res.foreign {
		excluded[p] = true
	}
	for p := range excluded {
		if !underExcluded(excluded, p) {
			w.Excluded = append(w.Excluded, p)
		}
	}
	sort.Strings(w.Excluded)
	w.Partial = res.partial
	if w.Partial == "" && res.depthCut > 0 {
		w.Partial = fmt.Sprintf("%d directories deeper than %d levels were not entered (max_depth)", res.depthCut, maxDepth)
	}
	if w.Partial == "" && w.UnreadableTotal > 0 {
		w.Partial = fmt.Sprintf("%d entries could not be read (%s)", w.UnreadableTotal, strings.Join(firstN(w.Unreadable, maxListed), ", "))
	}
	return w, nil
}

// underExcluded reports whether a parent directory of p is excluded.
func underExcluded(excluded map[string]bool, p string) bool {
	for d := path.Dir(p); d != p && d != "/"; p, d = d, path.Dir(d) {
		if excluded[d] {
			return true
		}
	}
	return false
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (w *walkFacts) scope() string {
	s := strings.Join(w.Roots, ", ")
	if len(w.Excluded) > 0 {
		s += " (excluding " + strings.Join(w.Excluded, ", ") + ")"
	}
	return s
}

// summary is the evidence every walk result carries.
func (w *walkFacts) summary() []Evidence {
	ev := []Evidence{{Source: strings.Join(w.Roots, ", "), Key: "entries examined", Actual: strconv.Itoa(w.Examined)}}
	if w.Partial != "" {
		ev = append(ev, Evidence{Source: strings.Join(w.Roots, ", "), Key: "walk", Actual: "partial: " + w.Partial, Expected: "complete"})
	} else {
		ev = append(ev, Evidence{Source: strings.Join(w.Roots, ", "), Key: "walk", Actual: "complete", Expected: "complete"})
	}
	return ev
}

// ruleWords describes a rule's findings for reasons: what is wrong, what is expected.
func ruleWords(rule string) (noun, expected string) {
	switch rule {
	case catalog.WalkWorldWritable:
		return "world-writable regular file", "no regular file writable by others"
	case catalog.WalkStickyDirs:
		return "world-writable directory without the sticky bit", "the sticky bit on every directory writable by others"
	case catalog.WalkUnowned:
		return "file owned by a uid without a passwd entry", "every owner listed in " + passwdPath
	case catalog.WalkUngrouped:
		return "file whose gid has no group entry", "every group listed in " + groupPath
	}
	return "set-uid or set-gid file", "a reviewed list"
}

func (r *run) findingResult(rule string, e walkEntry) Result {
	mode := fmt.Sprintf("%04o", e.Mode)
	var reason string
	var ev Evidence
	switch rule {
	case catalog.WalkWorldWritable:
		reason = fmt.Sprintf("%s is writable by everyone (mode %s); expected no write permission for others", e.Path, mode)
		ev = Evidence{Source: e.Path, Key: "mode", Actual: mode, Expected: "no o+w"}
	case catalog.WalkStickyDirs:
		reason = fmt.Sprintf("directory %s is writable by everyone without the sticky bit (mode %s); expected the sticky bit (chmod +t)", e.Path, mode)
		ev = Evidence{Source: e.Path, Key: "mode", Actual: mode, Expected: "sticky bit (1000) set"}
	case catalog.WalkUnowned:
		reason = fmt.Sprintf("%s is owned by uid %d, which has no entry in %s", e.Path, e.UID, passwdPath)
		ev = Evidence{Source: e.Path, Key: "owner", Actual: strconv.FormatUint(uint64(e.UID), 10), Expected: "a uid listed in " + passwdPath}
	case catalog.WalkUngrouped:
		reason = fmt.Sprintf("%s has gid %d, which has no entry in %s", e.Path, e.GID, groupPath)
		ev = Evidence{Source: e.Path, Key: "group", Actual: strconv.FormatUint(uint64(e.GID), 10), Expected: "a gid listed in " + groupPath}
	}
	return Result{Resource: e.Path, Status: posture.Fail, Reason: reason, Evidence: []Evidence{ev}}
}

func (r *run) checkFileWalk(c *catalog.FileWalkCheck) []Result {
	resource := strings.Join(walkRoots(c), ",")
	w, err := r.fileWalk(c)
	if err != nil {
		return []Result{errorResult(resource, readFailure(failedPath(err, mountinfoPaths()[0]), err))}
	}
	switch {
	case c.Rule == catalog.WalkUnowned && w.OwnersErr != nil:
		return []Result{errorResult(resource, readFailure(passwdPath, w.OwnersErr))}
	case c.Rule == catalog.WalkUngrouped && w.GroupsErr != nil:
		return []Result{errorResult(resource, readFailure(groupPath, w.GroupsErr))}
	}
	set := w.Sets[c.Rule]
	noun, expected := ruleWords(c.Rule)
	partial := ""
	if w.Partial != "" {
		partial = "; the walk was partial: " + w.Partial
	}
	if c.Rule == catalog.WalkSUIDSGID && len(c.Allowed) > 0 {
		return r.checkSUIDAllowed(c, w, resource, partial)
	}
	if c.Rule == catalog.WalkSUIDSGID {
		ev := w.summary()
		for i, e := range set.Entries {
			if i == maxInventoryEvidence {
				break
			}
			ev = append(ev, Evidence{Source: e.Path, Key: "mode owner group", Actual: fmt.Sprintf("%04o %s %s", e.Mode, r.idName("owner", int64(e.UID)), r.idName("group", int64(e.GID)))})
		}
		return []Result{{Resource: resource, Status: posture.Info, Evidence: ev,
			Reason: fmt.Sprintf("manual review: %d set-uid or set-gid files among %d entries under %s%s; check each against the packages installed and the host's role", set.Total, w.Examined, w.scope(), partial)}}
	}
	if set.Total == 0 {
		if w.Partial != "" {
			return []Result{{Resource: resource, Status: posture.Error, Evidence: w.summary(),
				Reason: fmt.Sprintf("no %s among the %d entries examined under %s, but the walk was partial: %s; raise the limit or narrow roots so the whole tree is examined", noun, w.Examined, w.scope(), w.Partial)}}
		}
		return []Result{{Resource: resource, Status: posture.Pass, Evidence: w.summary(),
			Reason: fmt.Sprintf("no %s among %d entries under %s", noun, w.Examined, w.scope())}}
	}
	out := make([]Result, 0, min(len(set.Entries), maxWalkResults)+1)
	for i, e := range set.Entries {
		if i == maxWalkResults {
			break
		}
		res := r.findingResult(c.Rule, e)
		res.Reason += partial
		out = append(out, res)
	}
	if set.Total > len(out) {
		out = append(out, Result{Resource: resource, Status: posture.Fail, Evidence: w.summary(),
			Reason: fmt.Sprintf("%d more of %d %ss under %s are not listed one by one; expected %s%s", set.Total-len(out), set.Total, noun, w.scope(), expected, partial)})
	}
	return out
}

// checkFiles evaluates a file check whose path may be a glob: each match is one result, and
// no match is a missing file.
func (r *run) checkFiles(c *catalog.FileCheck) []Result {
	if !strings.ContainsAny(c.Path, `*?[`) {
		return []Result{r.checkFile(c)}
	}
	matches, err := r.fs.Glob(c.Path)
	if err != nil {
		return []Result{errorResult(c.Path, fmt.Sprintf("cannot expand %s: %s", c.Path, osReason(err)))}
	}
	if len(matches) == 0 {
		if c.State == "absent" {
			return []Result{{Resource: c.Path, Status: posture.Pass, Reason: fmt.Sprintf("no file matches %s", c.Path),
				Evidence: []Evidence{{Source: c.Path, Key: "exists", Actual: "no", Expected: "no"}}}}
		}
		res := missingResult(c.Path, c.IfMissing)
		res.Reason = strings.Replace(res.Reason, c.Path+" does not exist", "no file matches "+c.Path, 1)
		return []Result{res}
	}
	out := make([]Result, 0, len(matches))
	for _, m := range matches {
		one := *c
		one.Path = m
		out = append(out, r.checkFile(&one))
	}
	return out
}

func allowedPath(patterns []string, p string) bool {
	for _, pat := range patterns {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// checkSUIDAllowed fails each set-uid or set-gid file outside c.Allowed; when there is none
// the inventory passes (or is an error when the walk was partial).
func (r *run) checkSUIDAllowed(c *catalog.FileWalkCheck, w *walkFacts, resource, partial string) []Result {
	set := w.Sets[catalog.WalkSUIDSGID]
	var out []Result
	ev := w.summary()
	for _, e := range set.Entries {
		owner, group := r.idName("owner", int64(e.UID)), r.idName("group", int64(e.GID))
		if allowedPath(c.Allowed, e.Path) {
			if len(ev) < maxInventoryEvidence {
				ev = append(ev, Evidence{Source: e.Path, Key: "mode owner group", Actual: fmt.Sprintf("%04o %s %s", e.Mode, owner, group), Expected: "allowed"})
			}
			continue
		}
		if len(out) < maxWalkResults {
			out = append(out, Result{Resource: e.Path, Status: posture.Fail,
				Reason:   fmt.Sprintf("%s is set-uid or set-gid (mode %04o, %s, %s) and is not on the list of expected programs; review it, then remove the bit (chmod u-s,g-s) or add it to the list%s", e.Path, e.Mode, owner, group, partial),
				Evidence: []Evidence{{Source: e.Path, Key: "mode", Actual: fmt.Sprintf("%04o", e.Mode), Expected: "no set-uid or set-gid bit"}}})
		}
	}
	if set.Total > len(set.Entries) {
		out = append(out, Result{Resource: resource, Status: posture.Fail, Evidence: w.summary(),
			Reason: fmt.Sprintf("%d set-uid or set-gid files were found but only %d could be checked against the list; review the rest by hand", set.Total, len(set.Entries))})
	}
	if len(out) > 0 {
		return out
	}
	if w.Partial != "" {
		return []Result{{Resource: resource, Status: posture.Error, Evidence: ev,
			Reason: fmt.Sprintf("every set-uid or set-gid file among the %d entries examined under %s is expected, but the walk was partial: %s", w.Examined, w.scope(), w.Partial)}}
	}
	return []Result{{Resource: resource, Status: posture.Pass, Evidence: ev,
		Reason: fmt.Sprintf("all %d set-uid or set-gid files among %d entries under %s are expected programs", set.Total, w.Examined, w.scope())}}
}
