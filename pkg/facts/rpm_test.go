package facts

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // test-only: writes the rpmdb.sqlite fixtures
)

var updateRPMDB = flag.Bool("update-rpmdb", false, "rewrite the rpmdb.sqlite files of the engine's RHEL fixture roots")

// encodeRPMHeader builds a header blob the way rpm stores it in its database: a region entry
// first (as rpm writes), then the identity tags; epoch < 0 leaves the epoch out.
func encodeRPMHeader(p RPMPackage) []byte {
	type entry struct{ tag, typ, off, count uint32 }
	var data bytes.Buffer
	var ents []entry
	str := func(tag uint32, s string) {
		if s == "" {
			return
		}
		ents = append(ents, entry{tag, rpmTypeString, uint32(data.Len()), 1})
		data.WriteString(s)
		data.WriteByte(0)
	}
	str(RPMTagName, p.Name)
	str(RPMTagVersion, p.Version)
	str(RPMTagRelease, p.Release)
	str(RPMTagArch, p.Arch)
	ents = append(ents, entry{1004, rpmTypeI18NString, uint32(data.Len()), 1}) // summary, ignored
	data.WriteString("a package\x00")
	if p.Epoch >= 0 {
		for data.Len()%4 != 0 {
			data.WriteByte(0)
		}
		ents = append(ents, entry{RPMTagEpoch, rpmTypeInt32, uint32(data.Len()), 1})
		_ = binary.Write(&data, binary.BigEndian, uint32(p.Epoch))
	}
	region := entry{63, 7, uint32(data.Len()), 16}
	data.Write(make([]byte, 16))
	ents = append([]entry{region}, ents...)
	var out bytes.Buffer
	_ = binary.Write(&out, binary.BigEndian, uint32(len(ents)))
	_ = binary.Write(&out, binary.BigEndian, uint32(data.Len()))
	for _, e := range ents {
		_ = binary.Write(&out, binary.BigEndian, e)
	}
	out.Write(data.Bytes())
	return out.Bytes()
}

func TestParseRPMHeader(t *testing.T) {
	want := RPMPackage{Name: "openssh-server", Epoch: 0, Version: "8.7p1", Release: "38.el9", Arch: "x86_64"}
	blob := encodeRPMHeader(want)
	got, err := ParseRPMHeader(blob)
	if err != nil || got != want {
		t.Fatalf("ParseRPMHeader = %+v, %v; want %+v", got, err, want)
	}
	if got.EVR() != "0:8.7p1-38.el9" {
		t.Errorf("EVR %q", got.EVR())
	}
	noEpoch := RPMPackage{Name: "gpg-pubkey", Epoch: -1, Version: "fd431d51", Release: "4ae0493b"}
	got, err = ParseRPMHeader(append([]byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0}, encodeRPMHeader(noEpoch)...))
	if err != nil || got != noEpoch || got.EVR() != "fd431d51-4ae0493b" {
		t.Fatalf("with magic: %+v, %v", got, err)
	}
	bad := []struct {
		name string
		blob []byte
		want string
	}{
		{"short", []byte{0, 0, 0, 1}, "shorter than the 8-byte preamble"},
		{"no entries", make([]byte, 8), "0 index entries"},
		{"too long", append([]byte{0, 0, 0, 1, 0, 0, 1, 0}, make([]byte, 16)...), "need more than"},
		{"unterminated", []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0x03, 0xe8, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1, 'x'}, "not terminated"},
		{"epoch out of range", []byte{0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0x03, 0xeb, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 'x'}, "epoch entry"},
		{"no name", encodeRPMHeader(RPMPackage{Version: "1", Epoch: -1}), "no package name"},
	}
	for _, tc := range bad {
		if _, err := ParseRPMHeader(tc.blob); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// rpmFixtures are the package lists of the engine's RHEL-family fixture roots.
var rpmFixtures = map[string][]RPMPackage{
	"rhel-9": {
		{Name: "bash", Epoch: -1, Version: "5.1.8", Release: "9.el9", Arch: "x86_64"},
		{Name: "openssh-server", Epoch: -1, Version: "8.7p1", Release: "38.el9", Arch: "x86_64"},
		{Name: "openssh-clients", Epoch: -1, Version: "8.7p1", Release: "38.el9", Arch: "x86_64"},
		{Name: "libselinux", Epoch: -1, Version: "3.6", Release: "1.el9", Arch: "x86_64"},
		{Name: "selinux-policy", Epoch: -1, Version: "38.1.35", Release: "2.el9", Arch: "noarch"},
		{Name: "selinux-policy-targeted", Epoch: -1, Version: "38.1.35", Release: "2.el9", Arch: "noarch"},
		{Name: "policycoreutils", Epoch: -1, Version: "3.6", Release: "2.1.el9", Arch: "x86_64"},
		{Name: "firewalld", Epoch: -1, Version: "1.3.4", Release: "1.el9", Arch: "noarch"},
		{Name: "nftables", Epoch: 1, Version: "1.0.9", Release: "1.el9", Arch: "x86_64"},
		{Name: "rsyslog", Epoch: -1, Version: "8.2310.0", Release: "4.el9", Arch: "x86_64"},
		{Name: "chrony", Epoch: -1, Version: "4.5", Release: "1.el9", Arch: "x86_64"},
		{Name: "aide", Epoch: -1, Version: "0.16", Release: "100.el9", Arch: "x86_64"},
		{Name: "audit", Epoch: -1, Version: "3.1.2", Release: "2.el9", Arch: "x86_64"},
		{Name: "sudo", Epoch: -1, Version: "1.9.5p2", Release: "10.el9", Arch: "x86_64"},
		{Name: "dnf", Epoch: -1, Version: "4.14.0", Release: "9.el9", Arch: "noarch"},
		{Name: "crypto-policies", Epoch: -1, Version: "20240202", Release: "1.git283706d.el9", Arch: "noarch"},
		{Name: "kernel", Epoch: -1, Version: "5.14.0", Release: "427.13.1.el9_4", Arch: "x86_64"},
		{Name: "gpg-pubkey", Epoch: -1, Version: "fd431d51", Release: "4ae0493b"},
	},
	"rhel-9-bad": {
		{Name: "bash", Epoch: -1, Version: "5.1.8", Release: "9.el9", Arch: "x86_64"},
		{Name: "openssh-server", Epoch: -1, Version: "8.7p1", Release: "38.el9", Arch: "x86_64"},
		{Name: "setroubleshoot", Epoch: -1, Version: "3.3.32", Release: "1.el9", Arch: "x86_64"},
		{Name: "mcstrans", Epoch: -1, Version: "3.6", Release: "1.el9", Arch: "x86_64"},
		{Name: "chrony", Epoch: -1, Version: "4.5", Release: "1.el9", Arch: "x86_64"},
		{Name: "ntp", Epoch: -1, Version: "4.2.8p15", Release: "1.el9", Arch: "x86_64"},
		{Name: "dhcp-server", Epoch: 12, Version: "4.4.2", Release: "19.b1.el9", Arch: "x86_64"},
		{Name: "bind", Epoch: 32, Version: "9.16.23", Release: "15.el9", Arch: "x86_64"},
		{Name: "vsftpd", Epoch: -1, Version: "3.0.5", Release: "5.el9", Arch: "x86_64"},
		{Name: "httpd", Epoch: -1, Version: "2.4.57", Release: "8.el9", Arch: "x86_64"},
		{Name: "telnet-server", Epoch: 1, Version: "0.17", Release: "85.el9", Arch: "x86_64"},
		{Name: "xorg-x11-server-common", Epoch: -1, Version: "1.20.11", Release: "24.el9", Arch: "x86_64"},
		{Name: "postfix", Epoch: 2, Version: "3.5.9", Release: "24.el9", Arch: "x86_64"},
		{Name: "dnf", Epoch: -1, Version: "4.14.0", Release: "9.el9", Arch: "noarch"},
		{Name: "crypto-policies", Epoch: -1, Version: "20240202", Release: "1.git283706d.el9", Arch: "noarch"},
	},
}

// writeRPMDB writes an rpm database in SQLite format with rpm's own schema.
func writeRPMDB(t *testing.T, path string, pkgs []RPMPackage) {
	t.Helper()
	_ = os.Remove(path)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{
		"PRAGMA page_size=4096",
		"PRAGMA journal_mode=DELETE",
		"CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)",
		"CREATE TABLE 'Name' (key TEXT NOT NULL,hnum INTEGER NOT NULL,idx INTEGER NOT NULL,FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum))",
		"CREATE INDEX 'Name_key_idx' ON 'Name'(key ASC)",
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pkgs {
		if _, err := tx.Exec("INSERT INTO Packages (hnum, blob) VALUES (?, ?)", i+1, encodeRPMHeader(p)); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec("INSERT INTO Name (key, hnum, idx) VALUES (?, ?, 0)", p.Name, i+1); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRPMDBFixtures reads the committed rpmdb.sqlite of each RHEL fixture root and checks it
// holds the packages listed above (-update-rpmdb rewrites the files first).
func TestRPMDBFixtures(t *testing.T) {
	for root, want := range rpmFixtures {
		path := filepath.Join("..", "engine", "testdata", "roots", root, "var", "lib", "rpm", "rpmdb.sqlite")
		if *updateRPMDB {
			writeRPMDB(t, path, want)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatalf("%v (run go test ./facts -run TestRPMDBFixtures -update-rpmdb)", err)
		}
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadRPMDB(f, fi.Size())
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", root, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v\nwant %+v", root, got, want)
		}
	}
}

func TestReadRPMDBLarge(t *testing.T) {
	var want []RPMPackage
	for i := range 3000 {
		want = append(want, RPMPackage{Name: "pkg" + strings.Repeat("x", i%40) + string(rune('a'+i%26)), Epoch: int64(i % 3), Version: "1.0", Release: strings.Repeat("r", i%700), Arch: "noarch"})
	}
	path := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	writeRPMDB(t, path, want)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadRPMDB(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %d packages, they differ from the %d written", len(got), len(want))
	}
}

func FuzzParseRPMHeader(f *testing.F) {
	f.Add(encodeRPMHeader(RPMPackage{Name: "bash", Epoch: 1, Version: "5", Release: "1", Arch: "x86_64"}))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, blob []byte) {
		p, err := ParseRPMHeader(blob)
		if err == nil && p.Name == "" {
			t.Fatal("no error and no name")
		}
	})
}
