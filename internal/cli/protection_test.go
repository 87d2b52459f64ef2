package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// cannedAPI is an API server that answers with canned values of the api
// types and records the requests it got. The real server is exercised by
// the end-to-end tests; these check the commands' arguments and output.
type cannedAPI struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []string // "METHOD /path?query body"
	routes map[string]func(w http.ResponseWriter, r *http.Request, body []byte)
}

func newCannedAPI(t *testing.T) *cannedAPI {
	t.Helper()
	a := &cannedAPI{t: t, routes: map[string]func(http.ResponseWriter, *http.Request, []byte){}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *cannedAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer test-token" {
		writeAPIError(w, 401, "unauthorized", "no or an unknown credential")
		return
	}
	key := r.Method + " " + r.URL.Path
	rec := key
	if r.URL.RawQuery != "" {
		rec += "?" + r.URL.RawQuery
	}
	if len(body) > 0 {
		rec += " " + string(body)
	}
	a.mu.Lock()
	a.reqs = append(a.reqs, rec)
	h := a.routes[key]
	a.mu.Unlock()
	if h == nil {
		writeAPIError(w, 404, "not_found", "no API route "+key)
		return
	}
	h(w, r, body)
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	writeAPIJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg}})
}

func writeAPIJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// on answers method+path with v (status 200, or the given one).
func (a *cannedAPI) on(method, path string, status int, v any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.routes[method+" "+path] = func(w http.ResponseWriter, r *http.Request, body []byte) {
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		writeAPIJSON(w, status, v)
	}
}

func (a *cannedAPI) handle(method, path string, h func(w http.ResponseWriter, r *http.Request, body []byte)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.routes[method+" "+path] = h
}

// take returns the requests recorded since the last take.
func (a *cannedAPI) take() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.reqs
	a.reqs = nil
	return r
}

// run runs poolctl against the server and returns the exit code and output.
func (a *cannedAPI) run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	all := append([]string{"--server", a.srv.URL, "--token", "test-token"}, args...)
	code = Main(context.Background(), all, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustRun runs a command that must succeed.
func (a *cannedAPI) mustRun(args ...string) (stdout, stderr string) {
	a.t.Helper()
	code, out, errOut := a.run(args...)
	if code != 0 {
		a.t.Fatalf("poolctl %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
	}
	return out, errOut
}

func wantRequests(t *testing.T, what string, a *cannedAPI, want ...string) {
	t.Helper()
	got := a.take()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: requests:\ngot  %q\nwant %q", what, got, want)
	}
}

// wantLines checks that text has a line matching each pattern (regular
// expressions over a line with runs of spaces squeezed to one).
func wantLines(t *testing.T, what, text string, patterns ...string) {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		found := false
		for _, l := range lines {
			if re.MatchString(l) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: got\n%s\nwant a line matching %q", what, text, p)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestHumanFormats(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {1<<20 - 1, "1.0 MiB"},
		{1288490189, "1.2 GiB"}, {5 << 40, "5.0 TiB"},
	} {
		if got := humanBytes(c.n); got != c.want {
			t.Errorf("humanBytes(%d): got %q, want %q", c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {0, "0s"}, {45*time.Second + 900*time.Millisecond, "45s"}, {192 * time.Second, "3m12s"},
		{3 * time.Minute, "3m"}, {2*time.Hour + 5*time.Minute + 59*time.Second, "2h5m"}, {5 * time.Hour, "5h"},
		{76 * time.Hour, "3d4h"}, {48 * time.Hour, "2d"},
	} {
		if got := humanDuration(c.d); got != c.want {
			t.Errorf("humanDuration(%s): got %q, want %q", c.d, got, c.want)
		}
	}
	if got := rpoText(ptr(int64(192))); got != "3m12s ago" {
		t.Errorf("rpoText(192): got %q, want 3m12s ago", got)
	}
	if got := rpoText(nil); got != "never" {
		t.Errorf("rpoText(nil): got %q, want never", got)
	}
	for _, c := range []struct {
		ds   []string
		want string
	}{{nil, "-"}, {[]string{"a.test"}, "a.test"}, {[]string{"a.test", "b.test", "c.test"}, "a.test +2"}} {
		if got := domainsText(c.ds); got != c.want {
			t.Errorf("domainsText(%v): got %q, want %q", c.ds, got, c.want)
		}
	}
	for _, c := range []struct {
		line string
		want float64
		ok   bool
	}{
		{"uploading chunks 120/480", 0.25, true},
		{"step 1/3: snapshot", 0, false},
		{"Step 2/3: restore, file 30/60", 0.5, true},
		{"restore 45% done", 0.45, true},
		{"restore 12.5 % (3/4 files)", 0.125, true},
		{"read protections/7/chunks", 0, false},
		{"date 2026/03/01", 0, false},
		{"nothing here", 0, false},
	} {
		got, ok := lineFraction(c.line)
		if ok != c.ok || (ok && (got < c.want-1e-9 || got > c.want+1e-9)) {
			t.Errorf("lineFraction(%q): got %v %v, want %v %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

func TestAccountList(t *testing.T) {
	a := newCannedAPI(t)
	discovered := time.Now().Add(-5 * time.Minute)
	list := api.AccountList{DiscoveredAt: &discovered, Items: []api.Account{
		{Name: "alice", Provider: "linux", Domains: []string{"alice.test", "alice.example"}, Databases: []string{"alice_shop", "alice_wp"},
			Mailboxes: 4, DiskBytes: 1288490189, Protection: 7, RPOSeconds: ptr(int64(192))},
		{Name: "bob", Provider: "cpanel", DiskBytes: 512},
		{Name: "carol", Provider: "linux", Domains: []string{"carol.test"}, Protection: 9},
	}}
	a.on("GET", "/api/v1/pools/web/members/node1/accounts", 200, list)

	out, errOut := a.mustRun("account", "list", "web", "node1")
	wantLines(t, "account list", out,
		`^NAME PROVIDER DOMAINS DBS MAILBOXES SIZE PROTECTED RPO$`,
		`^alice linux alice.test \+1 2 4 1.2 GiB yes 3m12s ago$`,
		`^bob cpanel - 0 0 512 B no -$`,
		`^carol linux carol.test 0 0 0 B yes never$`)
	if errOut != "" {
		t.Errorf("account list: stderr %q, want none for a fresh list", errOut)
	}
	wantRequests(t, "account list", a, "GET /api/v1/pools/web/members/node1/accounts")

	a.mustRun("account", "list", "web", "node1", "--refresh")
	wantRequests(t, "account list --refresh", a, "GET /api/v1/pools/web/members/node1/accounts?refresh=true")

	// JSON is the API's answer.
	out, _ = a.mustRun("account", "list", "web", "node1", "-o", "json")
	var got api.AccountList
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Items) != 3 || got.Items[0].RPOSeconds == nil {
		t.Errorf("account list -o json: got %q (%v), want the three accounts", out, err)
	}
	a.take()

	// A stale list warns on stderr, in both formats.
	list.Stale, list.Error = true, "the agent did not answer within 20s"
	a.on("GET", "/api/v1/pools/web/members/node1/accounts", 200, list)
	for _, o := range []string{"table", "json"} {
		out, errOut = a.mustRun("account", "list", "web", "node1", "-o", o)
		wantLines(t, "stale account list -o "+o, errOut, `^warning: the agent did not answer within 20s; these are the accounts discovered 5m ago$`)
		if !strings.Contains(out, "alice") {
			t.Errorf("stale account list -o %s: got %q, want the accounts anyway", o, out)
		}
	}
	a.on("GET", "/api/v1/pools/web/members/empty/accounts", 200, api.AccountList{Items: []api.Account{}, Stale: true})
	out, errOut = a.mustRun("account", "list", "web", "empty")
	wantLines(t, "empty account list", out, `^No accounts found on web/empty\.$`)
	wantLines(t, "never discovered", errOut, `^warning: the agent of empty did not answer; no discovery of its accounts has succeeded yet$`)
	a.take()

	// Argument errors are caught before any request; API errors are shown.
	for _, args := range [][]string{{"account", "list", "web"}, {"account", "list", "web", "node1", "extra"}, {"account", "list", "web", "node1", "-o", "yaml"}} {
		if code, _, errOut := a.run(args...); code == 0 || !strings.HasPrefix(errOut, "error: ") {
			t.Errorf("poolctl %s: got exit %d, stderr %q, want an error", strings.Join(args, " "), code, errOut)
		}
	}
	wantRequests(t, "bad arguments", a)
	code, _, errOut := a.run("account", "list", "web", "nosuch")
	if code != 1 || errOut != "error: no API route GET /api/v1/pools/web/members/nosuch/accounts\n" {
		t.Errorf("account list of an unknown member: got exit %d, stderr %q, want the API's message", code, errOut)
	}
}

func TestAccountCutDNS(t *testing.T) {
	a := newCannedAPI(t)
	a.handle("POST", "/api/v1/pools/web/accounts/alice/cut-dns", func(w http.ResponseWriter, r *http.Request, body []byte) {
		var in api.DNSCut
		_ = json.Unmarshal(body, &in)
		writeAPIJSON(w, 200, api.DNSCutResult{Pool: "web", Account: "alice", From: "node1", To: in.To, DryRun: in.DryRun, Changes: []api.DNSChange{
			{Zone: "alice.test", Name: "alice.test", Type: "A", Old: "203.0.113.10", New: "203.0.113.20", TTL: 60},
			{Zone: "alice.test", Name: "www.alice.test", Type: "AAAA", Old: "2001:db8::10", New: "2001:db8::20", TTL: 60},
		}})
	})
	out, _ := a.mustRun("account", "cut-dns", "web", "alice", "--to", "node2", "--dry-run")
	wantLines(t, "cut-dns --dry-run", out,
		`^DNS of account alice \(pool web\) would move from node1 to node2: 2 record\(s\)$`,
		`^ZONE NAME TYPE OLD → NEW TTL$`,
		`^alice.test alice.test A 203.0.113.10 → 203.0.113.20 60$`,
		`^alice.test www.alice.test AAAA 2001:db8::10 → 2001:db8::20 60$`,
		`^dry run: nothing was changed`)
	wantRequests(t, "cut-dns --dry-run", a, `POST /api/v1/pools/web/accounts/alice/cut-dns {"to":"node2","dry_run":true}`)

	out, _ = a.mustRun("account", "cut-dns", "web", "alice", "--to", "node2")
	wantLines(t, "cut-dns", out, `^DNS of account alice \(pool web\) moved from node1 to node2: 2 record\(s\)$`)
	if strings.Contains(out, "dry run") {
		t.Errorf("cut-dns: got %q, want no dry-run notice", out)
	}
	wantRequests(t, "cut-dns", a, `POST /api/v1/pools/web/accounts/alice/cut-dns {"to":"node2"}`)

	out, _ = a.mustRun("account", "cut-dns", "web", "alice", "--to", "node2", "-o", "json")
	var res api.DNSCutResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Changes) != 2 || res.To != "node2" {
		t.Errorf("cut-dns -o json: got %q (%v), want the result", out, err)
	}
	a.take()

	if code, _, errOut := a.run("account", "cut-dns", "web", "alice"); code == 0 || !strings.Contains(errOut, "--to") {
		t.Errorf("cut-dns without --to: got exit %d, stderr %q, want an error naming --to", code, errOut)
	}
	wantRequests(t, "cut-dns without --to", a)
}

// protectionFixture is a protection with a finished run and stats.
func protectionFixture() api.Protection {
	now := time.Now()
	started, finished := now.Add(-4*time.Minute), now.Add(-3*time.Minute)
	next := now.Add(5*time.Hour + 30*time.Second)
	good := finished
	return api.Protection{ID: 7, Pool: "web", Account: "alice", Source: "node1", Standby: "node2", Schedule: "6h",
		Records: []string{"A", "AAAA", "MX"}, TTL: 300, Status: api.ProtectionActive, Databases: true,
		NextRunAt: &next, LastGoodAt: &good, RPOSeconds: ptr(int64(192)), CreatedAt: now.Add(-time.Hour), UpdatedAt: now,
		LastRun: &api.Run{ID: 42, Protection: 7, Status: api.RunSucceeded, Trigger: "manual", CreatedAt: started,
			StartedAt: &started, FinishedAt: &finished, Stats: &api.RunStats{
				Files: 34000, FilesRead: 340, FilesReused: 33660, BytesRead: 12 << 20, ChunksNew: 12, ChunksReused: 980,
				BytesNew: 11 << 20, BytesUploaded: 5 << 20, Databases: 2, DBUsers: 1, SnapshotMS: 1500,
				ChunksFetched: 12, ChunksLocal: 980, BytesFetched: 5 << 20, BytesWritten: 12 << 20, FilesLinked: 33660,
				RestoreMS: 900, ChunksDeleted: 12, TotalMS: 61000, ManifestFiles: 34000, ManifestBytes: 1 << 30, ManifestChunks: 992}}}
}

func TestProtectionCommands(t *testing.T) {
	a := newCannedAPI(t)
	p := protectionFixture()
	late := p
	late.Pool, late.Account, late.Status, late.NextRunAt, late.LastRun, late.LastGoodAt, late.RPOSeconds = "mail", "bob", api.ProtectionPaused, nil, nil, nil, nil
	late.RPOExceeded, late.CutTo = true, "node2"
	a.on("GET", "/api/v1/protections", 200, api.List[api.Protection]{Items: []api.Protection{p, late}})

	out, _ := a.mustRun("protection", "list")
	wantLines(t, "protection list", out,
		`^POOL ACCOUNT SOURCE STANDBY SCHEDULE STATUS LAST-RUN RPO NEXT$`,
		`^web alice node1 node2 6h active succeeded 3m ago 3m12s ago in 5h$`,
		`^mail bob node1 node2 6h paused, dns on node2 - never \(late\) -$`)
	a.mustRun("protection", "list", "--pool", "web")
	wantRequests(t, "protection list", a, "GET /api/v1/protections", "GET /api/v1/protections?pool=web")
	out, _ = a.mustRun("protection", "list", "-o", "json")
	var l api.List[api.Protection]
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Items) != 2 || l.Items[1].CutTo != "node2" {
		t.Errorf("protection list -o json: got %q (%v), want both protections", out, err)
	}
	a.on("GET", "/api/v1/protections", 200, api.List[api.Protection]{Items: []api.Protection{}})
	out, _ = a.mustRun("protection", "list")
	wantLines(t, "empty protection list", out, `^No protections yet`)
	a.take()

	// create: flags become the body; what the server does not get is its default.
	a.on("POST", "/api/v1/pools/web/protections", 201, p)
	out, _ = a.mustRun("protection", "create", "web", "alice", "--source", "node1", "--standby", "node2")
	wantLines(t, "protection create", out,
		`^account: alice \(pool web, protection 7\)$`,
		`^replicates: node1 → node2$`,
		`^schedule: 6h \(UTC\), next run in 5h$`,
		`^records cut: A AAAA MX, ttl 300$`,
		`^databases: replicated$`,
		`^RPO: 3m12s ago$`,
		`^last run: 42 succeeded \(manual\), finished 3m ago, took 1m$`,
		`^snapshot: 34000 files \(340 read, 33660 unchanged\), 12.0 MiB read; chunks 12 new, 980 reused; 11.0 MiB new, 5.0 MiB uploaded; 1.5s$`,
		`^databases: 2 databases, 1 users$`,
		`^restore: chunks 12 fetched, 980 from the standby's copy; 5.0 MiB fetched, 12.0 MiB written, 33660 files linked; 900ms$`,
		`^copy: 34000 files, 1.0 GiB in 992 chunks$`,
		`^total: 1m1s; 12 transient chunks deleted$`)
	a.mustRun("protection", "create", "web", "alice", "--source", "node1", "--standby", "node2", "--schedule", "1w",
		"--records", "A,MX", "--records", "SRV", "--ttl", "60", "--no-databases", "--paused")
	wantRequests(t, "protection create", a,
		`POST /api/v1/pools/web/protections {"account":"alice","source":"node1","standby":"node2"}`,
		`POST /api/v1/pools/web/protections {"account":"alice","source":"node1","standby":"node2","schedule":"1w","records":["A","MX","SRV"],"ttl":60,"databases":false,"paused":true}`)
	out, _ = a.mustRun("protection", "create", "web", "alice", "--source", "node1", "--standby", "node2", "-o", "json")
	var got api.Protection
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.ID != 7 || got.LastRun == nil || got.LastRun.Stats.Files != 34000 {
		t.Errorf("protection create -o json: got %q (%v), want the protection", out, err)
	}
	a.take()
	for _, args := range [][]string{
		{"protection", "create", "web", "alice", "--source", "node1"},
		{"protection", "create", "web", "alice", "--standby", "node2"},
		{"protection", "create", "web", "--source", "node1", "--standby", "node2"},
		{"protection", "create", "web", "alice", "--source", "node1", "--standby", "node2", "--ttl", "soon"},
		{"protection", "update", "web", "alice"},
		{"protection", "show", "web"},
		{"protection", "pause", "web", "alice", "bob"},
		{"protection", "list", "web"},
		{"protection", "log", "web", "alice", "--run", "-3"},
	} {
		if code, _, errOut := a.run(args...); code == 0 || !strings.HasPrefix(errOut, "error: ") {
			t.Errorf("poolctl %s: got exit %d, stderr %q, want an error", strings.Join(args, " "), code, errOut)
		}
	}
	wantRequests(t, "bad arguments", a)

	// show, update, pause, resume, delete.
	const path = "/api/v1/pools/web/protections/alice"
	paused := p
	paused.Status, paused.NextRunAt = api.ProtectionPaused, nil
	a.on("GET", path, 200, p)
	a.on("PATCH", path, 200, p)
	a.on("POST", path+"/pause", 200, paused)
	a.on("POST", path+"/resume", 200, p)
	a.on("DELETE", path, 204, nil)
	out, _ = a.mustRun("protection", "show", "web", "alice")
	wantLines(t, "protection show", out, `^status: active$`, `^last good copy: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)
	a.mustRun("protection", "update", "web", "alice", "--ttl", "60")
	a.mustRun("protection", "update", "web", "alice", "--schedule", "0 3 * * *", "--records", "A,AAAA")
	out, _ = a.mustRun("protection", "pause", "web", "alice")
	wantLines(t, "protection pause", out, `^status: paused$`, `^schedule: 6h \(UTC\)$`)
	a.mustRun("protection", "resume", "web", "alice")
	out, _ = a.mustRun("protection", "delete", "web", "alice")
	wantLines(t, "protection delete", out, `^account alice of pool web is no longer protected; the standby's copy was left in place$`)
	out, _ = a.mustRun("protection", "delete", "web", "alice", "-o", "json")
	if !strings.Contains(out, `"deleted": "alice"`) {
		t.Errorf("protection delete -o json: got %q, want deleted alice", out)
	}
	wantRequests(t, "show, update, pause, resume, delete", a,
		"GET "+path,
		"PATCH "+path+` {"ttl":60}`,
		"PATCH "+path+` {"schedule":"0 3 * * *","records":["A","AAAA"]}`,
		"POST "+path+"/pause",
		"POST "+path+"/resume",
		"DELETE "+path,
		"DELETE "+path)

	// Errors come through with the server's message.
	a.handle("POST", path+"/run", func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeAPIError(w, 409, "conflict", "a run of account alice is already in progress")
	})
	code, _, errOut := a.run("protection", "run-now", "web", "alice")
	if code != 1 || errOut != "error: a run of account alice is already in progress\n" {
		t.Errorf("run-now while running: got exit %d, stderr %q, want the conflict", code, errOut)
	}
	a.take()

	// runs.
	runs := []api.Run{*p.LastRun, {ID: 41, Protection: 7, Status: api.RunFailed, Trigger: "schedule", CreatedAt: time.Now().Add(-2 * time.Hour), Error: "chunk 00ff is corrupt"}}
	a.on("GET", path+"/runs", 200, api.List[api.Run]{Items: runs})
	out, _ = a.mustRun("protection", "runs", "web", "alice", "--limit", "2")
	wantLines(t, "protection runs", out,
		`^ID STATUS TRIGGER STARTED TOOK UPLOADED ERROR$`,
		`^42 succeeded manual 4m ago 1m 5.0 MiB -$`,
		`^41 failed schedule 2h ago - - chunk 00ff is corrupt$`)
	wantRequests(t, "protection runs", a, "GET "+path+"/runs?limit=2")
}

// runScript serves run 42 of web/alice: the log in batches, the status
// moving on as each batch is read, ending as final.
func runScript(a *cannedAPI, final string) {
	const path = "/api/v1/pools/web/protections/alice"
	p := protectionFixture()
	var mu sync.Mutex
	served := 0 // batches served
	batches := [][]string{
		{"step 1/3: snapshot of alice on node1", "uploading chunks 40/80"},
		{"step 2/3: restore on node2", "restored 50%"},
		{"step 3/3: cleanup"},
	}
	status := func() string {
		switch served {
		case 0:
			return api.RunQueued
		case 1:
			return api.RunSnapshot
		case 2:
			return api.RunRestore
		}
		return final
	}
	run := func() api.Run {
		r := api.Run{ID: 42, Protection: 7, Status: status(), Trigger: "manual", CreatedAt: time.Now()}
		if served > 0 {
			s := time.Now().Add(-time.Minute)
			r.StartedAt = &s
		}
		if r.Status == api.RunSucceeded || r.Status == api.RunFailed {
			f := r.StartedAt.Add(65 * time.Second)
			r.FinishedAt = &f
		}
		if r.Status == api.RunFailed {
			r.Error = "restore: chunk 00ff is corrupt"
		}
		return r
	}
	queued := p
	queued.LastRun = &api.Run{ID: 42, Protection: 7, Status: api.RunQueued}
	a.on("GET", path, 200, queued)
	a.on("POST", path+"/run", 202, api.Run{ID: 42, Protection: 7, Status: api.RunQueued, Trigger: "manual"})
	a.handle("GET", "/api/v1/runs/42", func(w http.ResponseWriter, r *http.Request, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		writeAPIJSON(w, 200, run())
	})
	a.handle("GET", "/api/v1/runs/42/log", func(w http.ResponseWriter, r *http.Request, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		var after int64
		fmt.Sscan(r.URL.Query().Get("after"), &after)
		var out []api.RunLogLine
		seq := int64(0)
		for i, b := range batches {
			for _, l := range b {
				seq++
				if seq > after && (i < served || (i == served && r.URL.Query().Get("wait") != "")) {
					out = append(out, api.RunLogLine{Seq: seq, Time: time.Now(), Line: l})
				}
			}
		}
		if len(out) > 0 && r.URL.Query().Get("wait") != "" && served < len(batches) {
			served++
		}
		writeAPIJSON(w, 200, api.List[api.RunLogLine]{Items: out})
	})
	a.on("GET", "/api/v1/runs/43", 200, api.Run{ID: 43, Protection: 8, Status: api.RunSucceeded})
}

func TestProtectionRunNowFollow(t *testing.T) {
	for _, final := range []string{api.RunSucceeded, api.RunFailed} {
		t.Run(final, func(t *testing.T) {
			a := newCannedAPI(t)
			runScript(a, final)
			code, out, errOut := a.run("protection", "run-now", "web", "alice", "--follow")
			wantLines(t, "run-now --follow stdout", out,
				`^\d\d:\d\d:\d\d step 1/3: snapshot of alice on node1$`,
				`^\d\d:\d\d:\d\d uploading chunks 40/80$`,
				`^\d\d:\d\d:\d\d step 2/3: restore on node2$`,
				`^\d\d:\d\d:\d\d step 3/3: cleanup$`)
			if n := strings.Count(out, "\n"); n != 5 {
				t.Errorf("run-now --follow: got %d lines, want each of the 5 log lines once:\n%s", n, out)
			}
			wantLines(t, "run-now --follow stderr", errOut, `^run 42: queued$`, `^run 42: snapshot: `, `^run 42: restore: `)
			if final == api.RunSucceeded {
				if code != 0 {
					t.Errorf("run-now --follow of a good run: got exit %d, stderr %q, want 0", code, errOut)
				}
				wantLines(t, "run-now --follow stderr", errOut, `^run 42 succeeded in 1m5s$`)
			} else {
				if code != 1 {
					t.Errorf("run-now --follow of a failed run: got exit %d, want 1", code)
				}
				wantLines(t, "run-now --follow stderr", errOut,
					`^run 42 failed after 1m5s: restore: chunk 00ff is corrupt$`,
					`^error: run 42 failed: restore: chunk 00ff is corrupt$`)
			}
			if strings.Contains(errOut, "\r") || strings.Contains(errOut, "\033") {
				t.Errorf("run-now --follow: got terminal control codes on a stderr that is not a terminal: %q", errOut)
			}
			reqs := a.take()
			if reqs[0] != "POST /api/v1/pools/web/protections/alice/run" || !strings.HasPrefix(reqs[2], "GET /api/v1/runs/42/log?after=0&wait=20s") {
				t.Errorf("run-now --follow: requests %q, want run, then the log from 0 with a 20s wait", reqs)
			}
		})
	}

	// With --output json the log goes to stderr and stdout is the ended run.
	a := newCannedAPI(t)
	runScript(a, api.RunSucceeded)
	out, errOut := a.mustRun("protection", "run-now", "web", "alice", "--follow", "-o", "json")
	var run api.Run
	if err := json.Unmarshal([]byte(out), &run); err != nil || run.ID != 42 || run.Status != api.RunSucceeded {
		t.Errorf("run-now --follow -o json: stdout %q (%v), want run 42 succeeded", out, err)
	}
	wantLines(t, "run-now --follow -o json stderr", errOut, `step 3/3: cleanup$`, `^run 42 succeeded`)

	// Without --follow: the queued run.
	a = newCannedAPI(t)
	runScript(a, api.RunSucceeded)
	out, _ = a.mustRun("protection", "run-now", "web", "alice")
	wantLines(t, "run-now", out, `^run 42 of account alice queued; follow it with:$`, `^poolctl protection log web alice --run 42 --follow$`)
	out, _ = a.mustRun("protection", "run-now", "web", "alice", "-o", "json")
	if err := json.Unmarshal([]byte(out), &run); err != nil || run.ID != 42 || run.Status != api.RunQueued {
		t.Errorf("run-now -o json: got %q (%v), want run 42 queued", out, err)
	}
}

func TestProtectionLog(t *testing.T) {
	a := newCannedAPI(t)
	runScript(a, api.RunFailed)
	// Follow the latest run: non-zero exit as it fails.
	code, out, errOut := a.run("protection", "log", "web", "alice", "--follow")
	if code != 1 || !strings.Contains(out, "step 3/3: cleanup") || !strings.Contains(errOut, "error: run 42 failed") {
		t.Errorf("log --follow of a failing run: got exit %d, stdout %q, stderr %q, want its log and exit 1", code, out, errOut)
	}
	reqs := a.take()
	if reqs[0] != "GET /api/v1/pools/web/protections/alice" || reqs[1] != "GET /api/v1/runs/42" {
		t.Errorf("log --follow: got requests %q, want the protection, then its latest run", reqs)
	}

	// The whole log of an ended run, read page by page.
	out, _ = a.mustRun("protection", "log", "web", "alice")
	wantLines(t, "log", out, `^\d\d:\d\d:\d\d step 1/3: snapshot of alice on node1$`, `^\d\d:\d\d:\d\d step 3/3: cleanup$`)
	if n := strings.Count(out, "\n"); n != 5 {
		t.Errorf("log: got %d lines, want 5:\n%s", n, out)
	}
	wantRequests(t, "log", a, "GET /api/v1/pools/web/protections/alice", "GET /api/v1/runs/42/log?after=0", "GET /api/v1/runs/42/log?after=5")
	out, _ = a.mustRun("protection", "log", "web", "alice", "--run", "42", "-o", "json")
	var l api.List[api.RunLogLine]
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l.Items) != 5 {
		t.Errorf("log -o json: got %q (%v), want 5 lines", out, err)
	}
	a.take()

	// A run of another protection is refused.
	code, _, errOut = a.run("protection", "log", "web", "alice", "--run", "43")
	if code != 1 || !strings.Contains(errOut, "run 43 is not a run of account alice of pool web") {
		t.Errorf("log --run of another protection: got exit %d, stderr %q, want a refusal", code, errOut)
	}
	// A protection that never ran.
	never := protectionFixture()
	never.LastRun = nil
	a.on("GET", "/api/v1/pools/web/protections/alice", 200, never)
	code, _, errOut = a.run("protection", "log", "web", "alice")
	if code != 1 || !strings.Contains(errOut, "has not been replicated yet") {
		t.Errorf("log of a protection that never ran: got exit %d, stderr %q, want a hint to run it", code, errOut)
	}
}

func TestProgressBar(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := &progress{w: &buf, tty: true, width: 100, id: 42, now: func() time.Time { return now }, start: now, done: make(chan struct{})}
	p.setRun(api.Run{Status: api.RunSnapshot})
	now = now.Add(72 * time.Second)
	p.logLine("uploading chunks 40/80")
	want := "\r\033[Krun 42 [" + strings.Repeat("=", 6) + ">" + strings.Repeat(" ", 17) + "]  31% snapshot 1m12s  uploading chunks 40/80"
	if got := buf.String()[strings.LastIndex(buf.String(), "\r"):]; got != want {
		t.Errorf("bar: got %q, want %q", got, want)
	}
	// A smaller count later in the step does not move the bar back.
	p.logLine("database 1/3")
	if got := p.render(); !strings.Contains(got, " 31% ") {
		t.Errorf("bar after a smaller count: got %q, want it still at 31%%", got)
	}
	// Log lines are printed with the bar off the screen, then it comes back.
	var out bytes.Buffer
	buf.Reset()
	p.println(&out, "12:01:12  step 2/3")
	if got := buf.String(); !strings.HasPrefix(got, "\r\033[K\r\033[Krun 42 [") {
		t.Errorf("println: stderr got %q, want the bar cleared then redrawn", got)
	}
	p.setRun(api.Run{Status: api.RunRestore})
	if got := p.render(); !strings.Contains(got, " 60% restore") {
		t.Errorf("bar at the restore: got %q, want 60%%", got)
	}
	// Long lines are cut to the terminal's width.
	p.width = 40
	p.logLine(strings.Repeat("x", 100))
	if got := p.render(); len([]rune(got)) != 39 || !strings.HasSuffix(got, "…") {
		t.Errorf("bar on a narrow terminal: got %q (%d columns), want 39 ending in …", got, len([]rune(got)))
	}
	buf.Reset()
	started, finished := now, now.Add(65*time.Second)
	p.finish(api.Run{Status: api.RunSucceeded, StartedAt: &started, FinishedAt: &finished})
	if got := buf.String(); got != "\r\033[Krun 42 succeeded in 1m5s\n" {
		t.Errorf("finish: got %q, want the bar cleared and the outcome", got)
	}
	buf.Reset()
	p.logLine("late line")
	p.stop()
	if buf.Len() != 0 {
		t.Errorf("after finish: got %q, want nothing drawn", buf.String())
	}
}

func TestProtectionFollowInterrupted(t *testing.T) {
	a := newCannedAPI(t)
	runScript(a, api.RunSucceeded)
	// The run never moves: the long poll holds until the client gives up.
	a.handle("GET", "/api/v1/runs/42/log", func(w http.ResponseWriter, r *http.Request, body []byte) {
		<-r.Context().Done()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out, errOut bytes.Buffer
	code := Main(ctx, []string{"--server", a.srv.URL, "--token", "test-token", "protection", "run-now", "web", "alice", "--follow"},
		strings.NewReader(""), &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "error: stopped following run 42 before it ended; it goes on: poolctl protection log web alice --run 42 --follow") {
		t.Errorf("interrupted follow: got exit %d, stderr %q, want 1 and how to follow again", code, errOut.String())
	}
}
