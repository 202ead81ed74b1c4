package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/facts"
	"github.com/palisadehq/palisade/pkg/hostfs"
	"github.com/palisadehq/palisade/pkg/posture"
)

// run is the state of one Run: the host files and the facts collected so far.
type run struct {
	fs *hostfs.FS

	mu    sync.Mutex // guards cells (the map, not the cells' contents)
	cells map[string]*cell
}

// cell memoises one fact: loaded once, by whichever worker asks first.
type cell struct {
	once sync.Once
	v    any
	err  error
}

func newRun(fsys *hostfs.FS) *run {
	return &run{fs: fsys, cells: map[string]*cell{}}
}

// fact returns the fact named key, loading it with load the first time it is asked for in
// this run.
func fact[T any](r *run, key string, load func() (T, error)) (T, error) {
	r.mu.Lock()
	c, ok := r.cells[key]
	if !ok {
		c = &cell{}
		r.cells[key] = c
	}
	r.mu.Unlock()
	c.once.Do(func() { c.v, c.err = load() })
	v, _ := c.v.(T)
	return v, c.err
}

// evaluate runs one control's check; it never panics.
func (r *run) evaluate(c *catalog.Control) (out Outcome) {
	out.ControlID = c.ID
	defer func() {
		if p := recover(); p != nil {
			out.Results = []Result{{ControlID: c.ID, Resource: defaultResource(&c.Check), Status: posture.Error, Reason: fmt.Sprintf("internal error while evaluating the check: %v", p)}}
		}
	}()
	res := r.check(&c.Check)
	for i := range res {
		res[i].ControlID = c.ID
		if res[i].Resource == "" {
			res[i].Resource = HostResource
		}
	}
	sort.SliceStable(res, func(i, j int) bool { return res[i].Resource < res[j].Resource })
	out.Results = res
	return out
}

func (r *run) check(ch *catalog.Check) []Result {
	if err := ch.Validate(); err != nil {
		return []Result{errorResult(defaultResource(ch), fmt.Sprintf("the check is not valid: %v", err))}
	}
	if res, done := r.applicable(ch); done {
		return []Result{res}
	}
	switch {
	case ch.File != nil:
		return r.checkFiles(ch.File)
	case ch.FileContent != nil:
		return []Result{r.checkFileContent(ch.FileContent)}
	case ch.SSHD != nil:
		return []Result{r.checkSSHD(ch.SSHD)}
	case ch.Sysctl != nil:
		return r.checkSysctl(ch.Sysctl)
	case ch.Package != nil:
		return r.checkPackages(ch.Package)
	case ch.SystemdUnit != nil:
		return r.checkUnits(ch.SystemdUnit)
	case ch.Accounts != nil:
		return r.checkAccounts(ch.Accounts)
	case ch.LoginDefs != nil:
		return []Result{r.checkLoginDefs(ch.LoginDefs)}
	case ch.Manual != nil:
		return []Result{r.checkManual(ch.Manual)}
	case ch.PAM != nil:
		return r.checkPAM(ch.PAM)
	case ch.Sudoers != nil:
		return r.checkSudoers(ch.Sudoers)
	case ch.AuditRules != nil:
		return r.checkAuditRules(ch.AuditRules)
	case ch.Config != nil:
		return []Result{r.checkConfig(ch.Config)}
	case ch.ShellProfile != nil:
		return []Result{r.checkShellProfile(ch.ShellProfile)}
	case ch.KernelModule != nil:
		return r.checkKernelModules(ch.KernelModule)
	case ch.Mount != nil:
		return []Result{r.checkMount(ch.Mount)}
	case ch.Grub != nil:
		return []Result{r.checkGrub(ch.Grub)}
	case ch.FileWalk != nil:
		return r.checkFileWalk(ch.FileWalk)
	}
	if ch.CEL != nil {
		return []Result{r.checkCEL(ch.CEL)}
	}
	return []Result{errorResult(HostResource, "the check has no primitive this engine knows")}
}

// defaultResource is the resource a check is about when it yields one result.
func defaultResource(ch *catalog.Check) string {
	if ch.CEL != nil && ch.CEL.Resource != "" {
		return ch.CEL.Resource
	}
	switch {
	case ch.File != nil:
		return ch.File.Path
	case ch.FileContent != nil:
		return ch.FileContent.Path
	case ch.SSHD != nil:
		return sshdConfigPath(ch.SSHD)
	case ch.Sysctl != nil && len(ch.Sysctl.Keys) == 1:
		return ch.Sysctl.Keys[0]
	case ch.Package != nil && len(ch.Package.Names) == 1:
		return ch.Package.Names[0]
	case ch.SystemdUnit != nil && len(ch.SystemdUnit.Units) == 1:
		return ch.SystemdUnit.Units[0]
	case ch.LoginDefs != nil:
		return loginDefsPath
	case ch.PAM != nil && len(ch.PAM.Services) == 1:
		return pamServicePath(ch.PAM.Services[0])
	case ch.Sudoers != nil:
		return sudoersMain(ch.Sudoers)
	case ch.AuditRules != nil && len(ch.AuditRules.Rules) == 1:
		return ch.AuditRules.Rules[0]
	case ch.Config != nil:
		return ch.Config.Path
	case ch.ShellProfile != nil && len(ch.ShellProfile.Files) > 0:
		return ch.ShellProfile.Files[0]
	case ch.ShellProfile != nil:
		return defaultShellFiles[0]
	case ch.KernelModule != nil && len(ch.KernelModule.Names) == 1:
		return ch.KernelModule.Names[0]
	case ch.Mount != nil:
		return ch.Mount.Path
	case ch.Grub != nil:
		return grubResource(ch.Grub)
	case ch.FileWalk != nil:
		return strings.Join(walkRoots(ch.FileWalk), ",")
	}
	return HostResource
}

// applicable decides the check-level conditions; done is true with a skip or error result
// when the control does not apply or the conditions cannot be decided.
func (r *run) applicable(ch *catalog.Check) (Result, bool) {
	res := defaultResource(ch)
	if len(ch.OnlyIfOS) > 0 {
		osr, src, err := r.osRelease()
		switch {
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return errorResult(res, readFailure(src, err)), true
		case err == nil:
			match := false
			for _, id := range ch.OnlyIfOS {
				match = match || facts.OSMatches(osr, id)
			}
			if !match {
				return Result{Resource: res, Status: posture.Skip,
					Reason:   fmt.Sprintf("not applicable: the operating system is %s, the control applies to %s", osName(osr), strings.Join(ch.OnlyIfOS, ", ")),
					Evidence: []Evidence{{Source: src, Key: "ID", Actual: osr["ID"], Expected: strings.Join(ch.OnlyIfOS, " or ")}}}, true
			}
		}
	}
	if len(ch.OnlyIfPackages) > 0 {
		db, err := r.packages()
		switch {
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return errorResult(res, readFailure(failedPath(err, db.Source), err)), true
		case err == nil:
			for _, name := range ch.OnlyIfPackages {
				if p, ok := db.Pkgs[name]; ok && p.Installed {
					return Result{}, false
				}
			}
			return Result{Resource: res, Status: posture.Skip,
				Reason:   fmt.Sprintf("not applicable: %s is not installed", orList(ch.OnlyIfPackages)),
				Evidence: []Evidence{{Source: db.Source, Key: "package", Actual: "not installed", Expected: "installed: " + strings.Join(ch.OnlyIfPackages, " or ")}}}, true
		}
	}
	return Result{}, false
}

func osName(osr map[string]string) string {
	if n := osr["PRETTY_NAME"]; n != "" {
		return n
	}
	if id := osr["ID"]; id != "" {
		return id
	}
	return "unknown"
}

func orList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return "none of " + strings.Join(items, ", ")
}

func errorResult(resource, reason string) Result {
	return Result{Resource: resource, Status: posture.Error, Reason: reason}
}

// readFailure words an error reading path: "cannot read /etc/shadow: permission denied".
func readFailure(path string, err error) string {
	return fmt.Sprintf("cannot read %s: %s", path, osReason(err))
}

// osReason is the operating system's word for err, without the path the error carries.
func osReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

// failedPath returns the path an error is about when it names one, else def.
func failedPath(err error, def string) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path != "" {
		return pe.Path
	}
	return def
}
