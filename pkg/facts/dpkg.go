package facts

import "strings"

// DpkgPackage is one stanza of the dpkg status database.
type DpkgPackage struct {
	Name         string
	Architecture string
	Version      string
	// Status is the three-word status field ("install ok installed").
	Status string
	Line   int
}

// Installed reports whether the package is installed (its status's third word is
// "installed"); half-installed, config-files and not-installed states are not.
func (p DpkgPackage) Installed() bool {
	f := strings.Fields(p.Status)
	return len(f) == 3 && f[2] == "installed"
}

// ParseDpkgStatus parses /var/lib/dpkg/status: stanzas separated by blank lines, "Field:
// value" lines, continuation lines starting with a blank. Stanzas without a Package field
// are skipped.
func ParseDpkgStatus(data []byte) []DpkgPackage {
	var out []DpkgPackage
	var cur DpkgPackage
	flush := func() {
		if cur.Name != "" {
			out = append(out, cur)
		}
		cur = DpkgPackage{}
	}
	lines(data, func(n int, line string) {
		if strings.TrimSpace(line) == "" {
			flush()
			return
		}
		if line[0] == ' ' || line[0] == '\t' {
			return // continuation of a multi-line field
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "package":
			cur.Name, cur.Line = v, n
		case "status":
			cur.Status = v
		case "version":
			cur.Version = v
		case "architecture":
			cur.Architecture = v
		}
	})
	flush()
	return out
}
