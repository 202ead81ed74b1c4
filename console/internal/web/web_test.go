package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// get performs one request against the handler.
func get(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func readStatic(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(static, "static/"+name)
	if err != nil {
		t.Fatalf("read embedded %s: %v", name, err)
	}
	return string(b)
}

func checkSecurityHeaders(t *testing.T, target string, rec *httptest.ResponseRecorder) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy":    "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'",
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "same-origin",
		"X-Frame-Options":            "DENY",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s: header %s = %q, want %q", target, k, got, v)
		}
	}
}

func TestIndexForRootAndClientRoutes(t *testing.T) {
	h := Handler()
	index := readStatic(t, "index.html")
	for _, target := range []string{"/", "/index.html", "/posture", "/scans/scn_123", "/nodes/node-1/history", "/index.html/x"} {
		rec := get(t, h, http.MethodGet, target, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: status %d, want 200", target, rec.Code)
		}
		if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", target, got)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", target, got)
		}
		if rec.Body.String() != index {
			t.Errorf("GET %s: body is not index.html", target)
		}
		checkSecurityHeaders(t, target, rec)
	}
}

func TestAssetsContentTypes(t *testing.T) {
	h := Handler()
	want := map[string]string{
		".css": "text/css; charset=utf-8",
		".js":  "text/javascript; charset=utf-8",
		".svg": "image/svg+xml",
	}
	n := 0
	err := fs.WalkDir(static, "static/assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		target := strings.TrimPrefix(name, "static")
		ct, ok := want[path.Ext(name)]
		if !ok {
			t.Errorf("%s: no expected content type for extension %q; add it to contentType and this test", target, path.Ext(name))
			return nil
		}
		rec := get(t, h, http.MethodGet, target, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", target, rec.Code)
			return nil
		}
		if got := rec.Header().Get("Content-Type"); got != ct {
			t.Errorf("GET %s: Content-Type %q, want %q", target, got, ct)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", target, got)
		}
		if rec.Header().Get("ETag") == "" {
			t.Errorf("GET %s: no ETag", target)
		}
		if rec.Body.String() != readStatic(t, strings.TrimPrefix(name, "static/")) {
			t.Errorf("GET %s: body differs from the embedded file", target)
		}
		checkSecurityHeaders(t, target, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("only %d assets embedded; the UI's files are missing", n)
	}
}

func TestUnknownPaths(t *testing.T) {
	h := Handler()
	for _, target := range []string{"/assets/missing.js", "/assets/", "/assets/js/", "/favicon.ico", "/robots.txt"} {
		rec := get(t, h, http.MethodGet, target, nil)
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, rec.Code)
		}
		checkSecurityHeaders(t, target, rec)
	}
	rec := get(t, h, http.MethodGet, "/api/v2/nodes", nil)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET /api/v2/nodes: status %d, want 404", rec.Code)
	}
	if got := rec.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("GET /api/v2/nodes: Content-Type %q, want application/json", got)
	}
	if got, want := rec.Body.String(), `{"error":{"code":"NOT_FOUND","message":"no such API route; see GET /api/v1/openapi.json for the routes"}}`+"\n"; got != want {
		t.Errorf("GET /api/v2/nodes: body %q, want %q", got, want)
	}
}

func TestMethods(t *testing.T) {
	h := Handler()
	rec := get(t, h, http.MethodHead, "/", nil)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD /: status %d with %d body bytes, want 200 and none", rec.Code, rec.Body.Len())
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		rec := get(t, h, m, "/posture", nil)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s /posture: status %d, want 405", m, rec.Code)
		}
		if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
			t.Errorf("%s /posture: Allow %q, want \"GET, HEAD\"", m, got)
		}
	}
}

func TestConditionalRequests(t *testing.T) {
	h := Handler()
	first := get(t, h, http.MethodGet, "/assets/app.css", nil)
	etag := first.Header().Get("ETag")
	if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(etag) {
		t.Fatalf("ETag %q is not a quoted hash", etag)
	}
	again := get(t, h, http.MethodGet, "/assets/app.css", http.Header{"If-None-Match": {etag}})
	if again.Code != http.StatusNotModified {
		t.Fatalf("GET with If-None-Match: status %d, want 304", again.Code)
	}
	if other := get(t, h, http.MethodGet, "/assets/js/main.js", nil).Header().Get("ETag"); other == etag {
		t.Errorf("two different files share the ETag %s", etag)
	}
}

// assetRefs finds the /assets/ paths index.html loads.
var assetRefs = regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`)

// moduleImports finds the specifiers of static imports in a JavaScript module.
var moduleImports = regexp.MustCompile(`(?m)^\s*import\s+(?:[^'";]+?\s+from\s+)?['"]([^'"]+)['"]`)

func TestIndexReferencesAndModuleGraph(t *testing.T) {
	h := Handler()
	index := readStatic(t, "index.html")
	refs := assetRefs.FindAllStringSubmatch(index, -1)
	if len(refs) < 3 {
		t.Fatalf("index.html references %d assets, want the stylesheet, the icon and the main module", len(refs))
	}
	// Walk the module graph from the scripts index.html loads; every import must resolve to
	// an embedded file, and every embedded module must be reachable (no dead files).
	reached := map[string]bool{}
	var queue []string
	for _, m := range refs {
		target := m[1]
		if rec := get(t, h, http.MethodGet, target, nil); rec.Code != http.StatusOK {
			t.Errorf("index.html references %s, which answers %d", target, rec.Code)
		}
		if strings.HasSuffix(target, ".js") {
			queue = append(queue, target)
		}
	}
	for len(queue) > 0 {
		mod := queue[0]
		queue = queue[1:]
		if reached[mod] {
			continue
		}
		reached[mod] = true
		src := readStatic(t, strings.TrimPrefix(mod, "/"))
		for _, m := range moduleImports.FindAllStringSubmatch(src, -1) {
			spec := m[1]
			if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
				t.Errorf("%s imports %q; only relative imports of embedded modules are allowed", mod, spec)
				continue
			}
			dep := path.Join(path.Dir(mod), spec)
			if _, err := fs.Stat(static, "static"+dep); err != nil {
				t.Errorf("%s imports %s, which is not embedded", mod, dep)
				continue
			}
			queue = append(queue, dep)
		}
	}
	var unreached []string
	err := fs.WalkDir(static, "static/assets", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(name, ".js") && !reached[strings.TrimPrefix(name, "static")] {
			unreached = append(unreached, name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(unreached)
	if len(unreached) > 0 {
		t.Errorf("modules no page loads: %v", unreached)
	}
	if len(reached) < 10 {
		t.Errorf("the module graph reaches %d modules; the imports were not found", len(reached))
	}
}

// TestNoInlineCodeOrHTMLInjection keeps the page compatible with the CSP (no inline scripts,
// styles or handlers) and the scripts free of the DOM APIs that parse strings as HTML.
func TestNoInlineCodeOrHTMLInjection(t *testing.T) {
	index := readStatic(t, "index.html")
	scripts := regexp.MustCompile(`(?s)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(index, -1)
	if len(scripts) == 0 {
		t.Error("index.html loads no script")
	}
	for _, m := range scripts {
		if !strings.Contains(m[1], ` src="/assets/`) || strings.TrimSpace(m[2]) != "" {
			t.Errorf("index.html has an inline script %q; the Content-Security-Policy blocks it", m[0])
		}
	}
	for _, m := range regexp.MustCompile(`<style|\sstyle=|\son[a-z]+=`).FindAllString(index, -1) {
		t.Errorf("index.html has inline style or code %q; the Content-Security-Policy blocks it", m)
	}
	forbidden := regexp.MustCompile(`\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*['"]style['"]|DOMParser`)
	err := fs.WalkDir(static, "static/assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(name, ".js") {
			return err
		}
		b, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		for _, m := range forbidden.FindAllString(string(b), -1) {
			t.Errorf("%s uses %q; build the DOM with dom.js (createElement, textContent)", name, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
