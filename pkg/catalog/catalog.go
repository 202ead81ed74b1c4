// Package catalog holds the control catalogue: controls (one testable requirement each, with
// the check that evaluates it) and benchmarks (a framework's requirements mapped to controls).
// The catalogue is data: YAML documents embedded in the binary, loaded and validated at start,
// optionally extended from an operator's directory.
package catalog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/palisadehq/palisade/pkg/posture"
)

// Document is one catalogue file: any number of controls, benchmarks and requirement
// declarations. A benchmark's requirements may be listed in the benchmark itself, declared in
// any document under `requirements:` (keyed by benchmark id), or created by a control's `refs`;
// the loader merges all three.
type Document struct {
	Controls   []*Control   `yaml:"controls,omitempty" json:"controls,omitempty"`
	Benchmarks []*Benchmark `yaml:"benchmarks,omitempty" json:"benchmarks,omitempty"`
	// Requirements declares benchmark requirements (id and title, optionally controls) by
	// benchmark id, for controls that cite them with refs.
	Requirements map[string][]Requirement `yaml:"requirements,omitempty" json:"requirements,omitempty"`
}

// Control is one concrete, testable requirement.
type Control struct {
	ID          string             `yaml:"id" json:"id"`
	Title       string             `yaml:"title" json:"title"`
	Description string             `yaml:"description" json:"description"`
	Rationale   string             `yaml:"rationale" json:"rationale"`
	Remediation string             `yaml:"remediation" json:"remediation"`
	Severity    posture.Severity   `yaml:"severity" json:"severity"`
	Service     string             `yaml:"service" json:"service"`
	TargetType  posture.TargetType `yaml:"target_type" json:"target_type"`
	// Check says how the control is evaluated.
	Check Check `yaml:"check" json:"check"`
	// Refs cites the requirements the control tests, by benchmark id, e.g.
	// {linux-cis: ["5.1.20"], linux-nist: ["AC-6(2)"]}. A cited requirement that no document
	// declares is created with the control's title.
	Refs map[string][]string `yaml:"refs,omitempty" json:"refs,omitempty"`

	// refs are the (benchmark, requirement) pairs that cite the control; filled at load.
	refs []Reference
}

// Reference names one benchmark requirement that a control tests.
type Reference struct {
	BenchmarkID   string
	RequirementID string
}

// References returns the benchmark requirements that cite the control, sorted.
func (c *Control) References() []Reference { return c.refs }

// Benchmark is a framework's set of requirements for one target type.
type Benchmark struct {
	ID string `yaml:"id" json:"id"`
	// ShortName resolves against a target type: cis, gdpr, hipaa, pci-dss, soc-2, nist.
	ShortName    string             `yaml:"short_name" json:"short_name"`
	Framework    string             `yaml:"framework" json:"framework"`
	Title        string             `yaml:"title" json:"title"`
	Version      string             `yaml:"version" json:"version"`
	TargetType   posture.TargetType `yaml:"target_type" json:"target_type"`
	Requirements []Requirement      `yaml:"requirements" json:"requirements"`
}

// Requirement is one of the framework's own items (CIS 5.2.7, HIPAA 164.312(b), ...) with the
// controls that test it.
type Requirement struct {
	ID       string   `yaml:"id" json:"id"`
	Title    string   `yaml:"title" json:"title"`
	Controls []string `yaml:"controls" json:"controls"`
}

// ControlIDs returns every control the benchmark uses, each once, sorted.
func (b *Benchmark) ControlIDs() []string {
	seen := map[string]bool{}
	var ids []string
	for _, r := range b.Requirements {
		for _, id := range r.Controls {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	return ids
}

// Catalog is a validated, immutable set of controls and benchmarks.
type Catalog struct {
	controls   map[string]*Control
	benchmarks map[string]*Benchmark
	version    string
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Load reads every *.yaml file of fsys (recursively) into one catalogue and validates it.
func Load(fsys fs.FS) (*Catalog, error) {
	b := newBuilder()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || (path.Ext(p) != ".yaml" && path.Ext(p) != ".yml") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		return b.add(p, data)
	})
	if err != nil {
		return nil, err
	}
	return b.build()
}

// Merge returns a catalogue holding c plus the documents of fsys (an operator's extra controls
// and benchmarks). An id defined twice is an error.
func (c *Catalog) Merge(fsys fs.FS) (*Catalog, error) {
	extra, err := Load(fsys)
	if err != nil {
		return nil, err
	}
	b := newBuilder()
	for _, src := range []*Catalog{c, extra} {
		doc := Document{Controls: src.Controls(), Benchmarks: src.Benchmarks()}
		data, err := yaml.Marshal(doc)
		if err != nil {
			return nil, err
		}
		if err := b.add("merged", data); err != nil {
			return nil, err
		}
	}
	return b.build()
}

type builder struct {
	controls   map[string]*Control
	benchmarks map[string]*Benchmark
	reqDecls   map[string][]Requirement
	hash       io.Writer
	sum        func() []byte
	errs       []error
}

func newBuilder() *builder {
	h := sha256.New()
	return &builder{controls: map[string]*Control{}, benchmarks: map[string]*Benchmark{}, reqDecls: map[string][]Requirement{}, hash: h, sum: func() []byte { return h.Sum(nil) }}
}

func (b *builder) add(name string, data []byte) error {
	var doc Document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w", name, err)
	}
	b.hash.Write(data)
	for _, c := range doc.Controls {
		if _, dup := b.controls[c.ID]; dup {
			b.errs = append(b.errs, fmt.Errorf("%s: control %q defined twice", name, c.ID))
			continue
		}
		b.controls[c.ID] = c
	}
	for _, bm := range doc.Benchmarks {
		if _, dup := b.benchmarks[bm.ID]; dup {
			b.errs = append(b.errs, fmt.Errorf("%s: benchmark %q defined twice", name, bm.ID))
			continue
		}
		b.benchmarks[bm.ID] = bm
	}
	for bid, reqs := range doc.Requirements {
		b.reqDecls[bid] = append(b.reqDecls[bid], reqs...)
	}
	return nil
}

// mergeRequirements folds requirement declarations and control refs into the benchmarks.
func (b *builder) mergeRequirements() []error {
	var errs []error
	index := map[string]map[string]int{}
	for id, bm := range b.benchmarks {
		index[id] = map[string]int{}
		for i, r := range bm.Requirements {
			index[id][r.ID] = i
		}
	}
	add := func(bid string, r Requirement, origin string) {
		bm, ok := b.benchmarks[bid]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: unknown benchmark %q", origin, bid))
			return
		}
		if i, ok := index[bid][r.ID]; ok {
			cur := &bm.Requirements[i]
			if cur.Title == "" {
				cur.Title = r.Title
			} else if r.Title != "" && r.Title != cur.Title && !strings.HasPrefix(origin, "control") {
				errs = append(errs, fmt.Errorf("%s: benchmark %q requirement %q is declared with two titles (%q and %q)", origin, bid, r.ID, cur.Title, r.Title))
			}
			for _, c := range r.Controls {
				if !slices.Contains(cur.Controls, c) {
					cur.Controls = append(cur.Controls, c)
				}
			}
			return
		}
		index[bid][r.ID] = len(bm.Requirements)
		bm.Requirements = append(bm.Requirements, Requirement{ID: r.ID, Title: r.Title, Controls: slices.Clone(r.Controls)})
	}
	bids := make([]string, 0, len(b.reqDecls))
	for bid := range b.reqDecls {
		bids = append(bids, bid)
	}
	sort.Strings(bids)
	for _, bid := range bids {
		for _, r := range b.reqDecls[bid] {
			if r.ID == "" {
				errs = append(errs, fmt.Errorf("requirements of %q: a requirement has no id", bid))
				continue
			}
			add(bid, r, "requirements of "+bid)
		}
	}
	ids := make([]string, 0, len(b.controls))
	for id := range b.controls {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := b.controls[id]
		for bid, reqs := range c.Refs {
			for _, rid := range reqs {
				add(bid, Requirement{ID: rid, Title: c.Title, Controls: []string{c.ID}}, fmt.Sprintf("control %q refs", c.ID))
			}
		}
	}
	for _, bm := range b.benchmarks {
		slices.SortStableFunc(bm.Requirements, func(x, y Requirement) int { return NaturalCompare(x.ID, y.ID) })
	}
	return errs
}

// NaturalCompare orders requirement ids the way people read them: "1.2" < "1.10",
// "AC-2" < "AC-12", "164.308(a)(1)" < "164.312(b)".
func NaturalCompare(a, b string) int {
	for a != "" && b != "" {
		ai, bi := chunk(a), chunk(b)
		ca, cb := a[:ai], b[:bi]
		da, db := isDigit(ca[0]), isDigit(cb[0])
		switch {
		case da && db:
			na, nb := strings.TrimLeft(ca, "0"), strings.TrimLeft(cb, "0")
			if len(na) != len(nb) {
				return len(na) - len(nb)
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
		case da != db:
			if da {
				return -1
			}
			return 1
		default:
			if c := strings.Compare(ca, cb); c != 0 {
				return c
			}
		}
		a, b = a[ai:], b[bi:]
	}
	return len(a) - len(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func chunk(s string) int {
	d := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == d {
		i++
	}
	return i
}

func (b *builder) build() (*Catalog, error) {
	errs := append(b.errs, b.mergeRequirements()...)
	for _, c := range b.controls {
		c.refs = nil
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	shortNames := map[string]string{}
	for _, bm := range b.benchmarks {
		if err := bm.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		key := string(bm.TargetType) + "/" + bm.ShortName
		if other, dup := shortNames[key]; dup {
			errs = append(errs, fmt.Errorf("benchmarks %q and %q share short name %q for target type %s", other, bm.ID, bm.ShortName, bm.TargetType))
		}
		shortNames[key] = bm.ID
		for _, r := range bm.Requirements {
			for _, id := range r.Controls {
				c, ok := b.controls[id]
				if !ok {
					errs = append(errs, fmt.Errorf("benchmark %q requirement %q: unknown control %q", bm.ID, r.ID, id))
					continue
				}
				if c.TargetType != bm.TargetType {
					errs = append(errs, fmt.Errorf("benchmark %q (%s) requirement %q: control %q is for %s", bm.ID, bm.TargetType, r.ID, id, c.TargetType))
					continue
				}
				c.refs = append(c.refs, Reference{BenchmarkID: bm.ID, RequirementID: r.ID})
			}
		}
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return nil, fmt.Errorf("invalid catalogue: %w", errors.Join(errs...))
	}
	for _, c := range b.controls {
		slices.SortFunc(c.refs, func(x, y Reference) int {
			return strings.Compare(x.BenchmarkID+" "+x.RequirementID, y.BenchmarkID+" "+y.RequirementID)
		})
		c.refs = slices.Compact(c.refs)
	}
	return &Catalog{controls: b.controls, benchmarks: b.benchmarks, version: hex.EncodeToString(b.sum())[:12]}, nil
}

// Validate checks a control's fields and its check.
func (c *Control) Validate() error {
	if !idPattern.MatchString(c.ID) {
		return fmt.Errorf("control id %q: use lower-case letters, digits, '.', '_' and '-'", c.ID)
	}
	var missing []string
	for name, v := range map[string]string{"title": c.Title, "description": c.Description, "rationale": c.Rationale, "remediation": c.Remediation, "service": c.Service} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("control %q: missing %s", c.ID, strings.Join(missing, ", "))
	}
	if _, err := posture.ParseSeverity(string(c.Severity)); err != nil {
		return fmt.Errorf("control %q: %w", c.ID, err)
	}
	if _, err := posture.ParseTargetType(string(c.TargetType)); err != nil {
		return fmt.Errorf("control %q: %w", c.ID, err)
	}
	if err := c.Check.Validate(); err != nil {
		return fmt.Errorf("control %q: check: %w", c.ID, err)
	}
	return nil
}

func (bm *Benchmark) validate() error {
	if !idPattern.MatchString(bm.ID) {
		return fmt.Errorf("benchmark id %q: use lower-case letters, digits, '.', '_' and '-'", bm.ID)
	}
	if bm.Title == "" || bm.Framework == "" || bm.Version == "" || bm.ShortName == "" {
		return fmt.Errorf("benchmark %q: title, framework, version and short_name are required", bm.ID)
	}
	if _, err := posture.ParseTargetType(string(bm.TargetType)); err != nil {
		return fmt.Errorf("benchmark %q: %w", bm.ID, err)
	}
	if len(bm.Requirements) == 0 {
		return fmt.Errorf("benchmark %q: no requirements", bm.ID)
	}
	seen := map[string]bool{}
	for _, r := range bm.Requirements {
		if r.ID == "" {
			return fmt.Errorf("benchmark %q: a requirement has no id", bm.ID)
		}
		if seen[r.ID] {
			return fmt.Errorf("benchmark %q: requirement %q listed twice", bm.ID, r.ID)
		}
		seen[r.ID] = true
		if len(r.Controls) == 0 {
			return fmt.Errorf("benchmark %q requirement %q: no controls", bm.ID, r.ID)
		}
	}
	return nil
}

// Version identifies the catalogue's content (a digest of its documents).
func (c *Catalog) Version() string { return c.version }

// Control looks a control up by id.
func (c *Catalog) Control(id string) (*Control, bool) {
	ctl, ok := c.controls[id]
	return ctl, ok
}

// Controls returns every control sorted by id.
func (c *Catalog) Controls() []*Control {
	out := make([]*Control, 0, len(c.controls))
	for _, ctl := range c.controls {
		out = append(out, ctl)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Benchmark looks a benchmark up by id.
func (c *Catalog) Benchmark(id string) (*Benchmark, bool) {
	bm, ok := c.benchmarks[id]
	return bm, ok
}

// Benchmarks returns every benchmark sorted by id.
func (c *Catalog) Benchmarks() []*Benchmark {
	out := make([]*Benchmark, 0, len(c.benchmarks))
	for _, bm := range c.benchmarks {
		out = append(out, bm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ResolveBenchmark finds a benchmark by id, or by short name (cis, gdpr, ...) for the target
// type.
func (c *Catalog) ResolveBenchmark(name string, tt posture.TargetType) (*Benchmark, error) {
	if bm, ok := c.benchmarks[name]; ok {
		if tt != "" && bm.TargetType != tt {
			return nil, fmt.Errorf("benchmark %q is for %s targets, not %s", name, bm.TargetType, tt)
		}
		return bm, nil
	}
	lower := strings.ToLower(name)
	for _, bm := range c.benchmarks {
		if bm.ShortName == lower && bm.TargetType == tt {
			return bm, nil
		}
	}
	var names []string
	for _, bm := range c.Benchmarks() {
		if tt == "" || bm.TargetType == tt {
			names = append(names, bm.ShortName)
		}
	}
	if tt == "" {
		return nil, fmt.Errorf("unknown benchmark %q", name)
	}
	return nil, fmt.Errorf("unknown benchmark %q for %s targets (known: %s)", name, tt, strings.Join(names, ", "))
}

// ControlSet resolves the controls of the given benchmarks: their union, each control once,
// sorted by id, without the excluded ones. Unknown benchmark or excluded control ids are
// errors.
func (c *Catalog) ControlSet(benchmarkIDs, exclude []string) ([]*Control, error) {
	skip := map[string]bool{}
	for _, id := range exclude {
		if _, ok := c.controls[id]; !ok {
			return nil, fmt.Errorf("unknown control %q", id)
		}
		skip[id] = true
	}
	seen := map[string]bool{}
	var out []*Control
	for _, bid := range benchmarkIDs {
		bm, ok := c.benchmarks[bid]
		if !ok {
			return nil, fmt.Errorf("unknown benchmark %q", bid)
		}
		for _, id := range bm.ControlIDs() {
			if seen[id] || skip[id] {
				continue
			}
			seen[id] = true
			out = append(out, c.controls[id])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// MarshalControls encodes controls as a catalogue document, the form a job carries them in.
func MarshalControls(controls []*Control) ([]byte, error) {
	return yaml.Marshal(Document{Controls: controls})
}

// MaxControlsDocument bounds the size of a controls document taken from a job.
const MaxControlsDocument = 8 << 20

// UnmarshalControls decodes and validates a controls document taken from a job.
func UnmarshalControls(data []byte) ([]*Control, error) {
	if len(data) > MaxControlsDocument {
		return nil, fmt.Errorf("controls document is %d bytes; the limit is %d", len(data), MaxControlsDocument)
	}
	var doc Document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode controls: %w", err)
	}
	if len(doc.Benchmarks) > 0 {
		return nil, errors.New("decode controls: a job carries controls only")
	}
	seen := map[string]bool{}
	for _, c := range doc.Controls {
		if err := c.Validate(); err != nil {
			return nil, err
		}
		if seen[c.ID] {
			return nil, fmt.Errorf("control %q listed twice", c.ID)
		}
		seen[c.ID] = true
	}
	return doc.Controls, nil
}
