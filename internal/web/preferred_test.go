package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// TestDashboardNonPreferred: the overview says when the pool runs on a
// member other than its preferred one (the lowest priority), how it gets
// back (failback auto, or the make-active command with failback manual),
// live, and stops saying it once the preferred member is active again.
func TestDashboardNonPreferred(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.login("admin", testPassword)
	ctx := context.Background()
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web", Failback: api.FailbackManual}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name     string
		priority int
	}{{"node1", 10}, {"node2", 100}, {"node3", 100}} {
		a := e.enrolled(t, "web", m.name)
		p := m.priority
		if _, err := e.fl.UpdateMember(ctx, "web", m.name, api.MemberUpdate{Priority: &p}); err != nil {
			t.Fatal(err)
		}
		beat(t, e.fl, a)
	}
	sp, err := e.st.GetPool(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	activate := func(name string) {
		t.Helper()
		sm, err := e.st.GetMember(ctx, sp.ID, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.SetActiveMember(ctx, sp.ID, sm.ID, nil, "", 0, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	const title = "web runs on node2, not its preferred member node1"

	activate("node1")
	if r := c.get("/pools/web"); strings.Contains(r.Body, "data-preferred=") {
		t.Fatalf("the preferred member is active, yet the overview says otherwise:\n%s", r.Body)
	}
	page := c.get("/pools/web")
	s := c.stream(t, strings.ReplaceAll(regexpFind(t, page.Body, `sse-connect="([^"]+)"`), "&amp;", "&"))
	s.await("kpis", "3 / 3")

	activate("node2")
	d := s.await("preferred", title)
	for _, want := range []string{"node2 has priority 100; node1 has 10", "Failback is manual", "poolctl member make-active web node1"} {
		if !strings.Contains(d, want) {
			t.Errorf("live notice lacks %q:\n%s", want, d)
		}
	}
	mustContain(t, "overview on node2", c.get("/pools/web"), title, `data-preferred="node1"`, "is <span class=\"pill s-healthy\">healthy</span>",
		"the pool stays on node2 until you move it")

	auto := api.FailbackAuto
	if _, err := e.fl.UpdatePool(ctx, "web", api.PoolUpdate{Failback: &auto}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "failback auto", c.get("/pools/web"), title, "Failback is automatic: the pool moves back once node1 has been healthy")

	activate("node3")
	mustContain(t, "on node3", c.get("/pools/web"), "web runs on node3, not its preferred member node1")
	activate("node1")
	for { // the notice goes, live
		if n, d := s.next(); n == "preferred" && !strings.Contains(d, "runs on") {
			break
		}
	}
	if r := c.get("/pools/web"); strings.Contains(r.Body, "data-preferred=") {
		t.Error("the notice stays after the preferred member is active again")
	}

	// Among equal priorities none is preferred.
	activate("node3")
	p := 100
	if _, err := e.fl.UpdateMember(ctx, "web", "node1", api.MemberUpdate{Priority: &p}); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/pools/web"); strings.Contains(r.Body, "data-preferred=") {
		t.Error("a notice with every member at the same priority")
	}
}
