package store

import (
	"encoding/json"
	"testing"
)

func TestAppendEvidenceJSON(t *testing.T) {
	tests := []struct {
		name string
		ev   []Evidence
		want string
	}{
		{"nil", nil, `null`},
		{"empty", []Evidence{}, `[]`},
		{"empty item", []Evidence{{}}, `[{}]`},
		{"all fields", []Evidence{{Source: "/etc/ssh/sshd_config", Line: 32, Key: "PermitRootLogin", Actual: "no", Expected: "no"}},
			`[{"source":"/etc/ssh/sshd_config","line":32,"key":"PermitRootLogin","actual":"no","expected":"no"}]`},
		{"some fields, two items", []Evidence{{Key: "k", Line: -3}, {Expected: "x"}},
			`[{"line":-3,"key":"k"},{"expected":"x"}]`},
		{"escapes", []Evidence{{Actual: "a\"b\\c\nd\re\tf\bg\fh\x00i\x1fj\x7fk"}},
			`[{"actual":"a\"b\\c\nd\re\tf\bg\fh\u0000i\u001fj` + "\x7f" + `k"}]`},
		{"html", []Evidence{{Actual: "<script>&</script>"}}, `[{"actual":"\u003cscript\u003e\u0026\u003c/script\u003e"}]`},
		{"non-ASCII", []Evidence{{Source: "/srv/données/日本.conf", Actual: "é\u2028\u2029😀"}},
			`[{"source":"/srv/données/日本.conf","actual":"é\u2028\u2029😀"}]`},
		{"invalid UTF-8", []Evidence{{Actual: "a\xffb\xe2\x82c\xe2\x82"}}, `[{"actual":"a\ufffdb\ufffd\ufffdc\ufffd\ufffd"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendEvidenceJSON([]byte("prefix:"), tt.ev))
			if got != "prefix:"+tt.want {
				t.Errorf("got  %s\nwant prefix:%s", got, tt.want)
			}
			std, err := json.Marshal(tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if got[len("prefix:"):] != string(std) {
				t.Errorf("differs from encoding/json:\ngot  %s\njson %s", got[len("prefix:"):], std)
			}
		})
	}
}

// FuzzAppendEvidenceJSON: for any evidence, the bytes are encoding/json's.
func FuzzAppendEvidenceJSON(f *testing.F) {
	f.Add("/etc/passwd", 7, "root", "x", "")
	f.Add("a\"\\<>&\u2028", -1, "\x00\x1f\x7f", "\xff\xfe", "日本\xe2\x82")
	f.Fuzz(func(t *testing.T, source string, line int, key, actual, expected string) {
		ev := []Evidence{{Source: source, Line: line, Key: key, Actual: actual, Expected: expected}, {Key: actual}}
		std, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendEvidenceJSON(nil, ev); string(got) != string(std) {
			t.Errorf("got  %s\njson %s", got, std)
		}
	})
}
