package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
)

// liveMember is the in-memory health state of one member.
type liveMember struct {
	// credSeq is the Service's credSeq at this replica's last change of
	// cred: a reload that read the store before it must not undo it.
	credSeq      uint64
	id, poolID   int64
	pool, name   string
	status       string
	beaten       bool      // at least one heartbeat ever
	lastBeat     time.Time // true time of the last heartbeat (zero if none)
	base         time.Time // the TTL counts from here: lastBeat, or the restart grace start
	interval     time.Duration
	timeout      time.Duration
	healthySince *time.Time
	metrics      *api.Metrics
	agentVersion string
	lastSample   time.Time
	lastRx       uint64
	lastTx       uint64
	lastNetAt    time.Time
	jobsPending  int
	sendFacts    bool
	// remote is set when the last heartbeat reached another server replica
	// and was learned from the store, late by up to lag.
	remote bool
	lag    time.Duration
	// born orders this entry against reloads: a reload that read the store
	// before the entry was added must not drop it.
	born uint64
	// Operator-set fields the failover engine reads every tick.
	address  string
	priority int
	probeURL string
	// allowed are the source ranges the agent may send from (empty: any);
	// refused counts requests refused since refusedAt, the last report.
	allowed   []string
	refused   int
	refusedAt time.Time
	cred      credState
}

// Evaluate is the one rule that turns a member's heartbeat age into its
// state: pending until its first heartbeat; healthy while the last one is at
// most twice its interval old; suspect until the pool's heartbeat timeout;
// down after. (A status never improves without a heartbeat: a restart's
// grace period only delays the decline.)
func Evaluate(beaten bool, sinceBeat, interval, timeout time.Duration) string {
	switch {
	case !beaten:
		return api.StatusPending
	case sinceBeat <= 2*interval:
		return api.StatusHealthy
	case sinceBeat <= timeout:
		return api.StatusSuspect
	default:
		return api.StatusDown
	}
}

var rank = map[string]int{api.StatusHealthy: 0, api.StatusSuspect: 1, api.StatusDown: 2, api.StatusPending: 3}

// next decides l's state at now. Without a new heartbeat a state can only
// worsen, so a member that was down before a restart stays down.
func (l *liveMember) next(now time.Time, beat bool) string {
	interval, timeout := l.interval, l.timeout
	if l.remote && interval < l.lag {
		// Beats seen through the store arrive in steps of up to lag: judge
		// them on that scale, or a live member would flap to suspect.
		interval = l.lag
		timeout = max(timeout, 3*l.lag)
	}
	st := Evaluate(l.beaten, now.Sub(l.base), interval, timeout)
	if !beat && l.status != api.StatusPending && rank[st] < rank[l.status] {
		return l.status
	}
	return st
}

// timeoutFor keeps the heartbeat timeout above twice the interval so that
// "suspect" always exists between healthy and down.
func timeoutFor(poolTimeout, interval time.Duration) time.Duration {
	if poolTimeout < 3*interval {
		return 3 * interval
	}
	return poolTimeout
}

// refresh is the periodic reload: a cheap scan of heartbeat times, and a
// full reload only when members or pools were added, removed or changed
// (here or through another replica).
func (s *Service) refresh(ctx context.Context) error {
	since := s.lastReload.Add(-time.Second) // clock skew between replicas
	beats, err := s.st.MemberBeats(ctx)
	if err != nil {
		return err
	}
	changed, err := s.st.PoolsChangedSince(ctx, since)
	if err != nil {
		return err
	}
	now := s.now()
	var changes []Change
	s.mu.Lock()
	full := changed || len(beats) != len(s.live)
	for _, b := range beats {
		l := s.live[b.ID]
		if l == nil || !b.UpdatedAt.Before(since) {
			full = true
			break
		}
		if b.LastHeartbeat != nil && b.LastHeartbeat.After(l.lastBeat) {
			if c, ok := s.adoptLocked(l, *b.LastHeartbeat, now); ok {
				changes = append(changes, c)
			}
		}
	}
	s.mu.Unlock()
	s.record(ctx, changes)
	if full {
		return s.reload(ctx)
	}
	return nil
}

// adoptLocked takes a heartbeat another replica received and stored. It
// counts as a beat (a member beating elsewhere can recover here), but the
// transition it causes is quiet: the receiving replica records it.
func (s *Service) adoptLocked(l *liveMember, at, now time.Time) (Change, bool) {
	l.beaten, l.lastBeat, l.base = true, at, at
	l.remote, l.lag = true, s.cfg.FlushInterval+s.cfg.ReloadInterval
	st := l.next(now, true)
	if st == l.status {
		return Change{}, false
	}
	c := s.transitionLocked(l, st, now)
	c.quiet = true
	return c, true
}

// reload merges the store's members into the live map: new members appear,
// removed ones disappear, heartbeats recorded by other replicas count.
func (s *Service) reload(ctx context.Context) error {
	s.mu.Lock()
	s.lastReload = s.now()
	startGen, startCred := s.gen, s.credSeq
	s.mu.Unlock()
	pools, err := s.st.ListPools(ctx)
	if err != nil {
		return err
	}
	timeouts := map[int64]time.Duration{}
	for _, p := range pools {
		timeouts[p.ID] = p.HeartbeatTimeout
	}
	members, err := s.st.ListMembers(ctx, 0)
	if err != nil {
		return err
	}
	if s.afterRead != nil {
		s.afterRead()
	}
	var adopted []Change
	defer func() { s.record(ctx, adopted) }()
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[int64]bool{}
	for _, m := range members {
		seen[m.ID] = true
		l := s.live[m.ID]
		if l == nil {
			l = &liveMember{id: m.ID, poolID: m.PoolID, pool: m.Pool, name: m.Name, status: m.Status,
				healthySince: m.HealthySince, metrics: m.Metrics, agentVersion: m.AgentVersion,
				// Facts lost (a crash before they were flushed): ask again.
				sendFacts: m.Enrolled && m.Facts.Hostname == ""}
			if m.LastHeartbeatAt != nil {
				l.beaten, l.lastBeat, l.base = true, *m.LastHeartbeatAt, *m.LastHeartbeatAt
				// Grace after a restart: a member that was fine is given a
				// full timeout from the start before it can decline.
				if m.Status != api.StatusDown && l.base.Before(s.started) {
					l.base = s.started
				}
			}
			s.live[m.ID] = l // born 0: a later reload may drop it
		} else if m.LastHeartbeatAt != nil && m.LastHeartbeatAt.After(l.lastBeat) {
			if c, ok := s.adoptLocked(l, *m.LastHeartbeatAt, s.now()); ok {
				adopted = append(adopted, c)
			}
			l.metrics = m.Metrics
		}
		l.pool, l.name = m.Pool, m.Name
		l.address, l.priority, l.probeURL, l.allowed = m.Address, m.Priority, m.ProbeURL, m.AllowedCIDRs
		l.interval = m.HeartbeatInterval
		if l.interval <= 0 {
			l.interval = DefaultHeartbeatInterval
		}
		l.timeout = timeoutFor(timeouts[m.PoolID], l.interval)
		if l.credSeq <= startCred {
			// Not changed here since the read: the store's is current.
			// (Changed meanwhile, this replica's copy is newer: the next
			// reload reads what it wrote.)
			s.setCredLocked(l, m.Credential, m.TokenHash)
		}
	}
	for id, l := range s.live {
		if !seen[id] && l.born <= startGen {
			s.forgetLocked(id)
		}
	}
	return nil
}

// addLiveLocked inserts a live entry, newer than every reload in flight.
func (s *Service) addLiveLocked(l *liveMember) {
	s.gen++
	l.born = s.gen
	s.live[l.id] = l
}

func (s *Service) forgetLocked(id int64) {
	delete(s.live, id)
	delete(s.pending, id)
	for h, mid := range s.agents {
		if mid == id {
			delete(s.agents, h)
		}
	}
	if ch, ok := s.jobWake[id]; ok {
		close(ch)
		delete(s.jobWake, id)
	}
}

// Sweep re-evaluates every member at the current time and records the
// transitions. Run calls it periodically; tests call it directly.
func (s *Service) Sweep(ctx context.Context) {
	now := s.now()
	var changes []Change
	quiet := s.leader != nil && !s.leader()
	s.mu.Lock()
	if s.deafLocked() {
		// Silence says nothing about the members now (reception.go).
		s.mu.Unlock()
		return
	}
	for _, l := range s.live {
		if st := l.next(now, false); st != l.status {
			c := s.transitionLocked(l, st, now)
			// With several replicas, each notices silence; the one running
			// the engines records it.
			c.quiet = quiet
			changes = append(changes, c)
		}
	}
	s.mu.Unlock()
	s.record(ctx, changes)
}

// transitionLocked moves l to state st and returns the change to record.
func (s *Service) transitionLocked(l *liveMember, st string, now time.Time) Change {
	c := Change{PoolID: l.poolID, MemberID: l.id, Pool: l.pool, Member: l.name, From: l.status, To: st, At: now}
	l.status = st
	if st == api.StatusHealthy {
		t := now.UTC()
		l.healthySince = &t
	} else {
		l.healthySince = nil
	}
	return c
}

// record persists transitions, writes their events and tells watchers.
func (s *Service) record(ctx context.Context, changes []Change) {
	for _, c := range changes {
		if c.quiet {
			// Another replica records this one; only tell our watchers.
			s.mu.Lock()
			watchers := append([]func(Change){}, s.watchers...)
			s.mu.Unlock()
			for _, w := range watchers {
				w(c)
			}
			continue
		}
		s.mu.Lock()
		var since *time.Time
		var last time.Time
		if l := s.live[c.MemberID]; l != nil {
			since, last = l.healthySince, l.lastBeat
		}
		watchers := append([]func(Change){}, s.watchers...)
		s.mu.Unlock()
		if err := s.st.SetMemberStatus(ctx, c.MemberID, c.To, since, c.At); err != nil {
			s.log.Warn("store member status", "member", c.Member, "err", err)
		}
		msg := fmt.Sprintf("member %s is %s (was %s)", c.Member, c.To, c.From)
		if c.To != api.StatusHealthy && !last.IsZero() {
			msg += fmt.Sprintf("; last heartbeat %s ago", c.At.Sub(last).Round(time.Millisecond))
		}
		s.Emit(ctx, api.Event{Kind: "member." + c.To, Pool: c.Pool, Member: c.Member, Message: msg,
			Data: mustJSON(map[string]any{"from": c.From, "to": c.To})})
		for _, w := range watchers {
			w(c)
		}
	}
}

// Health is the live health of one member, as the failover engine needs it.
type Health struct {
	MemberID     int64
	Pool, Member string
	Address      string
	Priority     int
	ProbeURL     string
	Status       string
	LastBeat     time.Time // zero if never
	// Since is the later of LastBeat and the server's start (restart grace):
	// silence is counted from here.
	Since        time.Time
	HealthySince *time.Time
	Interval     time.Duration
}

// MemberHealth returns the live health of every member of a pool.
func (s *Service) MemberHealth(poolID int64) []Health {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.transitions != nil {
		// The engine may run first after a pause of the process: notice the
		// gap before it reads silence that the server caused.
		s.watchLocked(s.now())
	}
	deaf, now := s.deafLocked(), s.now()
	var out []Health
	for _, l := range s.live {
		if l.poolID == poolID {
			h := Health{MemberID: l.id, Pool: l.pool, Member: l.name, Address: l.address,
				Priority: l.priority, ProbeURL: l.probeURL, Status: l.status, LastBeat: l.lastBeat,
				Since: l.base, HealthySince: l.healthySince, Interval: l.interval}
			if deaf && l.beaten && l.status != api.StatusDown {
				h.Since = now // no silence counts while the server cannot hear
			}
			out = append(out, h)
		}
	}
	return out
}

// overlay copies live state onto a stored member for API answers.
func (s *Service) overlay(m *store.Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.live[m.ID]
	if l == nil {
		return
	}
	m.Status = l.status
	if l.beaten {
		t := l.lastBeat.UTC()
		m.LastHeartbeatAt = &t
	}
	m.HealthySince = l.healthySince
	if l.metrics != nil {
		m.Metrics = l.metrics
	}
	if l.agentVersion != "" {
		m.AgentVersion = l.agentVersion
	}
	if l.interval > 0 {
		m.HeartbeatInterval = l.interval
	}
}
