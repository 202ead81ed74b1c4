package facts

import "strings"

// SysctlSetting is one assignment of a sysctl.d file.
type SysctlSetting struct {
	// Key is in dotted form; a key written with "/" separators is converted.
	Key   string
	Value string
	Line  int
	// IgnoreErrors is set by a leading "-" (a missing parameter is not an error).
	IgnoreErrors bool
	// Exclude is set by a "-key" line without a value: glob assignments do not apply to key.
	Exclude bool
}

// ParseSysctlConf parses a sysctl.d(5) file: "key = value" lines, "#" or ";" comment lines.
// Values have their runs of blanks collapsed to one space, as the kernel prints them.
func ParseSysctlConf(data []byte) []SysctlSetting {
	var out []SysctlSetting
	lines(data, func(n int, line string) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			return
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			if k := strings.TrimSpace(line); len(k) > 1 && k[0] == '-' && !strings.ContainsAny(k, " \t") {
				if key := NormalizeSysctlKey(k[1:]); key != "" {
					out = append(out, SysctlSetting{Key: key, Line: n, IgnoreErrors: true, Exclude: true})
				}
			}
			return
		}
		k = strings.TrimSpace(k)
		s := SysctlSetting{Line: n}
		if strings.HasPrefix(k, "-") {
			s.IgnoreErrors = true
			k = strings.TrimSpace(k[1:])
		}
		s.Key = NormalizeSysctlKey(k)
		if s.Key == "" {
			return
		}
		s.Value = NormalizeSysctlValue(v)
		out = append(out, s)
	})
	return out
}

// NormalizeSysctlKey converts a key to dotted form. As sysctl(8) does, when the first
// separator is "/" the roles of "/" and "." are swapped (so net/ipv4/conf/eth0.1/rp_filter
// names the interface "eth0.1").
func NormalizeSysctlKey(k string) string {
	k = strings.Trim(k, " \t")
	i := strings.IndexAny(k, "./")
	if i < 0 || k[i] == '.' {
		return k
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '/':
			return '.'
		case '.':
			return '/'
		}
		return r
	}, strings.Trim(k, "/"))
}

// NormalizeSysctlValue trims a value and collapses runs of blanks to one space.
func NormalizeSysctlValue(v string) string {
	return strings.Join(strings.Fields(v), " ")
}
