package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestRuntimeProfilesOnlyOnTheDebugAddress: --debug-addr serves Go's profiles, and the main
// HTTP listener, which faces users, does not.
func TestRuntimeProfilesOnlyOnTheDebugAddress(t *testing.T) {
	h := startConsole(t, consoleOptions{})
	if h.info.DebugAddr == "" {
		t.Fatal("the console reports no debug address")
	}
	code, body := httpGet(t, "http://"+h.info.DebugAddr+"/debug/pprof/goroutine?debug=1")
	if code != http.StatusOK || !strings.HasPrefix(body, "goroutine profile: total ") {
		t.Fatalf("debug address: %d %.60q; want 200 and a goroutine profile", code, body)
	}
	if code, body := httpGet(t, "http://"+h.info.HTTPAddr+"/debug/pprof/goroutine?debug=1"); strings.HasPrefix(body, "goroutine profile") {
		t.Fatalf("the user-facing HTTP listener served a profile (%d)", code)
	}
}
