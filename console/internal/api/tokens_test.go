package api

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/store"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

func TestEnrolmentTokens(t *testing.T) {
	h := newHarness(t)
	created := h.clock.Now()
	tok, err := h.srv.CreateEnrolmentToken(admin, &consolev1.CreateEnrolmentTokenRequest{TtlSeconds: 900, Uses: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.GetToken(), "pse1.") || !strings.HasSuffix(tok.GetToken(), "."+testFingerprint) || !strings.HasPrefix(tok.GetId(), "tok_") ||
		tok.GetUses() != 3 || tok.GetUsed() != 0 || tok.GetCreatedBy() != "adam" || !tok.GetCreatedAt().AsTime().Equal(created) ||
		!tok.GetExpiresAt().AsTime().Equal(created.Add(15*time.Minute)) || tok.GetRevokedAt() != nil {
		t.Fatalf("created token %v", tok)
	}
	if want := "palisade-sensor run --console=console.example.com:7443 --token=" + tok.GetToken(); tok.GetSensorCommand() != want {
		t.Errorf("sensor command %q\nwant %q", tok.GetSensorCommand(), want)
	}
	wantSnippet(t, tok.GetDaemonsetSnippet(), tok.GetToken(), "console.example.com:7443", 3)

	h.clock.Advance(time.Minute)
	list, err := h.srv.ListEnrolmentTokens(admin, &consolev1.ListEnrolmentTokensRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetTokens()) != 1 {
		t.Fatalf("tokens %v", list.GetTokens())
	}
	listed := list.GetTokens()[0]
	if listed.GetId() != tok.GetId() || listed.GetToken() != "" || listed.GetSensorCommand() != "" || listed.GetDaemonsetSnippet() != "" ||
		listed.GetUses() != 3 || listed.GetCreatedBy() != "adam" || !listed.GetExpiresAt().AsTime().Equal(tok.GetExpiresAt().AsTime()) {
		t.Errorf("listed token %v", listed)
	}

	revokedAt := h.clock.Now()
	revoked, err := h.srv.RevokeEnrolmentToken(admin, &consolev1.RevokeEnrolmentTokenRequest{Id: tok.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if revoked.GetId() != tok.GetId() || !revoked.GetRevokedAt().AsTime().Equal(revokedAt) || revoked.GetToken() != "" {
		t.Errorf("revoked token %v", revoked)
	}
	_, err = h.srv.RevokeEnrolmentToken(admin, &consolev1.RevokeEnrolmentTokenRequest{Id: tok.GetId()})
	wantStatus(t, "revoking twice", err, codes.FailedPrecondition, "enrolment token "+tok.GetId()+" was already revoked at 2026-11-26T09:01:00Z")
	_, err = h.srv.RevokeEnrolmentToken(admin, &consolev1.RevokeEnrolmentTokenRequest{Id: "tok_nope"})
	wantStatus(t, "revoking an unknown token", err, codes.NotFound, `no enrolment token has id "tok_nope"; list the tokens to find its id`)
	_, err = h.srv.RevokeEnrolmentToken(admin, &consolev1.RevokeEnrolmentTokenRequest{})
	wantStatus(t, "revoking without an id", err, codes.InvalidArgument, "id is required")

	want := []string{"adam enrolment_token.create " + tok.GetId(), "adam enrolment_token.revoke " + tok.GetId()}
	if got := h.audit(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit %q; want %q", got, want)
	}
}

func TestEnrolmentTokenWithoutSensorAddr(t *testing.T) {
	h := newHarness(t)
	h.srv.cfg.SensorAddr = ""
	tok, err := h.srv.CreateEnrolmentToken(admin, &consolev1.CreateEnrolmentTokenRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if tok.GetToken() == "" || tok.GetSensorCommand() != "" || tok.GetDaemonsetSnippet() != "" {
		t.Errorf("token without an advertised address: %v", tok)
	}
}

// wantSnippet checks a DaemonSet snippet: a Secret with the token, then the repository's
// DaemonSet with the console address replaced.
func wantSnippet(t *testing.T, snippet, token, addr string, uses int) {
	t.Helper()
	deployed, err := os.ReadFile("../../../deploy/kubernetes/sensor-daemonset.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ds := string(deployed)
	ds = ds[strings.Index(ds, "apiVersion: apps/v1"):] // without the leading comment
	ds = strings.Replace(ds, "- --console=palisade-console.palisade.svc:7443", `- "--console=`+addr+`"`, 1)
	want := "# Palisade sensor on every Kubernetes node, enrolling with the token below; apply with\n" +
		"# kubectl apply -f <file>. The token allows " + strconv.Itoa(uses) + " enrolment(s), one per node: create one with\n" +
		"# enough uses for the cluster's nodes.\n" +
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: palisade\n---\n" +
		"apiVersion: v1\nkind: Secret\nmetadata:\n  name: palisade-enrolment\n  namespace: palisade\ntype: Opaque\n" +
		"stringData:\n  token: \"" + token + "\"\n---\n" + ds
	if snippet != want {
		t.Errorf("DaemonSet snippet:\n%s\nwant:\n%s", snippet, want)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"console.example.com:7443": "console.example.com:7443",
		"[::1]:7443":               "[::1]:7443",
		"a b":                      "'a b'",
		"it's":                     `'it'\''s'`,
		"":                         "''",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s; want %s", in, got, want)
		}
	}
}

func TestAPITokens(t *testing.T) {
	h := newHarness(t)
	created := h.clock.Now()
	tok, err := h.srv.CreateAPIToken(admin, &consolev1.CreateAPITokenRequest{Name: " ci ", Role: "analyst", TtlSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.GetToken(), auth.TokenPrefix) || !strings.HasPrefix(tok.GetId(), "pat_") || tok.GetName() != "ci" || tok.GetRole() != "analyst" ||
		tok.GetCreatedBy() != "adam" || !tok.GetCreatedAt().AsTime().Equal(created) || !tok.GetExpiresAt().AsTime().Equal(created.Add(time.Hour)) ||
		tok.GetRevokedAt() != nil {
		t.Fatalf("created token %v", tok)
	}
	authn := &auth.Authenticator{Store: h.st, Now: h.clock.Now}
	if p, err := authn.Bearer(context.Background(), "Bearer "+tok.GetToken()); err != nil || p.Name != "ci" || p.Role != store.RoleAnalyst {
		t.Fatalf("authenticate with the new token: %+v, %v", p, err)
	}
	h.clock.Advance(time.Second)
	forever, err := h.srv.CreateAPIToken(admin, &consolev1.CreateAPITokenRequest{Name: "backup", Role: "viewer"})
	if err != nil || forever.GetExpiresAt() != nil {
		t.Fatalf("token without expiry: %v, %v", forever, err)
	}

	list, err := h.srv.ListAPITokens(admin, &consolev1.ListAPITokensRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list.GetTokens() {
		if l.GetToken() != "" {
			t.Errorf("listed token %s shows its secret", l.GetId())
		}
		names = append(names, l.GetName()+"/"+l.GetRole())
	}
	if strings.Join(names, " ") != "ci/analyst backup/viewer" {
		t.Errorf("tokens %q", names)
	}

	h.clock.Advance(time.Minute - time.Second)
	revoked, err := h.srv.RevokeAPIToken(admin, &consolev1.RevokeAPITokenRequest{Id: tok.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	if !revoked.GetRevokedAt().AsTime().Equal(h.clock.Now()) || revoked.GetToken() != "" || revoked.GetName() != "ci" {
		t.Errorf("revoked token %v", revoked)
	}
	if _, err := authn.Bearer(context.Background(), "Bearer "+tok.GetToken()); err == nil {
		t.Error("a revoked token still authenticates")
	}
	_, err = h.srv.RevokeAPIToken(admin, &consolev1.RevokeAPITokenRequest{Id: tok.GetId()})
	wantStatus(t, "revoking twice", err, codes.FailedPrecondition, "API token already revoked: token "+tok.GetId()+" (ci) was revoked at 2026-11-26T09:01:00Z")
	_, err = h.srv.RevokeAPIToken(admin, &consolev1.RevokeAPITokenRequest{Id: "pat_nope"})
	wantStatus(t, "revoking an unknown token", err, codes.NotFound, `not found: no API token has id "pat_nope"; list the tokens to find its id`)

	for _, tt := range []struct {
		name string
		req  *consolev1.CreateAPITokenRequest
		msg  string
	}{
		{"no name", &consolev1.CreateAPITokenRequest{Role: "viewer"}, "invalid API token request: a token needs a name of 1 to 64 characters"},
		{"bad role", &consolev1.CreateAPITokenRequest{Name: "x", Role: "root"}, `invalid API token request: unknown role "root" (want admin, analyst or viewer)`},
		{"no role", &consolev1.CreateAPITokenRequest{Name: "x"}, `invalid API token request: unknown role "" (want admin, analyst or viewer)`},
		{"ttl too long", &consolev1.CreateAPITokenRequest{Name: "x", Role: "viewer", TtlSeconds: 3 * 365 * 24 * 3600},
			"invalid API token request: ttl 26280h0m0s is out of range (0 for no expiry, at most 17520h0m0s)"},
	} {
		_, err := h.srv.CreateAPIToken(admin, tt.req)
		wantStatus(t, tt.name, err, codes.InvalidArgument, tt.msg)
	}
	want := []string{"adam api_token.create " + tok.GetId(), "adam api_token.create " + forever.GetId(), "adam api_token.revoke " + tok.GetId()}
	if got := h.audit(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit %q; want %q", got, want)
	}
}

func TestNewRejectsBadSensorAddr(t *testing.T) {
	h := newHarness(t)
	cfg := h.srv.cfg
	cfg.SensorAddr = "console.example.com"
	_, err := New(cfg)
	if want := `api: the address sensors dial, "console.example.com", is not host:port: address console.example.com: missing port in address`; err == nil || err.Error() != want {
		t.Errorf("New: %v; want %s", err, want)
	}
}
