package facts

import (
	"path"
	"strings"
)

// PAMLine is one rule of a PAM service file (pam.d(5)).
type PAMLine struct {
	// Type is auth, account, password or session, lower-cased; "@include" for a Debian
	// "@include file" line.
	Type string
	// Optional is set by a leading "-" on the type: a missing module is not an error.
	Optional bool
	// Control is the control field as written: "required", "[success=1 default=ignore]",
	// "include", "substack"...
	Control string
	// Module is the module path as written ("pam_unix.so", "/lib/security/pam_x.so") or,
	// for include, substack and @include, the file named.
	Module string
	Args   []string
	// Line is the 1-based line the rule starts on.
	Line int
}

// ModuleName returns the module's base name without ".so" ("pam_unix").
func (l PAMLine) ModuleName() string {
	return strings.TrimSuffix(path.Base(l.Module), ".so")
}

// Includes reports whether the line pulls in another file, and the file.
func (l PAMLine) Includes() (string, bool) {
	if l.Type == "@include" {
		return l.Module, true
	}
	switch strings.ToLower(l.Control) {
	case "include", "substack":
		return l.Module, true
	}
	return "", false
}

// Arg returns the value of the last "name=value" argument called name.
func (l PAMLine) Arg(name string) (string, bool) {
	v, ok := "", false
	for _, a := range l.Args {
		if k, val, has := strings.Cut(a, "="); has && k == name {
			v, ok = val, true
		}
	}
	return v, ok
}

// HasArg reports whether an argument is name, alone or as "name=value".
func (l PAMLine) HasArg(name string) bool {
	for _, a := range l.Args {
		if k, _, _ := strings.Cut(a, "="); k == name {
			return true
		}
	}
	return false
}

// ParsePAM parses one PAM service file: "#" comments to the end of the line, "\" at the end
// of a line continues it, "[...]" groups a control value or an argument holding blanks
// ("\]" escapes a bracket inside). Lines with fewer fields than a rule needs are skipped.
func ParsePAM(data []byte) []PAMLine {
	var out []PAMLine
	var pending strings.Builder
	start := 0
	flush := func() {
		text := pending.String()
		pending.Reset()
		f := pamFields(text)
		if len(f) == 0 {
			return
		}
		if f[0] == "@include" {
			if len(f) >= 2 {
				out = append(out, PAMLine{Type: "@include", Module: f[1], Line: start})
			}
			return
		}
		if len(f) < 3 {
			return
		}
		l := PAMLine{Type: strings.ToLower(f[0]), Control: f[1], Module: f[2], Args: f[3:], Line: start}
		if strings.HasPrefix(l.Type, "-") {
			l.Optional, l.Type = true, l.Type[1:]
		}
		if len(l.Args) == 0 {
			l.Args = nil
		}
		out = append(out, l)
	}
	lines(data, func(n int, line string) {
		if pending.Len() == 0 {
			start = n
		}
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if strings.HasSuffix(line, "\\") {
			pending.WriteString(strings.TrimSuffix(line, "\\"))
			pending.WriteByte(' ')
			return
		}
		pending.WriteString(line)
		flush()
	})
	if pending.Len() > 0 {
		flush()
	}
	return out
}

// pamFields splits a rule into fields: blanks separate them, "[...]" keeps blanks inside.
func pamFields(s string) []string {
	var out []string
	var cur strings.Builder
	inBracket, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inBracket && c == '\\' && i+1 < len(s) && s[i+1] == ']':
			cur.WriteByte(']')
			i++
		case inBracket && c == ']':
			inBracket = false
			cur.WriteByte(c)
		case !inBracket && c == '[' && !have:
			inBracket, have = true, true
			cur.WriteByte(c)
		case !inBracket && (c == ' ' || c == '\t'):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// ConfSetting is one setting of a configuration file.
type ConfSetting struct {
	// Section is the "[Section]" the setting sits in (systemd format only).
	Section string
	Key     string
	Value   string
	// Bare is set for a key written without a value (pwquality's enforce_for_root).
	Bare bool
	Line int
}

// Configuration file formats understood by ParseConf.
const (
	// ConfEquals is "key = value" with "#" comments (pwquality.conf, faillock.conf,
	// auditd.conf, /etc/default/useradd); a key alone is a bare setting.
	ConfEquals = "equals"
	// ConfSpace is "key value" with "#" comments (rsyslog's legacy directives).
	ConfSpace = "space"
	// ConfSystemd is systemd's INI format: "[Section]" headers, "key=value", "#" and ";"
	// comment lines, "\" continuing a line.
	ConfSystemd = "systemd"
)

// ParseConf parses a configuration file in one of the formats above. An unknown format is
// read as ConfEquals. Values are trimmed; a value wrapped in double quotes in the equals
// format is unquoted.
func ParseConf(data []byte, format string) []ConfSetting {
	var out []ConfSetting
	section := ""
	var pending strings.Builder
	start := 0
	lines(data, func(n int, line string) {
		if format == ConfSystemd {
			if pending.Len() == 0 {
				t := strings.TrimSpace(line)
				if t == "" || t[0] == '#' || t[0] == ';' {
					return
				}
				start = n
			}
			if strings.HasSuffix(line, "\\") {
				pending.WriteString(strings.TrimSuffix(line, "\\"))
				pending.WriteByte(' ')
				return
			}
			pending.WriteString(line)
			t := strings.TrimSpace(pending.String())
			pending.Reset()
			if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
				section = strings.TrimSpace(t[1 : len(t)-1])
				return
			}
			k, v, ok := strings.Cut(t, "=")
			if k = strings.TrimSpace(k); ok && k != "" {
				out = append(out, ConfSetting{Section: section, Key: k, Value: strings.TrimSpace(v), Line: start})
			}
			return
		}
		t := strings.TrimSpace(stripComment(line, "#"))
		if t == "" {
			return
		}
		var k, v string
		bare := false
		if format == ConfSpace {
			i := strings.IndexAny(t, " \t")
			if i < 0 {
				k, bare = t, true
			} else {
				k, v = t[:i], strings.TrimSpace(t[i:])
			}
		} else {
			var ok bool
			k, v, ok = strings.Cut(t, "=")
			k, v, bare = strings.TrimSpace(k), strings.TrimSpace(v), !ok
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
		}
		if k == "" {
			return
		}
		out = append(out, ConfSetting{Key: k, Value: v, Bare: bare, Line: n})
	})
	return out
}
