package sqlitefile_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	_ "modernc.org/sqlite" // test-only: writes the databases the reader is checked against

	"github.com/palisadehq/palisade/pkg/facts/sqlitefile"
)

type row struct {
	id   int64
	name string
	data []byte
	num  any
}

// makeDB writes a database with an SQL engine and returns its bytes.
func makeDB(t testing.TB, pageSize int, rows []row) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "t.sqlite")
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{
		fmt.Sprintf("PRAGMA page_size=%d", pageSize),
		"PRAGMA journal_mode=DELETE",
		"CREATE TABLE other (x TEXT)",
		"INSERT INTO other VALUES ('noise')",
		"CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, blob BLOB NOT NULL, num)",
		"CREATE INDEX packages_name ON Packages(name)",
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if _, err := tx.Exec("INSERT INTO Packages (hnum, name, blob, num) VALUES (?, ?, ?, ?)", r.id, r.name, r.data, r.num); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestScanMatchesSQL(t *testing.T) {
	var rows []row
	nums := []any{nil, int64(0), int64(1), int64(-1), int64(127), int64(-32768), int64(1 << 40), int64(-1 << 62), 3.25, "text"}
	for i := range 600 {
		size := (i * 37) % 300
		if i%50 == 0 {
			size = 20000 + i*10 // spills onto overflow pages
		}
		data := bytes.Repeat([]byte{byte(i)}, size)
		rows = append(rows, row{id: int64(i*3 + 1), name: fmt.Sprintf("pkg-%03d", i), data: data, num: nums[i%len(nums)]})
	}
	for _, ps := range []int{512, 4096, 65536} {
		t.Run(fmt.Sprint(ps), func(t *testing.T) {
			data := makeDB(t, ps, rows)
			db, err := sqlitefile.Open(bytes.NewReader(data), int64(len(data)), sqlitefile.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if db.PageSize() != ps {
				t.Fatalf("page size %d, want %d", db.PageSize(), ps)
			}
			root, err := db.Table("packages")
			if err != nil {
				t.Fatal(err)
			}
			i := 0
			err = db.Scan(root, func(rowid int64, cols []any) error {
				if i >= len(rows) {
					return errors.New("more rows than written")
				}
				w := rows[i]
				i++
				if rowid != w.id {
					return fmt.Errorf("rowid %d, want %d", rowid, w.id)
				}
				want := []any{nil, w.name, w.data, w.num}
				if len(w.data) == 0 {
					want[2] = []byte{}
				}
				if !reflect.DeepEqual(cols, want) {
					return fmt.Errorf("row %d: got %#v, want %#v", rowid, cols, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if i != len(rows) {
				t.Fatalf("scanned %d rows, want %d", i, len(rows))
			}
			if _, err := db.Table("missing"); err == nil || err.Error() != `no table "missing" in the schema` {
				t.Fatalf("Table(missing) error = %v", err)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	good := makeDB(t, 512, []row{{id: 1, name: "a", data: bytes.Repeat([]byte("x"), 3000)}})
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "shorter than the 100-byte header"},
		{"not sqlite", bytes.Repeat([]byte("x"), 200), "no SQLite 3 header"},
		{"bad page size", mutate(func(b []byte) []byte { b[16], b[17] = 0x03, 0x00; return b }), "page size 768"},
		{"utf16", mutate(func(b []byte) []byte { b[59] = 2; return b }), "text encoding 2"},
		{"schema page type", mutate(func(b []byte) []byte { b[100] = 0x07; return b }), "page 1 has type 0x07"},
		{"interior cycle", mutate(func(b []byte) []byte {
			b[100] = 0x05 // page 1 claims to be interior with no cells, right-most pointer to itself
			b[103], b[104] = 0, 0
			copy(b[108:112], []byte{0, 0, 0, 1})
			return b
		}), "page 1 is reached twice"},
		{"truncated", good[:len(good)-512], "outside the file's"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sqlitefile.Open(bytes.NewReader(tc.data), int64(len(tc.data)), sqlitefile.Options{})
			if err == nil {
				var root uint32
				root, err = db.Table("Packages")
				if err == nil {
					err = db.Scan(root, func(int64, []any) error { return nil })
				}
			}
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestPageLimit(t *testing.T) {
	data := makeDB(t, 512, []row{{id: 1, name: "a", data: make([]byte, 5000)}})
	_, err := sqlitefile.Open(bytes.NewReader(data), int64(len(data)), sqlitefile.Options{MaxPages: 3})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("the limit is 3")) {
		t.Fatalf("error %v, want the page limit", err)
	}
}

func TestVarint(t *testing.T) {
	tests := []struct {
		in    []byte
		want  uint64
		wantN int
	}{
		{[]byte{0x00}, 0, 1},
		{[]byte{0x7f}, 127, 1},
		{[]byte{0x81, 0x00}, 128, 2},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ^uint64(0), 9},
		{[]byte{0x81}, 0, 0},
		{nil, 0, 0},
	}
	for _, tc := range tests {
		v, n := sqlitefile.Varint(tc.in)
		if v != tc.want || n != tc.wantN {
			t.Errorf("Varint(%x) = %d, %d; want %d, %d", tc.in, v, n, tc.want, tc.wantN)
		}
	}
}

func FuzzScan(f *testing.F) {
	f.Add(makeDB(f, 512, []row{{id: 1, name: "a", data: bytes.Repeat([]byte("y"), 1500), num: 2.5}, {id: 2, name: "b", data: []byte("z")}}))
	f.Add([]byte("SQLite format 3\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := sqlitefile.Open(bytes.NewReader(data), int64(len(data)), sqlitefile.Options{MaxPages: 4096, MaxPayload: 1 << 20})
		if err != nil {
			return
		}
		for _, root := range []uint32{1, 2, 3} {
			_ = db.Scan(root, func(int64, []any) error { return nil })
		}
		_, _ = db.Table("Packages")
	})
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte{0x03, 0x01, 0x0f, 0x05, 'x'})
	f.Fuzz(func(t *testing.T, rec []byte) {
		_, _ = sqlitefile.ParseRecord(rec)
	})
}
