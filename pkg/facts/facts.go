// Package facts holds the parsers of host configuration files: sshd_config, sysctl.d, the
// dpkg status database, passwd/shadow/group, login.defs, os-release and generic key-value
// files. Every parser is a pure function of the file's bytes, separate from reading them, so
// it can be fuzzed and tested on literal input; none of them fails on malformed input, they
// keep what they can understand.
package facts

import (
	"bytes"
	"strconv"
	"strings"
)

// lines calls fn for each line of data (without its line ending) with its 1-based number.
func lines(data []byte, fn func(n int, line string)) {
	n := 0
	for len(data) > 0 {
		n++
		i := bytes.IndexByte(data, '\n')
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line, data = data[:i], data[i+1:]
		}
		fn(n, strings.TrimSuffix(string(line), "\r"))
	}
}

// KV is one key-value line of a configuration file.
type KV struct {
	Key   string
	Value string
	Line  int
}

// ParseKeyValue parses a key-value file. sep is the separator between key and value ("" for
// any run of blanks); comment starts a comment, at the start of a line or after a blank
// (default "#"). Keys and values are trimmed; lines without a key are ignored. Duplicates are
// kept in file order.
func ParseKeyValue(data []byte, sep, comment string) []KV {
	if comment == "" {
		comment = "#"
	}
	var out []KV
	lines(data, func(n int, line string) {
		line = stripComment(line, comment)
		line = strings.TrimSpace(line)
		if line == "" {
			return
		}
		var k, v string
		if sep == "" {
			i := strings.IndexAny(line, " \t")
			if i < 0 {
				k = line
			} else {
				k, v = line[:i], strings.TrimSpace(line[i:])
			}
		} else {
			var ok bool
			k, v, ok = strings.Cut(line, sep)
			if !ok {
				return
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		}
		if k == "" {
			return
		}
		out = append(out, KV{Key: k, Value: v, Line: n})
	})
	return out
}

// stripComment removes a comment that starts the line (after blanks) or follows a blank.
func stripComment(line, comment string) string {
	t := strings.TrimLeft(line, " \t")
	if strings.HasPrefix(t, comment) {
		return ""
	}
	for i := 0; ; {
		j := strings.Index(line[i:], comment)
		if j < 0 {
			return line
		}
		j += i
		if j > 0 && (line[j-1] == ' ' || line[j-1] == '\t') {
			return line[:j]
		}
		i = j + len(comment)
	}
}

// Lookup returns the value of key in kvs: the first occurrence, or the last when lastWins.
// fold compares keys without regard to case.
func Lookup(kvs []KV, key string, fold, lastWins bool) (KV, bool) {
	var found KV
	ok := false
	for _, kv := range kvs {
		if kv.Key == key || (fold && strings.EqualFold(kv.Key, key)) {
			found, ok = kv, true
			if !lastWins {
				break
			}
		}
	}
	return found, ok
}

// ParseLoginDefs parses /etc/login.defs: "KEY value" lines, "#" comments. As in
// shadow-utils, a key given twice takes its last value (see Lookup with lastWins).
func ParseLoginDefs(data []byte) []KV {
	var out []KV
	for _, kv := range ParseKeyValue(data, "", "#") {
		// Values may be quoted.
		if len(kv.Value) >= 2 && kv.Value[0] == '"' && kv.Value[len(kv.Value)-1] == '"' {
			kv.Value = kv.Value[1 : len(kv.Value)-1]
		}
		out = append(out, kv)
	}
	return out
}

// ParseOSRelease parses os-release(5): KEY=value lines with shell-style quoting.
func ParseOSRelease(data []byte) map[string]string {
	out := map[string]string{}
	lines(data, func(_ int, line string) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			return
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\"'") {
			return
		}
		out[k] = unquoteShell(v)
	})
	return out
}

// unquoteShell undoes the quoting os-release allows: double quotes with backslash escapes,
// single quotes, or a bare word.
func unquoteShell(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

// OSMatches reports whether an os-release map names the distribution id, as its ID or in
// its ID_LIKE list.
func OSMatches(osr map[string]string, id string) bool {
	if strings.EqualFold(osr["ID"], id) {
		return true
	}
	for _, like := range strings.Fields(osr["ID_LIKE"]) {
		if strings.EqualFold(like, id) {
			return true
		}
	}
	return false
}

// parseID parses a numeric uid or gid; -1 when it is not one.
func parseID(s string) int64 {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return -1
	}
	return int64(n)
}
