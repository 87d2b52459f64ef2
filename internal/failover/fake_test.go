package failover

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// world is an in-memory fleet, store, DNS and lease behind the engine's
// interfaces. Members beat continuously while alive; their status follows
// the fleet's rule with a 2s interval and a 10s timeout.
type world struct {
	mu         sync.Mutex
	pools      []*PoolState
	members    map[int64][]*fakeMember
	up         map[string]bool // probe target -> the service answers
	cut        map[string]bool // observer -> partitioned: sees every probe fail
	mute       map[string]bool // witness -> does not answer
	slow       map[int64]time.Duration
	grace      time.Time // restart grace: LastBeat is reported as at least this
	published  []publication
	events     []api.Event
	banners    map[int64]*api.Banner
	leaseEpoch int64 // what Acquire returns
	storeEpoch int64 // what SetActive accepts
	publishErr error
	hookCalls  []string
	hookErr    error // what CallURL answers, when set
	released   int   // Release calls
}

type fakeMember struct {
	MemberState
	alive bool
	beat  time.Time
	since *time.Time
}

type publication struct {
	At     time.Time
	Pool   string
	Record string
	Addr   string
}

func (p publication) String() string { return fmt.Sprintf("%s→%s", p.Record, p.Addr) }

func newWorld() *world {
	return &world{members: map[int64][]*fakeMember{}, up: map[string]bool{}, cut: map[string]bool{},
		mute: map[string]bool{}, slow: map[int64]time.Duration{}, banners: map[int64]*api.Banner{},
		leaseEpoch: 1, storeEpoch: 1}
}

// pool adds a pool with members "name@address/priority[!probe]" that are
// alive and healthy since now.
func (w *world) pool(p PoolState, members ...string) *PoolState {
	w.mu.Lock()
	defer w.mu.Unlock()
	p.ID = int64(len(w.pools) + 1)
	w.pools = append(w.pools, &p)
	now := time.Now()
	for _, spec := range members {
		var probe string
		spec, probe, _ = strings.Cut(spec, "!")
		name, rest, _ := strings.Cut(spec, "@")
		addr, prio, _ := strings.Cut(rest, "/")
		var n int
		fmt.Sscan(prio, &n)
		since := now
		m := &fakeMember{MemberState: MemberState{ID: p.ID*100 + int64(len(w.members[p.ID])+1), Name: name,
			Address: netip.MustParseAddr(addr), Priority: n, ProbeURL: probe}, alive: true, beat: now, since: &since}
		w.members[p.ID] = append(w.members[p.ID], m)
	}
	return &p
}

func (w *world) member(pool int64, name string) *fakeMember {
	for _, m := range w.members[pool] {
		if m.Name == name {
			return m
		}
	}
	panic("no member " + name)
}

// kill stops a member's heartbeats.
func (w *world) kill(pool int64, names ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range names {
		m := w.member(pool, n)
		if m.alive {
			m.alive, m.beat = false, time.Now()
		}
	}
}

// revive resumes a member's heartbeats; it is healthy from now on.
func (w *world) revive(pool int64, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.member(pool, name)
	now := time.Now()
	m.alive, m.beat, m.since = true, now, &now
}

// beat delivers one heartbeat of a member that is otherwise silent.
func (w *world) beat(pool int64, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.member(pool, name).beat = time.Now()
}

func (w *world) set(f func(w *world)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f(w)
}

func (w *world) Pools(ctx context.Context) ([]PoolState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []PoolState
	for _, p := range w.pools {
		out = append(out, *p)
	}
	return out, nil
}

func (w *world) Members(ctx context.Context, poolID int64) ([]MemberState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	var out []MemberState
	for _, m := range w.members[poolID] {
		if m.alive {
			m.beat = now
		}
		s := m.MemberState
		switch age := now.Sub(m.beat); {
		case m.beat.IsZero():
			s.Status, m.since = api.StatusPending, nil
		case age <= 4*time.Second:
			s.Status = api.StatusHealthy
			if m.since == nil {
				t := m.beat
				m.since = &t
			}
			t := *m.since
			s.HealthySince = &t
		case age <= 10*time.Second:
			s.Status, m.since = api.StatusSuspect, nil
		default:
			s.Status, m.since = api.StatusDown, nil
		}
		if !m.beat.IsZero() {
			s.LastBeat = later(m.beat, w.grace)
		}
		out = append(out, s)
	}
	return out, nil
}

func (w *world) Probe(ctx context.Context, target string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.up[target] && !w.cut[ServerObserver] {
		return nil
	}
	return fmt.Errorf("dial %s: connection refused", target)
}

type witnesses struct{ w *world }

func (f witnesses) Probe(ctx context.Context, poolID int64, exclude []int64, target string) []Observation {
	w := f.w
	w.mu.Lock()
	delay := w.slow[poolID]
	var out []Observation
	for _, m := range w.members[poolID] {
		if slices.Contains(exclude, m.ID) || !m.alive || w.mute[m.Name] {
			continue
		}
		o := Observation{Observer: m.Name, OK: w.up[target] && !w.cut[m.Name], Detail: "connected"}
		if !o.OK {
			o.Detail = "timeout"
		}
		out = append(out, o)
	}
	w.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil
		}
	}
	return out
}

func (w *world) Publish(ctx context.Context, p PoolState, addr netip.Addr) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.publishErr != nil {
		return w.publishErr
	}
	w.published = append(w.published, publication{At: time.Now(), Pool: p.Name, Record: p.Record, Addr: addr.String()})
	return nil
}

func (w *world) SetActive(ctx context.Context, poolID, memberID int64, banner *api.Banner, epoch int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if epoch != w.storeEpoch {
		return fmt.Errorf("set active: %w", ErrFenced)
	}
	for _, p := range w.pools {
		if p.ID == poolID {
			p.ActiveMemberID = memberID
			if banner != nil {
				w.banners[poolID] = banner
			}
			return nil
		}
	}
	return fmt.Errorf("pool %d not found", poolID)
}

func (w *world) Emit(ctx context.Context, e api.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, e)
}

func (w *world) Acquire(ctx context.Context) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.leaseEpoch, nil
}

func (w *world) Release(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.released++
	return nil
}

func (w *world) CallURL(ctx context.Context, url string, payload []byte) (int, string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hookCalls = append(w.hookCalls, url+" "+string(payload))
	if w.hookErr != nil {
		return 0, "", w.hookErr
	}
	return 204, "", nil
}

// active returns the name of a pool's active member ("" for none).
func (w *world) active(pool int64) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, p := range w.pools {
		if p.ID == pool {
			for _, m := range w.members[pool] {
				if m.ID == p.ActiveMemberID {
					return m.Name
				}
			}
		}
	}
	return ""
}

// pubs returns the publications of a pool after (or at) from.
func (w *world) pubs(pool string, from time.Time) []publication {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []publication
	for _, p := range w.published {
		if p.Pool == pool && !p.At.Before(from) {
			out = append(out, p)
		}
	}
	return out
}

// kinds returns the failover event kinds of a pool, in order, without the
// hook results.
func (w *world) kinds(pool string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, e := range w.events {
		if e.Pool == pool && e.Kind != KindHook {
			out = append(out, e.Kind)
		}
	}
	return out
}

// event returns the last event of a kind for a pool.
func (w *world) event(t *testing.T, pool, kind string) api.Event {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.events) - 1; i >= 0; i-- {
		if e := w.events[i]; e.Pool == pool && e.Kind == kind {
			return e
		}
	}
	t.Fatalf("no %s event for pool %s; got events %v", kind, pool, w.events)
	return api.Event{}
}

func (w *world) count(pool, kind string) int {
	n := 0
	for _, k := range w.kinds(pool) {
		if k == kind {
			n++
		}
	}
	return n
}

// engine returns an engine over w with the test defaults.
func (w *world) engine(tweak ...func(*Config)) *Engine {
	cfg := Config{Source: w, Prober: w, Witnesses: witnesses{w}, Publisher: w, State: w, Events: w, Lease: w, Hooks: w,
		Settle: 10 * time.Second, MinCutInterval: 60 * time.Second}
	for _, f := range tweak {
		f(&cfg)
	}
	return New(cfg)
}

// runFor steps e every 500ms for d of fake time, stopping early when until
// reports true. It returns the time spent.
func runFor(t *testing.T, e *Engine, d time.Duration, until func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < d {
		if err := e.Step(t.Context()); err != nil {
			t.Logf("Step at +%s: %v", time.Since(start), err)
		}
		if until != nil && until() {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	return time.Since(start)
}

func decode(t *testing.T, e api.Event) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.Data, &m); err != nil {
		t.Fatalf("event %s data %s: %v", e.Kind, e.Data, err)
	}
	return m
}
