package fleet_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

func TestEvaluate(t *testing.T) {
	const iv, to = 2 * time.Second, 10 * time.Second
	for _, c := range []struct {
		beaten bool
		since  time.Duration
		want   string
	}{
		{false, time.Hour, api.StatusPending},
		{true, 0, api.StatusHealthy},
		{true, 4 * time.Second, api.StatusHealthy},
		{true, 4*time.Second + 1, api.StatusSuspect},
		{true, 10 * time.Second, api.StatusSuspect},
		{true, 10*time.Second + 1, api.StatusDown},
	} {
		if got := fleet.Evaluate(c.beaten, c.since, iv, to); got != c.want {
			t.Errorf("Evaluate(%v, %v): got %s, want %s", c.beaten, c.since, got, c.want)
		}
	}
}

func newService(t *testing.T, st *store.Store) *fleet.Service {
	t.Helper()
	s := fleet.New(st, fleet.Config{CAFingerprint: strings.Repeat("ab", 32)})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func addMember(t *testing.T, s *fleet.Service, pool, name string, cidrs ...string) (api.MemberAdded, fleet.Agent) {
	t.Helper()
	ctx := context.Background()
	res, err := s.AddMember(ctx, pool, api.MemberCreate{Name: name, Address: "203.0.113.10", AllowedCIDRs: cidrs})
	if err != nil {
		t.Fatalf("add member %s: %v", name, err)
	}
	enr, err := s.Enroll(ctx, api.EnrollRequest{Secret: res.EnrollmentSecret}, netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatalf("enrol %s: %v", name, err)
	}
	a, err := s.AuthAgent(ctx, enr.Token)
	if err != nil {
		t.Fatalf("auth agent %s: %v", name, err)
	}
	return res, a
}

func beat(t *testing.T, s *fleet.Service, a fleet.Agent) api.HeartbeatReply {
	t.Helper()
	r, err := s.Heartbeat(context.Background(), a, api.Heartbeat{Protocol: 1, Interval: api.Duration(2 * time.Second), AgentVersion: "test"})
	if err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	return r
}

func statusOf(t *testing.T, s *fleet.Service, pool, member string) string {
	t.Helper()
	m, err := s.Member(context.Background(), pool, member)
	if err != nil {
		t.Fatal(err)
	}
	return m.Status
}

// TestHealthTransitions drives one member through every state on a fake
// clock and checks the events written for each transition.
func TestHealthTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.Open(t, store.SQLite)
		s := newService(t, st)
		ctx := context.Background()
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		_, a := addMember(t, s, "web", "node1")
		if got := statusOf(t, s, "web", "node1"); got != api.StatusPending {
			t.Fatalf("before first beat: got %s, want pending", got)
		}
		s.Sweep(ctx)
		if got := beat(t, s, a).Status; got != api.StatusHealthy {
			t.Fatalf("after beat: got %s, want healthy", got)
		}
		time.Sleep(4 * time.Second)
		s.Sweep(ctx)
		if got := statusOf(t, s, "web", "node1"); got != api.StatusHealthy {
			t.Fatalf("at 2x interval: got %s, want healthy", got)
		}
		time.Sleep(time.Second)
		s.Sweep(ctx)
		if got := statusOf(t, s, "web", "node1"); got != api.StatusSuspect {
			t.Fatalf("after 2x interval: got %s, want suspect", got)
		}
		time.Sleep(6 * time.Second)
		s.Sweep(ctx)
		if got := statusOf(t, s, "web", "node1"); got != api.StatusDown {
			t.Fatalf("after timeout: got %s, want down", got)
		}
		beat(t, s, a)
		if got := statusOf(t, s, "web", "node1"); got != api.StatusHealthy {
			t.Fatalf("after revival: got %s, want healthy", got)
		}
		want := "member.added member.enrolled member.healthy member.suspect member.down member.healthy"
		if got := memberEvents(t, st, "node1"); got != want {
			t.Fatalf("events: got %q, want %q", got, want)
		}
	})
}

// TestRestartGrace checks that a restarted server gives members a full
// timeout before declaring them down, and keeps down members down.
func TestRestartGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.Open(t, store.SQLite)
		ctx := context.Background()
		s := newService(t, st)
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		_, a1 := addMember(t, s, "web", "alive")
		_, a2 := addMember(t, s, "web", "dead")
		beat(t, s, a1)
		beat(t, s, a2)
		time.Sleep(15 * time.Second) // "dead" goes down; "alive" too, but it beats again below
		beat(t, s, a1)
		s.Sweep(ctx)
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		// The server is down for a minute; then a new one starts.
		time.Sleep(time.Minute)
		s2 := newService(t, st)
		s2.Sweep(ctx)
		if got := statusOf(t, s2, "web", "alive"); got != api.StatusHealthy {
			t.Fatalf("right after restart: got %s, want healthy (grace)", got)
		}
		if got := statusOf(t, s2, "web", "dead"); got != api.StatusDown {
			t.Fatalf("down member after restart: got %s, want down", got)
		}
		time.Sleep(11 * time.Second)
		s2.Sweep(ctx)
		if got := statusOf(t, s2, "web", "alive"); got != api.StatusDown {
			t.Fatalf("after grace without beats: got %s, want down", got)
		}
	})
}

func TestEnrollRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newService(t, st)
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		res, err := s.AddMember(ctx, "web", api.MemberCreate{Name: "node1", Address: "2001:db8::1", AllowedCIDRs: []string{"198.51.100.7"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Member.AllowedCIDRs[0] != "198.51.100.7/32" {
			t.Fatalf("got cidrs %v, want normalised /32", res.Member.AllowedCIDRs)
		}
		if !strings.HasPrefix(res.EnrollmentSecret, "pe1.") {
			t.Fatalf("secret %q lacks the pe1 prefix", res.EnrollmentSecret)
		}
		for _, c := range []struct {
			name, secret, from, want string
		}{
			{"wrong source", res.EnrollmentSecret, "127.0.0.1", "not in the allowed IPs"},
			{"malformed", "hello", "198.51.100.7", "malformed"},
			{"wrong secret", res.EnrollmentSecret[:len(res.EnrollmentSecret)-2] + "xx", "198.51.100.7", "not valid"},
		} {
			_, err := s.Enroll(ctx, api.EnrollRequest{Secret: c.secret}, netip.MustParseAddr(c.from))
			if !errors.Is(err, apperr.Forbidden) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: got %v, want forbidden containing %q", c.name, err, c.want)
			}
		}
		if _, err := s.Enroll(ctx, api.EnrollRequest{Secret: res.EnrollmentSecret}, netip.MustParseAddr("198.51.100.7")); err != nil {
			t.Fatalf("good enrolment after refusals: %v", err)
		}
		_, err = s.Enroll(ctx, api.EnrollRequest{Secret: res.EnrollmentSecret}, netip.MustParseAddr("198.51.100.7"))
		if !errors.Is(err, apperr.Forbidden) || !strings.Contains(err.Error(), "already used") {
			t.Fatalf("reuse: got %v", err)
		}
		evs, _ := st.ListEvents(ctx, store.EventFilter{Kind: "enrollment.refused"})
		if len(evs) != 4 {
			t.Fatalf("got %d refusal events, want 4", len(evs))
		}
	})
}

func TestValidationAndDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newService(t, st)
		for _, in := range []api.PoolCreate{
			{Name: "Web"}, {Name: "-web"}, {Name: strings.Repeat("a", 64)},
			{Name: "web", Preset: "haproxy"}, {Name: "web", FailoverDelay: api.Duration(time.Second)},
			{Name: "web", Failback: "sometimes"}, {Name: "web", TTL: -1}, {Name: "web", Hook: "rm -rf /"},
			{Name: "web", FailoverRecord: "not a name"},
		} {
			if _, err := s.CreatePool(ctx, in); !errors.Is(err, apperr.Invalid) {
				t.Errorf("CreatePool(%+v): got %v, want invalid", in, err)
			}
		}
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); !errors.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate pool: got %v, want conflict", err)
		}
		for _, in := range []api.MemberCreate{
			{Name: "n1", Address: "999.1.1.1"}, {Name: "n1", Address: "0.0.0.0"}, {Name: "n1", Address: "224.0.0.1"},
			{Name: "n1", Address: "192.0.2.1", AllowedCIDRs: []string{"10.0.0.0/33"}},
			{Name: "n1", Address: "192.0.2.1", ProbeURL: "ftp://x"}, {Name: "n1", Address: "192.0.2.1", ProbeURL: "tcp://host"},
			{Name: "N1", Address: "192.0.2.1"},
		} {
			if _, err := s.AddMember(ctx, "web", in); !errors.Is(err, apperr.Invalid) {
				t.Errorf("AddMember(%+v): got %v, want invalid", in, err)
			}
		}
		_, a := addMember(t, s, "web", "node1")
		if _, err := s.AddMember(ctx, "web", api.MemberCreate{Name: "node1", Address: "192.0.2.1"}); !errors.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate member: got %v, want conflict", err)
		}
		if _, err := s.AddMember(ctx, "nope", api.MemberCreate{Name: "x", Address: "192.0.2.1"}); !errors.Is(err, apperr.NotFound) {
			t.Fatalf("member of missing pool: got %v, want not found", err)
		}
		_, err := s.DeletePool(ctx, "web", false)
		if !errors.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "node1") {
			t.Fatalf("delete without force: got %v, want conflict naming node1", err)
		}
		res, err := s.DeletePool(ctx, "web", true)
		if err != nil || len(res.RemovedMembers) != 1 {
			t.Fatalf("forced delete: got %+v, %v", res, err)
		}
		// The removed member's agent is told to stop.
		if _, err := s.Heartbeat(ctx, a, api.Heartbeat{Protocol: 1}); !errors.Is(err, apperr.Gone) {
			t.Fatalf("heartbeat after removal: got %v, want gone", err)
		}
	})
}

func TestBadHeartbeats(t *testing.T) {
	for _, hb := range []api.Heartbeat{
		{Protocol: 0}, {Protocol: 99},
		{Protocol: 1, Interval: api.Duration(time.Millisecond)},
		{Protocol: 1, Metrics: api.Metrics{CPUPercent: 101}},
		{Protocol: 1, Metrics: api.Metrics{CPUPercent: -1}},
		{Protocol: 1, Metrics: api.Metrics{MemUsed: 2, MemTotal: 1}},
		{Protocol: 1, Metrics: api.Metrics{Disks: []api.DiskUsage{{Mount: "/", Used: 2, Total: 1}}}},
	} {
		if err := fleet.ValidateHeartbeat(&hb); !errors.Is(err, apperr.Invalid) {
			t.Errorf("ValidateHeartbeat(%+v): got %v, want invalid", hb, err)
		}
	}
}

// TestJobLongPoll checks that a waiting agent is woken by a queued job and
// that shell.exec needs the member's opt-in.
func TestJobLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.Open(t, store.SQLite)
		s := newService(t, st)
		ctx := context.Background()
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		_, a := addMember(t, s, "web", "node1")
		got := make(chan *api.Job, 1)
		go func() {
			j, err := s.NextJob(ctx, a, 30*time.Second)
			if err != nil {
				t.Error(err)
			}
			got <- j
		}()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if _, err := s.EnqueueJob(ctx, "web", "node1", api.JobCreate{Kind: "shell.exec"}); !errors.Is(err, apperr.Forbidden) {
			t.Fatalf("shell.exec without opt-in: got %v, want forbidden", err)
		}
		j, err := s.EnqueueJob(ctx, "web", "node1", api.JobCreate{Kind: "facts.refresh"})
		if err != nil {
			t.Fatal(err)
		}
		claimed := <-got
		if claimed == nil || claimed.ID != j.ID || claimed.Status != api.JobRunning {
			t.Fatalf("got %+v, want job %d running", claimed, j.ID)
		}
		if err := s.FinishJob(ctx, a, j.ID, api.JobResult{OK: true}); err != nil {
			t.Fatal(err)
		}
		// No job: the poll returns nil after the wait.
		none, err := s.NextJob(ctx, a, 3*time.Second)
		if err != nil || none != nil {
			t.Fatalf("empty poll: got %+v, %v", none, err)
		}
	})
}

// TestLostJobsReclaimed: a job its agent no longer reports in heartbeats
// (the agent process was killed and restarted) is handed out again at once
// rather than when its lease would have expired, and fails after its last
// attempt; a job the agent reports keeps running, and a job just claimed
// is given a grace period.
func TestLostJobsReclaimed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.Open(t, store.SQLite)
		s := newService(t, st)
		ctx := context.Background()
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		_, a := addMember(t, s, "web", "node1")
		beatRunning := func(ids ...int64) {
			t.Helper()
			hb := api.Heartbeat{Protocol: 2, Interval: api.Duration(2 * time.Second), AgentVersion: "test", RunningJobs: append([]int64{}, ids...)}
			if _, err := s.Heartbeat(ctx, a, hb); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		lost, err := s.EnqueueJob(ctx, "web", "node1", api.JobCreate{Kind: "facts.refresh", MaxAttempts: 2})
		if err != nil {
			t.Fatal(err)
		}
		kept, err := s.EnqueueJob(ctx, "web", "node1", api.JobCreate{Kind: "service.status"})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if j, err := s.NextJob(ctx, a, 0); err != nil || j == nil {
				t.Fatalf("claim: %v %v", j, err)
			}
		}
		beatRunning(kept.ID) // within the grace: nothing is taken back
		if j, _ := s.Job(ctx, lost.ID); j.Status != api.JobRunning {
			t.Fatalf("job taken back within the grace: %s", j.Status)
		}
		time.Sleep(11 * time.Second)
		beatRunning(kept.ID)
		if j, _ := s.Job(ctx, lost.ID); j.Status != api.JobQueued {
			t.Fatalf("lost job: %s, want queued", j.Status)
		}
		if j, _ := s.Job(ctx, kept.ID); j.Status != api.JobRunning {
			t.Fatalf("reported job: %s, want running", j.Status)
		}
		if j, err := s.NextJob(ctx, a, 0); err != nil || j == nil || j.ID != lost.ID || j.Attempts != 2 {
			t.Fatalf("second attempt: %+v %v", j, err)
		}
		time.Sleep(11 * time.Second)
		beatRunning(kept.ID)
		if j, _ := s.Job(ctx, lost.ID); j.Status != api.JobFailed || !strings.Contains(j.Error, "restarted") {
			t.Fatalf("lost after its last attempt: %s %q, want failed", j.Status, j.Error)
		}
		// An old agent (protocol 1) reports nothing: its jobs keep running.
		if _, err := s.Heartbeat(ctx, a, api.Heartbeat{Protocol: 1, Interval: api.Duration(2 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if j, _ := s.Job(ctx, kept.ID); j.Status != api.JobRunning {
			t.Fatalf("protocol 1 beat: %s, want running", j.Status)
		}
	})
}
