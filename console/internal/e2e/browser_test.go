package e2e

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisadehq/palisade/pkg/catalog"
	"github.com/palisadehq/palisade/pkg/engine/enginetest"
	"github.com/palisadehq/palisade/pkg/posture"
	consolev1 "github.com/palisadehq/palisade/proto/gen/palisade/console/v1"
	sensorv1 "github.com/palisadehq/palisade/proto/gen/palisade/sensor/v1"
)

// browser drives a headless Chromium against a running console and saves a screenshot of
// every page it visits.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
	n     int
}

// newBrowser starts headless Chromium. Without it the test is skipped, unless
// PALISADE_TEST_BROWSER=required (CI), where it fails.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	path := os.Getenv("PALISADE_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		if os.Getenv("PALISADE_TEST_BROWSER") == "required" {
			t.Fatal("the browser tests need Chromium: install Debian's chromium package")
		}
		t.Skip("Chromium is not installed; skipping the browser tests")
	}
	dir := os.Getenv("PALISADE_SCREENSHOT_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "palisade-screenshots")
	}
	dir = filepath.Join(dir, t.Name())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots: %s", dir)
	fmt.Fprintf(os.Stderr, "palisade browser test screenshots: %s\n", dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "en-GB"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: base, shots: dir}
}

// do runs actions with a deadline.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the visible text of the first element matching sel, waiting for it.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		b.shot("failed-text")
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression (awaiting a promise) into out.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitText polls until the element's text equals want.
func (b *browser) waitText(sel, want string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		got = eval[string](b, fmt.Sprintf(`(document.querySelector(%q)||{}).textContent||""`, sel))
		if strings.TrimSpace(got) == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.shot("failed-wait")
	b.t.Fatalf("%s reads %q; want %q", sel, strings.TrimSpace(got), want)
}

// open navigates to a client route ("#/posture") and waits for the page title.
func (b *browser) open(route string) {
	b.t.Helper()
	b.do("open "+route, chromedp.Navigate(b.base+"/"+route), chromedp.WaitVisible(`[data-test="page-title"]`))
}

// shot saves a full-page screenshot named after the step.
func (b *browser) shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	time.Sleep(150 * time.Millisecond) // let the last render settle
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.n++
	path := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

func (b *browser) signIn(name, password string) {
	b.t.Helper()
	b.do("open sign-in", chromedp.Navigate(b.base+"/#/posture"), chromedp.WaitVisible(`[data-test="signin-name"]`))
	eval[bool](b, `document.querySelectorAll('[data-test="signin-form"] input').forEach(i => { i.value = ''; }) || true`)
	b.do("sign in as "+name,
		chromedp.SendKeys(`[data-test="signin-name"]`, name),
		chromedp.SendKeys(`[data-test="signin-password"]`, password),
		chromedp.Click(`[data-test="signin-submit"]`),
		chromedp.WaitVisible(`[data-test="user-name"]`))
	if got := b.text(`[data-test="user-name"]`); got != name {
		b.t.Fatalf("signed in as %q; want %q", got, name)
	}
}

func (b *browser) signOut() {
	b.t.Helper()
	b.open("#/posture")
	b.do("sign out", chromedp.Click(`[data-test="sign-out"]`), chromedp.WaitVisible(`[data-test="signin-name"]`))
}

// fetchJSON calls the API from the page (the session cookie authenticates it) and returns
// the status and body. csrf adds the session's CSRF token.
type fetched struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

func (b *browser) fetch(method, path, body string, csrf bool) fetched {
	b.t.Helper()
	expr := fmt.Sprintf(`(async () => {
		const headers = {'Content-Type': 'application/json'};
		if (%t) {
			const s = await fetch('/api/v1/session');
			headers['X-CSRF-Token'] = (await s.json()).csrf_token;
		}
		const init = {method: %q, headers, credentials: 'same-origin'};
		if (%q !== '') init.body = %q;
		const r = await fetch(%q, init);
		return {status: r.status, body: await r.text()};
	})()`, csrf, method, body, body, path)
	return eval[fetched](b, expr)
}

// TestWebConsole drives the web console in headless Chromium: sign in, a combined scan of
// two in-process sensors started from the scan dialog, filters, a mask that moves the score
// by exactly one result and its removal, every export, a comparison of two scans, the
// remaining pages, and the access rules for viewers, CSRF and signed-out callers.
func TestWebConsole(t *testing.T) {
	h := startConsole(t, consoleOptions{})
	b := newBrowser(t, h.info.HTTPURL)
	ctx := context.Background()

	good := h.startSensor(sensorOptions{root: enginetest.Root(t, "debian-good"), hostname: "good-host"})
	badRoot := enginetest.Root(t, "debian-bad")
	bad := h.startSensor(sensorOptions{root: badRoot, hostname: "bad-host"})
	const analystPassword, viewerPassword = "correct horse battery", "viewer passphrase 1"
	for _, u := range []*consolev1.CreateUserRequest{
		{Name: "ana", Role: "analyst", Password: analystPassword},
		{Name: "vic", Role: "viewer", Password: viewerPassword},
	} {
		if _, err := h.api.CreateUser(ctx, u); err != nil {
			t.Fatalf("create user %s: %v", u.GetName(), err)
		}
	}

	// Signed out: the sign-in page, and the API answers no data.
	b.do("open the console", chromedp.Navigate(h.info.HTTPURL+"/"), chromedp.WaitVisible(`[data-test="signin-form"]`))
	b.shot("sign-in")
	for _, path := range []string{"/api/v1/nodes", "/api/v1/posture", "/api/v1/scans", "/api/v1/masks"} {
		if got := b.fetch("GET", path, "", false); got.Status != 401 {
			t.Fatalf("GET %s without a session: %d %s; want 401", path, got.Status, got.Body)
		}
	}
	b.do("wrong password",
		chromedp.SendKeys(`[data-test="signin-name"]`, "ana"),
		chromedp.SendKeys(`[data-test="signin-password"]`, "not the password"),
		chromedp.Click(`[data-test="signin-submit"]`),
		chromedp.WaitVisible(`[data-test="error-message"]`))
	if got := b.text(`[data-test="error-message"]`); !strings.Contains(got, "wrong name or password") {
		t.Fatalf("sign-in error reads %q; want it to say wrong name or password", got)
	}
	b.shot("sign-in-error")

	// The analyst signs in; both nodes are listed as never scanned.
	b.signIn("ana", analystPassword)
	b.do("posture rows", chromedp.WaitVisible(`[data-test="node-row"][data-node="`+bad.nodeID+`"]`),
		chromedp.WaitVisible(`[data-test="node-row"][data-node="`+good.nodeID+`"]`))
	if got := b.text(`[data-test="node-row"][data-node="` + bad.nodeID + `"] [data-test="node-last-scan"]`); got != "never scanned" {
		t.Fatalf("unscanned node shows %q; want never scanned", got)
	}
	b.shot("posture-before-scan")

	// The scan dialog: both nodes, CIS and GDPR, with the exact control preview.
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	set, err := cat.ControlSet([]string{"linux-cis", "linux-gdpr"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b.do("open the scan dialog",
		chromedp.Click(`[data-test="node-checkbox"][data-node="`+good.nodeID+`"]`),
		chromedp.Click(`[data-test="node-checkbox"][data-node="`+bad.nodeID+`"]`),
		chromedp.Click(`[data-test="start-scan"]`),
		chromedp.WaitVisible(`[data-test="scan-dialog"]`),
		chromedp.Click(`[data-test="dialog-benchmark-checkbox"][data-benchmark="linux-cis"]`),
		chromedp.Click(`[data-test="dialog-benchmark-checkbox"][data-benchmark="linux-gdpr"]`))
	b.waitText(`[data-test="control-preview-count"]`, strconv.Itoa(len(set)))
	b.do("search the preview", chromedp.SendKeys(`[data-test="control-preview-search"]`, "ssh"))
	sshControls := 0
	for _, c := range set {
		if strings.Contains(strings.ToLower(c.ID+" "+c.Title), "ssh") {
			sshControls++
		}
	}
	b.waitText(`[data-test="control-preview-shown"]`, fmt.Sprintf("%d shown", sshControls))
	b.shot("scan-dialog")
	b.do("start the scan", chromedp.Click(`[data-test="scan-start"]`), chromedp.WaitVisible(`[data-test="scan-progress-done"]`))
	if got := b.text(`[data-test="scan-progress-done"]`); got != "All scans have ended: 2 complete." {
		t.Fatalf("progress reads %q; want both scans complete", got)
	}
	b.shot("scan-progress-done")

	first := latestScan(t, h, bad.nodeID)
	if first.GetState() != sensorv1.ScanState_SCAN_STATE_COMPLETE {
		t.Fatalf("bad-host scan ended %s", first.GetState())
	}
	gdpr := scoreOf(t, first, "linux-gdpr")
	cis := scoreOf(t, first, "linux-cis")

	// The scan page shows the stored scores.
	b.open("#/scans/" + first.GetId())
	b.waitText(`[data-test="score-linux-gdpr"]`, gdpr.FormatScore())
	b.waitText(`[data-test="score-linux-cis"]`, cis.FormatScore())
	b.shot("scan-results")

	// Filter to GDPR failures: the total and every row agree with the API.
	b.open("#/scans/" + first.GetId() + "?benchmark=linux-gdpr&status=fail")
	b.waitText(`[data-test="results-total"]`, strconv.Itoa(gdpr.Fail))
	statuses := eval[[]string](b, `[...document.querySelectorAll('[data-test="result-row"]')].map(r => r.dataset.status)`)
	if len(statuses) == 0 {
		t.Fatal("the filtered table shows no rows")
	}
	for _, s := range statuses {
		if s != "STATUS_FAIL" && s != "fail" {
			t.Fatalf("filtered table shows a %s row; want only failures", s)
		}
	}
	b.shot("results-filtered")

	// Mask the first failing GDPR result: the score moves by exactly one failure.
	control := eval[string](b, `document.querySelector('[data-test="result-row"]').dataset.control`)
	resource := eval[string](b, `document.querySelector('[data-test="result-row"]').dataset.resource`)
	masked := gdpr
	masked.Fail--
	masked.Masked++
	b.do("mask a result",
		chromedp.Click(`[data-test="result-row"]`),
		chromedp.WaitVisible(`[data-test="result-detail"]`),
		chromedp.Click(`[data-test="result-detail"] [data-test="mask-open"]`),
		chromedp.WaitVisible(`[data-test="mask-reason"]`),
		chromedp.SendKeys(`[data-test="mask-reason"]`, "compensating control: access is logged by the jump host"),
		chromedp.Click(`[data-test="mask-scope-result"]`))
	b.shot("mask-form")
	b.do("submit the mask", chromedp.Click(`[data-test="mask-submit"]`))
	b.waitText(`[data-test="score-linux-gdpr"]`, masked.FormatScore())
	if masked.FormatScore() == gdpr.FormatScore() {
		t.Fatalf("masking one of %+v does not change the shown score %s; pick a smaller benchmark", gdpr, gdpr.FormatScore())
	}
	after := scoreOf(t, mustScan(t, h, first.GetId()), "linux-gdpr")
	if after != masked {
		t.Fatalf("after masking the stored counts are %+v; want %+v", after, masked)
	}
	b.shot("masked")

	// The masked result is under the masked filter, with who and why; unmasking restores it.
	b.open("#/scans/" + first.GetId() + "?benchmark=linux-gdpr&masked=only")
	b.waitText(`[data-test="results-total"]`, "1")
	row := fmt.Sprintf(`[data-test="result-row"][data-control=%q][data-resource=%q]`, control, resource)
	b.do("open the masked result", chromedp.Click(row), chromedp.WaitVisible(`[data-test="result-detail"] [data-test="unmask"]`))
	if got := b.text(`[data-test="result-detail"] [data-test="detail-mask"]`); !strings.Contains(got, "ana") || !strings.Contains(got, "compensating control") {
		t.Fatalf("mask details read %q; want who (ana) and why", got)
	}
	b.shot("masked-detail")
	b.do("unmask", chromedp.Click(`[data-test="result-detail"] [data-test="unmask"]`),
		chromedp.WaitVisible(`[data-test="confirm-ok"]`), chromedp.Click(`[data-test="confirm-ok"]`))
	h.waitFor(10*time.Second, "the unmask to be recounted", func() (bool, error) {
		return scoreOf(t, mustScan(t, h, first.GetId()), "linux-gdpr") == gdpr, nil
	})
	b.shot("unmasked")
	b.open("#/scans/" + first.GetId())
	b.waitText(`[data-test="score-linux-gdpr"]`, gdpr.FormatScore())
	if got := scoreOf(t, mustScan(t, h, first.GetId()), "linux-gdpr"); got != gdpr {
		t.Fatalf("after unmasking the stored counts are %+v; want %+v", got, gdpr)
	}

	checkExports(t, b, first)

	// The bad host's admin turns root login over SSH off; a second scan, then the comparison
	// of the two shows exactly that control fixed.
	sshd := filepath.Join(badRoot, "etc", "ssh", "sshd_config")
	cfg, err := os.ReadFile(sshd)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sshd, []byte(strings.Replace(string(cfg), "\nPermitRootLogin yes\n", "\nPermitRootLogin no\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := h.api.StartScan(ctx, &consolev1.StartScanRequest{Nodes: []string{bad.nodeID}, Benchmarks: []string{"cis", "gdpr"}})
	if err != nil {
		t.Fatal(err)
	}
	second := h.waitScan(resp.GetScans()[0].GetId(), 30*time.Second)
	cmp, err := h.api.CompareScans(ctx, &consolev1.CompareScansRequest{BaseScanId: first.GetId(), HeadScanId: second.GetId()})
	if err != nil {
		t.Fatal(err)
	}
	b.open("#/compare?base=" + first.GetId() + "&head=" + second.GetId())
	b.do("compare", chromedp.WaitVisible(`[data-test="compare-unchanged"]`))
	if got := eval[string](b, `document.querySelector('[data-test="compare-unchanged"]').dataset.count`); got != strconv.Itoa(int(cmp.GetUnchanged())) {
		t.Fatalf("compare shows %s unchanged; want %d", got, cmp.GetUnchanged())
	}
	if len(cmp.GetFixed()) != 1 || cmp.GetFixed()[0].GetControlId() != "linux.ssh.permit-root-login" || len(cmp.GetNewlyFailing()) != 0 {
		t.Fatalf("comparison: fixed %v newly failing %v; want only linux.ssh.permit-root-login fixed", cmp.GetFixed(), cmp.GetNewlyFailing())
	}
	wantFailing := strconv.Itoa(len(cmp.GetStillFailing()))
	b.waitText(`[data-test="compare-still-failing"] [data-test="compare-count"]`, wantFailing)
	b.waitText(`[data-test="compare-newly-failing"] [data-test="compare-count"]`, "0")
	b.waitText(`[data-test="compare-fixed"] [data-test="compare-count"]`, "1")
	if got := eval[string](b, `document.querySelector('[data-test="compare-fixed"] [data-test="compare-row"]').dataset.control`); got != "linux.ssh.permit-root-login" {
		t.Fatalf("the fixed row is %q; want linux.ssh.permit-root-login", got)
	}
	cisBefore, cisAfter := scoreOf(t, first, "linux-cis"), scoreOf(t, second, "linux-cis")
	if cisAfter.Fail != cisBefore.Fail-1 || cisAfter.Pass != cisBefore.Pass+1 {
		t.Fatalf("CIS counts %+v then %+v; want one failure turned into a pass", cisBefore, cisAfter)
	}
	b.shot("compare")

	// The other pages the analyst sees.
	b.open("#/nodes/" + bad.nodeID)
	b.do("node history", chromedp.WaitVisible(`[data-test="node-scan-row"][data-scan="`+second.GetId()+`"]`))
	b.shot("node-history")
	b.open("#/scans")
	b.shot("scans")
	b.open("#/posture")
	b.waitText(`[data-test="node-row"][data-node="`+bad.nodeID+`"] [data-test="node-score"][data-benchmark="linux-gdpr"]`, scoreOf(t, second, "linux-gdpr").FormatScore())
	b.shot("posture-after-scan")
	b.open("#/catalogue")
	b.do("catalogue", chromedp.WaitVisible(`[data-test="catalogue-row"]`))
	b.shot("catalogue")

	// CSRF: a change without the session's token is refused and changes nothing.
	body := fmt.Sprintf(`{"control_id":%q,"reason":"no token"}`, control)
	if got := b.fetch("POST", "/api/v1/masks", body, false); got.Status != 403 || !strings.Contains(got.Body, "CSRF") {
		t.Fatalf("mask without CSRF token: %d %s; want 403 naming CSRF", got.Status, got.Body)
	}
	masks, err := h.api.ListMasks(ctx, &consolev1.ListMasksRequest{IncludeInactive: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(masks.GetMasks()) != 1 {
		t.Fatalf("%d masks stored; want only the one created and removed above", len(masks.GetMasks()))
	}
	b.signOut()

	// The admin pages.
	b.signIn("admin", h.info.AdminPassword)
	b.open("#/tokens")
	b.do("create an enrolment token", chromedp.Click(`[data-test="token-create"]`), chromedp.WaitVisible(`[data-test="token-sensor-command"]`))
	if got := b.text(`[data-test="token-sensor-command"]`); !strings.HasPrefix(got, "palisade-sensor run --console=") || !strings.Contains(got, "--token=pse1.") {
		t.Fatalf("sensor command reads %q", got)
	}
	b.shot("tokens")
	b.open("#/admin")
	b.do("admin page", chromedp.WaitVisible(`[data-test="user-row"][data-user="vic"]`))
	b.shot("admin")
	b.signOut()

	// A viewer reads but cannot start scans or mask, in the page or through the API.
	b.signIn("vic", viewerPassword)
	b.do("viewer posture", chromedp.WaitVisible(`[data-test="node-row"]`))
	if n := eval[int](b, `document.querySelectorAll('[data-test="start-scan"], [data-test="node-checkbox"]').length`); n != 0 {
		t.Fatalf("the viewer sees %d scan controls; want none", n)
	}
	b.shot("viewer-posture")
	if got := b.fetch("POST", "/api/v1/scans", fmt.Sprintf(`{"nodes":[%q],"benchmarks":["cis"]}`, bad.nodeID), true); got.Status != 403 {
		t.Fatalf("viewer starts a scan: %d %s; want 403", got.Status, got.Body)
	}
	if got := b.fetch("POST", "/api/v1/masks", body, true); got.Status != 403 {
		t.Fatalf("viewer masks: %d %s; want 403", got.Status, got.Body)
	}
	b.open("#/scans/" + first.GetId())
	b.do("viewer result detail", chromedp.Click(`[data-test="result-row"]`), chromedp.WaitVisible(`[data-test="result-detail"]`))
	if n := eval[int](b, `document.querySelectorAll('[data-test="mask-open"], [data-test="unmask"]').length`); n != 0 {
		t.Fatalf("the viewer sees %d mask buttons; want none", n)
	}
	b.shot("viewer-scan")
	b.signOut()
	if got := b.fetch("GET", "/api/v1/scans/"+first.GetId()+"/results", "", false); got.Status != 401 {
		t.Fatalf("results after sign-out: %d; want 401", got.Status)
	}
}

// checkExports downloads every export of a scan through the page's links and checks them
// against the API.
func checkExports(t *testing.T, b *browser, scan *consolev1.Scan) {
	t.Helper()
	b.open("#/scans/" + scan.GetId())
	b.do("exports", chromedp.WaitVisible(`[data-test="export-csv"]`))
	b.shot("exports")
	download := func(format string) string {
		href := eval[string](b, fmt.Sprintf(`document.querySelector('[data-test="export-%s"]').href`, format))
		got := b.fetch("GET", href, "", false)
		if got.Status != 200 {
			t.Fatalf("export %s: %d %s", format, got.Status, got.Body)
		}
		return got.Body
	}
	fails, stored := 0, int(scan.GetResultsStored())

	rows, err := csv.NewReader(strings.NewReader(download("csv"))).ReadAll()
	if err != nil {
		t.Fatalf("CSV export: %v", err)
	}
	wantHeader := "scan_id,node,control_id,title,benchmarks,severity,service,status,resource,reason,masked,mask_reason,mask_by,mask_until,evidence"
	if got := strings.Join(rows[0], ","); got != wantHeader {
		t.Fatalf("CSV header %q; want %q", got, wantHeader)
	}
	if len(rows)-1 != stored {
		t.Fatalf("CSV has %d results; want %d", len(rows)-1, stored)
	}
	for _, r := range rows[1:] {
		if r[0] != scan.GetId() || r[1] != "bad-host" {
			t.Fatalf("CSV row for scan %s node %s", r[0], r[1])
		}
		if r[7] == "fail" || r[7] == "error" {
			fails++
		}
	}

	var j struct {
		Format string `json:"format"`
		Scan   struct {
			ID string `json:"id"`
		} `json:"scan"`
		Scores []struct {
			BenchmarkID string `json:"benchmark_id"`
			Fail        int    `json:"fail"`
		} `json:"scores"`
		Results []struct {
			ControlID string `json:"control_id"`
			Status    string `json:"status"`
			Resource  string `json:"resource"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(download("json")), &j); err != nil {
		t.Fatalf("JSON export: %v", err)
	}
	if j.Format != "palisade.scan-export" || j.Scan.ID != scan.GetId() || len(j.Results) != stored || len(j.Scores) != len(scan.GetScores()) {
		t.Fatalf("JSON export: format %q scan %q %d results %d scores; want palisade.scan-export %s %d %d",
			j.Format, j.Scan.ID, len(j.Results), len(j.Scores), scan.GetId(), stored, len(scan.GetScores()))
	}
	for i, s := range j.Scores {
		if want := scan.GetScores()[i]; s.BenchmarkID != want.GetBenchmarkId() || s.Fail != int(want.GetFail()) {
			t.Fatalf("JSON score %d: %+v; want %s with %d failures", i, s, want.GetBenchmarkId(), want.GetFail())
		}
	}

	var sarif struct {
		Version string `json:"version"`
		Schema  string `json:"$schema"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name  string `json:"name"`
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID  string `json:"ruleId"`
				Level   string `json:"level"`
				Message struct {
					Text string `json:"text"`
				} `json:"message"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(download("sarif")), &sarif); err != nil {
		t.Fatalf("SARIF export: %v", err)
	}
	if sarif.Version != "2.1.0" || sarif.Schema == "" || len(sarif.Runs) != 1 || sarif.Runs[0].Tool.Driver.Name != "Palisade" {
		t.Fatalf("SARIF export: version %q schema %q runs %d", sarif.Version, sarif.Schema, len(sarif.Runs))
	}
	if got := len(sarif.Runs[0].Results); got != fails {
		t.Fatalf("SARIF has %d results; want the %d failures and errors", got, fails)
	}
	rules := map[string]bool{}
	for _, r := range sarif.Runs[0].Tool.Driver.Rules {
		rules[r.ID] = true
	}
	for _, r := range sarif.Runs[0].Results {
		if !rules[r.RuleID] || (r.Level != "error" && r.Level != "warning") || r.Message.Text == "" {
			t.Fatalf("SARIF result %+v: want a known rule, a level and a message", r)
		}
	}

	report := download("html")
	for _, want := range []string{"<!DOCTYPE html>", "bad-host", scan.GetId(), "@media print"} {
		if !strings.Contains(report, want) {
			t.Fatalf("the printable report lacks %q", want)
		}
	}
	// The report itself, as an auditor sees it (the route answers it as a download).
	b.do("open a blank page", chromedp.Navigate("about:blank"))
	eval[bool](b, fmt.Sprintf(`document.open(); document.write(%s); document.close(); true`, strconv.Quote(report)))
	b.shot("report")
}

func latestScan(t *testing.T, h *harness, nodeID string) *consolev1.Scan {
	t.Helper()
	list, err := h.api.ListScans(context.Background(), &consolev1.ListScansRequest{Node: nodeID, PageSize: 1})
	if err != nil || len(list.GetScans()) != 1 {
		t.Fatalf("list scans of %s: %v (%d)", nodeID, err, len(list.GetScans()))
	}
	return mustScan(t, h, list.GetScans()[0].GetId())
}

func mustScan(t *testing.T, h *harness, id string) *consolev1.Scan {
	t.Helper()
	sc, err := h.api.GetScan(context.Background(), &consolev1.GetScanRequest{ScanId: id})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func scoreOf(t *testing.T, sc *consolev1.Scan, benchmark string) posture.Counts {
	t.Helper()
	for _, s := range sc.GetScores() {
		if s.GetBenchmarkId() == benchmark {
			c := scoreCounts(s)
			c.Masked = int(s.GetMasked())
			return c
		}
	}
	t.Fatalf("scan %s has no %s score", sc.GetId(), benchmark)
	return posture.Counts{}
}
