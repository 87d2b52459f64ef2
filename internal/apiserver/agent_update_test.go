package apiserver_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/release"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// TestAgentUpdateAPI: update-agent queues a signed agent.update job for the
// binary of the member's platform; bad input and members that cannot be
// updated are refused with a clear error; a rollout orders the active member
// last, skips members that need nothing, and can be read and cancelled.
func TestAgentUpdateAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		pub, priv, err := release.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		self := filepath.Join(t.TempDir(), "poolctl")
		if err := os.WriteFile(self, []byte(strings.Repeat("new agent\n", 500)), 0o755); err != nil {
			t.Fatal(err)
		}
		cat, err := release.Load(release.Options{Version: "1.2.3", Self: self, SelfOS: "linux", SelfArch: "amd64", Signer: release.KeySigner(priv)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cat.Close() })
		e := newEnvWith(t, st, func(d *apiserver.Deps) { d.Releases = cat })
		e.svc.SetRelease("1.2.3", release.EncodePublicKey(pub))
		e.svc.SetReleases(func(goos, goarch string) (api.AgentBinary, bool) {
			b, ok := cat.Find(goos, goarch)
			return b.AgentBinary, ok
		})

		e.adminJSON(t, "POST", "/api/v1/pools", `{"name":"p1"}`)
		beat := func(tok, version, arch string) {
			hb := heartbeat()
			hb.AgentVersion = version
			hb.Facts = &api.Facts{OS: "linux", Arch: arch, Hostname: "h"}
			wantStatus(t, "heartbeat", e.do(t, req{method: "POST", path: "/api/v1/agent/heartbeat", token: tok, body: []byte(mustJSON(t, hb)), ct: "application/json"}), 200, nil)
		}
		tok1 := e.enroll(t, e.member(t, "p1", api.MemberCreate{Name: "node1"}).EnrollmentSecret)
		tok2 := e.enroll(t, e.member(t, "p1", api.MemberCreate{Name: "node2"}).EnrollmentSecret)
		tok3 := e.enroll(t, e.member(t, "p1", api.MemberCreate{Name: "node3"}).EnrollmentSecret)
		e.member(t, "p1", api.MemberCreate{Name: "node4"}) // never enrolled
		beat(tok1, "1.2.0", "x86_64")
		beat(tok2, "1.2.3", "x86_64")
		beat(tok3, "1.2.1", "aarch64") // no arm64 binary offered
		if err := e.svc.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}

		var j api.Job
		wantStatus(t, "update node1", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node1/update-agent", `{"rollback_after":"30s"}`), 201, &j)
		var args api.AgentUpdateArgs
		if err := json.Unmarshal(j.Args, &args); err != nil {
			t.Fatal(err)
		}
		if j.Kind != api.AgentUpdateKind || args.Version != "1.2.3" || args.OS != "linux" || args.Arch != "amd64" || args.Path != "/api/v1/agent/releases/linux/amd64" || args.RollbackAfter.D().Seconds() != 30 {
			t.Fatalf("update job: %+v args %+v", j, args)
		}
		if err := release.Verify(pub, args.Version, args.OS, args.Arch, args.SHA256, args.Signature); err != nil {
			t.Fatalf("the job's signature does not verify: %v", err)
		}
		wantError(t, "update node1 again while queued", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node1/update-agent", ``), 409, "conflict", "under way")
		wantError(t, "update an up-to-date agent", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node2/update-agent", ``), 409, "conflict", "already", "--force")
		wantStatus(t, "force the update of an up-to-date agent", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node2/update-agent", `{"force":true}`), 201, nil)
		wantError(t, "update a platform not offered", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node3/update-agent", ``), 409, "conflict", "linux/arm64", "--agent-binaries")
		wantError(t, "update a member without agent", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node4/update-agent", ``), 409, "conflict", "no agent")
		wantError(t, "update an unknown member", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/nope/update-agent", ``), 404, "not_found")
		wantError(t, "rollback_after too short", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node1/update-agent", `{"rollback_after":"1s"}`), 400, "invalid", "rollback_after")
		wantError(t, "unknown field", e.adminJSON(t, "POST", "/api/v1/pools/p1/members/node1/update-agent", `{"rollbak":"1m"}`), 400, "invalid")
		wantError(t, "update as an agent", e.agentJSON(t, tok1, "POST", "/api/v1/pools/p1/members/node1/update-agent", ``), 403, "forbidden")

		wantError(t, "rollout status before any", e.adminJSON(t, "GET", "/api/v1/pools/p1/agent-rollout", ``), 404, "not_found")
		p, _ := st.GetPool(t.Context(), "p1")
		m1, _ := st.GetMember(t.Context(), p.ID, "node1")
		if err := st.SetActiveMember(t.Context(), p.ID, m1.ID, nil, "", 0, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		// node1's queued job ends, so the rollout may queue another.
		if _, err := st.CancelJob(t.Context(), j.ID, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		var r api.Rollout
		wantStatus(t, "start a rollout", e.adminJSON(t, "POST", "/api/v1/pools/p1/agent-rollout", `{}`), 201, &r)
		if r.Status != api.RolloutRunning || r.Version != "1.2.3" || len(r.Members) != 4 {
			t.Fatalf("rollout: %+v", r)
		}
		if last := r.Members[len(r.Members)-1]; last.Member != "node1" || last.Status != api.RolloutMemberPending {
			t.Fatalf("the active member is not last and pending: %+v", r.Members)
		}
		for _, m := range r.Members[:3] {
			if m.Status != api.RolloutMemberSkipped || m.Note == "" {
				t.Fatalf("member %s: %+v, want skipped with a note (up to date, no binary, no agent)", m.Member, m)
			}
		}
		wantError(t, "a second rollout", e.adminJSON(t, "POST", "/api/v1/pools/p1/agent-rollout", `{}`), 409, "conflict", "in progress")
		wantStatus(t, "rollout status", e.adminJSON(t, "GET", "/api/v1/pools/p1/agent-rollout", ``), 200, &r)
		wantStatus(t, "cancel the rollout", e.adminJSON(t, "POST", "/api/v1/pools/p1/agent-rollout/cancel", ``), 200, &r)
		if r.Status != api.RolloutCancelled || r.FinishedAt == nil {
			t.Fatalf("cancelled rollout: %+v", r)
		}
		wantError(t, "cancel twice", e.adminJSON(t, "POST", "/api/v1/pools/p1/agent-rollout/cancel", ``), 409, "conflict", "not running")
		wantError(t, "rollout of an unknown pool", e.adminJSON(t, "POST", "/api/v1/pools/nope/agent-rollout", `{}`), 404, "not_found")
	})
}
