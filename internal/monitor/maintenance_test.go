package monitor_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/monitor"
)

// window is a maintenance window of one target, open until until.
type window struct {
	mu     sync.Mutex
	member string // "" the whole pool
	until  time.Time
}

func (w *window) Covering(_ context.Context, pool, member string, now time.Time) (*api.MaintenanceWindow, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if pool != "web" || (w.member != "" && w.member != member) || !now.Before(w.until) {
		return nil, nil
	}
	u := w.until
	return &api.MaintenanceWindow{Pool: pool, Member: w.member, Reason: "kernel upgrade", Active: true, Until: &u}, nil
}

func runWith(t *testing.T, st *memStore, m monitor.Maintenance) (stop func()) {
	t.Helper()
	e := monitor.New(monitor.Config{Store: st, Queue: queue{}, Maintenance: m,
		MemberDown: &monitor.Rule{For: 10 * time.Second, Recover: 30 * time.Second}, Remind: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := e.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	return func() { cancel(); <-done }
}

func incident(t *testing.T, st *memStore, member, kind string) (out []string) {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, in := range st.incidents {
		if in.Member == member && in.Kind == kind {
			out = append(out, in.State+":"+in.Muted)
		}
	}
	return out
}

// TestMaintenanceMutes: while a window covers a member, its down alert and
// a failover of the pool send nothing but are recorded as muted; a member
// that recovers inside the window is never announced, one still down when
// the window ends is alerted then, and other members alert as usual.
func TestMaintenanceMutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		w := &window{member: "web1", until: time.Now().Add(10 * time.Minute)}
		defer runWith(t, st, w)()

		st.emit("member.down", "web", "web1")
		time.Sleep(time.Minute)
		want(t, st.sent(t, 1))
		if got := incident(t, st, "web1", monitor.AlertMemberDown); len(got) != 1 || got[0] != "firing:maintenance of web1 until "+w.until.UTC().Format("2006-01-02 15:04 UTC")+" (kernel upgrade)" {
			t.Fatalf("incident in the window: %v", got)
		}
		st.emit("member.healthy", "web", "web1")
		time.Sleep(time.Minute)
		want(t, st.sent(t, 1)) // no "resolved" for an alert nobody heard
		if got := incident(t, st, "web1", monitor.AlertMemberDown); len(got) != 1 || got[0][:9] != "resolved:" {
			t.Fatalf("incident after recovery: %v", got)
		}

		// Another member is not covered.
		st.emit("member.down", "web", "web2")
		time.Sleep(15 * time.Second)
		want(t, st.sent(t, 1), "alert:1")

		// Down again inside the window and still down after it: alerted
		// when the window ends, not before.
		st.emit("member.down", "web", "web1")
		time.Sleep(time.Until(w.until) - time.Second)
		want(t, st.sent(t, 1), "alert:1")
		time.Sleep(2 * time.Second)
		ms := st.sent(t, 1)
		want(t, ms, "alert:1", "alert:1")
		if ms[1].Items[0].Member != "web1" {
			t.Fatalf("alert after the window for %s, want web1", ms[1].Items[0].Member)
		}
	})
}

// TestMaintenancePoolWindow: a window of the whole pool mutes its one-off
// alerts (a failover) for good, and its members' alerts; alerts resume
// once it ends.
func TestMaintenancePoolWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		w := &window{until: time.Now().Add(time.Hour)}
		defer runWith(t, st, w)()
		st.emit("failover.cut", "web", "web2")
		st.emit("member.down", "web", "web3")
		time.Sleep(time.Minute)
		want(t, st.sent(t, 0))
		if got := incident(t, st, "web2", monitor.AlertFailover); len(got) != 1 || got[0][:9] != "resolved:" || len(got[0]) < 20 {
			t.Fatalf("muted failover: %v", got)
		}
		st.emit("member.healthy", "web", "web3")
		time.Sleep(time.Hour)
		want(t, st.sent(t, 0))
		st.emit("failover.cut", "web", "web1")
		time.Sleep(2 * time.Second)
		want(t, st.sent(t, 1), "alert:1")
	})
}
