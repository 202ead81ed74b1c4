package postgres

import (
	"reflect"
	"strings"
	"testing"

	"github.com/palisadehq/palisade/console/internal/store"
)

// TestNodeSelectReadsEveryFact guards the two sides of a node's facts from drifting apart: they
// are written as the JSON of store.NodeFacts and read one column per fact, so a fact added to
// the type must be added to nodeSelect too. (The conformance suite checks the columns land in
// the right fields.)
func TestNodeSelectReadsEveryFact(t *testing.T) {
	typ := reflect.TypeFor[store.NodeFacts]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if want := "coalesce(facts->>'" + name + "', '')"; !strings.Contains(nodeSelect, want) {
			t.Errorf("nodeSelect does not read fact %s (field %s): want %s in it", name, typ.Field(i).Name, want)
		}
	}
	if got := strings.Count(nodeSelect, "facts->>"); got != typ.NumField() {
		t.Errorf("nodeSelect reads %d facts; store.NodeFacts has %d", got, typ.NumField())
	}
}
