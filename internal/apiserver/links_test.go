package apiserver_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/links"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// linkZones is the zone service of the links engine: example.com with its
// mail. and webmail. records on node1.
type linkZones struct {
	mu      sync.Mutex
	records []api.Record
}

func newLinkZones() *linkZones {
	return &linkZones{records: []api.Record{
		{ID: 1, Zone: "example.com", Name: "mail", Type: "A", TTL: 300, Value: "192.0.2.1"},
		{ID: 2, Zone: "example.com", Name: "webmail", Type: "A", TTL: 300, Value: "192.0.2.1"},
	}}
}

func (z *linkZones) List(context.Context) ([]api.Zone, error) {
	return []api.Zone{{Name: "example.com"}}, nil
}

func (z *linkZones) Records(_ context.Context, zone string) ([]api.Record, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	return append([]api.Record(nil), z.records...), nil
}

func (z *linkZones) RewriteRecords(_ context.Context, zone string, rw []links.Rewrite, why string) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, r := range rw {
		for i := range z.records {
			if z.records[i].ID == r.ID {
				z.records[i].Value = r.New
			}
		}
	}
	return nil
}

func (z *linkZones) value(name string) string {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, r := range z.records {
		if r.Name == name {
			return r.Value
		}
	}
	return ""
}

// linkEnv is an API server with the real links engine over the real fleet,
// pool web with members node1 and node2 (standard), mail1 (Dovecot and
// Postfix detected) and mail2 (nothing detected), each with an agent that
// has sent a heartbeat.
type linkEnv struct {
	*env
	links  *links.Service
	zones  *linkZones
	agents map[string]*client.Client
}

var linkMembers = []struct {
	name, addr string
	mail       bool
}{{"node1", "192.0.2.1", false}, {"node2", "192.0.2.2", false}, {"mail1", "192.0.2.10", true}, {"mail2", "192.0.2.11", false}}

func newLinkEnv(t *testing.T, st *store.Store) *linkEnv {
	t.Helper()
	le := &linkEnv{zones: newLinkZones(), agents: map[string]*client.Client{}}
	le.env = newEnvWith(t, st, func(d *apiserver.Deps) {
		le.links = links.New(links.Config{Store: st, Fleet: d.Fleet, Zones: le.zones})
		d.Links = le.links
	})
	ctx := context.Background()
	if _, err := le.c.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range linkMembers {
		tok := le.enroll(t, le.member(t, "web", api.MemberCreate{Name: m.name, Address: m.addr}).EnrollmentSecret)
		ac := le.client(t, tok)
		hb := heartbeat()
		stack := api.Stack{}
		if m.mail {
			stack = api.Stack{Dovecot: &api.Component{Detected: true, Running: true}, Postfix: &api.Component{Detected: true, Running: true}}
		}
		hb.Stack = &stack
		if _, err := ac.Heartbeat(ctx, hb); err != nil {
			t.Fatalf("heartbeat %s: %v", m.name, err)
		}
		le.agents[m.name] = ac
	}
	if err := le.svc.Flush(ctx); err != nil {
		t.Fatalf("flush heartbeats: %v", err)
	}
	return le
}

// mailAnswer is what an agent answers to a mail.* job: every job succeeds
// with plausible results for account alice.
func mailAnswer(j api.Job) any {
	switch j.Kind {
	case api.KindMailExport:
		return api.MailExportResult{Mail: api.AccountMail{Account: "alice", Domains: []string{"example.com"},
			Users: []api.MailUser{{Name: "info@example.com", PasswordHash: "{PLAIN}x"}}}, Bytes: 5 << 20, Messages: 40}
	case api.KindMailCheck:
		return api.MailCheckResult{Dovecot: true, Postfix: true, FreeBytes: 10 << 30, Path: "/var/mail"}
	case api.KindMailPack:
		var pa api.MailPackArgs
		_ = json.Unmarshal(j.Args, &pa)
		return api.MailPackResult{Parts: []api.MailPart{{Key: pa.Prefix + "part-0", Size: 10}}, Files: pa.Prefix + "files", Messages: 40}
	case api.KindMailUnpack:
		return api.MailUnpackResult{Written: 40}
	case api.KindMailVerify:
		return api.MailVerifyResult{Checked: 40}
	}
	return map[string]any{}
}

// drive steps the engine and lets the agents answer their jobs until run
// id ends (a bounded number of passes) and returns it.
func (le *linkEnv) drive(t *testing.T, id int64) api.DistributionRun {
	t.Helper()
	ctx := context.Background()
	for range 100 {
		le.links.Step(ctx)
		r, err := le.c.DistributionRun(ctx, id)
		if err != nil {
			t.Fatalf("run %d: %v", id, err)
		}
		if r.FinishedAt != nil {
			return r
		}
		for name, ac := range le.agents {
			j, err := ac.NextJob(ctx, 0)
			if err != nil {
				t.Fatalf("%s next job: %v", name, err)
			}
			if j == nil {
				continue
			}
			if err := ac.AppendJobLog(ctx, j.ID, []string{j.Kind + " done"}); err != nil {
				t.Fatalf("%s job %d log: %v", name, j.ID, err)
			}
			res, _ := json.Marshal(mailAnswer(*j))
			if err := ac.FinishJob(ctx, j.ID, api.JobResult{OK: true, Result: res}); err != nil {
				t.Fatalf("%s job %d result: %v", name, j.ID, err)
			}
		}
	}
	t.Fatalf("run %d did not end in 100 passes", id)
	return api.DistributionRun{}
}

// TestLinksAPI: profiles, links, distributed accounts and distribution
// runs through the API with the real engine; every refusal answers the
// error shape with its reason and leaves nothing behind.
func TestLinksAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		le := newLinkEnv(t, st)
		t.Run("profiles", func(t *testing.T) { testLinkProfiles(t, le) })
		t.Run("links", func(t *testing.T) { testLinkCreate(t, le) })
		t.Run("distribution", func(t *testing.T) { testDistribution(t, le) })
		t.Run("runs", func(t *testing.T) { testDistributionRunRoutes(t, le) })
		t.Run("scope", func(t *testing.T) { testLinksScope(t, le) })
	})
}

func testLinkProfiles(t *testing.T, le *linkEnv) {
	const p = "/api/v1/pools/web/members/"
	for _, c := range []struct {
		what, path, body string
		status           int
		code             string
		msg              []string
	}{
		{"unknown profile", p + "mail1/profile", `{"profile":"smtp"}`, 400, "invalid", []string{"standard, mail, dns, database"}},
		{"empty profile", p + "mail1/profile", `{}`, 400, "invalid", []string{"want one of"}},
		{"malformed JSON", p + "mail1/profile", `{"profile":`, 400, "invalid", []string{"malformed JSON"}},
		{"unknown field", p + "mail1/profile", `{"profile":"mail","role":"x"}`, 400, "invalid", []string{"role"}},
		{"no Dovecot or Postfix", p + "mail2/profile", `{"profile":"mail"}`, 409, "conflict", []string{"has not detected Dovecot and Postfix"}},
		{"no MariaDB", p + "node2/profile", `{"profile":"database"}`, 409, "conflict", []string{"MariaDB"}},
		{"unknown member", p + "nosuch/profile", `{"profile":"mail"}`, 404, "not_found", nil},
		{"unknown pool", "/api/v1/pools/nosuch/members/mail1/profile", `{"profile":"mail"}`, 404, "not_found", nil},
	} {
		wantError(t, c.what, le.adminJSON(t, "PUT", c.path, c.body), c.status, c.code, c.msg...)
	}
	if m, err := le.c.GetMember(context.Background(), "web", "mail2"); err != nil || m.Profile != api.ProfileStandard {
		t.Errorf("mail2 after refusals: got profile %q (%v), want standard", m.Profile, err)
	}
	var m api.Member
	wantStatus(t, "mail profile on mail1", le.adminJSON(t, "PUT", p+"mail1/profile", `{"profile":"mail"}`), 200, &m)
	if m.Profile != api.ProfileMail || m.Name != "mail1" {
		t.Errorf("mail1: got %s profile %q, want mail1 mail", m.Name, m.Profile)
	}
	wantStatus(t, "dns profile on node2", le.adminJSON(t, "PUT", p+"node2/profile", `{"profile":"dns"}`), 200, &m)
	wantStatus(t, "node2 back to standard", le.adminJSON(t, "PUT", p+"node2/profile", `{"profile":"standard"}`), 200, &m)
	if got := le.countEvents(t, links.KindProfileSet, "node2"); got != 2 {
		t.Errorf("profile events of node2: got %d, want 2", got)
	}
}

func testLinkCreate(t *testing.T, le *linkEnv) {
	const p = "/api/v1/pools/web/links"
	for _, c := range []struct {
		what, path, body string
		status           int
		code             string
		msg              []string
	}{
		{"bad function", p, `{"parent":"node1","child":"mail1","function":"web"}`, 400, "invalid", []string{"only function", "mail"}},
		{"no child", p, `{"parent":"node1","function":"mail"}`, 400, "invalid", []string{"a parent and a child"}},
		{"own child", p, `{"parent":"mail1","child":"mail1"}`, 400, "invalid", []string{"its own child"}},
		{"unknown child", p, `{"parent":"node1","child":"nosuch"}`, 404, "not_found", []string{"nosuch"}},
		{"unknown parent", p, `{"parent":"nosuch","child":"mail1"}`, 404, "not_found", []string{"nosuch"}},
		{"unknown pool", "/api/v1/pools/nosuch/links", `{"parent":"node1","child":"mail1"}`, 404, "not_found", nil},
		{"child without the mail profile", p, `{"parent":"node1","child":"node2"}`, 409, "conflict", []string{"must have the mail profile"}},
		{"parent not standard", p, `{"parent":"mail1","child":"node2"}`, 409, "conflict", []string{"a parent must be standard"}},
		{"malformed JSON", p, `{"parent":"node1",`, 400, "invalid", []string{"malformed JSON"}},
		{"unknown field", p, `{"parent":"node1","child":"mail1","port":25}`, 400, "invalid", []string{"port"}},
		{"empty body", p, ``, 400, "invalid", []string{"empty"}},
	} {
		wantError(t, c.what, le.adminJSON(t, "POST", c.path, c.body), c.status, c.code, c.msg...)
	}
	var ls api.List[api.Link]
	wantStatus(t, "no links yet", le.adminJSON(t, "GET", p, ""), 200, &ls)
	if len(ls.Items) != 0 {
		t.Fatalf("links after refusals: got %+v, want none", ls.Items)
	}

	var l api.Link
	wantStatus(t, "link mail1 to node1", le.adminJSON(t, "POST", p, `{"parent":"node1","child":"mail1","function":"mail"}`), 201, &l)
	if l.Parent != "node1" || l.Child != "mail1" || l.Function != "mail" || l.Pool != "web" || l.ID == 0 {
		t.Errorf("link: got %+v, want web node1 → mail1 mail", l)
	}
	wantError(t, "a second parent", le.adminJSON(t, "POST", p, `{"parent":"node2","child":"mail1"}`), 409, "conflict", "exactly one parent")
	wantError(t, "the same link again", le.adminJSON(t, "POST", p, `{"parent":"node1","child":"mail1"}`), 409, "conflict")
	wantError(t, "a child as a parent", le.adminJSON(t, "PUT", "/api/v1/pools/web/members/node1/profile", `{"profile":"dns"}`), 409, "conflict", "keeps the standard profile")
	wantError(t, "the child's profile", le.adminJSON(t, "PUT", "/api/v1/pools/web/members/mail1/profile", `{"profile":"standard"}`), 409, "conflict", "keeps the mail profile")

	for _, path := range []string{"/api/v1/links", "/api/v1/links?pool=web", p} {
		ls = api.List[api.Link]{}
		wantStatus(t, "GET "+path, le.adminJSON(t, "GET", path, ""), 200, &ls)
		if len(ls.Items) != 1 || ls.Items[0].Child != "mail1" || ls.Items[0].Accounts != 0 {
			t.Errorf("GET %s: got %+v, want the one link, no accounts", path, ls.Items)
		}
	}
	wantError(t, "links of an unknown pool", le.adminJSON(t, "GET", "/api/v1/links?pool=nosuch", ""), 404, "not_found")
	wantError(t, "pool links of an unknown pool", le.adminJSON(t, "GET", "/api/v1/pools/nosuch/links", ""), 404, "not_found")

	var as api.List[api.DistributedAccount]
	wantStatus(t, "no distributed accounts", le.adminJSON(t, "GET", p+"/mail1/accounts", ""), 200, &as)
	if as.Items == nil || len(as.Items) != 0 {
		t.Errorf("accounts: got %+v, want an empty list", as.Items)
	}
	wantError(t, "accounts of a member that is not a child", le.adminJSON(t, "GET", p+"/node2/accounts", ""), 404, "not_found", "not a linked child")
	wantError(t, "accounts of an unknown member", le.adminJSON(t, "GET", p+"/nosuch/accounts", ""), 404, "not_found")
	wantError(t, "remove the link of a member that is not a child", le.adminJSON(t, "DELETE", p+"/node2", ""), 404, "not_found", "not a linked child")
	wantError(t, "remove the link of an unknown member", le.adminJSON(t, "DELETE", p+"/nosuch", ""), 404, "not_found")

	// A link removed and added again.
	if r := le.adminJSON(t, "DELETE", p+"/mail1", ""); r.status != 204 {
		t.Fatalf("remove link: got %s, want 204", r)
	}
	wantStatus(t, "link again", le.adminJSON(t, "POST", p, `{"parent":"node1","child":"mail1"}`), 201, &l)
	if got := le.countEvents(t, links.KindLinkAdded, ""); got != 2 {
		t.Errorf("link.added events: got %d, want 2", got)
	}
}

const acct = "/api/v1/pools/web/members/node1/accounts/"

func testDistribution(t *testing.T, le *linkEnv) {
	for _, c := range []struct {
		what, path, body string
		status           int
		code             string
		msg              []string
	}{
		{"bad function", acct + "alice/distribute", `{"child":"mail1","function":"web"}`, 400, "invalid", []string{"only mail"}},
		{"no child", acct + "alice/distribute", `{}`, 400, "invalid", []string{"--mail CHILD"}},
		{"bad account", acct + "Alice/distribute", `{"child":"mail1"}`, 400, "invalid", []string{"account name"}},
		{"unknown child", acct + "alice/distribute", `{"child":"nosuch"}`, 404, "not_found", nil},
		{"child not linked", acct + "alice/distribute", `{"child":"node2"}`, 404, "not_found", []string{"not a linked child"}},
		{"other parent", "/api/v1/pools/web/members/node2/accounts/alice/distribute", `{"child":"mail1"}`, 409, "conflict", []string{"child of node1, not of node2"}},
		{"unknown pool", "/api/v1/pools/nosuch/members/node1/accounts/alice/distribute", `{"child":"mail1"}`, 404, "not_found", nil},
		{"malformed JSON", acct + "alice/distribute", `{"child":`, 400, "invalid", []string{"malformed JSON"}},
		{"unknown field", acct + "alice/distribute", `{"child":"mail1","to":"x"}`, 400, "invalid", []string{"to"}},
		{"dedistribute what is not distributed", acct + "alice/dedistribute", `{}`, 404, "not_found", nil},
		{"dedistribute bad function", acct + "alice/dedistribute", `{"function":"dns"}`, 400, "invalid", []string{"only mail"}},
		{"dedistribute negative keep", acct + "alice/dedistribute", `{"keep":"-1h"}`, 400, "invalid", []string{"positive"}},
		{"dedistribute bad keep", acct + "alice/dedistribute", `{"keep":"soon"}`, 400, "invalid", nil},
		{"dedistribute bad account", acct + "a.b/dedistribute", `{}`, 400, "invalid", []string{"account name"}},
		{"dedistribute unknown member", "/api/v1/pools/web/members/nosuch/accounts/alice/dedistribute", `{}`, 404, "not_found", nil},
	} {
		wantError(t, c.what, le.adminJSON(t, "POST", c.path, c.body), c.status, c.code, c.msg...)
	}
	var runs api.List[api.DistributionRun]
	wantStatus(t, "no runs after refusals", le.adminJSON(t, "GET", "/api/v1/distribution-runs", ""), 200, &runs)
	if len(runs.Items) != 0 {
		t.Fatalf("runs after refusals: got %+v, want none", runs.Items)
	}

	var r api.DistributionRun
	wantStatus(t, "distribute alice", le.adminJSON(t, "POST", acct+"alice/distribute", `{"child":"mail1"}`), 202, &r)
	if r.Direction != api.DirDistribute || r.Status != api.DistRunning || r.Step != "preconditions" || r.Child != "mail1" || len(r.Steps) == 0 {
		t.Fatalf("distribution run: got %+v", r)
	}
	wantError(t, "distribute while a run is under way", le.adminJSON(t, "POST", acct+"alice/distribute", `{"child":"mail1"}`), 409, "conflict", "under way")
	done := le.drive(t, r.ID)
	if done.Status != api.DistSucceeded || done.Error != "" {
		t.Fatalf("distribution: got %s at %s (%s), want succeeded", done.Status, done.Step, done.Error)
	}
	if got := le.zones.value("mail"); got != "192.0.2.10" {
		t.Errorf("mail.example.com after distribution: got %s, want the child's 192.0.2.10", got)
	}
	var as api.List[api.DistributedAccount]
	wantStatus(t, "distributed accounts", le.adminJSON(t, "GET", "/api/v1/pools/web/links/mail1/accounts", ""), 200, &as)
	if len(as.Items) != 1 || as.Items[0].Account != "alice" || as.Items[0].State != "distributed" || len(as.Items[0].Users) != 1 {
		t.Fatalf("accounts: got %+v, want alice distributed with one user", as.Items)
	}
	var ls api.List[api.Link]
	wantStatus(t, "link with its account", le.adminJSON(t, "GET", "/api/v1/pools/web/links", ""), 200, &ls)
	if len(ls.Items) != 1 || ls.Items[0].Accounts != 1 {
		t.Errorf("links: got %+v, want one link carrying 1 account", ls.Items)
	}
	wantError(t, "distribute again", le.adminJSON(t, "POST", acct+"alice/distribute", `{"child":"mail1"}`), 409, "conflict", "at most one child per function")
	wantError(t, "remove a link carrying an account", le.adminJSON(t, "DELETE", "/api/v1/pools/web/links/mail1", ""), 409, "conflict", "alice (distributed)", "dedistribute them first")
	wantError(t, "force without the typed name", le.adminJSON(t, "POST", acct+"alice/dedistribute", `{"force":true}`), 400, "invalid", "--confirm alice")
	wantError(t, "force with another name", le.adminJSON(t, "POST", acct+"alice/dedistribute", `{"force":true,"confirm":"bob"}`), 400, "invalid", "--confirm alice")

	wantStatus(t, "dedistribute alice", le.adminJSON(t, "POST", acct+"alice/dedistribute", `{"keep":"48h"}`), 202, &r)
	if r.Direction != api.DirDedistribute || r.Status != api.DistRunning {
		t.Fatalf("dedistribution run: got %+v", r)
	}
	wantError(t, "dedistribute while a run is under way", le.adminJSON(t, "POST", acct+"alice/dedistribute", `{}`), 409, "conflict", "under way")
	done = le.drive(t, r.ID)
	if done.Status != api.DistSucceeded {
		t.Fatalf("dedistribution: got %s at %s (%s), want succeeded", done.Status, done.Step, done.Error)
	}
	if got := le.zones.value("webmail"); got != "192.0.2.1" {
		t.Errorf("webmail.example.com after dedistribution: got %s, want the parent's 192.0.2.1", got)
	}
	as = api.List[api.DistributedAccount]{}
	wantStatus(t, "retained account", le.adminJSON(t, "GET", "/api/v1/pools/web/links/mail1/accounts", ""), 200, &as)
	if len(as.Items) != 1 || as.Items[0].State != "retained" || as.Items[0].KeepUntil == nil {
		t.Fatalf("accounts after dedistribution: got %+v, want alice retained with a keep-until", as.Items)
	}
	if d := as.Items[0].KeepUntil.Sub(*done.FinishedAt); d < 47*time.Hour || d > 49*time.Hour {
		t.Errorf("keep until: got %s after the run, want 48h", d)
	}
	wantError(t, "dedistribute a retained account", le.adminJSON(t, "POST", acct+"alice/dedistribute", `{}`), 409, "conflict", "retained")
	wantError(t, "remove a link while the child keeps a copy", le.adminJSON(t, "DELETE", "/api/v1/pools/web/links/mail1", ""), 409, "conflict", "alice (retained)")
}

func testDistributionRunRoutes(t *testing.T, le *linkEnv) {
	var runs api.List[api.DistributionRun]
	wantStatus(t, "runs of alice", le.adminJSON(t, "GET", "/api/v1/distribution-runs?pool=web&account=alice", ""), 200, &runs)
	if len(runs.Items) != 2 || runs.Items[0].Direction != api.DirDedistribute || runs.Items[1].Direction != api.DirDistribute {
		t.Fatalf("runs: got %+v, want the dedistribution then the distribution", runs.Items)
	}
	runs = api.List[api.DistributionRun]{}
	wantStatus(t, "runs limited", le.adminJSON(t, "GET", "/api/v1/distribution-runs?limit=1", ""), 200, &runs)
	if len(runs.Items) != 1 {
		t.Errorf("runs?limit=1: got %d, want 1", len(runs.Items))
	}
	runs = api.List[api.DistributionRun]{}
	wantStatus(t, "runs of another account", le.adminJSON(t, "GET", "/api/v1/distribution-runs?account=bob", ""), 200, &runs)
	if runs.Items == nil || len(runs.Items) != 0 {
		t.Errorf("runs of bob: got %+v, want an empty list", runs.Items)
	}
	id := runs2ID(t, le)
	var r api.DistributionRun
	wantStatus(t, "one run", le.adminJSON(t, "GET", "/api/v1/distribution-runs/"+id, ""), 200, &r)
	if r.Status != api.DistSucceeded || r.StepIndex != len(r.Steps) {
		t.Errorf("run %s: got %s at step %d/%d", id, r.Status, r.StepIndex, len(r.Steps))
	}
	var lines api.List[api.RunLogLine]
	wantStatus(t, "run log", le.adminJSON(t, "GET", "/api/v1/distribution-runs/"+id+"/log", ""), 200, &lines)
	text := ""
	for _, l := range lines.Items {
		text += l.Line + "\n"
	}
	for _, want := range []string{"distribute of account alice's mail", "mail1: mail.import done", "dns: mail.example.com A 192.0.2.1 → 192.0.2.10", "run succeeded"} {
		if !strings.Contains(text, want) {
			t.Errorf("run log: got\n%s\nwant a line with %q", text, want)
		}
	}
	if n := len(lines.Items); n == 0 || lines.NextAfter != lines.Items[n-1].Seq {
		t.Errorf("next_after: got %d, want the last line's seq", lines.NextAfter)
	}
	var rest api.List[api.RunLogLine]
	wantStatus(t, "run log after the end", le.adminJSON(t, "GET", "/api/v1/distribution-runs/"+id+"/log?wait=5s&after="+id64(lines.NextAfter), ""), 200, &rest)
	if len(rest.Items) != 0 || rest.NextAfter != lines.NextAfter {
		t.Errorf("log after the end of an ended run: got %d lines, next %d, want none at once", len(rest.Items), rest.NextAfter)
	}
	for _, c := range []struct {
		what, path string
		status     int
		code       string
		msg        []string
	}{
		{"bad account", "/api/v1/distribution-runs?account=A!", 400, "invalid", []string{"account name"}},
		{"negative limit", "/api/v1/distribution-runs?limit=-1", 400, "invalid", []string{"limit"}},
		{"huge limit", "/api/v1/distribution-runs?limit=100000", 400, "invalid", []string{"limit"}},
		{"word limit", "/api/v1/distribution-runs?limit=ten", 400, "invalid", []string{"limit"}},
		{"unknown run", "/api/v1/distribution-runs/999999", 404, "not_found", nil},
		{"bad run id", "/api/v1/distribution-runs/abc", 400, "invalid", nil},
		{"log of an unknown run", "/api/v1/distribution-runs/999999/log", 404, "not_found", []string{"run 999999"}},
		{"log of an unknown run, waiting", "/api/v1/distribution-runs/999999/log?wait=5s", 404, "not_found", []string{"run 999999"}},
		{"log bad after", "/api/v1/distribution-runs/" + id + "/log?after=x", 400, "invalid", []string{"after"}},
		{"log bad wait", "/api/v1/distribution-runs/" + id + "/log?wait=forever", 400, "invalid", []string{"wait"}},
		{"log bad id", "/api/v1/distribution-runs/-3/log", 400, "invalid", nil},
	} {
		wantError(t, c.what, le.adminJSON(t, "GET", c.path, ""), c.status, c.code, c.msg...)
	}
}

// runs2ID is the id of alice's distribution run, as text.
func runs2ID(t *testing.T, le *linkEnv) string {
	t.Helper()
	rs, err := le.c.DistributionRuns(context.Background(), "web", "alice", 10)
	if err != nil || len(rs) == 0 {
		t.Fatalf("runs: %v, %v", rs, err)
	}
	return id64(rs[len(rs)-1].ID)
}

func id64(n int64) string { return strconv.FormatInt(n, 10) }

// testLinksScope: a cluster token opens none of the linked-nodes routes,
// no token is unauthorized, and a server without the engine says so.
func testLinksScope(t *testing.T, le *linkEnv) {
	tok, err := le.c.CreateToken(context.Background(), api.TokenCreate{Name: "ns-links", Scope: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range linkRoutes {
		r := le.do(t, req{method: rt.method, path: rt.path, token: tok.Secret, body: []byte(rt.body), ct: "application/json"})
		wantError(t, rt.method+" "+rt.path+" with a cluster token", r, 403, "forbidden", "scope is cluster")
		r = le.do(t, req{method: rt.method, path: rt.path, body: []byte(rt.body), ct: "application/json"})
		wantError(t, rt.method+" "+rt.path+" without a token", r, 401, "unauthorized")
	}
}

var linkRoutes = []struct{ method, path, body string }{
	{"PUT", "/api/v1/pools/web/members/mail1/profile", `{"profile":"mail"}`},
	{"GET", "/api/v1/links", ""},
	{"GET", "/api/v1/pools/web/links", ""},
	{"POST", "/api/v1/pools/web/links", `{"parent":"node1","child":"mail1"}`},
	{"DELETE", "/api/v1/pools/web/links/mail1", ""},
	{"GET", "/api/v1/pools/web/links/mail1/accounts", ""},
	{"POST", acct + "alice/distribute", `{"child":"mail1"}`},
	{"POST", acct + "alice/dedistribute", `{}`},
	{"GET", "/api/v1/distribution-runs", ""},
	{"GET", "/api/v1/distribution-runs/1", ""},
	{"GET", "/api/v1/distribution-runs/1/log", ""},
}

// TestLinksUnavailable: without the links engine every route answers 503
// naming linked nodes.
func TestLinksUnavailable(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	if _, err := e.c.CreatePool(context.Background(), api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	for _, rt := range linkRoutes {
		rq := req{method: rt.method, path: rt.path, token: e.admin}
		if rt.body != "" {
			rq.body, rq.ct = []byte(rt.body), "application/json"
		}
		wantError(t, rt.method+" "+rt.path+" without the engine", e.do(t, rq), 503, "unavailable", "linked nodes are not available")
	}
}
