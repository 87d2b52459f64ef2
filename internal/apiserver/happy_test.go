package apiserver_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// TestHappyPath drives the API through the public Go client, on every
// store dialect.
func TestHappyPath(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		t.Run("pools", func(t *testing.T) { testPools(t, e) })
		t.Run("members", func(t *testing.T) { testMembers(t, e) })
		t.Run("agent", func(t *testing.T) { testAgent(t, e) })
		t.Run("tokens", func(t *testing.T) { testTokens(t, e) })
		t.Run("events", func(t *testing.T) { testEvents(t, e) })
		t.Run("jobs", func(t *testing.T) { testJobs(t, e) })
		t.Run("delete-pool", func(t *testing.T) { testDeletePool(t, e) })
	})
}

func testPools(t *testing.T, e *env) {
	ctx := context.Background()
	var r struct{ Status, Database string }
	wantStatus(t, "health", e.do(t, req{method: "GET", path: "/api/v1/health"}), 200, &r)
	if r.Status != "ok" || r.Database != "ok" {
		t.Errorf("health: got %+v, want ok/ok", r)
	}
	p, err := e.c.CreatePool(ctx, api.PoolCreate{Name: "web", Description: " front ends ", FailoverDelay: api.Duration(45 * time.Second),
		TTL: 60, FailoverRecord: "WWW.Example.COM."})
	if err != nil {
		t.Fatalf("create pool: %v", err)
	}
	if p.Name != "web" || p.Preset != "generic" || p.Description != "front ends" || p.FailoverDelay.D() != 45*time.Second ||
		p.TTL != 60 || p.Failback != api.FailbackManual || p.HeartbeatTimeout.D() != 10*time.Second || p.FailoverRecord != "www.example.com" {
		t.Errorf("created pool: got %+v, want web/generic with the given settings and defaults", p)
	}
	if _, err := e.c.CreatePool(ctx, api.PoolCreate{Name: "tmp"}); err != nil {
		t.Fatal(err)
	}
	ps, err := e.c.ListPools(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "tmp,web" {
		t.Errorf("pool list: got %v, want [tmp web]", names)
	}
	got, err := e.c.GetPool(ctx, "web")
	if err != nil || got.Name != "web" || got.TTL != 60 {
		t.Errorf("show pool: got %+v (%v), want web with ttl 60", got, err)
	}
	desc, ttl, fb, delay := "edge", 120, api.FailbackAuto, api.Duration(time.Minute)
	up, err := e.c.UpdatePool(ctx, "web", api.PoolUpdate{Description: &desc, TTL: &ttl, Failback: &fb, FailoverDelay: &delay})
	if err != nil {
		t.Fatalf("update pool: %v", err)
	}
	if up.Description != "edge" || up.TTL != 120 || up.Failback != api.FailbackAuto || up.FailoverDelay.D() != time.Minute || up.FailoverRecord != "www.example.com" {
		t.Errorf("updated pool: got %+v, want description edge, ttl 120, failback auto, delay 1m, record kept", up)
	}
	if got, _ := e.c.GetPool(ctx, "web"); got.TTL != 120 || got.Description != "edge" {
		t.Errorf("pool after update: got ttl %d description %q, want 120 edge", got.TTL, got.Description)
	}
	res, err := e.c.DeletePool(ctx, "tmp", false)
	if err != nil || res.Pool != "tmp" || res.RemovedMembers == nil || len(res.RemovedMembers) != 0 {
		t.Errorf("delete empty pool: got %+v (%v), want pool tmp, removed_members []", res, err)
	}
	_, err = e.c.GetPool(ctx, "tmp")
	wantAPIError(t, "deleted pool", err, 404, "not_found")
}

func testMembers(t *testing.T, e *env) {
	ctx := context.Background()
	lat, lon := 52.37, 4.89
	ma, err := e.c.AddMember(ctx, "web", api.MemberCreate{Name: "web1", Address: " 192.0.2.10 ", AllowedCIDRs: []string{"127.0.0.1", "10.1.2.3/8", "10.0.0.0/8"},
		ProbeURL: "tcp://192.0.2.10:443", Location: api.Location{Lat: &lat, Lon: &lon, Text: "Amsterdam"}, Role: "primary"})
	if err != nil {
		t.Fatalf("add member: %v", err)
	}
	m := ma.Member
	if !strings.HasPrefix(ma.EnrollmentSecret, "pe1.") || ma.SecretExpiresAt.Before(e.clock.Now().Add(23*time.Hour)) {
		t.Errorf("enrolment secret: got %q expiring %v, want pe1.… valid for 24h", ma.EnrollmentSecret, ma.SecretExpiresAt)
	}
	if m.Name != "web1" || m.Pool != "web" || m.Address != "192.0.2.10" || m.Status != api.StatusPending || m.Enrolled ||
		m.LastHeartbeatAt != nil || m.Priority != 100 || !slices.Equal(m.AllowedCIDRs, []string{"127.0.0.1/32", "10.0.0.0/8"}) {
		t.Errorf("added member: got %+v, want web1 pending, not enrolled, priority 100, CIDRs normalised", m)
	}
	if _, err := e.c.AddMember(ctx, "web", api.MemberCreate{Name: "web2", Address: "2001:db8::2"}); err != nil {
		t.Fatal(err)
	}
	ms, err := e.c.ListMembers(ctx, "web")
	if err != nil || len(ms) != 2 || ms[0].Name != "web1" || ms[1].Name != "web2" {
		t.Fatalf("member list: got %v (%v), want web1, web2", ms, err)
	}
	// The DESIGN's member JSON fields are all present.
	var raw map[string]json.RawMessage
	wantStatus(t, "show member raw", e.adminJSON(t, "GET", "/api/v1/pools/web/members/web1", ""), 200, &raw)
	for _, k := range []string{"name", "address", "status", "active", "last_heartbeat_at", "facts", "stack"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("member JSON: got keys %v, want %q among them", keys(raw), k)
		}
	}
	if string(raw["last_heartbeat_at"]) != "null" {
		t.Errorf("member last_heartbeat_at before any beat: got %s, want null", raw["last_heartbeat_at"])
	}
	prio, role, shell := 10, "standby", true
	up, err := e.c.UpdateMember(ctx, "web", "web2", api.MemberUpdate{Priority: &prio, Role: &role, ShellEnabled: &shell})
	if err != nil || up.Priority != 10 || up.Role != "standby" || !up.ShellEnabled || up.Address != "2001:db8::2" {
		t.Errorf("update member: got %+v (%v), want priority 10, role standby, shell on, address kept", up, err)
	}
	if got, err := e.c.GetMember(ctx, "web", "web2"); err != nil || got.Priority != 10 || got.Role != "standby" {
		t.Errorf("show member after update: got %+v (%v), want priority 10 role standby", got, err)
	}
	if err := e.c.RemoveMember(ctx, "web", "web2", false); err != nil {
		t.Fatalf("remove member: %v", err)
	}
	_, err = e.c.GetMember(ctx, "web", "web2")
	wantAPIError(t, "removed member", err, 404, "not_found")
	if ms, _ := e.c.ListMembers(ctx, "web"); len(ms) != 1 {
		t.Errorf("members after removal: got %d, want 1", len(ms))
	}

	// A new secret replaces the old one.
	ns, err := e.c.NewEnrollmentSecret(ctx, "web", "web1", 2*time.Hour)
	if err != nil {
		t.Fatalf("new secret: %v", err)
	}
	if ns.EnrollmentSecret == ma.EnrollmentSecret || ns.SecretExpiresAt.After(e.clock.Now().Add(2*time.Hour+time.Minute)) {
		t.Errorf("new secret: got %q expiring %v, want a different secret valid for 2h", ns.EnrollmentSecret, ns.SecretExpiresAt)
	}
	anon := e.client(t, "")
	_, err = anon.Enroll(ctx, api.EnrollRequest{Secret: ma.EnrollmentSecret})
	wantAPIError(t, "enrol with the replaced secret", err, 403, "forbidden")
	if e.enrolled(t, "web", "web1") {
		t.Errorf("member after the replaced secret: got enrolled, want not")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func testAgent(t *testing.T, e *env) {
	ctx := context.Background()
	ns, err := e.c.NewEnrollmentSecret(ctx, "web", "web1", 0)
	if err != nil {
		t.Fatal(err)
	}
	enr, err := e.client(t, "").Enroll(ctx, api.EnrollRequest{Secret: ns.EnrollmentSecret, Hostname: "web1.example", AgentVersion: "1.2.3"})
	if err != nil {
		t.Fatalf("enrol: %v", err)
	}
	if enr.Pool != "web" || enr.Member != "web1" || enr.HeartbeatInterval.D() != 2*time.Second {
		t.Errorf("enrolment: got %+v, want web/web1 with a 2s interval", enr)
	}
	e.agent = enr.Token
	ag := e.client(t, enr.Token)
	hb := heartbeat()
	hb.Facts = &api.Facts{Hostname: "web1.example", OS: "linux", Arch: "amd64", CPUCount: 4}
	hb.Stack = &api.Stack{MariaDB: &api.Component{Detected: true, Version: "10.11.6", Running: true}}
	before := e.clock.Now()
	rep, err := ag.Heartbeat(ctx, hb)
	if err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if rep.Status != api.StatusHealthy || rep.ServerTime.Before(before.Add(-time.Second)) || rep.SendFacts {
		t.Errorf("heartbeat reply: got %+v, want healthy with the server time and no facts request", rep)
	}
	m, err := e.c.GetMember(ctx, "web", "web1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != api.StatusHealthy || !m.Enrolled || m.LastHeartbeatAt == nil || m.HealthySince == nil ||
		m.AgentVersion != "test-1.0" || m.Metrics == nil || m.Metrics.CPUPercent != 12.5 || len(m.Metrics.Disks) != 1 {
		t.Errorf("member after a heartbeat: got %+v, want healthy, enrolled, with metrics and agent version", m)
	}
	// Facts and stack reach the store with the next flush.
	if err := e.svc.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	m, err = e.c.GetMember(ctx, "web", "web1")
	if err != nil {
		t.Fatal(err)
	}
	if m.Facts.Hostname != "web1.example" || m.Facts.CPUCount != 4 || m.Stack.MariaDB == nil || m.Stack.MariaDB.Version != "10.11.6" {
		t.Errorf("member facts/stack: got %+v / %+v, want hostname web1.example, 4 CPUs, MariaDB 10.11.6", m.Facts, m.Stack)
	}
	if p, _ := e.c.GetPool(ctx, "web"); p.MemberCount != 1 || p.HealthyCount != 1 {
		t.Errorf("pool counts: got %d members, %d healthy, want 1, 1", p.MemberCount, p.HealthyCount)
	}
}

func testTokens(t *testing.T, e *env) {
	ctx := context.Background()
	tc, err := e.c.CreateToken(ctx, api.TokenCreate{Name: "ci", TTL: api.Duration(time.Hour)})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	if !strings.HasPrefix(tc.Secret, "pat_") || tc.Token.Name != "ci" || tc.Token.ExpiresAt == nil || !strings.HasPrefix(tc.Secret, tc.Token.Prefix) {
		t.Errorf("created token: got %+v, want a pat_ secret named ci with an expiry", tc)
	}
	ci := e.client(t, tc.Secret)
	if _, err := ci.ListPools(ctx); err != nil {
		t.Errorf("use new token: got %v, want success", err)
	}
	ts, err := e.c.ListTokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tk := range ts {
		found = found || tk.ID == tc.Token.ID
	}
	if !found || len(ts) != 2 {
		t.Errorf("token list: got %+v, want the bootstrap token and ci", ts)
	}
	raw := e.adminJSON(t, "GET", "/api/v1/tokens", "")
	if strings.Contains(string(raw.body), tc.Secret) || strings.Contains(string(raw.body), "secret") {
		t.Errorf("token list shows secrets: %s", raw.body)
	}
	if err := e.c.RevokeToken(ctx, tc.Token.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	_, err = ci.ListPools(ctx)
	wantAPIError(t, "revoked token", err, 401, "unauthorized")
	err = e.c.RevokeToken(ctx, tc.Token.ID)
	wantAPIError(t, "revoke twice", err, 404, "not_found")
	if ts, _ := e.c.ListTokens(ctx); len(ts) != 1 {
		t.Errorf("tokens after revoke: got %d, want 1", len(ts))
	}
}

func testEvents(t *testing.T, e *env) {
	ctx := context.Background()
	all, err := e.c.Events(ctx, client.EventQuery{})
	if err != nil || len(all) == 0 {
		t.Fatalf("events: got %d (%v), want some", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		if all[i].ID <= all[i-1].ID {
			t.Fatalf("events: got IDs %d then %d, want ascending", all[i-1].ID, all[i].ID)
		}
	}
	check := func(what string, q client.EventQuery, ok func(api.Event) bool, min int) {
		t.Helper()
		evs, err := e.c.Events(ctx, q)
		if err != nil || len(evs) < min {
			t.Errorf("%s: got %d events (%v), want at least %d", what, len(evs), err, min)
		}
		for _, ev := range evs {
			if !ok(ev) {
				t.Errorf("%s: got event %+v, want it filtered out", what, ev)
			}
		}
	}
	check("pool filter", client.EventQuery{Pool: "web"}, func(ev api.Event) bool { return ev.Pool == "web" }, 3)
	check("member filter", client.EventQuery{Member: "web1"}, func(ev api.Event) bool { return ev.Member == "web1" }, 2)
	check("kind filter", client.EventQuery{Kind: "member.added"}, func(ev api.Event) bool { return ev.Kind == "member.added" }, 2)
	check("kind prefix", client.EventQuery{Kind: "member."}, func(ev api.Event) bool { return strings.HasPrefix(ev.Kind, "member.") }, 4)
	check("after", client.EventQuery{After: all[1].ID}, func(ev api.Event) bool { return ev.ID > all[1].ID }, len(all)-2)
	check("since", client.EventQuery{Since: e.clock.Now().Add(time.Hour)}, func(api.Event) bool { return false }, 0)
	if evs, _ := e.c.Events(ctx, client.EventQuery{Limit: 2}); len(evs) != 2 || evs[1].ID != all[len(all)-1].ID {
		t.Errorf("limit 2: got %v, want the newest two events", evs)
	}
	var l api.List[api.Event]
	wantStatus(t, "since=1h", e.adminJSON(t, "GET", "/api/v1/events?since=1h&kind=pool.created", ""), 200, &l)
	if len(l.Items) != 2 || l.NextAfter != l.Items[1].ID {
		t.Errorf("since=1h kind=pool.created: got %+v, want 2 events and next_after the last ID", l)
	}

	// Long poll: nothing matches yet, then an event arrives during the wait.
	last := all[len(all)-1].ID
	start := time.Now()
	evs, err := e.c.Events(ctx, client.EventQuery{After: last, Kind: "no.such-kind", Wait: 300 * time.Millisecond})
	if err != nil || len(evs) != 0 || time.Since(start) < 250*time.Millisecond {
		t.Errorf("idle long poll: got %d events (%v) after %v, want none after about 300ms", len(evs), err, time.Since(start))
	}
	type result struct {
		evs []api.Event
		err error
	}
	done := make(chan result, 1)
	go func() {
		evs, err := e.c.Events(ctx, client.EventQuery{After: last, Kind: "pool.updated", Wait: 20 * time.Second})
		done <- result{evs, err}
	}()
	time.Sleep(300 * time.Millisecond)
	// An unrelated event does not end the wait; the matching one does.
	if _, err := e.c.CreateToken(ctx, api.TokenCreate{Name: "noise"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("long poll ended on an unrelated event: %+v (%v)", r.evs, r.err)
	default:
	}
	d := "long-polled"
	if _, err := e.c.UpdatePool(ctx, "web", api.PoolUpdate{Description: &d}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || len(r.evs) != 1 || r.evs[0].Kind != "pool.updated" || r.evs[0].Pool != "web" {
			t.Errorf("long poll: got %+v (%v), want one pool.updated event of web", r.evs, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("long poll: got nothing within 10s of the event, want it at once")
	}
}
