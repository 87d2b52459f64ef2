package apiserver_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// TestCredentialRotationAPI: a rotation asked for over the API reaches the
// agent in its next heartbeat reply; the new credential works at once, the
// old one until the overlap ends (then 401); revocation answers 401 at once.
func TestCredentialRotationAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.adminJSON(t, "POST", "/api/v1/pools", `{"name":"p1"}`)
		tok := e.enroll(t, e.member(t, "p1", api.MemberCreate{Name: "node1"}).EnrollmentSecret)
		e.member(t, "p1", api.MemberCreate{Name: "node2"}) // never enrolled: not rotated
		hb := mustJSON(t, heartbeat())
		beat := func(token string) reply {
			return e.do(t, req{method: "POST", path: "/api/v1/agent/heartbeat", token: token, body: []byte(hb), ct: "application/json"})
		}
		var rep api.HeartbeatReply
		wantStatus(t, "heartbeat", beat(tok), 200, &rep)
		if rep.NewCredential != "" {
			t.Fatal("credential offered without a rotation")
		}

		var rot api.CredentialRotation
		wantStatus(t, "rotate the pool", e.adminJSON(t, "POST", "/api/v1/pools/p1/rotate-credentials", ""), 200, &rot)
		if len(rot.Members) != 1 || rot.Members[0] != "node1" {
			t.Fatalf("rotated members: %v, want [node1]", rot.Members)
		}
		wantStatus(t, "rotate one member", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node1/rotate-credential", ""), 200, &rot)
		wantError(t, "rotate a member never enrolled", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node2/rotate-credential", ""), 409, "conflict", "no agent credential")
		wantError(t, "rotate an unknown member", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/nope/rotate-credential", ""), 404, "not_found")
		wantError(t, "rotate as an agent", e.agentJSON(t, tok, "POST", "/api/v1/pools/p1/rotate-credentials", ""), 403, "forbidden")

		wantStatus(t, "heartbeat after the rotation request", beat(tok), 200, &rep)
		next := rep.NewCredential
		if next == "" {
			t.Fatal("no new credential in the heartbeat reply")
		}
		var m api.Member
		wantStatus(t, "member during the rotation", e.adminJSON(t, "GET", "/api/v1/pools/p1/members/node1", ""), 200, &m)
		if m.Credential == nil || m.Credential.Rotation != "issued" {
			t.Fatalf("credential during the rotation: %+v", m.Credential)
		}
		if b, _ := json.Marshal(m); strings.Contains(string(b), tok) || strings.Contains(string(b), next) {
			t.Fatal("the member's JSON shows an agent credential")
		}
		wantStatus(t, "heartbeat with the new credential", beat(next), 200, &rep)
		wantStatus(t, "heartbeat with the old one, within the overlap", beat(tok), 200, nil)
		e.clock.Advance(fleet.DefaultCredentialOverlap + time.Second)
		wantError(t, "heartbeat with the old one after the overlap", beat(tok), 401, "unauthorized", "rotation", "member secret p1 node1")
		if got := e.countEvents(t, fleet.KindCredentialRefused, "node1"); got != 1 {
			t.Fatalf("credential_refused events: %d, want 1", got)
		}

		wantError(t, "revoke with a bad body", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node1/revoke-credential", `{"force":"yes"}`), 400, "invalid")
		wantStatus(t, "revoke", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node1/revoke-credential", `{}`), 204, nil)
		wantError(t, "heartbeat after the revocation", beat(next), 401, "unauthorized", "revoked")
		wantError(t, "job poll after the revocation",
			e.do(t, req{method: "GET", path: "/api/v1/agent/jobs/next?wait=0s", token: next}), 401, "unauthorized", "revoked")
		wantError(t, "revoke again", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node1/revoke-credential", ``), 409, "conflict")
	})
}
