package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

func testNodes(t *testing.T, s store.Store) {
	tok := store.EnrolToken{ID: "tok-a", Hash: hash("a"), CreatedAt: t0, ExpiresAt: at(time.Hour), Uses: 3, CreatedBy: "alice"}
	must(t, "CreateEnrolToken", s.CreateEnrolToken(ctx(t), tok))

	facts := store.NodeFacts{
		Hostname: "web-1", OSID: "debian", OSVersion: "13", OSName: "Debian GNU/Linux 13 (trixie)",
		Kernel: "6.12.0-1-amd64", Arch: "amd64", MachineID: "0123456789abcdef0123456789abcdef",
		SensorVersion: "0.1.0", CatalogVersion: "2026.11",
	}
	enrolAt := time.Date(2026, 11, 26, 10, 45, 0, 987654321, cet) // 09:45 UTC
	web1 := store.Node{ID: "n-1", Name: "web-1", TargetType: posture.Linux, Facts: facts, EnrolTokenID: "ignored", EnrolledAt: at(-time.Hour)}
	must(t, "EnrolNode n-1", s.EnrolNode(ctx(t), tok.Hash, web1, enrolAt))
	web1.EnrolTokenID, web1.EnrolledAt, web1.LastSeenAt = "tok-a", enrolAt.UTC(), enrolAt.UTC()

	got, err := s.GetNode(ctx(t), "n-1")
	must(t, "GetNode", err)
	checkUTC(t, "GetNode", got.EnrolledAt, got.LastSeenAt)
	equal(t, "GetNode n-1", got, web1)

	// A second node with the same name, and a Kubernetes node.
	web1b := store.Node{ID: "n-2", Name: "web-1", TargetType: posture.Linux, Facts: store.NodeFacts{Hostname: "web-1"}}
	must(t, "EnrolNode n-2", s.EnrolNode(ctx(t), tok.Hash, web1b, at(time.Minute)))
	web1b.EnrolTokenID, web1b.EnrolledAt, web1b.LastSeenAt = "tok-a", at(time.Minute), at(time.Minute)
	kube := store.Node{ID: "n-0", Name: "kube-a", TargetType: posture.Kubernetes, Facts: store.NodeFacts{Hostname: "kube-a"}}
	must(t, "EnrolNode n-0", s.EnrolNode(ctx(t), tok.Hash, kube, at(2*time.Minute)))
	kube.EnrolTokenID, kube.EnrolledAt, kube.LastSeenAt = "tok-a", at(2*time.Minute), at(2*time.Minute)

	toks, err := s.ListEnrolTokens(ctx(t))
	must(t, "ListEnrolTokens", err)
	tok.Used = 3
	equal(t, "ListEnrolTokens after three enrolments", toks, []store.EnrolToken{tok})

	all, err := s.ListNodes(ctx(t), store.NodeFilter{})
	must(t, "ListNodes", err)
	equal(t, "ListNodes (by name, then id)", all, []store.Node{kube, web1, web1b})
	linux, err := s.ListNodes(ctx(t), store.NodeFilter{TargetType: posture.Linux})
	must(t, "ListNodes linux", err)
	equal(t, "ListNodes linux", linux, []store.Node{web1, web1b})
	aws, err := s.ListNodes(ctx(t), store.NodeFilter{TargetType: posture.AWS})
	must(t, "ListNodes aws", err)
	equal(t, "ListNodes aws", len(aws), 0)

	find := []struct {
		ref  string
		want store.Node
		err  error
	}{
		{"n-1", web1, nil},
		{"n-0", kube, nil},
		{"kube-a", kube, nil},
		{"web-1", store.Node{}, store.ErrConflict},
		{"nobody", store.Node{}, store.ErrNotFound},
		{"", store.Node{}, store.ErrNotFound},
	}
	for _, f := range find {
		got, err := s.FindNode(ctx(t), f.ref)
		if f.err != nil {
			wantErr(t, "FindNode "+f.ref, err, f.err)
			continue
		}
		must(t, "FindNode "+f.ref, err)
		equal(t, "FindNode "+f.ref, got, f.want)
	}

	// FindNodes answers each reference as FindNode does, all at once: a name shared by two
	// nodes maps to both (by id), an unknown reference is absent, a repeated one is answered
	// once.
	many, err := s.FindNodes(ctx(t), []string{"n-1", "kube-a", "web-1", "nobody", "", "n-0", "n-1"})
	must(t, "FindNodes", err)
	equal(t, "FindNodes", many, map[string][]store.Node{
		"n-1": {web1}, "kube-a": {kube}, "web-1": {web1, web1b}, "n-0": {kube},
	})
	many, err = s.FindNodes(ctx(t), nil)
	must(t, "FindNodes none", err)
	equal(t, "FindNodes none", len(many), 0)

	// New facts rename n-2; the name web-1 then finds n-1 alone.
	facts2 := store.NodeFacts{Hostname: "web-2", OSID: "rhel", OSVersion: "10", Kernel: "6.12.0", Arch: "arm64"}
	must(t, "UpdateNodeFacts", s.UpdateNodeFacts(ctx(t), "n-2", facts2, at(time.Hour)))
	web1b.Name, web1b.Facts, web1b.LastSeenAt = "web-2", facts2, at(time.Hour)
	got, err = s.GetNode(ctx(t), "n-2")
	must(t, "GetNode n-2", err)
	equal(t, "GetNode n-2 after UpdateNodeFacts", got, web1b)
	got, err = s.FindNode(ctx(t), "web-1")
	must(t, "FindNode web-1", err)
	equal(t, "FindNode web-1 after rename", got, web1)

	// Facts without a hostname keep the name.
	facts3 := store.NodeFacts{OSID: "rhel", OSVersion: "10.1"}
	must(t, "UpdateNodeFacts", s.UpdateNodeFacts(ctx(t), "n-2", facts3, at(2*time.Hour)))
	web1b.Facts, web1b.LastSeenAt = facts3, at(2*time.Hour)
	got, err = s.GetNode(ctx(t), "n-2")
	must(t, "GetNode n-2", err)
	equal(t, "GetNode n-2 after facts without hostname", got, web1b)

	// Facts with what JSON escapes read back as they were written, by every way of reading.
	facts4 := store.NodeFacts{OSID: "rhel", OSName: "Red Hat \"Enterprise\" \\ Linux\n\t10 \u0001 é 中 \u2028", Kernel: "6.12.0</script>&amp;"}
	must(t, "UpdateNodeFacts", s.UpdateNodeFacts(ctx(t), "n-2", facts4, at(2*time.Hour)))
	web1b.Facts = facts4
	got, err = s.GetNode(ctx(t), "n-2")
	must(t, "GetNode n-2", err)
	equal(t, "GetNode n-2 after facts with escapes", got, web1b)
	found, err := s.FindNodes(ctx(t), []string{"n-2"})
	must(t, "FindNodes n-2", err)
	equal(t, "FindNodes n-2 after facts with escapes", found, map[string][]store.Node{"n-2": {web1b}})

	// TouchNodes: n-1 is seen twice in one call and the later sighting counts; a sighting of
	// n-2 older than its facts' leaves it as it was; the unknown n-9 is skipped.
	seen := time.Date(2026, 11, 26, 13, 0, 0, 1, cet)
	must(t, "TouchNodes", s.TouchNodes(ctx(t), []store.Sighting{
		{NodeID: "n-1", At: seen.Add(-time.Minute)}, {NodeID: "n-9", At: seen}, {NodeID: "n-2", At: at(time.Hour)}, {NodeID: "n-1", At: seen},
	}))
	web1.LastSeenAt = seen.UTC()
	got, err = s.GetNode(ctx(t), "n-1")
	must(t, "GetNode n-1", err)
	checkUTC(t, "GetNode after TouchNodes", got.LastSeenAt)
	equal(t, "GetNode n-1 after TouchNodes", got, web1)
	got, err = s.GetNode(ctx(t), "n-2")
	must(t, "GetNode n-2", err)
	equal(t, "GetNode n-2 after an older sighting", got, web1b)
	// A replica whose clock lags does not move a node's sighting back.
	must(t, "TouchNodes earlier", s.TouchNodes(ctx(t), []store.Sighting{{NodeID: "n-1", At: seen.Add(-time.Hour)}}))
	got, err = s.GetNode(ctx(t), "n-1")
	must(t, "GetNode n-1", err)
	equal(t, "GetNode n-1 after an earlier sighting", got, web1)
	must(t, "TouchNodes none", s.TouchNodes(ctx(t), nil))

	_, err = s.GetNode(ctx(t), "n-9")
	wantErr(t, "GetNode unknown", err, store.ErrNotFound)
	wantErr(t, "UpdateNodeFacts unknown", s.UpdateNodeFacts(ctx(t), "n-9", facts, t0), store.ErrNotFound)

	all, err = s.ListNodes(ctx(t), store.NodeFilter{})
	must(t, "ListNodes", err)
	equal(t, "ListNodes at the end", all, []store.Node{kube, web1, web1b})

	// A node named like another node's id: the id wins, in FindNode and FindNodes alike, and
	// the node is found by its own id.
	odd := enrolNode(t, s, "n-3", "n-1", posture.Linux, at(3*time.Hour))
	got, err = s.FindNode(ctx(t), "n-1")
	must(t, "FindNode n-1", err)
	equal(t, "FindNode n-1 with a node named n-1", got, web1)
	many, err = s.FindNodes(ctx(t), []string{"n-1", "n-3", "web-1", "web-2"})
	must(t, "FindNodes", err)
	equal(t, "FindNodes with a node named n-1", many, map[string][]store.Node{
		"n-1": {web1}, "n-3": {odd}, "web-1": {web1}, "web-2": {web1b},
	})
}

func testEnrolTokens(t *testing.T, s store.Store) {
	toks := []store.EnrolToken{
		{ID: "tok-b", Hash: hash("b"), CreatedAt: at(time.Minute), ExpiresAt: at(time.Hour), Uses: 5, CreatedBy: "alice"},
		{ID: "tok-a", Hash: hash("a"), CreatedAt: at(time.Minute), ExpiresAt: at(2 * time.Hour), Uses: 1, CreatedBy: "bob"},
		{ID: "tok-c", Hash: hash("c"), CreatedAt: t0, Uses: 2, Used: 1},
	}
	for _, tok := range toks {
		must(t, "CreateEnrolToken "+tok.ID, s.CreateEnrolToken(ctx(t), tok))
	}
	wantErr(t, "CreateEnrolToken with a taken id",
		s.CreateEnrolToken(ctx(t), store.EnrolToken{ID: "tok-a", Hash: hash("z"), CreatedAt: t0, ExpiresAt: at(time.Hour), Uses: 1}), store.ErrConflict)
	wantErr(t, "CreateEnrolToken with a taken hash",
		s.CreateEnrolToken(ctx(t), store.EnrolToken{ID: "tok-z", Hash: hash("b"), CreatedAt: t0, ExpiresAt: at(time.Hour), Uses: 1}), store.ErrConflict)

	got, err := s.ListEnrolTokens(ctx(t))
	must(t, "ListEnrolTokens", err)
	equal(t, "ListEnrolTokens (by created, then id)", got, []store.EnrolToken{toks[2], toks[1], toks[0]})

	revokedAt := time.Date(2026, 11, 26, 12, 0, 0, 42, cet)
	must(t, "RevokeEnrolToken", s.RevokeEnrolToken(ctx(t), "tok-b", revokedAt))
	must(t, "RevokeEnrolToken again", s.RevokeEnrolToken(ctx(t), "tok-b", at(5*time.Hour)))
	wantErr(t, "RevokeEnrolToken unknown", s.RevokeEnrolToken(ctx(t), "tok-x", t0), store.ErrNotFound)
	toks[0].RevokedAt = revokedAt.UTC()

	// A token without expiry works long after; its uses are counted.
	must(t, "EnrolNode with tok-c", s.EnrolNode(ctx(t), hash("c"), store.Node{ID: "n-1", Name: "h1", TargetType: posture.Linux}, at(1000*time.Hour)))
	toks[2].Used = 2

	got, err = s.ListEnrolTokens(ctx(t))
	must(t, "ListEnrolTokens", err)
	for _, tok := range got {
		checkUTC(t, "ListEnrolTokens "+tok.ID, tok.CreatedAt, tok.ExpiresAt, tok.RevokedAt)
	}
	equal(t, "ListEnrolTokens after revoke and use", got, []store.EnrolToken{toks[2], toks[1], toks[0]})
}

// testEnrolRejected checks each way enrolment can fail, and that a failure changes nothing.
func testEnrolRejected(t *testing.T, s store.Store) {
	now := at(time.Hour)
	toks := []store.EnrolToken{
		{ID: "ok", Hash: hash("ok"), CreatedAt: t0, ExpiresAt: at(2 * time.Hour), Uses: 2},
		{ID: "expired", Hash: hash("expired"), CreatedAt: t0, ExpiresAt: at(time.Hour - time.Nanosecond), Uses: 2},
		{ID: "expires-now", Hash: hash("expires-now"), CreatedAt: t0, ExpiresAt: now, Uses: 2},
		{ID: "used-up", Hash: hash("used-up"), CreatedAt: t0, ExpiresAt: at(2 * time.Hour), Uses: 3, Used: 3},
		{ID: "revoked", Hash: hash("revoked"), CreatedAt: t0, ExpiresAt: at(2 * time.Hour), Uses: 2, RevokedAt: at(time.Minute)},
		{ID: "revoked-expired-used", Hash: hash("rev-exp-used"), CreatedAt: t0, ExpiresAt: at(time.Minute), Uses: 1, Used: 1, RevokedAt: at(2 * time.Minute)},
		{ID: "expired-used", Hash: hash("exp-used"), CreatedAt: t0, ExpiresAt: at(time.Minute), Uses: 1, Used: 1},
	}
	for _, tok := range toks {
		must(t, "CreateEnrolToken "+tok.ID, s.CreateEnrolToken(ctx(t), tok))
	}
	slices.SortFunc(toks, func(a, b store.EnrolToken) int { return strings.Compare(a.ID, b.ID) })
	// The ok token has enrolled n-1 already.
	must(t, "EnrolNode n-1", s.EnrolNode(ctx(t), hash("ok"), store.Node{ID: "n-1", Name: "one", TargetType: posture.Linux}, now))
	for i := range toks {
		if toks[i].ID == "ok" {
			toks[i].Used = 1
		}
	}

	tests := []struct {
		name string
		hash []byte
		node string
		want error
	}{
		{"unknown hash", hash("nope"), "n-2", store.ErrNotFound},
		{"nil hash", nil, "n-2", store.ErrNotFound},
		{"expired", hash("expired"), "n-2", store.ErrTokenExpired},
		{"expires exactly now", hash("expires-now"), "n-2", store.ErrTokenExpired},
		{"used up", hash("used-up"), "n-2", store.ErrTokenUsedUp},
		{"revoked", hash("revoked"), "n-2", store.ErrTokenRevoked},
		{"revoked wins over expired and used up", hash("rev-exp-used"), "n-2", store.ErrTokenRevoked},
		{"expired wins over used up", hash("exp-used"), "n-2", store.ErrTokenExpired},
		{"node id taken", hash("ok"), "n-1", store.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.EnrolNode(ctx(t), tt.hash, store.Node{ID: tt.node, Name: "two", TargetType: posture.Linux}, now)
			wantErr(t, "EnrolNode", err, tt.want)
			got, err := s.ListEnrolTokens(ctx(t))
			must(t, "ListEnrolTokens", err)
			equal(t, "tokens after a rejected enrolment", got, toks)
			nodes, err := s.ListNodes(ctx(t), store.NodeFilter{})
			must(t, "ListNodes", err)
			if len(nodes) != 1 || nodes[0].ID != "n-1" || nodes[0].Name != "one" || !nodes[0].EnrolledAt.Equal(now) {
				t.Fatalf("nodes after a rejected enrolment = %+v; want only n-1 as enrolled", nodes)
			}
		})
	}
}

// testEnrolConcurrent races more enrolments than a token has uses: exactly Uses succeed.
func testEnrolConcurrent(t *testing.T, s store.Store) {
	const uses, tries = 5, 20
	tok := store.EnrolToken{ID: "tok", Hash: hash("tok"), CreatedAt: t0, ExpiresAt: at(time.Hour), Uses: uses}
	must(t, "CreateEnrolToken", s.CreateEnrolToken(ctx(t), tok))
	errs := make([]error, tries)
	var wg sync.WaitGroup
	for i := range tries {
		wg.Go(func() {
			n := store.Node{ID: fmt.Sprintf("n-%02d", i), Name: "node", TargetType: posture.Linux}
			errs[i] = s.EnrolNode(ctx(t), tok.Hash, n, at(time.Minute))
		})
	}
	wg.Wait()
	ok, usedUp := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, store.ErrTokenUsedUp):
			usedUp++
		default:
			t.Fatalf("enrolment %d: unexpected error %v", i, err)
		}
	}
	if ok != uses || usedUp != tries-uses {
		t.Fatalf("%d enrolments succeeded and %d were used up; want %d and %d", ok, usedUp, uses, tries-uses)
	}
	nodes, err := s.ListNodes(ctx(t), store.NodeFilter{})
	must(t, "ListNodes", err)
	equal(t, "nodes enrolled", len(nodes), uses)
	got, err := s.ListEnrolTokens(ctx(t))
	must(t, "ListEnrolTokens", err)
	tok.Used = uses
	equal(t, "token after the race", got, []store.EnrolToken{tok})
}

func testAPITokens(t *testing.T, s store.Store) {
	toks := []store.APIToken{
		{ID: "api-2", Name: "ci", Hash: hash("ci"), Role: store.RoleAnalyst, CreatedAt: at(time.Minute), CreatedBy: "alice"},
		{ID: "api-1", Name: "backup", Hash: hash("backup"), Role: store.RoleViewer, CreatedAt: at(time.Minute),
			ExpiresAt: time.Date(2027, 1, 1, 0, 0, 0, 5, cet), CreatedBy: "bob"},
		{ID: "api-0", Name: "root", Hash: hash("root"), Role: store.RoleAdmin, CreatedAt: t0},
	}
	for _, tok := range toks {
		must(t, "CreateAPIToken "+tok.ID, s.CreateAPIToken(ctx(t), tok))
	}
	toks[1].ExpiresAt = toks[1].ExpiresAt.UTC()
	wantErr(t, "CreateAPIToken with a taken id",
		s.CreateAPIToken(ctx(t), store.APIToken{ID: "api-1", Name: "x", Hash: hash("x"), Role: store.RoleViewer, CreatedAt: t0}), store.ErrConflict)
	wantErr(t, "CreateAPIToken with a taken hash",
		s.CreateAPIToken(ctx(t), store.APIToken{ID: "api-9", Name: "x", Hash: hash("ci"), Role: store.RoleViewer, CreatedAt: t0}), store.ErrConflict)

	for _, want := range toks {
		got, err := s.GetAPIToken(ctx(t), want.Hash)
		must(t, "GetAPIToken "+want.ID, err)
		checkUTC(t, "GetAPIToken", got.CreatedAt, got.ExpiresAt, got.RevokedAt)
		equal(t, "GetAPIToken "+want.ID, got, want)
	}
	_, err := s.GetAPIToken(ctx(t), hash("nope"))
	wantErr(t, "GetAPIToken unknown", err, store.ErrNotFound)

	got, err := s.ListAPITokens(ctx(t))
	must(t, "ListAPITokens", err)
	equal(t, "ListAPITokens (by created, then id)", got, []store.APIToken{toks[2], toks[1], toks[0]})

	must(t, "RevokeAPIToken", s.RevokeAPIToken(ctx(t), "api-2", at(time.Hour)))
	must(t, "RevokeAPIToken again", s.RevokeAPIToken(ctx(t), "api-2", at(2*time.Hour)))
	wantErr(t, "RevokeAPIToken unknown", s.RevokeAPIToken(ctx(t), "api-9", at(time.Hour)), store.ErrNotFound)
	toks[0].RevokedAt = at(time.Hour)
	// A revoked token is still found; the caller decides.
	tok, err := s.GetAPIToken(ctx(t), hash("ci"))
	must(t, "GetAPIToken revoked", err)
	equal(t, "GetAPIToken revoked", tok, toks[0])
	got, err = s.ListAPITokens(ctx(t))
	must(t, "ListAPITokens", err)
	equal(t, "ListAPITokens after revoke", got, []store.APIToken{toks[2], toks[1], toks[0]})
}

func testUsers(t *testing.T, s store.Store) {
	users := []store.User{
		{Name: "carol", PasswordHash: []byte("$argon2id$carol"), Role: store.RoleViewer, CreatedAt: at(2 * time.Minute)},
		{Name: "alice", PasswordHash: []byte("$argon2id$alice"), Role: store.RoleAdmin, CreatedAt: time.Date(2026, 11, 26, 11, 0, 0, 7, cet)},
		{Name: "bob", PasswordHash: []byte("$argon2id$bob"), Role: store.RoleAnalyst, CreatedAt: at(time.Minute)},
	}
	for _, u := range users {
		must(t, "CreateUser "+u.Name, s.CreateUser(ctx(t), u))
	}
	users[1].CreatedAt = users[1].CreatedAt.UTC()
	wantErr(t, "CreateUser with a taken name",
		s.CreateUser(ctx(t), store.User{Name: "bob", PasswordHash: []byte("x"), Role: store.RoleAdmin, CreatedAt: t0}), store.ErrConflict)

	for _, want := range users {
		got, err := s.GetUser(ctx(t), want.Name)
		must(t, "GetUser "+want.Name, err)
		checkUTC(t, "GetUser", got.CreatedAt)
		equal(t, "GetUser "+want.Name, got, want)
	}
	_, err := s.GetUser(ctx(t), "mallory")
	wantErr(t, "GetUser unknown", err, store.ErrNotFound)

	got, err := s.ListUsers(ctx(t))
	must(t, "ListUsers", err)
	equal(t, "ListUsers (by name)", got, []store.User{users[1], users[2], users[0]})
}
