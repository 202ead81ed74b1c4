// Package pkg_test holds repository-wide checks of the shared module.
package pkg_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoExec fails when a non-test Go file under pkg/ or sensor/ imports os/exec: the sensor
// and what it links never run commands.
func TestNoExec(t *testing.T) {
	for _, dir := range []string{".", filepath.Join("..", "sensor")} {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			continue
		}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || (strings.HasPrefix(d.Name(), ".") && d.Name() != ".")) {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, imp := range f.Imports {
				if path, _ := strconv.Unquote(imp.Path.Value); path == "os/exec" {
					t.Errorf("%s imports os/exec; the sensor never runs commands", p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
