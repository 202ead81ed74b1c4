package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/palisadehq/palisade/pkg/catalog"
)

// Tuning of the tree walk.
const (
	// direntBufSize is the getdents buffer of one directory level of one worker.
	direntBufSize = 8 << 10
	// deadlineEvery is how many entries a worker examines between two looks at the clock.
	deadlineEvery = 64
	// maxWalkWorkers bounds the goroutines of one walk; the walk is bound by stat calls,
	// which scale with CPUs only so far.
	maxWalkWorkers = 8
)

// Magic numbers of file systems x/sys/unix does not name (statfs(2)).
const (
	configfsMagic = 0x62656570
	mqueueMagic   = 0x19800202
)

// walkWorkers is the default number of workers of a walk: one per CPU, at least two so one
// worker waiting for the disk leaves the other working, at most maxWalkWorkers.
func walkWorkers() int {
	return min(max(runtime.GOMAXPROCS(0), 2), maxWalkWorkers)
}

// walkPlan is everything one tree walk needs, fixed before it starts.
type walkPlan struct {
	// excluded are in-root paths that are neither examined nor entered.
	excluded map[string]bool
	// mountTypes is the file system type of each live mount point (the top-most mount).
	mountTypes map[string]string
	maxFiles   int
	maxDepth   int
	timeout    time.Duration
	// uids and gids are the known owners and groups; nil when they could not be read, and
	// then the rule is not applied.
	uids, gids map[uint32]bool
	workers    int
}

// walkTask is one directory to walk: an open descriptor (owned by the task), its in-root
// path, its depth below the walk root and its device.
type walkTask struct {
	fd    int
	path  string
	depth int
	dev   uint64
}

// treeWalk is one walk in progress. A small pool of workers walks the directories; a worker
// that meets a subdirectory while the shared queue has room hands it over, otherwise it
// walks it itself, depth first, so open descriptors stay bounded by workers x depth plus
// the queue. Each worker keeps its own findings and counters (walkWorker), merged when the
// walk is over; what the workers share is below.
type treeWalk struct {
	plan *walkPlan
	// skipNames maps a directory to the names of its excluded children, so most
	// directories cost one map lookup rather than one per entry.
	skipNames map[string]map[string]bool

	tasks   chan walkTask // directories waiting for a worker; closed when pending is 0
	pending atomic.Int64  // tasks queued or being walked
	// claimed counts the entries examined by all workers (plus one per worker that found
	// max_files reached).
	claimed  atomic.Int64
	deadline time.Time   // the time limit
	halted   atomic.Bool // set at a limit: every worker stops

	mu      sync.Mutex // guards partial
	partial string     // why the walk stopped early, the first reason only
}

// walkWorker is one worker's share of a walk.
type walkWorker struct {
	t        *treeWalk
	bufs     [][]byte // getdents buffers by recursion level
	examined int
	depthCut int
	sets     map[string]*walkSet
	// unreadable are entries that could not be examined or directories that could not be
	// listed (the smallest paths, up to maxWalkFindings), all counted.
	unreadable      []string
	unreadableTotal int
	// foreign are mount points left out because statfs named a file system the walk does
	// not enter.
	foreign []string
}

// walkResult is what a tree walk found, merged from its workers.
type walkResult struct {
	examined        int
	partial         string
	depthCut        int
	sets            map[string]*walkSet
	unreadable      []string // sorted, at most maxWalkFindings
	unreadableTotal int
	foreign         []string // sorted
}

func newWalkSets() map[string]*walkSet {
	sets := map[string]*walkSet{}
	for _, rule := range []string{catalog.WalkWorldWritable, catalog.WalkStickyDirs, catalog.WalkUnowned, catalog.WalkUngrouped, catalog.WalkSUIDSGID} {
		sets[rule] = &walkSet{}
	}
	return sets
}

// walkTree walks the directories roots (in-root paths, resolved) of the host root hostRoot
// with plan's limits. A root that cannot be opened is reported unreadable. The findings do
// not depend on the number of workers or their timing unless a limit stopped the walk.
// Directories are listed with getdents64 and their entries read with fstatat relative to
// the open directory: one path lookup of one component per entry, Linux system calls (the
// sensor runs on Linux only).
func walkTree(hostRoot *os.Root, roots []string, plan *walkPlan) walkResult {
	t := &treeWalk{plan: plan, skipNames: map[string]map[string]bool{}, deadline: time.Now().Add(plan.timeout)}
	for p := range plan.excluded {
		if p == "/" {
			continue
		}
		dir, name := parentAndName(p)
		if t.skipNames[dir] == nil {
			t.skipNames[dir] = map[string]bool{}
		}
		t.skipNames[dir][name] = true
	}
	workers := max(plan.workers, 1)
	t.tasks = make(chan walkTask, max(workers, len(roots)))

	first := &walkWorker{t: t, sets: newWalkSets()}
	for _, root := range roots {
		task, err := openWalkRoot(hostRoot, root)
		if err != nil {
			first.addUnreadable(root)
			continue
		}
		t.pending.Add(1)
		t.tasks <- task
	}
	if t.pending.Load() == 0 {
		close(t.tasks)
	}

	all := []*walkWorker{first}
	for range workers - 1 {
		all = append(all, &walkWorker{t: t, sets: newWalkSets()})
	}
	var wg sync.WaitGroup
	for _, wk := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wk.run()
		}()
	}
	wg.Wait()
	return t.merge(all)
}

// openWalkRoot opens the in-root directory root through hostRoot, which refuses to leave
// the host root, and returns it as a task owning its own descriptor.
func openWalkRoot(hostRoot *os.Root, root string) (walkTask, error) {
	rel := strings.TrimPrefix(root, "/")
	if rel == "" {
		rel = "."
	}
	f, err := hostRoot.Open(filepath.FromSlash(rel))
	if err != nil {
		return walkTask{}, err
	}
	defer f.Close()
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return walkTask{}, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(fd)
		if err == nil {
			err = unix.ENOTDIR
		}
		return walkTask{}, err
	}
	return walkTask{fd: fd, path: root, dev: st.Dev}, nil
}

// stop records why the walk is partial; the first reason is kept.
func (t *treeWalk) stop(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.partial == "" {
		t.partial = reason
	}
}

// offer queues task for another worker when the queue has room; false means the caller
// walks it itself.
func (t *treeWalk) offer(task walkTask) bool {
	t.pending.Add(1)
	select {
	case t.tasks <- task:
		return true
	default:
		t.pending.Add(-1)
		return false
	}
}

// run walks queued directories until the queue is closed; the worker that finishes the last
// pending task closes it.
func (wk *walkWorker) run() {
	t := wk.t
	for task := range t.tasks {
		wk.walkDir(task, 0)
		if t.pending.Add(-1) == 0 {
			close(t.tasks)
		}
	}
}

// overDeadline reports (and records) whether the time limit has passed; workers ask every
// deadlineEvery entries.
func (wk *walkWorker) overDeadline() bool {
	if wk.t.halted.Load() {
		return true
	}
	if !time.Now().After(wk.t.deadline) {
		return false
	}
	wk.t.stop(fmt.Sprintf("stopped at the time limit of %s (timeout)", wk.t.plan.timeout))
	wk.t.halted.Store(true)
	return true
}

// claim counts one examined entry against max_files; false when the limit is reached and
// the entry must be left out. Claiming after the entry was read, one at a time, makes the
// count exact: exactly max_files entries are examined when the tree has more, however the
// workers raced.
func (wk *walkWorker) claim() bool {
	if wk.t.claimed.Add(1) > int64(wk.t.plan.maxFiles) {
		wk.t.stop(fmt.Sprintf("stopped at the limit of %d entries (max_files)", wk.t.plan.maxFiles))
		wk.t.halted.Store(true)
		return false
	}
	return true
}

// walkDir examines every entry of the directory task names and walks its subdirectories.
// level is the recursion level within this worker (which getdents buffer to use). It
// closes task.fd.
func (wk *walkWorker) walkDir(task walkTask, level int) {
	defer unix.Close(task.fd)
	if level == len(wk.bufs) {
		wk.bufs = append(wk.bufs, make([]byte, direntBufSize))
	}
	buf := wk.bufs[level]
	skip := wk.t.skipNames[task.path]
	for {
		n, err := readDirent(task.fd, buf)
		if err != nil {
			wk.addUnreadable(task.path)
			return
		}
		if n <= 0 {
			return
		}
		// linux_dirent64: ino uint64, off int64, reclen uint16, type uint8, name NUL-ended.
		// The type is not used: owner, group and mode need the lstat anyway.
		for off := 0; off+19 < n; {
			ino := binary.NativeEndian.Uint64(buf[off:])
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen < 20 || off+reclen > n {
				wk.addUnreadable(task.path)
				return
			}
			name := buf[off+19 : off+reclen]
			off += reclen
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if ino == 0 || len(name) == 0 || string(name) == "." || string(name) == ".." || skip[string(name)] {
				continue
			}
			if !wk.visit(task, name, level) {
				return
			}
		}
	}
}

// visit examines the entry name of the directory task and walks it when it is a directory;
// false stops this worker's walk (time or entry limit). name aliases the getdents buffer,
// so nothing keeps it: paths are built as new strings.
func (wk *walkWorker) visit(task walkTask, name []byte, level int) bool {
	t := wk.t
	if t.halted.Load() || (wk.examined%deadlineEvery == 0 && wk.overDeadline()) {
		return false
	}
	// The string shares name's bytes; the calls below copy it and none keeps it.
	nameStr := unsafe.String(&name[0], len(name))
	var st unix.Stat_t
	if err := lstatAt(task.fd, nameStr, &st); err != nil {
		if !errors.Is(err, unix.ENOENT) { // ENOENT: removed while walking
			wk.addUnreadable(joinPath(task.path, nameStr))
		}
		return true
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir && st.Dev != task.dev {
		// A mount point: check its file system, whatever the mount table said (the table
		// may be another mount namespace's, or missing).
		p := joinPath(task.path, nameStr)
		foreign, err := foreignMount(task.fd, nameStr, t.plan.mountTypes[p])
		switch {
		case errors.Is(err, unix.ENOENT):
			return true
		case err != nil:
			wk.addUnreadable(p)
			return true
		case foreign:
			wk.foreign = append(wk.foreign, p)
			return true
		}
	}
	if !wk.claim() {
		return false
	}
	wk.examined++
	wk.classify(task.path, nameStr, &st)
	if !isDir {
		return true
	}
	if task.depth+1 >= t.plan.maxDepth {
		wk.depthCut++
		return true
	}
	p := joinPath(task.path, nameStr)
	fd, err := openChildDir(task.fd, nameStr)
	if err != nil {
		if !errors.Is(err, unix.ENOENT) {
			wk.addUnreadable(p)
		}
		return true
	}
	sub := walkTask{fd: fd, path: p, depth: task.depth + 1, dev: st.Dev}
	if !t.offer(sub) {
		wk.walkDir(sub, level+1)
	}
	return !t.halted.Load()
}

// classify sorts one examined entry into the rules' sets.
func (wk *walkWorker) classify(dir, name string, st *unix.Stat_t) {
	plan := wk.t.plan
	mode := st.Mode & 0o7777
	typ := st.Mode & unix.S_IFMT
	unowned := plan.uids != nil && !plan.uids[st.Uid]
	ungrouped := plan.gids != nil && !plan.gids[st.Gid]
	worldWritable := typ == unix.S_IFREG && mode&0o002 != 0
	setID := typ == unix.S_IFREG && mode&0o6000 != 0
	noSticky := typ == unix.S_IFDIR && mode&0o002 != 0 && mode&0o1000 == 0
	if !unowned && !ungrouped && !worldWritable && !setID && !noSticky {
		return
	}
	e := walkEntry{Path: joinPath(dir, name), Mode: mode, UID: st.Uid, GID: st.Gid, Dir: typ == unix.S_IFDIR}
	if unowned {
		wk.sets[catalog.WalkUnowned].add(e)
	}
	if ungrouped {
		wk.sets[catalog.WalkUngrouped].add(e)
	}
	if worldWritable {
		wk.sets[catalog.WalkWorldWritable].add(e)
	}
	if setID {
		wk.sets[catalog.WalkSUIDSGID].add(e)
	}
	if noSticky {
		wk.sets[catalog.WalkStickyDirs].add(e)
	}
}

func (wk *walkWorker) addUnreadable(p string) {
	wk.unreadableTotal++
	wk.unreadable = keepSmallest(append(wk.unreadable, p), maxWalkFindings)
}

// keepSmallest trims s to its n smallest strings once it holds twice as many, so keeping
// the smallest n costs amortised O(log n) per string.
func keepSmallest(s []string, n int) []string {
	if len(s) < 2*n {
		return s
	}
	sort.Strings(s)
	return s[:n]
}

// merge combines the workers' shares: counts add up, findings keep the smallest paths in
// path order, so a complete walk's result is the same however the work was split.
func (t *treeWalk) merge(all []*walkWorker) walkResult {
	res := walkResult{partial: t.partial, sets: newWalkSets()}
	for _, wk := range all {
		res.examined += wk.examined
		res.depthCut += wk.depthCut
		res.unreadableTotal += wk.unreadableTotal
		res.unreadable = append(res.unreadable, wk.unreadable...)
		res.foreign = append(res.foreign, wk.foreign...)
		for rule, s := range wk.sets {
			res.sets[rule].merge(s)
		}
	}
	for _, s := range res.sets {
		s.sortEntries()
	}
	sort.Strings(res.unreadable)
	res.unreadable = res.unreadable[:min(len(res.unreadable), maxWalkFindings)]
	sort.Strings(res.foreign)
	return res
}

// openChildDir opens the directory name of the directory open at dirfd. name is one
// component, and a symbolic link is refused (O_NOFOLLOW), so the walk can never be led
// out of the host root, even by a directory swapped for a link after it was examined.
func openChildDir(dirfd int, name string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// lstatAt reads the metadata of the entry name of the directory open at dirfd, without
// following a link or triggering an automount.
func lstatAt(dirfd int, name string, st *unix.Stat_t) error {
	for {
		err := unix.Fstatat(dirfd, name, st, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT)
		if err != unix.EINTR {
			return err
		}
	}
}

// readDirent reads the next entries of the directory open at fd into buf (getdents64).
func readDirent(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// foreignMount reports whether the mount point name of the directory open at dirfd is on a
// file system the walk does not enter (foreignFS). It looks through an O_PATH descriptor,
// which does not trigger an automount.
func foreignMount(dirfd int, name, mountType string) (bool, error) {
	fd, err := openPathAt(dirfd, name)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	return foreignFS(fd, mountType)
}

// openPathAt opens the entry name of the directory open at dirfd as a location only
// (O_PATH): nothing is read, a link is not followed and an automount is not triggered.
func openPathAt(dirfd int, name string) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// foreignFS reports whether the directory open at fd is on a file system the walk does not
// enter: kernel pseudo file systems, network file systems, file systems without Unix
// owners and modes, and FUSE file systems unless the mount table names them fuseblk (a
// local disk through FUSE). mountType is the mount table's type for the directory, "" when
// it has none.
func foreignFS(fd int, mountType string) (bool, error) {
	var s unix.Statfs_t
	for {
		err := unix.Fstatfs(fd, &s)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return false, err
		}
	}
	switch uint32(s.Type) {
	case unix.FUSE_SUPER_MAGIC:
		return mountType != "fuseblk", nil
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC,
		unix.DEBUGFS_MAGIC, unix.TRACEFS_MAGIC, unix.SECURITYFS_MAGIC, unix.BPF_FS_MAGIC,
		unix.PSTOREFS_MAGIC, unix.HUGETLBFS_MAGIC, unix.NSFS_MAGIC, unix.BINFMTFS_MAGIC,
		unix.EFIVARFS_MAGIC, unix.SELINUX_MAGIC, unix.SMACK_MAGIC, unix.DEVPTS_SUPER_MAGIC,
		unix.AUTOFS_SUPER_MAGIC, unix.RDTGROUP_SUPER_MAGIC, unix.USBDEVICE_SUPER_MAGIC,
		unix.OPENPROM_SUPER_MAGIC, unix.XENFS_SUPER_MAGIC, unix.BINDERFS_SUPER_MAGIC,
		configfsMagic, mqueueMagic,
		unix.NFS_SUPER_MAGIC, unix.SMB_SUPER_MAGIC, unix.SMB2_SUPER_MAGIC, unix.CIFS_SUPER_MAGIC,
		unix.CODA_SUPER_MAGIC, unix.AFS_FS_MAGIC, unix.AFS_SUPER_MAGIC, unix.CEPH_SUPER_MAGIC,
		unix.V9FS_MAGIC, unix.OCFS2_SUPER_MAGIC, unix.NCP_SUPER_MAGIC,
		unix.MSDOS_SUPER_MAGIC, unix.EXFAT_SUPER_MAGIC, unix.ISOFS_SUPER_MAGIC:
		return true, nil
	}
	return false, nil
}

// joinPath is path.Join for a clean in-root directory and one name.
func joinPath(dir, name string) string {
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// parentAndName splits a clean in-root path other than "/" into its directory and name.
func parentAndName(p string) (string, string) {
	i := strings.LastIndexByte(p, '/')
	if i == 0 {
		return "/", p[1:]
	}
	return p[:i], p[i+1:]
}
