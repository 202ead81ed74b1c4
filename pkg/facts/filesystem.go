package facts

import (
	"path"
	"strconv"
	"strings"
)

// This file holds the parsers behind the filesystem, kernel-module and boot-loader checks:
// fstab(5), /proc/<pid>/mountinfo, modprobe.d(5), /proc/modules, modules.dep and
// modules.builtin, GRUB's grub.cfg and the kernel command line.

// FstabEntry is one mount line of /etc/fstab.
type FstabEntry struct {
	Source     string // first field: device, UUID=..., LABEL=..., or a pseudo name
	MountPoint string // octal escapes such as \040 undone
	Type       string
	Options    []string
	Line       int
}

// ParseFstab parses /etc/fstab. Comment and blank lines are skipped, as are lines with fewer
// than two fields; a missing options field means "defaults".
func ParseFstab(data []byte) []FstabEntry {
	var out []FstabEntry
	lines(data, func(n int, line string) {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			return
		}
		f := strings.Fields(t)
		if len(f) < 2 {
			return
		}
		e := FstabEntry{Source: unescapeOctal(f[0]), MountPoint: unescapeOctal(f[1]), Line: n}
		if len(f) > 2 {
			e.Type = f[2]
		}
		opts := "defaults"
		if len(f) > 3 {
			opts = f[3]
		}
		e.Options = splitOptions(opts)
		out = append(out, e)
	})
	return out
}

// MountInfo is one line of /proc/<pid>/mountinfo.
type MountInfo struct {
	MountPoint string   // octal escapes undone
	Options    []string // per-mount options (rw, nodev, nosuid, noexec, ...)
	FSType     string
	Source     string
	// SuperOptions are the superblock options, after the "-" separator.
	SuperOptions []string
	Line         int
}

// ParseMountinfo parses /proc/<pid>/mountinfo (proc(5)): "id parent major:minor root
// mountpoint options [optional fields...] - fstype source superoptions". Lines without the
// separator or with too few fields are skipped.
func ParseMountinfo(data []byte) []MountInfo {
	var out []MountInfo
	lines(data, func(n int, line string) {
		f := strings.Fields(line)
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(f) < sep+3 {
			return
		}
		m := MountInfo{MountPoint: unescapeOctal(f[4]), Options: splitOptions(f[5]), FSType: f[sep+1], Source: unescapeOctal(f[sep+2]), Line: n}
		if len(f) > sep+3 {
			m.SuperOptions = splitOptions(f[sep+3])
		}
		out = append(out, m)
	})
	return out
}

func splitOptions(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// unescapeOctal undoes the \ooo escapes fstab and mountinfo use for blanks and backslashes.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ModprobeDirective is one command of a modprobe.d file.
type ModprobeDirective struct {
	Command string // install, blacklist, remove, options, alias, softdep (lower case)
	Module  string // the module name as written
	Args    string // the rest of the line (the command of install/remove), blanks collapsed
	Line    int    // line the directive starts on
}

// ParseModprobe parses a modprobe.d(5) file: one command per line, "#" comment lines,
// a backslash at the end of a line continues it on the next. Lines with a command but no
// module name are skipped.
func ParseModprobe(data []byte) []ModprobeDirective {
	var out []ModprobeDirective
	var pending strings.Builder
	start := 0
	flush := func() {
		text := pending.String()
		pending.Reset()
		t := strings.TrimSpace(text)
		if t == "" || t[0] == '#' {
			return
		}
		f := strings.Fields(t)
		if len(f) < 2 {
			return
		}
		out = append(out, ModprobeDirective{Command: strings.ToLower(f[0]), Module: f[1], Args: strings.Join(f[2:], " "), Line: start})
	}
	lines(data, func(n int, line string) {
		if pending.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, `\`) {
			pending.WriteString(strings.TrimSuffix(line, `\`))
			pending.WriteByte(' ')
			return
		}
		pending.WriteString(line)
		flush()
	})
	flush()
	return out
}

// NormalizeModuleName returns the name the kernel uses for a module: modprobe treats "-"
// and "_" in module names as the same character, /proc/modules shows "_".
func NormalizeModuleName(s string) string {
	return strings.ReplaceAll(s, "-", "_")
}

// ProcModule is one loaded module listed in /proc/modules.
type ProcModule struct {
	Name  string
	State string // Live, Loading, Unloading ("" when the line has no state field)
	Line  int
}

// ParseProcModules parses /proc/modules: "name size refcount deps state address" lines.
func ParseProcModules(data []byte) []ProcModule {
	var out []ProcModule
	lines(data, func(n int, line string) {
		f := strings.Fields(line)
		if len(f) == 0 {
			return
		}
		m := ProcModule{Name: f[0], Line: n}
		if len(f) > 4 {
			m.State = f[4]
		}
		out = append(out, m)
	})
	return out
}

// ModuleNameFromPath returns the normalised module name of a module file path such as
// kernel/fs/cramfs/cramfs.ko.xz ("cramfs"), or "" when the path is not a module file.
func ModuleNameFromPath(p string) string {
	base := path.Base(strings.TrimSpace(p))
	for _, ext := range []string{".xz", ".zst", ".gz"} {
		base = strings.TrimSuffix(base, ext)
	}
	name, ok := strings.CutSuffix(base, ".ko")
	if !ok || name == "" {
		return ""
	}
	return NormalizeModuleName(name)
}

// ModuleFile is a module named by modules.dep or modules.builtin.
type ModuleFile struct {
	Name string // normalised module name
	Path string // as written, relative to /lib/modules/<version>
	Line int
}

// ParseModulesList parses modules.dep ("path: deps...") or modules.builtin ("path") and
// returns the modules they name, in file order.
func ParseModulesList(data []byte) []ModuleFile {
	var out []ModuleFile
	lines(data, func(n int, line string) {
		p, _, _ := strings.Cut(line, ":")
		p = strings.TrimSpace(p)
		if name := ModuleNameFromPath(p); name != "" {
			out = append(out, ModuleFile{Name: name, Path: p, Line: n})
		}
	})
	return out
}

// GrubConfig is what the GRUB checks need from a grub.cfg.
type GrubConfig struct {
	// Superusers are the "set superusers=..." assignments, in file order.
	Superusers []GrubSuperusers
	// Passwords are the password and password_pbkdf2 commands.
	Passwords []GrubPassword
	// Kernels are the linux (linux16, linuxefi) commands that boot a kernel.
	Kernels []GrubKernel
	// BLS is true when the configuration runs blscfg: the boot entries then live in
	// /boot/loader/entries (Boot Loader Specification files), as on RHEL 8 and later.
	BLS bool
}

// GrubSuperusers is one "set superusers=..." line.
type GrubSuperusers struct {
	Users []string
	Line  int
}

// GrubPassword is one password or password_pbkdf2 command.
type GrubPassword struct {
	User   string
	PBKDF2 bool // password_pbkdf2 (a hash) rather than password (clear text)
	Line   int
}

// GrubKernel is one linux command: the kernel image and its command line.
type GrubKernel struct {
	Image string
	Args  []KernelParam
	Entry string // title of the enclosing menuentry ("" at top level)
	Line  int
}

// ParseGrubConfig parses the parts of a grub.cfg the checks use. It understands GRUB's
// word splitting (blanks, single and double quotes, backslash escapes), "#" comments, and
// menuentry/submenu titles; it does not run the script, so a command inside an "if" counts
// as if it always ran.
func ParseGrubConfig(data []byte) GrubConfig {
	var cfg GrubConfig
	var entries []string // titles of the open menuentry/submenu blocks
	lines(data, func(n int, line string) {
		words := grubWords(line)
		if len(words) == 0 {
			return
		}
		// A closing brace may share the line with nothing else.
		for len(words) > 0 && words[0] == "}" {
			if len(entries) > 0 {
				entries = entries[:len(entries)-1]
			}
			words = words[1:]
		}
		if len(words) == 0 {
			return
		}
		switch cmd := words[0]; cmd {
		case "menuentry", "submenu":
			title := ""
			if len(words) > 1 {
				title = words[1]
			}
			if words[len(words)-1] == "{" {
				entries = append(entries, title)
			}
		case "set":
			for _, w := range words[1:] {
				if v, ok := strings.CutPrefix(w, "superusers="); ok {
					cfg.Superusers = append(cfg.Superusers, GrubSuperusers{Users: splitUsers(v), Line: n})
				}
			}
		case "password", "password_pbkdf2":
			if len(words) >= 3 && words[1] != "" {
				cfg.Passwords = append(cfg.Passwords, GrubPassword{User: words[1], PBKDF2: cmd == "password_pbkdf2", Line: n})
			}
		case "blscfg":
			cfg.BLS = true
		case "linux", "linux16", "linuxefi":
			if len(words) < 2 || words[1] == "" {
				return
			}
			k := GrubKernel{Image: words[1], Line: n}
			if len(entries) > 0 {
				k.Entry = entries[len(entries)-1]
			}
			for _, w := range words[2:] {
				k.Args = append(k.Args, parseKernelParam(w))
			}
			cfg.Kernels = append(cfg.Kernels, k)
		default:
			if words[len(words)-1] == "{" {
				entries = append(entries, "") // if/function blocks: keep the brace count right
			}
		}
	})
	return cfg
}

// splitUsers splits GRUB's superusers list (blanks, commas, semicolons or pipes).
func splitUsers(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == ';' || r == '|' })
}

// grubWords splits one line of a GRUB script into words, removing quotes and comments.
func grubWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
			inWord = true
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`, line[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(line[i])
			}
			inWord = true
		case c == ' ' || c == '\t' || c == ';':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(line)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// KernelParam is one word of a kernel command line.
type KernelParam struct {
	Name     string
	Value    string
	HasValue bool // "name=value" rather than a bare "name"
}

func parseKernelParam(w string) KernelParam {
	k, v, ok := strings.Cut(w, "=")
	if ok && len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return KernelParam{Name: k, Value: v, HasValue: ok}
}

// ParseKernelCmdline parses a kernel command line such as /proc/cmdline: blank-separated
// words, double quotes keeping blanks inside a value. Everything after a lone "--" belongs
// to init and is left out.
func ParseKernelCmdline(s string) []KernelParam {
	var out []KernelParam
	var cur strings.Builder
	quoted, inWord := false, false
	emit := func() bool {
		w := cur.String()
		cur.Reset()
		inWord = false
		if w == "--" {
			return false
		}
		k, v, ok := strings.Cut(w, "=")
		k = strings.ReplaceAll(k, `"`, "")
		if k == "" && !ok {
			return true // a lone pair of quotes
		}
		out = append(out, KernelParam{Name: k, Value: strings.ReplaceAll(v, `"`, ""), HasValue: ok})
		return true
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted = !quoted
			cur.WriteByte(c)
			inWord = true
		case !quoted && (c == ' ' || c == '\t' || c == '\n'):
			if inWord && !emit() {
				return out
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		emit()
	}
	return out
}

// LookupKernelParam returns the last occurrence of name (the kernel and most parsers of
// its command line let the last one win); "-" and "_" in names are the same.
func LookupKernelParam(params []KernelParam, name string) (KernelParam, bool) {
	want := NormalizeModuleName(name)
	var found KernelParam
	ok := false
	for _, p := range params {
		if NormalizeModuleName(p.Name) == want {
			found, ok = p, true
		}
	}
	return found, ok
}

// BLSEntry is what the checks use of a Boot Loader Specification entry file.
type BLSEntry struct {
	Title       string
	Linux       string // the kernel image
	Options     string // the kernel command line as written (may use $variables)
	OptionsLine int    // 0 when the entry has no options line
}

// ParseBLSEntry parses a /boot/loader/entries/*.conf file: "key value" lines, "#" comments.
// Several options lines are joined with a blank, as the specification says.
func ParseBLSEntry(data []byte) BLSEntry {
	var e BLSEntry
	lines(data, func(n int, line string) {
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' {
			return
		}
		k, v := t, ""
		if i := strings.IndexAny(t, " \t"); i >= 0 {
			k, v = t[:i], t[i+1:]
		}
		v = strings.TrimSpace(v)
		switch k {
		case "title":
			e.Title = v
		case "linux":
			e.Linux = v
		case "options":
			if e.Options != "" {
				e.Options += " "
			} else {
				e.OptionsLine = n
			}
			e.Options += v
		}
	})
	return e
}

// ParseGrubenv parses GRUB's environment block (/boot/grub2/grubenv): "name=value" lines,
// "#" padding and comments.
func ParseGrubenv(data []byte) map[string]string {
	out := map[string]string{}
	lines(data, func(_ int, line string) {
		if line == "" || line[0] == '#' {
			return
		}
		if k, v, ok := strings.Cut(line, "="); ok && k != "" {
			out[k] = v
		}
	})
	return out
}

// ExpandGrubVars replaces $name and ${name} in s with their values in env (unknown names
// become empty, as in GRUB).
func ExpandGrubVars(s string, env map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		j := i + 1
		var name string
		if s[j] == '{' {
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				b.WriteString(s[i:])
				break
			}
			name, i = s[j+1:j+end], j+end
		} else {
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			if j == i+1 {
				b.WriteByte('$')
				continue
			}
			name, i = s[i+1:j], j-1
		}
		b.WriteString(env[name])
	}
	return b.String()
}
