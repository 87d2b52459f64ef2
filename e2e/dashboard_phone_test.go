package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
)

// overflowJS lists the elements that reach past the right edge of the
// screen, deepest first, so that a failure names the culprit.
const overflowJS = `(() => {
  const w = Math.min(window.innerWidth, screen.width), out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > w + 1 && !el.closest('.scroll, pre, .tabs')) {
      out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className && el.className.baseVal === undefined ? '.' + String(el.className).trim().split(/\s+/).join('.') : '') + ' ' + Math.round(r.right) + 'px');
    }
  }
  return out.reverse().slice(0, 8).join(', ');
})()`

// fitsJS tells whether the page is no wider than the screen. A mobile
// browser zooms a page that is too wide out, which widens innerWidth with
// it: the screen's width is the measure too.
const fitsJS = `document.documentElement.scrollWidth <= Math.min(window.innerWidth, screen.width)`

// TestDashboardPhone opens every main page on a 390 × 844 phone and
// checks that none scrolls sideways: pools, a pool overview and its
// settings and members table, a member's pages (live metrics from a real agent, sparklines
// with history, a pending member), protections with runs, zones, a zone,
// events, the DNS cluster and linked nodes.
func TestDashboardPhone(t *testing.T) {
	needChromium(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	data := t.TempDir()
	s := startServer(t, data, "--listen", addr)
	env := s.env()
	cli(t, env, "zone", "create", "example.test")
	cli(t, env, "record", "add", "example.test", "app", "A", "203.0.113.10")
	cli(t, env, "record", "add", "example.test", "@", "TXT", "v=spf1 ip4:203.0.113.0/24 ip6:2001:db8::/32 include:_spf.mail-provider.example.net ~all")
	cli(t, env, "pool", "create", "web", "--failover-record", "www.example.test", "--heartbeat-timeout", "3s")
	var added api.MemberAdded
	cliJSON(t, env, &added, "member", "add", "web", "node1", "--address", "203.0.113.10", "--allow-ip", "127.0.0.1/32", "--output", "json")
	agentDir := filepath.Join(t.TempDir(), "node1")
	cli(t, nil, "agent", "enroll", "--server", s.url, "--secret", added.EnrollmentSecret, "--data", agentDir)
	cli(t, env, "member", "add", "web", "standby-frankfurt-2", "--address", "2001:db8:1234:5678::20")

	// History the pages show, written while the server is stopped.
	s.kill(syscall.SIGTERM)
	seedProtection(t, data, "web", "alice", "node1", "standby-frankfurt-2")
	s = startServer(t, data, "--listen", addr)
	seedSamples(t, s, "web", "node1")
	start(t, nil, "agent", "--data", agentDir, "--heartbeat-interval", "500ms")
	waitFor(t, 30*time.Second, "node1 healthy with metrics", func() bool {
		m := members(t, s, "web")["node1"]
		return m.Status == api.StatusHealthy && m.Metrics != nil
	})

	pw, err := os.ReadFile(filepath.Join(data, "admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	b := newBrowser(t, ctx)
	b.do("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.open(s.url+"/", "#password")
	b.do("sign in", chromedp.SendKeys(chromedp.CSS("#name"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), strings.TrimSpace(string(pw))+kb.Enter), chromedp.WaitReady(chromedp.CSS("table.pools")))

	node1 := "/pools/web/members/node1"
	pages := []struct{ path, sel string }{
		{"/", "table.pools"},
		{"/pools/web", `.tl[data-member="node1"] .bars`},
		{"/pools/web/members?sort=status", "table.members"},
		{"/pools/web/settings", "main"},
		{"/pools/web/members/new", "#m-name"},
		{node1, "svg.sparkline path"},
		{node1 + "/status", "table.components"},
		{node1 + "/jobs", "main"},
		{node1 + "/settings", "#m-address"},
		{node1 + "/accounts", "main"},
		{node1 + "/stack/mariadb", "main"},
		{"/pools/web/members/standby-frankfurt-2", "main"},
		{"/protections", `tr[data-protection="web/alice"]`},
		{"/protections/web/alice", "main"},
		{"/protections/web/alice/runs/1", "main"},
		{"/protections/web/alice/runs/2", "main"},
		{"/zones", "main"},
		{"/zones/example.test", "table.records"},
		{"/events", "table.events"},
		{"/dns-cluster", "main"},
		{"/links", "main"},
		{"/account", "main"},
	}
	for _, p := range pages {
		b.open(s.url+p.path, p.sel)
		var fits bool
		for try := 0; try < 10; try++ { // live parts may still arrive: look again, briefly
			if fits = run(b, "width of "+p.path, chromedp.Evaluate[bool](fitsJS)); fits {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.shot("phone" + strings.ReplaceAll(p.path, "/", "-"))
		if !fits {
			width := run(b, "scroll width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
			wide := run(b, "wide elements", chromedp.Evaluate[string](overflowJS))
			t.Errorf("%s is %d px wide on a 390 px phone; past the edge: %s", p.path, width, wide)
		}
	}
	b.open(s.url+node1, "svg.sparkline path")
	b.shot("phone-member")

	// The members table filters as one types (the form's GET does without JavaScript).
	b.open(s.url+"/pools/web/members", `tr[data-member="node1"]`)
	b.do("search", chromedp.SendKeys(chromedp.CSS("#mf-q"), "2001:db8"))
	b.waitJS("rows filtered live", `document.querySelector('tr[data-member="node1"]').hidden && !document.querySelector('tr[data-member="standby-frankfurt-2"]').hidden`, 5*time.Second)
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Fatalf("console errors:\n%s", strings.Join(errs, "\n"))
	}
}

// seedProtection writes a paused protection of account from source to
// standby with a good run and a failed one into a stopped server's
// database, as the replication engine would have over time.
func seedProtection(t *testing.T, data, pool, account, source, standby string) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(data, "poolctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.GetPool(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	src, err := st.GetMember(ctx, p.ID, source)
	if err != nil {
		t.Fatal(err)
	}
	stb, err := st.GetMember(ctx, p.ID, standby)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-2 * time.Hour)
	pr := store.Protection{PoolID: p.ID, Account: account, SourceID: src.ID, StandbyID: stb.ID, Schedule: "1d",
		Records: []string{"A", "AAAA", "MX"}, TTL: 300, Databases: true, Paused: true}
	if err := st.CreateProtection(ctx, &pr, now); err != nil {
		t.Fatal(err)
	}
	good := store.Run{Run: api.Run{Protection: pr.ID, Trigger: "schedule"}}
	if err := st.CreateRun(ctx, &good, now); err != nil {
		t.Fatal(err)
	}
	good.Stats = &api.RunStats{Files: 123456, FilesRead: 120034, FilesReused: 3422, BytesRead: 98765432109, ChunksTotal: 987654,
		ChunksNew: 123456, ChunksReused: 864198, BytesNew: 12345678901, BytesUploaded: 12345678901, Databases: 12, DBUsers: 14,
		SnapshotMS: 1234567, ChunksFetched: 123456, BytesFetched: 12345678901, BytesWritten: 98765432109, FilesLinked: 3422,
		RestoreMS: 2345678, ChunksDeleted: 12345, TotalMS: 3580245, ManifestFiles: 123456, ManifestBytes: 98765432, ManifestChunks: 987654}
	if err := st.FinishGoodRun(ctx, &good, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	bad := store.Run{Run: api.Run{Protection: pr.ID, Trigger: "manual"}}
	if err := st.CreateRun(ctx, &bad, now.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.FailRun(ctx, &bad, "restore on standby-frankfurt-2: mariadb: ERROR 1045 (28000): Access denied for user 'poolctl_restore'@'localhost' (using password: YES) while importing /var/lib/poolctl/restore/alice/databases/alice_wordpress.sql", now.Add(100*time.Minute)); err != nil {
		t.Fatal(err)
	}
}
