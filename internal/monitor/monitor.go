// Package monitor turns events into incidents and incidents into messages,
// with alert hygiene: one alert per incident (it fires once its condition
// held for its duration, resolves once the condition stayed clear for the
// recovery duration, with one "resolved" message and reminders at an
// interval), dependencies (a member that is down suppresses its other
// alerts and folds them into its own) and grouping (incidents of one pool
// that fire together make one message per pool and channel).
//
// The engine reads the event log from a cursor kept in the store, and
// writes each step — the cursor, the incidents changed and the messages
// queued (internal/notify) — in one transaction: a restart resumes where
// the last step ended, announcing nothing twice and nothing less.
package monitor

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/notify"
	"github.com/poolctl/poolctl/internal/store"
)

// Alert kinds (the presets).
const (
	AlertMemberDown        = "member_down"         // fleet status down
	AlertFailover          = "failover"            // the failover record moved
	AlertDNSMemberDisabled = "dns_member_disabled" // a DNS cluster member was disabled
	AlertReplicationFailed = "replication_failed"  // a replication run failed
)

// Incident states.
const (
	StatePending    = "pending"    // the condition holds, not yet for long enough
	StateFiring     = "firing"     // alerted
	StateRecovering = "recovering" // the condition cleared, not yet for long enough
	StateResolved   = "resolved"
)

// Store is what the engine keeps in the store (internal/store implements it).
type Store interface {
	MonitorCursor(ctx context.Context) (int64, error)
	LastEventID(ctx context.Context) (int64, error)
	ListEvents(ctx context.Context, f store.EventFilter) ([]api.Event, error)
	ListIncidents(ctx context.Context, f store.IncidentFilter) ([]store.Incident, error)
	ListMonitorRoutes(ctx context.Context, poolID int64) ([]store.MonitorRoute, error)
	// CommitMonitor writes one step at once (or nothing).
	CommitMonitor(ctx context.Context, c store.MonitorCommit, now time.Time) error
}

// Queue makes the delivery rows of messages and wakes their workers
// (internal/notify.Service implements it).
type Queue interface {
	NewDelivery(channelID int64, m notify.Message) (*store.NotifyDelivery, error)
	Wake()
}

// Rule is the timing of an alert kind.
type Rule struct {
	For     time.Duration // the condition must hold this long before the alert fires
	Recover time.Duration // and stay clear this long before it resolves
}

// Config configures the engine.
type Config struct {
	Store Store
	Queue Queue
	// DashboardURL is the dashboard's address, for links in messages.
	DashboardURL string
	// MemberDown is the member-down rule; default For 0 (the fleet's
	// heartbeat timeout has passed already), Recover 30 s.
	MemberDown *Rule
	// DNSMember is the DNS-cluster-member rule; default For 0, Recover 0.
	DNSMember *Rule
	// GroupWait is how long a fired incident waits for others of its pool
	// to share its message; default 500 ms.
	GroupWait time.Duration
	// Remind repeats a firing incident's alert this often; default 4 h
	// (negative: never).
	Remind time.Duration
	// Maintenance mutes the alerts of pools and members in a maintenance
	// window; nil: none.
	Maintenance Maintenance
	// Poll is how often the event log is read; default 250 ms.
	Poll time.Duration
	// Leading reports whether this replica runs the singleton engines;
	// nil: always. A replica that takes over reads the state again.
	Leading func() bool
	Now     func() time.Time
	Logger  *slog.Logger
}

// Engine is the monitor.
type Engine struct {
	cfg    Config
	st     Store
	log    *slog.Logger
	rules  map[string]Rule
	cursor int64
	open   map[string]*store.Incident // by key: not resolved, or resolved and not yet announced

	// One step's writes.
	dirty   map[*store.Incident]bool
	deleted []int64
	out     []*store.NotifyDelivery
	moved   bool // the cursor moved
}

// New returns an engine; Load (or Run) reads its state.
func New(cfg Config) *Engine {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.GroupWait <= 0 {
		cfg.GroupWait = 500 * time.Millisecond
	}
	if cfg.Remind == 0 {
		cfg.Remind = 4 * time.Hour
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	md := Rule{Recover: 30 * time.Second}
	if cfg.MemberDown != nil {
		md = *cfg.MemberDown
	}
	dm := Rule{}
	if cfg.DNSMember != nil {
		dm = *cfg.DNSMember
	}
	return &Engine{cfg: cfg, st: cfg.Store, log: cfg.Logger.With("component", "monitor"),
		rules: map[string]Rule{AlertMemberDown: md, AlertDNSMemberDisabled: dm}, open: map[string]*store.Incident{}}
}

// Load reads the cursor and the open incidents. On the very first start
// the cursor begins at the newest event: history is not alerted on.
func (e *Engine) Load(ctx context.Context) error {
	c, err := e.st.MonitorCursor(ctx)
	if err != nil {
		return err
	}
	if c == 0 {
		if c, err = e.st.LastEventID(ctx); err != nil {
			return err
		}
		e.moved = c > 0
	}
	e.cursor = c
	ins, err := e.st.ListIncidents(ctx, store.IncidentFilter{Open: true})
	if err != nil {
		return err
	}
	// Resolved but not yet announced ones are open too.
	recent, err := e.st.ListIncidents(ctx, store.IncidentFilter{Limit: 1000})
	if err != nil {
		return err
	}
	e.open = map[string]*store.Incident{}
	for _, in := range append(ins, recent...) {
		if in.State == StateResolved && !needsAnnouncement(&in) {
			continue
		}
		in := in
		e.open[in.Key] = &in
	}
	e.reset()
	return nil
}

func (e *Engine) reset() {
	e.dirty, e.deleted, e.out = map[*store.Incident]bool{}, nil, nil
}

// Run steps the engine every Poll until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.Load(ctx); err != nil {
		return err
	}
	t := time.NewTicker(e.cfg.Poll)
	defer t.Stop()
	stale := false
	for {
		if e.cfg.Leading != nil && !e.cfg.Leading() {
			stale = true
		} else if stale {
			if err := e.Load(ctx); err != nil {
				e.log.Error("monitor reload", "err", err)
			} else {
				stale = false
			}
		} else if err := e.Step(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("monitor step", "err", err)
			if lerr := e.Load(ctx); lerr != nil {
				e.log.Error("monitor reload", "err", lerr)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Step reads new events, advances the incidents' timers, announces what is
// due, and writes it all in one transaction.
func (e *Engine) Step(ctx context.Context) error {
	for range 10 { // at most 10000 events a step
		evs, err := e.st.ListEvents(ctx, store.EventFilter{After: e.cursor, Limit: 1000})
		if err != nil {
			return err
		}
		for _, ev := range evs {
			e.apply(ev)
			e.cursor, e.moved = ev.ID, true
		}
		if len(evs) < 1000 {
			break
		}
	}
	now := e.cfg.Now()
	e.advance(now)
	if err := e.announce(ctx, now); err != nil {
		return err
	}
	if !e.moved && len(e.dirty) == 0 && len(e.deleted) == 0 && len(e.out) == 0 {
		return nil
	}
	c := store.MonitorCommit{Deleted: e.deleted, Deliveries: e.out}
	if e.moved {
		c.Cursor = e.cursor
	}
	for in := range e.dirty {
		c.Incidents = append(c.Incidents, in)
	}
	if err := e.st.CommitMonitor(ctx, c, now); err != nil {
		e.reset()
		return err
	}
	for key, in := range e.open {
		if in.State == StateResolved && !needsAnnouncement(in) {
			delete(e.open, key)
		}
	}
	sent := len(e.out) > 0
	e.reset()
	e.moved = false
	if sent && e.cfg.Queue != nil {
		e.cfg.Queue.Wake()
	}
	return nil
}

func (e *Engine) touch(in *store.Incident) { e.dirty[in] = true }

func eventMember(ev api.Event) string {
	var d struct {
		Member string `json:"member"`
	}
	if len(ev.Data) > 0 && json.Unmarshal(ev.Data, &d) == nil && d.Member != "" {
		return d.Member
	}
	return ev.Member
}

func key(kind, pool, member string) string { return kind + "/" + pool + "/" + member }

// apply turns one event into condition changes.
func (e *Engine) apply(ev api.Event) {
	switch ev.Kind {
	case "member." + api.StatusDown:
		e.hold(AlertMemberDown, api.SeverityCritical, ev.Pool, ev.Member, ev.Message, ev.Time)
	case "member." + api.StatusHealthy, "member.removed":
		e.clear(key(AlertMemberDown, ev.Pool, ev.Member), ev.Time)
	case "dns.cluster_member_disabled":
		e.hold(AlertDNSMemberDisabled, api.SeverityWarning, "", eventMember(ev), ev.Message, ev.Time)
	case "dns.cluster_member_enabled", "dns.cluster_member_removed":
		var r struct {
			Host string `json:"host"`
		}
		m := eventMember(ev)
		if m == "" && json.Unmarshal(ev.Data, &r) == nil {
			m = r.Host
		}
		e.clear(key(AlertDNSMemberDisabled, "", m), ev.Time)
	case "failover.cut":
		e.once(AlertFailover, api.SeverityCritical, ev, ev.Member)
	case "replication.failed":
		if down := e.open[key(AlertMemberDown, ev.Pool, ev.Member)]; down != nil && down.State != StateResolved {
			// Dependency: the member is down; its replication failing is a
			// consequence, folded into the member-down alert.
			down.Suppressed++
			e.touch(down)
			return
		}
		e.once(AlertReplicationFailed, api.SeverityWarning, ev, ev.Member)
	}
}

// hold: the condition of an incident holds from at.
func (e *Engine) hold(kind, sev, pool, member, cause string, at time.Time) {
	k := key(kind, pool, member)
	in := e.open[k]
	switch {
	case in == nil || in.State == StateResolved:
		if in != nil && needsAnnouncement(in) {
			// Its resolution is not announced yet: it was not resolved.
			in.State, in.ResolvedAt, in.RecoveringSince = StateFiring, nil, nil
			e.touch(in)
			return
		}
		in = &store.Incident{Key: k, Kind: kind, Severity: sev, Pool: pool, Member: member, Cause: cause, State: StatePending, Since: at}
		e.open[k] = in
		e.touch(in)
	case in.State == StateRecovering:
		in.State, in.RecoveringSince = StateFiring, nil
		e.touch(in)
	}
}

// clear: the condition no longer holds from at.
func (e *Engine) clear(k string, at time.Time) {
	in := e.open[k]
	if in == nil {
		return
	}
	switch in.State {
	case StatePending:
		// It never fired: nobody hears of it.
		delete(e.open, k)
		delete(e.dirty, in)
		if in.ID != 0 {
			e.deleted = append(e.deleted, in.ID)
		}
	case StateFiring:
		in.State, in.RecoveringSince = StateRecovering, &at
		e.touch(in)
	}
}

// once: an incident that happens rather than holds (a failover, a failed
// run) fires at once and has no resolution.
func (e *Engine) once(kind, sev string, ev api.Event, member string) {
	at := ev.Time
	k := key(kind, ev.Pool, member) + "/" + itoa(ev.ID)
	in := &store.Incident{Key: k, Kind: kind, Severity: sev, Pool: ev.Pool, Member: member, Cause: ev.Message, State: StateFiring, Since: at, FiredAt: &at}
	e.open[k] = in
	e.touch(in)
}

func oneShot(kind string) bool { return kind == AlertFailover || kind == AlertReplicationFailed }

// advance moves incidents whose timers ran out.
func (e *Engine) advance(now time.Time) {
	for _, in := range e.open {
		r := e.rules[in.Kind]
		switch in.State {
		case StatePending:
			if now.Sub(in.Since) >= r.For {
				t := now
				in.State, in.FiredAt = StateFiring, &t
				e.touch(in)
			}
		case StateRecovering:
			if now.Sub(*in.RecoveringSince) >= r.Recover {
				t := now
				in.State, in.ResolvedAt = StateResolved, &t
				e.touch(in)
			}
		}
	}
}

// needsAnnouncement: fired and not announced, resolved and not announced,
// or due a reminder (checked separately).
func needsAnnouncement(in *store.Incident) bool {
	switch in.State {
	case StateFiring, StateRecovering:
		return in.FiredAt != nil && in.NotifiedAt == nil
	case StateResolved:
		if in.Muted != "" && in.NotifiedAt == nil {
			return false // nobody heard of it: nobody hears it resolved
		}
		return in.ResolvedAt != nil && (in.NotifiedAt == nil || in.NotifiedAt.Before(*in.ResolvedAt))
	}
	return false
}
