package facts

import (
	"reflect"
	"testing"
)

func TestParseAuditRules(t *testing.T) {
	in := "## comment\n-D\n-b 8192\n" +
		"-w /etc/sudoers.d/ -p aw -k scope\n" +
		"-a exit,always -F arch=x86_64 -S settimeofday,adjtimex -S clock_settime -F a0=0x0 -k time\n" +
		"-a always,exit -F arch=b64 -S open -F exit=-13 -F auid>=1000 -F auid!=4294967295 -F key=access\n" +
		"-a always,exit -C euid!=uid -F auid!=-1 -F arch=b32 -S execve\n" +
		"-a always,exit -F path=/usr/bin/chcon -F perm=x -F auid>=1000\n" +
		"-e 2\nnonsense\n"
	got := ParseAuditRules([]byte(in))
	want := []AuditRule{
		{Kind: AuditControl, Line: 2, Text: "-D", Flag: "-D"},
		{Kind: AuditControl, Line: 3, Text: "-b 8192", Flag: "-b", Value: "8192"},
		{Kind: AuditWatch, Line: 4, Text: "-w /etc/sudoers.d/ -p aw -k scope", Action: "always", List: "exit", Fields: []string{"watch=/etc/sudoers.d"}, Perms: "aw", Key: "scope"},
		{Kind: AuditSyscall, Line: 5, Text: "-a exit,always -F arch=x86_64 -S settimeofday,adjtimex -S clock_settime -F a0=0x0 -k time", Action: "always", List: "exit",
			Syscalls: []string{"adjtimex", "clock_settime", "settimeofday"}, Fields: []string{"a0=0", "arch=b64"}, Key: "time"},
		{Kind: AuditSyscall, Line: 6, Text: "-a always,exit -F arch=b64 -S open -F exit=-13 -F auid>=1000 -F auid!=4294967295 -F key=access", Action: "always", List: "exit",
			Syscalls: []string{"open"}, Fields: []string{"arch=b64", "auid!=unset", "auid>=1000", "exit=-EACCES"}, Key: "access"},
		{Kind: AuditSyscall, Line: 7, Text: "-a always,exit -C euid!=uid -F auid!=-1 -F arch=b32 -S execve", Action: "always", List: "exit",
			Syscalls: []string{"execve"}, Fields: []string{"C:euid!=uid", "arch=b32", "auid!=unset"}},
		{Kind: AuditSyscall, Line: 8, Text: "-a always,exit -F path=/usr/bin/chcon -F perm=x -F auid>=1000", Action: "always", List: "exit",
			Fields: []string{"auid>=1000", "watch=/usr/bin/chcon"}, Perms: "x"},
		{Kind: AuditControl, Line: 9, Text: "-e 2", Flag: "-e", Value: "2"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseAuditRules:\n got %+v\nwant %+v", got, want)
	}
}

func TestAuditRuleCovers(t *testing.T) {
	tests := []struct {
		have, want string
		covers     bool
	}{
		{"-w /etc/sudoers -p wa -k x", "-w /etc/sudoers -p wa", true},
		{"-w /etc/sudoers -p rwa", "-w /etc/sudoers -p wa", true},
		{"-w /etc/sudoers -p w", "-w /etc/sudoers -p wa", false},
		{"-w /etc/sudoers", "-w /etc/sudoers -p wa", true},
		{"-a always,exit -F path=/etc/sudoers -F perm=wa", "-w /etc/sudoers -p wa", true},
		{"-a always,exit -F arch=b64 -S adjtimex -S settimeofday -S stime", "-a always,exit -F arch=b64 -S adjtimex,settimeofday", true},
		{"-a always,exit -F arch=b64 -S adjtimex", "-a always,exit -F arch=b64 -S adjtimex,settimeofday", false},
		{"-a always,exit -F arch=b32 -S adjtimex,settimeofday", "-a always,exit -F arch=b64 -S adjtimex,settimeofday", false},
		{"-a never,exit -F arch=b64 -S adjtimex,settimeofday", "-a always,exit -F arch=b64 -S adjtimex,settimeofday", false},
		{"-a always,exit -F arch=b64 -S mount -F auid>=1000 -F auid!=-1 -k m", "-a always,exit -F arch=b64 -S mount -F auid>=1000 -F auid!=unset", true},
		{"-a always,exit -F arch=b64 -S mount -F auid>=1000 -F auid!=unset -F uid=0", "-a always,exit -F arch=b64 -S mount -F auid>=1000 -F auid!=unset", false},
		{"-e 2", "-e 2", true},
		{"-e 1", "-e 2", false},
	}
	for _, tc := range tests {
		h, ok1 := ParseAuditRule(tc.have)
		w, ok2 := ParseAuditRule(tc.want)
		if !ok1 || !ok2 {
			t.Fatalf("cannot parse %q or %q", tc.have, tc.want)
		}
		if got := h.Covers(w); got != tc.covers {
			t.Errorf("(%s).Covers(%s) = %v, want %v", tc.have, tc.want, got, tc.covers)
		}
	}
}

func FuzzParseAuditRules(f *testing.F) {
	f.Add([]byte("-w /etc/passwd -p wa -k identity\n-a always,exit -F arch=b64 -S open -F exit=-EACCES -F auid>=1000\n-e 2\n"))
	f.Add([]byte("-F\n-a\n-C =\n-F >=1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules := ParseAuditRules(data)
		for _, r := range rules {
			if r.Kind == "" || r.Line < 1 {
				t.Fatalf("bad rule %+v", r)
			}
			if !r.Covers(r) {
				t.Fatalf("rule does not cover itself: %+v", r)
			}
		}
	})
}
