package failover

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
)

// evaluate makes this tick's decision for one pool and keeps its record
// published.
func (e *Engine) evaluate(ctx context.Context, epoch int64, p PoolState, ms []MemberState, now time.Time) error {
	r := e.run(p.ID)
	active := find(ms, p.ActiveMemberID)
	if active == nil {
		if r.ep.member != 0 {
			e.endEpisode(r)
		}
		return e.activate(ctx, epoch, p, r, ms, now)
	}
	if r.ep.member != active.ID {
		e.endEpisode(r)
		r.ep.member = active.ID
	}
	moved, err := e.decide(ctx, epoch, p, r, *active, ms, now)
	if err != nil || moved {
		return err
	}
	return e.ensurePublished(ctx, p, r, *active)
}

// decide handles a pool that has an active member. It reports whether the
// record moved.
func (e *Engine) decide(ctx context.Context, epoch int64, p PoolState, r *poolRun, active MemberState, ms []MemberState, now time.Time) (bool, error) {
	silence := now.Sub(later(active.LastBeat, e.started))
	if silence < p.Delay-e.confirmLead(p.Delay) {
		if r.ep != (episode{member: active.ID}) {
			e.endEpisode(r)
			r.ep.member = active.ID
		}
		return e.failback(ctx, epoch, p, r, active, ms, now)
	}
	// Silent long enough to start probing, so that a verdict is ready
	// when the delay runs out.
	if active.ProbeURL != "" {
		e.confirm(ctx, p, r, active, now)
	}
	if silence < p.Delay {
		return false, nil
	}
	age := silence.Round(time.Millisecond)
	data := map[string]any{"member": active.Name, "silence": age.String(), "delay": p.Delay.String()}
	why := fmt.Sprintf("%s sent no heartbeat for %s (delay %s)", active.Name, age, p.Delay)
	switch {
	case active.LastBeat.IsZero():
		data["heartbeat_age"] = "never"
	default:
		data["heartbeat_age"] = now.Sub(active.LastBeat).Round(time.Millisecond).String()
	}
	if !active.LastBeat.After(e.started) {
		why += ", counted from this server's start"
	}
	if active.ProbeURL == "" {
		data["confirmation"] = "none: no probe URL, heartbeat loss decides"
	} else {
		v := e.freshVerdict(r, active, now)
		if v == nil {
			if !r.ep.confirming {
				r.ep.confirming = true
				e.emit(ctx, KindConfirming, p.Name, active.Name,
					fmt.Sprintf("%s; confirming with probes of %s from the server and the other members", why, active.ProbeURL),
					data)
			}
			return false, nil
		}
		data["probe"] = active.ProbeURL
		data["observers"] = v.obs
		data["failed"], data["answered"] = v.failed(), len(v.obs)
		if !v.down() {
			if !r.ep.agentLost {
				r.ep.agentLost = true
				e.emit(ctx, KindAgentLost, p.Name, active.Name,
					fmt.Sprintf("agent lost on %s: %s, but %s; no cut", active.Name, why, v.summary(active.ProbeURL)), data)
			}
			return false, nil
		}
		why += " and " + v.summary(active.ProbeURL)
	}

	if paused, reason := e.paused(ctx, p, active, now); paused {
		if !r.ep.paused {
			r.ep.paused = true
			data["maintenance"] = reason
			e.emit(ctx, KindPaused, p.Name, active.Name, fmt.Sprintf("failover paused: %s; %s stays on %s (%s)", why, recordName(p), active.Name, reason), data)
		}
		return false, nil
	}
	pick := choose(ms, now, e.cfg.Settle, active.ID, p.Record != "")
	data["candidates"] = pick.views
	switch {
	case pick.best == nil && len(pick.waiting) == 0:
		if !r.ep.failStatic {
			r.ep.failStatic = true
			e.emit(ctx, KindFailStatic, p.Name, active.Name,
				fmt.Sprintf("fail-static: %s, but no other member is healthy; %s stays on %s", why, recordName(p), active.Name), data)
		}
		return false, nil
	case pick.best == nil:
		w := pick.waiting[0]
		e.hold(ctx, p, r, active, data, fmt.Sprintf("%s; waiting for %s to settle (healthy for %s of %s)",
			why, w.Name, healthyFor(w, now), e.cfg.Settle))
		return false, nil
	case !r.lastCut.IsZero() && now.Sub(r.lastCut) < e.cfg.MinCutInterval:
		e.hold(ctx, p, r, active, data, fmt.Sprintf("%s; the last cut was %s ago (minimum interval %s)",
			why, now.Sub(r.lastCut).Round(time.Millisecond), e.cfg.MinCutInterval))
		return false, nil
	}
	data["standby"] = pick.best.Name
	data["standby_reason"] = pick.reason
	return true, e.apply(ctx, epoch, p, r, move{
		kind: KindCut, from: &active, to: *pick.best, now: now, data: data, banner: true, hook: true,
		why: why + "; " + pick.reason,
	})
}

// hold reports, once per episode, that a confirmed cut has to wait.
func (e *Engine) hold(ctx context.Context, p PoolState, r *poolRun, active MemberState, data map[string]any, msg string) {
	if !r.ep.held {
		r.ep.held = true
		e.emit(ctx, KindHeld, p.Name, active.Name, "cut held: "+msg, data)
	}
}

// activate gives a pool without an active member its best healthy member,
// at once (no settle time: there is nothing to protect).
func (e *Engine) activate(ctx context.Context, epoch int64, p PoolState, r *poolRun, ms []MemberState, now time.Time) error {
	pick := choose(ms, now, 0, 0, p.Record != "")
	if pick.best == nil {
		return nil
	}
	why := "it is the first healthy member"
	if p.ActiveMemberID != 0 {
		why = "the previous active member no longer exists"
	}
	return e.apply(ctx, epoch, p, r, move{
		kind: KindActivated, to: *pick.best, now: now, why: why + "; " + pick.reason,
		data: map[string]any{"member": pick.best.Name, "reason": pick.reason, "candidates": pick.views},
	})
}

// failback returns a pool with failback auto to its preferred member once
// that member has settled. Only a strictly better priority moves the
// record, so equal members never swap.
func (e *Engine) failback(ctx context.Context, epoch int64, p PoolState, r *poolRun, active MemberState, ms []MemberState, now time.Time) (bool, error) {
	if p.Failback != api.FailbackAuto {
		return false, nil
	}
	pick := choose(ms, now, e.cfg.Settle, 0, p.Record != "")
	best := pick.best
	if best == nil || best.ID == active.ID || best.Priority >= active.Priority {
		return false, nil
	}
	if !r.lastCut.IsZero() && now.Sub(r.lastCut) < e.cfg.MinCutInterval {
		return false, nil // the move waits; nothing is wrong meanwhile
	}
	if paused, _ := e.paused(ctx, p, active, now); paused {
		return false, nil // the move waits for the maintenance window to end
	}
	why := fmt.Sprintf("%s is the preferred member (priority %d, better than %s's %d) and has been healthy for %s",
		best.Name, best.Priority, active.Name, active.Priority, healthyFor(*best, now))
	return true, e.apply(ctx, epoch, p, r, move{
		kind: KindFailback, from: &active, to: *best, now: now, why: why, banner: true, hook: true,
		data: map[string]any{"failback": p.Failback, "reason": why, "candidates": pick.views},
	})
}

// paused asks Config.Pause whether moves away from active are paused.
func (e *Engine) paused(ctx context.Context, p PoolState, active MemberState, now time.Time) (bool, string) {
	if e.cfg.Pause == nil {
		return false, ""
	}
	ok, why, err := e.cfg.Pause.Paused(ctx, p.Name, active.Name, now)
	if err != nil {
		e.log.Warn("maintenance windows unreadable; failover not paused", "pool", p.Name, "err", err)
		return false, ""
	}
	return ok, why
}

// confirmLead is how long before the delay runs out probing starts.
func (e *Engine) confirmLead(delay time.Duration) time.Duration {
	return min(e.cfg.Reconfirm, delay/2)
}

// memberView describes a candidate in an event's Data.
type memberView struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	Priority   int    `json:"priority"`
	HealthyFor string `json:"healthy_for,omitempty"`
	Eligible   bool   `json:"eligible"`
	Note       string `json:"note,omitempty"`
}

// pick is the outcome of choose.
type pick struct {
	best    *MemberState
	reason  string        // why best, for people
	waiting []MemberState // healthy but not settled yet, best first
	views   []memberView  // every candidate considered
}

// choose picks the member to make active: healthy for at least settle, the
// best (lowest) priority, then the longest healthy streak, then the name.
// exclude is left out; with needAddr, so are members without an address.
func choose(ms []MemberState, now time.Time, settle time.Duration, exclude int64, needAddr bool) pick {
	var out pick
	var ok []MemberState
	for _, m := range ms {
		if m.ID == exclude {
			continue
		}
		v := memberView{Name: m.Name, Status: m.Status, Priority: m.Priority}
		switch {
		case m.Status != api.StatusHealthy:
			v.Note = "not healthy"
		case needAddr && !m.Address.IsValid():
			v.Note = "no address to publish"
		case healthyFor(m, now) < settle:
			v.HealthyFor = healthyFor(m, now).String()
			v.Note = fmt.Sprintf("settling (needs %s)", settle)
			out.waiting = append(out.waiting, m)
		default:
			v.HealthyFor = healthyFor(m, now).String()
			v.Eligible = true
			ok = append(ok, m)
		}
		out.views = append(out.views, v)
	}
	slices.SortFunc(out.views, func(a, b memberView) int { return strings.Compare(a.Name, b.Name) })
	slices.SortStableFunc(out.waiting, better(now))
	if len(ok) == 0 {
		return out
	}
	slices.SortStableFunc(ok, better(now))
	b := ok[0]
	out.best = &b
	switch {
	case len(ok) == 1:
		out.reason = fmt.Sprintf("%s is the only eligible member (priority %d, healthy for %s)", b.Name, b.Priority, healthyFor(b, now))
	case ok[1].Priority > b.Priority:
		out.reason = fmt.Sprintf("%s has the best priority (%d) of %d eligible members", b.Name, b.Priority, len(ok))
	default:
		out.reason = fmt.Sprintf("%s has the best priority (%d) and the longest healthy streak (%s) of %d eligible members",
			b.Name, b.Priority, healthyFor(b, now), len(ok))
	}
	return out
}

// better orders members by priority, then healthy streak, then name.
func better(now time.Time) func(a, b MemberState) int {
	return func(a, b MemberState) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		if c := cmp.Compare(healthyFor(b, now), healthyFor(a, now)); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	}
}

// healthyFor is how long m has been healthy at now, rounded for people.
func healthyFor(m MemberState, now time.Time) time.Duration {
	if m.Status != api.StatusHealthy || m.HealthySince == nil {
		return 0
	}
	return max(0, now.Sub(*m.HealthySince)).Round(time.Millisecond)
}

func find(ms []MemberState, id int64) *MemberState {
	if id == 0 {
		return nil
	}
	for i := range ms {
		if ms[i].ID == id {
			return &ms[i]
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func recordName(p PoolState) string {
	if p.Record == "" {
		return "the pool"
	}
	return p.Record
}
