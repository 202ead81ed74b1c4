package facts

import (
	"regexp"
	"strings"
)

// Kinds of sudoers entries.
const (
	SudoersDefaults   = "defaults"
	SudoersInclude    = "include"
	SudoersIncludeDir = "includedir"
	SudoersAlias      = "alias"
	SudoersUserSpec   = "userspec"
)

// SudoersEntry is one logical line of a sudoers file (continuations joined).
type SudoersEntry struct {
	Kind string
	Line int
	// Text is the entry with comments removed and continuations joined.
	Text string
	// Scope is a Defaults line's binding as written (":alice", "@host", ">root", "!/bin/ls"),
	// "" for a global Defaults line.
	Scope string
	// Settings are a Defaults line's parameters, in order.
	Settings []SudoDefault
	// Path is the file or directory of an include or includedir line.
	Path string
	// Tags are the command tags of a user specification, upper-cased without the colon
	// (NOPASSWD, NOEXEC, ...), each once, in order of appearance.
	Tags []string
}

// SudoDefault is one parameter of a Defaults line.
type SudoDefault struct {
	Name string
	// Op is "" for a flag, "=", "+=" or "-=".
	Op    string
	Value string
	// Negated is set for "!name".
	Negated bool
}

var (
	sudoTagPattern   = regexp.MustCompile(`\b(NOPASSWD|PASSWD|NOEXEC|EXEC|SETENV|NOSETENV|LOG_INPUT|NOLOG_INPUT|LOG_OUTPUT|NOLOG_OUTPUT|MAIL|NOMAIL|FOLLOW|NOFOLLOW|INTERCEPT|NOINTERCEPT)\s*:`)
	sudoAliasPattern = regexp.MustCompile(`^(User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias|Cmd_Alias)\s`)
)

// ParseSudoers parses one sudoers file. "#" starts a comment unless it begins "#include",
// "#includedir" or a numeric uid ("#1000"); "\" at the end of a line continues it.
func ParseSudoers(data []byte) []SudoersEntry {
	var out []SudoersEntry
	var pending strings.Builder
	start := 0
	lines(data, func(n int, line string) {
		if pending.Len() == 0 {
			start = n
		}
		t := strings.TrimSpace(line)
		if pending.Len() == 0 {
			for _, kw := range []string{"#includedir", "@includedir", "#include", "@include"} {
				rest, ok := strings.CutPrefix(t, kw)
				if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
					continue
				}
				kind := SudoersInclude
				if strings.HasSuffix(kw, "dir") {
					kind = SudoersIncludeDir
				}
				p := strings.TrimSpace(rest)
				if len(p) >= 2 && p[0] == '"' && p[len(p)-1] == '"' {
					p = p[1 : len(p)-1]
				}
				if p != "" {
					out = append(out, SudoersEntry{Kind: kind, Line: n, Text: t, Path: p})
				}
				return
			}
		}
		line = sudoersStripComment(line)
		if strings.HasSuffix(line, "\\") {
			pending.WriteString(strings.TrimSuffix(line, "\\"))
			pending.WriteByte(' ')
			return
		}
		pending.WriteString(line)
		text := strings.TrimSpace(pending.String())
		pending.Reset()
		if text == "" {
			return
		}
		out = append(out, parseSudoersEntry(text, start))
	})
	return out
}

// sudoersStripComment removes a "#" comment, keeping "#123" uids (a "#" followed by a digit).
func sudoersStripComment(line string) string {
	inQuote := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case c == '#' && !inQuote:
			if i+1 < len(line) && line[i+1] >= '0' && line[i+1] <= '9' {
				continue
			}
			return line[:i]
		}
	}
	return line
}

func parseSudoersEntry(text string, line int) SudoersEntry {
	e := SudoersEntry{Kind: SudoersUserSpec, Line: line, Text: text}
	if rest, ok := strings.CutPrefix(text, "Defaults"); ok && (rest == "" || strings.ContainsRune(" \t:@>!", rune(rest[0]))) {
		e.Kind = SudoersDefaults
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			i := strings.IndexAny(rest, " \t")
			if i < 0 {
				i = len(rest)
			}
			e.Scope, rest = rest[:i], rest[i:]
		}
		for _, p := range splitSudoDefaults(rest) {
			e.Settings = append(e.Settings, parseSudoDefault(p))
		}
		return e
	}
	if sudoAliasPattern.MatchString(text) {
		e.Kind = SudoersAlias
		return e
	}
	seen := map[string]bool{}
	for _, m := range sudoTagPattern.FindAllStringSubmatch(text, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			e.Tags = append(e.Tags, m[1])
		}
	}
	return e
}

// splitSudoDefaults splits a Defaults parameter list on commas outside double quotes.
func splitSudoDefaults(s string) []string {
	var out []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
		case c == '"':
			inQuote = !inQuote
			cur.WriteByte(c)
		case c == ',' && !inQuote:
			if p := strings.TrimSpace(cur.String()); p != "" {
				out = append(out, p)
			}
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if p := strings.TrimSpace(cur.String()); p != "" {
		out = append(out, p)
	}
	return out
}

func parseSudoDefault(p string) SudoDefault {
	d := SudoDefault{}
	for strings.HasPrefix(p, "!") {
		d.Negated = !d.Negated
		p = strings.TrimSpace(p[1:])
	}
	i := strings.IndexAny(p, "+-=")
	if i < 0 {
		d.Name = strings.TrimSpace(p)
		return d
	}
	name, rest := strings.TrimSpace(p[:i]), p[i:]
	switch {
	case strings.HasPrefix(rest, "+="):
		d.Op, rest = "+=", rest[2:]
	case strings.HasPrefix(rest, "-="):
		d.Op, rest = "-=", rest[2:]
	case strings.HasPrefix(rest, "="):
		d.Op, rest = "=", rest[1:]
	default:
		// A "-" or "+" inside a name such as "env-keep" is not valid sudoers; keep it whole.
		d.Name = strings.TrimSpace(p)
		return d
	}
	d.Name = name
	v := strings.TrimSpace(rest)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	d.Value = strings.ReplaceAll(v, `\"`, `"`)
	return d
}
