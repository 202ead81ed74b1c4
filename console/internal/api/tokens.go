package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/console/internal/apitoken"
	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/store"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// ListEnrolmentTokens lists the enrolment tokens (never their secrets), oldest first.
func (s *Server) ListEnrolmentTokens(ctx context.Context, _ *consolev1.ListEnrolmentTokensRequest) (*consolev1.ListEnrolmentTokensResponse, error) {
	tokens, err := listAs(ctx, store.RoleAdmin, s.cfg.Store.ListEnrolTokens, enrolTokenToProto)
	if err != nil {
		return nil, err
	}
	return &consolev1.ListEnrolmentTokensResponse{Tokens: tokens}, nil
}

// RevokeEnrolmentToken revokes an enrolment token, so no further sensor can enrol with it;
// nodes that already enrolled with it are not affected.
func (s *Server) RevokeEnrolmentToken(ctx context.Context, req *consolev1.RevokeEnrolmentTokenRequest) (*consolev1.EnrolmentToken, error) {
	p, id, err := requireTarget(ctx, store.RoleAdmin, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	t, err := s.enrolToken(ctx, id)
	if err != nil {
		return nil, err
	}
	if !t.RevokedAt.IsZero() {
		return nil, status.Errorf(codes.FailedPrecondition, "enrolment token %s was already revoked at %s", id, t.RevokedAt.UTC().Format(time.RFC3339))
	}
	now := s.cfg.Now().UTC()
	if err := s.cfg.Store.RevokeEnrolToken(ctx, id, now); err != nil {
		return nil, toStatus(err)
	}
	s.audit(ctx, p, "enrolment_token.revoke", id, fmt.Sprintf("used=%d of %d", t.Used, t.Uses))
	if t, err = s.enrolToken(ctx, id); err != nil {
		return nil, err
	}
	return enrolTokenToProto(t), nil
}

// enrolToken finds an enrolment token by id, as a status error when there is none.
func (s *Server) enrolToken(ctx context.Context, id string) (store.EnrolToken, error) {
	tokens, err := s.cfg.Store.ListEnrolTokens(ctx)
	if err != nil {
		return store.EnrolToken{}, toStatus(err)
	}
	for _, t := range tokens {
		if t.ID == id {
			return t, nil
		}
	}
	return store.EnrolToken{}, status.Errorf(codes.NotFound, "no enrolment token has id %q; list the tokens to find its id", id)
}

func enrolTokenToProto(t store.EnrolToken) *consolev1.EnrolmentToken {
	return &consolev1.EnrolmentToken{
		Id: t.ID, ExpiresAt: ts(t.ExpiresAt), Uses: uint32(t.Uses), Used: uint32(t.Used),
		CreatedAt: ts(t.CreatedAt), RevokedAt: ts(t.RevokedAt), CreatedBy: t.CreatedBy,
	}
}

// sensorCommand is the command line that enrols a host's sensor with the console at addr and
// runs it.
func sensorCommand(addr, token string) string {
	return "palisade-sensor run --console=" + shellQuote(addr) + " --token=" + shellQuote(token)
}

// shellQuote quotes s for a POSIX shell unless it is made only of characters that need none.
func shellQuote(s string) string {
	plain := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-:/=@%+,[]", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// daemonSetSnippet is a Kubernetes manifest that runs an enrolling sensor on every node: the
// namespace, a Secret with the token and the DaemonSet of deploy/kubernetes/sensor-daemonset.yaml
// pointed at the console at addr.
func daemonSetSnippet(addr, token string, uses int) string {
	return fmt.Sprintf(daemonSetTemplate, uses, yamlString(token), yamlString("--console="+addr))
}

// yamlString quotes s as a YAML double-quoted scalar (a JSON string is one).
func yamlString(s string) string {
	b, _ := json.Marshal(s) // a string always encodes
	return string(b)
}

// daemonSetTemplate takes the token's number of uses, the quoted token and the quoted
// --console argument.
const daemonSetTemplate = `# Palisade sensor on every Kubernetes node, enrolling with the token below; apply with
# kubectl apply -f <file>. The token allows %d enrolment(s), one per node: create one with
# enough uses for the cluster's nodes.
apiVersion: v1
kind: Namespace
metadata:
  name: palisade
---
apiVersion: v1
kind: Secret
metadata:
  name: palisade-enrolment
  namespace: palisade
type: Opaque
stringData:
  token: %s
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: palisade-sensor
  namespace: palisade
  labels: {app.kubernetes.io/name: palisade-sensor}
spec:
  selector:
    matchLabels: {app.kubernetes.io/name: palisade-sensor}
  template:
    metadata:
      labels: {app.kubernetes.io/name: palisade-sensor}
    spec:
      hostPID: false
      hostNetwork: false
      tolerations:
        - operator: Exists
      containers:
        - name: sensor
          image: palisade-sensor:latest
          args:
            - run
            - %s
            - --state-dir=/state
            - --host-root=/host
            - --target-type=kubernetes
            - --hostname=$(NODE_NAME)
          env:
            - name: NODE_NAME
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
            - name: PALISADE_ENROL_TOKEN
              valueFrom: {secretKeyRef: {name: palisade-enrolment, key: token}}
          securityContext:
            readOnlyRootFilesystem: true
            allowPrivilegeEscalation: false
            capabilities:
              drop: [ALL]
              add: [DAC_READ_SEARCH]
          resources:
            requests: {cpu: 10m, memory: 24Mi}
            limits: {memory: 128Mi}
          volumeMounts:
            - {name: host, mountPath: /host, readOnly: true}
            - {name: state, mountPath: /state}
      volumes:
        - name: host
          hostPath: {path: /}
        - name: state
          hostPath: {path: /var/lib/palisade-sensor, type: DirectoryOrCreate}
`

// CreateAPIToken makes an API token for automation; its secret is returned only now.
func (s *Server) CreateAPIToken(ctx context.Context, req *consolev1.CreateAPITokenRequest) (*consolev1.APIToken, error) {
	p, err := auth.Require(ctx, store.RoleAdmin)
	if err != nil {
		return nil, toStatus(err)
	}
	ttl := time.Duration(req.GetTtlSeconds()) * time.Second
	secret, t, err := apitoken.Create(ctx, s.cfg.Store, req.GetName(), store.Role(req.GetRole()), ttl, p.Name, s.cfg.Now())
	if err != nil {
		return nil, toStatus(err)
	}
	out := apiTokenToProto(t)
	out.Token = secret
	return out, nil
}

// ListAPITokens lists the API tokens (never their secrets), oldest first.
func (s *Server) ListAPITokens(ctx context.Context, _ *consolev1.ListAPITokensRequest) (*consolev1.ListAPITokensResponse, error) {
	tokens, err := listAs(ctx, store.RoleAdmin, s.cfg.Store.ListAPITokens, apiTokenToProto)
	if err != nil {
		return nil, err
	}
	return &consolev1.ListAPITokensResponse{Tokens: tokens}, nil
}

// RevokeAPIToken revokes an API token; calls with it fail from then on.
func (s *Server) RevokeAPIToken(ctx context.Context, req *consolev1.RevokeAPITokenRequest) (*consolev1.APIToken, error) {
	p, id, err := requireTarget(ctx, store.RoleAdmin, "id", req.GetId())
	if err != nil {
		return nil, err
	}
	if err := apitoken.Revoke(ctx, s.cfg.Store, id, p.Name, s.cfg.Now()); err != nil {
		return nil, toStatus(err)
	}
	t, err := apitoken.Get(ctx, s.cfg.Store, id)
	if err != nil {
		return nil, toStatus(err)
	}
	return apiTokenToProto(t), nil
}

func apiTokenToProto(t store.APIToken) *consolev1.APIToken {
	return &consolev1.APIToken{
		Id: t.ID, Name: t.Name, Role: string(t.Role), CreatedAt: ts(t.CreatedAt),
		ExpiresAt: ts(t.ExpiresAt), RevokedAt: ts(t.RevokedAt), CreatedBy: t.CreatedBy,
	}
}

// listAs lists with list once the caller is shown to have role, converting each item with
// toProto; every error is a status error.
func listAs[T, P any](ctx context.Context, role store.Role, list func(context.Context) ([]T, error), toProto func(T) P) ([]P, error) {
	if _, err := auth.Require(ctx, role); err != nil {
		return nil, toStatus(err)
	}
	items, err := list(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	var out []P
	for _, item := range items {
		out = append(out, toProto(item))
	}
	return out, nil
}

// requireTarget checks that the caller has role and that the request names what it acts on:
// value, from the request field named field. It returns the caller and value trimmed; every
// error is a status error.
func requireTarget(ctx context.Context, role store.Role, field, value string) (auth.Principal, string, error) {
	p, err := auth.Require(ctx, role)
	if err != nil {
		return auth.Principal{}, "", toStatus(err)
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return auth.Principal{}, "", status.Errorf(codes.InvalidArgument, "%s is required", field)
	}
	return p, value, nil
}
