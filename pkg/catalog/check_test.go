package catalog

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestCheckValidate(t *testing.T) {
	tests := []struct {
		yaml    string
		wantErr string // "" for valid
	}{
		{"{file: {path: /etc/shadow, max_mode: '0640', owner: root, group: [root, shadow]}}", ""},
		{"{}", "no check primitive set"},
		{"{file: {path: /etc/a}, sshd: {key: X, expect: {equals: 'no'}}}", "2 check primitives set"},
		{"{file: {path: etc/a}}", "want an absolute, clean path"},
		{"{file: {path: /etc/a, max_mode: '0999'}}", "want octal permission bits"},
		{"{file: {path: /etc/a, state: absent, owner: root}}", "state absent takes no"},
		{"{file: {path: /etc/a, if_missing: maybe}}", "if_missing \"maybe\""},
		{"{file_content: {path: /etc/a}}", "set match, no_match or key"},
		{"{file_content: {path: /etc/a, match: '('}}", "match:"},
		{"{file_content: {path: /etc/a, key: K}}", "key and expect go together"},
		{"{sshd: {key: 'Permit Root', expect: {equals: 'no'}}}", "want an sshd keyword"},
		{"{sshd: {key: PermitRootLogin, expect: {}}}", "no condition set"},
		{"{sshd: {key: MaxAuthTries, expect: {min: 5, max: 4}}}", "min 5 is greater than max 4"},
		{"{sysctl: {keys: [], expect: {equals: '0'}}}", "at least one parameter"},
		{"{sysctl: {keys: 'net/ipv4/ip_forward', expect: {equals: '0'}}}", "want a dotted parameter name"},
		{"{package: {names: telnet, state: purged}}", "want installed or absent"},
		{"{package: {names: 'a b', state: absent}}", "is not valid"},
		{"{systemd_unit: {units: auditd, state: enabled}}", "want a full unit name"},
		{"{systemd_unit: {units: auditd.service, state: running}}", "want enabled, disabled or masked"},
		{"{accounts: {rule: everyone_happy}}", "rule \"everyone_happy\""},
		{"{login_defs: {key: pass_max_days, expect: {max: 1}}}", "upper-case login.defs key"},
		{"{only_if_packages: [''], package: {names: x, state: absent}}", "empty package name"},
	}
	for _, tc := range tests {
		var c Check
		if err := yaml.Unmarshal([]byte(tc.yaml), &c); err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		err := c.Validate()
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.yaml, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", tc.yaml, err, tc.wantErr)
		}
	}
}

func TestValueSatisfied(t *testing.T) {
	one, four := int64(1), int64(4)
	tests := []struct {
		v    Value
		in   string
		want bool
	}{
		{Value{Equals: "no"}, "no", true},
		{Value{Equals: "no"}, "No", false},
		{Value{Equals: "no", IgnoreCase: true}, "No", true},
		{Value{OneOf: []string{"INFO", "VERBOSE"}, IgnoreCase: true}, "verbose", true},
		{Value{OneOf: []string{"INFO", "VERBOSE"}}, "DEBUG", false},
		{Value{NotOneOf: []string{"yes"}}, "yes", false},
		{Value{Min: &one, Max: &four}, "4", true},
		{Value{Min: &one, Max: &four}, "0", false},
		{Value{Min: &one}, "abc", false},
		{Value{Match: "[0-7]{3,4}"}, "027", true},
		{Value{Match: "[0-7]{3}"}, "0277", false},
	}
	for _, tc := range tests {
		if got, why := tc.v.Satisfied(tc.in); got != tc.want {
			t.Errorf("%+v.Satisfied(%q) = %v (%s), want %v", tc.v, tc.in, got, why, tc.want)
		}
	}
	if d := (&Value{Min: &one, Max: &four}).Describe(); d != "between 1 and 4" {
		t.Errorf("Describe = %q", d)
	}
}

func TestStringListYAML(t *testing.T) {
	var v struct{ L StringList }
	if err := yaml.Unmarshal([]byte("l: one"), &v); err != nil || len(v.L) != 1 || v.L[0] != "one" {
		t.Fatalf("scalar: %v %v", v.L, err)
	}
	if err := yaml.Unmarshal([]byte("l: [a, b]"), &v); err != nil || len(v.L) != 2 {
		t.Fatalf("sequence: %v %v", v.L, err)
	}
	if err := yaml.Unmarshal([]byte("l: {a: b}"), &v); err == nil {
		t.Fatal("mapping accepted")
	}
}
