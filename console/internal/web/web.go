// Package web holds the console's single-page user interface: plain HTML, CSS and JavaScript
// modules embedded in the binary and served without a front-end build. The page talks only
// to the REST/JSON API under /api/v1.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// static holds index.html and everything under assets/.
//
//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every response: everything comes from the console
// itself, nothing runs inline and no other site may frame the page.
const ContentSecurityPolicy = "default-src 'self'; base-uri 'none'; object-src 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// handler serves the page and its assets.
type handler struct {
	index  asset
	assets map[string]asset // keyed by the URL path, e.g. "/assets/app.js"
}

// Handler returns the user interface: index.html at "/" and at any other path that is not
// an asset (the page routes on the URL fragment), the files under /assets/, and a 404 for
// unknown assets and for paths under /api/ that the API did not claim. Every response
// carries the security headers.
func Handler() http.Handler {
	h, err := load(static)
	if err != nil {
		// The files are compiled in; a failure here is a build defect, caught by the tests.
		panic(err)
	}
	return h
}

// load reads every embedded file once and computes its validator.
func load(fsys fs.FS) (*handler, error) {
	root, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, err
	}
	h := &handler{assets: map[string]asset{}}
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := asset{
			body:        body,
			contentType: contentType(name),
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		}
		if name == "index.html" {
			h.index = a
		} else {
			h.assets["/"+name] = a
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if h.index.body == nil {
		return nil, fmt.Errorf("web: index.html is not among the embedded files: %w", fs.ErrNotExist)
	}
	return h, nil
}

// contentType is the media type of an embedded file, by extension, so that responses do not
// depend on the host's MIME tables.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	default:
		return "application/octet-stream"
	}
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: the user interface only answers GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/assets/"):
		a, ok := h.assets[p]
		if !ok {
			http.NotFound(w, r)
			return
		}
		serve(w, r, a)
	case p == "/api" || strings.HasPrefix(p, "/api/"):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"NOT_FOUND","message":"no such API route; see GET /api/v1/openapi.json for the routes"}}` + "\n"))
	case p == "/index.html":
		serve(w, r, h.index)
	case path.Ext(p) != "":
		// A file name outside /assets/ (favicon.ico, robots.txt): not part of the page.
		http.NotFound(w, r)
	default:
		serve(w, r, h.index)
	}
}

// serve writes one file; the browser revalidates on every use (the file names carry no
// version), and the ETag turns an unchanged file into a 304.
func serve(w http.ResponseWriter, r *http.Request, a asset) {
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// setSecurityHeaders adds the headers every response of the user interface carries.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}
