package apiserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/objstore"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// adminProtections records the calls the API makes and answers from its
// arguments, or with err when set.
type adminProtections struct {
	mu    sync.Mutex
	calls []string
	err   error
}

var _ apiserver.Protections = (*adminProtections)(nil)

var protT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func (f *adminProtections) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	return f.err
}

// take returns the calls recorded since the last take and forgets them.
func (f *adminProtections) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *adminProtections) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func callJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func cannedProtection(pool, account string) api.Protection {
	rpo := int64(192)
	good := protT0.Add(-192 * time.Second)
	return api.Protection{ID: 7, Pool: pool, Account: account, Source: "a", Standby: "b", Schedule: "1d",
		Records: []string{"A", "AAAA", "MX"}, TTL: 300, Status: api.ProtectionActive, Databases: true,
		LastGoodAt: &good, RPOSeconds: &rpo, CreatedAt: protT0, UpdatedAt: protT0}
}

func cannedRun(id int64) api.Run {
	return api.Run{ID: id, Protection: 7, Status: api.RunQueued, Trigger: "manual", CreatedAt: protT0}
}

func (f *adminProtections) Accounts(ctx context.Context, pool, member string, refresh bool) (api.AccountList, error) {
	if err := f.record("Accounts %s %s %v", pool, member, refresh); err != nil {
		return api.AccountList{}, err
	}
	if member == "empty" {
		return api.AccountList{Stale: true, Error: "the agent did not answer"}, nil
	}
	return api.AccountList{Items: []api.Account{{Name: "alice", Provider: api.ProviderLinux, Home: "/home/alice",
		Domains: []string{"alice.example"}, Pool: pool, Member: member}}, DiscoveredAt: &protT0}, nil
}

func (f *adminProtections) ListProtections(ctx context.Context, pool string) ([]api.Protection, error) {
	if err := f.record("ListProtections %s", pool); err != nil {
		return nil, err
	}
	if pool == "empty" {
		return nil, nil
	}
	return []api.Protection{cannedProtection("p1", "alice"), cannedProtection("p2", "bob")}, nil
}

func (f *adminProtections) CreateProtection(ctx context.Context, pool string, in api.ProtectionCreate) (api.Protection, error) {
	if err := f.record("CreateProtection %s %s", pool, callJSON(in)); err != nil {
		return api.Protection{}, err
	}
	p := cannedProtection(pool, in.Account)
	p.Source, p.Standby = in.Source, in.Standby
	return p, nil
}

func (f *adminProtections) GetProtection(ctx context.Context, pool, account string) (api.Protection, error) {
	if err := f.record("GetProtection %s %s", pool, account); err != nil {
		return api.Protection{}, err
	}
	return cannedProtection(pool, account), nil
}

func (f *adminProtections) UpdateProtection(ctx context.Context, pool, account string, in api.ProtectionUpdate) (api.Protection, error) {
	if err := f.record("UpdateProtection %s %s %s", pool, account, callJSON(in)); err != nil {
		return api.Protection{}, err
	}
	p := cannedProtection(pool, account)
	if in.TTL != nil {
		p.TTL = *in.TTL
	}
	return p, nil
}

func (f *adminProtections) SetPaused(ctx context.Context, pool, account string, paused bool) (api.Protection, error) {
	if err := f.record("SetPaused %s %s %v", pool, account, paused); err != nil {
		return api.Protection{}, err
	}
	p := cannedProtection(pool, account)
	if paused {
		p.Status = api.ProtectionPaused
	}
	return p, nil
}

func (f *adminProtections) DeleteProtection(ctx context.Context, pool, account string) error {
	return f.record("DeleteProtection %s %s", pool, account)
}

func (f *adminProtections) RunNow(ctx context.Context, pool, account string) (api.Run, error) {
	if err := f.record("RunNow %s %s", pool, account); err != nil {
		return api.Run{}, err
	}
	return cannedRun(42), nil
}

func (f *adminProtections) Reverse(ctx context.Context, pool, account string) (api.Protection, error) {
	if err := f.record("Reverse %s %s", pool, account); err != nil {
		return api.Protection{}, err
	}
	p := cannedProtection(pool, account)
	p.Source, p.Standby = p.Standby, p.Source
	return p, nil
}

func (f *adminProtections) Runs(ctx context.Context, pool, account string, limit int) ([]api.Run, error) {
	if err := f.record("Runs %s %s %d", pool, account, limit); err != nil {
		return nil, err
	}
	if account == "empty" {
		return nil, nil
	}
	return []api.Run{cannedRun(42), cannedRun(41)}, nil
}

func (f *adminProtections) Run(ctx context.Context, id int64) (api.Run, error) {
	if err := f.record("Run %d", id); err != nil {
		return api.Run{}, err
	}
	return cannedRun(id), nil
}

func (f *adminProtections) ConfirmRun(ctx context.Context, id int64) (api.Run, error) {
	if err := f.record("ConfirmRun %d", id); err != nil {
		return api.Run{}, err
	}
	r := cannedRun(id)
	r.Status = api.RunNeedsConfirmation
	r.Guard = &api.RunGuard{Decision: api.GuardConfirmed}
	return r, nil
}

func (f *adminProtections) RejectRun(ctx context.Context, id int64) (api.Run, error) {
	if err := f.record("RejectRun %d", id); err != nil {
		return api.Run{}, err
	}
	r := cannedRun(id)
	r.Status = api.RunNeedsConfirmation
	r.Guard = &api.RunGuard{Decision: api.GuardRejected}
	return r, nil
}

func (f *adminProtections) RunLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.RunLogLine, error) {
	if err := f.record("RunLog %d %d %s", id, after, wait); err != nil {
		return nil, err
	}
	if after >= 5 {
		return nil, nil
	}
	return []api.RunLogLine{{Seq: after + 1, Time: protT0, Line: "snapshot started"}, {Seq: after + 2, Time: protT0, Line: "restore started"}}, nil
}

func (f *adminProtections) CutDNS(ctx context.Context, pool, account string, in api.DNSCut) (api.DNSCutResult, error) {
	if err := f.record("CutDNS %s %s %s", pool, account, callJSON(in)); err != nil {
		return api.DNSCutResult{}, err
	}
	out := api.DNSCutResult{Pool: pool, Account: account, From: "a", To: in.To, DryRun: in.DryRun}
	if in.To != "none" {
		out.Changes = []api.DNSChange{{Zone: "alice.example", Name: "alice.example", Type: "A", Old: "192.0.2.1", New: "192.0.2.2", TTL: 300}}
	}
	return out, nil
}

func (f *adminProtections) AuthorizeObject(ctx context.Context, a fleet.Agent, key string, write bool) error {
	return f.record("AuthorizeObject %s %v", key, write)
}

func (f *adminProtections) Objects() objstore.Store { return nil }

func (f *adminProtections) ChunkKey(ctx context.Context, a fleet.Agent, protection int64) ([]byte, error) {
	return nil, f.record("ChunkKey %d", protection)
}

// withProtections returns an env whose server has p as its protection
// service, over e's fleet and admin token.
func (e *env) withProtections(t *testing.T, p apiserver.Protections) *env {
	t.Helper()
	srv := httptest.NewServer(apiserver.New(apiserver.Deps{Fleet: e.svc, Protections: p, Version: "test"}))
	t.Cleanup(srv.Close)
	pe := &env{svc: e.svc, srv: srv, clock: e.clock, admin: e.admin}
	pe.c = pe.client(t, e.admin)
	return pe
}

// protectionRoutes is one valid request per protection route.
var protectionRoutes = []struct{ method, path, body string }{
	{"GET", "/api/v1/pools/p1/members/a/accounts", ""},
	{"POST", "/api/v1/pools/p1/accounts/alice/cut-dns", `{"to":"b"}`},
	{"GET", "/api/v1/protections", ""},
	{"POST", "/api/v1/pools/p1/protections", `{"account":"alice","source":"a","standby":"b"}`},
	{"GET", "/api/v1/pools/p1/protections/alice", ""},
	{"PATCH", "/api/v1/pools/p1/protections/alice", `{"ttl":60}`},
	{"DELETE", "/api/v1/pools/p1/protections/alice", ""},
	{"POST", "/api/v1/pools/p1/protections/alice/pause", ""},
	{"POST", "/api/v1/pools/p1/protections/alice/resume", ""},
	{"POST", "/api/v1/pools/p1/protections/alice/run", ""},
	{"POST", "/api/v1/pools/p1/protections/alice/reverse", ""},
	{"GET", "/api/v1/pools/p1/protections/alice/runs", ""},
	{"GET", "/api/v1/runs/42", ""},
	{"GET", "/api/v1/runs/42/log", ""},
	{"POST", "/api/v1/runs/42/confirm", ""},
	{"POST", "/api/v1/runs/42/reject", ""},
}

func TestProtectionRoutes(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	fake := &adminProtections{}
	pe := e.withProtections(t, fake)
	t.Run("happy", func(t *testing.T) { testProtectionHappy(t, pe, fake) })
	t.Run("bad-input", func(t *testing.T) { testProtectionBadInput(t, pe, fake) })
	t.Run("service-errors", func(t *testing.T) { testProtectionErrors(t, pe, fake) })
	t.Run("unavailable", func(t *testing.T) {
		for _, rt := range protectionRoutes {
			r := e.adminJSON(t, rt.method, rt.path, rt.body)
			wantError(t, rt.method+" "+rt.path+" without the service", r, 503, "unavailable", "account protection is not available")
		}
	})
	t.Run("auth", func(t *testing.T) {
		for _, rt := range protectionRoutes {
			r := pe.do(t, req{method: rt.method, path: rt.path, body: []byte(rt.body), ct: "application/json"})
			wantError(t, rt.method+" "+rt.path+" without a token", r, 401, "unauthorized")
			r = pe.do(t, req{method: rt.method, path: rt.path, token: "pa1.nosuchtoken", body: []byte(rt.body), ct: "application/json"})
			wantError(t, rt.method+" "+rt.path+" with a wrong token", r, 401, "unauthorized")
		}
		if c := fake.take(); len(c) > 0 {
			t.Errorf("unauthenticated requests: got service calls %q, want none", c)
		}
	})
}

// wantCalls checks the calls the fake saw since the last check.
func wantCalls(t *testing.T, what string, f *adminProtections, want ...string) {
	t.Helper()
	if got := f.take(); !slices.Equal(got, want) {
		t.Errorf("%s: service calls: got %q, want %q", what, got, want)
	}
}

func testProtectionHappy(t *testing.T, e *env, f *adminProtections) {
	ctx := context.Background()
	c := e.c

	al, err := c.Accounts(ctx, "p1", "a", false)
	if err != nil || len(al.Items) != 1 || al.Items[0].Name != "alice" || al.Stale || al.DiscoveredAt == nil {
		t.Errorf("accounts: got %+v (%v), want alice, fresh", al, err)
	}
	wantCalls(t, "accounts", f, "Accounts p1 a false")
	if _, err := c.Accounts(ctx, "p1", "a", true); err != nil {
		t.Errorf("accounts refresh: %v", err)
	}
	wantCalls(t, "accounts refresh", f, "Accounts p1 a true")
	// An empty list is [] on the wire, never null.
	r := e.adminJSON(t, "GET", "/api/v1/pools/p1/members/empty/accounts?refresh=false", "")
	var raw map[string]json.RawMessage
	wantStatus(t, "stale accounts", r, 200, &raw)
	if string(raw["items"]) != "[]" || string(raw["stale"]) != "true" || !strings.Contains(string(raw["error"]), "did not answer") {
		t.Errorf("stale accounts: got %s, want items [], stale true and the error", r.body)
	}
	wantCalls(t, "stale accounts", f, "Accounts p1 empty false")

	cut, err := c.CutDNS(ctx, "p1", "alice", api.DNSCut{To: "b", DryRun: true})
	if err != nil || cut.To != "b" || !cut.DryRun || len(cut.Changes) != 1 || cut.Changes[0].New != "192.0.2.2" {
		t.Errorf("cut-dns: got %+v (%v), want one change to b, dry run", cut, err)
	}
	wantCalls(t, "cut-dns", f, `CutDNS p1 alice {"to":"b","dry_run":true}`)
	r = e.adminJSON(t, "POST", "/api/v1/pools/p1/accounts/alice/cut-dns", `{"to":"none"}`)
	wantStatus(t, "cut-dns without changes", r, 200, &raw)
	if string(raw["changes"]) != "[]" {
		t.Errorf("cut-dns without changes: got changes %s, want []", raw["changes"])
	}
	f.take()

	ps, err := c.ListProtections(ctx, "")
	if err != nil || len(ps) != 2 || ps[0].Account != "alice" || ps[1].Pool != "p2" {
		t.Errorf("list protections: got %+v (%v), want alice and bob", ps, err)
	}
	if _, err := c.ListProtections(ctx, "p1"); err != nil {
		t.Errorf("list protections of p1: %v", err)
	}
	wantCalls(t, "list protections", f, "ListProtections ", "ListProtections p1")
	r = e.adminJSON(t, "GET", "/api/v1/protections?pool=empty", "")
	wantStatus(t, "empty protection list", r, 200, &raw)
	if string(raw["items"]) != "[]" {
		t.Errorf("empty protection list: got %s, want items []", r.body)
	}
	f.take()

	no := false
	in := api.ProtectionCreate{Account: "alice", Source: "a", Standby: "b", Schedule: "6h", Records: []string{"A", "MX"}, TTL: 120, Databases: &no, Paused: true}
	r = e.adminJSON(t, "POST", "/api/v1/pools/p1/protections", mustJSON(t, in))
	var p api.Protection
	wantStatus(t, "create protection", r, 201, &p)
	if p.Account != "alice" || p.Pool != "p1" || p.Source != "a" || p.Standby != "b" {
		t.Errorf("create protection: got %+v, want alice of p1, a → b", p)
	}
	wantCalls(t, "create protection", f, `CreateProtection p1 {"account":"alice","source":"a","standby":"b","schedule":"6h","records":["A","MX"],"ttl":120,"databases":false,"paused":true}`)
	if p, err := c.CreateProtection(ctx, "p1", api.ProtectionCreate{Account: "bob", Source: "a", Standby: "b"}); err != nil || p.Account != "bob" {
		t.Errorf("client create protection: got %+v (%v), want bob", p, err)
	}
	wantCalls(t, "client create protection", f, `CreateProtection p1 {"account":"bob","source":"a","standby":"b"}`)

	p, err = c.GetProtection(ctx, "p1", "alice")
	if err != nil || p.ID != 7 || p.RPOSeconds == nil || *p.RPOSeconds != 192 {
		t.Errorf("get protection: got %+v (%v), want id 7 with an RPO of 192 s", p, err)
	}
	ttl := 60
	p, err = c.UpdateProtection(ctx, "p1", "alice", api.ProtectionUpdate{TTL: &ttl})
	if err != nil || p.TTL != 60 {
		t.Errorf("update protection: got ttl %d (%v), want 60", p.TTL, err)
	}
	p, err = c.PauseProtection(ctx, "p1", "alice")
	if err != nil || p.Status != api.ProtectionPaused {
		t.Errorf("pause: got %q (%v), want paused", p.Status, err)
	}
	p, err = c.ResumeProtection(ctx, "p1", "alice")
	if err != nil || p.Status != api.ProtectionActive {
		t.Errorf("resume: got %q (%v), want active", p.Status, err)
	}
	if err := c.DeleteProtection(ctx, "p1", "alice"); err != nil {
		t.Errorf("delete protection: %v", err)
	}
	wantCalls(t, "protection life cycle", f, "GetProtection p1 alice", `UpdateProtection p1 alice {"ttl":60}`,
		"SetPaused p1 alice true", "SetPaused p1 alice false", "DeleteProtection p1 alice")
	r = e.adminJSON(t, "DELETE", "/api/v1/pools/p1/protections/bob", "")
	wantStatus(t, "delete protection", r, 204, nil)
	if len(r.body) != 0 {
		t.Errorf("delete protection: got body %q, want none", r.body)
	}
	// Names at the limits of the syntax are accepted.
	for _, name := range []string{"a", "a" + strings.Repeat("9", 31), "x_y-z"} {
		r = e.adminJSON(t, "GET", "/api/v1/pools/p1/protections/"+name, "")
		wantStatus(t, "get protection "+name, r, 200, nil)
	}
	f.take()

	r = e.adminJSON(t, "POST", "/api/v1/pools/p1/protections/alice/run", "")
	var run api.Run
	wantStatus(t, "run now", r, 202, &run)
	if run.ID != 42 || run.Status != api.RunQueued {
		t.Errorf("run now: got %+v, want run 42 queued", run)
	}
	if run, err := c.RunProtection(ctx, "p1", "alice"); err != nil || run.ID != 42 {
		t.Errorf("client run now: got %+v (%v), want run 42", run, err)
	}
	runs, err := c.ListRuns(ctx, "p1", "alice", 5)
	if err != nil || len(runs) != 2 || runs[0].ID != 42 {
		t.Errorf("runs: got %+v (%v), want 42 and 41", runs, err)
	}
	if _, err := c.ListRuns(ctx, "p1", "alice", 0); err != nil {
		t.Errorf("runs without limit: %v", err)
	}
	r = e.adminJSON(t, "GET", "/api/v1/pools/p1/protections/empty/runs?limit=1000", "")
	wantStatus(t, "no runs", r, 200, &raw)
	if string(raw["items"]) != "[]" {
		t.Errorf("no runs: got %s, want items []", r.body)
	}
	run, err = c.GetRun(ctx, 41)
	if err != nil || run.ID != 41 {
		t.Errorf("get run: got %+v (%v), want run 41", run, err)
	}
	wantCalls(t, "runs", f, "RunNow p1 alice", "RunNow p1 alice", "Runs p1 alice 5", "Runs p1 alice 0", "Runs p1 empty 1000", "Run 41")

	var rev api.Protection
	wantStatus(t, "reverse", e.adminJSON(t, "POST", "/api/v1/pools/p1/protections/alice/reverse", ""), 200, &rev)
	if rev.Source != "b" || rev.Standby != "a" {
		t.Errorf("reverse: got %s → %s, want b → a", rev.Source, rev.Standby)
	}
	if p, err := c.ReverseProtection(ctx, "p1", "alice"); err != nil || p.Source != "b" {
		t.Errorf("client reverse: got %+v (%v), want b → a", p, err)
	}
	wantCalls(t, "reverse", f, "Reverse p1 alice", "Reverse p1 alice")

	lines, err := c.RunLog(ctx, 41, 3, 2*time.Second)
	if err != nil || len(lines) != 2 || lines[0].Seq != 4 || lines[1].Line != "restore started" {
		t.Errorf("run log: got %+v (%v), want lines 4 and 5", lines, err)
	}
	if _, err := c.RunLog(ctx, 41, 0, 0); err != nil {
		t.Errorf("run log without wait: %v", err)
	}
	wantCalls(t, "run log", f, "RunLog 41 3 2s", "RunLog 41 0 0s")
	var page api.List[api.RunLogLine]
	wantStatus(t, "run log page", e.adminJSON(t, "GET", "/api/v1/runs/41/log?after=1&wait=1m", ""), 200, &page)
	if page.NextAfter != 3 || len(page.Items) != 2 {
		t.Errorf("run log page: got next_after %d and %d lines, want 3 and 2", page.NextAfter, len(page.Items))
	}
	r = e.adminJSON(t, "GET", "/api/v1/runs/41/log?after=9", "")
	wantStatus(t, "run log end", r, 200, &page)
	if page.NextAfter != 9 || page.Items == nil || len(page.Items) != 0 {
		t.Errorf("run log end: got %s, want no items and next_after 9", r.body)
	}
	wantCalls(t, "run log pages", f, "RunLog 41 1 1m0s", "RunLog 41 9 0s")

	if run, err := c.ConfirmRun(ctx, 43); err != nil || run.ID != 43 || run.Guard == nil || run.Guard.Decision != api.GuardConfirmed {
		t.Errorf("confirm run: got %+v (%v), want run 43 confirmed", run, err)
	}
	if run, err := c.RejectRun(ctx, 44); err != nil || run.ID != 44 || run.Guard == nil || run.Guard.Decision != api.GuardRejected {
		t.Errorf("reject run: got %+v (%v), want run 44 rejected", run, err)
	}
	wantCalls(t, "confirm and reject", f, "ConfirmRun 43", "RejectRun 44")
}

func testProtectionBadInput(t *testing.T, e *env, f *adminProtections) {
	const base = "/api/v1/pools/p1"
	for _, c := range []struct {
		what, method, path, body, ct string
		status                       int
		msg                          string
	}{
		{"cut-dns malformed", "POST", base + "/accounts/alice/cut-dns", `{"to":`, "application/json", 400, "malformed JSON"},
		{"cut-dns unknown field", "POST", base + "/accounts/alice/cut-dns", `{"to":"b","force":true}`, "application/json", 400, "force"},
		{"cut-dns empty", "POST", base + "/accounts/alice/cut-dns", ``, "application/json", 400, "empty"},
		{"cut-dns two values", "POST", base + "/accounts/alice/cut-dns", `{"to":"b"}{"to":"c"}`, "application/json", 400, "more than one value"},
		{"cut-dns wrong type", "POST", base + "/accounts/alice/cut-dns", `{"to":"b","dry_run":"yes"}`, "application/json", 400, "dry_run"},
		{"cut-dns text/plain", "POST", base + "/accounts/alice/cut-dns", `{"to":"b"}`, "text/plain", 400, "content type"},
		{"cut-dns NUL", "POST", base + "/accounts/alice/cut-dns", `{"to":"b\u0000"}`, "application/json", 400, "NUL"},
		{"create malformed", "POST", base + "/protections", `{"account":"alice",`, "application/json", 400, "malformed JSON"},
		{"create unknown field", "POST", base + "/protections", `{"account":"alice","source":"a","standby":"b","keep":3}`, "application/json", 400, "keep"},
		{"create empty", "POST", base + "/protections", ``, "", 400, "empty"},
		{"create array", "POST", base + "/protections", `[{"account":"alice"}]`, "application/json", 400, "malformed JSON"},
		{"create wrong type", "POST", base + "/protections", `{"account":"alice","ttl":"300"}`, "application/json", 400, "ttl"},
		{"create oversize", "POST", base + "/protections", `{"account":"` + strings.Repeat("a", maxBodyForTest) + `"}`, "application/json", 413, ""},
		{"update unknown field", "PATCH", base + "/protections/alice", `{"schedule":"1h","paused":true}`, "application/json", 400, "paused"},
		{"update empty", "PATCH", base + "/protections/alice", ``, "application/json", 400, "empty"},
		{"update wrong type", "PATCH", base + "/protections/alice", `{"records":"A"}`, "application/json", 400, "records"},
		{"accounts refresh=yes", "GET", base + "/members/a/accounts?refresh=yes", "", "", 400, "refresh"},
		{"runs limit negative", "GET", base + "/protections/alice/runs?limit=-1", "", "", 400, "limit"},
		{"runs limit text", "GET", base + "/protections/alice/runs?limit=ten", "", "", 400, "limit"},
		{"runs limit too large", "GET", base + "/protections/alice/runs?limit=1001", "", "", 400, "at most 1000"},
		{"run id text", "GET", "/api/v1/runs/abc", "", "", 400, "id"},
		{"run id zero", "GET", "/api/v1/runs/0", "", "", 400, "positive integer"},
		{"run id negative", "GET", "/api/v1/runs/-4", "", "", 400, "positive integer"},
		{"run id overflow", "GET", "/api/v1/runs/99999999999999999999", "", "", 400, "positive integer"},
		{"log id text", "GET", "/api/v1/runs/x1/log", "", "", 400, "positive integer"},
		{"log after negative", "GET", "/api/v1/runs/42/log?after=-1", "", "", 400, "after"},
		{"log after text", "GET", "/api/v1/runs/42/log?after=first", "", "", 400, "after"},
		{"log wait too long", "GET", "/api/v1/runs/42/log?wait=2m", "", "", 400, "wait"},
		{"log wait text", "GET", "/api/v1/runs/42/log?wait=soon", "", "", 400, "wait"},
		{"log wait negative", "GET", "/api/v1/runs/42/log?wait=-1s", "", "", 400, "wait"},
	} {
		r := e.do(t, req{method: c.method, path: c.path, token: e.admin, body: []byte(c.body), ct: c.ct})
		code := "invalid"
		if c.status == 413 {
			code = "too_large"
		}
		var msg []string
		if c.msg != "" {
			msg = append(msg, c.msg)
		}
		wantError(t, c.what, r, c.status, code, msg...)
	}

	// Account names are checked on every route that names one.
	badNames := []string{"Alice", "1alice", "_alice", "-alice", "a" + strings.Repeat("b", 32), "al.ice", "al%20ice", "al%C3%A9", "al$ce", "al%2Fice"}
	for _, name := range badNames {
		for _, rt := range []struct{ method, path, body string }{
			{"POST", base + "/accounts/" + name + "/cut-dns", `{"to":"b"}`},
			{"GET", base + "/protections/" + name, ""},
			{"PATCH", base + "/protections/" + name, `{"ttl":60}`},
			{"DELETE", base + "/protections/" + name, ""},
			{"POST", base + "/protections/" + name + "/pause", ""},
			{"POST", base + "/protections/" + name + "/resume", ""},
			{"POST", base + "/protections/" + name + "/run", ""},
			{"POST", base + "/protections/" + name + "/reverse", ""},
			{"GET", base + "/protections/" + name + "/runs", ""},
		} {
			r := e.adminJSON(t, rt.method, rt.path, rt.body)
			wantError(t, rt.method+" "+rt.path, r, 400, "invalid", "account name")
		}
	}

	// A method a path does not serve.
	r := e.adminJSON(t, "PUT", base+"/protections/alice", `{"ttl":60}`)
	wantError(t, "PUT protection", r, 405, "method_not_allowed")
	if allow := r.header.Get("Allow"); allow != "GET, PATCH, DELETE" {
		t.Errorf("PUT protection: Allow: got %q, want GET, PATCH, DELETE", allow)
	}
	r = e.adminJSON(t, "GET", base+"/protections/alice/run", "")
	wantError(t, "GET run", r, 405, "method_not_allowed")

	if c := f.take(); len(c) > 0 {
		t.Errorf("refused requests: got service calls %q, want none", c)
	}
}

func testProtectionErrors(t *testing.T, e *env, f *adminProtections) {
	defer f.fail(nil)
	for _, c := range []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{apperr.New(apperr.NotFound, "account alice of pool p1 is not protected"), 404, "not_found", "not protected"},
		{apperr.New(apperr.Conflict, "a run of alice is in progress"), 409, "conflict", "in progress"},
		{apperr.New(apperr.Invalid, "schedule \"5m\": the shortest allowed interval is 15m"), 400, "invalid", "schedule"},
		{apperr.New(apperr.Unavailable, "the member's agent is not connected"), 503, "unavailable", "not connected"},
		{fmt.Errorf("list protections: %w", errors.New("disk I/O error")), 500, "internal", "internal error"},
	} {
		f.fail(c.err)
		for _, rt := range protectionRoutes {
			r := e.adminJSON(t, rt.method, rt.path, rt.body)
			wantError(t, rt.method+" "+rt.path+" with "+c.code, r, c.status, c.code, c.msg)
			if c.status == 500 && strings.Contains(string(r.body), "disk I/O") {
				t.Errorf("%s %s: got %s, want the cause kept out of the answer", rt.method, rt.path, r.body)
			}
		}
		if got := len(f.take()); got != len(protectionRoutes) {
			t.Errorf("%s: got %d service calls, want one per route (%d)", c.code, got, len(protectionRoutes))
		}
	}
	// Through the client, an error keeps its status and code.
	f.fail(apperr.New(apperr.NotFound, "no such run"))
	_, err := e.c.GetRun(context.Background(), 5)
	wantAPIError(t, "client get run", err, 404, "not_found")
	_, err = e.c.RunLog(context.Background(), 5, 0, time.Second)
	wantAPIError(t, "client run log", err, 404, "not_found")
	f.fail(apperr.New(apperr.Conflict, "busy"))
	_, err = e.c.RunProtection(context.Background(), "p1", "alice")
	wantAPIError(t, "client run now", err, 409, "conflict")
	f.take()
}
