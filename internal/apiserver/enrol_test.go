package apiserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

const enrollPath = "/api/v1/agent/enroll"

func (e *env) postEnroll(t *testing.T, secret string) reply {
	t.Helper()
	body := mustJSON(t, api.EnrollRequest{Secret: secret, Hostname: "host.test", AgentVersion: "test"})
	return e.do(t, req{method: "POST", path: enrollPath, body: []byte(body), ct: "application/json"})
}

func (e *env) enrolled(t *testing.T, pool, member string) bool {
	t.Helper()
	m, err := e.c.GetMember(context.Background(), pool, member)
	if err != nil {
		t.Fatalf("get member %s/%s: %v", pool, member, err)
	}
	return m.Enrolled
}

// testEnrolRefused: reused, wrong, malformed and expired secrets and a
// source outside the allowed IPs are refused with 403; nothing changes and
// an enrollment.refused event is recorded each time.
func testEnrolRefused(t *testing.T, e *env) {
	refusals := func() int { return e.countEvents(t, "enrollment.refused", "") }
	hb := mustJSON(t, heartbeat())

	// Reused.
	ma := e.member(t, "p1", api.MemberCreate{Name: "reuse"})
	var first api.EnrollResponse
	wantStatus(t, "first enrolment", e.postEnroll(t, ma.EnrollmentSecret), 201, &first)
	if first.Pool != "p1" || first.Member != "reuse" || !strings.HasPrefix(first.Token, "pag_") {
		t.Errorf("enrol answer: got %+v, want p1/reuse with a pag_ token", first)
	}
	n := refusals()
	wantError(t, "reused secret", e.postEnroll(t, ma.EnrollmentSecret), 403, "forbidden", "already used")
	if got := refusals(); got != n+1 {
		t.Errorf("enrollment.refused events after a reused secret: got %d, want %d", got, n+1)
	}
	if r := e.agentJSON(t, first.Token, "POST", "/api/v1/agent/heartbeat", hb); r.status != 200 {
		t.Errorf("first credential after a refused reuse: got %s, want 200", r)
	}

	// Wrong (well-formed) and malformed secrets.
	parts := strings.Split(ma.EnrollmentSecret, ".")
	for _, c := range []struct{ what, secret string }{
		{"wrong secret", "pe1." + parts[1] + "." + strings.Repeat("A", 43)},
		{"malformed secret", "hello"},
		{"empty secret", ""},
		{"admin token as secret", e.admin},
	} {
		n := refusals()
		wantError(t, c.what, e.postEnroll(t, c.secret), 403, "forbidden")
		if got := refusals(); got != n+1 {
			t.Errorf("enrollment.refused events after %s: got %d, want %d", c.what, got, n+1)
		}
	}

	// Expired: the secret lives one minute; the clock jumps two.
	late := e.member(t, "p1", api.MemberCreate{Name: "late", SecretTTL: api.Duration(time.Minute)})
	e.clock.Advance(2 * time.Minute)
	n = refusals()
	wantError(t, "expired secret", e.postEnroll(t, late.EnrollmentSecret), 403, "forbidden", "expired")
	if got := refusals(); got != n+1 {
		t.Errorf("enrollment.refused events after an expired secret: got %d, want %d", got, n+1)
	}
	if e.enrolled(t, "p1", "late") {
		t.Errorf("member late after an expired secret: got enrolled, want not enrolled")
	}

	// From outside the allowed source ranges (the test client is 127.0.0.1).
	fenced := e.member(t, "p1", api.MemberCreate{Name: "fenced", AllowedCIDRs: []string{"198.51.100.0/24"}})
	wantError(t, "disallowed source", e.postEnroll(t, fenced.EnrollmentSecret), 403, "forbidden", "127.0.0.1", "198.51.100.0/24")
	if e.enrolled(t, "p1", "fenced") {
		t.Errorf("member fenced after a refused source: got enrolled, want not enrolled")
	}
	if got := e.countEvents(t, "enrollment.refused", "fenced"); got != 1 {
		t.Errorf("enrollment.refused events of member fenced: got %d, want 1", got)
	}
	// The refusal did not use the secret up: once the source is allowed, it works.
	cidrs := []string{"198.51.100.0/24", "127.0.0.1"}
	if _, err := e.c.UpdateMember(context.Background(), "p1", "fenced", api.MemberUpdate{AllowedCIDRs: &cidrs}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "enrolment after allowing the source", e.postEnroll(t, fenced.EnrollmentSecret), 201, nil)
	if !e.enrolled(t, "p1", "fenced") {
		t.Errorf("member fenced after allowing its source: got not enrolled, want enrolled")
	}
}

// testRemovedMember: the agent of a removed or re-enrolled member is told
// to stop with 410 on every agent route.
func testRemovedMember(t *testing.T, e *env) {
	ctx := context.Background()
	hb := mustJSON(t, heartbeat())
	ma := e.member(t, "p1", api.MemberCreate{Name: "leaver"})
	tok := e.enroll(t, ma.EnrollmentSecret)
	wantStatus(t, "heartbeat before removal", e.agentJSON(t, tok, "POST", "/api/v1/agent/heartbeat", hb), 200, nil)
	if err := e.c.RemoveMember(ctx, "p1", "leaver", false); err != nil {
		t.Fatalf("remove member: %v", err)
	}
	wantError(t, "heartbeat after removal", e.agentJSON(t, tok, "POST", "/api/v1/agent/heartbeat", hb), 410, "gone", "leaver")
	wantError(t, "next job after removal", e.agentJSON(t, tok, "GET", "/api/v1/agent/jobs/next", ""), 410, "gone")
	wantError(t, "job log after removal", e.agentJSON(t, tok, "POST", "/api/v1/agent/jobs/1/log", `{"lines":["x"]}`), 410, "gone")
	wantError(t, "member after removal", e.adminJSON(t, "GET", "/api/v1/pools/p1/members/leaver", ""), 404, "not_found")
	wantError(t, "remove twice", e.adminJSON(t, "DELETE", "/api/v1/pools/p1/members/leaver", ""), 404, "not_found")

	// Re-enrolment retires the previous credential.
	ma = e.member(t, "p1", api.MemberCreate{Name: "again"})
	tok1 := e.enroll(t, ma.EnrollmentSecret)
	ns, err := e.c.NewEnrollmentSecret(ctx, "p1", "again", 0)
	if err != nil {
		t.Fatal(err)
	}
	tok2 := e.enroll(t, ns.EnrollmentSecret)
	wantError(t, "old credential after re-enrolment", e.agentJSON(t, tok1, "POST", "/api/v1/agent/heartbeat", hb), 410, "gone")
	wantStatus(t, "new credential after re-enrolment", e.agentJSON(t, tok2, "POST", "/api/v1/agent/heartbeat", hb), 200, nil)
}

// testOddText sends names and values with bytes SQL databases treat
// specially (invalid UTF-8, NUL): the answer is a 4xx error or a success
// that round-trips, never a 500.
func testOddText(t *testing.T, e *env, f fixture) {
	ctx := context.Background()
	// Text no database stores is refused before it reaches one: 400.
	for _, p := range []string{"/api/v1/pools/%FF", "/api/v1/pools/%00", "/api/v1/pools/p1/members/%FF",
		"/api/v1/pools/%C3%28/members", "/api/v1/pools/p1/members/a%00/jobs"} {
		wantError(t, "GET "+p, e.adminJSON(t, "GET", p, ""), 400, "invalid", "UTF-8")
	}
	for _, q := range []string{"pool=%FF", "member=%00", "kind=%FF.*"} {
		wantError(t, "GET /api/v1/events?"+q, e.adminJSON(t, "GET", "/api/v1/events?"+q, ""), 400, "invalid", "UTF-8")
	}
	wantError(t, "pool name NUL", e.adminJSON(t, "POST", "/api/v1/pools", `{"name":"a\u0000"}`), 400, "invalid", "NUL")

	// Free-text fields: stored as sent, or refused as invalid.
	nul := "x\u0000y"
	accepted := func(what string, r reply, ok int) bool {
		t.Helper()
		if r.status == ok {
			return true
		}
		if r.status != 400 {
			t.Errorf("%s: got %s, want %d (stored as sent) or 400 invalid", what, r, ok)
			return false
		}
		wantError(t, what, r, 400, "invalid")
		return false
	}
	if accepted("pool description with NUL", e.adminJSON(t, "PATCH", "/api/v1/pools/p1", mustJSON(t, api.PoolUpdate{Description: &nul})), 200) {
		if p, err := e.c.GetPool(ctx, "p1"); err != nil || p.Description != nul {
			t.Errorf("pool description: got %q (%v), want %q", p.Description, err, nul)
		}
	}
	if accepted("member role with NUL", e.adminJSON(t, "PATCH", "/api/v1/pools/p1/members/a", mustJSON(t, api.MemberUpdate{Role: &nul})), 200) {
		if m, err := e.c.GetMember(ctx, "p1", "a"); err != nil || m.Role != nul {
			t.Errorf("member role: got %q (%v), want %q", m.Role, err, nul)
		}
	}
	accepted("token name with NUL", e.adminJSON(t, "POST", "/api/v1/tokens", mustJSON(t, api.TokenCreate{Name: nul})), 201)
	if accepted("job log line with NUL", e.agentJSON(t, f.tokB, "POST", itoaPath("/api/v1/agent/jobs/", f.jobB, "/log"), mustJSON(t, api.JobLogAppend{Lines: []string{nul}})), 204) {
		lines, err := e.c.JobLog(ctx, f.jobB, 0, 0)
		if err != nil || len(lines) != 1 || lines[0].Line != nul {
			t.Errorf("job log: got %+v (%v), want one line %q", lines, err, nul)
		}
	}

	// A heartbeat the API accepts must reach the store: one agent's odd
	// version string must not keep every member's heartbeats from being
	// written (they are flushed in one batch).
	hb := heartbeat()
	hb.AgentVersion = nul
	if accepted("heartbeat agent_version with NUL", e.agentJSON(t, f.tokA, "POST", "/api/v1/agent/heartbeat", mustJSON(t, hb)), 200) {
		wantStatus(t, "heartbeat of b", e.agentJSON(t, f.tokB, "POST", "/api/v1/agent/heartbeat", mustJSON(t, heartbeat())), 200, nil)
		if err := e.svc.Flush(ctx); err != nil {
			t.Errorf("flush after an accepted heartbeat: got %v, want nil", err)
		}
	}
	// Leave a clean pending heartbeat behind.
	wantStatus(t, "clean heartbeat of a", e.agentJSON(t, f.tokA, "POST", "/api/v1/agent/heartbeat", mustJSON(t, heartbeat())), 200, nil)
	_ = e.svc.Flush(ctx)
}
