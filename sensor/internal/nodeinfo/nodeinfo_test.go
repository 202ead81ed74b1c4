package nodeinfo

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRead(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/hostname", "web-1\n")
	write("etc/machine-id", "0123456789abcdef\n")
	write("etc/os-release", "# comment\nID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME='Debian GNU/Linux 12 (bookworm)'\n")
	write("proc/sys/kernel/osrelease", "6.1.0-18-amd64\n")
	got := Read(root)
	want := Info{Hostname: "web-1", OSID: "debian", OSVersion: "12", OSName: "Debian GNU/Linux 12 (bookworm)",
		Kernel: "6.1.0-18-amd64", MachineID: "0123456789abcdef", Arch: got.Arch}
	if got != want {
		t.Fatalf("Read() = %+v\nwant %+v", got, want)
	}
}
