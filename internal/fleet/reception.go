package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/api"
)

// A member's silence only means something while this server could hear it.
// The server cannot while it starts, while it shuts down, while its store is
// unreachable and while its process is paused or starved; heartbeats sent
// then are lost through no fault of the member. So:
//
//   - while deaf (draining for shutdown, store unreachable) no member
//     declines and nothing is recorded;
//   - when the server can receive again (Receiving after start-up, the store
//     answering again, the run loop finding that it did not run for a
//     while), every member that was not down gets a full heartbeat timeout
//     counted from that moment (regainLocked).
//
// The failover engine reads each member's silence from Health.Since, which
// is the same base, so it decides nothing on silence the server caused.

// KindServerGap is the event written when the server could not receive for
// a while and members were given a full timeout again.
const KindServerGap = "server.receiving"

// gapAfter is how late a run-loop tick may be before the delay counts as a
// gap in reception (a paused or starved process).
func (s *Service) gapAfter() time.Duration {
	return max(2*time.Second, 8*s.cfg.SweepInterval)
}

// Receiving tells the service that the server listens from now on: every
// member gets a full timeout from this moment, not from Start (loading
// zones, engines and the listener can take a while after Start).
func (s *Service) Receiving(ctx context.Context) {
	now := s.now()
	s.mu.Lock()
	gap := now.Sub(s.started)
	s.aliveAt = now
	s.regainLocked(now)
	s.mu.Unlock()
	s.log.Debug("receiving heartbeats", "since_start", gap.Round(time.Millisecond))
}

// Drain stops all health decisions for good: the server is shutting down,
// and the heartbeats that stop arriving now say nothing about the members.
// Call it before the listener closes.
func (s *Service) Drain() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	s.log.Info("shutting down: member health is no longer judged")
}

// deafLocked reports whether silence must not count right now.
func (s *Service) deafLocked() bool { return s.draining || !s.storeDownSince.IsZero() }

// regainLocked starts a full timeout at now for every member that was not
// down: the server could not hear them before.
func (s *Service) regainLocked(now time.Time) {
	s.regainedAt = now
	for _, l := range s.live {
		if l.beaten && l.status != api.StatusDown && l.base.Before(now) {
			l.base = now
		}
	}
}

// watchLocked is called from the run loop (and from the failover engine's
// reads of health) with the current time. A call much later than the last
// one means the process did not run in between: that is a gap in reception.
// The gap is kept for the run loop to report (takeGap).
func (s *Service) watchLocked(now time.Time) {
	last := s.aliveAt
	s.aliveAt = now
	if last.IsZero() || now.Sub(last) <= s.gapAfter() {
		return
	}
	s.regainLocked(now)
	s.pausedFor += now.Sub(last)
}

// takeGap returns the pause found by watchLocked since the last call, or 0.
func (s *Service) takeGap() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	gap := s.pausedFor
	s.pausedFor = 0
	return gap
}

// storeFailed records that the store did not answer.
func (s *Service) storeFailed(now time.Time) {
	s.mu.Lock()
	if s.storeDownSince.IsZero() {
		s.storeDownSince = now
	}
	s.mu.Unlock()
}

// storeAnswered records that the store answered; after an outage it starts
// a full timeout for every member and returns the outage's length.
func (s *Service) storeAnswered(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.storeDownSince.IsZero() {
		return 0
	}
	gap := now.Sub(s.storeDownSince)
	s.storeDownSince = time.Time{}
	s.regainLocked(now)
	return gap
}

// gapEvent records a gap in reception.
func (s *Service) gapEvent(ctx context.Context, gap time.Duration, why string) {
	s.Emit(ctx, api.Event{Kind: KindServerGap,
		Message: fmt.Sprintf("this server could not receive heartbeats for %s (%s); every member gets a full heartbeat timeout from now",
			gap.Round(time.Millisecond), why),
		Data: mustJSON(map[string]any{"gap_ms": gap.Milliseconds(), "reason": why})})
}

// leaseHold is how long after a gap job leases are left alone: long enough
// for agents to reconnect (their back-off is capped at a few seconds after a
// recent success) and for their first heartbeats to renew the leases.
const leaseHold = 10 * time.Second

// leasesHeld reports whether job leases must not expire yet: right after a
// gap, agents have not had the time to renew them.
func (s *Service) leasesHeld(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deafLocked() || (!s.regainedAt.IsZero() && now.Sub(s.regainedAt) < leaseHold)
}
