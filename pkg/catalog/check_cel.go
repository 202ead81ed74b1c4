package catalog

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
)

// CELCostLimit bounds the work one evaluation of a CEL expression may do (CEL's abstract
// cost units: roughly one per operation, more for strings and lists by their size).
const CELCostLimit = 1_000_000

// MaxCELExpression bounds the length of an expression, in bytes.
const MaxCELExpression = 4096

// Names of the CEL variables and functions over host facts (see CELCheck).
const (
	CELVarOS         = "os"
	CELVarPackages   = "packages"
	CELVarAptSources = "apt_sources"
	CELFuncInstalled = "installed"
	CELFuncFile      = "file"
	CELFuncGlob      = "glob"
	CELFuncGrep      = "grep"
	CELFuncSysctl    = "sysctl"
	CELFuncSSHD      = "sshd"
	CELFuncUnit      = "unit"
)

// sharedCELEnv builds the environment once per process: a cel.Env is immutable and safe for
// concurrent use, and a fresh one per expression would cost milliseconds each at load.
var sharedCELEnv = sync.OnceValues(NewCELEnv)

// NewCELEnv returns a new CEL environment of the kind controls are compiled in.
func NewCELEnv() (*cel.Env, error) {
	strMap := cel.MapType(cel.StringType, cel.StringType)
	late := func(name string, arg, result *cel.Type) cel.EnvOption {
		return cel.Function(name, cel.Overload(name+"_string", []*cel.Type{arg}, result, cel.LateFunctionBinding()))
	}
	return cel.NewEnv(
		ext.Strings(),
		cel.Variable(CELVarOS, strMap),
		cel.Variable(CELVarPackages, strMap),
		cel.Variable(CELVarAptSources, cel.ListType(cel.MapType(cel.StringType, cel.DynType))),
		late(CELFuncInstalled, cel.StringType, cel.BoolType),
		late(CELFuncFile, cel.StringType, cel.MapType(cel.StringType, cel.DynType)),
		late(CELFuncGlob, cel.StringType, cel.ListType(cel.StringType)),
		cel.Function(CELFuncGrep, cel.Overload(CELFuncGrep+"_string_string", []*cel.Type{cel.StringType, cel.StringType},
			cel.ListType(cel.MapType(cel.StringType, cel.DynType)), cel.LateFunctionBinding())),
		late(CELFuncSysctl, cel.StringType, cel.StringType),
		late(CELFuncSSHD, cel.StringType, cel.StringType),
		late(CELFuncUnit, cel.StringType, cel.StringType),
	)
}

// CELCheck evaluates a CEL expression over host facts; true passes, false fails. It is for
// rules no other primitive expresses (several packages or files at once, conditions between
// facts). The expression is compiled when the catalogue is validated: a syntax or type error
// fails the load with CEL's message. Evaluation is bounded (CELCostLimit cost units, two
// seconds); the evidence lists what the expression read (files, units, packages, settings).
//
// Variables and functions available to Expr and Applies:
//
//	os               map(string, string)  the os-release fields (ID, VERSION_ID, ID_LIKE, ...);
//	                                      empty when the root has no os-release
//	packages         map(string, string)  installed package name -> version, from the dpkg or
//	                                      rpm database (a control that reads it is skipped on
//	                                      a root with neither)
//	installed(name)  bool                 whether a package is installed (same database; the
//	                                      evidence names each package asked about)
//	apt_sources      list(map)            every APT source entry (one-line and deb822 formats)
//	                                      of /etc/apt/sources.list and sources.list.d: {file,
//	                                      line, type, uris: list, suites: list, components:
//	                                      list, options: map(string, string)}
//	file(path)       map(string, dyn)     {exists: bool, regular: bool, mode: int, uid: int,
//	                                      gid: int, content: string} of a file under the host
//	                                      root, links followed (content at most 1 MiB, "" for
//	                                      what is not a regular file)
//	glob(pattern)    list(string)         the paths matching a shell pattern, sorted
//	grep(path, re)   list(map)            the lines of a file matching a regular expression
//	                                      (RE2, applied to each line without its newline):
//	                                      [{line: int, text: string}]; empty when the file
//	                                      does not exist. Each match is listed in the evidence
//	                                      with its file and line, so prefer grep over
//	                                      file(p).content.matches for rules about lines.
//	sysctl(key)      string               the effective kernel parameter: the live value when
//	                                      the root has /proc/sys, else the configured one
//	                                      ("" when neither)
//	sshd(keyword)    string               the effective global sshd setting (Include expanded,
//	                                      first value wins, OpenSSH default when absent; ""
//	                                      when unknown or sshd is not configured)
//	unit(name)       string               a systemd unit's enablement: enabled, disabled,
//	                                      masked or not-installed
//
// The strings extension (split, trim, lowerAscii, substring, replace, ...) is available too.
//
// Example:
//
//	check:
//	  cel:
//	    expr: "!('chrony' in packages) || file('/etc/chrony/chrony.conf').content.matches(r'(?m)^\\s*(server|pool)\\s')"
//	    resource: /etc/chrony/chrony.conf
//	    message: chrony is installed but names no time server
type CELCheck struct {
	// Expr is the expression; it must yield a bool.
	Expr string `yaml:"expr" json:"expr"`
	// Resource is what the result is about (default: the host).
	Resource string `yaml:"resource,omitempty" json:"resource,omitempty"`
	// Message says what a false result means; the reason of a failing result starts with it.
	Message string `yaml:"message,omitempty" json:"message,omitempty"`
	// Applies is an optional expression deciding whether the control applies at all: when it
	// is false the result is skip, naming it. Use it for "if X is in use, then ..." rules.
	Applies string `yaml:"applies,omitempty" json:"applies,omitempty"`

	compiled, appliesCompiled celCompiled
}

type celCompiled struct {
	once sync.Once
	prog cel.Program
	refs map[string]bool
	err  error
}

// Validate compiles the expression and checks it yields a bool.
func (c *CELCheck) Validate() error {
	if strings.TrimSpace(c.Expr) == "" {
		return errors.New("expr is required")
	}
	if len(c.Expr) > MaxCELExpression {
		return fmt.Errorf("expr is %d bytes; the limit is %d", len(c.Expr), MaxCELExpression)
	}
	if len(c.Applies) > MaxCELExpression {
		return fmt.Errorf("applies is %d bytes; the limit is %d", len(c.Applies), MaxCELExpression)
	}
	if _, _, err := c.Program(); err != nil {
		return fmt.Errorf("expr: %w", err)
	}
	if c.Applies != "" {
		if _, _, err := c.AppliesProgram(); err != nil {
			return fmt.Errorf("applies: %w", err)
		}
	}
	return nil
}

// AppliesProgram is Program for the Applies expression.
func (c *CELCheck) AppliesProgram() (cel.Program, map[string]bool, error) {
	return c.appliesCompiled.compile(c.Applies)
}

// Program returns the compiled program (compiled once, safe for concurrent use) and the
// names of the variables and functions of the environment the expression refers to.
func (c *CELCheck) Program() (cel.Program, map[string]bool, error) {
	return c.compiled.compile(c.Expr)
}

func (cc *celCompiled) compile(expr string) (cel.Program, map[string]bool, error) {
	cc.once.Do(func() {
		env, err := sharedCELEnv()
		if err != nil {
			cc.err = fmt.Errorf("cel environment: %w", err)
			return
		}
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			cc.err = iss.Err()
			return
		}
		if t := ast.OutputType(); !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
			cc.err = fmt.Errorf("the expression yields %s; it must yield a bool", t)
			return
		}
		prog, err := env.Program(ast, cel.CostLimit(CELCostLimit), cel.InterruptCheckFrequency(100))
		if err != nil {
			cc.err = err
			return
		}
		refs := map[string]bool{}
		for _, ref := range ast.NativeRep().ReferenceMap() {
			if ref.Name != "" {
				refs[ref.Name] = true
			}
			for _, id := range ref.OverloadIDs {
				refs[strings.TrimSuffix(id, "_string")] = true
			}
		}
		cc.prog, cc.refs = prog, refs
	})
	return cc.prog, cc.refs, cc.err
}
