package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
)

// Attempt outcomes, as recorded and counted.
const (
	OutcomeDelivered = "delivered"
	OutcomeRetry     = "retry"  // failed; another attempt is queued
	OutcomeFailed    = "failed" // failed for good: permanent, or the last attempt
)

// KindDeliveryFailed is the event of a delivery that failed for good.
const KindDeliveryFailed = "notify.delivery_failed"

// Run delivers the queue until ctx ends: it wakes when deliveries are
// queued here (Wake), when the next one falls due, or every Poll.
func (s *Service) Run(ctx context.Context) {
	for {
		n, err := s.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("deliver notifications", "err", err)
		}
		if ctx.Err() != nil {
			return
		}
		if n > 0 {
			continue // more may be due
		}
		wait := s.cfg.Poll
		if next, ok, err := s.st.NextDeliveryDue(ctx); err == nil && ok {
			if d := next.Sub(s.cfg.Now()); d < wait {
				wait = max(d, 10*time.Millisecond)
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Pass claims the deliveries due now (up to 4 × Workers) and attempts each,
// Workers at a time; it returns how many it attempted.
func (s *Service) Pass(ctx context.Context) (int, error) {
	ds, err := s.st.ClaimDeliveries(ctx, s.cfg.Holder, s.cfg.Now(), s.cfg.Lease, 4*s.cfg.Workers)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	sem := make(chan struct{}, s.cfg.Workers)
	var wg sync.WaitGroup
	for _, d := range ds {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.deliver(ctx, d)
		}()
	}
	wg.Wait()
	return len(ds), nil
}

// deliver makes one attempt at a claimed delivery and records it.
func (s *Service) deliver(ctx context.Context, d store.NotifyDelivery) {
	start := s.cfg.Now()
	kind, err := s.send(ctx, d)
	took := s.cfg.Now().Sub(start)
	a := store.NotifyAttempt{At: s.cfg.Now().UTC(), Duration: took}
	status, next := store.DeliveryDelivered, a.At
	switch {
	case err == nil:
		a.Outcome = OutcomeDelivered
	case IsPermanent(err) || d.Attempts+1 >= d.MaxAttempts:
		a.Outcome, a.Error, status = OutcomeFailed, err.Error(), store.DeliveryFailed
	default:
		a.Outcome, a.Error, status = OutcomeRetry, err.Error(), store.DeliveryPending
		next = a.At.Add(s.backoff(d.Attempts + 1))
	}
	if s.cfg.Observe != nil {
		s.cfg.Observe(kind, a.Outcome)
	}
	rctx := context.WithoutCancel(ctx)
	if rerr := s.st.RecordAttempt(rctx, d.ID, s.cfg.Holder, a, status, next); rerr != nil {
		// The lease ran out and another worker has the row: it decides.
		s.log.Error("record delivery attempt", "delivery", d.ID, "outcome", a.Outcome, "err", rerr)
		return
	}
	log := s.log.With("delivery", d.ID, "channel", d.Channel, "kind", d.Kind, "attempt", d.Attempts+1)
	switch a.Outcome {
	case OutcomeDelivered:
		log.Info("notification delivered", "took", took)
	case OutcomeRetry:
		log.Warn("notification attempt failed; retrying", "next", next, "err", err)
	default:
		log.Error("notification failed", "err", err)
		if s.cfg.Events != nil {
			s.cfg.Events(rctx, api.Event{Kind: KindDeliveryFailed, Pool: d.Pool,
				Message: fmt.Sprintf("notification %d (%s) to channel %s failed after %d attempt(s): %v", d.ID, d.Subject, d.Channel, d.Attempts+1, err)})
		}
	}
}

// backoff is the wait after the n-th failed attempt: Backoff doubled n-1
// times, at most MaxBackoff.
func (s *Service) backoff(n int) time.Duration {
	b := s.cfg.Backoff
	for i := 1; i < n && b < s.cfg.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, s.cfg.MaxBackoff)
}

func (s *Service) send(ctx context.Context, d store.NotifyDelivery) (string, error) {
	c, err := s.st.GetNotifyChannelByID(ctx, d.ChannelID)
	if err != nil {
		return "", fmt.Errorf("read channel: %w", err)
	}
	drv, ok := s.drivers[c.Kind]
	if !ok {
		return c.Kind, Permanent(fmt.Errorf("no driver for channel kind %q on this server", c.Kind))
	}
	secret, err := s.seal.open(c.Name, c.SecretSealed)
	if err != nil {
		return c.Kind, Permanent(err)
	}
	snd, err := drv.Open(c.Config, secret)
	if err != nil {
		return c.Kind, Permanent(fmt.Errorf("channel %s: %w", c.Name, err))
	}
	var m Message
	if err := json.Unmarshal(d.Message, &m); err != nil {
		return c.Kind, Permanent(fmt.Errorf("stored message: %w", err))
	}
	m.ID = d.ID
	sctx, cancel := context.WithTimeout(ctx, s.cfg.SendTimeout)
	defer cancel()
	err = snd.Send(sctx, m)
	if err != nil && errors.Is(sctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %s: %w", s.cfg.SendTimeout, err)
	}
	return c.Kind, err
}
