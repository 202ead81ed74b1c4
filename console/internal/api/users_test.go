package api

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"

	"github.com/palisadehq/palisade/console/internal/store"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

func TestUsers(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if err := h.st.CreateUser(ctx, store.User{Name: "admin", PasswordHash: []byte("x"), Role: store.RoleAdmin, CreatedAt: start}); err != nil {
		t.Fatal(err)
	}
	u, err := h.srv.CreateUser(admin, &consolev1.CreateUserRequest{Name: "alice", Role: "Analyst", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if u.GetName() != "alice" || u.GetRole() != "analyst" || !u.GetCreatedAt().AsTime().Equal(start) {
		t.Fatalf("created user %v", u)
	}
	stored, err := h.st.GetUser(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := bcrypt.CompareHashAndPassword(stored.PasswordHash, []byte("correct horse battery")); err != nil {
		t.Fatalf("stored password hash: %v", err)
	}

	for _, tt := range []struct {
		name string
		req  *consolev1.CreateUserRequest
		code codes.Code
		msg  string
	}{
		{"duplicate", &consolev1.CreateUserRequest{Name: "alice", Role: "viewer", Password: "another long password"}, codes.AlreadyExists, `a user named "alice" exists already`},
		{"short password", &consolev1.CreateUserRequest{Name: "bob", Role: "viewer", Password: "elevenchars"}, codes.InvalidArgument, "the password has 11 characters; it needs at least 12"},
		{"password too long", &consolev1.CreateUserRequest{Name: "bob", Role: "viewer", Password: strings.Repeat("p", 73)}, codes.InvalidArgument, "the password is 73 bytes long; the limit is 72"},
		{"bad role", &consolev1.CreateUserRequest{Name: "bob", Role: "owner", Password: "long enough password"}, codes.InvalidArgument, `unknown role "owner" (want admin, analyst or viewer)`},
		{"bad name", &consolev1.CreateUserRequest{Name: "bob smith", Role: "viewer", Password: "long enough password"}, codes.InvalidArgument,
			`user name "bob smith": want 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`},
		{"no name", &consolev1.CreateUserRequest{Role: "viewer", Password: "long enough password"}, codes.InvalidArgument,
			`user name "": want 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`},
	} {
		_, err := h.srv.CreateUser(admin, tt.req)
		wantStatus(t, tt.name, err, tt.code, tt.msg)
	}

	list, err := h.srv.ListUsers(admin, &consolev1.ListUsersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list.GetUsers() {
		names = append(names, u.GetName()+"/"+u.GetRole())
	}
	if strings.Join(names, " ") != "admin/admin alice/analyst" {
		t.Errorf("users %q", names)
	}

	// The signed-in admin cannot delete themselves, and the last admin stays.
	_, err = h.srv.DeleteUser(as("admin", store.RoleAdmin), &consolev1.DeleteUserRequest{Name: "admin"})
	wantStatus(t, "deleting yourself", err, codes.FailedPrecondition, "you are signed in as admin and cannot delete yourself; ask another admin")
	_, err = h.srv.DeleteUser(admin, &consolev1.DeleteUserRequest{Name: "admin"})
	wantStatus(t, "deleting the last admin", err, codes.FailedPrecondition, "admin is the last admin; create another admin before deleting this one")
	_, err = h.srv.DeleteUser(admin, &consolev1.DeleteUserRequest{Name: "carol"})
	wantStatus(t, "deleting an unknown user", err, codes.NotFound, `no user is named "carol"`)
	_, err = h.srv.DeleteUser(admin, &consolev1.DeleteUserRequest{})
	wantStatus(t, "deleting without a name", err, codes.InvalidArgument, "name is required")

	deleted, err := h.srv.DeleteUser(admin, &consolev1.DeleteUserRequest{Name: "alice"})
	if err != nil || deleted.GetName() != "alice" || deleted.GetRole() != "analyst" {
		t.Fatalf("delete alice: %v, %v", deleted, err)
	}
	// With a second admin, the first one can go.
	if _, err := h.srv.CreateUser(admin, &consolev1.CreateUserRequest{Name: "root2", Role: "admin", Password: "a second admin's password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.srv.DeleteUser(admin, &consolev1.DeleteUserRequest{Name: "admin"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.GetUser(ctx, "admin"); err == nil {
		t.Error("the deleted admin is still stored")
	}
	want := []string{"adam user.create alice", "adam user.delete alice", "adam user.create root2", "adam user.delete admin"}
	if got := h.audit(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit %q; want %q", got, want)
	}
}
