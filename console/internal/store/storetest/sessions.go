package storetest

import (
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
)

func testSessions(t *testing.T, s store.Store) {
	for _, name := range []string{"alice", "bob"} {
		must(t, "CreateUser "+name, s.CreateUser(ctx(t), store.User{Name: name, PasswordHash: []byte("h"), Role: store.RoleAnalyst, CreatedAt: t0}))
	}
	sessions := []store.Session{
		{Hash: hash("alice-1"), UserName: "alice", Role: store.RoleAnalyst, CSRFToken: "csrf-a1", CreatedAt: t0, ExpiresAt: at(time.Hour)},
		{Hash: hash("alice-2"), UserName: "alice", Role: store.RoleAdmin, CSRFToken: "csrf-a2", CreatedAt: at(time.Minute).In(cet),
			ExpiresAt: at(2 * time.Hour).In(cet)},
		{Hash: hash("bob-1"), UserName: "bob", Role: store.RoleViewer, CSRFToken: "csrf-b1", CreatedAt: t0, ExpiresAt: at(30 * time.Minute)},
		{Hash: hash("bob-2"), UserName: "bob", Role: store.RoleViewer, CSRFToken: "csrf-b2", CreatedAt: t0, ExpiresAt: at(3 * time.Hour)},
	}
	for _, ses := range sessions {
		must(t, "CreateSession "+ses.CSRFToken, s.CreateSession(ctx(t), ses))
	}
	sessions[1].CreatedAt, sessions[1].ExpiresAt = sessions[1].CreatedAt.UTC(), sessions[1].ExpiresAt.UTC()
	get := func(i int) {
		t.Helper()
		got, err := s.GetSession(ctx(t), sessions[i].Hash)
		must(t, "GetSession "+sessions[i].CSRFToken, err)
		checkUTC(t, "GetSession", got.CreatedAt, got.ExpiresAt)
		equal(t, "GetSession "+sessions[i].CSRFToken, got, sessions[i])
	}
	gone := func(what string, i int) {
		t.Helper()
		_, err := s.GetSession(ctx(t), sessions[i].Hash)
		wantErr(t, "GetSession "+sessions[i].CSRFToken+" "+what, err, store.ErrNotFound)
	}
	for i := range sessions {
		get(i)
	}
	_, err := s.GetSession(ctx(t), hash("nobody"))
	wantErr(t, "GetSession unknown", err, store.ErrNotFound)

	taken := sessions[0]
	taken.UserName, taken.CSRFToken = "bob", "other"
	wantErr(t, "CreateSession with a taken hash", s.CreateSession(ctx(t), taken), store.ErrConflict)
	wantErr(t, "CreateSession of an unknown user",
		s.CreateSession(ctx(t), store.Session{Hash: hash("m"), UserName: "mallory", Role: store.RoleAdmin, CreatedAt: t0, ExpiresAt: at(time.Hour)}),
		store.ErrNotFound)
	for _, bad := range []store.Session{
		{UserName: "alice", CreatedAt: t0, ExpiresAt: at(time.Hour)},
		{Hash: hash("x"), CreatedAt: t0, ExpiresAt: at(time.Hour)},
		{Hash: hash("x"), UserName: "alice", CreatedAt: t0},
	} {
		if err := s.CreateSession(ctx(t), bad); err == nil {
			t.Fatalf("CreateSession %+v: no error", bad)
		}
	}
	get(0)
	_, err = s.GetSession(ctx(t), hash("x"))
	wantErr(t, "GetSession of a rejected session", err, store.ErrNotFound)

	must(t, "DeleteSession", s.DeleteSession(ctx(t), sessions[0].Hash))
	gone("after DeleteSession", 0)
	must(t, "DeleteSession again", s.DeleteSession(ctx(t), sessions[0].Hash))

	// bob-1 expires exactly then; alice-2 a nanosecond later.
	n, err := s.DeleteExpiredSessions(ctx(t), at(30*time.Minute))
	must(t, "DeleteExpiredSessions", err)
	equal(t, "sessions expired at 30m", n, 1)
	gone("after it expired", 2)
	get(1)
	get(3)
	n, err = s.DeleteExpiredSessions(ctx(t), at(30*time.Minute))
	must(t, "DeleteExpiredSessions again", err)
	equal(t, "sessions expired at 30m again", n, 0)

	// Deleting a user deletes their sessions, and only theirs.
	must(t, "DeleteUser alice", s.DeleteUser(ctx(t), "alice"))
	gone("after DeleteUser", 1)
	get(3)
	_, err = s.GetUser(ctx(t), "alice")
	wantErr(t, "GetUser after DeleteUser", err, store.ErrNotFound)
	wantErr(t, "DeleteUser again", s.DeleteUser(ctx(t), "alice"), store.ErrNotFound)
	wantErr(t, "DeleteUser unknown", s.DeleteUser(ctx(t), "mallory"), store.ErrNotFound)
	users, err := s.ListUsers(ctx(t))
	must(t, "ListUsers", err)
	equal(t, "users left", len(users), 1)
	equal(t, "user left", users[0].Name, "bob")
	n, err = s.DeleteExpiredSessions(ctx(t), at(4*time.Hour))
	must(t, "DeleteExpiredSessions at 4h", err)
	equal(t, "sessions expired at 4h", n, 1)
	gone("at 4h", 3)
}
