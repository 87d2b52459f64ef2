package failover

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// verdict is the outcome of one confirmation: every observer that answered.
type verdict struct {
	member   int64
	target   string
	finished time.Time
	obs      []Observation
}

func (v *verdict) failed() int {
	n := 0
	for _, o := range v.obs {
		if !o.OK {
			n++
		}
	}
	return n
}

// down reports whether a majority of the observers that answered saw the
// service fail. With no observer at all, heartbeat loss alone decides, as
// for a member without a probe URL.
func (v *verdict) down() bool {
	return len(v.obs) == 0 || 2*v.failed() > len(v.obs)
}

// summary says who observed what, for event messages.
func (v *verdict) summary(target string) string {
	if len(v.obs) == 0 {
		return "no observer could probe " + target
	}
	parts := make([]string, len(v.obs))
	for i, o := range v.obs {
		what := "ok"
		if !o.OK {
			what = "failed"
		}
		if o.Detail != "" {
			what += " (" + o.Detail + ")"
		}
		parts[i] = o.Observer + " " + what
	}
	list := strings.Join(parts, ", ")
	if v.down() {
		return fmt.Sprintf("%d of %d observers saw %s fail (%s)", v.failed(), len(v.obs), target, list)
	}
	return fmt.Sprintf("only %d of %d observers saw %s fail (%s)", v.failed(), len(v.obs), target, list)
}

// confirm starts a confirmation of active's failure unless one is in flight
// or the latest is younger than Config.Reconfirm. It never waits: the
// verdict is stored when the probes finish and acted on by a later Step.
// Callers hold stepMu.
func (e *Engine) confirm(ctx context.Context, p PoolState, r *poolRun, active MemberState, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.inflight {
		return
	}
	if v := r.verdict; v != nil && v.member == active.ID && v.target == active.ProbeURL && now.Sub(v.finished) < e.cfg.Reconfirm {
		return
	}
	r.inflight = true
	r.ep.probing = true
	gen := r.gen
	e.bg.Go(func() {
		cctx, cancel := context.WithTimeout(ctx, e.cfg.ConfirmTimeout)
		obs := e.observe(cctx, p.ID, active)
		cancel()
		v := &verdict{member: active.ID, target: active.ProbeURL, finished: e.cfg.Now(), obs: obs}
		e.mu.Lock()
		defer e.mu.Unlock()
		r.inflight = false
		// A verdict cut short by the caller's context says nothing about
		// the member; one from a finished episode is obsolete.
		if ctx.Err() == nil && r.gen == gen {
			r.verdict = v
		}
	})
}

// freshVerdict returns the episode's latest verdict on m's probe target if
// it is at most Config.Reconfirm old.
func (e *Engine) freshVerdict(r *poolRun, m MemberState, now time.Time) *verdict {
	e.mu.Lock()
	defer e.mu.Unlock()
	v := r.verdict
	if v == nil || v.member != m.ID || v.target != m.ProbeURL || now.Sub(v.finished) > e.cfg.Reconfirm {
		return nil
	}
	return v
}

// observe probes m's service from the server and through the witnesses, in
// parallel, and returns every observation that came back.
func (e *Engine) observe(ctx context.Context, poolID int64, m MemberState) []Observation {
	var (
		wg        sync.WaitGroup
		server    []Observation
		witnesses []Observation
	)
	if e.cfg.Prober != nil {
		wg.Go(func() {
			err := e.cfg.Prober.Probe(ctx, m.ProbeURL)
			o := Observation{Observer: ServerObserver, OK: err == nil, Detail: "answered"}
			if err != nil {
				o.Detail = clip(err.Error(), 200)
			}
			server = []Observation{o}
		})
	}
	if e.cfg.Witnesses != nil {
		wg.Go(func() {
			for _, o := range e.cfg.Witnesses.Probe(ctx, poolID, []int64{m.ID}, m.ProbeURL) {
				o.Detail = clip(o.Detail, 200)
				witnesses = append(witnesses, o)
			}
		})
	}
	wg.Wait()
	return append(server, witnesses...)
}

// clip shortens s to at most n bytes, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
