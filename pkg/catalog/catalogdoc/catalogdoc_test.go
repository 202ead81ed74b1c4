package catalogdoc

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/pkg/catalog"
)

const docPath = "../../../docs/catalogue.md"

func generator(t *testing.T) *Generator {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Catalog: cat, SourceDir: ".."})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestDocUpToDate fails when docs/catalogue.md differs from what the generator writes now.
func TestDocUpToDate(t *testing.T) {
	g := generator(t)
	old, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := g.Update(old)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, fresh) {
		ol, fl := strings.Split(string(old), "\n"), strings.Split(string(fresh), "\n")
		for i := 0; i < len(ol) || i < len(fl); i++ {
			var a, b string
			if i < len(ol) {
				a = ol[i]
			}
			if i < len(fl) {
				b = fl[i]
			}
			if a != b {
				t.Fatalf("%s is stale (run make catalogue-doc); first difference at line %d:\n have %s\n want %s", filepath.Clean(docPath), i+1, a, b)
			}
		}
	}
}

// TestEveryPrimitiveDocumented checks that the generator found every primitive of the Check
// struct and that each has a type doc comment and documented fields.
func TestEveryPrimitiveDocumented(t *testing.T) {
	g := generator(t)
	var want []string
	ct := reflect.TypeOf(catalog.Check{})
	for i := range ct.NumField() {
		f := ct.Field(i)
		if f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct {
			want = append(want, strings.Split(f.Tag.Get("yaml"), ",")[0])
		}
	}
	got := g.Primitives()
	sort.Strings(want)
	sorted := append([]string(nil), got...)
	sort.Strings(sorted)
	if !reflect.DeepEqual(sorted, want) {
		t.Fatalf("primitives found in the sources %v; the Check struct has %v", sorted, want)
	}
	text, err := g.Section(SectionPrimitives)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range g.check.fields {
		td := g.primitiveType(f)
		if td == nil {
			continue
		}
		if !strings.Contains(text, "#### check: "+f.yaml+"\n") {
			t.Errorf("primitive %s has no section", f.yaml)
		}
		if strings.TrimSpace(f.doc) == "" {
			t.Errorf("Check.%s has no doc comment", f.goName)
		}
		if strings.TrimSpace(td.doc) == "" {
			t.Errorf("type %s (primitive %s) has no doc comment", td.name, f.yaml)
		}
		if len(td.fields) == 0 {
			t.Errorf("type %s (primitive %s) has no YAML fields", td.name, f.yaml)
		}
	}
}

func TestUpdateErrors(t *testing.T) {
	g := generator(t)
	_, err := g.Update([]byte("# no markers\n"))
	if err == nil || err.Error() != `catalogdoc: markers for section "primitives" are missing; add "<!-- BEGIN GENERATED primitives -->" and "<!-- END GENERATED primitives -->" lines` {
		t.Fatalf("Update without markers: %v", err)
	}
	if _, err := g.Section("nope"); err == nil || err.Error() != `catalogdoc: unknown section "nope" (want primitives or benchmarks)` {
		t.Fatalf("unknown section: %v", err)
	}
	if _, err := New(Options{Catalog: nil, SourceDir: ".."}); err == nil {
		t.Fatal("New without a catalogue succeeded")
	}
}

func TestCommentMarkdown(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"One line\nwrapped.", "One line wrapped."},
		{"Intro:\n\n\tcheck:\n\t  manual: {}\n\nAfter.", "Intro:\n\n```yaml\ncheck:\n  manual: {}\n```\n\nAfter."},
		{"States:\n\n  - enabled: on\n    still on.\n  - masked: off", "States:\n\n- enabled: on still on.\n- masked: off"},
	} {
		if got := commentMarkdown(tt.in); got != tt.want {
			t.Errorf("commentMarkdown(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
		}
	}
}
