package failover

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// pause is a maintenance window with failover paused for one member
// until a time.
type pause struct {
	mu     sync.Mutex
	member string
	until  time.Time
}

func (p *pause) Paused(_ context.Context, pool, member string, now time.Time) (bool, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pool == "web" && member == p.member && now.Before(p.until) {
		return true, "maintenance of " + member, nil
	}
	return false, "", nil
}

// TestPauseHoldsCut: while a window pauses failover for the active
// member, its death cuts nothing (one failover.paused event); once the
// window ends the cut happens.
func TestPauseHoldsCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		p := webPool(w, "")
		pz := &pause{member: "node1", until: time.Now().Add(5 * time.Minute)}
		e := w.engine(func(c *Config) { c.Pause = pz })
		activate(t, w, e, p)
		w.kill(p.ID, "node1")
		runFor(t, e, 4*time.Minute, nil)
		if got := w.active(p.ID); got != "node1" {
			t.Fatalf("active member during the window: got %q, want node1", got)
		}
		if n := w.count("web", KindPaused); n != 1 {
			t.Fatalf("failover.paused events: got %d, want 1", n)
		}
		if n := w.count("web", KindCut); n != 0 {
			t.Fatalf("cuts during the window: got %d, want 0", n)
		}
		runFor(t, e, 2*time.Minute, func() bool { return w.active(p.ID) == "node2" })
		if got := w.active(p.ID); got != "node2" {
			t.Fatalf("active member after the window: got %q, want node2", got)
		}
	})
}

// TestPauseOtherMember: a window of another member pauses nothing.
func TestPauseOtherMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		p := webPool(w, "")
		e := w.engine(func(c *Config) { c.Pause = &pause{member: "node3", until: time.Now().Add(time.Hour)} })
		activate(t, w, e, p)
		w.kill(p.ID, "node1")
		runFor(t, e, time.Minute, func() bool { return w.active(p.ID) == "node2" })
		if got := w.active(p.ID); got != "node2" || w.count("web", KindPaused) != 0 {
			t.Fatalf("active %q, %d paused events; want node2 and none", got, w.count("web", KindPaused))
		}
	})
}
