package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// A member whose heartbeats stopped never looks live: its tile and its
// page say since when it is suspect, then down, its last error (here a
// refused agent request) and link to its events; its last figures are
// dated and greyed, and "healthy since" is gone.
func TestDashboardDownMember(t *testing.T) {
	e := newEnvClock(t, true) // the fleet runs on the test's clock
	c := e.client(t)
	c.login("admin", testPassword)
	ctx := context.Background()
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web", HeartbeatTimeout: api.Duration(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	added, err := e.fl.AddMember(ctx, "web", api.MemberCreate{Name: "node1", Address: "192.0.2.10", AllowedCIDRs: []string{"127.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.fl.Enroll(ctx, api.EnrollRequest{Secret: added.EnrollmentSecret}, mustAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.fl.AuthAgentFrom(ctx, res.Token, mustAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	beat(t, e.fl, a) // CPU 42%, disk 73%, every second
	if err := e.fl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	beatAt := e.clock.now()
	mp := "/pools/web/members/node1"

	r := c.get("/pools/web")
	mustContain(t, "healthy tile", r, `data-status="healthy"`, "42%", "73%")
	mustContain(t, "healthy member page", c.get(mp), "Healthy since", "42%")
	for _, bad := range []string{"data-outage", "Figures as of", `class="bars dated"`} {
		if strings.Contains(r.Body, bad) {
			t.Errorf("healthy tile shows %q", bad)
		}
	}

	// Late heartbeats: suspect.
	e.clock.add(2500 * time.Millisecond)
	e.fl.Sweep(ctx)
	suspectAt := e.clock.now()
	mustContain(t, "suspect tile", c.get("/pools/web/tiles"), `data-outage="suspect"`, "Suspect since</strong> "+when(suspectAt),
		"Figures as of the last heartbeat, "+when(beatAt), `class="bars dated"`, "Last error:", "last heartbeat 2.5s ago")

	// Silence past the timeout: down; then a request from elsewhere is refused.
	e.clock.add(10 * time.Minute)
	e.fl.Sweep(ctx)
	downAt := e.clock.now()
	e.clock.add(time.Second)
	if _, err := e.fl.AuthAgentFrom(ctx, res.Token, mustAddr("198.51.100.7")); err == nil {
		t.Fatal("a request from outside the allowed IPs was accepted")
	}
	events := `href="/events?member=node1&amp;pool=web"`
	for _, p := range []string{"/pools/web", "/pools/web/tiles"} {
		r := c.get(p)
		mustContain(t, "down tile on "+p, r, `data-status="down"`, `data-outage="down"`, "Down since</strong> "+when(downAt),
			"Last error:</strong> agent request from 198.51.100.7 refused", events,
			"Figures as of the last heartbeat, "+when(beatAt)+", not current", `class="bars dated"`)
		if strings.Contains(r.Body, "Suspect since") {
			t.Errorf("%s: a down member is still called suspect", p)
		}
	}
	r = c.get(mp)
	mustContain(t, "down member page", r, `data-outage="down"`, "Down since</strong> "+when(downAt), "Down since</dt><dd>"+when(downAt),
		"agent request from 198.51.100.7 refused", events, `<div class="dated">`, "Figures as of the last heartbeat")
	if strings.Contains(r.Body, "Healthy since") {
		t.Error("a down member's page still says healthy since")
	}
	mustContain(t, "the linked events", c.get("/events?member=node1&pool=web"), "agent.refused", "member.down", "member.suspect")

	// A heartbeat again: live figures, no outage.
	beat(t, e.fl, a)
	r = c.get("/pools/web")
	mustContain(t, "recovered tile", r, `data-status="healthy"`, "42%")
	if strings.Contains(r.Body, "data-outage") || strings.Contains(r.Body, "Figures as of") {
		t.Error("a recovered member's tile still shows the outage")
	}
}
