package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
)

// caFingerprint is a made-up hex SHA-256 of the server CA.
var caFingerprint = strings.Repeat("ab", 32)

// clock is a wall clock the test can push forward.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// env is one API server over one fresh store.
type env struct {
	svc   *fleet.Service
	srv   *httptest.Server
	clock *clock
	admin string         // admin bearer token
	c     *client.Client // admin client
	agent string         // an agent credential a test enrolled (happy path: web1)
}

func newEnv(t testing.TB, st *store.Store) *env { return newEnvWith(t, st, nil) }

// newEnvWith is newEnv with a chance to change the server's dependencies.
func newEnvWith(t testing.TB, st *store.Store, with func(*apiserver.Deps)) *env {
	t.Helper()
	clk := &clock{}
	svc := fleet.New(st, fleet.Config{CAFingerprint: caFingerprint, Now: clk.Now})
	ctx := context.Background()
	if err := svc.Start(ctx); err != nil {
		t.Fatalf("fleet start: %v", err)
	}
	admin := fleet.NewAdminToken()
	if err := svc.EnsureAdminToken(ctx, admin); err != nil {
		t.Fatalf("admin token: %v", err)
	}
	deps := apiserver.Deps{Fleet: svc, Version: "test"}
	if with != nil {
		with(&deps)
	}
	srv := httptest.NewServer(apiserver.New(deps))
	t.Cleanup(srv.Close)
	e := &env{svc: svc, srv: srv, clock: clk, admin: admin}
	e.c = e.client(t, admin)
	return e
}

func (e *env) client(t testing.TB, token string) *client.Client {
	t.Helper()
	c, err := client.New(e.srv.URL, client.Options{Token: token, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return c
}

// reply is a raw HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) String() string {
	b := r.body
	if len(b) > 300 {
		b = append(b[:300:300], "…"...)
	}
	return http.StatusText(r.status) + " " + string(b)
}

// req describes a raw request. CT is the Content-Type; "" sends none, and
// a nil body gets none either.
type req struct {
	method, path string
	token        string
	body         []byte
	ct           string
	header       map[string]string
}

func (e *env) do(t testing.TB, rq req) reply {
	t.Helper()
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	hr, err := http.NewRequest(rq.method, e.srv.URL+rq.path, body)
	if err != nil {
		t.Fatalf("new request %s %s: %v", rq.method, rq.path, err)
	}
	if rq.ct != "" {
		hr.Header.Set("Content-Type", rq.ct)
	}
	if rq.token != "" {
		hr.Header.Set("Authorization", "Bearer "+rq.token)
	}
	for k, v := range rq.header {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", rq.method, rq.path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// admin sends a JSON request with the admin token.
func (e *env) adminJSON(t testing.TB, method, path, body string) reply {
	t.Helper()
	rq := req{method: method, path: path, token: e.admin}
	if body != "" {
		rq.body, rq.ct = []byte(body), "application/json"
	}
	return e.do(t, rq)
}

// agentJSON sends a JSON request with an agent credential.
func (e *env) agentJSON(t testing.TB, token, method, path, body string) reply {
	t.Helper()
	rq := req{method: method, path: path, token: token}
	if body != "" {
		rq.body, rq.ct = []byte(body), "application/json"
	}
	return e.do(t, rq)
}

// wantError checks an error answer: status, JSON content type, the
// {"error":{"code","message"}} shape, code (when given) and that the
// message contains every one of msgHas (case-insensitively).
func wantError(t testing.TB, what string, r reply, status int, code string, msgHas ...string) api.ErrorDetail {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: status: got %d, want %d (body %s)", what, r.status, status, r)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type: got %q, want application/json", what, ct)
	}
	if h := r.header.Get("X-Content-Type-Options"); h != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options: got %q, want nosniff", what, h)
	}
	var eb api.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Errorf("%s: body: got %q, want {\"error\":{\"code\",\"message\"}} (%v)", what, r.body, err)
		return eb.Error
	}
	if eb.Error.Code == "" {
		t.Errorf("%s: error code: got empty, want non-empty (body %s)", what, r.body)
	}
	if code != "" && eb.Error.Code != code {
		t.Errorf("%s: error code: got %q, want %q", what, eb.Error.Code, code)
	}
	if eb.Error.Message == "" {
		t.Errorf("%s: error message: got empty, want non-empty", what)
	}
	for _, s := range msgHas {
		if !strings.Contains(strings.ToLower(eb.Error.Message), strings.ToLower(s)) {
			t.Errorf("%s: error message: got %q, want it to mention %q", what, eb.Error.Message, s)
		}
	}
	return eb.Error
}

// wantStatus checks a success answer and decodes its JSON body into out.
func wantStatus(t testing.TB, what string, r reply, status int, out any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status: got %d, want %d (body %s)", what, r.status, status, r)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			t.Fatalf("%s: decode %q: %v", what, r.body, err)
		}
	}
}

// wantAPIError checks an error returned by the Go client.
func wantAPIError(t testing.TB, what string, err error, status int, code string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got no error, want %d %s", what, status, code)
		return
	}
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Errorf("%s: got %v, want an API error %d %s", what, err, status, code)
		return
	}
	if ce.Status != status || (code != "" && ce.Code != code) {
		t.Errorf("%s: got %d %s (%s), want %d %s", what, ce.Status, ce.Code, ce.Message, status, code)
	}
}

// heartbeat is a valid heartbeat body.
func heartbeat() api.Heartbeat {
	return api.Heartbeat{
		Protocol:     api.ProtocolVersion,
		AgentVersion: "test-1.0",
		Interval:     api.Duration(2 * time.Second),
		Metrics: api.Metrics{UptimeSeconds: 3600, Load1: 0.5, Load5: 0.4, Load15: 0.3, CPUPercent: 12.5,
			MemTotal: 8 << 30, MemUsed: 2 << 30, MemPercent: 25,
			Disks: []api.DiskUsage{{Mount: "/", FSType: "ext4", Total: 100 << 30, Used: 40 << 30, Percent: 40}}},
	}
}

// member adds a member to pool and returns what the server answered.
func (e *env) member(t testing.TB, pool string, in api.MemberCreate) api.MemberAdded {
	t.Helper()
	if in.Address == "" {
		in.Address = "203.0.113.10"
	}
	ma, err := e.c.AddMember(context.Background(), pool, in)
	if err != nil {
		t.Fatalf("add member %s/%s: %v", pool, in.Name, err)
	}
	return ma
}

// enroll redeems secret and returns the agent credential.
func (e *env) enroll(t testing.TB, secret string) string {
	t.Helper()
	anon := e.client(t, "")
	res, err := anon.Enroll(context.Background(), api.EnrollRequest{Secret: secret, Hostname: "host.test", AgentVersion: "test-1.0"})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	if res.Token == "" {
		t.Fatalf("enroll: got an empty token, want a credential")
	}
	return res.Token
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// countEvents counts events of kind (for a member when member != "").
func (e *env) countEvents(t testing.TB, kind, member string) int {
	t.Helper()
	evs, err := e.c.Events(context.Background(), client.EventQuery{Kind: kind, Member: member, Limit: 1000})
	if err != nil {
		t.Fatalf("events %s: %v", kind, err)
	}
	return len(evs)
}
