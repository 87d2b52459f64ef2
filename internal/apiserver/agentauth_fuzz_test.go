package apiserver_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// agentPaths are the agent routes the fuzzer knocks on.
var agentPaths = []struct{ method, path string }{
	{"POST", "/api/v1/agent/heartbeat"},
	{"GET", "/api/v1/agent/jobs/next?wait=0s"},
	{"POST", "/api/v1/agent/jobs/1/log"},
	{"POST", "/api/v1/agent/jobs/1/result"},
	{"GET", "/api/v1/agent/objects/protections/1/chunks/x"},
	{"PUT", "/api/v1/agent/objects/protections/1/chunks/x"},
}

var wellFormed = regexp.MustCompile(`^pag_[A-Za-z0-9_-]{43}$`)

// FuzzAgentCredential: agent requests with malformed, revoked, rotated-out
// or expired credentials are answered 401 without reaching the store: it is
// closed before the fuzzing starts, so a store access would answer 5xx.
// Well-formed unknown credentials are looked up once (that is how they are
// known to be unknown) and are left to TestBadCredentialsNeverReachStore.
func FuzzAgentCredential(f *testing.F) {
	st := storetest.Open(f, store.SQLite)
	e := newEnvWith(f, st, nil)
	e.adminJSON(f, "POST", "/api/v1/pools", `{"name":"p1"}`)
	good := e.enroll(f, e.member(f, "p1", api.MemberCreate{Name: "node1"}).EnrollmentSecret)
	revoked := e.enroll(f, e.member(f, "p1", api.MemberCreate{Name: "node2"}).EnrollmentSecret)
	rotated := e.enroll(f, e.member(f, "p1", api.MemberCreate{Name: "node3"}).EnrollmentSecret)
	h := apiserver.New(apiserver.Deps{Fleet: e.svc, Version: "test"})
	send := func(method, path, token string, body []byte) *httptest.ResponseRecorder {
		rq := httptest.NewRequest(method, path, bytes.NewReader(body))
		rq.RemoteAddr = "192.0.2.9:4000"
		rq.Header["Authorization"] = []string{"Bearer " + token}
		rq.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, rq)
		return w
	}
	hb := []byte(mustJSON(f, heartbeat()))
	// node2 is revoked; node3 rotates, uses its new credential, and the
	// overlap of the old one ends.
	wantStatus(f, "revoke", e.adminJSON(f, "POST", "/api/v1/pools/p1/members/node2/revoke-credential", `{"force":true}`), 204, nil)
	wantStatus(f, "rotate", e.adminJSON(f, "POST", "/api/v1/pools/p1/members/node3/rotate-credential", ``), 200, nil)
	var rep api.HeartbeatReply
	wantStatus(f, "beat for the new credential", e.do(f, req{method: "POST", path: "/api/v1/agent/heartbeat", token: rotated, body: hb, ct: "application/json"}), 200, &rep)
	if rep.NewCredential == "" {
		f.Fatal("no new credential offered")
	}
	wantStatus(f, "beat with the new credential", e.do(f, req{method: "POST", path: "/api/v1/agent/heartbeat", token: rep.NewCredential, body: hb, ct: "application/json"}), 200, nil)
	e.clock.Advance(fleet.DefaultCredentialOverlap + time.Second)
	// Each refused credential is looked up once while the store is open.
	for _, tok := range []string{revoked, rotated} {
		if w := send("POST", "/api/v1/agent/heartbeat", tok, hb); w.Code != http.StatusUnauthorized {
			f.Fatalf("%s before the fuzzing: %d %s", tok[:8], w.Code, w.Body)
		}
	}
	if err := st.Close(); err != nil {
		f.Fatal(err)
	}
	if w := send("POST", "/api/v1/agent/heartbeat", good, hb); w.Code != http.StatusOK {
		f.Fatalf("the valid credential with the store closed: %d %s", w.Code, w.Body)
	}
	for _, seed := range []string{"", "x", "pag_", good + "x", good[:len(good)-1], strings.ToUpper(good), revoked, rotated, e.admin,
		"pag_" + strings.Repeat("\x00", 43), "pag_" + strings.Repeat("é", 22), strings.Repeat("A", 5000), "Bearer " + good, good + "\r\nX: y"} {
		f.Add(seed, uint8(0), hb)
	}
	f.Fuzz(func(t *testing.T, token string, route uint8, body []byte) {
		if tok := strings.TrimSpace(token); wellFormed.MatchString(tok) && tok != revoked && tok != rotated {
			t.Skip("well-formed unknown credentials are looked up once")
		}
		r := agentPaths[int(route)%len(agentPaths)]
		w := send(r.method, r.path, token, body)
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), `"code":"unauthorized"`) {
			t.Fatalf("%s %s with credential %q: %d %s, want 401 unauthorized (answered from memory)", r.method, r.path, token, w.Code, w.Body)
		}
	})
}
