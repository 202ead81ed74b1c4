// Command catalogdoc regenerates the generated sections of docs/catalogue.md (the check
// primitive reference and the tables of controls per benchmark) from the built-in catalogue
// and the doc comments of package catalog. Run it from the repository root:
//
//	go run ./pkg/catalog/cmd/catalogdoc
//
// or `make catalogue-doc`. With -check it changes nothing and exits 1 when the file is stale.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/catalog/catalogdoc"
)

func main() {
	doc := flag.String("doc", "docs/catalogue.md", "the document to update")
	src := flag.String("src", "pkg/catalog", "the directory of package catalog's Go sources")
	check := flag.Bool("check", false, "only report whether the document is up to date")
	flag.Parse()
	if err := run(*doc, *src, *check); err != nil {
		fmt.Fprintln(os.Stderr, "catalogdoc:", err)
		os.Exit(1)
	}
}

func run(doc, src string, check bool) error {
	cat, err := catalog.Default()
	if err != nil {
		return err
	}
	g, err := catalogdoc.New(catalogdoc.Options{Catalog: cat, SourceDir: src})
	if err != nil {
		return err
	}
	if !check {
		return g.UpdateFile(doc)
	}
	old, err := os.ReadFile(doc)
	if err != nil {
		return err
	}
	fresh, err := g.Update(old)
	if err != nil {
		return err
	}
	if !bytes.Equal(old, fresh) {
		return fmt.Errorf("%s is stale; run make catalogue-doc", doc)
	}
	return nil
}
