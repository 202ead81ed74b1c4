package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/posture"
)

const errNotDir = syscall.ENOTDIR

// unitDirs are systemd's unit directories, most authoritative first.
var unitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// wantsDirs lists every .wants and .requires directory of the unit directories, once per run.
func (r *run) wantsDirs() ([]string, error) {
	return fact(r, "systemd:wants", func() ([]string, error) {
		var out []string
		seen := map[string]bool{} // resolved directories, so /lib -> /usr/lib counts once
		for _, dir := range unitDirs {
			real, err := r.fs.Resolve(dir)
			if err == nil {
				if seen[real] {
					continue
				}
				seen[real] = true
			}
			ents, err := r.fs.ReadDir(dir)
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
				continue
			}
			if err != nil {
				return nil, err
			}
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".wants") || strings.HasSuffix(e.Name(), ".requires") {
					out = append(out, path.Join(dir, e.Name()))
				}
			}
		}
		return out, nil
	})
}

// unitState is what the unit directories say about one unit.
type unitState struct {
	file     string   // unit file found first in unitDirs order ("" when not installed)
	masked   string   // the /dev/null link that masks it
	alias    string   // an alias link in /etc or /run naming another unit file
	wantedBy []string // .wants/.requires links pulling it in
}

func (r *run) unit(name string) (unitState, error) {
	var st unitState
	for _, dir := range unitDirs {
		p := path.Join(dir, name)
		fi, err := r.fs.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) {
			continue
		}
		if err != nil {
			return st, err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := r.fs.Readlink(p)
			if err != nil {
				return st, err
			}
			if target == "/dev/null" {
				if st.file == "" && (dir == "/etc/systemd/system" || dir == "/run/systemd/system") {
					st.masked = p
					st.file = p
				}
				continue
			}
			if dir == "/etc/systemd/system" || dir == "/run/systemd/system" {
				if path.Base(target) != name && st.alias == "" {
					st.alias = p
				}
			}
			if _, err := r.fs.Stat(p); err != nil {
				continue // dangling link: not a unit file
			}
		}
		if st.file == "" {
			st.file = p
		}
	}
	dirs, err := r.wantsDirs()
	if err != nil {
		return st, err
	}
	for _, d := range dirs {
		p := path.Join(d, name)
		if _, err := r.fs.Lstat(p); err == nil {
			st.wantedBy = append(st.wantedBy, p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return st, err
		}
	}
	return st, nil
}

func (r *run) checkUnits(c *catalog.SystemdUnitCheck) []Result {
	out := make([]Result, 0, len(c.Units))
	for _, name := range c.Units {
		out = append(out, r.checkUnit(name, c.State))
	}
	return out
}

func (r *run) checkUnit(name, want string) Result {
	st, err := r.unit(name)
	if err != nil {
		return errorResult(name, readFailure(failedPath(err, "the systemd unit directories"), err))
	}
	res := Result{Resource: name}
	ev := Evidence{Key: "state", Expected: want}
	var state, detail string
	switch {
	case st.masked != "":
		state, detail = "masked", fmt.Sprintf("%s -> /dev/null", st.masked)
		ev.Source = st.masked
	case st.file == "":
		state, detail = "not installed", "no unit file in "+strings.Join(unitDirs, ", ")
	case len(st.wantedBy) > 0:
		state, detail = "enabled", "wanted by "+strings.Join(st.wantedBy, ", ")
		ev.Source = st.wantedBy[0]
	case st.alias != "":
		state, detail = "enabled", "alias "+st.alias
		ev.Source = st.alias
	default:
		state, detail = "disabled", "unit file "+st.file+", no .wants or .requires link"
		ev.Source = st.file
	}
	ev.Actual = state
	res.Evidence = []Evidence{ev}
	ok := false
	switch want {
	case "enabled":
		ok = state == "enabled"
	case "disabled":
		ok = state != "enabled"
	case "masked":
		ok = state == "masked"
	}
	if ok {
		res.Status = posture.Pass
		res.Reason = fmt.Sprintf("%s is %s (%s)", name, state, detail)
	} else {
		res.Status = posture.Fail
		res.Reason = fmt.Sprintf("%s is %s (%s); expected %s", name, state, detail, want)
	}
	return res
}
