package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// titles are the control titles of the masking tests' scans; kernel.aslr is not among their
// controls, so its results have no title.
var titles = map[string]string{
	"audit.enabled":    "auditd service enabled",
	"audit.rules":      "Audit rules for identity and time changes",
	"fs.mount-options": "Temporary file systems mounted nodev,nosuid,noexec",
	"kernel.modules":   "Unused file system kernel modules disabled",
	"ssh.ciphers":      "Strong SSH ciphers only",
	"ssh.root-login":   "SSH root login disabled",
}

// titledControls is the control set of the masking tests' scans.
func titledControls() []store.ScanControl {
	var out []store.ScanControl
	for _, r := range resultSet() {
		title, ok := titles[r.ControlID]
		if !ok || (len(out) > 0 && out[len(out)-1].ControlID == r.ControlID) {
			continue
		}
		out = append(out, store.ScanControl{ControlID: r.ControlID, Title: title, Severity: r.Severity, Service: r.Service,
			Benchmarks: []string{"cis-linux"}})
	}
	return out
}

// onScan is rs moved to a scan and node.
func onScan(rs []store.Result, scanID, nodeID string) []store.Result {
	out := make([]store.Result, len(rs))
	for i, r := range rs {
		r.ScanID, r.NodeID = scanID, nodeID
		out[i] = r
	}
	return out
}

// fillScan creates a scan of titledControls on node, stores results in it and moves it to
// state (running or complete).
func fillScan(t *testing.T, s store.Store, id, node string, created time.Time, results []store.Result, state posture.ScanState) {
	t.Helper()
	sc := newScan(id, "", node, created)
	sc.BenchmarkIDs, sc.Controls = []string{"cis-linux"}, titledControls()
	must(t, "CreateScans "+id, s.CreateScans(ctx(t), []store.NewScan{sc}))
	_, err := s.TransitionScan(ctx(t), id, store.Transition{State: posture.Running, At: created.Add(time.Second)})
	must(t, "running "+id, err)
	_, err = s.StoreBatch(ctx(t), store.Batch{ScanID: id, NodeID: node, Seq: 1, ReceivedAt: created.Add(2 * time.Second), Results: onScan(results, id, node)})
	must(t, "StoreBatch "+id, err)
	if state == posture.Complete {
		_, err = s.CompleteScan(ctx(t), id, nil, created.Add(3*time.Second))
		must(t, "CompleteScan "+id, err)
	}
}

// The masks of the masking tests, by id. "removed" is removed by maskFixture; "expiring"
// expires at t0+1h.
var testMasks = []store.Mask{
	{ID: "global", ControlID: "fs.mount-options", Reason: "containers have no separate /tmp", CreatedAt: at(time.Minute), CreatedBy: "alice"},
	{ID: "node", ControlID: "ssh.ciphers", NodeIDs: []string{"n-2"}, Reason: "legacy clients", CreatedAt: at(2 * time.Minute), CreatedBy: "bob"},
	{ID: "result", ControlID: "ssh.root-login", NodeIDs: []string{"n-1"}, Resource: "/etc/ssh/sshd_config", Reason: "break-glass host",
		CreatedAt: at(3 * time.Minute), CreatedBy: "alice"},
	{ID: "expiring", ControlID: "kernel.modules", Reason: "until the kernel upgrade", CreatedAt: at(4 * time.Minute), CreatedBy: "bob",
		ExpiresAt: at(time.Hour)},
	{ID: "removed", ControlID: "audit.enabled", Reason: "by mistake", CreatedAt: at(5 * time.Minute), CreatedBy: "bob"},
	{ID: "overlap", ControlID: "fs.mount-options", NodeIDs: []string{"n-1", "n-3"}, Resource: "/tmp", Reason: "tmpfs",
		CreatedAt: at(6 * time.Minute), CreatedBy: "carol"},
	// Created at the same time as "overlap": ties go by id.
	{ID: "none", ControlID: "no.such-control", Reason: "matches nothing", CreatedAt: at(6 * time.Minute), CreatedBy: "carol"},
}

// mask returns the test mask with the id, as stored once maskFixture has run.
func mask(id string) store.Mask {
	for _, m := range testMasks {
		if m.ID == id {
			if id == "removed" {
				m.RemovedAt, m.RemovedBy = at(10*time.Minute), "carol"
			}
			return m
		}
	}
	panic("no test mask " + id)
}

// maskFixture stores maskScans, then the test masks, removing "removed".
func maskFixture(t *testing.T, s store.Store) {
	t.Helper()
	maskScans(t, s)
	storeMasks(t, s)
}

// maskScans stores resultSet as the complete scans s-1 on n-1 (created at t0+1m) and s-2 on
// n-2 (t0+2m), and as the running scan s-run on n-1.
func maskScans(t *testing.T, s store.Store) {
	t.Helper()
	enrolNode(t, s, "n-1", "web-1", posture.Linux, t0)
	enrolNode(t, s, "n-2", "web-2", posture.Linux, t0)
	fillScan(t, s, "s-1", "n-1", at(time.Minute), resultSet(), posture.Complete)
	fillScan(t, s, "s-2", "n-2", at(2*time.Minute), resultSet(), posture.Complete)
	fillScan(t, s, "s-run", "n-1", at(3*time.Minute), resultSet(), posture.Running)
}

// storeMasks stores the test masks and removes "removed".
func storeMasks(t *testing.T, s store.Store) {
	t.Helper()
	for _, m := range testMasks {
		if m.ID == "expiring" {
			m.ExpiresAt = m.ExpiresAt.In(cet) // comes back in UTC
		}
		must(t, "CreateMask "+m.ID, s.CreateMask(ctx(t), m))
	}
	got, err := s.RemoveMask(ctx(t), "removed", "carol", at(10*time.Minute).In(cet))
	must(t, "RemoveMask", err)
	checkUTC(t, "RemoveMask", got.CreatedAt, got.ExpiresAt, got.RemovedAt)
	equal(t, "RemoveMask", got, mask("removed"))
}

func testMasksStored(t *testing.T, s store.Store) {
	maskFixture(t, s)
	for _, m := range testMasks {
		got, err := s.GetMask(ctx(t), m.ID)
		must(t, "GetMask "+m.ID, err)
		checkUTC(t, "GetMask", got.CreatedAt, got.ExpiresAt, got.RemovedAt)
		equal(t, "GetMask "+m.ID, got, mask(m.ID))
	}
	_, err := s.GetMask(ctx(t), "missing")
	wantErr(t, "GetMask unknown", err, store.ErrNotFound)

	rejected := []struct {
		name string
		mask store.Mask
		want string // the error, or "" for store.ErrConflict
	}{
		{"taken id", store.Mask{ID: "global", ControlID: "x", CreatedAt: t0}, ""},
		{"no id", store.Mask{ControlID: "x", CreatedAt: t0}, "create mask: empty mask id"},
		{"no control", store.Mask{ID: "m", CreatedAt: t0}, "create mask m: no control id; a mask covers one control"},
		{"no creation time", store.Mask{ID: "m", ControlID: "x"}, "create mask m: no creation time"},
	}
	for _, tt := range rejected {
		err := s.CreateMask(ctx(t), tt.mask)
		if tt.want == "" {
			wantErr(t, "CreateMask "+tt.name, err, store.ErrConflict)
		} else if err == nil || err.Error() != tt.want {
			t.Fatalf("CreateMask %s: error = %v; want %q", tt.name, err, tt.want)
		}
	}
	got, err := s.GetMask(ctx(t), "global")
	must(t, "GetMask global", err)
	equal(t, "mask after a conflicting CreateMask", got, mask("global"))

	tests := []struct {
		name   string
		filter store.MaskFilter
		want   []string
	}{
		{"all", store.MaskFilter{}, []string{"global", "node", "result", "expiring", "removed", "none", "overlap"}},
		{"control", store.MaskFilter{ControlID: "fs.mount-options"}, []string{"global", "overlap"}},
		{"node n-1", store.MaskFilter{NodeID: "n-1"}, []string{"global", "result", "expiring", "removed", "none", "overlap"}},
		{"node n-2", store.MaskFilter{NodeID: "n-2"}, []string{"global", "node", "expiring", "removed", "none"}},
		{"node n-3", store.MaskFilter{NodeID: "n-3"}, []string{"global", "expiring", "removed", "none", "overlap"}},
		{"unknown node: the global ones", store.MaskFilter{NodeID: "n-9"}, []string{"global", "expiring", "removed", "none"}},
		{"active", store.MaskFilter{ActiveAt: at(30 * time.Minute)}, []string{"global", "node", "result", "expiring", "none", "overlap"}},
		{"active when one expires", store.MaskFilter{ActiveAt: at(time.Hour)}, []string{"global", "node", "result", "none", "overlap"}},
		{"active just before", store.MaskFilter{ActiveAt: at(time.Hour - 1).In(cet)}, []string{"global", "node", "result", "expiring", "none", "overlap"}},
		{"all three", store.MaskFilter{ControlID: "fs.mount-options", NodeID: "n-2", ActiveAt: at(time.Hour)}, []string{"global"}},
		{"nothing", store.MaskFilter{ControlID: "audit.enabled", ActiveAt: at(time.Minute)}, nil},
	}
	for _, tt := range tests {
		got, err := s.ListMasks(ctx(t), tt.filter)
		must(t, "ListMasks "+tt.name, err)
		var want []store.Mask
		for _, id := range tt.want {
			want = append(want, mask(id))
		}
		equal(t, "ListMasks "+tt.name, got, want)
	}

	_, err = s.RemoveMask(ctx(t), "removed", "dave", at(20*time.Minute))
	wantErr(t, "RemoveMask of a removed mask", err, store.ErrConflict)
	_, err = s.RemoveMask(ctx(t), "missing", "dave", at(20*time.Minute))
	wantErr(t, "RemoveMask of an unknown mask", err, store.ErrNotFound)
	got, err = s.GetMask(ctx(t), "removed")
	must(t, "GetMask removed", err)
	equal(t, "mask removed twice", got, mask("removed"))
	// An expired mask can still be removed.
	got, err = s.RemoveMask(ctx(t), "expiring", "dave", at(2*time.Hour))
	must(t, "RemoveMask expired", err)
	want := mask("expiring")
	want.RemovedAt, want.RemovedBy = at(2*time.Hour), "dave"
	equal(t, "RemoveMask expired", got, want)
}

// withMask is r with its title and the mask with the id ("" for none).
func withMask(r store.Result, maskID string) store.Result {
	r.Title = titles[r.ControlID]
	if maskID != "" {
		m := mask(maskID)
		r.Mask = &m
	}
	return r
}

func testMaskedCounts(t *testing.T, s store.Store) {
	maskScans(t, s)
	unmasked := map[string]posture.Counts{
		"audit.enabled":    {Pass: 1},
		"audit.rules":      {Fail: 1, Info: 1},
		"fs.mount-options": {Pass: 1, Fail: 1, Skip: 1, Error: 1},
		"kernel.aslr":      {Pass: 1},
		"kernel.modules":   {Fail: 1, Skip: 1},
		"ssh.ciphers":      {Pass: 1, Fail: 1},
		"ssh.root-login":   {Pass: 1, Fail: 1},
	}
	got, err := s.StatusCounts(ctx(t), "s-1", at(30*time.Minute))
	must(t, "StatusCounts without masks", err)
	equal(t, "StatusCounts without masks", got, unmasked)

	storeMasks(t, s)
	tests := []struct {
		scan string
		now  time.Time
		want map[string]posture.Counts
	}{
		{"s-1", at(30 * time.Minute), map[string]posture.Counts{
			"audit.enabled":    {Pass: 1}, // its mask is removed
			"audit.rules":      {Fail: 1, Info: 1},
			"fs.mount-options": {Masked: 4},
			"kernel.aslr":      {Pass: 1},
			"kernel.modules":   {Masked: 2},
			"ssh.ciphers":      {Pass: 1, Fail: 1}, // masked on n-2 only
			"ssh.root-login":   {Pass: 1, Masked: 1},
		}},
		{"s-1", at(time.Hour), map[string]posture.Counts{
			"audit.enabled":    {Pass: 1},
			"audit.rules":      {Fail: 1, Info: 1},
			"fs.mount-options": {Masked: 4},
			"kernel.aslr":      {Pass: 1},
			"kernel.modules":   {Fail: 1, Skip: 1}, // its mask expired
			"ssh.ciphers":      {Pass: 1, Fail: 1},
			"ssh.root-login":   {Pass: 1, Masked: 1},
		}},
		{"s-2", at(30 * time.Minute), map[string]posture.Counts{
			"audit.enabled":    {Pass: 1},
			"audit.rules":      {Fail: 1, Info: 1},
			"fs.mount-options": {Masked: 4},
			"kernel.aslr":      {Pass: 1},
			"kernel.modules":   {Masked: 2},
			"ssh.ciphers":      {Masked: 2},
			"ssh.root-login":   {Pass: 1, Fail: 1}, // masked on n-1 only
		}},
		// Masks apply to every scan, running ones included.
		{"s-run", at(30 * time.Minute), map[string]posture.Counts{
			"audit.enabled":    {Pass: 1},
			"audit.rules":      {Fail: 1, Info: 1},
			"fs.mount-options": {Masked: 4},
			"kernel.aslr":      {Pass: 1},
			"kernel.modules":   {Masked: 2},
			"ssh.ciphers":      {Pass: 1, Fail: 1},
			"ssh.root-login":   {Pass: 1, Masked: 1},
		}},
	}
	for _, tt := range tests {
		got, err := s.StatusCounts(ctx(t), tt.scan, tt.now)
		must(t, "StatusCounts "+tt.scan, err)
		equal(t, fmt.Sprintf("StatusCounts %s at %v", tt.scan, tt.now), got, tt.want)
	}

	// Removing the global mask leaves the one result masked by "overlap".
	_, err = s.RemoveMask(ctx(t), "global", "alice", at(40*time.Minute))
	must(t, "RemoveMask global", err)
	got, err = s.StatusCounts(ctx(t), "s-1", at(50*time.Minute))
	must(t, "StatusCounts after removal", err)
	equal(t, "StatusCounts fs.mount-options after removal", got["fs.mount-options"], posture.Counts{Fail: 1, Skip: 1, Error: 1, Masked: 1})
	got, err = s.StatusCounts(ctx(t), "s-2", at(50*time.Minute))
	must(t, "StatusCounts after removal", err)
	equal(t, "StatusCounts fs.mount-options on n-2 after removal", got["fs.mount-options"], posture.Counts{Pass: 1, Fail: 1, Skip: 1, Error: 1})
}

func testMaskedResults(t *testing.T, s store.Store) {
	maskFixture(t, s)
	// Positions in the listing order (see sorted) and the mask each masked one shows.
	visible := []int{0, 1, 2, 7, 10, 11, 13}
	maskOf := map[int]string{3: "global", 4: "global", 5: "global", 6: "global", 8: "expiring", 9: "expiring", 12: "result"}
	expect := func(idx []int, masks map[int]string) []store.Result {
		var out []store.Result
		for _, i := range idx {
			out = append(out, withMask(pick(i)[0], masks[i]))
		}
		return out
	}
	tests := []struct {
		name   string
		filter store.ResultFilter
		want   []store.Result
	}{
		{"default: unmasked only", store.ResultFilter{Now: at(30 * time.Minute)}, expect(visible, nil)},
		{"masked only", store.ResultFilter{Masked: store.MaskedOnly, Now: at(30 * time.Minute)},
			expect([]int{3, 4, 5, 6, 8, 9, 12}, maskOf)},
		{"every result", store.ResultFilter{Masked: store.MaskedInclude, Now: at(30 * time.Minute)},
			expect([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, maskOf)},
		{"masked only, once one expired", store.ResultFilter{Masked: store.MaskedOnly, Now: at(time.Hour)},
			expect([]int{3, 4, 5, 6, 12}, maskOf)},
		{"default, once one expired", store.ResultFilter{Now: at(time.Hour)},
			expect([]int{0, 1, 2, 7, 8, 9, 10, 11, 13}, nil)},
		{"masked and filtered", store.ResultFilter{Masked: store.MaskedOnly, Now: at(30 * time.Minute), Statuses: []posture.Status{posture.Fail}},
			expect([]int{3, 8, 12}, maskOf)},
		{"masked, by severity", store.ResultFilter{Masked: store.MaskedOnly, Now: at(30 * time.Minute), Order: store.OrderBySeverity},
			expect([]int{12, 3, 4, 5, 6, 8, 9}, maskOf)},
		{"every result, by status", store.ResultFilter{Masked: store.MaskedInclude, Now: at(30 * time.Minute), Order: store.OrderByStatus},
			expect([]int{1, 3, 8, 11, 12, 4, 2, 0, 5, 7, 10, 13, 6, 9}, maskOf)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.filter
			f.ScanID = "s-1"
			page, err := s.ListResults(ctx(t), f)
			must(t, "ListResults", err)
			equal(t, "results", page.Results, tt.want)
			equal(t, "Total", page.Total, int64(len(tt.want)))
			equal(t, "NextPageToken", page.NextPageToken, "")
			f.PageSize = 2
			got, total := listAll(t, s, f)
			equal(t, "results in pages of 2", got, tt.want)
			equal(t, "Total in pages of 2", total, int64(len(tt.want)))
		})
	}

	// On n-2 the node mask applies and the result mask does not.
	page, err := s.ListResults(ctx(t), store.ResultFilter{ScanID: "s-2", Masked: store.MaskedOnly, Now: at(30 * time.Minute)})
	must(t, "ListResults s-2", err)
	want := onScan(expect([]int{3, 4, 5, 6, 8, 9, 10, 11}, map[int]string{
		3: "global", 4: "global", 5: "global", 6: "global", 8: "expiring", 9: "expiring", 10: "node", 11: "node",
	}), "s-2", "n-2")
	equal(t, "ListResults s-2 masked only", page.Results, want)

	// With the global mask removed, /tmp shows the next oldest active mask covering it.
	_, err = s.RemoveMask(ctx(t), "global", "alice", at(40*time.Minute))
	must(t, "RemoveMask global", err)
	page, err = s.ListResults(ctx(t), store.ResultFilter{ScanID: "s-1", Masked: store.MaskedOnly, Now: at(50 * time.Minute)})
	must(t, "ListResults after removal", err)
	equal(t, "ListResults after removal", page.Results, expect([]int{5, 8, 9, 12}, map[int]string{5: "overlap", 8: "expiring", 9: "expiring", 12: "result"}))
}

func testMaskedScans(t *testing.T, s store.Store) {
	maskFixture(t, s)
	// A newer complete scan on n-1 without the masked controls' results.
	fillScan(t, s, "s-3", "n-1", at(4*time.Minute), resultSet()[:2], posture.Complete)
	tests := []struct {
		name string
		mask store.Mask
		want []string
	}{
		{"global", mask("global"), []string{"s-1", "s-2"}},
		{"node", mask("node"), []string{"s-2"}},
		{"result", mask("result"), []string{"s-1"}},
		{"resource on two nodes", mask("overlap"), []string{"s-1"}},
		{"removed", mask("removed"), []string{"s-1", "s-2"}},
		{"control held by every scan", store.Mask{ControlID: "ssh.ciphers"}, []string{"s-1", "s-2", "s-3"}},
		{"not stored", store.Mask{ControlID: "kernel.modules", Resource: "cramfs", NodeIDs: []string{"n-2", "n-9"}}, []string{"s-2"}},
		{"unknown resource", store.Mask{ControlID: "ssh.root-login", Resource: "/nope"}, nil},
		{"unknown control", mask("none"), nil},
	}
	for _, tt := range tests {
		got, err := s.MaskedScans(ctx(t), tt.mask)
		must(t, "MaskedScans "+tt.name, err)
		equal(t, "MaskedScans "+tt.name, got, tt.want)
	}
}

func testResultQuery(t *testing.T, s store.Store) {
	maskFixture(t, s)
	tests := []struct {
		query  string
		masked store.MaskedFilter
		want   []int
	}{
		{"SSHD_config", store.MaskedInclude, []int{10, 11, 12, 13}},
		{"SSHD_config", store.MaskedExclude, []int{10, 11, 13}},
		{"root login", store.MaskedInclude, []int{12, 13}}, // the title
		{"Kernel.", store.MaskedInclude, []int{7, 8, 9}},
		{"is error", store.MaskedInclude, []int{4}}, // the reason
		{"is error", store.MaskedExclude, nil},
		{"/etc/audit/rules.d/", store.MaskedInclude, []int{1, 2}},
		{"_va_", store.MaskedInclude, []int{7}}, // no wildcards
		{"%", store.MaskedInclude, nil},
		{"nothing like this", store.MaskedInclude, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query+"/"+tt.masked.String(), func(t *testing.T) {
			page, err := s.ListResults(ctx(t), store.ResultFilter{ScanID: "s-1", Query: tt.query, Masked: tt.masked, Now: at(30 * time.Minute)})
			must(t, "ListResults", err)
			var keys []string
			for _, r := range page.Results {
				keys = append(keys, r.ControlID+" "+r.Resource)
			}
			var want []string
			for _, i := range tt.want {
				want = append(want, sorted[i].control+" "+sorted[i].resource)
			}
			equal(t, "results", keys, want)
			equal(t, "Total", page.Total, int64(len(tt.want)))
		})
	}
}
