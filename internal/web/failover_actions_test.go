package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
)

// fakeFailover is the failover engine's make-active as the dashboard
// calls it: it records the calls and moves the active member in the store
// (the engine's own path is tested in internal/failover).
type fakeFailover struct {
	mu    sync.Mutex
	st    *store.Store
	fl    *fleet.Service
	calls []string
}

func (f *fakeFailover) MakeActive(ctx context.Context, pool, member string, force bool) (api.Pool, error) {
	f.mu.Lock()
	f.calls = append(f.calls, pool+"/"+member+map[bool]string{true: " force", false: ""}[force])
	f.mu.Unlock()
	p, err := f.st.GetPool(ctx, pool)
	if err != nil {
		return api.Pool{}, err
	}
	m, err := f.st.GetMember(ctx, p.ID, member)
	if err != nil {
		return api.Pool{}, err
	}
	if err := f.st.SetActiveMember(ctx, p.ID, m.ID, nil, "", 0, time.Now()); err != nil {
		return api.Pool{}, err
	}
	return f.fl.Pool(ctx, pool)
}

func (f *fakeFailover) called() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, ",")
}

// TestDashboardFailoverControls: the failover banner offers "make active"
// for the other members (a confirmation page naming the record, the member
// and the TTL, then a CSRF form calling the failover engine) and
// "acknowledge", which shrinks the banner to one line until the next
// failover. Read-only users see neither and are refused both.
func TestDashboardFailoverControls(t *testing.T) {
	fo := &fakeFailover{}
	e := newEnv(t, func(c *Config) { c.Failover = fo })
	fo.st, fo.fl = e.st, e.fl
	ctx := context.Background()
	if _, err := e.h.zones.Create(ctx, api.ZoneCreate{Name: "example.test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web", FailoverRecord: "www.example.test", TTL: 45, Failback: api.FailbackManual}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node1", "node2", "node3"} {
		beat(t, e.fl, e.enrolled(t, "web", n))
	}
	sp, _ := e.st.GetPool(ctx, "web")
	failover := func(to, from string, at time.Time) {
		t.Helper()
		sm, err := e.st.GetMember(ctx, sp.ID, to)
		if err != nil {
			t.Fatal(err)
		}
		b := &api.Banner{Message: from + " stopped answering; web moved to " + to, From: from, To: to, At: at}
		if err := e.st.SetActiveMember(ctx, sp.ID, sm.ID, b, "", 0, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	t1 := time.Now().Add(-time.Minute)
	failover("node2", "node1", t1)

	admin := e.client(t)
	admin.login("admin", testPassword)
	e.addUser(t, "viewer", false)
	viewer := e.client(t)
	viewer.login("viewer", testPassword)

	r := admin.get("/pools/web")
	mustContain(t, "banner", r, "Pool web failed over to node2", "www.example.test answers node2 now, TTL 45 s",
		`action="/pools/web/members/node1/make-active"`, "Make node1 active…", "Make node3 active…", `action="/pools/web/ack"`)
	if i, j := strings.Index(r.Body, "Make node1 active"), strings.Index(r.Body, "Make node3 active"); i > j {
		t.Error("the member the pool failed over from is not offered first")
	}
	if strings.Contains(r.Body, "Make node2 active") {
		t.Error("the active member is offered to be made active")
	}
	for _, p := range []string{"/pools/web", "/pools/web/members/node1", "/pools/web/settings"} {
		r := viewer.get(p)
		mustContain(t, "read-only banner on "+p, r, "Pool web failed over to node2")
		if strings.Contains(r.Body, "make-active") || strings.Contains(r.Body, `action="/pools/web/ack"`) {
			t.Errorf("read-only user sees failover actions on %s", p)
		}
	}
	wantStatus(t, "read-only confirmation page", viewer.get("/pools/web/members/node1/make-active"), http.StatusForbidden)
	wantStatus(t, "read-only make-active", viewer.post("/pools/web/members/node1/make-active", url.Values{"confirm": {"node1"}}), http.StatusForbidden)
	wantStatus(t, "read-only ack", viewer.post("/pools/web/ack", nil), http.StatusForbidden)

	// Make active: the confirmation names what will happen; nothing moves
	// until it is confirmed.
	r = admin.get("/pools/web/members/node1/make-active")
	wantStatus(t, "confirmation", r, http.StatusOK)
	mustContain(t, "confirmation", r, "Make node1 active?", "<code>www.example.test</code> will point at <strong>node1</strong> (192.0.2.10) with TTL 45 s, instead of node2",
		`name="confirm" value="node1"`)
	wantStatus(t, "without confirmation", admin.post("/pools/web/members/node1/make-active", nil), http.StatusBadRequest)
	wantStatus(t, "without CSRF", admin.post("/pools/web/members/node1/make-active", url.Values{"confirm": {"node1"}, "csrf": {"wrong"}}), http.StatusForbidden)
	wantStatus(t, "unknown member", admin.get("/pools/web/members/nodeX/make-active"), http.StatusNotFound)
	if got := fo.called(); got != "" {
		t.Fatalf("make-active called before confirmation: %s", got)
	}
	r = admin.post("/pools/web/members/node1/make-active", url.Values{"confirm": {"node1"}})
	wantStatus(t, "make active", r, http.StatusSeeOther)
	if got := fo.called(); got != "web/node1" {
		t.Fatalf("make-active calls: got %q, want web/node1", got)
	}
	mustContain(t, "after make active", admin.get("/pools/web"), "Member node1 of pool web is active: www.example.test points at 192.0.2.10.")

	// Acknowledge: one line, persisted, for this failover only.
	failover("node3", "node1", t1.Add(10*time.Second))
	stale := url.Values{"at": {t1.Format(time.RFC3339Nano)}}
	wantStatus(t, "ack of a replaced banner", admin.post("/pools/web/ack", stale), http.StatusConflict)
	page := admin.get("/pools/web")
	at := regexpFind(t, page.Body, `name="at" value="([^"]+)"`)
	wantStatus(t, "ack", admin.post("/pools/web/ack", url.Values{"at": {at}}), http.StatusSeeOther)
	p, err := e.fl.Pool(ctx, "web")
	if err != nil || p.Banner == nil || p.Banner.AcknowledgedAt == nil || p.Banner.AcknowledgedBy != "admin" {
		t.Fatalf("pool after ack: %+v, %v", p.Banner, err)
	}
	for _, c := range []*client{admin, viewer} {
		r := c.get("/pools/web")
		mustContain(t, "acknowledged banner", r, `class="banner-ack"`, "Pool web failed over to node3", "acknowledged by admin")
		if strings.Contains(r.Body, `class="banner"`) || strings.Contains(r.Body, "make-active") {
			t.Error("acknowledged banner still shown in full")
		}
	}
	if r := admin.get("/"); strings.Contains(r.Body, "failed over ·") {
		t.Error("pools list still says failed over after acknowledging")
	}
	wantStatus(t, "ack again", admin.post("/pools/web/ack", nil), http.StatusSeeOther)

	// A new failover: the full banner again.
	failover("node2", "node3", time.Now())
	mustContain(t, "new failover", admin.get("/pools/web"), `class="banner"`, "Pool web failed over to node2", "Make node3 active…")
}

// TestDashboardMakeActiveUnhealthy: switching to a member that is not
// healthy needs the box ticked, and is then forced.
func TestDashboardMakeActiveUnhealthy(t *testing.T) {
	fo := &fakeFailover{}
	e := newEnv(t, func(c *Config) { c.Failover = fo })
	fo.st, fo.fl = e.st, e.fl
	ctx := context.Background()
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fl.AddMember(ctx, "web", api.MemberCreate{Name: "node1", Address: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	c.login("admin", testPassword)
	mustContain(t, "pending member", c.get("/pools/web/members/node1/make-active"), "has no failover record", `name="force"`)
	r := c.post("/pools/web/members/node1/make-active", url.Values{"confirm": {"node1"}})
	wantStatus(t, "unforced", r, http.StatusBadRequest)
	mustContain(t, "unforced", r, "not healthy: tick the box")
	wantStatus(t, "forced", c.post("/pools/web/members/node1/make-active", url.Values{"confirm": {"node1"}, "force": {"1"}}), http.StatusSeeOther)
	if got := fo.called(); got != "web/node1 force" {
		t.Fatalf("calls %q, want web/node1 force", got)
	}
}

// TestDashboardMakeActiveUnavailable: without the failover engine the
// action says so.
func TestDashboardMakeActiveUnavailable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	beat(t, e.fl, e.enrolled(t, "web", "node1"))
	c := e.client(t)
	c.login("admin", testPassword)
	r := c.post("/pools/web/members/node1/make-active", url.Values{"confirm": {"node1"}})
	wantStatus(t, "no engine", r, http.StatusServiceUnavailable)
	mustContain(t, "no engine", r, "failover engine does not run")
}
