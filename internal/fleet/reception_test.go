package fleet_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// memberEvents lists the kinds of a member's health events.
func memberEvents(t *testing.T, st *store.Store, member string) string {
	t.Helper()
	evs, err := st.ListEvents(context.Background(), store.EventFilter{Kind: "member.", Member: member})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	return strings.Join(kinds, " ")
}

// TestDrainJudgesNobody: a server shutting down stops hearing its agents;
// that silence must not turn anybody suspect or down, nor reach the
// failover engine as silence.
func TestDrainJudgesNobody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.Open(t, store.SQLite)
		s := newService(t, st)
		ctx := context.Background()
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		_, a := addMember(t, s, "web", "node1")
		beat(t, s, a)
		s.Drain()
		time.Sleep(30 * time.Second)
		s.Sweep(ctx)
		if got := statusOf(t, s, "web", "node1"); got != api.StatusHealthy {
			t.Fatalf("30 s into a shutdown: got %s, want healthy", got)
		}
		p, _ := st.GetPool(ctx, "web")
		for _, h := range s.MemberHealth(p.ID) {
			if silence := time.Since(h.Since); silence != 0 {
				t.Fatalf("failover engine sees %s of silence while draining, want 0", silence)
			}
		}
		if got, want := memberEvents(t, st, "node1"), "member.added member.enrolled member.healthy"; got != want {
			t.Fatalf("events: got %q, want %q", got, want)
		}
	})
}

// TestReceivingStartsTheGrace: the grace after a restart counts from when
// the server listens, not from when it began loading.
func TestReceivingStartsTheGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.Open(t, store.SQLite)
		ctx := context.Background()
		s := newService(t, st)
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		_, a := addMember(t, s, "web", "node1")
		beat(t, s, a)
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // the server is down
		s2 := newService(t, st)
		time.Sleep(8 * time.Second) // start-up work before the listener is up
		s2.Receiving(ctx)
		time.Sleep(4 * time.Second)
		s2.Sweep(ctx)
		if got := statusOf(t, s2, "web", "node1"); got != api.StatusHealthy {
			t.Fatalf("4 s after the listener came up (12 s after start): got %s, want healthy", got)
		}
		time.Sleep(7 * time.Second)
		s2.Sweep(ctx)
		if got := statusOf(t, s2, "web", "node1"); got != api.StatusDown {
			t.Fatalf("a full timeout after the listener came up, no beat: got %s, want down", got)
		}
	})
}

// TestPausedProcessGivesFullTimeout: a server process that did not run for
// longer than the heartbeat timeout (SIGSTOP, a stalled VM) gives every
// member a full timeout from when it runs again, and says so in an event.
func TestPausedProcessGivesFullTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.Open(t, store.SQLite)
		var skew atomic.Int64 // the pause: time that passes while nothing runs
		now := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
		s := fleet.New(st, fleet.Config{CAFingerprint: strings.Repeat("ab", 32), Now: now})
		ctx, cancel := context.WithCancel(context.Background())
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		_, a := addMember(t, s, "web", "node1")
		var wg sync.WaitGroup
		wg.Go(func() { _ = s.Run(ctx) })
		defer wg.Wait()
		defer cancel()
		s.Receiving(ctx)
		beat(t, s, a)
		time.Sleep(time.Second)
		skew.Add(int64(15 * time.Second)) // paused for 15 s, longer than the 10 s timeout
		time.Sleep(3 * time.Second)
		if got := statusOf(t, s, "web", "node1"); got != api.StatusHealthy {
			t.Fatalf("3 s after a 15 s pause: got %s, want healthy", got)
		}
		p, _ := st.GetPool(ctx, "web")
		if h := s.MemberHealth(p.ID); len(h) != 1 || now().Sub(h[0].Since) > 4*time.Second {
			t.Fatalf("failover engine's view after the pause: %+v, want silence counted from the pause's end", h)
		}
		beat(t, s, a)
		time.Sleep(5 * time.Second)
		if got := statusOf(t, s, "web", "node1"); got != api.StatusSuspect {
			t.Fatalf("after the grace, 5 s without a beat: got %s, want suspect (the rule applies again)", got)
		}
		evs, err := st.ListEvents(ctx, store.EventFilter{Kind: fleet.KindServerGap})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || !strings.Contains(evs[0].Message, "paused") {
			t.Fatalf("gap events: got %+v, want one naming the pause", evs)
		}
		if got, want := memberEvents(t, st, "node1"), "member.added member.enrolled member.healthy member.suspect"; got != want {
			t.Fatalf("events: got %q, want %q", got, want)
		}
	})
}
