package failover

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// TestActivation: a pool without an active member gets its first healthy
// member at once, without waiting for it to settle.
func TestActivation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		p := webPool(w, "")
		w.set(func(w *world) {
			for _, m := range w.members[p.ID] {
				m.alive, m.beat, m.since = false, time.Time{}, nil // enrolled, never beat
			}
		})
		e := w.engine()
		runFor(t, e, 10*time.Second, nil)
		if got := w.active(p.ID); got != "" {
			t.Fatalf("active member with every member pending: got %q, want none", got)
		}
		w.revive(p.ID, "node2")
		if err := e.Step(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := w.active(p.ID); got != "node2" {
			t.Fatalf("active member after node2's first beat: got %q, want node2", got)
		}
		pubs := w.pubs("web", time.Time{})
		if len(pubs) != 1 || pubs[0].Addr != "192.0.2.2" || !pubs[0].At.Equal(time.Now()) {
			t.Errorf("publications: got %v, want www.example.test.→192.0.2.2 at once", pubs)
		}
		if got := w.kinds("web"); !slices.Equal(got, []string{KindActivated}) {
			t.Errorf("events: got %v, want [%s]", got, KindActivated)
		}
		if w.banners[p.ID] != nil {
			t.Errorf("banner after an activation: got %+v, want none", w.banners[p.ID])
		}
	})
}

// TestFailback: auto returns to the preferred member once it has settled;
// manual stays until MakeActive; the minimum interval between cuts stops
// ping-pong.
func TestFailback(t *testing.T) {
	tests := []struct {
		name        string
		failback    string
		minCut      time.Duration
		wantBack    time.Duration // after node1's revival; 0 = never
		dieAgain    bool          // node1 dies again right after failing back
		wantSecond  time.Duration // the next cut, after the failback
		wantHeldMsg string
	}{
		{name: "auto after the settle time", failback: api.FailbackAuto, minCut: time.Second, wantBack: 10 * time.Second},
		{name: "auto held by the minimum cut interval", failback: api.FailbackAuto, minCut: time.Minute,
			wantBack: 55 * time.Second, dieAgain: true, wantSecond: 60 * time.Second,
			wantHeldMsg: "minimum interval 1m0s"},
		{name: "manual waits for MakeActive", failback: api.FailbackManual, minCut: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld()
				p := webPool(w, "", func(p *PoolState) { p.Failback = tt.failback })
				e := w.engine(func(c *Config) { c.MinCutInterval = tt.minCut })
				activate(t, w, e, p)
				w.kill(p.ID, "node1")
				runFor(t, e, 40*time.Second, func() bool { return w.active(p.ID) == "node2" })
				if got := w.active(p.ID); got != "node2" {
					t.Fatalf("active member after node1 died: got %q, want node2", got)
				}
				time.Sleep(5 * time.Second)
				w.revive(p.ID, "node1")
				revived := time.Now()
				took := runFor(t, e, 5*time.Minute, func() bool { return w.active(p.ID) == "node1" })
				if tt.wantBack == 0 {
					if got := w.active(p.ID); got != "node2" {
						t.Fatalf("active member with failback manual: got %q, want node2", got)
					}
					if err := e.MakeActive(t.Context(), "web", "node1", false); err != nil {
						t.Fatalf("MakeActive(node1): %v", err)
					}
					if got := w.active(p.ID); got != "node1" {
						t.Fatalf("active member after MakeActive: got %q, want node1", got)
					}
					if got := w.pubs("web", revived); len(got) != 1 || got[0].Addr != "192.0.2.1" {
						t.Errorf("publications after MakeActive: got %v, want one for 192.0.2.1", got)
					}
					w.event(t, "web", KindManual)
					return
				}
				if took < tt.wantBack || took > tt.wantBack+time.Second {
					t.Errorf("failback %s after node1 came back, want %s", took, tt.wantBack)
				}
				ev := w.event(t, "web", KindFailback)
				if ev.Member != "node1" || !strings.Contains(ev.Message, "preferred member") {
					t.Errorf("failback event: got %q for %q, want node1 as the preferred member", ev.Message, ev.Member)
				}
				if b := w.banners[p.ID]; b == nil || !strings.HasPrefix(b.Message, "failed back to node1") {
					t.Errorf("banner: got %+v, want failed back to node1", b)
				}
				if !tt.dieAgain {
					return
				}
				w.kill(p.ID, "node1")
				took = runFor(t, e, 5*time.Minute, func() bool { return w.active(p.ID) == "node2" })
				if took < tt.wantSecond || took > tt.wantSecond+time.Second {
					t.Errorf("second cut %s after node1 died again, want %s (the minimum interval)", took, tt.wantSecond)
				}
				if ev := w.event(t, "web", KindHeld); !strings.Contains(ev.Message, tt.wantHeldMsg) {
					t.Errorf("held event: got %q, want it to mention %q", ev.Message, tt.wantHeldMsg)
				}
			})
		})
	}
}

func TestMakeActive(t *testing.T) {
	tests := []struct {
		name, pool, member string
		force              bool
		notLeader          bool
		want               *apperr.Kind // nil: success
		wantActive         string
	}{
		{name: "healthy member", pool: "web", member: "node3", wantActive: "node3"},
		{name: "already active", pool: "web", member: "node1", wantActive: "node1"},
		{name: "unhealthy refused", pool: "web", member: "node2", want: apperr.Conflict, wantActive: "node1"},
		{name: "unhealthy forced", pool: "web", member: "node2", force: true, wantActive: "node2"},
		{name: "unknown member", pool: "web", member: "node9", want: apperr.NotFound, wantActive: "node1"},
		{name: "unknown pool", pool: "db", member: "node1", want: apperr.NotFound, wantActive: "node1"},
		{name: "not the leader", pool: "web", member: "node3", notLeader: true, want: apperr.Unavailable, wantActive: "node1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld()
				p := webPool(w, "")
				e := w.engine()
				activate(t, w, e, p)
				w.kill(p.ID, "node2")
				runFor(t, e, 15*time.Second, nil) // node2 is down now
				if tt.notLeader {
					w.set(func(w *world) { w.leaseEpoch = 0 })
				}
				before := len(w.pubs("web", time.Time{}))
				err := e.MakeActive(t.Context(), tt.pool, tt.member, tt.force)
				switch {
				case tt.want == nil && err != nil:
					t.Fatalf("MakeActive(%s, %s, force=%v): got %v, want nil", tt.pool, tt.member, tt.force, err)
				case tt.want != nil && !errors.Is(err, tt.want):
					t.Fatalf("MakeActive(%s, %s, force=%v): got %v, want %s", tt.pool, tt.member, tt.force, err, tt.want.Code())
				}
				if got := w.active(p.ID); got != tt.wantActive {
					t.Errorf("active member: got %q, want %q", got, tt.wantActive)
				}
				moved := tt.wantActive != "node1"
				if got := len(w.pubs("web", time.Time{})) - before; got != map[bool]int{true: 1}[moved] {
					t.Errorf("publications: got %d more, want %d", got, map[bool]int{true: 1}[moved])
				}
				if moved {
					ev := w.event(t, "web", KindManual)
					if data := decode(t, ev); data["force"] != tt.force || data["from"] != "node1" {
						t.Errorf("manual event data: got %s, want force %v from node1", ev.Data, tt.force)
					}
				}
			})
		})
	}
}

// TestFencedWriteStepsDown: a refused fenced write makes the engine step
// down; it publishes nothing until it holds the lease with a new epoch.
func TestFencedWriteStepsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		p := webPool(w, "")
		e := w.engine()
		activate(t, w, e, p)
		w.set(func(w *world) { w.storeEpoch = 2 }) // another replica took over; our Acquire is stale
		w.kill(p.ID, "node1")
		killed := time.Now()
		runFor(t, e, 2*time.Minute, nil)
		if got := w.count("web", KindStepDown); got != 1 {
			t.Errorf("step_down events: got %d, want 1", got)
		}
		if got := w.pubs("web", killed); len(got) != 0 {
			t.Errorf("publications after stepping down: got %v, want none", got)
		}
		if got := w.active(p.ID); got != "node1" {
			t.Errorf("active member: got %q, want node1 (the write was refused)", got)
		}
		if err := e.MakeActive(t.Context(), "web", "node3", false); !errors.Is(err, apperr.Unavailable) {
			t.Errorf("MakeActive after stepping down: got %v, want %s", err, apperr.Unavailable.Code())
		}

		w.set(func(w *world) { w.leaseEpoch, w.storeEpoch = 3, 3 })
		regained := time.Now()
		if err := e.Step(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := w.active(p.ID); got != "node2" {
			t.Errorf("active member after regaining the lease: got %q, want node2", got)
		}
		if got := w.pubs("web", regained); len(got) != 1 || got[0].Addr != "192.0.2.2" {
			t.Errorf("publications after regaining the lease: got %v, want one for 192.0.2.2", got)
		}
	})
}

// TestRestartMidDelay: a new engine over the same state does not cut
// before a full delay since the restart, and does not lose the cut either.
func TestRestartMidDelay(t *testing.T) {
	for _, grace := range []bool{true, false} {
		name := map[bool]string{true: "source applies restart grace", false: "engine applies its own grace"}[grace]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld()
				p := webPool(w, probeURL)
				old := w.engine()
				activate(t, w, old, p)
				w.kill(p.ID, "node1")
				runFor(t, old, 20*time.Second, nil)
				old.bg.Wait()

				time.Sleep(3 * time.Second) // the server is down
				restarted := time.Now()
				if grace {
					w.set(func(w *world) { w.grace = restarted })
				}
				e := w.engine()
				took := runFor(t, e, 2*time.Minute, func() bool { return w.active(p.ID) == "node2" })
				if took < 30*time.Second || took > 31*time.Second {
					t.Errorf("cut %s after the restart, want a full delay (30s) after it", took)
				}
				if got := w.active(p.ID); got != "node2" {
					t.Errorf("active member: got %q, want node2", got)
				}
				if got := w.pubs("web", restarted); len(got) != 2 || got[0].Addr != "192.0.2.1" || got[1].Addr != "192.0.2.2" {
					t.Errorf("publications after the restart: got %v, want a republish of 192.0.2.1 then 192.0.2.2", got)
				}
			})
		})
	}
}

// TestPublishFailureRetried: a failed publish is reported once and retried
// every tick until it succeeds.
func TestPublishFailureRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		p := webPool(w, "")
		e := w.engine()
		activate(t, w, e, p)
		w.set(func(w *world) { w.publishErr = errors.New("zone www.example.test. not found") })
		w.kill(p.ID, "node1")
		runFor(t, e, time.Minute, nil)
		if got := w.active(p.ID); got != "node2" {
			t.Fatalf("active member: got %q, want node2", got)
		}
		if got := w.count("web", KindPublishError); got != 1 {
			t.Errorf("publish_failed events: got %d, want 1", got)
		}
		w.set(func(w *world) { w.publishErr = nil })
		fixed := time.Now()
		runFor(t, e, 5*time.Second, nil)
		if got := w.pubs("web", fixed); len(got) != 1 || got[0].Addr != "192.0.2.2" {
			t.Errorf("publications once the zone is back: got %v, want one for 192.0.2.2", got)
		}
		if err := e.Republish(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := w.pubs("web", fixed); len(got) != 2 {
			t.Errorf("publications after Republish: got %v, want a second one", got)
		}
	})
}

func TestChoose(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	m := func(name string, prio int, status string, healthyFor time.Duration) MemberState {
		s := MemberState{ID: int64(len(name) + prio), Name: name, Priority: prio, Status: status,
			Address: netip.MustParseAddr("192.0.2.1")}
		if status == api.StatusHealthy {
			since := now.Add(-healthyFor)
			s.HealthySince = &since
		}
		return s
	}
	tests := []struct {
		name    string
		members []MemberState
		want    string
		waiting string
	}{
		{"best priority wins", []MemberState{m("a", 2, "healthy", time.Hour), m("b", 1, "healthy", time.Minute)}, "b", ""},
		{"then longest streak", []MemberState{m("a", 1, "healthy", time.Minute), m("b", 1, "healthy", time.Hour)}, "b", ""},
		{"then name", []MemberState{m("b", 1, "healthy", time.Hour), m("a", 1, "healthy", time.Hour)}, "a", ""},
		{"unhealthy skipped", []MemberState{m("a", 1, "suspect", 0), m("b", 5, "healthy", time.Hour)}, "b", ""},
		{"unsettled waits", []MemberState{m("a", 1, "healthy", 3*time.Second), m("b", 5, "down", 0)}, "", "a"},
		{"settled beats unsettled", []MemberState{m("a", 1, "healthy", 3*time.Second), m("b", 5, "healthy", time.Hour)}, "b", "a"},
		{"none", []MemberState{m("a", 1, "down", 0), m("b", 1, "pending", 0)}, "", ""},
	}
	for _, tt := range tests {
		got := choose(tt.members, now, 10*time.Second, 0, true)
		name, waiting := "", ""
		if got.best != nil {
			name = got.best.Name
		}
		if len(got.waiting) > 0 {
			waiting = got.waiting[0].Name
		}
		if name != tt.want || waiting != tt.waiting {
			t.Errorf("%s: got best %q waiting %q, want %q and %q", tt.name, name, waiting, tt.want, tt.waiting)
		}
	}
}

// TestRun drives the engine through Run: it ticks by itself, takes the
// lease and returns when its context ends.
func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		p := webPool(w, probeURL)
		e := w.engine()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- e.Run(ctx) }()
		time.Sleep(time.Second)
		if got := w.active(p.ID); got != "node1" {
			t.Fatalf("active member after 1s of Run: got %q, want node1", got)
		}
		w.kill(p.ID, "node1")
		time.Sleep(31 * time.Second)
		if got := w.active(p.ID); got != "node2" {
			t.Errorf("active member 31s after node1 died: got %q, want node2", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run after cancel: got %v, want nil", err)
		}
		if w.released != 1 {
			t.Errorf("lease releases when Run stopped: got %d, want 1", w.released)
		}
	})
}
