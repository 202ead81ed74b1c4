package facts

import "strings"

// AptSource is one APT repository entry, from either source file format.
type AptSource struct {
	Line       int    // line of the entry (of the stanza's first field in deb822 files)
	Type       string // "deb" or "deb-src"; deb822 stanzas with several types give one entry each
	URIs       []string
	Suites     []string
	Components []string
	// Options are the entry's options with lower-case names (trusted, signed-by,
	// allow-insecure, arch, ...); a deb822 field such as Signed-By becomes "signed-by". An
	// inline key block is reported as "(inline key)".
	Options map[string]string
}

// ParseAptSourcesList parses the one-line format of sources.list(5):
//
//	deb [ option=value option2=value2 ] uri suite [component ...]
//
// "#" starts a comment. Lines that do not have a type, a URI and a suite are ignored.
func ParseAptSourcesList(data []byte) []AptSource {
	var out []AptSource
	lines(data, func(n int, line string) {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 3 || (f[0] != "deb" && f[0] != "deb-src") {
			return
		}
		src := AptSource{Line: n, Type: f[0], Options: map[string]string{}}
		rest := f[1:]
		if strings.HasPrefix(rest[0], "[") {
			// Options run to the first field that ends with "]"; "[a=b]" may be one field.
			var opts []string
			closed := false
			for len(rest) > 0 && !closed {
				tok := rest[0]
				rest = rest[1:]
				if strings.HasSuffix(tok, "]") {
					tok, closed = strings.TrimSuffix(tok, "]"), true
				}
				tok = strings.TrimPrefix(tok, "[")
				if tok != "" {
					opts = append(opts, tok)
				}
			}
			if !closed {
				return
			}
			for _, o := range opts {
				k, v, _ := strings.Cut(o, "=")
				k = strings.TrimRight(k, "+-") // arch+=x, arch-=y
				src.Options[strings.ToLower(k)] = v
			}
		}
		if len(rest) < 2 {
			return
		}
		src.URIs = []string{rest[0]}
		src.Suites = []string{rest[1]}
		src.Components = append([]string{}, rest[2:]...)
		out = append(out, src)
	})
	return out
}

// ParseAptSources822 parses the deb822 format of *.sources files: stanzas separated by blank
// lines, "Field: value" lines, continuation lines starting with a blank, "#" comment lines.
// A stanza with "Enabled: no" is left out; one with several Types gives one entry per type.
func ParseAptSources822(data []byte) []AptSource {
	var out []AptSource
	fields := map[string]string{}
	first := 0
	last := ""
	flush := func() {
		defer func() { fields, first, last = map[string]string{}, 0, "" }()
		if strings.EqualFold(fields["enabled"], "no") || fields["types"] == "" || fields["uris"] == "" {
			return
		}
		opts := map[string]string{}
		for k, v := range fields {
			switch k {
			case "types", "uris", "suites", "components", "enabled":
				continue
			}
			opts[k] = v
		}
		for _, typ := range strings.Fields(fields["types"]) {
			o := make(map[string]string, len(opts))
			for k, v := range opts {
				o[k] = v
			}
			out = append(out, AptSource{Line: first, Type: typ, URIs: strings.Fields(fields["uris"]),
				Suites: strings.Fields(fields["suites"]), Components: strings.Fields(fields["components"]), Options: o})
		}
	}
	lines(data, func(n int, line string) {
		if strings.TrimSpace(line) == "" {
			if len(fields) > 0 {
				flush()
			}
			return
		}
		if strings.HasPrefix(line, "#") {
			return
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "signed-by" && !strings.HasPrefix(fields[last], "(") {
				fields[last] = "(inline key)"
			}
			return
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if first == 0 {
			first = n
		}
		fields[k], last = strings.TrimSpace(v), k
		if k == "signed-by" && fields[k] == "" {
			fields[k] = "(inline key)"
		}
	})
	if len(fields) > 0 {
		flush()
	}
	return out
}
