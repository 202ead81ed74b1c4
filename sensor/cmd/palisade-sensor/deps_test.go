package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksNoConsoleDependencies keeps the sensor binary small and its attack surface narrow:
// no SQL drivers, no NATS server, nothing of the console.
func TestLinksNoConsoleDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	banned := []string{"modernc.org/sqlite", "github.com/jackc/pgx", "github.com/nats-io/nats-server", "github.com/pressly/goose", "github.com/palisadehq/palisade/console"}
	var found []string
	for _, pkg := range strings.Fields(string(out)) {
		for _, b := range banned {
			if strings.HasPrefix(pkg, b) {
				found = append(found, pkg)
			}
		}
	}
	if len(found) > 0 {
		t.Fatalf("the sensor links console dependencies: %v", found)
	}
}
