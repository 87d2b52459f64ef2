package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/metrics"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// fakeDNS stands for the nameserver's counters.
type fakeDNS struct{}

func (fakeDNS) DNSCounters() (uint64, map[string]uint64) {
	return 7, map[string]uint64{"NOERROR": 5, "NXDOMAIN": 2}
}

// fleetStates reads the test fleet's live member states.
type fleetStates struct{ e **env }

func (f fleetStates) MemberStates() []metrics.MemberState {
	var out []metrics.MemberState
	for _, l := range (*f.e).svc.LiveStates() {
		out = append(out, metrics.MemberState{Pool: l.Pool, Member: l.Member, Status: l.Status})
	}
	return out
}

// scrape reads /metrics with token and parses it with the Prometheus text
// parser.
func scrape(t *testing.T, e *env, token string) map[string]*dto.MetricFamily {
	t.Helper()
	r := e.do(t, req{method: "GET", path: "/metrics", token: token})
	if r.status != 200 {
		t.Fatalf("GET /metrics: got %s, want 200", r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("GET /metrics: Content-Type: got %q, want text/plain (the text exposition format)", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, r.body)
	}
	return fams
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestMetrics(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	var e *env
	reg := metrics.New(metrics.Config{DNS: fakeDNS{}, Members: fleetStates{&e}})
	e = newEnvWith(t, st, func(d *apiserver.Deps) { d.Metrics = reg })
	ctx := context.Background()

	// Without a token, or with a token of another scope: refused.
	wantError(t, "metrics without a token", e.do(t, req{method: "GET", path: "/metrics"}), 401, "unauthorized")
	wantError(t, "metrics with a bad token", e.do(t, req{method: "GET", path: "/metrics", token: "pat_nosuch"}), 401, "unauthorized")
	clusterTok, err := e.c.CreateToken(ctx, api.TokenCreate{Name: "ns2", Scope: "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, "metrics with a cluster token", e.do(t, req{method: "GET", path: "/metrics", token: clusterTok.Secret}), 403, "forbidden")

	e.adminJSON(t, "POST", "/api/v1/pools", `{"name":"p1"}`)
	tok := e.enroll(t, e.member(t, "p1", api.MemberCreate{Name: "web1"}).EnrollmentSecret)
	e.member(t, "p1", api.MemberCreate{Name: "web2"})
	const beats = 3
	for range beats {
		wantStatus(t, "heartbeat", e.do(t, req{method: "POST", path: "/api/v1/agent/heartbeat", token: tok, body: []byte(mustJSON(t, heartbeat())), ct: "application/json"}), 200, nil)
	}
	for _, name := range []string{"nosuch-a", "nosuch-b", "nosuch-c"} {
		wantError(t, "missing pool", e.do(t, req{method: "GET", path: "/api/v1/pools/" + name, token: e.admin}), 404, "not_found")
	}

	fams := scrape(t, e, e.admin)

	if f := fams["poolctl_heartbeats_received_total"]; f == nil || f.GetMetric()[0].GetCounter().GetValue() != beats {
		t.Errorf("poolctl_heartbeats_received_total: got %v, want %d", f, beats)
	}

	// Durations by route pattern and status class, never the raw path.
	h := fams["poolctl_api_request_duration_seconds"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("poolctl_api_request_duration_seconds: got %v, want a histogram", h)
	}
	var pool4xx uint64
	for _, m := range h.GetMetric() {
		route := label(m, "route")
		if strings.Contains(route, "nosuch") {
			t.Errorf("request histogram: got route label %q, want the route pattern", route)
		}
		if route == "/api/v1/pools/{pool}" && label(m, "method") == "GET" && label(m, "code") == "4xx" {
			pool4xx = m.GetHistogram().GetSampleCount()
		}
	}
	if pool4xx != 3 {
		t.Errorf(`request histogram {method="GET",route="/api/v1/pools/{pool}",code="4xx"}: got %d samples, want 3`, pool4xx)
	}

	// DNS responses by RCODE, from the nameserver's counters.
	rc := map[string]float64{}
	for _, m := range fams["poolctl_dns_responses_total"].GetMetric() {
		rc[label(m, "rcode")] = m.GetCounter().GetValue()
	}
	if rc["NOERROR"] != 5 || rc["NXDOMAIN"] != 2 {
		t.Errorf("poolctl_dns_responses_total: got %v, want NOERROR 5, NXDOMAIN 2", rc)
	}

	// Per-member state: web1 beat (healthy, 1), web2 never did (pending, 0).
	state := map[string]float64{}
	for _, m := range fams["poolctl_member_state"].GetMetric() {
		state[label(m, "pool")+"/"+label(m, "member")] = m.GetGauge().GetValue()
	}
	if len(state) != 2 || state["p1/web1"] != 1 || state["p1/web2"] != 0 {
		t.Errorf("poolctl_member_state: got %v, want p1/web1 1 (healthy) and p1/web2 0 (pending)", state)
	}

	// Counters fed by the failover engine and the notification workers.
	reg.Failover("cut")
	reg.Delivery("webhook", "delivered")
	reg.Delivery("email", "retry")
	fams = scrape(t, e, e.admin)
	if f := fams["poolctl_failovers_total"]; f == nil || label(f.GetMetric()[0], "kind") != "cut" || f.GetMetric()[0].GetCounter().GetValue() != 1 {
		t.Errorf("poolctl_failovers_total: got %v, want kind=cut 1", f)
	}
	got := map[string]float64{}
	for _, m := range fams["poolctl_notify_deliveries_total"].GetMetric() {
		got[label(m, "kind")+"/"+label(m, "outcome")] = m.GetCounter().GetValue()
	}
	if len(got) != 2 || got["webhook/delivered"] != 1 || got["email/retry"] != 1 {
		t.Errorf("poolctl_notify_deliveries_total: got %v, want webhook/delivered 1, email/retry 1", got)
	}
	// The scrape itself is observed under its own pattern.
	found := false
	for _, m := range fams["poolctl_api_request_duration_seconds"].GetMetric() {
		found = found || (label(m, "route") == "/metrics" && label(m, "code") == "2xx")
	}
	if !found {
		t.Errorf(`request histogram: got no {route="/metrics",code="2xx"} series after two scrapes`)
	}
}

func TestMetricsUnavailable(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	wantError(t, "metrics without a registry", e.do(t, req{method: "GET", path: "/metrics", token: e.admin}), 503, "unavailable", "metrics")
}

func TestHealthz(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	e := newEnv(t, st)
	r := e.do(t, req{method: "GET", path: "/healthz"})
	if r.status != 200 || strings.TrimSpace(string(r.body)) != "ok" {
		t.Fatalf("GET /healthz: got %s, want 200 ok", r)
	}
	// Liveness is the process only: a closed store does not fail it.
	st.Close()
	if r := e.do(t, req{method: "GET", path: "/healthz"}); r.status != 200 {
		t.Errorf("GET /healthz with the store closed: got %s, want 200", r)
	}
}

func TestReadyz(t *testing.T) { storetest.Each(t, testReadyz) }

func testReadyz(t *testing.T, st *store.Store) {
	var dnsErr error
	e := newEnvWith(t, st, func(d *apiserver.Deps) {
		d.Ready = []apiserver.ReadyCheck{{Name: "nameserver", Check: func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("check called without a deadline")
			}
			return dnsErr
		}}}
	})
	r := e.do(t, req{method: "GET", path: "/readyz"})
	if r.status != 200 || strings.TrimSpace(string(r.body)) != "ready" {
		t.Fatalf("GET /readyz: got %s, want 200 ready", r)
	}

	dnsErr = errors.New("DNS query to 127.0.0.1:5353: i/o timeout")
	r = e.do(t, req{method: "GET", path: "/readyz"})
	d := wantError(t, "readyz with the nameserver silent", r, 503, "unavailable", "nameserver", "i/o timeout")
	if strings.Contains(d.Message, "store") {
		t.Errorf("readyz: got %q, want only the nameserver named", d.Message)
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(r.body, &eb); err != nil || eb.Error.Code == "" {
		t.Errorf("readyz body: got %s, want {\"error\":{\"code\",\"message\"}}", r.body)
	}

	dnsErr = nil
	st.Close()
	r = e.do(t, req{method: "GET", path: "/readyz"})
	wantError(t, "readyz with the store closed", r, 503, "unavailable", "store")
}
