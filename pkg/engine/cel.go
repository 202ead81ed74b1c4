package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/facts"
	"github.com/palisadehq/palisade/pkg/posture"
)

// Bounds of one CEL evaluation.
const (
	celTimeout      = 2 * time.Second
	celMaxContent   = 1 << 20 // bytes of a file's content exposed to an expression
	celMaxEvidence  = 50
	celMaxGlobPaths = 1000
)

// Where the APT sources live.
const (
	aptSourcesList = "/etc/apt/sources.list"
	aptSourcesDir  = "/etc/apt/sources.list.d"
)

// celRecorder collects the evidence of what an expression read.
type celRecorder struct {
	mu  sync.Mutex // guards ev and err
	ev  []Evidence
	err error // the first read failure that is not "does not exist"
}

func (c *celRecorder) add(e Evidence) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, old := range c.ev {
		if old == e {
			return
		}
	}
	if len(c.ev) < celMaxEvidence {
		c.ev = append(c.ev, e)
	}
}

func (c *celRecorder) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

func (r *run) checkCEL(c *catalog.CELCheck) Result {
	resource := c.Resource
	if resource == "" {
		resource = HostResource
	}
	prog, refs, err := c.Program()
	if err != nil {
		return errorResult(resource, fmt.Sprintf("the expression does not compile: %v", err))
	}
	var applies cel.Program
	if c.Applies != "" {
		var arefs map[string]bool
		applies, arefs, err = c.AppliesProgram()
		if err != nil {
			return errorResult(resource, fmt.Sprintf("the applies expression does not compile: %v", err))
		}
		merged := make(map[string]bool, len(refs)+len(arefs))
		for k := range refs {
			merged[k] = true
		}
		for k := range arefs {
			merged[k] = true
		}
		refs = merged
	}
	rec := &celRecorder{}
	act, skip := r.celActivation(rec, refs, resource)
	if skip != nil {
		return *skip
	}
	if applies != nil {
		ok, res := r.celEval(rec, applies, act, c.Applies, resource)
		if res != nil {
			return *res
		}
		if !ok {
			rec.mu.Lock()
			ev := rec.ev
			rec.mu.Unlock()
			return Result{Resource: resource, Status: posture.Skip, Reason: "not applicable: " + c.Applies + " is false", Evidence: ev}
		}
	}
	ok, res := r.celEval(rec, prog, act, c.Expr, resource)
	if res != nil {
		return *res
	}
	rec.mu.Lock()
	ev := rec.ev
	rec.mu.Unlock()
	out := Result{Resource: resource, Evidence: ev}
	if ok {
		out.Status, out.Reason = posture.Pass, "the expression holds: "+c.Expr
		return out
	}
	out.Status = posture.Fail
	out.Reason = "the expression is false: " + c.Expr
	if c.Message != "" {
		out.Reason = c.Message + " (" + out.Reason + ")"
	}
	return out
}

// celEval evaluates one program; res is non-nil (an error result) when it cannot.
func (r *run) celEval(rec *celRecorder, prog cel.Program, act cel.Activation, expr, resource string) (bool, *Result) {
	ctx, cancel := context.WithTimeout(context.Background(), celTimeout)
	defer cancel()
	out, _, evalErr := prog.ContextEval(ctx, act)
	rec.mu.Lock()
	ev, readErr := rec.ev, rec.err
	rec.mu.Unlock()
	if readErr != nil {
		return false, &Result{Resource: resource, Status: posture.Error, Reason: readFailure(failedPath(readErr, "a file"), readErr), Evidence: ev}
	}
	if evalErr != nil {
		return false, &Result{Resource: resource, Status: posture.Error, Reason: fmt.Sprintf("cannot evaluate %s: %v", expr, evalErr), Evidence: ev}
	}
	ok, isBool := out.Value().(bool)
	if !isBool {
		return false, &Result{Resource: resource, Status: posture.Error, Reason: fmt.Sprintf("%s yields %v, not a bool", expr, out.Value()), Evidence: ev}
	}
	return ok, nil
}

// celActivation binds the facts the expressions refer to; skip is non-nil when a fact they
// need does not exist on this root (or cannot be read).
func (r *run) celActivation(rec *celRecorder, refs map[string]bool, resource string) (cel.Activation, *Result) {
	vars := map[string]any{}
	var db packageDB
	if refs[catalog.CELVarPackages] || refs[catalog.CELFuncInstalled] {
		var err error
		db, err = r.packages()
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, &Result{Resource: resource, Status: posture.Skip,
				Reason:   "not applicable: the expression reads the installed packages and the root has no package database (neither dpkg nor rpm)",
				Evidence: []Evidence{{Source: dpkgStatusPath, Key: "exists", Actual: "no"}, {Source: rpmDBPaths[0], Key: "exists", Actual: "no"}}}
		case err != nil:
			res := errorResult(resource, readFailure(failedPath(err, db.Source), err))
			return nil, &res
		}
	}
	if refs[catalog.CELVarPackages] {
		m := make(map[string]string, len(db.Pkgs))
		for name, p := range db.Pkgs {
			if p.Installed {
				m[name] = p.Version
			}
		}
		vars[catalog.CELVarPackages] = m
		rec.add(Evidence{Source: db.Source, Key: "packages", Actual: fmt.Sprintf("%d installed (%s)", len(m), db.Kind)})
	}
	if refs[catalog.CELVarOS] {
		osr, src, err := r.osRelease()
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			res := errorResult(resource, readFailure(src, err))
			return nil, &res
		}
		if osr == nil {
			osr = map[string]string{}
		}
		vars[catalog.CELVarOS] = osr
		rec.add(Evidence{Source: src, Key: "ID", Actual: osr["ID"]})
	}
	if refs[catalog.CELVarAptSources] {
		srcs, err := r.aptSources()
		if err != nil {
			res := errorResult(resource, readFailure(failedPath(err, aptSourcesList), err))
			return nil, &res
		}
		list := make([]map[string]any, 0, len(srcs))
		for _, s := range srcs {
			opts := make(map[string]string, len(s.Options))
			for k, v := range s.Options {
				opts[k] = v
			}
			list = append(list, map[string]any{"file": s.File, "line": int64(s.Line), "type": s.Type,
				"uris": s.URIs, "suites": s.Suites, "components": s.Components, "options": opts})
		}
		vars[catalog.CELVarAptSources] = list
		rec.add(Evidence{Source: aptSourcesList, Key: "apt sources", Actual: fmt.Sprintf("%d entries", len(srcs))})
		for _, s := range srcs {
			if len(s.Options) == 0 {
				continue
			}
			opts := make([]string, 0, len(s.Options))
			for k, v := range s.Options {
				opts = append(opts, k+"="+v)
			}
			sort.Strings(opts)
			rec.add(Evidence{Source: s.File, Line: s.Line, Key: s.Type + " " + strings.Join(s.URIs, " "), Actual: strings.Join(opts, " ")})
		}
	}
	funcs := map[string]cel.LateBoundFunction{
		catalog.CELFuncInstalled: func(_ string, args ...ref.Val) ref.Val {
			name := argString(args)
			p, ok := db.Pkgs[name]
			ok = ok && p.Installed
			actual := "not installed"
			if ok {
				actual = "installed " + p.Version
			}
			rec.add(Evidence{Source: db.Source, Line: p.Line, Key: name, Actual: actual})
			return types.Bool(ok)
		},
		catalog.CELFuncFile: func(_ string, args ...ref.Val) ref.Val { return r.celFile(rec, argString(args)) },
		catalog.CELFuncGlob: func(_ string, args ...ref.Val) ref.Val { return r.celGlob(rec, argString(args)) },
		catalog.CELFuncGrep: func(_ string, args ...ref.Val) ref.Val {
			if len(args) != 2 {
				return types.NewErr("grep: want a path and a regular expression")
			}
			p, _ := args[0].Value().(string)
			re, _ := args[1].Value().(string)
			return r.celGrep(rec, p, re)
		},
		catalog.CELFuncSysctl: func(_ string, args ...ref.Val) ref.Val { return r.celSysctl(rec, argString(args)) },
		catalog.CELFuncSSHD:   func(_ string, args ...ref.Val) ref.Val { return r.celSSHD(rec, argString(args)) },
		catalog.CELFuncUnit:   func(_ string, args ...ref.Val) ref.Val { return r.celUnit(rec, argString(args)) },
	}
	act, err := cel.FunctionVars(vars, funcs)
	if err != nil {
		res := errorResult(resource, fmt.Sprintf("cannot bind the expression's facts: %v", err))
		return nil, &res
	}
	return act, nil
}

func argString(args []ref.Val) string {
	if len(args) != 1 {
		return ""
	}
	s, _ := args[0].Value().(string)
	return s
}

// celFile describes one file for an expression.
func (r *run) celFile(rec *celRecorder, p string) ref.Val {
	out := map[string]any{"exists": false, "regular": false, "mode": int64(0), "uid": int64(-1), "gid": int64(-1), "content": ""}
	if !path.IsAbs(p) {
		return types.NewErr("file(%q): want an absolute path", p)
	}
	p = path.Clean(p)
	fi, err := r.stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir):
		rec.add(Evidence{Source: p, Key: "exists", Actual: "no"})
		return types.DefaultTypeAdapter.NativeToValue(out)
	case err != nil:
		rec.fail(err)
		return types.DefaultTypeAdapter.NativeToValue(out)
	}
	out["exists"] = true
	mode := uint32(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	out["mode"] = int64(mode)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		out["uid"], out["gid"] = int64(st.Uid), int64(st.Gid)
	}
	actual := fmt.Sprintf("exists, mode %04o", mode)
	if fi.Mode().IsRegular() {
		out["regular"] = true
		if fi.Size() <= celMaxContent {
			data, err := r.readFile(p)
			if err != nil {
				rec.fail(err)
			} else {
				out["content"] = string(data)
				actual += fmt.Sprintf(", %d bytes", len(data))
			}
		} else {
			actual += fmt.Sprintf(", %d bytes (content not read, larger than %d)", fi.Size(), celMaxContent)
		}
	}
	rec.add(Evidence{Source: p, Key: "file", Actual: actual})
	return types.DefaultTypeAdapter.NativeToValue(out)
}

func (r *run) celGlob(rec *celRecorder, pattern string) ref.Val {
	if !path.IsAbs(pattern) {
		return types.NewErr("glob(%q): want an absolute pattern", pattern)
	}
	matches, err := r.fs.Glob(path.Clean(pattern))
	if err != nil {
		return types.NewErr("glob(%q): %v", pattern, err)
	}
	if len(matches) > celMaxGlobPaths {
		return types.NewErr("glob(%q): %d paths, more than the limit of %d", pattern, len(matches), celMaxGlobPaths)
	}
	sort.Strings(matches)
	rec.add(Evidence{Source: pattern, Key: "glob", Actual: fmt.Sprintf("%d paths", len(matches))})
	return types.DefaultTypeAdapter.NativeToValue(matches)
}

// celMaxGrepLines bounds the matches grep returns.
const celMaxGrepLines = 1000

func (r *run) celGrep(rec *celRecorder, p, expr string) ref.Val {
	if !path.IsAbs(p) {
		return types.NewErr("grep(%q): want an absolute path", p)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return types.NewErr("grep: %v", err)
	}
	p = path.Clean(p)
	none := types.DefaultTypeAdapter.NativeToValue([]map[string]any{})
	fi, err := r.stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir):
		rec.add(Evidence{Source: p, Key: "exists", Actual: "no"})
		return none
	case err != nil:
		rec.fail(err)
		return none
	case !fi.Mode().IsRegular():
		rec.add(Evidence{Source: p, Key: "type", Actual: "not a regular file"})
		return none
	}
	data, err := r.readFile(p)
	if err != nil {
		rec.fail(err)
		return none
	}
	var out []map[string]any
	n := 0
	for line := range strings.SplitSeq(string(data), "\n") {
		n++
		line = strings.TrimSuffix(line, "\r")
		if !re.MatchString(line) {
			continue
		}
		if len(out) >= celMaxGrepLines {
			return types.NewErr("grep(%q): more than %d matching lines", p, celMaxGrepLines)
		}
		out = append(out, map[string]any{"line": int64(n), "text": line})
		rec.add(Evidence{Source: p, Line: n, Key: "line matching " + expr, Actual: line})
	}
	if len(out) == 0 {
		rec.add(Evidence{Source: p, Key: "line matching " + expr, Actual: "none"})
		out = []map[string]any{}
	}
	return types.DefaultTypeAdapter.NativeToValue(out)
}

func (r *run) celSysctl(rec *celRecorder, key string) ref.Val {
	if r.procSysExists() {
		p := procSysPathOf(key)
		data, err := r.readFile(p)
		if err == nil {
			v := facts.NormalizeSysctlValue(string(data))
			rec.add(Evidence{Source: p, Key: key, Actual: v})
			return types.String(v)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			rec.fail(err)
			return types.String("")
		}
	}
	cfg, err := r.sysctlConfig()
	if err != nil {
		rec.fail(err)
		return types.String("")
	}
	if v, ok := lookupSysctl(cfg, key); ok {
		rec.add(Evidence{Source: v.File, Line: v.Line, Key: key, Actual: v.Value})
		return types.String(v.Value)
	}
	rec.add(Evidence{Key: key, Actual: "not set"})
	return types.String("")
}

func (r *run) celSSHD(rec *celRecorder, keyword string) ref.Val {
	key := strings.ToLower(keyword)
	lines, err := r.sshdConfig(sshdDefaultPath)
	if errors.Is(err, fs.ErrNotExist) && failedPath(err, sshdDefaultPath) == sshdDefaultPath {
		rec.add(Evidence{Source: sshdDefaultPath, Key: "exists", Actual: "no"})
		return types.String("")
	}
	if err != nil {
		rec.fail(err)
		return types.String("")
	}
	for _, l := range lines {
		if l.Keyword == key && l.Match == "" {
			rec.add(Evidence{Source: l.File, Line: l.Line, Key: keyword, Actual: l.Value()})
			return types.String(l.Value())
		}
	}
	def, _ := facts.SSHDDefault(key)
	rec.add(Evidence{Source: sshdDefaultPath, Key: keyword, Actual: def + " (default)"})
	return types.String(def)
}

func (r *run) celUnit(rec *celRecorder, name string) ref.Val {
	st, err := r.unit(name)
	if err != nil {
		rec.fail(err)
		return types.String("")
	}
	state, src := "disabled", st.file
	switch {
	case st.masked != "":
		state, src = "masked", st.masked
	case st.file == "":
		state = "not-installed"
	case len(st.wantedBy) > 0:
		state, src = "enabled", st.wantedBy[0]
	case st.alias != "":
		state, src = "enabled", st.alias
	}
	rec.add(Evidence{Source: src, Key: name, Actual: state})
	return types.String(state)
}

// aptSource is an APT source entry with the file it is in.
type aptSource struct {
	facts.AptSource
	File string
}

// aptSources returns every APT source entry: /etc/apt/sources.list, then the *.list and
// *.sources files of sources.list.d in name order (APT ignores other names).
func (r *run) aptSources() ([]aptSource, error) {
	return fact(r, "apt-sources", func() ([]aptSource, error) {
		files := []string{aptSourcesList}
		ents, err := r.fs.ReadDir(aptSourcesDir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotDir) {
			return nil, err
		}
		var names []string
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".list") || strings.HasSuffix(e.Name(), ".sources") {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, path.Join(aptSourcesDir, n))
		}
		var out []aptSource
		for _, f := range files {
			data, err := r.readFile(f)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			parse := facts.ParseAptSourcesList
			if strings.HasSuffix(f, ".sources") {
				parse = facts.ParseAptSources822
			}
			for _, s := range parse(data) {
				out = append(out, aptSource{s, f})
			}
		}
		return out, nil
	})
}
