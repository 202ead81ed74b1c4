package store

import (
	"strconv"
	"unicode/utf8"
)

// AppendEvidenceJSON appends the JSON form of ev to dst, as the stores keep evidence: the bytes
// encoding/json's Marshal makes of ev, written without reflection, because ingest encodes the
// evidence of every result it stores. A nil ev is null, an empty one [].
func AppendEvidenceJSON(dst []byte, ev []Evidence) []byte {
	if ev == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, e := range ev {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		first := true
		field := func(name string) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, '"')
			dst = append(dst, name...)
			dst = append(dst, '"', ':')
		}
		// The fields in Evidence's order, each left out when empty (its omitempty tags).
		if e.Source != "" {
			field("source")
			dst = appendJSONString(dst, e.Source)
		}
		if e.Line != 0 {
			field("line")
			dst = strconv.AppendInt(dst, int64(e.Line), 10)
		}
		if e.Key != "" {
			field("key")
			dst = appendJSONString(dst, e.Key)
		}
		if e.Actual != "" {
			field("actual")
			dst = appendJSONString(dst, e.Actual)
		}
		if e.Expected != "" {
			field("expected")
			dst = appendJSONString(dst, e.Expected)
		}
		dst = append(dst, '}')
	}
	return append(dst, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string escaped as encoding/json escapes it: quote and
// backslash; \b, \f, \n, \r and \t short; other control characters, <, > and & (HTML-safe) as
// \u00XX; U+2028 and U+2029 as \u2028 and \u2029; each byte of invalid UTF-8 as \ufffd.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
