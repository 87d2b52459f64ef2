package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/links"
)

// linkZones serves example.com to the links engine.
type linkZones struct{}

func (linkZones) List(context.Context) ([]api.Zone, error) {
	return []api.Zone{{Name: "example.com"}}, nil
}
func (linkZones) Records(context.Context, string) ([]api.Record, error) { return nil, nil }
func (linkZones) RewriteRecords(context.Context, string, []links.Rewrite, string) error {
	return nil
}

// linksEnv is a dashboard with the real links engine: pool web with node1
// (standard) and mail1 (Dovecot and Postfix detected, mail profile), both
// healthy.
func linksEnv(t *testing.T) (*env, *links.Service) {
	t.Helper()
	var svc *links.Service
	e := newEnv(t, func(c *Config) {
		svc = links.New(links.Config{Store: c.Store, Fleet: c.Fleet, Zones: linkZones{}})
		c.Links = svc
	})
	ctx := context.Background()
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"node1", "mail1"} {
		a := e.enrolled(t, "web", name)
		hb := api.Heartbeat{Protocol: 1, AgentVersion: "1.4.0", Interval: api.Duration(time.Minute), Stack: &api.Stack{}}
		if name == "mail1" {
			hb.Stack = &api.Stack{Dovecot: &api.Component{Detected: true, Running: true}, Postfix: &api.Component{Detected: true, Running: true}}
		}
		if _, err := e.fl.Heartbeat(ctx, a, hb); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.fl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetProfile(ctx, "web", "mail1", api.ProfileSet{Profile: api.ProfileMail}); err != nil {
		t.Fatal(err)
	}
	return e, svc
}

// TestLinksPage: an administrator links a mail child from the Linked nodes
// page (a refusal is shown with its reason and the form as typed), sees
// the link with its accounts, the child's distributed accounts, and the
// profile and link on the member pages; removing a link that carries an
// account is refused. A read-only user sees the links and no form, and
// cannot post one.
func TestLinksPage(t *testing.T) {
	e, svc := linksEnv(t)
	admin := e.client(t)
	admin.login("admin", testPassword)
	r := admin.get("/links")
	wantStatus(t, "links page", r, http.StatusOK)
	mustContain(t, "links page", r, `<a href="/links" aria-current="page">Linked nodes</a>`, "Pool <a href=\"/pools/web\">web</a>",
		"No linked node in this pool.", `action="/links"`, "<option>node1</option>", "<option>mail1</option>", "No distribution run yet")

	r = admin.post("/links", url.Values{"pool": {"web"}, "parent": {"mail1"}, "child": {"node1"}})
	wantStatus(t, "a refused link", r, http.StatusConflict)
	mustContain(t, "a refused link", r, "<strong>Refused:</strong>", "a parent must be standard")
	r = admin.post("/links", url.Values{"pool": {"nosuch"}, "parent": {"node1"}, "child": {"mail1"}})
	wantStatus(t, "a link in an unknown pool", r, http.StatusNotFound)
	r = admin.post("/links", url.Values{"pool": {"web"}, "parent": {"node1"}, "child": {"mail1"}})
	wantStatus(t, "link", r, http.StatusSeeOther)
	r = admin.get("/links")
	mustContain(t, "after linking", r, "mail1 is now the mail child of node1.", `data-link="mail1"`, `data-accounts="0"`, "0 accounts",
		`action="/links/web/mail1/remove"`, "Remove the link node1 → mail1")
	if strings.Contains(r.Body, "<option>mail1</option>") {
		t.Error("a linked child is still offered as a child")
	}
	wantStatus(t, "link again", admin.post("/links", url.Values{"pool": {"web"}, "parent": {"node1"}, "child": {"mail1"}}), http.StatusConflict)

	mustContain(t, "child's member page", admin.get("/pools/web/members/mail1"), `data-profile="mail"`, `<a href="/links/web/mail1">mail child of node1</a>`)
	mustContain(t, "parent's member page", admin.get("/pools/web/members/node1"), `data-profile="standard"`, "parent of", `href="/links/web/mail1">mail1</a> (mail, 0 accounts)`)

	ctx := context.Background()
	run, err := svc.Distribute(ctx, "web", "node1", "alice", api.Distribute{Child: "mail1"})
	if err != nil {
		t.Fatal(err)
	}
	r = admin.get("/links/web/mail1")
	wantStatus(t, "child page", r, http.StatusOK)
	mustContain(t, "child page", r, "mail child of node1", `data-account="alice"`, `data-state="distributing"`,
		fmt.Sprintf(`<a href="/links/runs/%d">%d</a>`, run.ID, run.ID), "node1 → mail1")
	mustContain(t, "links page with a run", admin.get("/links"), `data-accounts="1"`, fmt.Sprintf(`data-run="%d"`, run.ID))
	r = admin.post("/links/web/mail1/remove", nil)
	wantStatus(t, "remove a link carrying an account", r, http.StatusConflict)
	mustContain(t, "remove a link carrying an account", r, "alice (distributing)", "dedistribute them first")
	wantStatus(t, "an unknown child's page", admin.get("/links/web/node1"), http.StatusNotFound)
	wantStatus(t, "an unknown run", admin.get("/links/runs/999"), http.StatusNotFound)
	wantStatus(t, "a bad run id", admin.get("/links/runs/x"), http.StatusNotFound)

	e.addUser(t, "viewer", false)
	viewer := e.client(t)
	viewer.login("viewer", testPassword)
	r = viewer.get("/links")
	wantStatus(t, "viewer's links page", r, http.StatusOK)
	mustContain(t, "viewer's links page", r, `data-link="mail1"`, `data-accounts="1"`)
	for _, form := range []string{`action="/links"`, "/remove", "Link for mail"} {
		if strings.Contains(r.Body, form) {
			t.Errorf("the viewer's links page has %q", form)
		}
	}
	wantStatus(t, "viewer's child page", viewer.get("/links/web/mail1"), http.StatusOK)
	wantStatus(t, "viewer links", viewer.post("/links", url.Values{"pool": {"web"}, "parent": {"node1"}, "child": {"mail1"}}), http.StatusForbidden)
	wantStatus(t, "viewer removes", viewer.post("/links/web/mail1/remove", nil), http.StatusForbidden)
}

// A distribution run's page shows its step among the steps and its log;
// the stream sends the steps as the engine takes them and the job each
// waits for.
func TestDistributionRunPage(t *testing.T) {
	e, svc := linksEnv(t)
	ctx := context.Background()
	if _, err := svc.AddLink(ctx, "web", api.LinkCreate{Parent: "node1", Child: "mail1"}); err != nil {
		t.Fatal(err)
	}
	run, err := svc.Distribute(ctx, "web", "node1", "alice", api.Distribute{Child: "mail1"})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	c.login("admin", testPassword)
	page := c.get(fmt.Sprintf("/links/runs/%d", run.ID))
	wantStatus(t, "run page", page, http.StatusOK)
	mustContain(t, "run page", page, "Distribution run 1 of account alice", `data-status="running"`, "Step 1/12: preconditions",
		`<li aria-current="step">preconditions</li>`, "distribute of account alice&#39;s mail (node1 → mail1)", "sse-connect=")
	live := regexpFind(t, page.Body, `sse-connect="([^"]+)"`)
	s := c.stream(t, strings.ReplaceAll(live, "&amp;", "&"))
	s.await("status", "Step 1/12: preconditions")

	svc.Step(ctx) // preconditions pass; the export is queued on node1
	// The step shows first, then the job it queued.
	if d := s.await("status", "job 1 on node1"); !strings.Contains(d, "Step 2/12: export") {
		t.Errorf("status with the export's job: got\n%s\nwant step 2/12", d)
	}
	mustContain(t, "run page at the export", c.get(fmt.Sprintf("/links/runs/%d", run.ID)), "step 2/12: export", "export: mail.export on node1 (job 1)")

	// The job fails (the agent cannot export): the run is refused, the
	// page says why, and the stream ends.
	j, err := e.fl.Job(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fl.CancelJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	svc.Step(ctx)
	d := s.await("status", `data-status="failed"`)
	if !strings.Contains(d, "mail.export on node1") {
		t.Errorf("failed status lacks the reason:\n%s", d)
	}
	s.await("done", "failed")
	page = c.get(fmt.Sprintf("/links/runs/%d", run.ID))
	if strings.Contains(page.Body, "sse-connect=") {
		t.Error("an ended run's page streams")
	}
}

func TestLinksUnavailable(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.login("admin", testPassword)
	r := c.get("/links")
	wantStatus(t, "links without the engine", r, http.StatusServiceUnavailable)
	mustContain(t, "links without the engine", r, "linked nodes are not available")
	wantStatus(t, "a run without the engine", c.get("/links/runs/1"), http.StatusServiceUnavailable)
}
