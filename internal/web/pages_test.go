package web

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

var secretRE = regexp.MustCompile(`value="(pe1\.[^"]+)"`)

// TestDashboardPages walks every page as an operator would: create a pool
// and a member, look at each page, change settings, run jobs, manage
// zones, and delete it all again. Refusals from the services appear
// inline, with the status code the API would use.
func TestDashboardPages(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.login("admin", testPassword)
	ctx := context.Background()

	// Pools list and creation.
	mustContain(t, "empty pools", c.get("/"), "No pools yet", "poolctl pool create web", "Create a pool")
	r := c.post("/pools", url.Values{"name": {"Bad Name"}, "failover_delay": {"30s"}})
	wantStatus(t, "bad pool name", r, http.StatusBadRequest)
	mustContain(t, "bad pool name", r, "pool name &#34;Bad Name&#34; is invalid", `value="Bad Name"`, `value="30s"`)
	r = c.post("/pools", url.Values{"name": {"web"}, "failover_delay": {"soon"}})
	wantStatus(t, "bad delay", r, http.StatusBadRequest)
	mustContain(t, "bad delay", r, "failover delay")
	r = c.post("/pools", url.Values{"name": {"web"}, "heartbeat_timeout": {"3s"}, "failback": {"manual"}})
	wantStatus(t, "create pool", r, http.StatusSeeOther)
	if loc := r.Header.Get("Location"); loc != "/pools/web" {
		t.Fatalf("after creating: redirect to %q", loc)
	}
	mustContain(t, "overview, empty", c.get("/pools/web"), "Pool web created", "No members yet", "poolctl member add web NAME",
		"Where the members are", `class="worldmap"`, "Members healthy", `sse-connect="/pools/web/live?v=`)
	wantStatus(t, "duplicate pool", c.post("/pools", url.Values{"name": {"web"}}), http.StatusConflict)
	mustContain(t, "pools list", c.get("/"), `href="/pools/web"`, "no members")

	// Members.
	mustContain(t, "add member form", c.get("/pools/web/members/new"), `name="address"`, `name="allowed_ips"`, `name="lat"`)
	r = c.post("/pools/web/members", url.Values{"name": {"node1"}, "address": {"not-an-ip"}})
	wantStatus(t, "bad address", r, http.StatusBadRequest)
	mustContain(t, "bad address", r, "is not an IPv4 or IPv6 address", `value="node1"`)
	r = c.post("/pools/web/members", url.Values{"name": {"node1"}, "address": {"203.0.113.10"}, "allowed_ips": {"127.0.0.1\n10.0.0.0/8"},
		"location": {"Frankfurt"}, "lat": {"50.11"}, "lon": {"8.68"}})
	wantStatus(t, "add member", r, http.StatusCreated)
	mustContain(t, "member added", r, "Member node1 added", "poolctl agent enroll --server "+e.srv.URL)
	m := secretRE.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatal("no enrolment secret on the page")
	}
	if _, err := e.fl.Enroll(ctx, api.EnrollRequest{Secret: m[1]}, mustAddr("127.0.0.1")); err != nil {
		t.Fatalf("the page's secret does not enrol: %v", err)
	}
	r = c.get("/pools/web")
	mustContain(t, "overview", r, `data-member="node1"`, `data-status="pending"`, "waiting for agent", `<circle class="dot s-pending"`,
		"203.0.113.10 · Frankfurt", `sse-swap="m-node1"`)
	mustContain(t, "tiles fragment", c.get("/pools/web/tiles"), `id="tiles"`, `data-member="node1"`)

	mp := "/pools/web/members/node1"
	r = c.get(mp)
	mustContain(t, "control panel", r, "Live metrics", "No metrics yet", "no samples", "Detected stack", `sse-connect="`+mp+`/live"`)
	if strings.Contains(r.Body, "Waiting for this member") {
		t.Error("an enrolled member's page says it waits for its agent")
	}
	mustContain(t, "status", c.get(mp+"/status"), "Components", "OpenLiteSpeed", "No check has run yet")
	mustContain(t, "jobs", c.get(mp+"/jobs"), "No jobs yet", "Run a job")
	mustContain(t, "member settings", c.get(mp+"/settings"), `value="203.0.113.10"`, "127.0.0.1/32\n10.0.0.0/8", `value="50.11"`)
	for _, tab := range []string{"cpanel", "openlitespeed", "mariadb", "security"} {
		mustContain(t, "stack "+tab, c.get(mp+"/stack/"+tab), "not detected on this server")
	}
	wantStatus(t, "unknown stack tab", c.get(mp+"/stack/exchange"), http.StatusNotFound)
	wantStatus(t, "unknown member", c.get("/pools/web/members/nope"), http.StatusNotFound)
	mustContain(t, "unknown pool", c.get("/pools/nope"), "pool &#34;nope&#34; not found")
	wantStatus(t, "unknown page", c.get("/nothing/here"), http.StatusNotFound)

	// Jobs.
	r = c.post(mp+"/jobs", url.Values{"kind": {"shell.exec"}, "args": {"{not json"}})
	wantStatus(t, "bad job args", r, http.StatusBadRequest)
	mustContain(t, "bad job args", r, "not valid JSON")
	wantStatus(t, "shell refused", c.post(mp+"/jobs", url.Values{"kind": {"shell.exec"}, "args": {`{"command":"id"}`}}), http.StatusForbidden)
	r = c.post(mp+"/jobs", url.Values{"kind": {"facts.refresh"}})
	wantStatus(t, "run job", r, http.StatusSeeOther)
	job := r.Header.Get("Location")
	mustContain(t, "job page", c.get(job), "facts.refresh", `data-status="queued"`, "Cancel job", "sse-connect=")
	wantStatus(t, "job of another path", c.get("/pools/web/members/node2/jobs/1"), http.StatusNotFound)
	wantStatus(t, "cancel", c.post(job+"/cancel", nil), http.StatusSeeOther)
	mustContain(t, "cancelled job", c.get(job), `data-status="cancelled"`)
	mustContain(t, "job history", c.get(mp+"/jobs"), "facts.refresh", "cancelled")
	r = c.post(mp+"/status/check", nil)
	wantStatus(t, "check services", r, http.StatusSeeOther)
	mustContain(t, "service check job", c.get(r.Header.Get("Location")), "service.status")

	// Member settings, secret, removal.
	r = c.post(mp+"/settings", url.Values{"address": {"203.0.113.11"}, "probe": {"ftp://x"}, "priority": {"100"}})
	wantStatus(t, "bad probe", r, http.StatusBadRequest)
	mustContain(t, "bad probe", r, "scheme must be tcp, http or https", `value="ftp://x"`)
	r = c.post(mp+"/settings", url.Values{"address": {"203.0.113.11"}, "priority": {"50"}, "location": {"Paris"}, "lat": {"48.85"}, "lon": {"2.35"}})
	wantStatus(t, "save member", r, http.StatusSeeOther)
	if got, _ := e.fl.Member(ctx, "web", "node1"); got.Address != "203.0.113.11" || got.Priority != 50 || got.Location.Text != "Paris" {
		t.Fatalf("member after save: %+v", got)
	}
	mustContain(t, "credential section", c.get(mp+"/settings"), "Agent credential", "Rotates by itself on", "Rotate now", "Revoke at once",
		"Agent version", "Update agent")
	r = c.post(mp+"/agent/update", nil)
	wantStatus(t, "update the agent of a server without binaries", r, http.StatusServiceUnavailable)
	mustContain(t, "update the agent of a server without binaries", r, "offers no agent binaries")
	mustContain(t, "agent updates section", c.get("/pools/web/settings"), "Agent updates", "Update all agents")
	r = c.post("/pools/web/agents/update", nil)
	wantStatus(t, "rollout on a server without binaries", r, http.StatusServiceUnavailable)
	mustContain(t, "rollout on a server without binaries", r, "offers no agent binaries")
	wantStatus(t, "cancel without a rollout", c.post("/pools/web/agents/cancel", nil), http.StatusNotFound)
	r = c.post(mp+"/credential/rotate", nil)
	wantStatus(t, "rotate credential", r, http.StatusSeeOther)
	mustContain(t, "rotation requested", c.get(mp+"/settings"), "Rotation requested:")
	r = c.post(mp+"/credential/revoke", nil)
	wantStatus(t, "revoke credential", r, http.StatusSeeOther)
	mustContain(t, "after revocation", c.get(mp+"/settings"), "No credential: the agent has not enrolled, or its credential was revoked")
	r = c.post(mp+"/credential/rotate", nil)
	wantStatus(t, "rotate a revoked credential", r, http.StatusConflict)
	mustContain(t, "rotate a revoked credential", r, "no agent credential to rotate")
	r = c.post(mp+"/secret", nil)
	wantStatus(t, "new secret", r, http.StatusCreated)
	if secretRE.FindStringSubmatch(r.Body) == nil {
		t.Fatal("no new secret on the page")
	}
	r = c.post(mp+"/remove", url.Values{"confirm": {"node"}})
	wantStatus(t, "remove without confirmation", r, http.StatusBadRequest)
	mustContain(t, "remove without confirmation", r, "type the member&#39;s name, node1")

	// Pool settings and the failover banner.
	mustContain(t, "pool settings", c.get("/pools/web/settings"), `value="3s"`, "DNS providers", "builtin", "this pool's", "Delete this pool", "node1")
	r = c.post("/pools/web/settings", url.Values{"failover_delay": {"1s"}, "ttl": {"30"}, "heartbeat_timeout": {"3s"}, "failback": {"manual"}})
	wantStatus(t, "delay too short", r, http.StatusBadRequest)
	mustContain(t, "delay too short", r, "failover delay 1s out of range", `value="1s"`)
	r = c.post("/pools/web/settings", url.Values{"failover_delay": {"45s"}, "ttl": {"60"}, "heartbeat_timeout": {"5s"}, "failback": {"auto"}})
	wantStatus(t, "save pool", r, http.StatusSeeOther)
	if p, _ := e.fl.Pool(ctx, "web"); p.TTL != 60 || p.Failback != "auto" || p.FailoverDelay.D() != 45*time.Second {
		t.Fatalf("pool after save: %+v", p)
	}
	r = c.post("/pools/web/ack", nil)
	wantStatus(t, "ack without banner", r, http.StatusConflict)
	mustContain(t, "ack without banner", r, "no failover banner")
	sp, _ := e.st.GetPool(ctx, "web")
	sm, _ := e.st.GetMember(ctx, sp.ID, "node1")
	if err := e.st.SetActiveMember(ctx, sp.ID, sm.ID, &api.Banner{Message: "node9 stopped answering; web moved to node1", At: time.Now()}, "", 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/pools/web", "/pools/web/settings", mp, mp + "/jobs"} {
		mustContain(t, "banner on "+p, c.get(p), "Pool web failed over", "node9 stopped answering", `action="/pools/web/ack"`)
	}
	mustContain(t, "pools list after failover", c.get("/"), "failed over", "node1")
	wantStatus(t, "ack", c.post("/pools/web/ack", nil), http.StatusSeeOther)
	if r := c.get("/pools/web"); strings.Contains(r.Body, `class="banner"`) || !strings.Contains(r.Body, `class="banner-ack"`) {
		t.Fatal("banner still shown in full after acknowledging")
	}

	// Events.
	mustContain(t, "events", c.get("/events"), "pool.created", "member.added", "job.queued")
	r = c.get("/events?pool=web&kind=member.&limit=50")
	mustContain(t, "filtered events", r, "member.added", `<option value="web" selected>`)
	if strings.Contains(r.Body, "job.queued") {
		t.Error("kind filter member. shows job events")
	}
	mustContain(t, "no matching events", c.get("/events?kind=nothing."), "No event matches")

	// Zones.
	mustContain(t, "no zones", c.get("/zones"), "No zones yet")
	wantStatus(t, "bad zone", c.post("/zones", url.Values{"name": {"-bad-"}}), http.StatusBadRequest)
	wantStatus(t, "create zone", c.post("/zones", url.Values{"name": {"example.com"}}), http.StatusSeeOther)
	mustContain(t, "zone", c.get("/zones/example.com"), "Zone example.com", "SOA", "Add a record")
	mustContain(t, "zones", c.get("/zones"), `href="/zones/example.com"`)
	r = c.post("/zones/example.com/records", url.Values{"name": {"www"}, "type": {"A"}, "value": {"not-an-address"}})
	wantStatus(t, "bad record", r, http.StatusBadRequest)
	mustContain(t, "bad record", r, `value="not-an-address"`)
	wantStatus(t, "add record", c.post("/zones/example.com/records", url.Values{"name": {"www"}, "type": {"A"}, "value": {"192.0.2.1"}}), http.StatusSeeOther)
	recs, _ := e.h.zones.Records(ctx, "example.com")
	var id int64
	for _, rec := range recs {
		if rec.Name == "www" {
			id = rec.ID
		}
	}
	if id == 0 {
		t.Fatalf("record not added: %+v", recs)
	}
	mustContain(t, "zone with record", c.get("/zones/example.com"), "192.0.2.1")
	wantStatus(t, "delete record", c.post("/zones/example.com/records/"+itoa(id)+"/delete", nil), http.StatusSeeOther)
	mustContain(t, "record deleted", c.get("/zones/example.com"), "A 192.0.2.1 deleted.")
	wantStatus(t, "delete zone unconfirmed", c.post("/zones/example.com/delete", url.Values{"confirm": {"example"}}), http.StatusBadRequest)
	wantStatus(t, "delete zone", c.post("/zones/example.com/delete", url.Values{"confirm": {"example.com"}}), http.StatusSeeOther)

	// Account, removal and deletion.
	mustContain(t, "account", c.get("/account"), "Change password", "Sign out everywhere", "administrator")
	r = c.post(mp+"/remove", url.Values{"confirm": {"node1"}})
	wantStatus(t, "remove the active member unforced", r, http.StatusConflict)
	mustContain(t, "remove the active member unforced", r, "the pool&#39;s active member", "Depends on it:", "Remove it anyway")
	wantStatus(t, "remove member", c.post(mp+"/remove", url.Values{"confirm": {"node1"}, "force": {"1"}}), http.StatusSeeOther)
	r = c.post("/pools/web/delete", url.Values{"confirm": {"we"}})
	wantStatus(t, "delete unconfirmed", r, http.StatusBadRequest)
	mustContain(t, "delete unconfirmed", r, "type the pool&#39;s name, web")
	r = c.post("/pools/web/delete", url.Values{"confirm": {"web"}})
	wantStatus(t, "delete pool", r, http.StatusSeeOther)
	mustContain(t, "after delete", c.get("/"), "Pool web deleted", "No pools yet")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
