package catalog

import "errors"

// Check says how a control is evaluated. Exactly one primitive is set.
type Check struct {
	// File checks a file's existence, mode, owner and group.
	File *FileCheck `yaml:"file,omitempty" json:"file,omitempty"`
}

// FileCheck checks one file's metadata.
type FileCheck struct {
	Path string `yaml:"path" json:"path"`
}

// Validate checks that exactly one primitive is set and its parameters are valid.
func (c *Check) Validate() error {
	if c.File == nil {
		return errors.New("no check primitive set")
	}
	return nil
}
