package facts

import "strings"

// ShellSetting is a shell variable assignment or umask command found in a shell start-up
// file (/etc/profile, /etc/profile.d/*.sh, /etc/bash.bashrc).
type ShellSetting struct {
	// Name is the variable name, or "umask" for the umask command.
	Name string
	// Value is the assigned value ("" for "readonly NAME" or "export NAME" alone).
	Value string
	// Assigned is set when the statement gives the variable a value.
	Assigned bool
	// Readonly and Export say whether the statement marks the variable read-only or exported.
	Readonly, Export bool
	Line             int
}

// ParseShellSettings finds, in a shell script, the assignments of variables ("NAME=v",
// "readonly NAME=v", "export NAME", "declare -rx NAME=v", "typeset -r NAME") and umask
// commands. Statements separated by ";" or "&&" on one line are seen separately;
// conditions are not evaluated. Comments ("#" at the start of a word) are skipped.
func ParseShellSettings(data []byte) []ShellSetting {
	var out []ShellSetting
	lines(data, func(n int, line string) {
		for _, stmt := range splitShellStatements(line) {
			out = append(out, parseShellStatement(stmt, n)...)
		}
	})
	return out
}

// splitShellStatements cuts a line into statements at ";", "&&", "||", "{", "}" outside
// quotes, dropping a comment.
func splitShellStatements(line string) []string {
	var out []string
	var cur strings.Builder
	var quote byte
	push := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
			cur.WriteByte(c)
		case c == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t' || line[i-1] == ';'):
			push()
			return out
		case c == ';' || c == '{' || c == '}' || c == '(' || c == ')':
			push()
		case (c == '&' || c == '|') && i+1 < len(line) && line[i+1] == c:
			push()
			i++
		default:
			cur.WriteByte(c)
		}
	}
	push()
	return out
}

func unquoteWord(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

func isShellName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func parseShellStatement(stmt string, line int) []ShellSetting {
	words := strings.Fields(stmt)
	// Leading keywords of compound commands do not matter here.
	for len(words) > 0 {
		switch words[0] {
		case "then", "else", "do", "if", "elif", "!":
			words = words[1:]
			continue
		}
		break
	}
	if len(words) == 0 {
		return nil
	}
	if words[0] == "umask" {
		for _, w := range words[1:] {
			if !strings.HasPrefix(w, "-") {
				return []ShellSetting{{Name: "umask", Value: unquoteWord(w), Assigned: true, Line: line}}
			}
		}
		return nil
	}
	var ro, ex bool
	switch words[0] {
	case "readonly":
		ro, words = true, words[1:]
	case "export":
		ex, words = true, words[1:]
	case "declare", "typeset", "local":
		words = words[1:]
		for len(words) > 0 && strings.HasPrefix(words[0], "-") {
			ro = ro || strings.Contains(words[0], "r")
			ex = ex || strings.Contains(words[0], "x")
			words = words[1:]
		}
	default:
		// A plain assignment, possibly several: "A=1 B=2"; a command after assignments
		// only sets them for that command, so stop at the first word that is not one.
		var out []ShellSetting
		for _, w := range words {
			k, v, ok := strings.Cut(w, "=")
			if !ok || !isShellName(k) {
				return nil
			}
			out = append(out, ShellSetting{Name: k, Value: unquoteWord(v), Assigned: true, Line: line})
		}
		return out
	}
	var out []ShellSetting
	for _, w := range words {
		if strings.HasPrefix(w, "-") {
			continue
		}
		k, v, ok := strings.Cut(w, "=")
		if !isShellName(k) {
			continue
		}
		out = append(out, ShellSetting{Name: k, Value: unquoteWord(v), Assigned: ok, Readonly: ro, Export: ex, Line: line})
	}
	return out
}
