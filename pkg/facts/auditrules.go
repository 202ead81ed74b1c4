package facts

import (
	"sort"
	"strconv"
	"strings"
)

// Kinds of audit rules.
const (
	AuditWatch   = "watch"   // -w path [-p perms]
	AuditSyscall = "syscall" // -a/-A action,list [-S ...] [-F ...] [-C ...]
	AuditControl = "control" // -e, -D, -b, -f, -r and the other settings
)

// AuditRule is one line of an audit rules file in a comparable form.
type AuditRule struct {
	Kind string
	Line int
	Text string
	// Action and List of a syscall rule ("always", "exit"); a watch is always,exit.
	Action, List string
	// Syscalls named with -S, lower-cased, sorted, each once.
	Syscalls []string
	// Fields are the -F and -C filters other than key and perm, normalised ("auid!=unset",
	// "exit=-EACCES", "a0=0"), sorted. A watch's path is the field "watch=<path>", and so
	// is a syscall rule's path= or dir= field.
	Fields []string
	// Perms are the access types (r, w, x, a) of a watch or perm= field, sorted; empty
	// means every type.
	Perms string
	// Key is the -k or key= value (informational, never compared).
	Key string
	// Flag and Value of a control rule ("-e", "2").
	Flag, Value string
}

var auditErrno = map[string]string{"1": "EPERM", "13": "EACCES", "2": "ENOENT"}

// normalizeAuditField rewrites one "name op value" filter into its canonical form.
func normalizeAuditField(name, op, value string) string {
	switch {
	case name == "auid" || name == "uid" || name == "euid" || name == "loginuid":
		if value == "-1" || value == "4294967295" {
			value = "unset"
		}
	case name == "arch":
		switch value {
		case "x86_64", "aarch64", "ppc64", "ppc64le", "s390x":
			value = "b64"
		case "i386", "i486", "i586", "i686", "arm", "armeb":
			value = "b32"
		}
	case name == "exit":
		if n, ok := strings.CutPrefix(value, "-"); ok {
			if e, known := auditErrno[n]; known {
				value = "-" + e
			}
		}
	case len(name) == 2 && name[0] == 'a' && name[1] >= '0' && name[1] <= '3':
		if n, err := strconv.ParseUint(value, 0, 64); err == nil {
			value = strconv.FormatUint(n, 10)
		}
	}
	return name + op + value
}

// splitAuditField splits "auid>=1000" into name, operator and value.
func splitAuditField(s string) (string, string, string, bool) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '=', '!', '<', '>', '&':
			op := s[i : i+1]
			if i+1 < len(s) && strings.ContainsRune("=&", rune(s[i+1])) {
				op = s[i : i+2]
			}
			if i == 0 {
				return "", "", "", false
			}
			return s[:i], op, s[i+len(op):], true
		}
	}
	return "", "", "", false
}

// ParseAuditRules parses an audit rules file (auditctl(8) syntax, one rule a line, "#"
// comment lines). Lines that are not understood are skipped.
func ParseAuditRules(data []byte) []AuditRule {
	var out []AuditRule
	lines(data, func(n int, line string) {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			return
		}
		if r, ok := parseAuditRule(strings.Fields(t)); ok {
			r.Line, r.Text = n, t
			out = append(out, r)
		}
	})
	return out
}

func parseAuditRule(f []string) (AuditRule, bool) {
	var r AuditRule
	fields := map[string]bool{}
	syscalls := map[string]bool{}
	perms := ""
	arg := func(i int) string {
		if i+1 < len(f) {
			return f[i+1]
		}
		return ""
	}
	for i := 0; i < len(f); i++ {
		opt := f[i]
		switch opt {
		case "-w":
			r.Kind, r.Action, r.List = AuditWatch, "always", "exit"
			fields["watch="+strings.TrimSuffix(arg(i), "/")] = true
			i++
		case "-p":
			perms += arg(i)
			i++
		case "-a", "-A":
			r.Kind = AuditSyscall
			for _, p := range strings.Split(arg(i), ",") {
				switch p {
				case "always", "never":
					r.Action = p
				default:
					r.List = p
				}
			}
			i++
		case "-S":
			for _, s := range strings.Split(arg(i), ",") {
				if s != "" {
					syscalls[strings.ToLower(s)] = true
				}
			}
			i++
		case "-F", "-C":
			name, op, value, ok := splitAuditField(arg(i))
			i++
			if !ok {
				continue
			}
			switch {
			case opt == "-C":
				fields["C:"+name+op+value] = true
			case name == "key":
				r.Key = value
			case name == "perm":
				perms += value
			case name == "path" || name == "dir":
				fields["watch="+strings.TrimSuffix(value, "/")] = true
			default:
				fields[normalizeAuditField(name, op, value)] = true
			}
		case "-k":
			r.Key = arg(i)
			i++
		case "-e", "-b", "-f", "-r", "--backlog_wait_time":
			if r.Kind == "" {
				r.Kind, r.Flag, r.Value = AuditControl, opt, arg(i)
			}
			i++
		case "-D", "-i", "-c", "--loginuid-immutable", "--reset-lost":
			if r.Kind == "" {
				r.Kind, r.Flag = AuditControl, opt
			}
		}
	}
	if r.Kind == "" {
		return r, false
	}
	for s := range syscalls {
		r.Syscalls = append(r.Syscalls, s)
	}
	sort.Strings(r.Syscalls)
	for fl := range fields {
		r.Fields = append(r.Fields, fl)
	}
	sort.Strings(r.Fields)
	r.Perms = normalizePerms(perms)
	return r, true
}

func normalizePerms(p string) string {
	var out []byte
	for _, c := range "arwx" {
		if strings.ContainsRune(p, c) {
			out = append(out, byte(c))
		}
	}
	return string(out)
}

// Covers reports whether rule r records at least the events want describes: the same action
// and list, every syscall of want (a rule naming none covers all), every access type of
// want, the same arch, and no filter that want does not have (an extra filter narrows the
// rule). Keys are ignored.
func (r AuditRule) Covers(want AuditRule) bool {
	if r.Kind == AuditControl || want.Kind == AuditControl {
		return r.Kind == want.Kind && r.Flag == want.Flag && r.Value == want.Value
	}
	if r.Action != want.Action || r.List != want.List {
		return false
	}
	if len(r.Syscalls) > 0 && !subset(want.Syscalls, r.Syscalls) {
		return false
	}
	if r.Perms != "" && (want.Perms == "" || !subset(strings.Split(want.Perms, ""), strings.Split(r.Perms, ""))) {
		return false
	}
	if archOf(r.Fields) != archOf(want.Fields) {
		return false
	}
	return subset(r.Fields, want.Fields)
}

func archOf(fields []string) string {
	for _, f := range fields {
		if v, ok := strings.CutPrefix(f, "arch="); ok {
			return v
		}
	}
	return ""
}

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	set := make(map[string]bool, len(b))
	for _, s := range b {
		set[s] = true
	}
	for _, s := range a {
		if !set[s] {
			return false
		}
	}
	return true
}

// ParseAuditRule parses one rule written as on the auditctl command line.
func ParseAuditRule(s string) (AuditRule, bool) {
	r, ok := parseAuditRule(strings.Fields(s))
	r.Text = strings.TrimSpace(s)
	return r, ok
}
