package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/api"
)

// outage tracks one stretch of failed heartbeats, so it is logged once when
// it starts and once when it ends, not on every try.
type outage struct {
	since time.Time
	tries int
	kind  failure
}

// heartbeatLoop posts a heartbeat every interval until ctx is done (nil) or
// the server answers 410 (ErrRemoved).
func (a *Agent) heartbeatLoop(ctx context.Context) error {
	log := a.log.With("component", "agent.heartbeat")
	if !sleep(ctx, jitter(a.rand, a.interval/2)) {
		return nil
	}
	bo := &backoff{min: a.backoffMin, max: a.backoffMax, rand: a.rand, reach: a.reach}
	var out *outage
	for {
		start := time.Now()
		err := a.beat(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		var wake <-chan struct{} // during an outage: another loop got through
		if err == nil {
			a.reach.ok()
			if out != nil {
				msg := "server reachable again"
				if out.kind == failAuth {
					msg = "server accepts the agent credential again"
				}
				log.Info(msg, "outage", a.cfg.Now().Sub(out.since).Round(time.Second), "failed_beats", out.tries)
				out = nil
			}
			bo.reset()
			wait = a.interval - time.Since(start)
		} else {
			kind := classify(err)
			if kind == failRemoved {
				return ErrRemoved
			}
			if out == nil || out.kind != kind {
				if out == nil {
					// The server may have lost what it knew: resend it on return.
					a.snap.requestResend()
					out = &outage{since: a.cfg.Now()}
				}
				out.kind = kind
				switch kind {
				case failAuth:
					log.Error("server refused the agent credential; check the member's allowed addresses, or enrol again with --force",
						"err", err, "retry_every", a.authRetry)
				case failRequest:
					log.Error("server rejected the heartbeat; retrying with back-off", "err", err)
				default:
					log.Warn("server unreachable; retrying with back-off", "err", err)
				}
			}
			out.tries++
			if kind == failAuth {
				wait = a.authRetry/2 + jitter(a.rand, a.authRetry/2)
			} else {
				if unanswered(err) {
					a.reach.fail()
				}
				wake = a.reach.returned()
				wait = bo.next()
			}
			log.Debug("heartbeat failed", "err", err, "retry_in", wait)
		}
		if !sleepUnless(ctx, wait, wake) {
			return nil
		}
	}
}

// beat sends one heartbeat.
func (a *Agent) beat(ctx context.Context) error {
	hb := api.Heartbeat{
		Protocol:     api.ProtocolVersion,
		AgentVersion: a.cfg.Version,
		Interval:     api.Duration(a.interval),
		Metrics:      a.probes.metrics(ctx),
		RunningJobs:  a.running.list(),
	}
	facts, stack, gen, need := a.snap.pending()
	if need {
		hb.Facts, hb.Stack = facts, stack
	}
	bctx, cancel := context.WithTimeout(ctx, a.beatTimeout)
	defer cancel()
	reply, err := a.srv.Heartbeat(bctx, hb)
	if err != nil {
		return fmt.Errorf("send heartbeat: %w", err)
	}
	if need {
		a.snap.delivered(gen)
	}
	if reply.SendFacts {
		a.snap.requestResend()
	}
	a.afterBeat(ctx, reply) // release key pinning, completing an update (update.go)
	if reply.NewCredential != "" {
		a.takeCredential(reply.NewCredential)
	}
	return nil
}

// detectLoop re-detects the stack every stackEvery, facts every factsEveryN
// passes and package updates every updatesEveryN passes, until ctx is done.
func (a *Agent) detectLoop(ctx context.Context) {
	for pass := 0; ; pass++ {
		if pass > 0 && pass%a.factsEveryN == 0 {
			a.refreshFacts(ctx)
		}
		a.refreshStack(ctx, pass%a.updatesEveryN == 0)
		if !sleep(ctx, a.stackEvery) {
			return
		}
	}
}

// refreshFacts re-reads the facts; a change reaches the next heartbeat.
func (a *Agent) refreshFacts(ctx context.Context) {
	a.detectMu.Lock()
	defer a.detectMu.Unlock()
	f, err := a.probes.facts(ctx)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("read facts", "component", "agent.detect", "err", err)
		}
		return
	}
	if a.snap.setFacts(f) {
		a.log.Debug("facts changed", "component", "agent.detect")
	}
}

// refreshStack re-detects the stack. With withUpdates it then counts
// pending package updates, without holding up other detection (a package
// manager may take minutes), and stores the stack again with the counts.
func (a *Agent) refreshStack(ctx context.Context, withUpdates bool) {
	a.detectMu.Lock()
	st := a.probes.stack(ctx)
	if ctx.Err() == nil {
		a.storeStack(st)
	}
	a.detectMu.Unlock()
	if !withUpdates || ctx.Err() != nil {
		return
	}
	a.updatesMu.Lock()
	defer a.updatesMu.Unlock()
	pending, security := a.probes.updates(ctx)
	if ctx.Err() != nil {
		return
	}
	a.detectMu.Lock()
	defer a.detectMu.Unlock()
	a.updates.pending, a.updates.security = pending, security
	if _, cur := a.snap.current(); cur != nil {
		a.storeStack(*cur)
	}
}

// storeStack stores st with the last update counts; call with detectMu held.
func (a *Agent) storeStack(st api.Stack) {
	st.PendingUpdates, st.SecurityUpdates = a.updates.pending, a.updates.security
	if a.snap.setStack(st) {
		a.log.Debug("stack changed", "component", "agent.detect")
	}
}
