package catalog

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestFilesystemCheckValidate(t *testing.T) {
	tests := []struct {
		yaml    string
		wantErr string // "" for valid
	}{
		{"{kernel_module: {names: [cramfs, usb-storage], blacklist: true}}", ""},
		{"{kernel_module: {names: []}}", "at least one module"},
		{"{kernel_module: {names: 'cram fs'}}", "want a kernel module name"},
		{"{mount: {path: /tmp, separate: true, options: [nodev, noexec]}}", ""},
		{"{mount: {path: /tmp}}", "set separate, options or both"},
		{"{mount: {path: tmp, separate: true}}", "want an absolute, clean path"},
		{"{mount: {path: /tmp, options: ['no dev']}}", "want a mount option"},
		{"{grub: {password: true}}", ""},
		{"{grub: {kernel_args: [{name: audit, expect: {equals: '1'}}, {name: security}]}}", ""},
		{"{grub: {}}", "set exactly one of password and kernel_args"},
		{"{grub: {password: true, kernel_args: [{name: audit}]}}", "set exactly one of password and kernel_args"},
		{"{grub: {kernel_args: [{name: 'a b'}]}}", "want a kernel parameter"},
		{"{grub: {kernel_args: [{name: audit, expect: {}}]}}", "no condition set"},
		{"{grub: {config: [boot/grub.cfg], password: true}}", "config:"},
		{"{file_walk: {rule: unowned, roots: [/home], exclude: [/home/big], max_files: 10, max_depth: 3, timeout: 2s}}", ""},
		{"{file_walk: {rule: everything}}", "rule \"everything\""},
		{"{file_walk: {rule: unowned, roots: [home]}}", "want an absolute, clean path"},
		{"{file_walk: {rule: unowned, max_files: -1}}", "want 0 (the default) or more"},
		{"{file_walk: {rule: unowned, timeout: soon}}", "want a positive duration"},
		{"{file_walk: {rule: unowned, allowed: [/usr/bin/su]}}", "allowed applies to rule suid_sgid only"},
		{"{file_walk: {rule: suid_sgid, allowed: ['usr/bin/su']}}", "want an absolute path or pattern"},
		{"{file_walk: {rule: suid_sgid, allowed: ['/usr/[bin']}}", "syntax error in pattern"},
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
			t.Errorf("%s: error %v, want it to contain %q", tc.yaml, err, tc.wantErr)
		}
	}
}

func TestFileWalkLimits(t *testing.T) {
	w := FileWalkCheck{Rule: WalkUnowned}
	files, depth, timeout := w.Limits()
	if files != DefaultWalkMaxFiles || depth != DefaultWalkMaxDepth || timeout != DefaultWalkTimeout {
		t.Fatalf("defaults = %d %d %s", files, depth, timeout)
	}
	w = FileWalkCheck{Rule: WalkUnowned, MaxFiles: 5, MaxDepth: 2, Timeout: "1500ms"}
	files, depth, timeout = w.Limits()
	if files != 5 || depth != 2 || timeout != 1500*time.Millisecond {
		t.Fatalf("limits = %d %d %s", files, depth, timeout)
	}
}
