// Package catalogdoc generates the reference parts of docs/catalogue.md: the check primitive
// reference, read from the Go declarations and doc comments of package catalog (so a new
// primitive is documented by its own comments), and the tables of controls per benchmark,
// read from the built-in catalogue. The generated text lives between marker comments; the
// hand-written text around it is kept.
package catalogdoc

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/pkg/catalog"
)

// Section names: the generated parts of the document, each between
// "<!-- BEGIN GENERATED <name> -->" and "<!-- END GENERATED <name> -->".
const (
	SectionPrimitives = "primitives"
	SectionBenchmarks = "benchmarks"
)

// Options configures a generation.
type Options struct {
	// Catalog is the catalogue whose benchmarks are tabulated (the built-in one in practice).
	Catalog *catalog.Catalog
	// SourceDir is the directory of package catalog's Go files, whose Check struct and
	// primitive types are documented.
	SourceDir string
}

// Generator renders the generated sections.
type Generator struct {
	cat   *catalog.Catalog
	types map[string]*typeDoc
	check *typeDoc
}

// typeDoc is one struct type of package catalog with its documentation.
type typeDoc struct {
	name   string
	doc    string
	fields []fieldDoc
}

type fieldDoc struct {
	goName string
	yaml   string
	typ    ast.Expr
	doc    string
}

// New parses the catalog sources and returns a Generator.
func New(opts Options) (*Generator, error) {
	if opts.Catalog == nil {
		return nil, errors.New("catalogdoc: Catalog is nil; pass the catalogue to document")
	}
	if opts.SourceDir == "" {
		return nil, errors.New("catalogdoc: SourceDir is empty; pass the directory of package catalog")
	}
	types, err := parseTypes(opts.SourceDir)
	if err != nil {
		return nil, err
	}
	check, ok := types["Check"]
	if !ok {
		return nil, fmt.Errorf("catalogdoc: no Check struct in %s; is it the directory of package catalog?", opts.SourceDir)
	}
	return &Generator{cat: opts.Catalog, types: types, check: check}, nil
}

func parseTypes(dir string) (map[string]*typeDoc, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("catalogdoc: read sources: %w", err)
	}
	types := map[string]*typeDoc{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("catalogdoc: parse %s: %w", name, err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok || !ts.Name.IsExported() {
					continue
				}
				doc := ts.Doc.Text()
				if doc == "" && len(gd.Specs) == 1 {
					doc = gd.Doc.Text()
				}
				td := &typeDoc{name: ts.Name.Name, doc: doc}
				for _, fl := range st.Fields.List {
					if len(fl.Names) == 0 || fl.Tag == nil {
						continue
					}
					tag, _ := strconv.Unquote(fl.Tag.Value)
					y := strings.Split(reflect.StructTag(tag).Get("yaml"), ",")[0]
					if y == "" || y == "-" {
						continue
					}
					fdoc := fl.Doc.Text()
					if fdoc == "" {
						fdoc = fl.Comment.Text()
					}
					td.fields = append(td.fields, fieldDoc{goName: fl.Names[0].Name, yaml: y, typ: fl.Type, doc: fdoc})
				}
				types[td.name] = td
			}
		}
	}
	return types, nil
}

// Primitives returns the YAML names of the check primitives (the Check fields that hold a
// primitive's parameters), in declaration order.
func (g *Generator) Primitives() []string {
	var out []string
	for _, f := range g.check.fields {
		if g.primitiveType(f) != nil {
			out = append(out, f.yaml)
		}
	}
	return out
}

// primitiveType returns the struct a Check field points to, nil for the shared conditions.
func (g *Generator) primitiveType(f fieldDoc) *typeDoc {
	star, ok := f.typ.(*ast.StarExpr)
	if !ok {
		return nil
	}
	id, ok := star.X.(*ast.Ident)
	if !ok {
		return nil
	}
	return g.types[id.Name]
}

// Section renders one generated section.
func (g *Generator) Section(name string) (string, error) {
	switch name {
	case SectionPrimitives:
		return g.primitives(), nil
	case SectionBenchmarks:
		return g.benchmarks(), nil
	}
	return "", fmt.Errorf("catalogdoc: unknown section %q (want %s or %s)", name, SectionPrimitives, SectionBenchmarks)
}

// Update replaces every generated section of doc with freshly generated text.
func (g *Generator) Update(doc []byte) ([]byte, error) {
	out := doc
	for _, name := range []string{SectionPrimitives, SectionBenchmarks} {
		begin := []byte("<!-- BEGIN GENERATED " + name + " -->\n")
		end := []byte("<!-- END GENERATED " + name + " -->")
		i := bytes.Index(out, begin)
		j := bytes.Index(out, end)
		if i < 0 || j < i {
			return nil, fmt.Errorf("catalogdoc: markers for section %q are missing; add %q and %q lines", name, strings.TrimSpace(string(begin)), string(end))
		}
		text, err := g.Section(name)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		b.Write(out[:i+len(begin)])
		b.WriteString(text)
		b.Write(out[j:])
		out = b.Bytes()
	}
	return out, nil
}

// UpdateFile regenerates the sections of the file at path in place.
func (g *Generator) UpdateFile(path string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("catalogdoc: %w", err)
	}
	out, err := g.Update(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(out, doc) {
		return nil
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("catalogdoc: %w", err)
	}
	return os.WriteFile(path, out, info.Mode()&fs.ModePerm)
}

// oneParagraph joins a doc comment's lines, keeping blank-line paragraph breaks as "<br>"
// so it fits a table cell.
func oneParagraph(s string) string {
	s = strings.TrimSpace(s)
	paras := strings.Split(s, "\n\n")
	for i, p := range paras {
		paras[i] = strings.Join(strings.Fields(p), " ")
	}
	return strings.ReplaceAll(strings.Join(paras, "<br>"), "|", `\|`)
}

// typeName renders a field type in YAML terms.
func (g *Generator) typeName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return g.typeName(t.X)
	case *ast.ArrayType:
		return "list of " + g.typeName(t.Elt)
	case *ast.MapType:
		return "map of " + g.typeName(t.Key) + " to " + g.typeName(t.Value)
	case *ast.SelectorExpr:
		return t.Sel.Name
	case *ast.Ident:
		switch t.Name {
		case "string":
			return "string"
		case "bool":
			return "boolean"
		case "int", "int64", "int32", "uint32", "uint64", "uint":
			return "integer"
		case "float64":
			return "number"
		case "StringList":
			return "string or list of strings"
		}
		if _, ok := g.types[t.Name]; ok {
			return "[" + t.Name + "](#" + strings.ToLower(t.Name) + ")"
		}
		return t.Name
	}
	return "value"
}

// referencedTypes returns the struct types (other than primitives) used by primitive fields,
// such as Value, sorted.
func (g *Generator) referencedTypes(prims map[string]bool) []*typeDoc {
	seen := map[string]bool{}
	var walk func(e ast.Expr)
	walk = func(e ast.Expr) {
		switch t := e.(type) {
		case *ast.StarExpr:
			walk(t.X)
		case *ast.ArrayType:
			walk(t.Elt)
		case *ast.MapType:
			walk(t.Value)
		case *ast.Ident:
			td, ok := g.types[t.Name]
			if !ok || seen[t.Name] || prims[t.Name] || t.Name == "Check" {
				return
			}
			seen[t.Name] = true
			for _, f := range td.fields {
				walk(f.typ)
			}
		}
	}
	for name := range prims {
		for _, f := range g.types[name].fields {
			walk(f.typ)
		}
	}
	var out []*typeDoc
	for name := range seen {
		out = append(out, g.types[name])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func (g *Generator) fieldTable(b *strings.Builder, td *typeDoc) {
	if len(td.fields) == 0 {
		b.WriteString("No parameters.\n\n")
		return
	}
	b.WriteString("| field | type | meaning |\n|---|---|---|\n")
	for _, f := range td.fields {
		doc := oneParagraph(f.doc)
		if doc == "" {
			doc = "see the primitive's description above"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", f.yaml, g.typeName(f.typ), doc)
	}
	b.WriteString("\n")
}

func (g *Generator) primitives() string {
	var b strings.Builder
	b.WriteString("<!-- generated by `make catalogue-doc` from the doc comments of pkg/catalog; do not edit -->\n\n")
	b.WriteString("A check sets exactly one primitive. These conditions may accompany any of them:\n\n")
	b.WriteString("| field | type | meaning |\n|---|---|---|\n")
	prims := map[string]bool{}
	for _, f := range g.check.fields {
		if td := g.primitiveType(f); td != nil {
			prims[td.name] = true
			continue
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.yaml, g.typeName(f.typ), oneParagraph(f.doc))
	}
	b.WriteString("\n")
	b.WriteString("| primitive | what it checks |\n|---|---|\n")
	for _, f := range g.check.fields {
		if g.primitiveType(f) != nil {
			fmt.Fprintf(&b, "| [`%s`](#check-%s) | %s |\n", f.yaml, f.yaml, oneParagraph(f.doc))
		}
	}
	b.WriteString("\n")
	for _, f := range g.check.fields {
		td := g.primitiveType(f)
		if td == nil {
			continue
		}
		fmt.Fprintf(&b, "#### check: %s\n\n", f.yaml)
		if doc := strings.TrimSpace(td.doc); doc != "" {
			b.WriteString(commentMarkdown(doc))
			b.WriteString("\n\n")
		}
		g.fieldTable(&b, td)
	}
	for _, td := range g.referencedTypes(prims) {
		fmt.Fprintf(&b, "#### %s\n\n", td.name)
		if doc := strings.TrimSpace(td.doc); doc != "" {
			b.WriteString(commentMarkdown(doc))
			b.WriteString("\n\n")
		}
		g.fieldTable(&b, td)
	}
	return b.String()
}

// commentMarkdown turns a Go doc comment into Markdown: indented blocks become code blocks,
// list items stay list items, other lines are joined into paragraphs.
func commentMarkdown(doc string) string {
	var out []string
	var para []string
	inCode := false
	flush := func() {
		if len(para) > 0 {
			out = append(out, strings.Join(para, " "), "")
			para = nil
		}
	}
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case strings.HasPrefix(line, "\t") && !strings.HasPrefix(strings.TrimSpace(line), "- "):
			flush()
			if !inCode {
				out = append(out, "```yaml")
				inCode = true
			}
			out = append(out, strings.TrimPrefix(line, "\t"))
			continue
		case inCode:
			out = append(out, "```", "")
			inCode = false
		}
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			flush()
		case strings.HasPrefix(t, "- "):
			flush()
			out = append(out, t)
		case len(out) > 0 && strings.HasPrefix(out[len(out)-1], "- ") && len(para) == 0 && strings.HasPrefix(line, " "):
			out[len(out)-1] += " " + t
		default:
			para = append(para, t)
		}
	}
	if inCode {
		out = append(out, "```")
	}
	flush()
	return strings.TrimSpace(strings.Join(out, "\n"))
}

func (g *Generator) benchmarks() string {
	var b strings.Builder
	b.WriteString("<!-- generated by `make catalogue-doc` from the built-in catalogue; do not edit -->\n\n")
	controls := g.cat.Controls()
	manual := 0
	for _, c := range controls {
		if c.Check.Manual != nil {
			manual++
		}
	}
	fmt.Fprintf(&b, "The built-in catalogue (version `%s`) has %d controls: %d automated and %d manual (`info`, audit guidance).\n\n",
		g.cat.Version(), len(controls), len(controls)-manual, manual)
	b.WriteString("| benchmark | title | version | requirements | controls | automated | manual |\n|---|---|---|---|---|---|---|\n")
	bms := g.cat.Benchmarks()
	for _, bm := range bms {
		ids := bm.ControlIDs()
		m := 0
		for _, id := range ids {
			if c, ok := g.cat.Control(id); ok && c.Check.Manual != nil {
				m++
			}
		}
		fmt.Fprintf(&b, "| `%s` (`%s`) | %s | %s | %d | %d | %d | %d |\n", bm.ID, bm.ShortName, bm.Title, bm.Version, len(bm.Requirements), len(ids), len(ids)-m, m)
	}
	b.WriteString("\n")
	for _, bm := range bms {
		fmt.Fprintf(&b, "### %s\n\n%s, version %s, %s targets.\n\n", bm.ID, bm.Title, bm.Version, bm.TargetType)
		b.WriteString("| requirement | title | controls |\n|---|---|---|\n")
		for _, r := range bm.Requirements {
			ids := make([]string, len(r.Controls))
			for i, id := range r.Controls {
				ids[i] = "`" + id + "`"
			}
			sort.Strings(ids)
			fmt.Fprintf(&b, "| %s | %s | %s |\n", r.ID, strings.ReplaceAll(r.Title, "|", `\|`), strings.Join(ids, ", "))
		}
		b.WriteString("\n")
	}
	b.WriteString("### All controls\n\n| control | title | severity | service | check |\n|---|---|---|---|---|\n")
	for _, c := range controls {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", c.ID, strings.ReplaceAll(c.Title, "|", `\|`), c.Severity, c.Service, c.Check.Primitive())
	}
	return b.String()
}
