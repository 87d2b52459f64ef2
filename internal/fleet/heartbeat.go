package fleet

import (
	"context"
	"math"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// ValidateHeartbeat checks what an agent sent before anything is kept.
func ValidateHeartbeat(hb *api.Heartbeat) error {
	if hb.Protocol < 1 || hb.Protocol > api.ProtocolVersion {
		return apperr.New(apperr.Invalid, "heartbeat protocol %d is not supported (server speaks 1..%d)", hb.Protocol, api.ProtocolVersion)
	}
	if hb.Interval == 0 {
		hb.Interval = api.Duration(DefaultHeartbeatInterval)
	}
	if hb.Interval.D() < 500*time.Millisecond || hb.Interval.D() > 5*time.Minute {
		return apperr.New(apperr.Invalid, "heartbeat interval %s out of range 500ms–5m", hb.Interval)
	}
	if len(hb.AgentVersion) > 64 {
		return apperr.New(apperr.Invalid, "agent version longer than 64 characters")
	}
	m := &hb.Metrics
	for _, f := range []struct {
		name string
		v    float64
		max  float64
	}{{"cpu_percent", m.CPUPercent, 100.0001}, {"mem_percent", m.MemPercent, 100.0001}, {"load1", m.Load1, 1e6}, {"load5", m.Load5, 1e6}, {"load15", m.Load15, 1e6}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > f.max {
			return apperr.New(apperr.Invalid, "metric %s=%v out of range", f.name, f.v)
		}
	}
	if len(m.Disks) > 256 {
		return apperr.New(apperr.Invalid, "too many disks (%d > 256)", len(m.Disks))
	}
	for _, d := range m.Disks {
		if d.Mount == "" || len(d.Mount) > 4096 || math.IsNaN(d.Percent) || d.Percent < 0 || d.Percent > 100.0001 || d.Used > d.Total {
			return apperr.New(apperr.Invalid, "disk %q has inconsistent usage", d.Mount)
		}
	}
	if m.MemUsed > m.MemTotal {
		return apperr.New(apperr.Invalid, "mem_used exceeds mem_total")
	}
	return nil
}

// Heartbeat records a heartbeat of agent a. The member's state changes at
// once; the row is written by the next flush, in a batch.
func (s *Service) Heartbeat(ctx context.Context, a Agent, hb api.Heartbeat) (api.HeartbeatReply, error) {
	if err := ValidateHeartbeat(&hb); err != nil {
		return api.HeartbeatReply{}, err
	}
	if err := s.gateVersion(ctx, a, hb.AgentVersion); err != nil {
		return api.HeartbeatReply{}, err // the version skew policy refuses it (versions.go)
	}
	s.mu.Lock()
	l := s.live[a.MemberID]
	s.mu.Unlock()
	if l == nil {
		// Not known here yet (added through another replica): read the
		// store before telling the agent it was removed.
		if err := s.reload(ctx); err != nil {
			return api.HeartbeatReply{}, err
		}
	}
	now := s.now()
	s.mu.Lock()
	l = s.live[a.MemberID]
	if l == nil {
		s.mu.Unlock()
		return api.HeartbeatReply{}, apperr.New(apperr.Gone, "member %s was removed; this agent must stop", a.Member)
	}
	l.beaten, l.lastBeat, l.base, l.remote = true, now, now, false
	l.interval = hb.Interval.D()
	if l.timeout < 3*l.interval {
		l.timeout = 3 * l.interval
	}
	metrics := hb.Metrics
	l.metrics = &metrics
	l.agentVersion = hb.AgentVersion
	sendFacts := l.sendFacts && hb.Facts == nil
	if hb.Facts != nil {
		l.sendFacts = false
	}
	p := s.pending[l.id]
	if p == nil {
		p = &store.HeartbeatUpdate{MemberID: l.id}
		s.pending[l.id] = p
	}
	p.At, p.Interval, p.AgentVersion, p.Metrics = now, l.interval, hb.AgentVersion, &metrics
	if hb.Facts != nil {
		p.Facts = hb.Facts
	}
	if hb.Stack != nil {
		p.Stack = hb.Stack
	}
	if hb.Protocol >= 2 {
		p.Running, p.RunningKnown = hb.RunningJobs, true
	}
	s.sampleLocked(l, &metrics, now)
	var changes []Change
	if st := l.next(now, true); st != l.status {
		changes = append(changes, s.transitionLocked(l, st, now))
	}
	reply := api.HeartbeatReply{Status: l.status, ServerTime: now.UTC(), JobsPending: l.jobsPending, SendFacts: sendFacts}
	s.fillReply(&reply)
	async := s.transitions
	s.mu.Unlock()
	if hb.Protocol >= 3 {
		reply.NewCredential = s.offerCredential(ctx, l, now)
	}
	if len(changes) > 0 {
		// The state changed in memory already; writing the transition and
		// its event need not hold up the agent's answer.
		select {
		case async <- changes:
		default: // Run is not running, or it is behind: record here
			s.record(ctx, changes)
		}
	}
	return reply, nil
}

// sampleLocked keeps one metric sample per member per minute.
func (s *Service) sampleLocked(l *liveMember, m *api.Metrics, now time.Time) {
	var rx, tx int64
	if !l.lastNetAt.IsZero() && m.NetRxBytes >= l.lastRx && m.NetTxBytes >= l.lastTx {
		if secs := now.Sub(l.lastNetAt).Seconds(); secs > 0 {
			rx = int64(float64(m.NetRxBytes-l.lastRx) / secs)
			tx = int64(float64(m.NetTxBytes-l.lastTx) / secs)
		}
	}
	if now.Sub(l.lastSample) < sampleEvery {
		return
	}
	disk := 0.0
	for _, d := range m.Disks {
		disk = math.Max(disk, d.Percent)
	}
	s.samples = append(s.samples, store.Sample{MemberID: l.id, At: now.Truncate(sampleEvery), Resolution: sampleEvery,
		CPU: m.CPUPercent, Mem: m.MemPercent, Disk: disk, Load1: m.Load1, NetRx: rx, NetTx: tx})
	l.lastSample = now
	l.lastRx, l.lastTx, l.lastNetAt = m.NetRxBytes, m.NetTxBytes, now
}

// Flush writes batched heartbeats and samples to the store, and renews the
// leases of jobs held by members that are beating.
func (s *Service) Flush(ctx context.Context) error {
	s.mu.Lock()
	batch := make([]store.HeartbeatUpdate, 0, len(s.pending))
	for id, p := range s.pending {
		batch = append(batch, *p)
		delete(s.pending, id)
	}
	samples := s.samples
	s.samples = nil
	s.mu.Unlock()
	if err := s.st.ApplyHeartbeats(ctx, batch); err != nil {
		// Put the batch back unless newer beats replaced it, and retry next time.
		// A newer beat keeps its own figures but must not lose the facts
		// and stack of this one: agents send them only when they change.
		s.mu.Lock()
		for _, p := range batch {
			if cur, ok := s.pending[p.MemberID]; ok {
				if cur.Facts == nil {
					cur.Facts = p.Facts
				}
				if cur.Stack == nil {
					cur.Stack = p.Stack
				}
				continue
			}
			if s.live[p.MemberID] != nil {
				cp := p
				s.pending[p.MemberID] = &cp
			}
		}
		s.mu.Unlock()
		return err
	}
	holding, err := s.st.RunningJobMembers(ctx)
	if err != nil {
		return err
	}
	// Renew the leases of the jobs held by members that are beating; few
	// jobs run at a time, so only those members are updated.
	var ids []int64
	for _, p := range batch {
		if !holding[p.MemberID] {
			continue
		}
		ids = append(ids, p.MemberID)
		if p.RunningKnown {
			// Jobs the agent does not report were lost with a previous
			// agent process; the grace covers a job claimed while this
			// beat was on its way.
			lost, err := s.st.ReclaimJobs(ctx, p.MemberID, p.Running, p.At.Add(-lostJobGrace), s.now())
			if err != nil {
				return err
			}
			s.reportExpired(ctx, lost, "its agent restarted while running it")
		}
	}
	if err := s.st.RenewJobLeases(ctx, ids, s.now().Add(DefaultJobLease)); err != nil {
		return err
	}
	return s.st.AddSamples(ctx, samples)
}
