package apiserver_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// TestAgentSourceEveryRequest: a member's allowed source ranges hold on
// every agent request, not only at enrolment; a change holds from the next
// request; refusals are one agent.refused event per member per minute.
func TestAgentSourceEveryRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.adminJSON(t, "POST", "/api/v1/pools", `{"name":"p1"}`)
		ma := e.member(t, "p1", api.MemberCreate{Name: "node1", AllowedCIDRs: []string{"127.0.0.1/32"}})
		tok := e.enroll(t, ma.EnrollmentSecret)
		hb := mustJSON(t, heartbeat())
		beat := func(xff string) reply {
			rq := req{method: "POST", path: "/api/v1/agent/heartbeat", token: tok, body: []byte(hb), ct: "application/json"}
			if xff != "" {
				rq.header = map[string]string{"X-Forwarded-For": xff}
			}
			return e.do(t, rq)
		}
		wantStatus(t, "heartbeat from an allowed source", beat(""), 200, nil)
		// Without a trusted proxy the header proves nothing and is ignored.
		wantStatus(t, "heartbeat with a forged X-Forwarded-For", beat("198.51.100.7"), 200, nil)

		// The operator moves the member to another network.
		wantStatus(t, "update allowed IPs", e.adminJSON(t, "PATCH", "/api/v1/pools/p1/members/node1", `{"allowed_cidrs":["198.51.100.0/24"]}`), 200, nil)
		for i := range 5 {
			wantError(t, "heartbeat after the allow-list moved", beat(""), 403, "forbidden", "127.0.0.1", "not in the allowed IPs", "198.51.100.0/24")
			_ = i
		}
		wantError(t, "job poll after the allow-list moved",
			e.do(t, req{method: "GET", path: "/api/v1/agent/jobs/next?wait=0s", token: tok}), 403, "forbidden", "127.0.0.1")
		if got := e.countEvents(t, fleet.KindAgentRefused, "node1"); got != 1 {
			t.Fatalf("agent.refused events after 6 refusals within a minute: got %d, want 1", got)
		}
		e.clock.Advance(61 * time.Second)
		wantError(t, "heartbeat a minute later", beat(""), 403, "forbidden")
		if got := e.countEvents(t, fleet.KindAgentRefused, "node1"); got != 2 {
			t.Fatalf("agent.refused events a minute later: got %d, want 2", got)
		}

		// Back on the allowed network: accepted again at once.
		wantStatus(t, "allow the source again", e.adminJSON(t, "PATCH", "/api/v1/pools/p1/members/node1", `{"allowed_cidrs":["127.0.0.0/8"]}`), 200, nil)
		wantStatus(t, "heartbeat after the source is allowed again", beat(""), 200, nil)
	})
}

// TestTrustedProxy: behind a trusted proxy, the real source is the last
// X-Forwarded-For hop that is not itself a proxy; it is what the allowed
// list is checked against, at enrolment and on every request.
func TestTrustedProxy(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	e := newEnvWith(t, st, func(d *apiserver.Deps) {
		d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.9.0.0/16")}
	})
	e.adminJSON(t, "POST", "/api/v1/pools", `{"name":"p1"}`)
	ma := e.member(t, "p1", api.MemberCreate{Name: "nat", AllowedCIDRs: []string{"198.51.100.7/32"}})
	enrol := func(xff string) reply {
		body := mustJSON(t, api.EnrollRequest{Secret: ma.EnrollmentSecret, Hostname: "h.test", AgentVersion: "test"})
		return e.do(t, req{method: "POST", path: enrollPath, body: []byte(body), ct: "application/json", header: map[string]string{"X-Forwarded-For": xff}})
	}
	wantError(t, "enrolment from the proxy itself", enrol(""), 403, "forbidden", "127.0.0.1")
	var res api.EnrollResponse
	wantStatus(t, "enrolment through two proxies", enrol("198.51.100.7, 10.9.1.1"), 201, &res)
	hb := mustJSON(t, heartbeat())
	beat := func(xff string) reply {
		return e.do(t, req{method: "POST", path: "/api/v1/agent/heartbeat", token: res.Token, body: []byte(hb), ct: "application/json",
			header: map[string]string{"X-Forwarded-For": xff}})
	}
	wantStatus(t, "heartbeat through the proxy", beat("198.51.100.7"), 200, nil)
	// A client may prepend anything; only the hop the proxy saw counts.
	wantError(t, "spoofed first hop", beat("198.51.100.7, 203.0.113.9"), 403, "forbidden", "203.0.113.9")
	wantError(t, "garbage in the header", beat("not-an-ip"), 400, "invalid", "X-Forwarded-For")
}
