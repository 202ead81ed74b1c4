package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// testMasks are the masks ListMasks serves: an active global one and a removed one of a result.
func testMasks() []*consolev1.Mask {
	return []*consolev1.Mask{
		{Id: "msk_1", ControlId: "ssh-banner", Reason: "the banner comes with the image", CreatedAt: timestamppb.New(t0),
			CreatedBy: "alice", ExpiresAt: timestamppb.New(t1), Active: true},
		{Id: "msk_2", ControlId: "ssh-root-login", NodeIds: []string{"n-1"}, Resource: "/etc/ssh/sshd_config", Reason: "bastion",
			CreatedAt: timestamppb.New(t0), CreatedBy: "alice", RemovedAt: timestamppb.New(t1), RemovedBy: "bob"},
	}
}

func (f *fakeConsole) ListMasks(ctx context.Context, req *consolev1.ListMasksRequest) (*consolev1.ListMasksResponse, error) {
	f.record(ctx, req)
	return &consolev1.ListMasksResponse{Masks: testMasks()}, nil
}

func (f *fakeConsole) CreateMask(ctx context.Context, req *consolev1.CreateMaskRequest) (*consolev1.Mask, error) {
	f.record(ctx, req)
	return &consolev1.Mask{
		Id: "msk_3", ControlId: req.GetControlId(), NodeIds: []string{"n-1"}, Resource: req.GetResource(), Reason: req.GetReason(),
		CreatedAt: timestamppb.New(t0), CreatedBy: "alice", ExpiresAt: req.GetExpiresAt(), Active: true,
	}, nil
}

func (f *fakeConsole) RemoveMask(ctx context.Context, req *consolev1.RemoveMaskRequest) (*consolev1.Mask, error) {
	f.record(ctx, req)
	if req.GetMaskId() != "msk_2" {
		return nil, status.Errorf(codes.NotFound, "no mask has id %q; list the masks to find its id", req.GetMaskId())
	}
	return testMasks()[1], nil
}

func (f *fakeConsole) CompareScans(ctx context.Context, req *consolev1.CompareScansRequest) (*consolev1.ScanComparison, error) {
	f.record(ctx, req)
	base, head := testScan(), testScan()
	base.Id, head.Id = req.GetBaseScanId(), req.GetHeadScanId()
	forty, fifty, ten := 40.0, 50.0, 10.0
	compared := func(id, sev string, b, h sensorv1.Status) *consolev1.ComparedResult {
		return &consolev1.ComparedResult{ControlId: id, Resource: "/etc/ssh/sshd_config", Title: "Title of " + id, Severity: sev, BaseStatus: b, HeadStatus: h}
	}
	return &consolev1.ScanComparison{
		Base: base, Head: head,
		Scores: []*consolev1.ScoreDelta{
			{BenchmarkId: "linux-cis", Base: &consolev1.Score{BenchmarkId: "linux-cis", Score: &forty}, Head: &consolev1.Score{BenchmarkId: "linux-cis", Score: &fifty}, Delta: &ten},
			{BenchmarkId: "linux-gdpr", Base: &consolev1.Score{BenchmarkId: "linux-gdpr"}},
		},
		NewlyFailing: []*consolev1.ComparedResult{compared("ssh-max-auth", "medium", sensorv1.Status_STATUS_PASS, sensorv1.Status_STATUS_FAIL)},
		Fixed:        []*consolev1.ComparedResult{compared("ssh-x11", "medium", sensorv1.Status_STATUS_ERROR, sensorv1.Status_STATUS_UNSPECIFIED)},
		StillFailing: []*consolev1.ComparedResult{compared("ssh-root-login", "high", sensorv1.Status_STATUS_FAIL, sensorv1.Status_STATUS_ERROR)},
		Unchanged:    7,
	}, nil
}

func (f *fakeConsole) ListUsers(ctx context.Context, req *consolev1.ListUsersRequest) (*consolev1.ListUsersResponse, error) {
	f.record(ctx, req)
	return &consolev1.ListUsersResponse{Users: []*consolev1.User{
		{Name: "admin", Role: "admin", CreatedAt: timestamppb.New(t0)},
		{Name: "alice", Role: "analyst", CreatedAt: timestamppb.New(t1)},
	}}, nil
}

func (f *fakeConsole) CreateUser(ctx context.Context, req *consolev1.CreateUserRequest) (*consolev1.User, error) {
	f.record(ctx, req)
	return &consolev1.User{Name: req.GetName(), Role: req.GetRole(), CreatedAt: timestamppb.New(t0)}, nil
}

func (f *fakeConsole) DeleteUser(ctx context.Context, req *consolev1.DeleteUserRequest) (*consolev1.User, error) {
	f.record(ctx, req)
	if req.GetName() == "admin" {
		return nil, status.Error(codes.FailedPrecondition, "admin is the last admin; create another admin before deleting this one")
	}
	return &consolev1.User{Name: req.GetName(), Role: "analyst"}, nil
}

func (f *fakeConsole) ListEnrolmentTokens(ctx context.Context, req *consolev1.ListEnrolmentTokensRequest) (*consolev1.ListEnrolmentTokensResponse, error) {
	f.record(ctx, req)
	return &consolev1.ListEnrolmentTokensResponse{Tokens: []*consolev1.EnrolmentToken{
		{Id: "tok_1", Uses: 3, Used: 1, CreatedAt: timestamppb.New(t0), CreatedBy: "adam", ExpiresAt: timestamppb.New(t1)},
		{Id: "tok_2", Uses: 1, CreatedAt: timestamppb.New(t0), ExpiresAt: timestamppb.New(t1), RevokedAt: timestamppb.New(t1)},
	}}, nil
}

func (f *fakeConsole) RevokeEnrolmentToken(ctx context.Context, req *consolev1.RevokeEnrolmentTokenRequest) (*consolev1.EnrolmentToken, error) {
	f.record(ctx, req)
	return &consolev1.EnrolmentToken{Id: req.GetId(), Uses: 3, Used: 1, RevokedAt: timestamppb.New(t1)}, nil
}

func (f *fakeConsole) GetControl(ctx context.Context, req *consolev1.GetControlRequest) (*consolev1.Control, error) {
	f.record(ctx, req)
	return &consolev1.Control{
		Id: req.GetControlId(), Title: "SSH root login is disabled", TargetType: "linux", Severity: "high", Service: "SSH",
		Description: "sshd refuses root logins.", Rationale: "Root logs in without a trail.\nUse sudo.", Remediation: "Set PermitRootLogin no.",
		References: []*consolev1.ControlReference{{BenchmarkId: "linux-cis", RequirementId: "5.1.20"}, {BenchmarkId: "linux-nist", RequirementId: "AC-6(2)"}},
	}, nil
}

func (f *fakeConsole) ListControlHistory(ctx context.Context, req *consolev1.ListControlHistoryRequest) (*consolev1.ListControlHistoryResponse, error) {
	f.record(ctx, req)
	return &consolev1.ListControlHistoryResponse{Entries: []*consolev1.ControlHistoryEntry{
		{ScanId: "s-2", ScanState: sensorv1.ScanState_SCAN_STATE_COMPLETE, ScanCreatedAt: timestamppb.New(t1), Resource: "/etc/ssh/sshd_config",
			Status: sensorv1.Status_STATUS_PASS, Reason: "PermitRootLogin is no"},
		{ScanId: "s-1", ScanState: sensorv1.ScanState_SCAN_STATE_COMPLETE, ScanCreatedAt: timestamppb.New(t0), Resource: "/etc/ssh/sshd_config",
			Status: sensorv1.Status_STATUS_FAIL, Reason: "PermitRootLogin is yes"},
	}}, nil
}

func TestReviewCommands(t *testing.T) {
	runCommandCases(t, []commandCase{
		{
			name:     "masks list",
			args:     []string{"masks", "list", "--all", "--node", "web-1", "--control", "ssh-banner"},
			wantReqs: []proto.Message{&consolev1.ListMasksRequest{ControlId: "ssh-banner", Node: "web-1", IncludeInactive: true}},
			wantOut: "" +
				"ID     CONTROL         NODES  RESOURCE              STATE    EXPIRES               CREATED BY  REASON\n" +
				"msk_1  ssh-banner      all    -                     active   2025-03-04T05:07:37Z  alice       the banner comes with the image\n" +
				"msk_2  ssh-root-login  n-1    /etc/ssh/sshd_config  removed  -                     alice       bastion\n",
		},
		{
			name: "masks create",
			args: []string{"masks", "create", "--control", "ssh-root-login", "--node", "web-1", "--resource", "/etc/ssh/sshd_config",
				"--reason", "bastion host", "--expires", "2025-03-04T05:07:37Z"},
			wantReqs: []proto.Message{&consolev1.CreateMaskRequest{
				ControlId: "ssh-root-login", Nodes: []string{"web-1"}, Resource: "/etc/ssh/sshd_config", Reason: "bastion host", ExpiresAt: timestamppb.New(t1.Truncate(time.Second)),
			}},
			wantOut: "" +
				"Mask:      msk_3\n" +
				"Control:   ssh-root-login\n" +
				"Nodes:     n-1\n" +
				"Resource:  /etc/ssh/sshd_config\n" +
				"Reason:    bastion host\n" +
				"State:     active\n" +
				"Created:   2025-03-04T05:06:07Z by alice\n" +
				"Expires:   2025-03-04T05:07:37Z\n",
		},
		{
			name:     "masks remove",
			args:     []string{"masks", "remove", "msk_2"},
			wantReqs: []proto.Message{&consolev1.RemoveMaskRequest{MaskId: "msk_2"}},
			wantOut: "" +
				"Mask:      msk_2\n" +
				"Control:   ssh-root-login\n" +
				"Nodes:     n-1\n" +
				"Resource:  /etc/ssh/sshd_config\n" +
				"Reason:    bastion\n" +
				"State:     removed\n" +
				"Created:   2025-03-04T05:06:07Z by alice\n" +
				"Expires:   -\n" +
				"Removed:   2025-03-04T05:07:37Z by bob\n",
		},
		{
			name:     "compare",
			args:     []string{"compare", "s-1", "s-2"},
			wantReqs: []proto.Message{&consolev1.CompareScansRequest{BaseScanId: "s-1", HeadScanId: "s-2"}},
			wantOut: "" +
				"Base:  s-1 on web-1, finished 2025-03-04T05:07:37Z\n" +
				"Head:  s-2 on web-1, finished 2025-03-04T05:07:37Z\n" +
				"\n" +
				"BENCHMARK   BASE   HEAD   CHANGE\n" +
				"linux-cis   40.0%  50.0%  +10.0\n" +
				"linux-gdpr  n/a    -      n/a\n" +
				"\n" +
				"CHANGE         BASE   HEAD   SEVERITY  CONTROL         RESOURCE\n" +
				"newly failing  pass   fail   medium    ssh-max-auth    /etc/ssh/sshd_config\n" +
				"fixed          error  -      medium    ssh-x11         /etc/ssh/sshd_config\n" +
				"still failing  fail   error  high      ssh-root-login  /etc/ssh/sshd_config\n" +
				"\n" +
				"1 newly failing, 1 fixed, 1 still failing, 7 unchanged\n",
		},
		{
			name:     "users list",
			args:     []string{"users", "list"},
			wantReqs: []proto.Message{&consolev1.ListUsersRequest{}},
			wantOut: "" +
				"NAME   ROLE     CREATED\n" +
				"admin  admin    2025-03-04T05:06:07Z\n" +
				"alice  analyst  2025-03-04T05:07:37Z\n",
		},
		{
			name:     "users create, password from stdin",
			args:     []string{"users", "create", "bob", "--role", "analyst"},
			stdin:    "correct horse battery\r\nignored second line\n",
			wantReqs: []proto.Message{&consolev1.CreateUserRequest{Name: "bob", Role: "analyst", Password: "correct horse battery"}},
			wantOut:  "User bob created with role analyst\n",
		},
		{
			name:     "users delete",
			args:     []string{"users", "delete", "bob"},
			wantReqs: []proto.Message{&consolev1.DeleteUserRequest{Name: "bob"}},
			wantOut:  "User bob (analyst) deleted\n",
		},
		{
			name:     "token list",
			args:     []string{"token", "list"},
			wantReqs: []proto.Message{&consolev1.ListEnrolmentTokensRequest{}},
			wantOut: "" +
				"ID     USED  CREATED               CREATED BY  EXPIRES               REVOKED\n" +
				"tok_1  1/3   2025-03-04T05:06:07Z  adam        2025-03-04T05:07:37Z  -\n" +
				"tok_2  0/1   2025-03-04T05:06:07Z  -           2025-03-04T05:07:37Z  2025-03-04T05:07:37Z\n",
		},
		{
			name:     "token revoke",
			args:     []string{"token", "revoke", "tok_1"},
			wantReqs: []proto.Message{&consolev1.RevokeEnrolmentTokenRequest{Id: "tok_1"}},
			wantOut:  "Enrolment token tok_1 revoked at 2025-03-04T05:07:37Z (1 of 3 uses used)\n",
		},
		{
			name:     "token create --daemonset",
			args:     []string{"token", "create", "--uses", "40", "--daemonset"},
			wantReqs: []proto.Message{&consolev1.CreateEnrolmentTokenRequest{TtlSeconds: 3600, Uses: 40}},
			wantOut:  "kind: Secret\n",
		},
		{
			name:     "controls show",
			args:     []string{"controls", "show", "linux.ssh.permit-root-login"},
			wantReqs: []proto.Message{&consolev1.GetControlRequest{ControlId: "linux.ssh.permit-root-login"}},
			wantOut: "" +
				"ID:           linux.ssh.permit-root-login\n" +
				"Title:        SSH root login is disabled\n" +
				"Type:         linux\n" +
				"Severity:     high\n" +
				"Service:      SSH\n" +
				"Description:  sshd refuses root logins.\n" +
				"Rationale:    Root logs in without a trail. Use sudo.\n" +
				"Remediation:  Set PermitRootLogin no.\n" +
				"References:   linux-cis 5.1.20\n" +
				"              linux-nist AC-6(2)\n",
		},
		{
			name:     "controls history",
			args:     []string{"controls", "history", "linux.ssh.permit-root-login", "--node", "web-1", "--limit", "2"},
			wantReqs: []proto.Message{&consolev1.ListControlHistoryRequest{Node: "web-1", ControlId: "linux.ssh.permit-root-login", Limit: 2}},
			wantOut: "" +
				"SCAN  STATE     CREATED               STATUS  RESOURCE              REASON\n" +
				"s-2   complete  2025-03-04T05:07:37Z  pass    /etc/ssh/sshd_config  PermitRootLogin is no\n" +
				"s-1   complete  2025-03-04T05:06:07Z  fail    /etc/ssh/sshd_config  PermitRootLogin is yes\n",
		},
		{
			name: "results, masked ones with their mask",
			args: []string{"results", "s-1", "--masked", "include", "--query", "ssh", "--order-by", "severity", "--all"},
			wantReqs: []proto.Message{
				&consolev1.ListResultsRequest{ScanId: "s-1", Masked: consolev1.MaskedFilter_MASKED_FILTER_INCLUDE, Query: "ssh", OrderBy: "severity"},
				&consolev1.ListResultsRequest{ScanId: "s-1", Masked: consolev1.MaskedFilter_MASKED_FILTER_INCLUDE, Query: "ssh", OrderBy: "severity", PageToken: "p2"},
			},
			wantOut: "" +
				"STATUS  SEVERITY  CONTROL         RESOURCE              REASON                                                                    MASK\n" +
				"fail    high      ssh-root-login  /etc/ssh/sshd_config  PermitRootLogin is yes at /etc/ssh/sshd_config:32; expected no            -\n" +
				"error   medium    ssh-max-auth    -                     could not read /etc/ssh/sshd_config.d/50-cloud.conf: permission denie...  -\n" +
				"pass    low       ssh-banner      sshd                  Banner is set                                                             msk_1\n",
		},
	})
}

func TestReviewCommandErrors(t *testing.T) {
	tests := []struct {
		args      []string
		stdin     string
		wantErr   string
		wantCalls int
	}{
		{args: []string{"masks", "create", "--control", "c", "--reason", "r", "--expires", "tomorrow"},
			wantErr: `--expires "tomorrow": want an RFC 3339 time such as 2027-01-31T00:00:00Z`},
		{args: []string{"masks", "create", "--control", "c", "--reason", "r", "--expires", "2027-01-31T00:00:00Z", "--for", "1h"},
			wantErr: "give --expires or --for, not both"},
		{args: []string{"masks", "create", "--control", "c", "--reason", "r", "--for", "-1h"}, wantErr: "--for must be positive, not -1h0m0s"},
		{args: []string{"masks", "create", "--control", "c"}, wantErr: `required flag(s) "reason" not set`},
		{args: []string{"masks", "list", "--format", "csv"}, wantErr: `unknown --format "csv" (want one of table, json)`},
		{args: []string{"results", "s-1", "--masked", "hidden"}, wantErr: `--masked "hidden": want exclude, only or include`},
		{args: []string{"results", "s-1", "--order-by", "newest"}, wantErr: `--order-by "newest": want control, severity or status`},
		{args: []string{"users", "create", "bob"}, wantErr: "no password: write it on the first line of standard input, e.g. users create alice < alice.password"},
		{args: []string{"users", "create", "bob"}, stdin: "\n", wantErr: "no password: write it on the first line of standard input, e.g. users create alice < alice.password"},
		{args: []string{"token", "create", "--daemonset", "--format", "json"}, wantErr: "--daemonset prints a YAML manifest; leave out --format json"},
		{args: []string{"compare", "s-1"}, wantErr: "accepts 2 arg(s), received 1"},
		{args: []string{"controls", "history", "c"}, wantErr: `required flag(s) "node" not set`},
		// The console's refusals come back as they are.
		{args: []string{"masks", "remove", "msk_9"}, wantErr: `remove mask: no mask has id "msk_9"; list the masks to find its id`, wantCalls: 1},
		{args: []string{"users", "delete", "admin"}, wantErr: "delete user: admin is the last admin; create another admin before deleting this one", wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fake := &fakeConsole{}
			addr, ca := startConsole(t, fake)
			_, _, err := runWithInput(t, "", tt.stdin, flags(addr, ca, tt.args...)...)
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("error = %v; want %s", err, tt.wantErr)
			}
			if _, reqs := fake.seen(); len(reqs) != tt.wantCalls {
				t.Errorf("the console was called %d times (%v); want %d", len(reqs), reqs, tt.wantCalls)
			}
		})
	}
}

// TestMaskFor checks --for sets the expiry that long from now.
func TestMaskFor(t *testing.T) {
	fake := &fakeConsole{}
	addr, ca := startConsole(t, fake)
	before := time.Now()
	if _, _, err := run(t, "", flags(addr, ca, "masks", "create", "--control", "c", "--reason", "r", "--for", "720h", "--format", "json")...); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	_, reqs := fake.seen()
	got := reqs[0].(*consolev1.CreateMaskRequest).GetExpiresAt().AsTime()
	if got.Before(before.Add(720*time.Hour)) || got.After(after.Add(720*time.Hour)) {
		t.Errorf("expiry %s; want 720h after %s", got, before)
	}
}
