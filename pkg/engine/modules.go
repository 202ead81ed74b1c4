package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/facts"
	"github.com/palisadehq/palisade/pkg/posture"
)

const (
	procModulesPath = "/proc/modules"
	libModulesPath  = "/lib/modules"
	// maxModuleTreeEntries bounds the fallback walk of /lib/modules/<version>/kernel when a
	// version has no modules.dep.
	maxModuleTreeEntries = 200_000
)

// modprobeDirs returns kmod's configuration directories, most authoritative first: a file
// in an earlier directory hides a file of the same name in a later one.
func modprobeDirs() []string {
	return []string{"/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d", "/lib/modprobe.d"}
}

// modprobeLine is a modprobe.d directive with the file it came from.
type modprobeLine struct {
	facts.ModprobeDirective
	File string
}

// modprobeConfig returns the directives of every modprobe.d file in the order kmod reads
// them: file names sorted, a name in an earlier directory hiding the same name later.
func (r *run) modprobeConfig() ([]modprobeLine, error) {
	return fact(r, "modprobe.d", func() ([]modprobeLine, error) {
		chosen := map[string]string{}
		for _, dir := range modprobeDirs() {
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
		var out []modprobeLine
		for _, n := range names {
			data, err := r.readFile(chosen[n])
			if errors.Is(err, fs.ErrNotExist) {
				continue // a dangling link
			}
			if err != nil {
				return nil, err
			}
			for _, d := range facts.ParseModprobe(data) {
				out = append(out, modprobeLine{d, chosen[n]})
			}
		}
		return out, nil
	})
}

// loadedModules is /proc/modules: Exists is false when the root has none.
type loadedModules struct {
	Exists bool
	Lines  map[string]int // normalised name -> line
}

func (r *run) loadedModules() (loadedModules, error) {
	return fact(r, "proc-modules", func() (loadedModules, error) {
		data, err := r.readFile(procModulesPath)
		if errors.Is(err, fs.ErrNotExist) {
			return loadedModules{}, nil
		}
		if err != nil {
			return loadedModules{}, err
		}
		lm := loadedModules{Exists: true, Lines: map[string]int{}}
		for _, m := range facts.ParseProcModules(data) {
			lm.Lines[facts.NormalizeModuleName(m.Name)] = m.Line
		}
		return lm, nil
	})
}

// moduleInventory is what the kernels under /lib/modules ship: Known is false when the root
// has no readable /lib/modules, so availability cannot be decided.
type moduleInventory struct {
	Known     bool
	Versions  []string
	Available map[string]string // normalised name -> in-root path of one module file
	Builtin   map[string]string // normalised name -> "<version>/modules.builtin:<line>"
}

func (r *run) moduleInventory() (moduleInventory, error) {
	return fact(r, "lib-modules", func() (moduleInventory, error) {
		inv := moduleInventory{Available: map[string]string{}, Builtin: map[string]string{}}
		ents, err := r.fs.ReadDir(libModulesPath)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
			return inv, nil
		}
		if err != nil {
			return inv, err
		}
		for _, e := range ents {
			dir := path.Join(libModulesPath, e.Name())
			if fi, err := r.fs.Stat(dir); err != nil || !fi.IsDir() {
				continue
			}
			inv.Known = true
			inv.Versions = append(inv.Versions, e.Name())
			if err := r.scanModuleVersion(dir, &inv); err != nil {
				return inv, err
			}
			data, err := r.readFile(path.Join(dir, "modules.builtin"))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return inv, err
			}
			for _, m := range facts.ParseModulesList(data) {
				if _, ok := inv.Builtin[m.Name]; !ok {
					inv.Builtin[m.Name] = fmt.Sprintf("%s/modules.builtin:%d", dir, m.Line)
				}
			}
		}
		return inv, nil
	})
}

// scanModuleVersion records the modules one kernel version ships: from modules.dep when it
// exists, else by a bounded walk of its kernel/ tree.
func (r *run) scanModuleVersion(dir string, inv *moduleInventory) error {
	data, err := r.readFile(path.Join(dir, "modules.dep"))
	if err == nil {
		for _, m := range facts.ParseModulesList(data) {
			if _, ok := inv.Available[m.Name]; !ok {
				inv.Available[m.Name] = path.Join(dir, m.Path)
			}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	seen := 0
	stack := []string{path.Join(dir, "kernel")}
	for len(stack) > 0 && seen < maxModuleTreeEntries {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		ents, err := r.fs.ReadDir(d)
		if err != nil {
			continue // missing or unreadable: nothing shipped there that we can see
		}
		for i := len(ents) - 1; i >= 0; i-- {
			seen++
			e := ents[i]
			p := path.Join(d, e.Name())
			if e.IsDir() {
				stack = append(stack, p)
				continue
			}
			if name := facts.ModuleNameFromPath(e.Name()); name != "" {
				if _, ok := inv.Available[name]; !ok {
					inv.Available[name] = p
				}
			}
		}
	}
	return nil
}

// disablingCommands are the install commands that make loading a module fail or do nothing.
func disablingCommand(cmd string) bool {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true":
		return true
	}
	return false
}

func (r *run) checkKernelModules(c *catalog.KernelModuleCheck) []Result {
	conf, err := r.modprobeConfig()
	if err != nil {
		return []Result{errorResult(HostResource, readFailure(failedPath(err, "/etc/modprobe.d"), err))}
	}
	loaded, err := r.loadedModules()
	if err != nil {
		return []Result{errorResult(HostResource, readFailure(procModulesPath, err))}
	}
	inv, err := r.moduleInventory()
	if err != nil {
		return []Result{errorResult(HostResource, readFailure(failedPath(err, libModulesPath), err))}
	}
	out := make([]Result, 0, len(c.Names))
	for _, name := range c.Names {
		out = append(out, checkKernelModule(name, c.Blacklist, conf, loaded, inv))
	}
	return out
}

func checkKernelModule(name string, wantBlacklist bool, conf []modprobeLine, loaded loadedModules, inv moduleInventory) Result {
	norm := facts.NormalizeModuleName(name)
	res := Result{Resource: name}
	line, isLoaded := loaded.Lines[norm]
	builtin, isBuiltin := inv.Builtin[norm]
	avail, isAvail := inv.Available[norm]
	if inv.Known && !isAvail && !isBuiltin && !isLoaded {
		res.Status = posture.Skip
		res.Reason = fmt.Sprintf("not applicable: no installed kernel (%s) ships the %s module and it is not loaded", strings.Join(inv.Versions, ", "), name)
		res.Evidence = []Evidence{{Source: libModulesPath, Key: "available", Actual: "no", Expected: "a module file for " + name}}
		return res
	}
	var bad, good []string
	if isBuiltin {
		res.Evidence = append(res.Evidence, Evidence{Source: builtin, Key: "built-in", Actual: "yes", Expected: "no"})
		bad = append(bad, fmt.Sprintf("%s is built into the kernel (%s), so modprobe.d cannot keep it from being used", name, builtin))
	} else if isAvail {
		res.Evidence = append(res.Evidence, Evidence{Source: avail, Key: "available", Actual: "yes"})
	}

	var install, blacklist *modprobeLine
	for i := range conf {
		d := &conf[i]
		if facts.NormalizeModuleName(d.Module) != norm {
			continue
		}
		switch d.Command {
		case "install":
			if install == nil { // kmod uses the first install command it reads
				install = d
			}
		case "blacklist":
			if blacklist == nil {
				blacklist = d
			}
		}
	}
	const wantInstall = "install <module> /bin/false (or /bin/true)"
	switch {
	case install == nil:
		res.Evidence = append(res.Evidence, Evidence{Source: "/etc/modprobe.d", Key: "install " + name, Actual: "not set", Expected: "/bin/false"})
		bad = append(bad, fmt.Sprintf("no modprobe.d file sets install %s; expected %s", name, strings.ReplaceAll(wantInstall, "<module>", name)))
	case !disablingCommand(install.Args):
		res.Evidence = append(res.Evidence, Evidence{Source: install.File, Line: install.Line, Key: "install " + name, Actual: install.Args, Expected: "/bin/false"})
		bad = append(bad, fmt.Sprintf("install %s runs %q at %s:%d; expected /bin/false or /bin/true", name, install.Args, install.File, install.Line))
	default:
		res.Evidence = append(res.Evidence, Evidence{Source: install.File, Line: install.Line, Key: "install " + name, Actual: install.Args, Expected: "/bin/false"})
		good = append(good, fmt.Sprintf("install %s %s at %s:%d", name, install.Args, install.File, install.Line))
	}
	if wantBlacklist {
		if blacklist == nil {
			res.Evidence = append(res.Evidence, Evidence{Source: "/etc/modprobe.d", Key: "blacklist " + name, Actual: "not set", Expected: "set"})
			bad = append(bad, fmt.Sprintf("no modprobe.d file blacklists %s; expected blacklist %s", name, name))
		} else {
			res.Evidence = append(res.Evidence, Evidence{Source: blacklist.File, Line: blacklist.Line, Key: "blacklist " + name, Actual: "set", Expected: "set"})
			good = append(good, fmt.Sprintf("blacklisted at %s:%d", blacklist.File, blacklist.Line))
		}
	}
	switch {
	case isLoaded:
		res.Evidence = append(res.Evidence, Evidence{Source: procModulesPath, Line: line, Key: "loaded", Actual: "yes", Expected: "no"})
		bad = append(bad, fmt.Sprintf("%s is loaded (%s:%d); expected it not to be loaded (rmmod %s)", name, procModulesPath, line, norm))
	case loaded.Exists:
		res.Evidence = append(res.Evidence, Evidence{Source: procModulesPath, Key: "loaded", Actual: "no", Expected: "no"})
		good = append(good, "not loaded")
	}
	if len(bad) > 0 {
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("kernel module %s: %s", name, strings.Join(bad, "; "))
		return res
	}
	res.Status = posture.Pass
	res.Reason = fmt.Sprintf("kernel module %s is disabled: %s", name, strings.Join(good, "; "))
	return res
}
