package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/fleet"
)

// TestDashboardPoolMembers: the members table of a pool finds members by
// name or address and sorts by name, status (worst first) and last
// heartbeat (longest silent first), reversed on a second click, all from
// the query string, so that it works without JavaScript.
func TestDashboardPoolMembers(t *testing.T) {
	e := newEnvClock(t, true)
	c := e.client(t)
	c.login("admin", testPassword)
	ctx := context.Background()
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web", HeartbeatTimeout: api.Duration(10 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	mustContain(t, "no members", c.get("/pools/web/members"), "No members yet", `href="/pools/web/members/new"`)
	agents := map[string]fleet.Agent{}
	for _, m := range []struct{ name, addr string }{
		{"delta", "198.51.100.4"}, {"bravo", "192.0.2.2"}, {"charlie", "198.51.100.3"}, {"alpha", "192.0.2.1"},
	} {
		added, err := e.fl.AddMember(ctx, "web", api.MemberCreate{Name: m.name, Address: m.addr})
		if err != nil {
			t.Fatal(err)
		}
		if m.name == "charlie" {
			continue // never enrolled: pending, no heartbeat
		}
		res, err := e.fl.Enroll(ctx, api.EnrollRequest{Secret: added.EnrollmentSecret}, mustAddr("127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		if agents[m.name], err = e.fl.AuthAgent(ctx, res.Token); err != nil {
			t.Fatal(err)
		}
	}
	beat(t, e.fl, agents["bravo"])
	e.clock.add(time.Minute)
	e.fl.Sweep(ctx) // bravo: down
	beat(t, e.fl, agents["delta"])
	e.clock.add(500 * time.Millisecond)
	beat(t, e.fl, agents["alpha"])

	order := func(what, path string, want ...string) resp {
		t.Helper()
		r := c.get(path)
		wantStatus(t, what, r, 200)
		var got []string
		rest := r.Body
		for {
			i := strings.Index(rest, `<tr data-member="`)
			if i < 0 {
				break
			}
			rest = rest[i+len(`<tr data-member="`):]
			got = append(got, rest[:strings.IndexByte(rest, '"')])
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s (%s): rows %v, want %v", what, path, got, want)
		}
		return r
	}
	r := order("default order", "/pools/web/members", "alpha", "bravo", "charlie", "delta")
	mustContain(t, "members table", r, "4 members", `aria-current="page">Members</a>`, `<th scope="col" aria-sort="ascending"><a href="/pools/web/members?desc=1&amp;sort=name"`,
		`href="/pools/web/members?sort=status"`, `href="/pools/web/members?sort=last_heartbeat"`, `data-filter-rows="#members-table"`,
		`data-status="down"`, `data-status="pending"`, "192.0.2.2", "42%")
	order("sort by name, reversed", "/pools/web/members?sort=name&desc=1", "delta", "charlie", "bravo", "alpha")
	order("sort by status", "/pools/web/members?sort=status", "bravo", "charlie", "alpha", "delta")
	r = order("sort by last heartbeat", "/pools/web/members?sort=last_heartbeat", "charlie", "bravo", "delta", "alpha")
	mustContain(t, "sorted by heartbeat", r, `aria-sort="ascending"><a href="/pools/web/members?desc=1&amp;sort=last_heartbeat"`)
	r = order("last heartbeat, newest first", "/pools/web/members?sort=last_heartbeat&desc=1", "alpha", "delta", "bravo", "charlie")
	mustContain(t, "reversed", r, `aria-sort="descending"><a href="/pools/web/members?sort=last_heartbeat"`, `name="desc" value="1"`)
	order("an unknown order is by name", "/pools/web/members?sort=cpu", "alpha", "bravo", "charlie", "delta")

	// Search by address or name, case ignored; the order stays.
	r = order("search by address", "/pools/web/members?q=198.51.100&sort=status", "charlie", "delta")
	mustContain(t, "search by address", r, "2 of 4 members match", `value="198.51.100"`, `href="/pools/web/members?q=198.51.100&amp;sort=name"`,
		`<input type="hidden" name="sort" value="status">`)
	order("search by name", "/pools/web/members?q=BRA", "bravo")
	r = order("no match", "/pools/web/members?q=zulu")
	mustContain(t, "no match", r, "No member's name or address contains “zulu”", "Show all 4")
	wantStatus(t, "unknown pool", c.get("/pools/nope/members"), 404)
	mustContain(t, "overview tab", c.get("/pools/web"), `href="/pools/web/members">Members</a>`)
}
