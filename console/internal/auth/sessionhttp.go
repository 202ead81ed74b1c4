package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/palisadehq/palisade/console/internal/store"
)

// SessionPath is where the session endpoints live: POST signs in (the only request the
// console answers without credentials), GET returns the current session, DELETE signs out.
const SessionPath = "/api/v1/session"

// MaxSignInBodyBytes bounds the sign-in request body.
const MaxSignInBodyBytes = 4 << 10

// SessionInfo is the JSON answer of POST and GET /api/v1/session.
type SessionInfo struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// CSRFToken must be sent as the X-CSRF-Token header on every request that is not GET
	// or HEAD.
	CSRFToken string `json:"csrf_token"`
	// ExpiresAt is RFC 3339 in UTC.
	ExpiresAt string `json:"expires_at"`
}

// signInRequest is the JSON body of POST /api/v1/session.
type signInRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
}

// badCredentialsMessage is the one answer to a wrong name or password.
const badCredentialsMessage = "wrong name or password"

// Handler serves SessionPath; mount it at exactly that path beside the REST API. Its error
// answers have the REST API's JSON shape, {"error":{"code":"...","message":"..."}}.
func (s *Sessions) Handler() http.Handler {
	return http.HandlerFunc(s.serveSession)
}

func (s *Sessions) serveSession(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.URL.Path != SessionPath {
		writeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("no API route %s %s", r.Method, r.URL.Path))
		return
	}
	if msg := refuseQuery(r.URL.RawQuery); msg != "" {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", msg)
		return
	}
	switch r.Method {
	case http.MethodPost:
		s.signIn(w, r)
	case http.MethodGet, http.MethodHead:
		s.current(w, r)
	case http.MethodDelete:
		s.signOut(w, r)
	default:
		w.Header().Set("Allow", "DELETE, GET, HEAD, POST")
		writeError(w, http.StatusMethodNotAllowed, "UNIMPLEMENTED",
			fmt.Sprintf("method %s is not allowed on %s (allowed: DELETE, GET, HEAD, POST)", r.Method, SessionPath))
	}
}

// signIn answers POST: check the name and password, set the cookie, return the session.
func (s *Sessions) signIn(w http.ResponseWriter, r *http.Request) {
	// Only application/json: a cross-site HTML form cannot send it, so no other site can
	// sign a visitor in to an account of its choosing.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "INVALID_ARGUMENT",
			fmt.Sprintf("request body has Content-Type %q; send application/json", r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxSignInBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "RESOURCE_EXHAUSTED",
				fmt.Sprintf("request body is larger than %d bytes; send only a name and a password", MaxSignInBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "reading the request body failed: "+err.Error())
		return
	}
	var req signInRequest
	if err := decodeStrict(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", `invalid JSON request body: `+err.Error()+`; send {"name": "...", "password": "..."}`)
		return
	}
	if req.Name == "" || req.Password == "" {
		writeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "name and password are both required")
		return
	}
	cookie, sess, err := s.SignIn(r.Context(), req.Name, req.Password)
	switch {
	case errors.Is(err, ErrTooManyFailures):
		wait := s.failures.wait(req.Name, s.cfg.Now())
		w.Header().Set("Retry-After", strconv.Itoa(int(roundUp(wait)/time.Second)))
		writeError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", err.Error())
		return
	case errors.Is(err, ErrBadCredentials):
		writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", badCredentialsMessage)
		return
	case err != nil:
		s.internalError(w, r, err)
		return
	}
	// A session the browser held before is replaced, not left behind.
	if old, err := r.Cookie(SessionCookie); err == nil && wellFormedSecret(old.Value) {
		if err := s.cfg.Store.DeleteSession(r.Context(), HashToken(old.Value)); err != nil {
			s.log.Warn("deleting the replaced session failed", zap.Error(err))
		}
	}
	http.SetCookie(w, s.cookie(r, cookie, int(s.cfg.Lifetime/time.Second)))
	writeJSON(w, http.StatusOK, sessionInfo(sess))
}

// current answers GET: the session of the request's cookie.
func (s *Sessions) current(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requestSession(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, sessionInfo(sess))
}

// signOut answers DELETE: end the session (CSRF token required) and clear the cookie.
func (s *Sessions) signOut(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requestSession(w, r)
	if !ok {
		return
	}
	if !CSRFValid(r, sess) {
		writeError(w, http.StatusForbidden, "PERMISSION_DENIED", ErrCSRF.Error())
		return
	}
	if err := s.SignOut(r.Context(), sess); err != nil {
		s.internalError(w, r, err)
		return
	}
	http.SetCookie(w, s.cookie(r, "", -1))
	w.WriteHeader(http.StatusNoContent)
}

// requestSession looks up the session of the request's cookie, answering 401 (and clearing
// a cookie that no longer works) or 500 when there is none.
func (s *Sessions) requestSession(w http.ResponseWriter, r *http.Request) (store.Session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "not signed in; sign in with POST "+SessionPath)
		return store.Session{}, false
	}
	sess, err := s.Lookup(r.Context(), c.Value)
	if errors.Is(err, ErrUnauthenticated) {
		http.SetCookie(w, s.cookie(r, "", -1))
		writeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", err.Error())
		return store.Session{}, false
	}
	if err != nil {
		s.internalError(w, r, err)
		return store.Session{}, false
	}
	return sess, true
}

// cookie returns the session cookie with value; maxAge -1 deletes it. It is Secure when the
// request came over TLS.
func (s *Sessions) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	}
}

func (s *Sessions) internalError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("session request failed", zap.String(logMethod, r.Method), zap.Error(err))
	writeError(w, http.StatusInternalServerError, "INTERNAL", "internal error; see the console log")
}

func sessionInfo(sess store.Session) SessionInfo {
	return SessionInfo{
		Name: sess.UserName, Role: string(sess.Role), CSRFToken: sess.CSRFToken,
		ExpiresAt: sess.ExpiresAt.UTC().Format(time.RFC3339),
	}
}

// refuseQuery returns why a query string is refused ("" when it is empty): the session
// endpoints take no parameters, and a password must never travel in a URL.
func refuseQuery(raw string) string {
	if raw == "" {
		return ""
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return "malformed query string: " + err.Error()
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	return fmt.Sprintf("unknown query parameter %q; this route takes none", names[0])
}

// decodeStrict decodes exactly one JSON object with no unknown fields.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("text after the JSON object")
	}
	return nil
}

// writeJSON writes v as compact JSON ending in a newline.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "encoding the response failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// writeError writes the REST API's JSON error shape.
func writeError(w http.ResponseWriter, status int, code, message string) {
	type detail struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, status, struct {
		Error detail `json:"error"`
	}{detail{Code: code, Message: message}})
}
