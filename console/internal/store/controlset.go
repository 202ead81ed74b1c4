package store

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// ControlSetID names a scan's control set by its content, so that the many scans started
// together (every node of a fleet, each scan of a schedule) store their control set once.
func ControlSetID(controls []ScanControl) string {
	h := sha256.New()
	for _, c := range controls {
		for _, f := range []string{c.ControlID, c.Title, string(c.Severity), c.Service, strings.Join(c.Benchmarks, "\x1f")} {
			h.Write([]byte(f))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))
}
