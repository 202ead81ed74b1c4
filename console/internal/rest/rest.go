// Package rest maps the console's user API (consolev1.ConsoleService) onto REST/JSON under
// /api/v1/, for the web UI and for scripts. Requests and responses are the same protobuf
// messages the gRPC API uses, in protojson form (proto field names, enum values by their full
// names such as "STATUS_FAIL"), so both transports speak one shape. The package also serves
// the hand-written OpenAPI 3 document that describes the routes.
package rest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// MaxBodyBytes is the largest request body the API accepts.
const MaxBodyBytes = 1 << 20

// Prefix is the path every route of the API lives under.
const Prefix = "/api/v1/"

//go:embed openapi.json
var openAPIDocument []byte

// Log field names.
const (
	logMethod   = "method"
	logPath     = "path"
	logStatus   = "status"
	logDuration = "duration"
	logCode     = "code"
)

// Config holds what the handler needs.
type Config struct {
	// API serves the calls; normally the same server the gRPC listener uses.
	API consolev1.ConsoleServiceServer
	// Authenticate is called for every request before anything else. It returns the context
	// the API call runs in (carrying the caller's identity) or an error, which is answered
	// with 403 when it is a gRPC status error with code PermissionDenied (credentials that
	// are valid but not enough, such as a session without its CSRF token), with 500 when its
	// code is Internal (the credentials could not be checked), and with 401 otherwise.
	// Required: there is no unauthenticated mode.
	Authenticate func(r *http.Request) (context.Context, error)
	// Logger receives request logs (debug) and server-side failures (error). Optional.
	Logger *zap.Logger
	// Now is the clock exports are dated by; time.Now when nil.
	Now func() time.Time
}

// handler serves the REST API. It is immutable after construction.
type handler struct {
	api          consolev1.ConsoleServiceServer
	authenticate func(r *http.Request) (context.Context, error)
	log          *zap.Logger
	now          func() time.Time
	mux          *http.ServeMux
}

// apiFunc turns one request into one response message. Errors are either *httpError (bad
// input, answered as is) or errors from the API (gRPC status errors, mapped to HTTP codes).
// A nil message with a nil error means the function wrote the response itself (exports).
type apiFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request) (proto.Message, error)

// route is one entry of the routing table.
type route struct {
	pattern string // http.ServeMux pattern, method included
	status  int    // HTTP status of a successful answer
	fn      apiFunc
}

// NewHandler returns the http.Handler serving the REST API under /api/v1/. Mount it on the
// console's HTTP server at "/api/v1/" (it expects full paths, no prefix stripping). It panics
// when cfg.API or cfg.Authenticate is nil: both are programming errors, and a handler without
// authentication must never be served by accident.
func NewHandler(cfg Config) http.Handler {
	if cfg.API == nil {
		panic("rest: Config.API is nil")
	}
	if cfg.Authenticate == nil {
		panic("rest: Config.Authenticate is nil; pass a function that checks the request's credentials")
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	h := &handler{
		api:          cfg.API,
		authenticate: cfg.Authenticate,
		log:          log,
		now:          now,
		mux:          http.NewServeMux(),
	}
	for _, rt := range h.routes() {
		h.mux.Handle(rt.pattern, h.wrap(rt))
	}
	h.mux.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
	return h
}

// routes is the routing table of the API.
func (h *handler) routes() []route {
	return []route{
		{"GET /api/v1/nodes", http.StatusOK, h.listNodes},
		{"GET /api/v1/nodes/{node}", http.StatusOK, h.getNode},
		{"GET /api/v1/benchmarks", http.StatusOK, h.listBenchmarks},
		{"GET /api/v1/controls", http.StatusOK, h.listControls},
		{"POST /api/v1/scans", http.StatusCreated, withBody(h, consolev1.ConsoleServiceServer.StartScan)},
		{"GET /api/v1/scans", http.StatusOK, h.listScans},
		{"GET /api/v1/scans/{id}", http.StatusOK, h.getScan},
		{"POST /api/v1/scans/{id}/stop", http.StatusOK, h.stopScan},
		{"GET /api/v1/scans/{id}/results", http.StatusOK, h.listResults},
		{"GET /api/v1/scans/{id}/export", http.StatusOK, h.exportScan},
		{"GET /api/v1/compare", http.StatusOK, h.compareScans},
		{"GET /api/v1/controls/{id}", http.StatusOK, h.getControl},
		{"GET /api/v1/nodes/{node}/controls/{control}/history", http.StatusOK, h.listControlHistory},
		{"POST /api/v1/masks", http.StatusCreated, withBody(h, consolev1.ConsoleServiceServer.CreateMask)},
		{"GET /api/v1/masks", http.StatusOK, h.listMasks},
		{"DELETE /api/v1/masks/{id}", http.StatusOK, h.removeMask},
		{"POST /api/v1/enrolment-tokens", http.StatusCreated, withBody(h, consolev1.ConsoleServiceServer.CreateEnrolmentToken)},
		{"GET /api/v1/enrolment-tokens", http.StatusOK, h.listEnrolmentTokens},
		{"POST /api/v1/enrolment-tokens/{id}/revoke", http.StatusOK, h.revokeEnrolmentToken},
		{"POST /api/v1/api-tokens", http.StatusCreated, withBody(h, consolev1.ConsoleServiceServer.CreateAPIToken)},
		{"GET /api/v1/api-tokens", http.StatusOK, h.listAPITokens},
		{"POST /api/v1/api-tokens/{id}/revoke", http.StatusOK, h.revokeAPIToken},
		{"POST /api/v1/users", http.StatusCreated, withBody(h, consolev1.ConsoleServiceServer.CreateUser)},
		{"GET /api/v1/users", http.StatusOK, h.listUsers},
		{"DELETE /api/v1/users/{name}", http.StatusOK, h.deleteUser},
		{"GET /api/v1/posture", http.StatusOK, h.getPosture},
	}
}

// ServeHTTP authenticates the request, then routes it. Unknown paths and methods get JSON
// errors like every other failure.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	// No answer of the API may be cached or sniffed as another type, errors included.
	rec.Header().Set("Cache-Control", "no-store")
	rec.Header().Set("X-Content-Type-Options", "nosniff")
	defer func() {
		h.log.Debug("rest request",
			zap.String(logMethod, r.Method),
			zap.String(logPath, r.URL.Path),
			zap.Int(logStatus, rec.status),
			zap.Duration(logDuration, time.Since(start)))
	}()

	ctx, err := h.authenticate(r)
	if err != nil {
		msg := err.Error()
		st, ok := status.FromError(err)
		if ok {
			msg = st.Message()
		}
		if ok && (st.Code() == codes.PermissionDenied || st.Code() == codes.Internal) {
			writeError(rec, httpStatus(st.Code()), st.Code(), msg)
			return
		}
		rec.Header().Set("WWW-Authenticate", `Bearer realm="palisade"`)
		writeError(rec, http.StatusUnauthorized, codes.Unauthenticated, msg)
		return
	}
	if ctx == nil {
		ctx = r.Context()
	}
	r = r.WithContext(ctx)

	if _, pattern := h.mux.Handler(r); pattern == "" {
		h.notRouted(rec, r)
		return
	}
	h.mux.ServeHTTP(rec, r)
}

// notRouted answers a request no route matches: 404, or 405 when the path exists with other
// methods (the ServeMux knows which; its plain-text answer is replaced with JSON).
func (h *handler) notRouted(w http.ResponseWriter, r *http.Request) {
	probe := &probeWriter{header: http.Header{}}
	fallback, _ := h.mux.Handler(r)
	fallback.ServeHTTP(probe, r)
	switch probe.status {
	case http.StatusMethodNotAllowed:
		if allow := probe.header.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeError(w, http.StatusMethodNotAllowed, codes.Unimplemented,
			fmt.Sprintf("method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, probe.header.Get("Allow")))
	case http.StatusMovedPermanently, http.StatusPermanentRedirect, http.StatusTemporaryRedirect, http.StatusFound:
		http.Redirect(w, r, probe.header.Get("Location"), probe.status)
	default:
		writeError(w, http.StatusNotFound, codes.NotFound,
			fmt.Sprintf("no API route %s %s; see GET %sopenapi.json for the routes", r.Method, r.URL.Path, Prefix))
	}
}

// wrap turns a route into an http.Handler: it calls the route's function and writes its
// message or its error.
func (h *handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg, err := rt.fn(r.Context(), w, r)
		if err != nil {
			h.writeFailure(w, r, err)
			return
		}
		if msg == nil {
			return // written by the function
		}
		writeMessage(w, rt.status, msg)
	})
}

// writeFailure answers err: bad input as it was described, API errors by their gRPC code.
func (h *handler) writeFailure(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	if errors.As(err, &he) {
		writeError(w, he.status, he.code, he.message)
		return
	}
	st, ok := status.FromError(err)
	if !ok {
		// A plain error from the API is a bug on the server side; do not leak its text.
		h.log.Error("api call failed without a status",
			zap.String(logMethod, r.Method), zap.String(logPath, r.URL.Path), zap.Error(err))
		writeError(w, http.StatusInternalServerError, codes.Internal, "internal error; see the console log")
		return
	}
	code := httpStatus(st.Code())
	if code >= 500 {
		h.log.Error("api call failed",
			zap.String(logMethod, r.Method), zap.String(logPath, r.URL.Path),
			zap.String(logCode, st.Code().String()), zap.Error(err))
	}
	writeError(w, code, st.Code(), st.Message())
}

// httpError is bad input found before the API is called.
type httpError struct {
	status  int
	code    codes.Code
	message string
}

func (e *httpError) Error() string { return e.message }

// badRequest reports invalid input with 400.
func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, code: codes.InvalidArgument, message: fmt.Sprintf(format, args...)}
}

// httpStatus maps a gRPC code to the HTTP status the REST API answers with.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.InvalidArgument, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.NotFound:
		return http.StatusNotFound
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.FailedPrecondition, codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// codeName returns the error code of the JSON error body: the gRPC code's name in the
// upper-case form of the google.rpc.Code enum.
func codeName(c codes.Code) string {
	switch c {
	case codes.OK:
		return "OK"
	case codes.Canceled:
		return "CANCELLED"
	case codes.InvalidArgument:
		return "INVALID_ARGUMENT"
	case codes.DeadlineExceeded:
		return "DEADLINE_EXCEEDED"
	case codes.NotFound:
		return "NOT_FOUND"
	case codes.AlreadyExists:
		return "ALREADY_EXISTS"
	case codes.PermissionDenied:
		return "PERMISSION_DENIED"
	case codes.ResourceExhausted:
		return "RESOURCE_EXHAUSTED"
	case codes.FailedPrecondition:
		return "FAILED_PRECONDITION"
	case codes.Aborted:
		return "ABORTED"
	case codes.OutOfRange:
		return "OUT_OF_RANGE"
	case codes.Unimplemented:
		return "UNIMPLEMENTED"
	case codes.Internal:
		return "INTERNAL"
	case codes.Unavailable:
		return "UNAVAILABLE"
	case codes.DataLoss:
		return "DATA_LOSS"
	case codes.Unauthenticated:
		return "UNAUTHENTICATED"
	default:
		return "UNKNOWN"
	}
}

// errorBody is the JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError writes the JSON error body with the HTTP status.
func writeError(w http.ResponseWriter, httpCode int, code codes.Code, message string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b) // ends with a newline
	enc.SetEscapeHTML(false)
	if err := enc.Encode(errorBody{Error: errorDetail{Code: codeName(code), Message: message}}); err != nil {
		// Encoding two strings cannot fail; answer plainly if it ever does.
		http.Error(w, message, httpCode)
		return
	}
	setJSONHeaders(w)
	w.WriteHeader(httpCode)
	_, _ = w.Write(b.Bytes())
}

// writeMessage writes msg as protojson with the HTTP status: proto field names, every field
// present (proto3 optional fields such as Score.score stay absent when unset, which is how
// "no score" is told apart from 0).
func writeMessage(w http.ResponseWriter, httpCode int, msg proto.Message) {
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(msg)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codes.Internal, "encoding the response failed: "+err.Error())
		return
	}
	// protojson varies its whitespace between builds on purpose; compacting gives scripts
	// and tests stable bytes.
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		writeError(w, http.StatusInternalServerError, codes.Internal, "encoding the response failed: "+err.Error())
		return
	}
	out.WriteByte('\n')
	setJSONHeaders(w)
	w.WriteHeader(httpCode)
	_, _ = w.Write(out.Bytes())
}

func setJSONHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
}

// decodeBody reads a JSON request body of at most MaxBodyBytes into msg. An empty body is
// the empty message. Unknown fields and anything but application/json are refused.
func decodeBody(w http.ResponseWriter, r *http.Request, msg proto.Message) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return &httpError{
				status:  http.StatusUnsupportedMediaType,
				code:    codes.InvalidArgument,
				message: fmt.Sprintf("request body has Content-Type %q; send application/json", ct),
			}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{
				status:  http.StatusRequestEntityTooLarge,
				code:    codes.ResourceExhausted,
				message: fmt.Sprintf("request body is larger than %d bytes; send a smaller body", MaxBodyBytes),
			}
		}
		return badRequest("reading the request body failed: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(body, msg); err != nil {
		return badRequest("invalid JSON request body: %s", protoErrorText(err))
	}
	return nil
}

// protoErrorText drops the "proto:" prefix (followed by a space or, at random, a no-break
// space) from a protobuf error.
func protoErrorText(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "proto:")
	return strings.TrimLeft(s, " \u00a0")
}

// serveOpenAPI serves the embedded OpenAPI document.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openAPIDocument)
}

// OpenAPI returns a copy of the OpenAPI 3 document served at /api/v1/openapi.json.
func OpenAPI() []byte { return bytes.Clone(openAPIDocument) }

// statusRecorder remembers the status written, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status = code
		s.wroteHeader = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// probeWriter captures what the ServeMux's own not-found/not-allowed handlers would answer.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header { return p.header }

func (p *probeWriter) WriteHeader(code int) {
	if p.status == 0 {
		p.status = code
	}
}

func (p *probeWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}
