// Package nodeinfo describes the node a sensor inspects (hostname, OS, kernel, machine id),
// read from files under the host root, never by running a command.
package nodeinfo

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Info describes a node.
type Info struct {
	Hostname  string
	OSID      string
	OSVersion string
	OSName    string
	Kernel    string
	Arch      string
	MachineID string
}

// Read gathers what it can about the node under root; missing files leave fields empty.
func Read(root string) Info {
	if root == "" {
		root = "/"
	}
	read := func(p string) string {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil || len(data) > 1<<16 {
			return ""
		}
		return strings.TrimSpace(string(data))
	}
	info := Info{Arch: runtime.GOARCH}
	info.Hostname = read("etc/hostname")
	if h := read("proc/sys/kernel/hostname"); h != "" {
		info.Hostname = h
	}
	if info.Hostname == "" && (root == "/" || root == "") {
		info.Hostname, _ = os.Hostname()
	}
	info.Kernel = read("proc/sys/kernel/osrelease")
	info.MachineID = read("etc/machine-id")
	osr := read("etc/os-release")
	if osr == "" {
		osr = read("usr/lib/os-release")
	}
	kv := ParseOSRelease([]byte(osr))
	info.OSID, info.OSVersion, info.OSName = kv["ID"], kv["VERSION_ID"], kv["PRETTY_NAME"]
	return info
}

// ParseOSRelease parses os-release KEY=value lines, unquoting values.
func ParseOSRelease(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}
