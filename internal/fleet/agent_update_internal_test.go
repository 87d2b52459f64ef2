package fleet

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// updateEnv is a service offering linux/amd64 agent binary 1.4.2 and a pool
// web of enrolled members, each heartbeating once with its version.
func updateEnv(t *testing.T, versions map[string]string) (*Service, *store.Store, map[string]Agent) {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, store.SQLite)
	s := New(st, Config{CAFingerprint: strings.Repeat("ab", 32)})
	s.SetRelease("1.4.2", "ed25519:test")
	s.SetReleases(func(goos, goarch string) (api.AgentBinary, bool) {
		if goos != "linux" || goarch != "amd64" {
			return api.AgentBinary{}, false
		}
		return api.AgentBinary{OS: goos, Arch: goarch, Version: "1.4.2", SHA256: strings.Repeat("0", 64), Signature: "sig", URL: "/api/v1/agent/releases/linux/amd64"}, true
	})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	agents := map[string]Agent{}
	for _, name := range []string{"node1", "node2", "node3"} {
		res, err := s.AddMember(ctx, "web", api.MemberCreate{Name: name, Address: "203.0.113.10"})
		if err != nil {
			t.Fatal(err)
		}
		enr, err := s.Enroll(ctx, api.EnrollRequest{Secret: res.EnrollmentSecret, AgentVersion: versions[name]}, netip.MustParseAddr("127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.AuthAgent(ctx, enr.Token)
		if err != nil {
			t.Fatal(err)
		}
		agents[name] = a
		_, err = s.Heartbeat(ctx, a, api.Heartbeat{Protocol: 3, Interval: api.Duration(2 * time.Second), AgentVersion: versions[name],
			Facts: &api.Facts{OS: "linux", Arch: "x86_64"}})
		if err != nil && versions[name] >= "1.3" {
			t.Fatalf("heartbeat of %s: %v", name, err)
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return s, st, agents
}

func rolloutState(t *testing.T, s *Service) api.Rollout {
	t.Helper()
	r, err := s.Rollout(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRolloutOneAtATime: a rollout updates one member at a time, moves on
// only when its job succeeded, skips the up to date, and stops at the
// first failure without touching the members after it.
func TestRolloutOneAtATime(t *testing.T) {
	ctx := context.Background()
	s, st, agents := updateEnv(t, map[string]string{"node1": "1.4.0", "node2": "1.4.2", "node3": "1.3.9"})
	p, _ := st.GetPool(ctx, "web")
	if err := st.SetActiveMember(ctx, p.ID, agents["node1"].MemberID, nil, "", 0, s.now()); err != nil {
		t.Fatal(err)
	}
	r, err := s.StartRollout(ctx, "web", api.AgentUpdate{})
	if err != nil {
		t.Fatal(err)
	}
	order := []string{}
	for _, m := range r.Members {
		order = append(order, m.Member+":"+m.Status)
	}
	if got := strings.Join(order, " "); got != "node2:skipped node3:pending node1:pending" {
		t.Fatalf("rollout order: %s, want the up-to-date node2 skipped and the active node1 last", got)
	}

	s.stepRollouts(ctx)
	r = rolloutState(t, s)
	if r.Members[1].Status != api.RolloutMemberUpdating || r.Members[1].Job == 0 || r.Members[2].Status != api.RolloutMemberPending {
		t.Fatalf("after the first step: %+v", r.Members)
	}
	s.stepRollouts(ctx) // nothing ended: nothing moves
	if again := rolloutState(t, s); again.Members[2].Status != api.RolloutMemberPending {
		t.Fatalf("node1 started before node3 ended: %+v", again.Members)
	}
	// node3's agent takes its job (a version the policy accepts) and succeeds.
	j, err := s.NextJob(ctx, agents["node3"], 0)
	if err != nil || j == nil || j.Kind != api.AgentUpdateKind {
		t.Fatalf("node3's next job: %+v, %v", j, err)
	}
	if err := s.FinishJob(ctx, agents["node3"], j.ID, api.JobResult{OK: true}); err != nil {
		t.Fatal(err)
	}
	s.stepRollouts(ctx)
	r = rolloutState(t, s)
	if r.Members[1].Status != api.RolloutMemberDone || r.Members[2].Status != api.RolloutMemberUpdating {
		t.Fatalf("after node3 succeeded: %+v", r.Members)
	}
	// node1's update fails (its watchdog rolled back): the rollout fails.
	j, err = s.NextJob(ctx, agents["node1"], 0)
	if err != nil || j == nil {
		t.Fatalf("node1's next job: %+v, %v", j, err)
	}
	if err := s.FinishJob(ctx, agents["node1"], j.ID, api.JobResult{Error: "poolctl 1.4.2 did not record a heartbeat within 1m0s; rolled back to poolctl 1.4.0"}); err != nil {
		t.Fatal(err)
	}
	s.stepRollouts(ctx)
	r = rolloutState(t, s)
	if r.Status != api.RolloutFailed || r.Members[2].Status != api.RolloutMemberFailed || !strings.Contains(r.Message, "rolled back") || r.FinishedAt == nil {
		t.Fatalf("after node1 failed: %+v", r)
	}
	// A new rollout may start once the last one ended.
	if _, err := s.StartRollout(ctx, "web", api.AgentUpdate{}); err != nil {
		t.Fatalf("a new rollout after the failed one: %v", err)
	}
}

// TestRefusedVersionGetsOnlyItsUpdate: an agent the skew policy refuses
// is told why, and its job polls hand out its agent.update job but no other.
func TestRefusedVersionGetsOnlyItsUpdate(t *testing.T) {
	ctx := context.Background()
	s, _, agents := updateEnv(t, map[string]string{"node1": "1.4.2", "node2": "1.4.2", "node3": "1.4.2"})
	a := agents["node1"]
	_, err := s.Heartbeat(ctx, a, api.Heartbeat{Protocol: 3, Interval: api.Duration(2 * time.Second), AgentVersion: "1.2.0"})
	if !errors.Is(err, apperr.AgentTooOld) || !strings.Contains(apperr.Message(err), "update-agent web node1") {
		t.Fatalf("heartbeat of a too-old agent: %v", err)
	}
	if _, err := s.EnqueueJob(ctx, "web", "node1", api.JobCreate{Kind: "facts.refresh"}); err != nil {
		t.Fatal(err)
	}
	if j, err := s.NextJob(ctx, a, 0); err != nil || j != nil {
		t.Fatalf("a refused agent got job %+v (%v), want none but its update", j, err)
	}
	// The update names the binary for the platform its facts reported.
	upd, err := s.UpdateAgent(ctx, "web", "node1", api.AgentUpdate{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.NextJob(ctx, a, 0)
	if err != nil || j == nil || j.ID != upd.ID {
		t.Fatalf("the refused agent's next job: %+v (%v), want its update %d", j, err, upd.ID)
	}
	if _, err := s.UpdateAgent(ctx, "web", "node2", api.AgentUpdate{RollbackAfter: api.Duration(time.Hour)}); !errors.Is(err, apperr.Invalid) {
		t.Fatalf("rollback_after 1h: %v, want invalid", err)
	}
}

func TestGoArch(t *testing.T) {
	for in, want := range map[string]string{"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm", "riscv64": "riscv64"} {
		if got := goArch(in); got != want {
			t.Errorf("goArch(%q) = %q, want %q", in, got, want)
		}
	}
}
