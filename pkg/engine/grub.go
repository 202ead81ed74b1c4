package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/facts"
	"github.com/palisadehq/palisade/pkg/posture"
)

const procCmdlinePath = "/proc/cmdline"

// maxListed bounds how many offending lines one reason names.
const maxListed = 5

func (r *run) grubConfig(p string) (facts.GrubConfig, error) {
	return fact(r, "grub:"+p, func() (facts.GrubConfig, error) {
		data, err := r.readFile(p)
		if err != nil {
			return facts.GrubConfig{}, err
		}
		return facts.ParseGrubConfig(data), nil
	})
}

// grubPath returns the first candidate configuration that exists ("" when none does).
func (r *run) grubPath(c *catalog.GrubCheck) (string, error) {
	candidates := []string(c.Config)
	if len(candidates) == 0 {
		candidates = catalog.DefaultGrubConfigs()
	}
	for _, p := range candidates {
		_, err := r.stat(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotDir) {
			return p, err
		}
	}
	return "", nil
}

func grubResource(c *catalog.GrubCheck) string {
	if len(c.Config) > 0 {
		return c.Config[0]
	}
	return catalog.DefaultGrubConfigs()[0]
}

func (r *run) checkGrub(c *catalog.GrubCheck) Result {
	p, err := r.grubPath(c)
	if err != nil {
		return errorResult(p, fmt.Sprintf("cannot inspect %s: %s", p, osReason(err)))
	}
	if p == "" {
		candidates := []string(c.Config)
		if len(candidates) == 0 {
			candidates = catalog.DefaultGrubConfigs()
		}
		return Result{Resource: grubResource(c), Status: posture.Skip,
			Reason:   fmt.Sprintf("not applicable: no GRUB configuration (%s)", strings.Join(candidates, ", ")),
			Evidence: []Evidence{{Source: strings.Join(candidates, ", "), Key: "exists", Actual: "no"}}}
	}
	cfg, err := r.grubConfig(p)
	if err != nil {
		return errorResult(p, readFailure(p, err))
	}
	if c.Password {
		return grubPassword(p, cfg)
	}
	return r.grubKernelArgs(p, cfg, c.KernelArgs)
}

func grubPassword(p string, cfg facts.GrubConfig) Result {
	res := Result{Resource: p}
	var users []string
	var at int
	for _, s := range cfg.Superusers {
		users, at = s.Users, s.Line // the last assignment is the one in effect
	}
	if len(users) == 0 {
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("%s sets no superuser; expected set superusers=\"<name>\" and password_pbkdf2 <name> <hash>", p)
		res.Evidence = []Evidence{{Source: p, Key: "superusers", Actual: "not set", Expected: "a user name"}}
		return res
	}
	res.Evidence = append(res.Evidence, Evidence{Source: p, Line: at, Key: "superusers", Actual: strings.Join(users, " "), Expected: "a user name"})
	isSuper := map[string]bool{}
	for _, u := range users {
		isSuper[u] = true
	}
	var hashed, clear []facts.GrubPassword
	for _, pw := range cfg.Passwords {
		if !isSuper[pw.User] {
			continue
		}
		if pw.PBKDF2 {
			hashed = append(hashed, pw)
		} else {
			clear = append(clear, pw)
		}
	}
	for _, pw := range clear {
		res.Evidence = append(res.Evidence, Evidence{Source: p, Line: pw.Line, Key: "password " + pw.User, Actual: "clear text", Expected: "password_pbkdf2"})
	}
	for _, pw := range hashed {
		res.Evidence = append(res.Evidence, Evidence{Source: p, Line: pw.Line, Key: "password " + pw.User, Actual: "password_pbkdf2", Expected: "password_pbkdf2"})
	}
	switch {
	case len(clear) > 0:
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("the GRUB password of superuser %s is in clear text at %s:%d; expected a password_pbkdf2 hash (grub-mkpasswd-pbkdf2)", clear[0].User, p, clear[0].Line)
	case len(hashed) == 0:
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("%s sets superusers %s at line %d but no password_pbkdf2 for them; expected password_pbkdf2 <name> <hash>", p, strings.Join(users, ","), at)
	default:
		res.Status = posture.Pass
		res.Reason = fmt.Sprintf("GRUB superuser %s has a password_pbkdf2 hash at %s:%d", hashed[0].User, p, hashed[0].Line)
	}
	return res
}

func describeArg(a catalog.KernelArg) string {
	switch {
	case a.Expect == nil:
		return a.Name + " present"
	case a.Expect.Equals != "" && a.Expect.Describe() == a.Expect.Equals:
		return a.Name + "=" + a.Expect.Equals
	}
	return a.Name + " " + a.Expect.Describe()
}

// argProblem says what is wrong with params for a ("" when nothing is).
func argProblem(params []facts.KernelParam, a catalog.KernelArg) (actual, problem string) {
	kp, ok := facts.LookupKernelParam(params, a.Name)
	if !ok {
		return "absent", a.Name + " is absent"
	}
	actual = kp.Name
	if kp.HasValue {
		actual += "=" + kp.Value
	}
	if a.Expect == nil {
		return actual, ""
	}
	if sat, _ := a.Expect.Satisfied(kp.Value); !sat {
		return actual, fmt.Sprintf("%s; expected %s", actual, describeArg(a))
	}
	return actual, ""
}

// blsDir holds the Boot Loader Specification entries a blscfg configuration boots.
const blsDir = "/boot/loader/entries"

// bootLine is a kernel GRUB boots, with the file that defines it.
type bootLine struct {
	facts.GrubKernel
	Source string
}

// bootLines returns the kernels a configuration boots: its linux lines, plus the BLS entries
// when it runs blscfg (their $variables expanded from the grubenv next to grub.cfg).
func (r *run) bootLines(p string, cfg facts.GrubConfig) ([]bootLine, error) {
	var out []bootLine
	for _, k := range cfg.Kernels {
		out = append(out, bootLine{k, p})
	}
	if !cfg.BLS {
		return out, nil
	}
	entries, err := r.fs.Glob(blsDir + "/*.conf")
	if err != nil {
		return nil, err
	}
	env := map[string]string{}
	envPath := path.Join(path.Dir(p), "grubenv")
	if data, err := r.readFile(envPath); err == nil {
		env = facts.ParseGrubenv(data)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		data, err := r.readFile(e)
		if err != nil {
			return nil, err
		}
		b := facts.ParseBLSEntry(data)
		k := facts.GrubKernel{Image: b.Linux, Entry: b.Title, Line: b.OptionsLine}
		k.Args = facts.ParseKernelCmdline(facts.ExpandGrubVars(b.Options, env))
		out = append(out, bootLine{k, e})
	}
	return out, nil
}

func (r *run) grubKernelArgs(p string, cfg facts.GrubConfig, args []catalog.KernelArg) Result {
	res := Result{Resource: p}
	kernels, err := r.bootLines(p, cfg)
	if err != nil {
		return errorResult(p, readFailure(failedPath(err, blsDir), err))
	}
	expected := make([]string, 0, len(args))
	for _, a := range args {
		expected = append(expected, describeArg(a))
	}
	want := strings.Join(expected, ", ")
	if len(kernels) == 0 {
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("%s has no linux line to check; expected every kernel to boot with %s", p, want)
		res.Evidence = []Evidence{{Source: p, Key: "linux", Actual: "no kernel lines", Expected: want}}
		return res
	}
	var bad []string
	badLines := 0
	for _, k := range kernels {
		var problems, actuals []string
		for _, a := range args {
			actual, problem := argProblem(k.Args, a)
			actuals = append(actuals, actual)
			if problem != "" {
				problems = append(problems, problem)
			}
		}
		res.Evidence = append(res.Evidence, Evidence{Source: k.Source, Line: k.Line, Key: "linux " + k.Image, Actual: strings.Join(actuals, " "), Expected: want})
		if len(problems) > 0 {
			badLines++
			if len(bad) < maxListed {
				entry := ""
				if k.Entry != "" {
					entry = fmt.Sprintf(" (%s)", k.Entry)
				}
				where := fmt.Sprintf("line %d", k.Line)
				if k.Source != p {
					where = fmt.Sprintf("%s:%d", k.Source, k.Line)
				}
				bad = append(bad, fmt.Sprintf("%s%s: %s", where, entry, strings.Join(problems, ", ")))
			}
		}
	}
	// The running kernel's command line, when the root has one.
	live, err := r.readFile(procCmdlinePath)
	liveNote := ""
	switch {
	case err == nil:
		params := facts.ParseKernelCmdline(string(live))
		var problems, actuals []string
		for _, a := range args {
			actual, problem := argProblem(params, a)
			actuals = append(actuals, actual)
			if problem != "" {
				problems = append(problems, problem)
			}
		}
		res.Evidence = append(res.Evidence, Evidence{Source: procCmdlinePath, Key: "running kernel", Actual: strings.Join(actuals, " "), Expected: want})
		if len(problems) > 0 {
			bad = append(bad, fmt.Sprintf("the running kernel (%s): %s", procCmdlinePath, strings.Join(problems, ", ")))
			if badLines == 0 {
				liveNote = "; the configuration is right but the host has not been rebooted since"
			}
		} else {
			liveNote = "; the running kernel has them too"
		}
	case !errors.Is(err, fs.ErrNotExist):
		return errorResult(p, readFailure(procCmdlinePath, err))
	}
	if len(bad) > 0 {
		more := ""
		if badLines > maxListed {
			more = fmt.Sprintf(" and %d more lines", badLines-maxListed)
		}
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("kernel parameters in %s: %s%s%s; expected %s on every linux line", p, strings.Join(bad, "; "), more, liveNote, want)
		return res
	}
	res.Status = posture.Pass
	res.Reason = fmt.Sprintf("all %d linux lines of %s boot with %s%s", len(kernels), p, want, liveNote)
	if len(kernels) != len(cfg.Kernels) {
		res.Reason = fmt.Sprintf("all %d boot entries of %s (with %s) boot with %s%s", len(kernels), p, blsDir, want, liveNote)
	}
	return res
}
