package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/poolctl/poolctl/internal/store"
)

// browser drives Debian's Chromium through chromedp, collects console
// errors and writes screenshots.
type browser struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	mu     sync.Mutex
	errors []string
}

func needChromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"chromium", "/usr/bin/chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("POOLCTL_REQUIRE_PEERS") != "" {
		t.Fatal("chromium is required (apt-get install chromium)")
	}
	t.Skip("chromium not installed")
	return ""
}

func newBrowser(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	dir := os.Getenv("POOLCTL_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else {
		dir = filepath.Join(dir, "dashboard")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("dashboard screenshots in %s", dir)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(needChromium(t)),
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.IgnoreCertErrors, // the server's own CA; the agents check it by fingerprint
		chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: bctx, dir: dir}
	msgs := chromedp.Console(bctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.String()+" at "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	return b
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot("failed-" + what)
		b.t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	// A node found while a submitted form's next page replaces the document
	// is gone by the time it is read: the query runs again on the new page.
	for try := 0; err != nil && strings.Contains(err.Error(), "No node with given id") && try < 3; try++ {
		time.Sleep(200 * time.Millisecond)
		v, err = chromedp.Run(ctx, a)
	}
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitJS waits (bounded) until the JavaScript expression is true.
func (b *browser) waitJS(what, expr string, max time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, max+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(max), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		b.shot("failed-" + what)
		b.t.Fatalf("timed out after %s waiting for %s: %v", max, what, err)
	}
}

func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// open navigates and waits until sel is in the page.
func (b *browser) open(url, sel string) {
	b.t.Helper()
	b.do("open "+url, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS(sel)))
}

// submit types values into a form's fields and submits it with its button.
func (b *browser) submit(form string, fields map[string]string, then string) {
	b.t.Helper()
	var steps []chromedp.Action[chromedp.Void]
	for sel, v := range fields {
		steps = append(steps, chromedp.WaitReady(chromedp.CSS(sel)),
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, sel)),
			chromedp.SendKeys(chromedp.CSS(sel), v))
	}
	steps = append(steps, chromedp.Click(chromedp.CSS(form+` button[type="submit"]`)), chromedp.WaitReady(chromedp.CSS(then)))
	b.do("submit "+form, steps...)
}

func (b *browser) consoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string{}, b.errors...)
}

const tile = `document.querySelector('.tl[data-member="node1"]')`

// TestDashboardBrowser signs in, creates a pool and a member through the
// dashboard, enrols a real agent and watches the member's tile turn healthy
// and then down, live, without reloading the page.
func TestDashboardBrowser(t *testing.T) {
	needChromium(t)
	s := startServer(t, t.TempDir())
	pwb, err := os.ReadFile(filepath.Join(s.data, "admin.password"))
	if err != nil {
		t.Fatalf("DATA/admin.password: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(s.data, "admin.password")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.password mode %v, want 0600", fi.Mode().Perm())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	b := newBrowser(t, ctx)

	// Sign in.
	b.open(s.url+"/", "#password")
	b.shot("01-login")
	// By keyboard: type, then Enter submits.
	b.do("sign in", chromedp.SendKeys(chromedp.CSS("#name"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), strings.TrimSpace(string(pwb))+kb.Enter), chromedp.WaitReady(chromedp.CSS("#create-pool")))
	b.shot("02-pools-empty")
	// The first Tab reaches the skip link, which leads to the content.
	b.do("tab", chromedp.KeyEvent(kb.Tab))
	if cls := run(b, "focus", chromedp.Evaluate[string](`document.activeElement.className`)); cls != "skip" {
		t.Errorf("first Tab focuses %q, want the skip link", cls)
	}

	// Create a pool with a 3 s heartbeat timeout.
	b.submit(`form[action="/pools"]`, map[string]string{"#p-name": "web", "#p-timeout": "3s"}, ".kpis")
	if txt := run(b, "flash", chromedp.Text(chromedp.CSS(".flash"))); !strings.Contains(txt, "Pool web created") {
		t.Fatalf("flash after creating the pool: %q", txt)
	}

	// Add a member and read its one-time secret from the page.
	b.do("add member tab", chromedp.Click(chromedp.CSS(`nav.tabs a[href="/pools/web/members/new"]`)), chromedp.WaitReady(chromedp.CSS("#m-name")))
	b.submit(`form[action="/pools/web/members"]`, map[string]string{"#m-name": "node1", "#m-address": "203.0.113.10",
		"#m-allow": "127.0.0.1/32", "#m-location": "Frankfurt", "#m-lat": "50.11", "#m-lon": "8.68"}, "#secret")
	secret := run(b, "secret", chromedp.Value(chromedp.CSS("#secret")))
	if !strings.HasPrefix(secret, "pe1.") {
		t.Fatalf("enrolment secret on the page: %q", secret)
	}
	b.shot("03-member-added")

	// Enrol a real agent with the CLI, then watch the overview.
	dir := filepath.Join(t.TempDir(), "node1")
	cli(t, nil, "agent", "enroll", "--server", s.url, "--secret", secret, "--data", dir)
	b.do("overview", chromedp.Click(chromedp.CSS(`.secret a[href="/pools/web"]`)), chromedp.WaitReady(chromedp.CSS(`.tl[data-member="node1"]`)))
	b.do("mark page", chromedp.Evaluate[chromedp.Void](`window.__poolctlNoReload = 42`))
	agent := start(t, nil, "agent", "--data", dir, "--heartbeat-interval", "500ms")
	b.waitJS("tile healthy", tile+`?.dataset.status === "healthy"`, 30*time.Second)
	b.waitJS("metrics on the tile", `!!document.querySelector('.tl[data-member="node1"] .bars')`, 30*time.Second)
	b.waitJS("KPIs 1/1 healthy", `document.querySelector('.kpis').textContent.includes('1 / 1')`, 10*time.Second)
	if v := run(b, "marker", chromedp.Evaluate[int](`window.__poolctlNoReload || 0`)); v != 42 {
		t.Fatal("the overview reloaded; the tile must turn healthy live")
	}
	b.shot("04-overview-healthy")

	// The other main pages.
	b.open(s.url+"/", "table.pools")
	b.shot("05-pools")
	b.open(s.url+"/pools/web/settings", "#s-delay")
	b.shot("06-pool-settings")
	seedSamples(t, s, "web", "node1")
	b.open(s.url+"/pools/web/members/node1", ".sparks")
	b.waitJS("sparklines", `document.querySelectorAll('svg.sparkline path').length == 6`, 10*time.Second)
	// Facts reach the page on a reload; on a loaded machine they may come late.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		if run(b, "facts", chromedp.Evaluate[bool](`!!document.querySelector('.facts')?.textContent.includes('Host name')`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the member page never showed the agent's facts")
		}
		b.open(s.url+"/pools/web/members/node1", ".sparks")
	}
	b.shot("07-member-panel")
	b.open(s.url+"/pools/web/members/node1/status", "table.components")
	b.shot("08-member-status")
	b.open(s.url+"/pools/web/members/node1/jobs", "#j-kind")
	b.submit(`form[action="/pools/web/members/node1/jobs"]`, map[string]string{"#j-kind": "facts.refresh"}, "#log")
	b.waitJS("job succeeded, streamed", `document.querySelector('#jobstatus [data-status]')?.dataset.status === "succeeded"`, 30*time.Second)
	b.waitJS("job log streamed", `document.querySelectorAll('#log li').length >= 1`, 10*time.Second)
	b.shot("09-job")
	b.open(s.url+"/pools/web/members/node1/jobs", "table.jobs")
	b.shot("10-member-jobs")
	b.open(s.url+"/pools/web/members/node1/settings", "#m-address")
	b.shot("11-member-settings")
	b.open(s.url+"/pools/web/members/node1/stack/cpanel", ".stacktab")
	b.shot("12-stack-cpanel")
	b.open(s.url+"/events?pool=web", "table.events")
	b.shot("13-events")
	b.open(s.url+"/zones", "#z-name")
	b.submit(`form[action="/zones"]`, map[string]string{"#z-name": "example.test"}, "table.records")
	b.submit(`form[action="/zones/example.test/records"]`, map[string]string{"#r-name": "www", "#r-value": "203.0.113.10"}, `tr[data-record="www A"]`)
	b.shot("14-zone")
	b.open(s.url+"/account", "#a-cur")
	b.shot("15-account")

	// A phone: nothing wider than the screen.
	b.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(s.url+"/pools/web"), chromedp.WaitReady(chromedp.CSS(".kpis")))
	for _, page := range []string{"/pools/web", "/pools/web/members/node1", "/events"} {
		b.open(s.url+page, "main")
		if !run(b, "width", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth + 1`)) {
			t.Errorf("%s is wider than a 390 px screen", page)
		}
	}
	b.open(s.url+"/pools/web", ".kpis")
	b.shot("16-phone-overview")
	b.do("desktop", chromedp.EmulateViewport(1280, 800))

	// Dark mode follows the system.
	dark := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}}
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, dark); err != nil {
		t.Fatal(err)
	}
	b.open(s.url+"/pools/web/members/node1", ".sparks")
	if bg := run(b, "dark background", chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)); bg != "rgb(15, 19, 24)" {
		t.Errorf("dark mode body background %s", bg)
	}
	b.shot("18-dark-member-panel")
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
		t.Fatal(err)
	}

	// Kill the agent: the tile turns down live.
	b.open(s.url+"/pools/web", `.tl[data-member="node1"][data-status="healthy"]`)
	b.do("mark page", chromedp.Evaluate[chromedp.Void](`window.__poolctlNoReload = 43`))
	agent.kill(syscall.SIGKILL)
	b.waitJS("tile down", tile+`?.dataset.status === "down"`, 30*time.Second)
	if v := run(b, "marker", chromedp.Evaluate[int](`window.__poolctlNoReload || 0`)); v != 43 {
		t.Fatal("the overview reloaded; the tile must turn down live")
	}
	if dot := run(b, "map dot", chromedp.AttributeValue(chromedp.CSS(`circle.dot[data-member="node1"]`), "class")); !strings.Contains(dot.Value, "s-down") {
		t.Errorf("map dot of node1: class %q, want s-down", dot.Value)
	}
	b.shot("17-overview-down")

	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// TestDashboardUsersCLI manages dashboard users with the CLI on the
// server's data directory, next to a running server, and signs in with the
// HTTP form as a browser would.
func TestDashboardUsersCLI(t *testing.T) {
	s := startServer(t, t.TempDir())
	data := []string{"--data", s.data}
	userCmd := func(stdin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, append(append([]string{"user"}, args...), data...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := userCmd("short\n", "add", "alice"); err == nil || !strings.Contains(out, "too short") {
		t.Fatalf("short password: %v %s", err, out)
	}
	if out, err := userCmd("alice's long password\n", "add", "alice"); err != nil {
		t.Fatalf("user add: %v %s", err, out)
	}
	if out, err := userCmd("another password!\n", "add", "alice"); err == nil || !strings.Contains(out, "already exists") {
		t.Fatalf("duplicate user: %v %s", err, out)
	}
	out, err := userCmd("", "list", "--output", "json")
	if err != nil || !strings.Contains(out, `"name": "alice"`) || !strings.Contains(out, `"name": "admin"`) {
		t.Fatalf("user list: %v %s", err, out)
	}
	hc := httpsClient(t, s)
	if st := signIn(t, hc, s.url, "alice", "alice's long password"); st != http.StatusSeeOther {
		t.Fatalf("alice signs in: status %d", st)
	}
	if res := httpGet(t, hc, s.url+"/"); res != http.StatusOK {
		t.Fatalf("alice's session: status %d", res)
	}
	if out, err := userCmd("", "logout-all", "alice"); err != nil || !strings.Contains(out, "ended 1 session") {
		t.Fatalf("logout-all: %v %s", err, out)
	}
	if res := httpGet(t, hc, s.url+"/"); res != http.StatusSeeOther {
		t.Fatalf("after logout-all: status %d, want a redirect to sign in", res)
	}
	if out, err := userCmd("", "remove", "alice"); err != nil {
		t.Fatalf("user remove: %v %s", err, out)
	}
	if st := signIn(t, httpsClient(t, s), s.url, "alice", "alice's long password"); st != http.StatusUnauthorized {
		t.Fatalf("removed user signs in: status %d", st)
	}
}

func httpsClient(t *testing.T, s *server) *http.Client {
	t.Helper()
	ca, err := os.ReadFile(s.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func httpGet(t *testing.T, hc *http.Client, u string) int {
	t.Helper()
	res, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func signIn(t *testing.T, hc *http.Client, base, name, pw string) int {
	t.Helper()
	res, err := hc.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="token" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("sign-in page without token:\n%s", body)
	}
	res, err = hc.PostForm(base+"/login", url.Values{"name": {name}, "password": {pw}, "token": {string(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// seedSamples writes an hour of one-minute samples (with a silent stretch)
// for a member straight into the server's database, as its heartbeats
// would have over time, so that the sparklines have a history to draw.
func seedSamples(t *testing.T, s *server, pool, member string) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(s.data, "poolctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.GetPool(t.Context(), pool)
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetMember(t.Context(), p.ID, member)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Minute)
	var samples []store.Sample
	for i := 2; i < 58; i++ {
		if i > 30 && i < 36 {
			continue
		}
		f := float64(i)
		samples = append(samples, store.Sample{MemberID: m.ID, At: now.Add(-time.Duration(i) * time.Minute), Resolution: time.Minute,
			CPU: 20 + 15*math.Sin(f/5), Mem: 40 + f/4, Disk: 16, Load1: 0.5 + math.Abs(math.Sin(f/7)), NetRx: int64(2000 + 500*i%7), NetTx: int64(800 + 300*(i%5))})
	}
	if err := st.AddSamples(t.Context(), samples); err != nil {
		t.Fatal(err)
	}
}
