package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// servingMsg is why alice's runs are refused.
const servingMsg = "account alice's DNS was cut to node2 at 2026-12-04T05:00:00Z automatically after node1 failed: " +
	"node2 serves the live copy, so a run from node1 would overwrite it; replication is paused. " +
	"Reverse the protection (poolctl protection reverse web alice) to replicate node2 → node1, " +
	"or cut DNS back first (poolctl account cut-dns web alice --to node1)"

// protectionEnv is a dashboard over a real fleet (pool web, members node1
// and node2) with a fake account protection service holding alice
// (protected, RPO exceeded, cut to node2 after a failover so that node2
// serves it, a failed run 7 and a run 8 in its restore step) and bob
// (paused), and node1's accounts alice and carol (discovered two hours
// ago: stale).
func protectionEnv(t *testing.T) (*env, *client, *fakeProtections) {
	t.Helper()
	f := newFakeProtections()
	e := newEnv(t, func(c *Config) { c.Protections = f })
	ctx := context.Background()
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	for i, m := range []string{"node1", "node2"} {
		if _, err := e.fl.AddMember(ctx, "web", api.MemberCreate{Name: m, Address: "192.0.2." + itoa(int64(10+i))}); err != nil {
			t.Fatal(err)
		}
	}
	now := e.clock.now().UTC() // the dashboard's time
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	rpo := int64(50 * 3600)
	failed := api.Run{ID: 7, Protection: 1, Status: api.RunFailed, Trigger: "schedule", Error: "standby node2 did not answer",
		Stats:     &api.RunStats{BytesUploaded: 3 << 20, ChunksNew: 12, ChunksReused: 30},
		CreatedAt: *at(26 * time.Hour), StartedAt: at(26 * time.Hour), FinishedAt: at(26*time.Hour - 90*time.Second)}
	running := api.Run{ID: 8, Protection: 1, Status: api.RunRestore, Trigger: "manual", SourceJob: 5, StandbyJob: 6,
		CreatedAt: *at(time.Minute), StartedAt: at(time.Minute)}
	f.runs[7], f.runs[8] = failed, running
	f.prots = []api.Protection{
		{ID: 1, Pool: "web", Account: "alice", Source: "node1", Standby: "node2", Schedule: "1d", Records: []string{"A", "AAAA", "MX"},
			TTL: 300, Status: api.ProtectionServingStandby, Databases: true, LastRun: &failed, LastGoodAt: at(50 * time.Hour),
			RPOSeconds: &rpo, RPOExceeded: true, CutTo: "node2", CutAt: at(3 * time.Hour), CutReason: "automatically after node1 failed",
			Blocked: servingMsg, CreatedAt: *at(100 * time.Hour)},
		{ID: 2, Pool: "web", Account: "bob", Source: "node1", Standby: "node2", Schedule: "6h", Records: []string{"A"},
			TTL: 60, Status: api.ProtectionPaused, CreatedAt: *at(time.Hour)},
	}
	f.log(8, "run 8 of account alice queued by an operator (node1 → node2)", "step 1/3: full snapshot of alice on node1 (job 5)",
		"source: read 3 files <new>", "step 2/3: staged restore on node2 (job 6)")
	f.accounts = api.AccountList{Stale: true, Error: "the agent did not answer within 5s", DiscoveredAt: at(2 * time.Hour), Items: []api.Account{
		{Name: "alice", Provider: api.ProviderLinux, Domains: []string{"alice.example", "www.alice.example", "shop.example", "blog.example"},
			Databases: []string{"alice_wp"}, Mailboxes: 3, DiskBytes: 5 << 20, Protection: 1, RPOSeconds: &rpo},
		{Name: "carol", Provider: api.ProviderLinux, Domains: []string{"carol.example"}, DiskBytes: 2048},
	}}
	f.changes = []api.DNSChange{{Zone: "alice.example.", Name: "www.alice.example.", Type: "A", Old: "192.0.2.11", New: "192.0.2.10", TTL: 300}}
	c := e.client(t)
	c.login("admin", testPassword)
	return e, c, f
}

// Every protection page renders with its key data.
func TestProtectionPages(t *testing.T) {
	_, c, f := protectionEnv(t)

	r := c.get("/protections")
	wantStatus(t, "overview", r, http.StatusOK)
	mustContain(t, "overview", r, `<a href="/protections" aria-current="page">Protection</a>`,
		`data-protection="web/alice"`, `href="/protections/web/alice"`, "node1 → node2", "<code>1d</code>",
		`data-status="failed"`, `href="/protections/web/alice/runs/7"`, "2 days 2 h", `rpo-late`, "RPO exceeded",
		`<span class="badge">node2</span>`, `data-status="serving_standby">serving from standby</span>`, `action="/protections/web/alice/pause"`,
		`data-protection="web/bob"`, `data-status="paused"`, `action="/protections/web/bob/run"`, `action="/protections/web/bob/resume"`, "no run yet",
		"Protect an account", `<option>web</option>`, `<option value="node2">`, `name="records" value="SRV">`,
		`name="records" value="MX" checked>`, `id="pr-db" name="databases" type="checkbox" checked`)
	mustContain(t, "prefilled create form", c.get("/protections?pool=web&account=carol&source=node1"),
		`<option selected>web</option>`, `name="account" required maxlength="32" autocapitalize="none" spellcheck="false" value="carol"`)

	if strings.Contains(r.Body, `action="/protections/web/alice/run"`) {
		t.Error("overview: Run now is offered for alice, whose standby serves the live copy")
	}

	r = c.get("/protections/web/alice")
	wantStatus(t, "detail", r, http.StatusOK)
	mustContain(t, "detail while the standby serves", r, "Serving from standby — replication paused",
		"account alice&#39;s DNS was cut to node2 at 2026-12-04T05:00:00Z automatically after node1 failed: node2 serves the live copy",
		"automatically after node1 failed</span>", `action="/protections/web/alice/reverse"`, `name="confirm_reverse"`,
		"Reverse direction (node2 → node1)</button>")
	if strings.Contains(r.Body, `action="/protections/web/alice/run"`) {
		t.Error("detail: Run now is offered while the standby serves the live copy")
	}
	if b := c.get("/protections/web/bob"); strings.Contains(b.Body, "Reverse direction") || !strings.Contains(b.Body, `action="/protections/web/bob/run"`) {
		t.Error("bob's page: want Run now and no reverse, as its DNS points at its source")
	}
	mustContain(t, "detail", r, "Account alice", "Last good copy", "2 days 2 h", "RPO exceeded", "A AAAA MX · TTL 300",
		"Recent runs", `data-run="8"`, `data-status="restore"`, `data-run="7"`, "standby node2 did not answer", "3.0 MiB", "12 / 30",
		`<td class="nowrap">1 min</td>`, "1 min so far", "Cut DNS to…", `name="dry_run" value="1"`, `<option selected>node1</option>`,
		`action="/protections/web/alice/delete"`, `name="from" value="detail"`, `value="1d"`)
	if f.called("Runs web alice 20") == false {
		t.Error("the detail page did not ask for the recent runs")
	}
	wantStatus(t, "unknown protection", c.get("/protections/web/nobody"), http.StatusNotFound)

	r = c.get("/protections/web/alice/runs/8")
	wantStatus(t, "running run", r, http.StatusOK)
	mustContain(t, "running run", r, "Run 8 of account alice", `data-status="restore"`, `<progress max="3" value="2"`,
		"Step 2/3: staged restore on node2 (job 6)", "source: read 3 files &lt;new&gt;", `sse-connect="/protections/web/alice/runs/8/stream?after=4"`,
		`href="/pools/web/members/node1/jobs/5"`, `href="/pools/web/members/node2/jobs/6"`)
	r = c.get("/protections/web/alice/runs/7")
	mustContain(t, "ended run", r, `data-status="failed"`, "standby node2 did not answer", "Uploaded", "3.0 MiB", "This run wrote no log")
	if strings.Contains(r.Body, "sse-connect=") {
		t.Error("an ended run's page streams")
	}
	wantStatus(t, "run of another protection", c.get("/protections/web/bob/runs/7"), http.StatusNotFound)
	wantStatus(t, "unknown run", c.get("/protections/web/alice/runs/99"), http.StatusNotFound)
	wantStatus(t, "bad run id", c.get("/protections/web/alice/runs/x"), http.StatusNotFound)

	r = c.get("/pools/web/members/node1/accounts")
	wantStatus(t, "accounts", r, http.StatusOK)
	mustContain(t, "accounts", r, `aria-current="page">Accounts</a>`, `data-account="alice"`, "alice.example, www.alice.example, shop.example, …",
		`title="alice.example, www.alice.example, shop.example, blog.example"`, "5.0 MiB", `href="/protections/web/alice">protected</a>`,
		"2 days 2 h", `data-account="carol"`, `href="/protections?account=carol&amp;pool=web&amp;source=node1#create"`,
		"Stale:", "the agent did not answer within 5s", "discovered 2 h ago", `action="/pools/web/members/node1/accounts/refresh"`)
	if !f.called("Accounts web node1 false") {
		t.Error("the accounts tab did not list the accounts without refresh")
	}
}

// Forms need the session's CSRF token; with it, they call the service.
func TestProtectionForms(t *testing.T) {
	_, c, f := protectionEnv(t)
	c.get("/protections")

	refused := map[string]url.Values{
		"/protections":                              {"pool": {"web"}, "account": {"carol"}, "source": {"node1"}, "standby": {"node2"}},
		"/protections/web/alice/run":                nil,
		"/protections/web/alice/pause":              nil,
		"/protections/web/bob/resume":               nil,
		"/protections/web/alice/settings":           {"schedule": {"2h"}, "records": {"A"}},
		"/protections/web/alice/cut-dns":            {"to": {"node1"}},
		"/protections/web/alice/delete":             {"confirm": {"alice"}},
		"/protections/web/alice/reverse":            {"confirm_reverse": {"alice"}},
		"/pools/web/members/node1/accounts/refresh": nil,
	}
	for path, form := range refused {
		if form == nil {
			form = url.Values{}
		}
		form.Set("csrf", "")
		r := c.post(path, form)
		wantStatus(t, "no token: "+path, r, http.StatusForbidden)
		mustContain(t, "no token: "+path, r, "security token is missing")
		form.Set("csrf", "not-the-token")
		wantStatus(t, "wrong token: "+path, c.post(path, form), http.StatusForbidden)
	}
	for _, m := range []string{"CreateProtection", "RunNow", "SetPaused", "UpdateProtection", "CutDNS", "DeleteProtection", "Accounts", "Reverse"} {
		if f.called(m) {
			t.Errorf("%s was called without a valid token", m)
		}
	}

	// Create.
	r := c.post("/protections", url.Values{"pool": {"web"}, "account": {"carol"}, "source": {"node1"}, "standby": {"node2"},
		"schedule": {"6h"}, "records": {"A", "SRV"}, "ttl": {"120"}})
	wantStatus(t, "create", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/protections/web/carol" {
		t.Errorf("after creating: redirect to %q", loc)
	}
	if in := f.create; in.Account != "carol" || in.Source != "node1" || in.Standby != "node2" || in.Schedule != "6h" ||
		strings.Join(in.Records, " ") != "A SRV" || in.TTL != 120 || in.Databases == nil || *in.Databases || in.Paused {
		t.Errorf("created %+v (databases %v)", in, in.Databases)
	}
	mustContain(t, "created", c.get("/protections/web/carol"), "Account carol is protected: node1 → node2, schedule 6h.")
	r = c.post("/protections", url.Values{"pool": {"web"}, "account": {"dave"}, "source": {"node1"}, "standby": {"node2"}, "databases": {"on"}})
	wantStatus(t, "create without records", r, http.StatusBadRequest)
	mustContain(t, "create without records", r, "choose at least one record type", `value="dave"`)

	// Run now, pause, resume.
	r = c.post("/protections/web/bob/run", nil)
	wantStatus(t, "run now", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/protections/web/bob/runs/101" {
		t.Errorf("run now: redirect to %q", loc)
	}
	mustContain(t, "queued run", c.get("/protections/web/bob/runs/101"), "Run 101 of account bob queued.", `data-status="queued"`,
		"Waiting to start (step 0/3)", "sse-connect=")
	r = c.post("/protections/web/alice/pause", nil)
	wantStatus(t, "pause", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/protections" || !f.called("SetPaused web alice true") {
		t.Errorf("pause: redirect to %q, calls %v", loc, f.calls)
	}
	r = c.post("/protections/web/bob/resume", url.Values{"from": {"detail"}})
	wantStatus(t, "resume", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/protections/web/bob" || !f.called("SetPaused web bob false") {
		t.Errorf("resume: redirect to %q, calls %v", loc, f.calls)
	}
	mustContain(t, "resumed", c.get("/protections/web/bob"), "Protection of account bob resumed.")

	// Settings: only what changed is sent.
	r = c.post("/protections/web/alice/settings", url.Values{"schedule": {"1d"}, "records": {"A", "AAAA", "MX"}, "ttl": {"300"}})
	wantStatus(t, "unchanged settings", r, http.StatusSeeOther)
	if f.called("UpdateProtection") {
		t.Error("unchanged settings were sent")
	}
	r = c.post("/protections/web/alice/settings", url.Values{"schedule": {"12h"}, "records": {"A", "AAAA", "MX"}, "ttl": {"300"}})
	wantStatus(t, "settings", r, http.StatusSeeOther)
	if u := f.update; u.Schedule == nil || *u.Schedule != "12h" || u.Records != nil || u.TTL != nil {
		t.Errorf("update %+v", u)
	}

	// Reverse needs the account's name.
	r = c.post("/protections/web/alice/reverse", url.Values{"confirm_reverse": {"alic"}})
	wantStatus(t, "reverse unconfirmed", r, http.StatusBadRequest)
	mustContain(t, "reverse unconfirmed", r, "type the account&#39;s name, alice, to confirm that its replication should be reversed",
		`name="confirm_reverse" autocomplete="off" autocapitalize="none" spellcheck="false" required value="alic"`)
	if f.called("Reverse") {
		t.Error("reversed without confirmation")
	}
	r = c.post("/protections/web/alice/reverse", url.Values{"confirm_reverse": {"alice"}})
	wantStatus(t, "reverse", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/protections/web/alice" || !f.called("Reverse web alice") {
		t.Errorf("reverse: redirect to %q, calls %v", loc, f.calls)
	}
	r = c.get("/protections/web/alice")
	mustContain(t, "reversed", r, "Protection of account alice reversed: it now replicates node2 → node1. Run now copies the account to node1, in full.",
		"node2 → node1", `action="/protections/web/alice/run"`)
	if strings.Contains(r.Body, "Serving from standby") {
		t.Error("the reversed protection still says the standby serves")
	}

	// DNS cut: the dry run lists the changes and offers the real cut.
	r = c.post("/protections/web/alice/cut-dns", url.Values{"to": {"node1"}, "dry_run": {"1"}})
	wantStatus(t, "dry run", r, http.StatusOK)
	mustContain(t, "dry run", r, "Cutting from node2 to node1 would change 1 records", "www.alice.example.", "192.0.2.11", "192.0.2.10",
		`<input type="hidden" name="to" value="node1">`, "Cut DNS to node1 now")
	if !f.called("CutDNS web alice node1 true") {
		t.Errorf("dry run: calls %v", f.calls)
	}
	r = c.post("/protections/web/alice/cut-dns", url.Values{"to": {"node1"}})
	wantStatus(t, "cut", r, http.StatusSeeOther)
	if !f.called("CutDNS web alice node1 false") {
		t.Errorf("cut: calls %v", f.calls)
	}
	mustContain(t, "cut", c.get("/protections/web/alice"), "DNS of account alice cut from node2 to node1: 1 records changed.")

	// Refresh of the accounts tab.
	r = c.post("/pools/web/members/node1/accounts/refresh", nil)
	wantStatus(t, "refresh", r, http.StatusOK)
	mustContain(t, "refresh", r, `data-account="carol"`, "Stale:")
	if !f.called("Accounts web node1 true") {
		t.Errorf("refresh: calls %v", f.calls)
	}

	// Delete needs the account's name.
	r = c.post("/protections/web/alice/delete", url.Values{"confirm": {"alic"}})
	wantStatus(t, "delete unconfirmed", r, http.StatusBadRequest)
	mustContain(t, "delete unconfirmed", r, "type the account&#39;s name, alice", `value="alic"`)
	if f.called("DeleteProtection") {
		t.Error("deleted without confirmation")
	}
	r = c.post("/protections/web/alice/delete", url.Values{"confirm": {"alice"}})
	wantStatus(t, "delete", r, http.StatusSeeOther)
	mustContain(t, "deleted", c.get("/protections"), "Account alice is no longer protected; its copy on node1 was left in place.")
}

// The service's refusals appear as messages on the page the form was on.
func TestProtectionErrors(t *testing.T) {
	e, c, f := protectionEnv(t)
	c.get("/protections")

	f.setFail("RunNow", apperr.New(apperr.Conflict, "a run of account alice is already queued"))
	r := c.post("/protections/web/alice/run", nil)
	wantStatus(t, "run refused", r, http.StatusConflict)
	mustContain(t, "run refused", r, "<strong>Refused:</strong> a run of account alice is already queued", "Protect an account", `data-protection="web/alice"`)
	r = c.post("/protections/web/alice/run", url.Values{"from": {"detail"}})
	mustContain(t, "run refused on its page", r, "a run of account alice is already queued", "Recent runs")

	// A run posted from a page older than the cut is refused with the cut's reason.
	f.setFail("RunNow", apperr.New(apperr.Conflict, servingMsg))
	r = c.post("/protections/web/alice/run", url.Values{"from": {"detail"}})
	wantStatus(t, "run refused while the standby serves", r, http.StatusConflict)
	mustContain(t, "run refused while the standby serves", r, "<strong>Refused:</strong> account alice&#39;s DNS was cut to node2",
		"Reverse direction (node2 → node1)")

	f.setFail("Reverse", apperr.New(apperr.Conflict, "run 8 of account alice has not ended yet; reverse the protection once it has"))
	r = c.post("/protections/web/alice/reverse", url.Values{"confirm_reverse": {"alice"}})
	wantStatus(t, "reverse refused", r, http.StatusConflict)
	mustContain(t, "reverse refused", r, "run 8 of account alice has not ended yet", `value="alice"`)

	f.setFail("CreateProtection", apperr.New(apperr.Invalid, `schedule "every minute" is not a shortcut`))
	r = c.post("/protections", url.Values{"pool": {"web"}, "account": {"carol"}, "source": {"node1"}, "standby": {"node2"},
		"schedule": {"every minute"}, "records": {"MX"}})
	wantStatus(t, "create refused", r, http.StatusBadRequest)
	mustContain(t, "create refused", r, "schedule &#34;every minute&#34; is not a shortcut", `value="carol"`, `value="every minute"`,
		`name="records" value="MX" checked>`)
	if strings.Contains(r.Body, `name="records" value="A" checked>`) {
		t.Error("the refused form lost its record choice")
	}

	f.setFail("SetPaused", apperr.New(apperr.NotFound, "account zed of pool web is not protected"))
	r = c.post("/protections/web/zed/pause", nil)
	wantStatus(t, "pause refused", r, http.StatusNotFound)
	mustContain(t, "pause refused", r, "account zed of pool web is not protected", "Protect an account")

	f.setFail("UpdateProtection", apperr.New(apperr.Invalid, "ttl 0 out of range 1–86400 seconds"))
	r = c.post("/protections/web/alice/settings", url.Values{"schedule": {"1d"}, "records": {"A"}, "ttl": {"9"}})
	wantStatus(t, "settings refused", r, http.StatusBadRequest)
	mustContain(t, "settings refused", r, "ttl 0 out of range", `name="ttl" inputmode="numeric" value="9"`)

	f.setFail("CutDNS", apperr.New(apperr.Invalid, "node3 is not a member of pool web"))
	r = c.post("/protections/web/alice/cut-dns", url.Values{"to": {"node3"}, "dry_run": {"1"}})
	wantStatus(t, "cut refused", r, http.StatusBadRequest)
	mustContain(t, "cut refused", r, "node3 is not a member of pool web", "Cut DNS to…")

	f.setFail("DeleteProtection", apperr.New(apperr.Conflict, "try again"))
	r = c.post("/protections/web/alice/delete", url.Values{"confirm": {"alice"}})
	wantStatus(t, "delete refused", r, http.StatusConflict)
	mustContain(t, "delete refused", r, "try again", "Stop protecting this account")

	f.setFail("Accounts", apperr.New(apperr.Unavailable, "the agent of node1 has never listed its accounts"))
	r = c.get("/pools/web/members/node1/accounts")
	wantStatus(t, "accounts refused", r, http.StatusServiceUnavailable)
	mustContain(t, "accounts refused", r, "the agent of node1 has never listed its accounts", "Hosting accounts", "Cron &amp; Jobs")

	// A failure without a kind is an internal error: a message on the
	// page, the details in the log.
	f.setFail("ListProtections", errors.New("database is locked: SELECT …"))
	r = c.get("/protections")
	mustContain(t, "list failed", r, "Internal error; the server log has the details.", "Protect an account")
	if strings.Contains(r.Body, "database is locked") {
		t.Error("the page shows an internal error's text")
	}

	// Read-only users see the pages but cannot act.
	e.addUser(t, "viewer", false)
	v := e.client(t)
	v.login("viewer", testPassword)
	wantStatus(t, "viewer sees", v.get("/protections/web/alice"), http.StatusOK)
	wantStatus(t, "viewer acts", v.post("/protections/web/bob/resume", nil), http.StatusForbidden)
	if f.called("SetPaused web bob") {
		t.Error("a read-only user resumed a protection")
	}
}

// Without a protection service the pages say so.
func TestProtectionUnavailable(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.login("admin", testPassword)
	ctx := context.Background()
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fl.AddMember(ctx, "web", api.MemberCreate{Name: "node1", Address: "192.0.2.10"}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "overview", c.get("/protections"), "Account protection is not available on this server.")
	if r := c.get("/protections"); strings.Contains(r.Body, "Protect an account") {
		t.Error("the create form is offered without a service")
	}
	mustContain(t, "accounts", c.get("/pools/web/members/node1/accounts"), "Account protection is not available on this server.")
	for _, p := range []string{"/protections/web/alice", "/protections/web/alice/runs/1"} {
		r := c.get(p)
		wantStatus(t, p, r, http.StatusServiceUnavailable)
		mustContain(t, p, r, "account protection is not available on this server")
	}
	wantStatus(t, "create", c.post("/protections", url.Values{"pool": {"web"}}), http.StatusServiceUnavailable)
	wantStatus(t, "run", c.post("/protections/web/alice/run", nil), http.StatusServiceUnavailable)
}

// A run's stream sends its new log lines, its progress as the steps
// start, its figures when it ends, then done.
func TestProtectionRunStream(t *testing.T) {
	_, c, f := protectionEnv(t)
	page := c.get("/protections/web/alice/runs/8")
	live := regexpFind(t, page.Body, `sse-connect="([^"]+)"`)
	s := c.stream(t, strings.ReplaceAll(live, "&amp;", "&"))
	s.await("status", `value="2"`)

	f.log(8, "standby: restored 3 files <ok>")
	if d := s.await("line", "restored"); !strings.Contains(d, "restored 3 files &lt;ok&gt;") {
		t.Errorf("log line not escaped: %s", d)
	}
	f.log(8, "step 3/3: removing transient chunks")
	s.await("status", "Step 3/3: removing transient chunks")

	// The run ends after its last line, as the engine's do.
	f.log(8, "run succeeded")
	s.await("line", "run succeeded")
	f.mu.Lock()
	r := f.runs[8]
	f.mu.Unlock()
	done := time.Now()
	r.Status, r.FinishedAt = api.RunSucceeded, &done
	r.Stats = &api.RunStats{Files: 3, ChunksTotal: 9, ChunksNew: 4, ChunksReused: 5, BytesUploaded: 4096, TotalMS: 1500}
	f.setRun(r)
	d := s.await("status", `data-status="succeeded"`)
	for _, want := range []string{`value="3"`, "Step 3/3: done", "4 new · 5 reused", "4.0 KiB", "1.5 s"} {
		if !strings.Contains(d, want) {
			t.Errorf("final status lacks %q:\n%s", want, d)
		}
	}
	s.await("done", "succeeded")
}

func TestRunProgress(t *testing.T) {
	for _, tc := range []struct {
		lines    []string
		step, of int
		text     string
	}{
		{nil, 0, 0, ""},
		{[]string{"run 1 queued", "step 1/3: snapshot of alice on node1 (job 5)"}, 1, 3, "snapshot of alice on node1 (job 5)"},
		{[]string{"step 1/3: a", "source: step 9/3 is not a step", "step 2/3: b"}, 2, 3, "b"},
		{[]string{"step 4/3: impossible", "steps 2/3"}, 0, 0, ""},
	} {
		var p runProgress
		var ls []api.RunLogLine
		for i, l := range tc.lines {
			ls = append(ls, api.RunLogLine{Seq: int64(i + 1), Line: l})
		}
		p.advance(ls)
		if p.Step != tc.step || p.Steps != tc.of || p.Text != tc.text {
			t.Errorf("%q: got %d/%d %q, want %d/%d %q", tc.lines, p.Step, p.Steps, p.Text, tc.step, tc.of, tc.text)
		}
	}
}
