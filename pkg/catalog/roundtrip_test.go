package catalog

import (
	"bytes"
	"testing"
)

// TestJobDocumentRoundTrip: every built-in control survives the encoding a job carries it in,
// so a sensor with another catalogue version evaluates exactly what the console sent.
func TestJobDocumentRoundTrip(t *testing.T) {
	cat, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	all := cat.Controls()
	doc, err := MarshalControls(all)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalControls(doc)
	if err != nil {
		t.Fatalf("decode the job document of %d controls: %v", len(all), err)
	}
	if len(back) != len(all) {
		t.Fatalf("decoded %d controls; want %d", len(back), len(all))
	}
	again, err := MarshalControls(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, doc) {
		t.Fatal("the controls changed in the round trip (the re-encoded document differs)")
	}
}
