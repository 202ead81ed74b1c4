package api

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
)

// TestNodeConnected checks that a node reads connected while its sensor was seen within
// DefaultConnectedWithin, in ListNodes and GetNode alike, and that a hello brings it back.
func TestNodeConnected(t *testing.T) {
	h := newHarness(t)
	h.enrol("n-web", "web-1") // seen at enrolment, at start
	h.clock.Advance(time.Minute)
	h.enrol("n-db", "db-1") // seen a minute later
	connected := func() string {
		t.Helper()
		list, err := h.srv.ListNodes(viewer, &consolev1.ListNodesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, n := range list.GetNodes() {
			one, err := h.srv.GetNode(viewer, &consolev1.GetNodeRequest{Node: n.GetId()})
			if err != nil {
				t.Fatal(err)
			}
			if one.GetConnected() != n.GetConnected() {
				t.Fatalf("node %s: GetNode says connected %t, ListNodes %t", n.GetId(), one.GetConnected(), n.GetConnected())
			}
			got += fmt.Sprintf("%s=%t ", n.GetName(), n.GetConnected())
		}
		return got
	}
	steps := []struct {
		what string
		step func()
		want string
	}{
		{"both just seen", func() {}, "db-1=true web-1=true "},
		{"web-1 seen exactly 90 s ago", func() { h.clock.Advance(DefaultConnectedWithin - time.Minute) }, "db-1=true web-1=true "},
		{"web-1 seen 90 s and 1 ns ago", func() { h.clock.Advance(time.Nanosecond) }, "db-1=true web-1=false "},
		{"web-1 says hello", func() {
			if err := h.st.TouchNodes(context.Background(), []store.Sighting{{NodeID: "n-web", At: h.clock.Now()}}); err != nil {
				t.Fatal(err)
			}
		}, "db-1=true web-1=true "},
		{"a minute of silence more", func() { h.clock.Advance(time.Minute) }, "db-1=false web-1=true "},
		{"seen by a replica whose clock runs ahead", func() {
			if err := h.st.TouchNodes(context.Background(), []store.Sighting{{NodeID: "n-db", At: h.clock.Now().Add(time.Second)}}); err != nil {
				t.Fatal(err)
			}
		}, "db-1=true web-1=true "},
		{"both gone", func() { h.clock.Advance(time.Hour) }, "db-1=false web-1=false "},
	}
	for _, s := range steps {
		s.step()
		if got := connected(); got != s.want {
			t.Fatalf("%s: connected %q; want %q", s.what, got, s.want)
		}
	}
}
