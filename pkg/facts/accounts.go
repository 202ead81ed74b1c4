package facts

import "strings"

// PasswdEntry is one line of /etc/passwd.
type PasswdEntry struct {
	Name     string
	Password string // "x" when the hash lives in shadow
	UID, GID int64  // -1 when not a number
	GECOS    string
	Home     string
	Shell    string
	Line     int
}

// ParsePasswd parses /etc/passwd. Lines with fewer than 4 fields, NIS "+"/"-" entries and
// comments are skipped.
func ParsePasswd(data []byte) []PasswdEntry {
	var out []PasswdEntry
	lines(data, func(n int, line string) {
		if skipAccountLine(line) {
			return
		}
		f := strings.Split(line, ":")
		if len(f) < 4 {
			return
		}
		for len(f) < 7 {
			f = append(f, "")
		}
		out = append(out, PasswdEntry{Name: f[0], Password: f[1], UID: parseID(f[2]), GID: parseID(f[3]), GECOS: f[4], Home: f[5], Shell: f[6], Line: n})
	})
	return out
}

// ShadowEntry is one line of /etc/shadow. Ageing fields are kept as written ("" when empty).
type ShadowEntry struct {
	Name       string
	Hash       string
	LastChange string
	MinDays    string
	MaxDays    string
	WarnDays   string
	Line       int
}

// ParseShadow parses /etc/shadow. Lines with fewer than 2 fields are skipped.
func ParseShadow(data []byte) []ShadowEntry {
	var out []ShadowEntry
	lines(data, func(n int, line string) {
		if skipAccountLine(line) {
			return
		}
		f := strings.Split(line, ":")
		if len(f) < 2 {
			return
		}
		for len(f) < 6 {
			f = append(f, "")
		}
		out = append(out, ShadowEntry{Name: f[0], Hash: f[1], LastChange: f[2], MinDays: f[3], MaxDays: f[4], WarnDays: f[5], Line: n})
	})
	return out
}

// GroupEntry is one line of /etc/group.
type GroupEntry struct {
	Name    string
	GID     int64 // -1 when not a number
	Members []string
	Line    int
}

// ParseGroup parses /etc/group. Lines with fewer than 3 fields are skipped.
func ParseGroup(data []byte) []GroupEntry {
	var out []GroupEntry
	lines(data, func(n int, line string) {
		if skipAccountLine(line) {
			return
		}
		f := strings.Split(line, ":")
		if len(f) < 3 {
			return
		}
		g := GroupEntry{Name: f[0], GID: parseID(f[2]), Line: n}
		if len(f) > 3 && f[3] != "" {
			g.Members = strings.Split(f[3], ",")
		}
		out = append(out, g)
	})
	return out
}

func skipAccountLine(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || t[0] == '#' || t[0] == '+' || t[0] == '-'
}
