package facts

import "strings"

// SSHDDirective is one keyword line of an sshd configuration file.
type SSHDDirective struct {
	// Keyword is lower-cased (sshd keywords are case-insensitive); Name is as written.
	Keyword string
	Name    string
	Args    []string
	Line    int
	// Match is the criteria of the Match block the line sits in ("" in the global section).
	// A "match" directive carries its own criteria.
	Match string
}

// Value returns the arguments joined by one space.
func (d SSHDDirective) Value() string { return strings.Join(d.Args, " ") }

// ParseSSHDConfig parses one sshd_config file as sshd does: "#" starts a comment line,
// keyword and arguments are separated by blanks or one "=", arguments may be double-quoted.
// A Match line opens a block that lasts to the next Match line or the end of the file.
// Include lines are returned as directives; expanding them needs the file system.
func ParseSSHDConfig(data []byte) []SSHDDirective {
	var out []SSHDDirective
	match := ""
	lines(data, func(n int, line string) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			return
		}
		name, rest := splitKeyword(line)
		if name == "" {
			return
		}
		d := SSHDDirective{Keyword: strings.ToLower(name), Name: name, Args: splitArgs(rest), Line: n, Match: match}
		if d.Keyword == "match" {
			match = d.Value()
			if strings.EqualFold(match, "all") {
				// "Match all" returns to settings that apply to every connection; the global
				// value has been fixed by then, so it stays a block.
				match = "all"
			}
			d.Match = match
		}
		out = append(out, d)
	})
	return out
}

// splitKeyword separates the keyword from its arguments: blanks, or one "=" optionally
// surrounded by blanks.
func splitKeyword(line string) (string, string) {
	i := strings.IndexAny(line, " \t=")
	if i < 0 {
		return line, ""
	}
	name, rest := line[:i], strings.TrimLeft(line[i:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	return name, rest
}

// splitArgs splits on blanks, honouring double quotes; an unmatched quote runs to the end.
// A "#" that starts an argument ends the line (a trailing comment).
func splitArgs(s string) []string {
	var args []string
	var b strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inQuote = !inQuote
			have = true
		case !inQuote && (c == ' ' || c == '\t'):
			if have {
				args = append(args, b.String())
				b.Reset()
				have = false
			}
		case !inQuote && c == '#' && !have:
			return args
		default:
			b.WriteByte(c)
			have = true
		}
	}
	if have {
		args = append(args, b.String())
	}
	return args
}

// SSHDDefault returns OpenSSH's built-in value (portable OpenSSH 9.x) of a keyword that
// controls commonly check (any case). A distribution's packaged sshd_config may override it;
// the engine reports which applied.
func SSHDDefault(keyword string) (string, bool) {
	v, ok := sshdDefaults[strings.ToLower(keyword)]
	return v, ok
}

// sshdDefaults is read-only.
var sshdDefaults = map[string]string{
	"allowagentforwarding":            "yes",
	"allowtcpforwarding":              "yes",
	"banner":                          "none",
	"clientalivecountmax":             "3",
	"clientaliveinterval":             "0",
	"compression":                     "yes",
	"disableforwarding":               "no",
	"gatewayports":                    "no",
	"gssapiauthentication":            "no",
	"hostbasedauthentication":         "no",
	"ignorerhosts":                    "yes",
	"ignoreuserknownhosts":            "no",
	"kbdinteractiveauthentication":    "yes",
	"kerberosauthentication":          "no",
	"logingracetime":                  "120",
	"loglevel":                        "INFO",
	"maxauthtries":                    "6",
	"maxsessions":                     "10",
	"maxstartups":                     "10:30:100",
	"passwordauthentication":          "yes",
	"permitemptypasswords":            "no",
	"permitrootlogin":                 "prohibit-password",
	"permittunnel":                    "no",
	"permituserenvironment":           "no",
	"port":                            "22",
	"printmotd":                       "yes",
	"pubkeyauthentication":            "yes",
	"strictmodes":                     "yes",
	"tcpkeepalive":                    "yes",
	"usedns":                          "no",
	"usepam":                          "no",
	"x11forwarding":                   "no",
	"x11uselocalhost":                 "yes",
	"challengeresponseauthentication": "yes",
}
