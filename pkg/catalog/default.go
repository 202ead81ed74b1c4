package catalog

import (
	"embed"
	"fmt"
	"io/fs"
	"sync"
)

//go:embed linux/*.yaml
var defaultFiles embed.FS

// Default loads the catalogue built into the binary: the Linux controls and the CIS, NIST SP
// 800-53 and PCI-DSS benchmarks that map them. Each call returns a fresh, validated
// Catalog.
func Default() (*Catalog, error) { return loadDefault() }

// loadDefault parses the embedded catalogue once per process; a Catalog is immutable, so every
// caller can share it.
var loadDefault = sync.OnceValues(func() (*Catalog, error) {
	sub, err := fs.Sub(defaultFiles, "linux")
	if err != nil {
		return nil, fmt.Errorf("default catalogue: %w", err)
	}
	c, err := Load(sub)
	if err != nil {
		return nil, fmt.Errorf("default catalogue: %w", err)
	}
	return c, nil
})
