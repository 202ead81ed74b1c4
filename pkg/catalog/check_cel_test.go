package catalog

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestCELCheckValidate(t *testing.T) {
	tests := []struct {
		expr string
		want string // "" for valid
	}{
		{"'chrony' in packages && os.ID == 'debian'", ""},
		{"file('/etc/x').exists", ""},
		{"apt_sources.all(s, s.type == 'deb')", ""},
		{"unit('x.service') == 'enabled' || sshd('permitrootlogin') == 'no' || sysctl('a.b') == '1'", ""},
		{"", "expr is required"},
		{"packages.size()", "it must yield a bool"},
		{"'a' in", "Syntax error"},
		{"nosuchvar == 1", "undeclared reference to 'nosuchvar'"},
		{"file(1).exists", "found no matching overload for 'file'"},
		{strings.Repeat("x", MaxCELExpression+1), "the limit is 4096"},
	}
	for _, tc := range tests {
		c := &CELCheck{Expr: tc.expr}
		err := c.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%.40q) = %v, want %q", tc.expr, err, tc.want)
		}
	}
}

func TestCELBadExpressionFailsLoad(t *testing.T) {
	doc := `controls:
  - id: x.cel
    title: t
    description: d
    rationale: r
    remediation: m
    severity: low
    service: Packages
    target_type: linux
    check:
      cel: {expr: "packages['a'] = 1"}
`
	_, err := Load(fstest.MapFS{"x.yaml": {Data: []byte(doc)}})
	if err == nil || !strings.Contains(err.Error(), `control "x.cel": check: cel: expr: ERROR: <input>:1:15: Syntax error`) {
		t.Fatalf("Load error = %v", err)
	}
}
