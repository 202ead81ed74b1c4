package catalog

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
)

// KernelModuleCheck checks that kernel modules cannot be loaded: modprobe.d (/etc, /run,
// /usr/local/lib, /usr/lib and /lib, a file in an earlier directory hiding a same-named
// file in a later one) must send the module's install command to /bin/false or /bin/true,
// optionally also blacklist it, and the module must not be loaded (/proc/modules, when the
// root has one). A module that is neither shipped under /lib/modules nor loaded is not
// applicable (skip) when /lib/modules can be read. Each name is one result.
//
// Example:
//
//	check:
//	  kernel_module: {names: [cramfs], blacklist: true}
type KernelModuleCheck struct {
	// Names are module names; "-" and "_" are the same (usb-storage, usb_storage).
	Names StringList `yaml:"names" json:"names"`
	// Blacklist also requires a "blacklist <name>" line.
	Blacklist bool `yaml:"blacklist,omitempty" json:"blacklist,omitempty"`
}

var moduleNamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Validate checks the parameters.
func (k *KernelModuleCheck) Validate() error {
	if len(k.Names) == 0 {
		return errors.New("names: at least one module is required")
	}
	for _, n := range k.Names {
		if !moduleNamePattern.MatchString(n) {
			return fmt.Errorf("module name %q: want a kernel module name such as cramfs", n)
		}
	}
	return nil
}

// MountCheck checks a mount point: that it is a separate mount and/or that it carries mount
// options. The mount table is /etc/fstab plus, when the root has one, the live table
// (/proc/1/mountinfo or /proc/self/mountinfo); where both exist the live table decides and a
// disagreement is reported. Options must be set in every table that has the mount (an fstab
// line not mounted now still counts); option checks do not apply (skip) when neither table
// has it: the partition control reports that.
//
// Example:
//
//	check:
//	  mount: {path: /tmp, options: [nodev, nosuid, noexec]}
type MountCheck struct {
	Path string `yaml:"path" json:"path"`
	// Separate requires the path to be its own mount (partition, logical volume or tmpfs).
	Separate bool `yaml:"separate,omitempty" json:"separate,omitempty"`
	// Options must all be set on the mount (nodev, nosuid, noexec, ...).
	Options StringList `yaml:"options,omitempty" json:"options,omitempty"`
}

var mountOptionPattern = regexp.MustCompile(`^[a-z0-9_]+$`)

// Validate checks the parameters.
func (m *MountCheck) Validate() error {
	if err := validPath(m.Path); err != nil {
		return err
	}
	if !m.Separate && len(m.Options) == 0 {
		return errors.New("set separate, options or both")
	}
	for _, o := range m.Options {
		if !mountOptionPattern.MatchString(o) {
			return fmt.Errorf("option %q: want a mount option such as nodev", o)
		}
	}
	return nil
}

// GrubCheck checks the GRUB configuration: either that a superuser with a hashed password is
// set, or that every kernel boot line carries kernel parameters. The configuration read is
// the first of Config that exists; when none exists the control does not apply (skip). For
// kernel parameters, the live /proc/cmdline is checked too when the root has one.
//
// Example:
//
//	check:
//	  grub:
//	    kernel_args:
//	      - {name: audit_backlog_limit, expect: {min: 8192}}
type GrubCheck struct {
	// Config lists candidate grub.cfg paths, first existing wins (default
	// /boot/grub/grub.cfg, /boot/grub2/grub.cfg).
	Config StringList `yaml:"config,omitempty" json:"config,omitempty"`
	// Password requires "set superusers" naming a user with a password_pbkdf2 hash.
	Password bool `yaml:"password,omitempty" json:"password,omitempty"`
	// KernelArgs must be on every linux line (the last occurrence counts, as in the kernel).
	KernelArgs []KernelArg `yaml:"kernel_args,omitempty" json:"kernel_args,omitempty"`
}

// KernelArg is a kernel command-line parameter and what its value must satisfy; without
// Expect the parameter only has to be present.
type KernelArg struct {
	Name   string `yaml:"name" json:"name"`
	Expect *Value `yaml:"expect,omitempty" json:"expect,omitempty"`
}

var kernelArgPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// DefaultGrubConfigs returns the grub.cfg locations of Debian-family and RHEL-family hosts.
func DefaultGrubConfigs() []string {
	return []string{"/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"}
}

// Validate checks the parameters.
func (g *GrubCheck) Validate() error {
	for _, p := range g.Config {
		if err := validPath(p); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	if g.Password == (len(g.KernelArgs) > 0) {
		return errors.New("set exactly one of password and kernel_args")
	}
	for _, a := range g.KernelArgs {
		if !kernelArgPattern.MatchString(a.Name) {
			return fmt.Errorf("kernel_args: name %q: want a kernel parameter such as audit", a.Name)
		}
		if a.Expect != nil {
			if err := a.Expect.Validate(); err != nil {
				return fmt.Errorf("kernel_args: %s: expect: %w", a.Name, err)
			}
		}
	}
	return nil
}

// The file walk rules.
const (
	// WalkWorldWritable: no regular file is writable by others.
	WalkWorldWritable = "world_writable_files"
	// WalkStickyDirs: every directory writable by others has the sticky bit.
	WalkStickyDirs = "world_writable_dirs_sticky"
	// WalkUnowned: every file's owner has a passwd entry.
	WalkUnowned = "unowned"
	// WalkUngrouped: every file's group has a group entry.
	WalkUngrouped = "ungrouped"
	// WalkSUIDSGID: the set-uid and set-gid files. Without Allowed the inventory is one
	// info result for review; with Allowed each file outside it fails, and when there is
	// none the inventory passes.
	WalkSUIDSGID = "suid_sgid"
)

// Walk limit defaults.
const (
	DefaultWalkMaxFiles = 1_000_000
	DefaultWalkMaxDepth = 64
	DefaultWalkTimeout  = 30 * time.Second
)

// FileWalkCheck walks directory trees, bounded, and applies one rule to what it finds. The
// walk never follows symbolic links, stays out of /proc, /sys, /dev, Exclude, and the mount
// points of pseudo and network file systems named by the live mount table. It stops at
// MaxFiles entries, MaxDepth levels or Timeout; a partial walk says so, and never passes.
// Walks with the same roots, exclusions and limits are done once per scan and shared by
// every rule. Each offending file is one failing result.
//
// Example:
//
//	check:
//	  file_walk: {rule: unowned}
type FileWalkCheck struct {
	Rule string `yaml:"rule" json:"rule"`
	// Roots are the directories walked (default /).
	Roots StringList `yaml:"roots,omitempty" json:"roots,omitempty"`
	// Exclude are directories left out, in addition to the pseudo file systems.
	Exclude StringList `yaml:"exclude,omitempty" json:"exclude,omitempty"`
	// MaxFiles bounds the entries examined (default 1,000,000).
	MaxFiles int `yaml:"max_files,omitempty" json:"max_files,omitempty"`
	// MaxDepth bounds the directory depth below each root (default 64).
	MaxDepth int `yaml:"max_depth,omitempty" json:"max_depth,omitempty"`
	// Timeout bounds the walk's wall time, as a Go duration (default 30s).
	Timeout string `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	// Allowed lists the expected files of the suid_sgid rule, as absolute paths or
	// path.Match patterns (/usr/lib/*/utempter/utempter).
	Allowed StringList `yaml:"allowed,omitempty" json:"allowed,omitempty"`
}

// Validate checks the parameters.
func (w *FileWalkCheck) Validate() error {
	switch w.Rule {
	case WalkWorldWritable, WalkStickyDirs, WalkUnowned, WalkUngrouped, WalkSUIDSGID:
	default:
		return fmt.Errorf("rule %q: want one of %s", w.Rule, strings.Join([]string{WalkWorldWritable, WalkStickyDirs, WalkUnowned, WalkUngrouped, WalkSUIDSGID}, ", "))
	}
	for _, p := range append(append([]string{}, w.Roots...), w.Exclude...) {
		if err := validPath(p); err != nil {
			return err
		}
	}
	if len(w.Allowed) > 0 && w.Rule != WalkSUIDSGID {
		return fmt.Errorf("allowed applies to rule %s only", WalkSUIDSGID)
	}
	for _, p := range w.Allowed {
		if !path.IsAbs(p) {
			return fmt.Errorf("allowed %q: want an absolute path or pattern", p)
		}
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("allowed %q: %w", p, err)
		}
	}
	if w.MaxFiles < 0 || w.MaxDepth < 0 {
		return errors.New("max_files and max_depth: want 0 (the default) or more")
	}
	if _, err := w.TimeoutDuration(); err != nil {
		return err
	}
	return nil
}

// Limits returns the walk limits with the defaults filled in.
func (w *FileWalkCheck) Limits() (maxFiles, maxDepth int, timeout time.Duration) {
	maxFiles, maxDepth = w.MaxFiles, w.MaxDepth
	if maxFiles == 0 {
		maxFiles = DefaultWalkMaxFiles
	}
	if maxDepth == 0 {
		maxDepth = DefaultWalkMaxDepth
	}
	timeout, _ = w.TimeoutDuration()
	return maxFiles, maxDepth, timeout
}

// TimeoutDuration parses Timeout (DefaultWalkTimeout when empty).
func (w *FileWalkCheck) TimeoutDuration() (time.Duration, error) {
	if w.Timeout == "" {
		return DefaultWalkTimeout, nil
	}
	d, err := time.ParseDuration(w.Timeout)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("timeout %q: want a positive duration such as 30s", w.Timeout)
	}
	return d, nil
}
