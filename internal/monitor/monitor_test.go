package monitor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/monitor"
	"github.com/poolctl/poolctl/internal/notify"
	"github.com/poolctl/poolctl/internal/store"
)

// memStore is the store in memory: the event log, the incidents, the
// cursor, the routes and the queued deliveries.
type memStore struct {
	mu        sync.Mutex
	events    []api.Event
	incidents map[int64]store.Incident
	nextID    int64
	cursor    int64
	routes    []store.MonitorRoute
	queued    []store.NotifyDelivery
	commits   int
}

func newMemStore() *memStore {
	return &memStore{incidents: map[int64]store.Incident{}, routes: []store.MonitorRoute{
		{PoolID: 1, Pool: "web", ChannelID: 1, Channel: "pager", Severity: api.SeverityCritical},
		{PoolID: 1, Pool: "web", ChannelID: 2, Channel: "team", Severity: api.SeverityWarning},
	}}
}

func (s *memStore) emit(kind, pool, member string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, api.Event{ID: int64(len(s.events) + 1), Time: time.Now(), Kind: kind, Pool: pool, Member: member, Message: kind + " " + member})
}

func (s *memStore) MonitorCursor(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor, nil
}
func (s *memStore) LastEventID(context.Context) (int64, error) { return 0, nil }
func (s *memStore) ListEvents(_ context.Context, f store.EventFilter) ([]api.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []api.Event
	for _, e := range s.events {
		if e.ID > f.After && len(out) < f.Limit {
			out = append(out, e)
		}
	}
	return out, nil
}
func (s *memStore) ListIncidents(_ context.Context, f store.IncidentFilter) ([]store.Incident, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Incident
	for _, in := range s.incidents {
		if !f.Open || in.State != monitor.StateResolved {
			out = append(out, in)
		}
	}
	return out, nil
}
func (s *memStore) ListMonitorRoutes(context.Context, int64) ([]store.MonitorRoute, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.MonitorRoute(nil), s.routes...), nil
}
func (s *memStore) CommitMonitor(_ context.Context, c store.MonitorCommit, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits++
	if c.Cursor > 0 {
		s.cursor = c.Cursor
	}
	for _, id := range c.Deleted {
		delete(s.incidents, id)
	}
	for _, in := range c.Incidents {
		if in.ID == 0 {
			s.nextID++
			in.ID = s.nextID
		}
		s.incidents[in.ID] = *in
	}
	for _, d := range c.Deliveries {
		s.queued = append(s.queued, *d)
	}
	return nil
}

// sent decodes the queued messages to channel ("" all).
func (s *memStore) sent(t *testing.T, channel int64) []notify.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []notify.Message
	for _, d := range s.queued {
		if channel != 0 && d.ChannelID != channel {
			continue
		}
		var m notify.Message
		if err := json.Unmarshal(d.Message, &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

type queue struct{}

func (queue) NewDelivery(ch int64, m notify.Message) (*store.NotifyDelivery, error) {
	b, err := json.Marshal(m)
	return &store.NotifyDelivery{ChannelID: ch, Kind: m.Kind, Pool: m.Pool, Subject: m.Subject, Message: b}, err
}
func (queue) Wake() {}

// run starts an engine over st and returns its stop function.
func run(t *testing.T, st *memStore) (stop func()) {
	t.Helper()
	e := monitor.New(monitor.Config{Store: st, Queue: queue{}, DashboardURL: "https://poolctl.test",
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

func kinds(ms []notify.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s:%d", m.Kind, len(m.Items)))
	}
	return out
}

func want(t *testing.T, got []notify.Message, w ...string) {
	t.Helper()
	if fmt.Sprint(kinds(got)) != fmt.Sprint(w) {
		t.Fatalf("messages %v, want %v", kinds(got), w)
	}
}

func TestFlappingOneAlertOneResolve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		defer run(t, st)()
		// A blip shorter than For alerts nobody.
		st.emit("member.down", "web", "web1")
		time.Sleep(5 * time.Second)
		st.emit("member.healthy", "web", "web1")
		time.Sleep(time.Minute)
		want(t, st.sent(t, 1))

		st.emit("member.down", "web", "web1")
		time.Sleep(20 * time.Second)
		want(t, st.sent(t, 1), "alert:1")
		// Flapping: never clear for the recovery duration.
		for range 12 {
			st.emit("member.healthy", "web", "web1")
			time.Sleep(10 * time.Second)
			st.emit("member.down", "web", "web1")
			time.Sleep(5 * time.Second)
		}
		want(t, st.sent(t, 1), "alert:1")
		st.emit("member.healthy", "web", "web1")
		time.Sleep(29 * time.Second)
		want(t, st.sent(t, 1), "alert:1")
		time.Sleep(2 * time.Second)
		ms := st.sent(t, 1)
		want(t, ms, "alert:1", "resolved:1")
		if ms[0].Subject != "[poolctl] CRITICAL web: member web1 is down" || ms[0].Items[0].Link != "https://poolctl.test/pools/web/members/web1" {
			t.Fatalf("alert %q %q", ms[0].Subject, ms[0].Items[0].Link)
		}
		if ms[1].Subject != "[poolctl] RESOLVED web: member web1 is up again" {
			t.Fatalf("resolved %q", ms[1].Subject)
		}
		want(t, st.sent(t, 2), "alert:1", "resolved:1") // the warning channel hears critical alerts too
	})
}

func TestReminder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		defer run(t, st)()
		st.emit("member.down", "web", "web1")
		time.Sleep(2*time.Hour + 30*time.Second)
		want(t, st.sent(t, 1), "alert:1", "reminder:1", "reminder:1")
	})
}

func TestDownMemberSuppressesDependents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		defer run(t, st)()
		st.emit("member.down", "web", "web1")
		time.Sleep(15 * time.Second)
		st.emit("replication.failed", "web", "web1")
		st.emit("replication.failed", "web", "web1")
		time.Sleep(5 * time.Second)
		want(t, st.sent(t, 2), "alert:1")
		// Another member's failed run is its own alert, for the warning channel only.
		st.emit("replication.failed", "web", "web2")
		time.Sleep(5 * time.Second)
		want(t, st.sent(t, 2), "alert:1", "alert:1")
		want(t, st.sent(t, 1), "alert:1")
		st.emit("member.healthy", "web", "web1")
		time.Sleep(time.Minute)
		ms := st.sent(t, 1)
		want(t, ms, "alert:1", "resolved:1")
		if ms[1].Items[0].Suppressed != 2 {
			t.Fatalf("resolved message folds in %d dependent alerts, want 2", ms[1].Items[0].Suppressed)
		}
	})
}

func TestFiftyMembersOneMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		defer run(t, st)()
		for i := range 50 {
			st.emit("member.down", "web", fmt.Sprintf("web%02d", i))
			time.Sleep(time.Millisecond)
		}
		time.Sleep(15 * time.Second)
		ms := st.sent(t, 0)
		want(t, ms, "alert:50", "alert:50") // one per channel
		if ms[0].Subject != "[poolctl] CRITICAL web: 50 incidents (50 member down)" {
			t.Fatalf("subject %q", ms[0].Subject)
		}
		for i := range 50 {
			st.emit("member.healthy", "web", fmt.Sprintf("web%02d", i))
		}
		time.Sleep(time.Minute)
		want(t, st.sent(t, 1), "alert:50", "resolved:50")
	})
}

func TestRestartKeepsIncidents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		stop := run(t, st)
		st.emit("member.down", "web", "web1")
		time.Sleep(20 * time.Second)
		stop()
		want(t, st.sent(t, 1), "alert:1")

		// Down while the server is stopped; a restarted engine neither
		// alerts again nor forgets to resolve.
		stop = run(t, st)
		time.Sleep(time.Minute)
		want(t, st.sent(t, 1), "alert:1")
		st.emit("member.healthy", "web", "web1")
		time.Sleep(10 * time.Second)
		stop() // stopped while recovering
		stop = run(t, st)
		time.Sleep(time.Minute)
		want(t, st.sent(t, 1), "alert:1", "resolved:1")

		// Stopped after firing, before the group wait ended: the new
		// engine announces it, once.
		st.emit("member.down", "web", "web2")
		time.Sleep(10*time.Second + 260*time.Millisecond)
		stop()
		stop = run(t, st)
		time.Sleep(time.Minute)
		stop()
		want(t, st.sent(t, 1), "alert:1", "resolved:1", "alert:1")
	})
}

func TestFailoverAndDNSMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := newMemStore()
		defer run(t, st)()
		st.emit("failover.cut", "web", "web2")
		time.Sleep(2 * time.Second)
		want(t, st.sent(t, 1), "alert:1")
		st.mu.Lock()
		st.events = append(st.events, api.Event{ID: int64(len(st.events) + 1), Time: time.Now(), Kind: "dns.cluster_member_disabled", Message: "ns2 disabled", Data: json.RawMessage(`{"member":"ns2.example.test"}`)})
		st.mu.Unlock()
		time.Sleep(2 * time.Second)
		ms := st.sent(t, 2)
		want(t, ms, "alert:1", "alert:1")
		if ms[1].Subject != "[poolctl] WARNING DNS cluster: DNS cluster member ns2.example.test is disabled" {
			t.Fatalf("subject %q", ms[1].Subject)
		}
		st.mu.Lock()
		st.events = append(st.events, api.Event{ID: int64(len(st.events) + 1), Time: time.Now(), Kind: "dns.cluster_member_enabled", Data: json.RawMessage(`{"member":"ns2.example.test"}`)})
		st.mu.Unlock()
		time.Sleep(2 * time.Second)
		want(t, st.sent(t, 2), "alert:1", "alert:1", "resolved:1")
		want(t, st.sent(t, 1), "alert:1") // the failover has no resolution; the DNS member is a warning
	})
}
