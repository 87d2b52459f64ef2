package apiserver_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// fixture is the state the bad-input cases run against: pool p1 with two
// enrolled members a and b, and a job of b that b's agent is running.
type fixture struct {
	tokA, tokB string
	jobB       int64
}

func newFixture(t *testing.T, e *env) fixture {
	t.Helper()
	ctx := context.Background()
	if _, err := e.c.CreatePool(ctx, api.PoolCreate{Name: "p1"}); err != nil {
		t.Fatalf("create pool: %v", err)
	}
	var f fixture
	f.tokA = e.enroll(t, e.member(t, "p1", api.MemberCreate{Name: "a"}).EnrollmentSecret)
	f.tokB = e.enroll(t, e.member(t, "p1", api.MemberCreate{Name: "b"}).EnrollmentSecret)
	j, err := e.c.CreateJob(ctx, "p1", "b", api.JobCreate{Kind: "facts.refresh"})
	if err != nil {
		t.Fatalf("create job: %v", err)
	}
	got, err := e.client(t, f.tokB).NextJob(ctx, time.Second)
	if err != nil || got == nil || got.ID != j.ID {
		t.Fatalf("agent b next job: got %v, %v, want job %d", got, err, j.ID)
	}
	f.jobB = j.ID
	return f
}

func TestBadInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := newFixture(t, e)
		t.Run("bodies", func(t *testing.T) { testBodies(t, e, f) })
		t.Run("validation", func(t *testing.T) { testValidation(t, e, f) })
		t.Run("auth", func(t *testing.T) { testAuth(t, e, f) })
		t.Run("conflicts", func(t *testing.T) { testConflicts(t, e) })
		t.Run("routing", func(t *testing.T) { testRouting(t, e, f) })
		t.Run("enrolment", func(t *testing.T) { testEnrolRefused(t, e) })
		t.Run("removed-member", func(t *testing.T) { testRemovedMember(t, e) })
		t.Run("odd-text", func(t *testing.T) { testOddText(t, e, f) })
	})
}

func testBodies(t *testing.T, e *env, f fixture) {
	const pools = "/api/v1/pools"
	big := `{"name":"` + strings.Repeat("a", maxBodyForTest+1024) + `"}`
	for _, c := range []struct {
		name, body, ct string
		status         int
		code           string
		msg            []string
	}{
		{"malformed", `{"name":`, "application/json", 400, "invalid", []string{"malformed JSON"}},
		{"not-json", `name=x`, "application/json", 400, "invalid", []string{"malformed JSON"}},
		{"unknown-field", `{"name":"u1","bogus":1}`, "application/json", 400, "invalid", []string{"bogus"}},
		{"two-values", `{"name":"two1"}{"name":"two2"}`, "application/json", 400, "invalid", []string{"more than one value"}},
		{"trailing-garbage", `{"name":"tg1"} x`, "application/json", 400, "invalid", nil},
		{"array", `[{"name":"arr"}]`, "application/json", 400, "invalid", nil},
		{"wrong-type", `{"name":5}`, "application/json", 400, "invalid", []string{"name"}},
		{"empty", ``, "application/json", 400, "invalid", []string{"empty"}},
		{"empty-no-ct", ``, "", 400, "invalid", []string{"empty"}},
		{"text-plain", `{"name":"ct1"}`, "text/plain", 400, "invalid", []string{"content type"}},
		{"form", `name=ct2`, "application/x-www-form-urlencoded", 400, "invalid", []string{"content type"}},
		{"oversize", big, "application/json", 413, "too_large", nil},
		{"oversize-whitespace", strings.Repeat(" ", maxBodyForTest+1) + `{"name":"ws1"}`, "application/json", 413, "too_large", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(t, req{method: "POST", path: pools, token: e.admin, body: []byte(c.body), ct: c.ct})
			wantError(t, "POST "+pools+" "+c.name, r, c.status, c.code, c.msg...)
		})
	}
	// Media types are case-insensitive and may carry parameters.
	for i, ct := range []string{"application/json; charset=utf-8", "Application/JSON"} {
		name := "ctok" + strconv.Itoa(i)
		r := e.do(t, req{method: "POST", path: pools, token: e.admin, body: []byte(`{"name":"` + name + `"}`), ct: ct})
		if r.status != 201 {
			t.Errorf("POST %s with Content-Type %q: got %s, want 201", pools, ct, r)
		}
	}
	// Nothing of the refused bodies was created.
	for _, p := range []string{"u1", "two1", "two2", "tg1", "ct1", "ws1"} {
		r := e.adminJSON(t, "GET", pools+"/"+p, "")
		wantError(t, "GET pool "+p+" after a refused create", r, 404, "not_found")
	}
	// Other routes decode the same way.
	for _, c := range []struct {
		what, method, path, token, body string
		status                          int
	}{
		{"member unknown field", "POST", pools + "/p1/members", e.admin, `{"name":"z","address":"192.0.2.1","nope":true}`, 400},
		{"pool patch two values", "PATCH", pools + "/p1", e.admin, `{"ttl":60}{"ttl":61}`, 400},
		{"member patch empty", "PATCH", pools + "/p1/members/a", e.admin, ``, 400},
		{"token empty", "POST", "/api/v1/tokens", e.admin, ``, 400},
		{"job malformed", "POST", pools + "/p1/members/a/jobs", e.admin, `{"kind":`, 400},
		{"enroll empty", "POST", "/api/v1/agent/enroll", "", ``, 400},
		{"enroll oversize", "POST", "/api/v1/agent/enroll", "", `{"secret":"` + strings.Repeat("x", 20<<10) + `"}`, 413},
		{"heartbeat empty", "POST", "/api/v1/agent/heartbeat", f.tokA, ``, 400},
		{"heartbeat unknown field", "POST", "/api/v1/agent/heartbeat", f.tokA, `{"protocol":1,"cpu":3}`, 400},
		{"heartbeat oversize", "POST", "/api/v1/agent/heartbeat", f.tokA, `{"protocol":1,"agent_version":"` + strings.Repeat("v", 300<<10) + `"}`, 413},
		{"job log malformed", "POST", "/api/v1/agent/jobs/1/log", f.tokA, `{"lines":"x"}`, 400},
		{"job result two values", "POST", "/api/v1/agent/jobs/1/result", f.tokA, `{"ok":true} {"ok":false}`, 400},
	} {
		r := e.do(t, req{method: c.method, path: c.path, token: c.token, body: []byte(c.body), ct: "application/json"})
		code := "invalid"
		if c.status == 413 {
			code = "too_large"
		}
		wantError(t, c.what, r, c.status, code)
	}
	// A heartbeat just under its 256 KiB limit is refused for its content
	// (too many disks: 400), not for its size.
	hb := heartbeat()
	for i := range 2000 {
		hb.Metrics.Disks = append(hb.Metrics.Disks, api.DiskUsage{Mount: "/m" + strings.Repeat("x", 80) + string(rune('a'+i%26)), Total: 10, Used: 1, Percent: 10})
	}
	body := mustJSON(t, hb)
	if len(body) < 200<<10 || len(body) > 256<<10 {
		t.Fatalf("test body is %d bytes, want 200-256 KiB", len(body))
	}
	wantError(t, "heartbeat with 2000 disks", e.agentJSON(t, f.tokA, "POST", "/api/v1/agent/heartbeat", body), 400, "invalid", "disks")
}

// maxBodyForTest is the documented 1 MiB request limit.
const maxBodyForTest = 1 << 20

func testValidation(t *testing.T, e *env, f fixture) {
	type vc struct {
		what, method, path, body string
		msg                      string // the field the message must name
	}
	pools, members := "/api/v1/pools", "/api/v1/pools/p1/members"
	cases := []vc{
		{"pool name upper", "POST", pools, `{"name":"Bad_Name"}`, "pool name"},
		{"pool name empty", "POST", pools, `{"name":""}`, "pool name"},
		{"pool name long", "POST", pools, `{"name":"` + strings.Repeat("a", 64) + `"}`, "pool name"},
		{"pool name hyphen", "POST", pools, `{"name":"-x"}`, "pool name"},
		{"preset", "POST", pools, `{"name":"v1","preset":"haproxy2"}`, "preset"},
		{"failover delay range", "POST", pools, `{"name":"v2","failover_delay":"1s"}`, "failover delay"},
		{"failover delay unparsable", "POST", pools, `{"name":"v3","failover_delay":"soon"}`, "failover_delay"},
		{"failover delay type", "POST", pools, `{"name":"v3","failover_delay":true}`, "failover_delay"},
		{"heartbeat timeout", "POST", pools, `{"name":"v4","heartbeat_timeout":"2h"}`, "heartbeat timeout"},
		{"ttl", "POST", pools, `{"name":"v5","ttl":-5}`, "ttl"},
		{"failback", "POST", pools, `{"name":"v6","failback":"sometimes"}`, "failback"},
		{"hook", "POST", pools, `{"name":"v7","hook":"relative/cmd"}`, "hook"},
		{"failover record", "POST", pools, `{"name":"v8","failover_record":"not a name"}`, "failover record"},
		{"patch ttl", "PATCH", pools + "/p1", `{"ttl":100000}`, "ttl"},
		{"patch failover delay", "PATCH", pools + "/p1", `{"failover_delay":"11m"}`, "failover delay"},
		{"member name", "POST", members, `{"name":"UPPER","address":"192.0.2.1"}`, "member name"},
		{"address", "POST", members, `{"name":"m1","address":"999.1.1.1"}`, "address"},
		{"address missing", "POST", members, `{"name":"m1"}`, "address"},
		{"address unspecified", "POST", members, `{"name":"m1","address":"0.0.0.0"}`, "address"},
		{"address multicast", "POST", members, `{"name":"m1","address":"ff02::1"}`, "address"},
		{"address zoned", "POST", members, `{"name":"m1","address":"fe80::1%eth0"}`, "address"},
		{"cidr prefix", "POST", members, `{"name":"m1","address":"192.0.2.1","allowed_cidrs":["10.0.0.0/33"]}`, "allowed IP"},
		{"cidr junk", "POST", members, `{"name":"m1","address":"192.0.2.1","allowed_cidrs":["nonsense"]}`, "allowed IP"},
		{"probe scheme", "POST", members, `{"name":"m1","address":"192.0.2.1","probe_url":"ftp://x/"}`, "probe"},
		{"probe no port", "POST", members, `{"name":"m1","address":"192.0.2.1","probe_url":"tcp://host"}`, "probe"},
		{"probe port range", "POST", members, `{"name":"m1","address":"192.0.2.1","probe_url":"tcp://host:70000"}`, "probe"},
		{"probe no host", "POST", members, `{"name":"m1","address":"192.0.2.1","probe_url":"http:///x"}`, "probe"},
		{"secret ttl short", "POST", members, `{"name":"m1","address":"192.0.2.1","secret_ttl":"10s"}`, "secret ttl"},
		{"secret ttl unparsable", "POST", members, `{"name":"m1","address":"192.0.2.1","secret_ttl":"1 day"}`, "secret_ttl"},
		{"priority", "POST", members, `{"name":"m1","address":"192.0.2.1","priority":5000}`, "priority"},
		{"location half", "POST", members, `{"name":"m1","address":"192.0.2.1","location":{"lat":10}}`, "location"},
		{"latitude", "POST", members, `{"name":"m1","address":"192.0.2.1","location":{"lat":91,"lon":0}}`, "latitude"},
		{"role", "POST", members, `{"name":"m1","address":"192.0.2.1","role":"two words"}`, "role"},
		{"patch address", "PATCH", members + "/a", `{"address":"nope"}`, "address"},
		{"patch cidrs", "PATCH", members + "/a", `{"allowed_cidrs":["1.2.3.4/99"]}`, "allowed IP"},
		{"patch probe", "PATCH", members + "/a", `{"probe_url":"gopher://x"}`, "probe"},
		{"new secret ttl", "POST", members + "/a/enrollment-secret", `{"ttl":"800h"}`, "ttl"},
		{"token name", "POST", "/api/v1/tokens", `{"name":"  "}`, "token name"},
		{"token ttl", "POST", "/api/v1/tokens", `{"name":"t","ttl":"-1h"}`, "ttl"},
		{"job kind", "POST", members + "/a/jobs", `{"kind":"BAD KIND"}`, "job kind"},
		{"job args", "POST", members + "/a/jobs", `{"kind":"facts.refresh","args":[1,2]}`, "args"},
		{"job attempts", "POST", members + "/a/jobs", `{"kind":"facts.refresh","max_attempts":50}`, "max_attempts"},
	}
	for _, c := range cases {
		wantError(t, c.what, e.adminJSON(t, c.method, c.path, c.body), 400, "invalid", c.msg)
	}
	// Refused members were not created.
	if ms, err := e.c.ListMembers(context.Background(), "p1"); err != nil || len(ms) != 2 {
		t.Errorf("members of p1 after refused adds: got %d (%v), want 2", len(ms), err)
	}
	for _, c := range []struct{ what, body, msg string }{
		{"protocol 0", `{"protocol":0}`, "protocol"},
		{"protocol future", `{"protocol":99}`, "protocol"},
		{"interval short", `{"protocol":1,"interval":"1ms"}`, "interval"},
		{"interval unparsable", `{"protocol":1,"interval":"often"}`, "interval"},
		{"cpu", `{"protocol":1,"metrics":{"cpu_percent":200}}`, "cpu_percent"},
		{"load negative", `{"protocol":1,"metrics":{"load1":-1}}`, "load1"},
		{"mem", `{"protocol":1,"metrics":{"mem_total":1,"mem_used":2}}`, "mem_used"},
		{"disk", `{"protocol":1,"metrics":{"disks":[{"mount":"/","total":1,"used":2,"percent":5}]}}`, "disk"},
		{"agent version", `{"protocol":1,"agent_version":"` + strings.Repeat("v", 65) + `"}`, "agent version"},
	} {
		wantError(t, "heartbeat "+c.what, e.agentJSON(t, f.tokA, "POST", "/api/v1/agent/heartbeat", c.body), 400, "invalid", c.msg)
	}
}

func itoaPath(prefix string, id int64, suffix string) string {
	return prefix + strconv.FormatInt(id, 10) + suffix
}

func testAuth(t *testing.T, e *env, f fixture) {
	checkChallenge := func(what string, r reply) {
		t.Helper()
		if h := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
			t.Errorf("%s: WWW-Authenticate: got %q, want a Bearer challenge", what, h)
		}
	}
	r := e.do(t, req{method: "GET", path: "/api/v1/pools"})
	wantError(t, "no token", r, 401, "unauthorized")
	checkChallenge("no token", r)
	r = e.do(t, req{method: "GET", path: "/api/v1/pools", token: "pat_notarealtoken"})
	wantError(t, "wrong token", r, 401, "unauthorized")
	checkChallenge("wrong token", r)
	r = e.do(t, req{method: "GET", path: "/api/v1/pools", header: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}})
	wantError(t, "basic auth", r, 401, "unauthorized")
	checkChallenge("basic auth", r)
	r = e.do(t, req{method: "POST", path: "/api/v1/pools", body: []byte(`{"name":"noauth"}`), ct: "application/json"})
	wantError(t, "create pool without token", r, 401, "unauthorized")
	r = e.do(t, req{method: "GET", path: "/api/v1/pools", token: f.tokA})
	wantError(t, "agent credential on admin route", r, 403, "forbidden")
	r = e.do(t, req{method: "DELETE", path: "/api/v1/pools/p1?force=true", token: f.tokA})
	wantError(t, "agent credential deleting a pool", r, 403, "forbidden")

	// An expired token.
	var tc api.TokenCreated
	wantStatus(t, "create 1m token", e.adminJSON(t, "POST", "/api/v1/tokens", `{"name":"short","ttl":"1m"}`), 201, &tc)
	wantStatus(t, "fresh 1m token", e.do(t, req{method: "GET", path: "/api/v1/pools", token: tc.Secret}), 200, nil)
	e.clock.Advance(2 * time.Minute)
	r = e.do(t, req{method: "GET", path: "/api/v1/pools", token: tc.Secret})
	wantError(t, "expired token", r, 401, "unauthorized", "expired")
	checkChallenge("expired token", r)

	hb := mustJSON(t, heartbeat())
	r = e.agentJSON(t, e.admin, "POST", "/api/v1/agent/heartbeat", hb)
	wantError(t, "admin token on agent route", r, 401, "unauthorized")
	checkChallenge("admin token on agent route", r)
	r = e.agentJSON(t, "", "POST", "/api/v1/agent/heartbeat", hb)
	wantError(t, "agent route without token", r, 401, "unauthorized")
	checkChallenge("agent route without token", r)
	r = e.agentJSON(t, "pag_forged", "GET", "/api/v1/agent/jobs/next", "")
	wantError(t, "forged agent credential", r, 401, "unauthorized")

	// Member a's agent meddling with b's running job.
	logPath := itoaPath("/api/v1/agent/jobs/", f.jobB, "/log")
	resPath := itoaPath("/api/v1/agent/jobs/", f.jobB, "/result")
	wantError(t, "agent a logs b's job", e.agentJSON(t, f.tokA, "POST", logPath, `{"lines":["evil"]}`), 403, "forbidden")
	wantError(t, "agent a finishes b's job", e.agentJSON(t, f.tokA, "POST", resPath, `{"ok":false,"error":"evil"}`), 403, "forbidden")
	j, err := e.c.GetJob(context.Background(), f.jobB)
	if err != nil || j.Status != api.JobRunning {
		t.Errorf("job of b after a's attempts: got %q (%v), want running", j.Status, err)
	}
	lines, err := e.c.JobLog(context.Background(), f.jobB, 0, 0)
	if err != nil || len(lines) != 0 {
		t.Errorf("job of b log after a's attempt: got %v (%v), want none", lines, err)
	}
	wantError(t, "agent logs a missing job", e.agentJSON(t, f.tokA, "POST", "/api/v1/agent/jobs/999999/log", `{"lines":["x"]}`), 404, "not_found")
	wantError(t, "admin token finishing a job", e.agentJSON(t, e.admin, "POST", resPath, `{"ok":true}`), 401, "unauthorized")
}

func testConflicts(t *testing.T, e *env) {
	ctx := context.Background()
	wantError(t, "duplicate pool", e.adminJSON(t, "POST", "/api/v1/pools", `{"name":"p1"}`), 409, "conflict", "p1")
	wantError(t, "duplicate member", e.adminJSON(t, "POST", "/api/v1/pools/p1/members", `{"name":"a","address":"192.0.2.9"}`), 409, "conflict", "a")
	wantError(t, "member of missing pool", e.adminJSON(t, "POST", "/api/v1/pools/nosuch/members", `{"name":"x","address":"192.0.2.9"}`), 404, "not_found")
	wantError(t, "missing member", e.adminJSON(t, "GET", "/api/v1/pools/p1/members/nosuch", ""), 404, "not_found")
	wantError(t, "missing pool", e.adminJSON(t, "GET", "/api/v1/pools/nosuch", ""), 404, "not_found")
	wantError(t, "ack without banner", e.adminJSON(t, "POST", "/api/v1/pools/p1/banner/ack", ""), 409, "conflict")

	if _, err := e.c.CreatePool(ctx, api.PoolCreate{Name: "doomed"}); err != nil {
		t.Fatal(err)
	}
	tokX := e.enroll(t, e.member(t, "doomed", api.MemberCreate{Name: "x"}).EnrollmentSecret)
	e.member(t, "doomed", api.MemberCreate{Name: "y"})
	wantError(t, "delete pool with members", e.adminJSON(t, "DELETE", "/api/v1/pools/doomed", ""), 409, "conflict", "x", "y", "force")
	wantError(t, "delete pool force=maybe", e.adminJSON(t, "DELETE", "/api/v1/pools/doomed?force=maybe", ""), 400, "invalid", "force")
	if ms, err := e.c.ListMembers(ctx, "doomed"); err != nil || len(ms) != 2 {
		t.Fatalf("members after refused delete: got %d (%v), want 2", len(ms), err)
	}
	var res api.PoolDeleteResult
	wantStatus(t, "delete pool force", e.adminJSON(t, "DELETE", "/api/v1/pools/doomed?force=true", ""), 200, &res)
	if res.Pool != "doomed" || strings.Join(res.RemovedMembers, ",") != "x,y" {
		t.Errorf("delete result: got %+v, want pool doomed, removed [x y]", res)
	}
	wantError(t, "pool after forced delete", e.adminJSON(t, "GET", "/api/v1/pools/doomed", ""), 404, "not_found")
	wantError(t, "agent of a deleted pool", e.agentJSON(t, tokX, "POST", "/api/v1/agent/heartbeat", mustJSON(t, heartbeat())), 410, "gone")

	j, err := e.c.CreateJob(ctx, "p1", "a", api.JobCreate{Kind: "facts.refresh"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CancelJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	wantError(t, "cancel a cancelled job", e.adminJSON(t, "POST", itoaPath("/api/v1/jobs/", j.ID, "/cancel"), ""), 409, "conflict")
	wantError(t, "shell.exec disabled", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/a/jobs", `{"kind":"shell.exec"}`), 403, "forbidden", "shell")
}

func testRouting(t *testing.T, e *env, f fixture) {
	for _, p := range []string{"/api/v1/nope", "/api/v2/pools", "/api/", "/api/v1/pools/p1/members/a/nope", "/api/v1/jobs/1/nope"} {
		wantError(t, "GET "+p, e.adminJSON(t, "GET", p, ""), 404, "not_found")
	}
	// A known path with a method it does not serve: 405 with Allow, as JSON.
	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/api/v1/pools", "GET, POST"},
		{"DELETE", "/api/v1/events", "GET"},
		{"POST", "/api/v1/pools/p1/members/a", "DELETE, GET, PATCH"},
		{"GET", "/api/v1/agent/heartbeat", "POST"},
	} {
		what := c.method + " " + c.path
		r := e.adminJSON(t, c.method, c.path, "")
		wantError(t, what, r, http.StatusMethodNotAllowed, "")
		if got := r.header.Get("Allow"); !sameSet(got, c.allow) {
			t.Errorf("%s: Allow: got %q, want %q", what, got, c.allow)
		}
	}
	// Path IDs that are not positive integers.
	for _, p := range []string{"/api/v1/jobs/abc", "/api/v1/jobs/0", "/api/v1/jobs/-3", "/api/v1/jobs/1.5",
		"/api/v1/jobs/99999999999999999999", "/api/v1/jobs/abc/log", "/api/v1/jobs/%20"} {
		wantError(t, "GET "+p, e.adminJSON(t, "GET", p, ""), 400, "invalid", "id")
	}
	wantError(t, "cancel job x", e.adminJSON(t, "POST", "/api/v1/jobs/x/cancel", ""), 400, "invalid", "id")
	wantError(t, "revoke token x", e.adminJSON(t, "DELETE", "/api/v1/tokens/x", ""), 400, "invalid", "id")
	wantError(t, "agent log job x", e.agentJSON(t, f.tokA, "POST", "/api/v1/agent/jobs/x/log", `{"lines":[]}`), 400, "invalid", "id")
	wantError(t, "agent result job 0", e.agentJSON(t, f.tokA, "POST", "/api/v1/agent/jobs/0/result", `{"ok":true}`), 400, "invalid", "id")
	wantError(t, "missing job", e.adminJSON(t, "GET", "/api/v1/jobs/999999", ""), 404, "not_found")
	wantError(t, "revoke missing token", e.adminJSON(t, "DELETE", "/api/v1/tokens/999999", ""), 404, "not_found")

	// Query parameters out of range.
	log := itoaPath("/api/v1/jobs/", f.jobB, "/log")
	for _, c := range []struct{ path, token, field string }{
		{"/api/v1/events?wait=10h", e.admin, "wait"},
		{"/api/v1/events?wait=-1s", e.admin, "wait"},
		{"/api/v1/events?wait=soon", e.admin, "wait"},
		{"/api/v1/events?limit=-1", e.admin, "limit"},
		{"/api/v1/events?limit=many", e.admin, "limit"},
		{"/api/v1/events?after=x", e.admin, "after"},
		{"/api/v1/events?since=yesterday", e.admin, "since"},
		{"/api/v1/events?since=-1h", e.admin, "since"},
		{log + "?wait=2m", e.admin, "wait"},
		{log + "?after=-1", e.admin, "after"},
		{"/api/v1/agent/jobs/next?wait=10h", f.tokA, "wait"},
		{"/api/v1/agent/jobs/next?wait=1", f.tokA, "wait"},
	} {
		wantError(t, "GET "+c.path, e.do(t, req{method: "GET", path: c.path, token: c.token}), 400, "invalid", c.field)
	}
}

func sameSet(a, b string) bool {
	norm := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, f := range strings.Split(s, ",") {
			if f = strings.TrimSpace(f); f != "" && f != "HEAD" {
				m[f] = true
			}
		}
		return m
	}
	ma, mb := norm(a), norm(b)
	if len(ma) != len(mb) {
		return false
	}
	for k := range ma {
		if !mb[k] {
			return false
		}
	}
	return true
}
