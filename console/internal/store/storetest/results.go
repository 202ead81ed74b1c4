package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadehq/palisade/console/internal/store"
	"github.com/palisadehq/palisade/pkg/posture"
)

// res builds a result of scan s-1 on node n-1.
func res(control, resource string, st posture.Status, sev posture.Severity, service string) store.Result {
	return store.Result{
		ScanID: "s-1", NodeID: "n-1", ControlID: control, Resource: resource, Status: st, Severity: sev,
		Service: service, Reason: fmt.Sprintf("%s on %s is %s", control, resource, st),
	}
}

// listAll reads every page of f (pages of pageSize) and checks that each page but the last is
// full.
func listAll(t *testing.T, s store.Store, f store.ResultFilter) ([]store.Result, int64) {
	t.Helper()
	var (
		out   []store.Result
		total int64 = -1
	)
	for i := 0; ; i++ {
		page, err := s.ListResults(ctx(t), f)
		must(t, fmt.Sprintf("ListResults page %d", i), err)
		if total >= 0 && page.Total != total {
			t.Fatalf("page %d: Total = %d; the first page said %d", i, page.Total, total)
		}
		total = page.Total
		out = append(out, page.Results...)
		if page.NextPageToken == "" {
			return out, total
		}
		if len(page.Results) != f.Limit() {
			t.Fatalf("page %d has %d results and a next page; want a full page of %d", i, len(page.Results), f.Limit())
		}
		f.PageToken = page.NextPageToken
		if i > 1000 {
			t.Fatal("ListResults never ends")
		}
	}
}

func testBatches(t *testing.T, s store.Store) {
	runningScan(t, s, "s-1", "n-1")
	evidence := []store.Evidence{
		{Source: "/etc/ssh/sshd_config", Line: 32, Key: "PermitRootLogin", Actual: "yes", Expected: "no"},
		{Source: "/etc/ssh/sshd_config.d/50-cloud.conf", Key: "Include"},
	}
	first := []store.Result{
		res("linux.ssh.root-login", "/etc/ssh/sshd_config", posture.Fail, posture.High, "SSH"),
		res("linux.fs.tmp-noexec", "/tmp", posture.Pass, posture.Medium, "Filesystem"),
		res("linux.audit.enabled", "auditd.service", posture.Error, posture.Critical, "Audit"),
	}
	first[0].Evidence = evidence

	type call struct {
		name  string
		batch store.Batch
		want  store.BatchOutcome
		err   error
	}
	dupOfFirst := res("linux.ssh.root-login", "/etc/ssh/sshd_config", posture.Pass, posture.High, "SSH")
	dupOfFirst.Reason = "different"
	calls := []call{
		{"first", store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 1, ReceivedAt: at(time.Minute), Results: first},
			store.BatchOutcome{Stored: 3}, nil},
		{"same seq again, other content", store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 1, ReceivedAt: at(2 * time.Minute), Results: []store.Result{
			res("linux.new", "/x", posture.Pass, posture.Low, "X"),
		}}, store.BatchOutcome{Duplicate: true}, nil},
		{"a known result and a new one", store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 2, ReceivedAt: at(3 * time.Minute), Results: []store.Result{
			dupOfFirst,
			res("linux.ssh.root-login", "/etc/ssh/sshd_config.d/50-cloud.conf", posture.Pass, posture.High, "SSH"),
		}}, store.BatchOutcome{Stored: 1}, nil},
		{"a result twice in one batch", store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 3, ReceivedAt: at(4 * time.Minute), Results: []store.Result{
			res("linux.fs.var-separate", "/var", posture.Skip, posture.Low, "Filesystem"),
			res("linux.fs.var-separate", "/var", posture.Fail, posture.Low, "Filesystem"),
		}}, store.BatchOutcome{Stored: 1}, nil},
		{"empty batch", store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 4, ReceivedAt: at(5 * time.Minute)},
			store.BatchOutcome{}, nil},
		{"empty batch again", store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 4, ReceivedAt: at(5 * time.Minute)},
			store.BatchOutcome{Duplicate: true}, nil},
		{"largest seq", store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 1<<64 - 1, ReceivedAt: at(6 * time.Minute), Results: []store.Result{
			{ControlID: "linux.info", Resource: "n-1", Status: posture.Info, Severity: posture.Low, Service: "Docs", Reason: "check by hand"},
		}}, store.BatchOutcome{Stored: 1}, nil},
		{"another node's batch", store.Batch{ScanID: "s-1", NodeID: "n-2", Seq: 5, ReceivedAt: at(7 * time.Minute), Results: []store.Result{
			res("linux.other", "/o", posture.Pass, posture.Low, "X"),
		}}, store.BatchOutcome{}, store.ErrConflict},
		{"a result for another scan", store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 5, ReceivedAt: at(7 * time.Minute), Results: []store.Result{
			res("linux.other", "/o", posture.Pass, posture.Low, "X"),
			{ScanID: "s-2", NodeID: "n-1", ControlID: "linux.other", Resource: "/p", Status: posture.Pass},
		}}, store.BatchOutcome{}, store.ErrConflict},
	}
	for _, c := range calls {
		got, err := s.StoreBatch(ctx(t), c.batch)
		if c.err != nil {
			wantErr(t, c.name, err, c.err)
			continue
		}
		must(t, c.name, err)
		equal(t, c.name, got, c.want)
	}

	sc, err := s.GetScan(ctx(t), "s-1")
	must(t, "GetScan", err)
	equal(t, "ResultsStored", sc.ResultsStored, int64(6))

	want := []store.Result{
		first[2],
		res("linux.fs.tmp-noexec", "/tmp", posture.Pass, posture.Medium, "Filesystem"),
		res("linux.fs.var-separate", "/var", posture.Skip, posture.Low, "Filesystem"),
		{ScanID: "s-1", NodeID: "n-1", ControlID: "linux.info", Resource: "n-1", Status: posture.Info, Severity: posture.Low, Service: "Docs", Reason: "check by hand"},
		first[0],
		res("linux.ssh.root-login", "/etc/ssh/sshd_config.d/50-cloud.conf", posture.Pass, posture.High, "SSH"),
	}
	// ListResults gives each result its control's title in the scan.
	for i, r := range want {
		for _, c := range controls {
			if c.ControlID == r.ControlID {
				want[i].Title = c.Title
			}
		}
	}
	got, total := listAll(t, s, store.ResultFilter{ScanID: "s-1"})
	equal(t, "stored results", got, want)
	equal(t, "Total", total, int64(6))

	// The rejected batch left its seq free: sent again by the right node, it is stored.
	out, err := s.StoreBatch(ctx(t), store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 5, ReceivedAt: at(8 * time.Minute), Results: []store.Result{
		res("linux.other", "/o", posture.Pass, posture.Low, "X"),
	}})
	must(t, "StoreBatch seq 5", err)
	equal(t, "StoreBatch seq 5", out, store.BatchOutcome{Stored: 1})
	sc, err = s.GetScan(ctx(t), "s-1")
	must(t, "GetScan", err)
	equal(t, "ResultsStored", sc.ResultsStored, int64(7))
}

// testBatchText stores results whose text holds what a text format would have to escape (tabs,
// newlines, backslashes, quotes, COPY's NULL marker, HTML, control characters, non-ASCII), sent
// out of key order with one result twice, then, in a second batch with an already stored result,
// through the path that skips stored results; every value comes back as sent.
func testBatchText(t *testing.T, s store.Store) {
	runningScan(t, s, "s-1", "n-1")
	odd := []string{"tab\there", "line\nbreak\r\n", `back\slash \N \\.`, `"quoted" 'single'`, "<b>&amp;</b>", "\x01\x1f\x7f",
		"données — 日本語 😀 \u2028", "\\N"}
	var first []store.Result
	for i, o := range odd {
		r := res(controls[i%len(controls)].ControlID, "/srv/"+o, posture.Fail, posture.High, "Svc "+o)
		r.Reason = "reason: " + o
		r.Evidence = []store.Evidence{{Source: "/etc/" + o, Line: i + 1, Key: o, Actual: o, Expected: "not " + o}}
		first = append(first, r)
	}
	// Out of key order, the last result sent again after it (the first sent is kept).
	slices.Reverse(first)
	again := first[len(first)-1]
	again.Reason = "sent again"
	batch := append(slices.Clone(first), again)
	out, err := s.StoreBatch(ctx(t), store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 1, ReceivedAt: at(time.Minute), Results: batch})
	must(t, "StoreBatch 1", err)
	equal(t, "StoreBatch 1", out, store.BatchOutcome{Stored: len(odd)})

	second := res(controls[0].ControlID, "/srv/second\t\n", posture.Pass, posture.Low, "Tab\tService")
	second.Reason = "line one\nline two\t\\"
	second.Evidence = []store.Evidence{{Key: "k\t", Actual: "a\nb"}}
	out, err = s.StoreBatch(ctx(t), store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 2, ReceivedAt: at(2 * time.Minute), Results: []store.Result{first[0], second}})
	must(t, "StoreBatch 2", err)
	equal(t, "StoreBatch 2", out, store.BatchOutcome{Stored: 1})

	want := append(slices.Clone(first), second)
	titles := map[string]string{}
	for _, c := range controls {
		titles[c.ControlID] = c.Title
	}
	for i := range want {
		want[i].Title = titles[want[i].ControlID]
	}
	slices.SortFunc(want, func(x, y store.Result) int {
		if c := strings.Compare(x.ControlID, y.ControlID); c != 0 {
			return c
		}
		return strings.Compare(x.Resource, y.Resource)
	})
	got, total := listAll(t, s, store.ResultFilter{ScanID: "s-1"})
	equal(t, "stored results", got, want)
	equal(t, "Total", total, int64(len(odd)+1))
}

// testBatchesConcurrent sends batches from many goroutines, each batch twice.
func testBatchesConcurrent(t *testing.T, s store.Store) {
	runningScan(t, s, "s-1", "n-1")
	const batches, perBatch, senders = 20, 50, 4
	outcomes := make([][]store.BatchOutcome, senders)
	errs := make([]error, senders)
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			// Senders w and w+senders/2 send the same batches.
			for b := w % (senders / 2); b < batches; b += senders / 2 {
				batch := store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: uint64(b + 1), ReceivedAt: at(time.Minute)}
				for i := range perBatch {
					batch.Results = append(batch.Results, res(fmt.Sprintf("c-%03d", b), fmt.Sprintf("r-%03d", i), posture.Pass, posture.Low, "S"))
				}
				out, err := s.StoreBatch(ctx(t), batch)
				if err != nil {
					errs[w] = err
					return
				}
				outcomes[w] = append(outcomes[w], out)
			}
		})
	}
	wg.Wait()
	stored, dups := 0, 0
	for w := range senders {
		must(t, fmt.Sprintf("sender %d", w), errs[w])
		for _, o := range outcomes[w] {
			stored += o.Stored
			if o.Duplicate {
				dups++
				if o.Stored != 0 {
					t.Fatalf("duplicate batch reports %d stored", o.Stored)
				}
			} else if o.Stored != perBatch {
				t.Fatalf("batch stored %d of %d", o.Stored, perBatch)
			}
		}
	}
	if stored != batches*perBatch || dups != batches {
		t.Fatalf("stored %d in total with %d duplicates; want %d and %d", stored, dups, batches*perBatch, batches)
	}
	sc, err := s.GetScan(ctx(t), "s-1")
	must(t, "GetScan", err)
	equal(t, "ResultsStored", sc.ResultsStored, int64(batches*perBatch))
	page, err := s.ListResults(ctx(t), store.ResultFilter{ScanID: "s-1", PageSize: 1})
	must(t, "ListResults", err)
	equal(t, "Total", page.Total, int64(batches*perBatch))
}

// resultSet is the data of the filter and page tests: 14 results over five controls.
func resultSet() []store.Result {
	withEvidence := res("ssh.root-login", "/etc/ssh/sshd_config", posture.Fail, posture.High, "SSH")
	withEvidence.Evidence = []store.Evidence{{Source: "/etc/ssh/sshd_config", Line: 32, Key: "PermitRootLogin", Actual: "yes", Expected: "no"}}
	return []store.Result{
		res("ssh.ciphers", "/etc/ssh/sshd_config", posture.Pass, posture.Medium, "SSH"),
		res("ssh.ciphers", "/etc/ssh/sshd_config.d/10-crypto.conf", posture.Fail, posture.Medium, "SSH"),
		withEvidence,
		res("ssh.root-login", "/etc/ssh/sshd_config.d/50-cloud.conf", posture.Pass, posture.High, "SSH"),
		res("fs.mount-options", "/tmp", posture.Pass, posture.Medium, "Filesystem"),
		res("fs.mount-options", "/dev/shm", posture.Fail, posture.Medium, "Filesystem"),
		res("fs.mount-options", "/var/tmp", posture.Skip, posture.Medium, "Filesystem"),
		res("fs.mount-options", "/home", posture.Error, posture.Medium, "Filesystem"),
		res("audit.rules", "/etc/audit/rules.d/50-identity.rules", posture.Info, posture.Low, "Audit"),
		res("audit.rules", "/etc/audit/rules.d/10-time.rules", posture.Fail, posture.Low, "Audit"),
		res("audit.enabled", "auditd.service", posture.Pass, posture.Critical, "Audit"),
		res("kernel.aslr", "kernel.randomize_va_space", posture.Pass, posture.High, "Kernel"),
		res("kernel.modules", "cramfs", posture.Fail, posture.Low, "Kernel"),
		res("kernel.modules", "usb-storage", posture.Skip, posture.Low, "Kernel"),
	}
}

// storeResultSet stores resultSet in scan s-1 (on n-1) as three batches.
func storeResultSet(t *testing.T, s store.Store) {
	t.Helper()
	runningScan(t, s, "s-1", "n-1")
	all := resultSet()
	for i, part := range [][]store.Result{all[:5], all[5:9], all[9:]} {
		out, err := s.StoreBatch(ctx(t), store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: uint64(i + 1), ReceivedAt: at(time.Minute), Results: part})
		must(t, "StoreBatch", err)
		equal(t, "StoreBatch", out, store.BatchOutcome{Stored: len(part)})
	}
	// An empty scan on the same node, and a second scan whose results must not leak in.
	must(t, "CreateScans", s.CreateScans(ctx(t), []store.NewScan{newScan("s-empty", "", "n-1", t0), newScan("s-2", "", "n-1", t0)}))
	_, err := s.TransitionScan(ctx(t), "s-2", store.Transition{State: posture.Running, At: t0})
	must(t, "TransitionScan", err)
	other := res("ssh.ciphers", "/etc/ssh/sshd_config", posture.Fail, posture.Medium, "SSH")
	other.ScanID = "s-2"
	_, err = s.StoreBatch(ctx(t), store.Batch{ScanID: "s-2", NodeID: "n-1", Seq: 1, ReceivedAt: t0, Results: []store.Result{other}})
	must(t, "StoreBatch s-2", err)
}

// sorted is resultSet in listing order; want picks results by their position in it.
var sorted = []struct{ control, resource string }{
	{"audit.enabled", "auditd.service"},                        // 0 pass critical Audit
	{"audit.rules", "/etc/audit/rules.d/10-time.rules"},        // 1 fail low Audit
	{"audit.rules", "/etc/audit/rules.d/50-identity.rules"},    // 2 info low Audit
	{"fs.mount-options", "/dev/shm"},                           // 3 fail medium Filesystem
	{"fs.mount-options", "/home"},                              // 4 error medium Filesystem
	{"fs.mount-options", "/tmp"},                               // 5 pass medium Filesystem
	{"fs.mount-options", "/var/tmp"},                           // 6 skip medium Filesystem
	{"kernel.aslr", "kernel.randomize_va_space"},               // 7 pass high Kernel
	{"kernel.modules", "cramfs"},                               // 8 fail low Kernel
	{"kernel.modules", "usb-storage"},                          // 9 skip low Kernel
	{"ssh.ciphers", "/etc/ssh/sshd_config"},                    // 10 pass medium SSH
	{"ssh.ciphers", "/etc/ssh/sshd_config.d/10-crypto.conf"},   // 11 fail medium SSH
	{"ssh.root-login", "/etc/ssh/sshd_config"},                 // 12 fail high SSH
	{"ssh.root-login", "/etc/ssh/sshd_config.d/50-cloud.conf"}, // 13 pass high SSH
}

// pick returns the results at the given positions of the listing order.
func pick(idx ...int) []store.Result {
	by := map[[2]string]store.Result{}
	for _, r := range resultSet() {
		by[[2]string{r.ControlID, r.Resource}] = r
	}
	var out []store.Result
	for _, i := range idx {
		out = append(out, by[[2]string{sorted[i].control, sorted[i].resource}])
	}
	return out
}

func testListResults(t *testing.T, s store.Store) {
	storeResultSet(t, s)
	tests := []struct {
		name   string
		filter store.ResultFilter
		want   []int
	}{
		{"all", store.ResultFilter{}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}},
		{"fail", store.ResultFilter{Statuses: []posture.Status{posture.Fail}}, []int{1, 3, 8, 11, 12}},
		{"fail or error", store.ResultFilter{Statuses: []posture.Status{posture.Error, posture.Fail}}, []int{1, 3, 4, 8, 11, 12}},
		{"service", store.ResultFilter{Service: "Audit"}, []int{0, 1, 2}},
		{"severity", store.ResultFilter{Severity: posture.High}, []int{7, 12, 13}},
		{"controls", store.ResultFilter{ControlIDs: []string{"ssh.root-login", "audit.rules", "no.such"}}, []int{1, 2, 12, 13}},
		{"no controls", store.ResultFilter{ControlIDs: []string{}}, nil},
		{"all filters", store.ResultFilter{
			ControlIDs: []string{"fs.mount-options", "kernel.modules", "ssh.ciphers"},
			Statuses:   []posture.Status{posture.Fail, posture.Skip}, Service: "Kernel", Severity: posture.Low,
		}, []int{8, 9}},
		{"nothing matches", store.ResultFilter{Service: "Nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.filter
			f.ScanID = "s-1"
			page, err := s.ListResults(ctx(t), f)
			must(t, "ListResults", err)
			equal(t, "results", page.Results, pick(tt.want...))
			equal(t, "Total", page.Total, int64(len(tt.want)))
			equal(t, "NextPageToken", page.NextPageToken, "")
		})
	}

	page, err := s.ListResults(ctx(t), store.ResultFilter{ScanID: "s-empty"})
	must(t, "ListResults s-empty", err)
	equal(t, "ListResults s-empty", page, store.ResultPage{})
	page, err = s.ListResults(ctx(t), store.ResultFilter{ScanID: "s-2"})
	must(t, "ListResults s-2", err)
	other := res("ssh.ciphers", "/etc/ssh/sshd_config", posture.Fail, posture.Medium, "SSH")
	other.ScanID = "s-2"
	equal(t, "ListResults s-2", page, store.ResultPage{Results: []store.Result{other}, Total: 1})

	sp, err := s.ListScans(ctx(t), store.ScanFilter{PageSize: 1})
	must(t, "ListScans", err)
	for _, tok := range []string{"%%%", "e30", "bm90IGpzb24", sp.NextPageToken} {
		_, err := s.ListResults(ctx(t), store.ResultFilter{ScanID: "s-1", PageToken: tok})
		wantErr(t, "ListResults with page token "+tok, err, store.ErrBadPageToken)
	}
}

func testListResultsPages(t *testing.T, s store.Store) {
	storeResultSet(t, s)
	tests := []struct {
		name   string
		filter store.ResultFilter
		pages  [][]int
	}{
		{"pages of 5", store.ResultFilter{PageSize: 5}, [][]int{{0, 1, 2, 3, 4}, {5, 6, 7, 8, 9}, {10, 11, 12, 13}}},
		{"pages of 7 end exactly", store.ResultFilter{PageSize: 7}, [][]int{{0, 1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12, 13}}},
		{"pages of 1 within one control", store.ResultFilter{PageSize: 1, ControlIDs: []string{"fs.mount-options"}}, [][]int{{3}, {4}, {5}, {6}}},
		{"pages of 2, filtered", store.ResultFilter{PageSize: 2, Statuses: []posture.Status{posture.Pass}}, [][]int{{0, 5}, {7, 10}, {13}}},
		{"page size above the limit", store.ResultFilter{PageSize: 1 << 20, Severity: posture.Critical}, [][]int{{0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.filter
			f.ScanID = "s-1"
			want := 0
			for _, p := range tt.pages {
				want += len(p)
			}
			for i, idx := range tt.pages {
				page, err := s.ListResults(ctx(t), f)
				must(t, fmt.Sprintf("ListResults page %d", i), err)
				equal(t, fmt.Sprintf("page %d", i), page.Results, pick(idx...))
				equal(t, fmt.Sprintf("page %d Total", i), page.Total, int64(want))
				last := i == len(tt.pages)-1
				if last != (page.NextPageToken == "") {
					t.Fatalf("page %d: NextPageToken = %q; want one only when more pages follow", i, page.NextPageToken)
				}
				f.PageToken = page.NextPageToken
			}
		})
	}

	// Results stored between pages appear in later pages when they sort after the cursor.
	f := store.ResultFilter{ScanID: "s-1", PageSize: 5}
	page, err := s.ListResults(ctx(t), f)
	must(t, "ListResults", err)
	late := []store.Result{
		res("aaa.first", "x", posture.Pass, posture.Low, "X"),
		res("zzz.last", "x", posture.Pass, posture.Low, "X"),
	}
	_, err = s.StoreBatch(ctx(t), store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 10, ReceivedAt: at(time.Hour), Results: late})
	must(t, "StoreBatch", err)
	f.PageToken = page.NextPageToken
	rest, total := listAll(t, s, f)
	equal(t, "Total after more results", total, int64(16))
	equal(t, "pages after more results", rest, append(pick(5, 6, 7, 8, 9, 10, 11, 12, 13), late[1]))
}

func testStatusCounts(t *testing.T, s store.Store) {
	storeResultSet(t, s)
	got, err := s.StatusCounts(ctx(t), "s-1", t0)
	must(t, "StatusCounts", err)
	equal(t, "StatusCounts", got, map[string]posture.Counts{
		"audit.enabled":    {Pass: 1},
		"audit.rules":      {Fail: 1, Info: 1},
		"fs.mount-options": {Pass: 1, Fail: 1, Skip: 1, Error: 1},
		"kernel.aslr":      {Pass: 1},
		"kernel.modules":   {Fail: 1, Skip: 1},
		"ssh.ciphers":      {Pass: 1, Fail: 1},
		"ssh.root-login":   {Pass: 1, Fail: 1},
	})
	got, err = s.StatusCounts(ctx(t), "s-empty", t0)
	must(t, "StatusCounts s-empty", err)
	equal(t, "StatusCounts s-empty", len(got), 0)
}

func testScores(t *testing.T, s store.Store) {
	runningScan(t, s, "s-1", "n-1")
	got, err := s.Scores(ctx(t), "s-1")
	must(t, "Scores before completion", err)
	equal(t, "Scores before completion", len(got), 0)
	scores := []store.Score{
		{BenchmarkID: "pci-linux", Counts: posture.Counts{Pass: 10, Fail: 3, Info: 2, Skip: 4, Error: 1}},
		{BenchmarkID: "cis-linux", Counts: posture.Counts{Pass: 200, Fail: 31}},
		{BenchmarkID: "hipaa-linux"},
	}
	done := time.Date(2026, 11, 26, 11, 0, 0, 999999999, cet)
	sc, err := s.CompleteScan(ctx(t), "s-1", scores, done)
	must(t, "CompleteScan", err)
	checkUTC(t, "CompleteScan", sc.FinishedAt)
	if sc.State != posture.Complete || !sc.FinishedAt.Equal(done) {
		t.Fatalf("CompleteScan = state %s, finished %v; want complete at %v", sc.State, sc.FinishedAt, done.UTC())
	}
	got, err = s.Scores(ctx(t), "s-1")
	must(t, "Scores", err)
	equal(t, "Scores (by benchmark id)", got, []store.Score{scores[1], scores[2], scores[0]})
}

func testStaleScans(t *testing.T, s store.Store) {
	enrolNode(t, s, "n-1", "web-1", posture.Linux, t0)
	// The bounds: heartbeats before 10:00 and dispatches before 09:50 are stale.
	hb, disp := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 9, 50, 0, 0, time.UTC)
	clock := func(h, m int) time.Time { return time.Date(2026, 11, 26, h, m, 0, 0, time.UTC) }

	type spec struct {
		id      string
		created time.Time
		// moves are applied in order: a state and when.
		moves    []store.Transition
		progress time.Time // a heartbeat, when not zero
	}
	tr := func(st posture.ScanState, when time.Time) store.Transition {
		return store.Transition{State: st, At: when}
	}
	specs := []spec{
		{id: "queued-old", created: clock(9, 0)},
		{id: "queued-at-bound", created: disp},
		{id: "queued-new", created: clock(9, 55)},
		{id: "dispatched-old", created: clock(9, 0), moves: []store.Transition{tr(posture.Dispatched, clock(9, 40))}},
		{id: "dispatched-late", created: clock(9, 0), moves: []store.Transition{tr(posture.Dispatched, clock(9, 51))}},
		{id: "running-no-beat-old", created: clock(9, 0), moves: []store.Transition{tr(posture.Dispatched, clock(9, 1)), tr(posture.Running, clock(9, 30))}},
		{id: "running-no-beat-new", created: clock(9, 0), moves: []store.Transition{tr(posture.Dispatched, clock(9, 1)), tr(posture.Running, clock(10, 1))}},
		{id: "running-beat-old", created: clock(9, 1), moves: []store.Transition{tr(posture.Running, clock(9, 2))}, progress: clock(9, 59)},
		{id: "running-beat-at-bound", created: clock(9, 1), moves: []store.Transition{tr(posture.Running, clock(9, 2))}, progress: hb},
		{id: "running-beat-new", created: clock(8, 0), moves: []store.Transition{tr(posture.Running, clock(8, 1))}, progress: clock(10, 5)},
		{id: "complete-old", created: clock(8, 0), moves: []store.Transition{tr(posture.Running, clock(8, 1)), tr(posture.Complete, clock(8, 2))}},
		{id: "failed-old", created: clock(8, 0), moves: []store.Transition{tr(posture.Failed, clock(8, 2))}},
		{id: "cancelled-old", created: clock(8, 0), moves: []store.Transition{tr(posture.Dispatched, clock(8, 1)), tr(posture.Cancelled, clock(8, 2))}},
		{id: "timed-out-old", created: clock(8, 0), moves: []store.Transition{tr(posture.Running, clock(8, 1)), tr(posture.TimedOut, clock(8, 2))}},
	}
	for _, sp := range specs {
		must(t, "CreateScans "+sp.id, s.CreateScans(ctx(t), []store.NewScan{newScan(sp.id, "", "n-1", sp.created)}))
		for _, m := range sp.moves {
			_, err := s.TransitionScan(ctx(t), sp.id, m)
			must(t, fmt.Sprintf("%s to %s", sp.id, m.State), err)
		}
		if !sp.progress.IsZero() {
			must(t, "RecordProgress "+sp.id, s.RecordProgress(ctx(t), sp.id, 1, 2, sp.progress))
		}
	}
	// Expected order: by creation time, then id.
	want := []string{"dispatched-old", "queued-old", "running-no-beat-old", "running-beat-old"}
	got, err := s.StaleScans(ctx(t), hb, disp)
	must(t, "StaleScans", err)
	var ids []string
	for _, sc := range got {
		ids = append(ids, sc.ID)
	}
	equal(t, "StaleScans", ids, want)
	for _, sc := range got {
		if sc.NodeName != "web-1" || sc.ControlsTotal == 0 {
			t.Fatalf("StaleScans returned an incomplete scan: %+v", sc)
		}
	}

	none, err := s.StaleScans(ctx(t), clock(7, 0), clock(7, 0))
	must(t, "StaleScans early", err)
	equal(t, "StaleScans early", len(none), 0)
}

func testAudit(t *testing.T, s store.Store) {
	entries := []store.AuditEntry{
		{At: at(time.Minute), Actor: "alice", Action: "token.create", Target: "tok-1", Detail: "uses=3"},
		{At: at(3 * time.Minute), Actor: "bob", Action: "scan.start", Target: "g-1", Detail: "2 nodes"},
		{At: at(2 * time.Minute), Actor: "alice", Action: "mask.create", Target: "linux.ssh.root-login"},
		{At: at(3 * time.Minute), Actor: "api:ci", Action: "scan.stop", Target: "s-1", Detail: "by request"},
		{At: time.Date(2026, 11, 26, 10, 30, 0, 123456789, cet), Actor: "alice", Action: "user.create", Target: "carol"},
	}
	for _, e := range entries {
		must(t, "AppendAudit "+e.Action, s.AppendAudit(ctx(t), e))
	}
	entries[4].At = entries[4].At.UTC() // = t0
	newestFirst := []store.AuditEntry{entries[3], entries[1], entries[2], entries[0], entries[4]}
	tests := []struct {
		limit int
		want  []store.AuditEntry
	}{
		{0, newestFirst},
		{-1, newestFirst},
		{10, newestFirst},
		{5, newestFirst},
		{2, newestFirst[:2]},
		{1, newestFirst[:1]},
	}
	for _, tt := range tests {
		got, err := s.ListAudit(ctx(t), tt.limit)
		must(t, fmt.Sprintf("ListAudit(%d)", tt.limit), err)
		for _, e := range got {
			checkUTC(t, "ListAudit", e.At)
		}
		equal(t, fmt.Sprintf("ListAudit(%d)", tt.limit), got, tt.want)
	}
}

func testResultOrders(t *testing.T, s store.Store) {
	storeResultSet(t, s)
	// Two more results: severity info, and a severity no order knows.
	extra := []store.Result{
		res("aaa.docs", "manual", posture.Info, "info", "Docs"),
		res("aaa.custom", "x", posture.Fail, "", "Custom"),
	}
	_, err := s.StoreBatch(ctx(t), store.Batch{ScanID: "s-1", NodeID: "n-1", Seq: 4, ReceivedAt: at(time.Minute), Results: extra})
	must(t, "StoreBatch", err)
	key := func(i int) string { return sorted[i].control + " " + sorted[i].resource }
	keys := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, key(i))
		}
		return out
	}
	docs, custom := "aaa.docs manual", "aaa.custom x"
	tests := []struct {
		name   string
		filter store.ResultFilter
		want   []string
	}{
		{"control", store.ResultFilter{Order: store.OrderByControl},
			append([]string{custom, docs}, keys(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)...)},
		{"severity", store.ResultFilter{Order: store.OrderBySeverity},
			append(keys(0, 7, 12, 13, 3, 4, 5, 6, 10, 11, 1, 2, 8, 9), docs, custom)},
		{"status", store.ResultFilter{Order: store.OrderByStatus},
			append(append([]string{custom}, keys(1, 3, 8, 11, 12, 4)...), append([]string{docs}, keys(2, 0, 5, 7, 10, 13, 6, 9)...)...)},
		{"severity, filtered", store.ResultFilter{Order: store.OrderBySeverity, Statuses: []posture.Status{posture.Fail, posture.Info}},
			append(keys(12, 3, 11, 1, 2, 8), docs, custom)},
		{"status, filtered", store.ResultFilter{Order: store.OrderByStatus, Service: "Filesystem"}, keys(3, 4, 5, 6)},
	}
	for _, tt := range tests {
		for _, size := range []int{1, 3, 5, 100} {
			t.Run(fmt.Sprintf("%s/pages of %d", tt.name, size), func(t *testing.T) {
				f := tt.filter
				f.ScanID, f.PageSize = "s-1", size
				got, total := listAll(t, s, f)
				var ks []string
				for _, r := range got {
					ks = append(ks, r.ControlID+" "+r.Resource)
				}
				equal(t, "order", ks, tt.want)
				equal(t, "Total", total, int64(len(tt.want)))
			})
		}
	}

	// A token belongs to its listing: another order, filter or scan is refused; another page
	// size or time is not.
	first := store.ResultFilter{ScanID: "s-1", Order: store.OrderBySeverity, Statuses: []posture.Status{posture.Fail, posture.Pass}, PageSize: 2, Now: t0}
	page, err := s.ListResults(ctx(t), first)
	must(t, "ListResults", err)
	equal(t, "first page", page.Results, pick(0, 7))
	refused := map[string]func(f *store.ResultFilter){
		"order":    func(f *store.ResultFilter) { f.Order = store.OrderByStatus },
		"default":  func(f *store.ResultFilter) { f.Order = store.OrderByControl },
		"statuses": func(f *store.ResultFilter) { f.Statuses = []posture.Status{posture.Fail} },
		"service":  func(f *store.ResultFilter) { f.Service = "SSH" },
		"severity": func(f *store.ResultFilter) { f.Severity = posture.High },
		"controls": func(f *store.ResultFilter) { f.ControlIDs = []string{"ssh.ciphers"} },
		"masked":   func(f *store.ResultFilter) { f.Masked = store.MaskedInclude },
		"query":    func(f *store.ResultFilter) { f.Query = "ssh" },
		"scan":     func(f *store.ResultFilter) { f.ScanID = "s-2" },
	}
	for name, change := range refused {
		f := first
		f.PageToken = page.NextPageToken
		change(&f)
		_, err := s.ListResults(ctx(t), f)
		wantErr(t, "ListResults with the token of another "+name, err, store.ErrBadPageToken)
	}
	next := first
	next.PageToken, next.PageSize, next.Now = page.NextPageToken, 3, at(time.Hour)
	next.Statuses = []posture.Status{posture.Pass, posture.Fail} // the same set
	page, err = s.ListResults(ctx(t), next)
	must(t, "ListResults with another page size and time", err)
	equal(t, "second page", page.Results, pick(12, 13, 3))

	for _, f := range []store.ResultFilter{{ScanID: "s-1", Order: 3}, {ScanID: "s-1", Masked: -1}} {
		_, err := s.ListResults(ctx(t), f)
		if err == nil {
			t.Fatalf("ListResults with order %d and masked filter %d: no error", f.Order, f.Masked)
		}
	}
}
