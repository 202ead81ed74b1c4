package agent

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/palisadehq/palisade/pkg/catalog"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

func TestJobControls(t *testing.T) {
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	all := cat.Controls()
	ids := []string{all[0].ID, all[1].ID}
	doc, err := catalog.MarshalControls(all[:2])
	if err != nil {
		t.Fatal(err)
	}
	cis, err := cat.ControlSet([]string{"linux-cis"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cisIDs []string
	for _, c := range cis {
		cisIDs = append(cisIDs, c.ID)
	}
	tests := []struct {
		name    string
		job     *sensorv1.Job
		wantIDs []string
		wantErr string
	}{
		{"definitions", &sensorv1.Job{Controls: doc}, ids, ""},
		{"ids of the same catalogue", &sensorv1.Job{ControlIds: ids, CatalogVersion: cat.Version()}, ids, ""},
		{"ids of another catalogue", &sensorv1.Job{ControlIds: ids, CatalogVersion: "0123456789ab"}, nil,
			`the job names controls of catalogue "0123456789ab" but this sensor has catalogue ` + cat.Version()},
		{"benchmarks and exclusions", &sensorv1.Job{BenchmarkIds: []string{"linux-cis"}, ExcludeControlIds: cisIDs[2:], CatalogVersion: cat.Version()}, cisIDs[:2], ""},
		{"benchmarks of another catalogue", &sensorv1.Job{BenchmarkIds: []string{"linux-cis"}, CatalogVersion: "0123456789ab"}, nil,
			`the job names controls of catalogue "0123456789ab"`},
		{"unknown exclusion", &sensorv1.Job{BenchmarkIds: []string{"linux-cis"}, ExcludeControlIds: []string{"linux.nope"}, CatalogVersion: cat.Version()}, nil,
			"the job's benchmarks do not resolve in catalogue " + cat.Version() + `: unknown control "linux.nope"`},
		{"everything excluded", &sensorv1.Job{BenchmarkIds: []string{"linux-cis"}, ExcludeControlIds: cisIDs, CatalogVersion: cat.Version()}, nil,
			"the job leaves no control to evaluate"},
		{"unknown id", &sensorv1.Job{ControlIds: []string{"linux.nope"}, CatalogVersion: cat.Version()}, nil,
			`the job names control "linux.nope", which catalogue ` + cat.Version() + " does not have"},
		{"garbage definitions", &sensorv1.Job{Controls: []byte("controls: [")}, nil, "the job's controls are invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jobControls(tt.job)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error %v; want prefix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, c := range got {
				gotIDs = append(gotIDs, c.ID)
			}
			if strings.Join(gotIDs, ",") != strings.Join(tt.wantIDs, ",") {
				t.Fatalf("controls %v; want %v", gotIDs, tt.wantIDs)
			}
		})
	}
}

// TestSplayWait: a job without splay starts at once, and a stop (the run context ending)
// ends the wait before evaluation.
func TestSplayWait(t *testing.T) {
	if err := splayWait(context.Background(), &sensorv1.Job{}, zap.NewNop()); err != nil {
		t.Fatalf("no splay: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := splayWait(ctx, &sensorv1.Job{SplayMillis: 3_600_000}, zap.NewNop()); !errors.Is(err, context.Canceled) {
		t.Fatalf("an hour's splay with the scan stopped: %v, want context.Canceled", err)
	}
}

// TestBatchBounds: a batch is sealed at the job's batch size, or earlier when its results
// reach maxBatchBytes encoded; the final batch carries the scan's result count.
// TestBatchOrder: each batch goes out in the console's key order (control id, then resource,
// by bytes), whatever order the checks finished in; two results with one key keep the order
// they were added in, and no result moves to another batch.
func TestBatchOrder(t *testing.T) {
	u := newUploader(nil, "scn_1", 4, zap.NewNop(), 0, 0)
	for _, r := range []struct{ control, resource, reason string }{
		{"ssh.b", "/etc/ssh/sshd_config", "1"}, {"kernel.a", "net.ipv4.ip_forward", "2"},
		{"ssh.b", "/etc/ssh/sshd_config.d/10.conf", "3"}, {"kernel.a", "kernel.dmesg_restrict", "4"},
		{"fs.z", "/tmp", "5"}, {"fs.z", "/tmp", "6"}, {"audit.a", "/etc/audit/auditd.conf", "7"},
	} {
		u.add(&sensorv1.Result{ControlId: r.control, Resource: r.resource, Reason: r.reason})
	}
	u.finish()
	var got []string
	for _, b := range u.queue {
		var keys []string
		for _, r := range b.GetResults() {
			keys = append(keys, r.GetControlId()+" "+r.GetResource()+" "+r.GetReason())
		}
		got = append(got, strings.Join(keys, ", "))
	}
	want := []string{
		"kernel.a kernel.dmesg_restrict 4, kernel.a net.ipv4.ip_forward 2, ssh.b /etc/ssh/sshd_config 1, ssh.b /etc/ssh/sshd_config.d/10.conf 3",
		"audit.a /etc/audit/auditd.conf 7, fs.z /tmp 5, fs.z /tmp 6",
	}
	if !slices.Equal(got, want) {
		t.Errorf("batches:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBatchBounds(t *testing.T) {
	small := func(i int) *sensorv1.Result {
		return &sensorv1.Result{ControlId: "linux.c", Resource: fmt.Sprintf("/r/%d", i), Status: sensorv1.Status_STATUS_PASS}
	}
	// 100 KiB of evidence each: 40 results fit in 4 MiB, 41 do not.
	big := func(i int) *sensorv1.Result {
		r := small(i)
		r.Evidence = []*sensorv1.Evidence{{Actual: strings.Repeat("x", 100<<10)}}
		return r
	}
	tests := []struct {
		name      string
		size, n   int
		result    func(int) *sensorv1.Result
		wantSizes []int
	}{
		{"by count", 3, 7, small, []int{3, 3, 1}},
		{"by bytes", 2000, 100, big, []int{40, 40, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUploader(nil, "scn_1", tt.size, zap.NewNop(), 0, 0)
			for i := range tt.n {
				u.add(tt.result(i))
			}
			u.finish()
			var sizes []int
			for i, b := range u.queue {
				sizes = append(sizes, len(b.GetResults()))
				if b.GetSeq() != uint64(i+1) || b.GetFinal() != (i == len(u.queue)-1) {
					t.Errorf("batch %d: seq %d, final %v", i, b.GetSeq(), b.GetFinal())
				}
				if n := proto.Size(b); n > maxBatchBytes {
					t.Errorf("batch %d is %d bytes encoded", b.GetSeq(), n)
				}
			}
			if !slices.Equal(sizes, tt.wantSizes) {
				t.Errorf("batch sizes %v, want %v", sizes, tt.wantSizes)
			}
			if got := u.queue[len(u.queue)-1].GetTotalResults(); got != uint64(tt.n) {
				t.Errorf("final batch says %d results, want %d", got, tt.n)
			}
		})
	}
}
