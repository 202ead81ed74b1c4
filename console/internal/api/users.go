package api

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/palisadehq/palisade/console/internal/auth"
	"github.com/palisadehq/palisade/console/internal/store"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// Limits on users.
const (
	minPasswordLen = 12 // characters
	maxPasswordLen = 72 // bytes: bcrypt reads no further
)

// userName is what a user name may look like: 1 to 64 letters, digits and . _ @ -.
var userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// CreateUser creates a person who signs in to the web console.
func (s *Server) CreateUser(ctx context.Context, req *consolev1.CreateUserRequest) (*consolev1.User, error) {
	p, err := auth.Require(ctx, store.RoleAdmin)
	if err != nil {
		return nil, toStatus(err)
	}
	name := strings.TrimSpace(req.GetName())
	if !userName.MatchString(name) {
		return nil, status.Errorf(codes.InvalidArgument, "user name %q: want 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit", name)
	}
	role, err := auth.ParseRole(req.GetRole())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	pw := req.GetPassword()
	if n := utf8.RuneCountInString(pw); n < minPasswordLen {
		return nil, status.Errorf(codes.InvalidArgument, "the password has %d characters; it needs at least %d", n, minPasswordLen)
	}
	if len(pw) > maxPasswordLen {
		return nil, status.Errorf(codes.InvalidArgument, "the password is %d bytes long; the limit is %d", len(pw), maxPasswordLen)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "hash the password: %v", err)
	}
	u := store.User{Name: name, PasswordHash: hash, Role: role, CreatedAt: s.cfg.Now().UTC()}
	if err := s.cfg.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, status.Errorf(codes.AlreadyExists, "a user named %q exists already", name)
		}
		return nil, toStatus(err)
	}
	s.audit(ctx, p, "user.create", name, "role="+string(role))
	return userToProto(u), nil
}

// ListUsers lists the users, by name.
func (s *Server) ListUsers(ctx context.Context, _ *consolev1.ListUsersRequest) (*consolev1.ListUsersResponse, error) {
	users, err := listAs(ctx, store.RoleAdmin, s.cfg.Store.ListUsers, userToProto)
	if err != nil {
		return nil, err
	}
	return &consolev1.ListUsersResponse{Users: users}, nil
}

// DeleteUser deletes a user and signs them out. Nobody deletes themselves, and the last
// admin stays.
func (s *Server) DeleteUser(ctx context.Context, req *consolev1.DeleteUserRequest) (*consolev1.User, error) {
	p, name, err := requireTarget(ctx, store.RoleAdmin, "name", req.GetName())
	if err != nil {
		return nil, err
	}
	if name == p.Name {
		return nil, status.Errorf(codes.FailedPrecondition, "you are signed in as %s and cannot delete yourself; ask another admin", name)
	}
	users, err := s.cfg.Store.ListUsers(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	var (
		target store.User
		found  bool
		admins int
	)
	for _, u := range users {
		if u.Name == name {
			target, found = u, true
		}
		if u.Role == store.RoleAdmin {
			admins++
		}
	}
	if !found {
		return nil, status.Errorf(codes.NotFound, "no user is named %q", name)
	}
	if target.Role == store.RoleAdmin && admins == 1 {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is the last admin; create another admin before deleting this one", name)
	}
	if err := s.cfg.Store.DeleteUser(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, status.Errorf(codes.NotFound, "no user is named %q", name)
		}
		return nil, toStatus(err)
	}
	s.audit(ctx, p, "user.delete", name, "role="+string(target.Role))
	return userToProto(target), nil
}

func userToProto(u store.User) *consolev1.User {
	return &consolev1.User{Name: u.Name, Role: string(u.Role), CreatedAt: ts(u.CreatedAt)}
}
