package rest

import (
	"bytes"
	"context"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/palisadehq/palisade/console/internal/export"
	"github.com/palisadehq/palisade/pkg/posture"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

func (h *handler) listNodes(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	q, err := parseQuery(r, "target_type")
	if err != nil {
		return nil, err
	}
	tt, err := q.targetType()
	if err != nil {
		return nil, err
	}
	return h.api.ListNodes(ctx, &consolev1.ListNodesRequest{TargetType: tt})
}

func (h *handler) getNode(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return h.api.GetNode(ctx, &consolev1.GetNodeRequest{Node: r.PathValue("node")})
}

func (h *handler) listBenchmarks(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	q, err := parseQuery(r, "target_type", "with_requirements")
	if err != nil {
		return nil, err
	}
	tt, err := q.targetType()
	if err != nil {
		return nil, err
	}
	withReq, err := q.boolean("with_requirements")
	if err != nil {
		return nil, err
	}
	return h.api.ListBenchmarks(ctx, &consolev1.ListBenchmarksRequest{TargetType: tt, WithRequirements: withReq})
}

func (h *handler) listControls(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	q, err := parseQuery(r, "benchmark", "target_type")
	if err != nil {
		return nil, err
	}
	tt, err := q.targetType()
	if err != nil {
		return nil, err
	}
	bench, err := q.single("benchmark")
	if err != nil {
		return nil, err
	}
	return h.api.ListControls(ctx, &consolev1.ListControlsRequest{Benchmark: bench, TargetType: tt})
}

func (h *handler) listScans(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	q, err := parseQuery(r, "node", "state", "page_size", "page_token")
	if err != nil {
		return nil, err
	}
	node, err := q.single("node")
	if err != nil {
		return nil, err
	}
	stateText, err := q.single("state")
	if err != nil {
		return nil, err
	}
	var state sensorv1.ScanState
	if stateText != "" {
		if state, err = parseScanState(stateText); err != nil {
			return nil, badRequest("query parameter state: %v", err)
		}
	}
	size, err := q.pageSize()
	if err != nil {
		return nil, err
	}
	token, err := q.single("page_token")
	if err != nil {
		return nil, err
	}
	return h.api.ListScans(ctx, &consolev1.ListScansRequest{Node: node, State: state, PageSize: size, PageToken: token})
}

func (h *handler) getScan(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return h.api.GetScan(ctx, &consolev1.GetScanRequest{ScanId: r.PathValue("id")})
}

func (h *handler) stopScan(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return h.api.StopScan(ctx, &consolev1.StopScanRequest{ScanId: r.PathValue("id")})
}

func (h *handler) listResults(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	q, err := parseQuery(r, "benchmark", "status", "service", "severity", "masked", "q", "order_by", "page_size", "page_token")
	if err != nil {
		return nil, err
	}
	req := &consolev1.ListResultsRequest{ScanId: r.PathValue("id")}
	if req.Masked, err = q.maskedFilter(); err != nil {
		return nil, err
	}
	if req.Query, err = q.single("q"); err != nil {
		return nil, err
	}
	if req.OrderBy, err = q.oneOf("order_by", "control", "severity", "status"); err != nil {
		return nil, err
	}
	if req.Benchmark, err = q.single("benchmark"); err != nil {
		return nil, err
	}
	if req.Service, err = q.single("service"); err != nil {
		return nil, err
	}
	sev, err := q.single("severity")
	if err != nil {
		return nil, err
	}
	if sev != "" {
		parsed, err := posture.ParseSeverity(sev)
		if err != nil {
			return nil, badRequest("query parameter severity: %v", err)
		}
		req.Severity = string(parsed)
	}
	// status may repeat (status=fail&status=error) or list values with commas.
	seen := map[sensorv1.Status]bool{}
	for _, v := range q.values["status"] {
		for _, part := range strings.Split(v, ",") {
			st, err := parseStatus(strings.TrimSpace(part))
			if err != nil {
				return nil, badRequest("query parameter status: %v", err)
			}
			if !seen[st] {
				seen[st] = true
				req.Statuses = append(req.Statuses, st)
			}
		}
	}
	if req.PageSize, err = q.pageSize(); err != nil {
		return nil, err
	}
	if req.PageToken, err = q.single("page_token"); err != nil {
		return nil, err
	}
	return h.api.ListResults(ctx, req)
}

func (h *handler) listEnrolmentTokens(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return h.api.ListEnrolmentTokens(ctx, &consolev1.ListEnrolmentTokensRequest{})
}

func (h *handler) revokeEnrolmentToken(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return h.api.RevokeEnrolmentToken(ctx, &consolev1.RevokeEnrolmentTokenRequest{Id: r.PathValue("id")})
}

func (h *handler) getControl(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return h.api.GetControl(ctx, &consolev1.GetControlRequest{ControlId: r.PathValue("id")})
}

func (h *handler) compareScans(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	q, err := parseQuery(r, "base", "head")
	if err != nil {
		return nil, err
	}
	req := &consolev1.CompareScansRequest{}
	if req.BaseScanId, err = q.single("base"); err != nil {
		return nil, err
	}
	if req.HeadScanId, err = q.single("head"); err != nil {
		return nil, err
	}
	if req.BaseScanId == "" || req.HeadScanId == "" {
		return nil, badRequest("query parameters base and head are both required: the ids of the two scans to compare")
	}
	return h.api.CompareScans(ctx, req)
}

func (h *handler) listControlHistory(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	q, err := parseQuery(r, "limit")
	if err != nil {
		return nil, err
	}
	limit, err := q.uint32("limit")
	if err != nil {
		return nil, err
	}
	return h.api.ListControlHistory(ctx, &consolev1.ListControlHistoryRequest{
		Node: r.PathValue("node"), ControlId: r.PathValue("control"), Limit: limit,
	})
}

func (h *handler) listMasks(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	q, err := parseQuery(r, "control_id", "node", "include_inactive")
	if err != nil {
		return nil, err
	}
	req := &consolev1.ListMasksRequest{}
	if req.ControlId, err = q.single("control_id"); err != nil {
		return nil, err
	}
	if req.Node, err = q.single("node"); err != nil {
		return nil, err
	}
	if req.IncludeInactive, err = q.boolean("include_inactive"); err != nil {
		return nil, err
	}
	return h.api.ListMasks(ctx, req)
}

func (h *handler) removeMask(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return h.api.RemoveMask(ctx, &consolev1.RemoveMaskRequest{MaskId: r.PathValue("id")})
}

func (h *handler) listAPITokens(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return h.api.ListAPITokens(ctx, &consolev1.ListAPITokensRequest{})
}

func (h *handler) revokeAPIToken(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return h.api.RevokeAPIToken(ctx, &consolev1.RevokeAPITokenRequest{Id: r.PathValue("id")})
}

func (h *handler) listUsers(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return h.api.ListUsers(ctx, &consolev1.ListUsersRequest{})
}

func (h *handler) deleteUser(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	if _, err := parseQuery(r); err != nil {
		return nil, err
	}
	return h.api.DeleteUser(ctx, &consolev1.DeleteUserRequest{Name: r.PathValue("name")})
}

// exportScan writes a scan as a file (export.Formats) for download. The whole file is
// rendered before anything is sent, so a failure is still answered as a JSON error.
func (h *handler) exportScan(ctx context.Context, w http.ResponseWriter, r *http.Request) (proto.Message, error) {
	q, err := parseQuery(r, "format")
	if err != nil {
		return nil, err
	}
	name, err := q.single("format")
	if err != nil {
		return nil, err
	}
	format, err := export.ParseFormat(name)
	if err != nil {
		return nil, badRequest("query parameter format: %v", err)
	}
	rep, err := export.Load(ctx, h.api, r.PathValue("id"), h.now())
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	if err := export.Write(&body, format, rep); err != nil {
		return nil, status.Errorf(codes.Internal, "rendering the %s export failed: %v", format, err)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", format.ContentType())
	hdr.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": export.Filename(rep.Scan.GetId(), format)}))
	hdr.Set("Content-Length", strconv.Itoa(body.Len()))
	if format == export.HTML {
		// The report is self-contained: nothing may load or run in it.
		hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body.Bytes())
	return nil, nil
}

// withBody serves a route whose whole request is the JSON body (it takes no query parameters)
// with call, a method expression of the API such as consolev1.ConsoleServiceServer.StartScan.
func withBody[Req any, PReq interface {
	*Req
	proto.Message
}, Resp proto.Message](h *handler, call func(consolev1.ConsoleServiceServer, context.Context, PReq) (Resp, error)) apiFunc {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request) (proto.Message, error) {
		if _, err := parseQuery(r); err != nil {
			return nil, err
		}
		req := PReq(new(Req))
		if err := decodeBody(w, r, req); err != nil {
			return nil, err
		}
		resp, err := call(h.api, ctx, req)
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
}

// query is a request's parsed query string.
type query struct {
	values url.Values
}

// parseQuery parses the query string strictly: malformed escapes and parameters the route
// does not know are refused, so a typo never silently widens a filter.
func parseQuery(r *http.Request, allowed ...string) (query, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return query{}, badRequest("malformed query string: %v", err)
	}
	var unknown []string
	for k := range values {
		known := false
		for _, a := range allowed {
			if k == a {
				known = true
				break
			}
		}
		if !known {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		if len(allowed) == 0 {
			return query{}, badRequest("unknown query parameter %q; this route takes none", unknown[0])
		}
		return query{}, badRequest("unknown query parameter %q (want one of %s)", unknown[0], strings.Join(allowed, ", "))
	}
	return query{values: values}, nil
}

// single returns the one value of a parameter ("" when absent); repeating it is an error.
func (q query) single(name string) (string, error) {
	vs := q.values[name]
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	default:
		return "", badRequest("query parameter %s is given %d times; give it once", name, len(vs))
	}
}

// targetType returns the validated target_type parameter ("" when absent).
func (q query) targetType() (string, error) {
	v, err := q.single("target_type")
	if err != nil || v == "" {
		return "", err
	}
	tt, err := posture.ParseTargetType(v)
	if err != nil {
		return "", badRequest("query parameter target_type: %v", err)
	}
	return string(tt), nil
}

// boolean returns a true/false parameter (false when absent).
func (q query) boolean(name string) (bool, error) {
	v, err := q.single(name)
	if err != nil || v == "" {
		return false, err
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("query parameter %s is %q; want true or false", name, v)
	}
	return b, nil
}

// pageSize returns the page_size parameter (0, the server's default, when absent).
func (q query) pageSize() (uint32, error) { return q.uint32("page_size") }

// uint32 returns a whole-number parameter (0 when absent).
func (q query) uint32(name string) (uint32, error) {
	v, err := q.single(name)
	if err != nil || v == "" {
		return 0, err
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, badRequest("query parameter %s is %q; want a whole number from 0 to %d", name, v, uint32(1<<32-1))
	}
	return uint32(n), nil
}

// oneOf returns a parameter that must be one of the given words ("" when absent).
func (q query) oneOf(name string, words ...string) (string, error) {
	v, err := q.single(name)
	if err != nil || v == "" {
		return "", err
	}
	for _, w := range words {
		if v == w {
			return v, nil
		}
	}
	return "", badRequest("query parameter %s is %q; want one of %s", name, v, strings.Join(words, ", "))
}

// maskedFilter returns the masked parameter: exclude, only or include, or the full enum
// name (MASKED_FILTER_ONLY); unspecified when absent.
func (q query) maskedFilter() (consolev1.MaskedFilter, error) {
	v, err := q.single("masked")
	if err != nil || v == "" {
		return consolev1.MaskedFilter_MASKED_FILTER_UNSPECIFIED, err
	}
	upper := strings.ToUpper(v)
	if n, ok := consolev1.MaskedFilter_value[upper]; ok && n != 0 {
		return consolev1.MaskedFilter(n), nil
	}
	if n, ok := consolev1.MaskedFilter_value["MASKED_FILTER_"+upper]; ok && n != 0 {
		return consolev1.MaskedFilter(n), nil
	}
	return 0, badRequest("query parameter masked is %q; want one of exclude, only, include", v)
}

// parseStatus reads a result status the way people and the JSON API write it: "fail",
// "FAIL" or "STATUS_FAIL".
func parseStatus(s string) (sensorv1.Status, error) {
	upper := strings.ToUpper(s)
	if v, ok := sensorv1.Status_value[upper]; ok && v != 0 {
		return sensorv1.Status(v), nil
	}
	st, err := posture.ParseStatus(s)
	if err != nil {
		return 0, err
	}
	return sensorv1.Status(sensorv1.Status_value["STATUS_"+strings.ToUpper(string(st))]), nil
}

// parseScanState reads a scan state the way people and the JSON API write it: "timed_out",
// "TIMED_OUT" or "SCAN_STATE_TIMED_OUT".
func parseScanState(s string) (sensorv1.ScanState, error) {
	upper := strings.ToUpper(s)
	if v, ok := sensorv1.ScanState_value[upper]; ok && v != 0 {
		return sensorv1.ScanState(v), nil
	}
	st, err := posture.ParseScanState(strings.ToLower(s))
	if err != nil {
		return 0, err
	}
	return sensorv1.ScanState(sensorv1.ScanState_value["SCAN_STATE_"+strings.ToUpper(string(st))]), nil
}

func (h *handler) getPosture(ctx context.Context, _ http.ResponseWriter, r *http.Request) (proto.Message, error) {
	q, err := parseQuery(r, "target_type")
	if err != nil {
		return nil, err
	}
	tt, err := q.targetType()
	if err != nil {
		return nil, err
	}
	return h.api.GetPosture(ctx, &consolev1.GetPostureRequest{TargetType: tt})
}
