package zones

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnssec"
	"github.com/poolctl/poolctl/internal/store"
)

// Key rollovers as resumable state machines: the state (step, old and new
// key tags, when the next step is due) is in the store, each step waits
// the TTL that matters plus the propagation delay, and StepDNSSEC, run
// periodically by RunDNSSEC on the injected clock, moves every due
// rollover on; a restarted server resumes where the store says.

func (s *Service) timing(ctx context.Context, z store.Zone, fixed time.Duration) dnssec.Timing {
	dnskey, largest := s.zoneTTLs(ctx, z)
	c := s.cfg.DNSSEC.withDefaults()
	return dnssec.Timing{DNSKEYTTL: time.Duration(dnskey) * time.Second, MaxTTL: time.Duration(largest) * time.Second,
		ParentDSTTL: c.ParentDSTTL, Propagation: c.Propagation, Fixed: fixed}
}

func toRollover(r *store.DNSSECRollover) dnssec.Rollover {
	return dnssec.Rollover{Role: r.Role, Step: r.Step, OldTag: r.OldTag, NewTag: r.NewTag, StartedAt: r.StartedAt, NextAt: r.NextAt}
}

func fromRollover(r dnssec.Rollover, fixed time.Duration) *store.DNSSECRollover {
	return &store.DNSSECRollover{Role: r.Role, Step: r.Step, OldTag: r.OldTag, NewTag: r.NewTag, StartedAt: r.StartedAt, NextAt: r.NextAt, FixedWait: fixed}
}

// StartRollover begins a ZSK (pre-publish) or KSK (double-signature)
// rollover of a signed zone.
func (s *Service) StartRollover(ctx context.Context, zone string, in api.DNSSECRolloverStart) (api.DNSSECStatus, error) {
	name, err := zoneName(zone)
	if err != nil {
		return api.DNSSECStatus{}, err
	}
	if in.Key != dnssec.RoleZSK && in.Key != dnssec.RoleKSK {
		return api.DNSSECStatus{}, apperr.New(apperr.Invalid, "key %q: want \"zsk\" or \"ksk\"", in.Key)
	}
	var fixed time.Duration
	if in.StepWait != nil {
		if !s.cfg.DNSSEC.AllowStepWait {
			return api.DNSSECStatus{}, apperr.New(apperr.Invalid, "step_wait is for tests: this server was not started with --dnssec-test-waits; the waits follow the zone's TTLs")
		}
		if fixed = in.StepWait.D(); fixed <= 0 || fixed > time.Hour {
			return api.DNSSECStatus{}, apperr.New(apperr.Invalid, "step_wait %s: want more than 0 and at most 1h", fixed)
		}
	}
	var r dnssec.Rollover
	_, err = s.editDNSSEC(ctx, name, func(z store.Zone, cur *store.ZoneDNSSEC) (*store.ZoneDNSSEC, error) {
		if cur == nil {
			return nil, apperr.New(apperr.Conflict, "zone %s is not signed: enable DNSSEC first", name)
		}
		if cur.Origin == store.DNSSECReplica {
			return nil, apperr.New(apperr.Conflict, "zone %s is signed with keys a DNS cluster member sent: roll its keys over there", name)
		}
		if cur.Rollover != nil && cur.Rollover.Step != dnssec.StepDone {
			return nil, apperr.New(apperr.Conflict, "zone %s has a %s rollover in progress (step %s, next at %s)", name, cur.Rollover.Role, cur.Rollover.Step, cur.Rollover.NextAt.Format(time.RFC3339))
		}
		keys, err := s.openKeys(name, *cur)
		if err != nil {
			return nil, err
		}
		var next []dnssec.Key
		if next, r, err = dnssec.StartRollover(in.Key, keys, s.now(), s.timing(ctx, z, fixed)); err != nil {
			return nil, apperr.Wrap(apperr.Conflict, err, "rollover")
		}
		rows, err := s.sealKeys(name, next, cur.Keys)
		if err != nil {
			return nil, err
		}
		return &store.ZoneDNSSEC{Origin: cur.Origin, Keys: rows, Rollover: fromRollover(r, fixed)}, nil
	})
	if err != nil {
		return api.DNSSECStatus{}, err
	}
	s.emit(ctx, api.Event{Kind: KindRolloverStarted, Message: fmt.Sprintf("zone %s: %s rollover started: %s", name, in.Key, r.Describe())})
	return s.DNSSECStatus(ctx, name)
}

// StepDNSSEC moves every due rollover one step on and bumps the serial of
// signed zones unchanged for DNSSECConfig.Resign. It returns how many
// zones it changed.
func (s *Service) StepDNSSEC(ctx context.Context) (int, error) {
	ids, err := s.st.SignedZoneIDs(ctx)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	zs, err := s.st.ListZones(ctx)
	if err != nil {
		return 0, err
	}
	byID := map[int64]store.Zone{}
	for _, z := range zs {
		byID[z.ID] = z
	}
	changed := 0
	var errs []error
	for _, id := range ids {
		z, ok := byID[id]
		if !ok {
			continue
		}
		did, err := s.stepZone(ctx, z)
		if err != nil {
			errs = append(errs, fmt.Errorf("zone %s: %w", z.Name, err))
		}
		if did {
			changed++
		}
	}
	return changed, errors.Join(errs...)
}

func (s *Service) stepZone(ctx context.Context, z store.Zone) (bool, error) {
	d, err := s.st.ZoneDNSSEC(ctx, z.ID)
	if err != nil {
		return false, err
	}
	now := s.now()
	if d.Origin == store.DNSSECReplica {
		return false, nil // the member that sent the keys runs the rollovers and re-signs
	}
	if d.Rollover == nil || d.Rollover.Step == dnssec.StepDone || now.Before(d.Rollover.NextAt) {
		if now.Sub(z.UpdatedAt) < s.cfg.DNSSEC.withDefaults().Resign {
			return false, nil
		}
		// Unchanged for long: a new serial makes secondaries transfer
		// fresh signatures.
		_, err := s.editDNSSEC(ctx, z.Name, func(_ store.Zone, cur *store.ZoneDNSSEC) (*store.ZoneDNSSEC, error) {
			if cur == nil {
				return nil, apperr.New(apperr.Conflict, "zone %s is not signed any more", z.Name)
			}
			return cur, nil
		})
		return err == nil, err
	}
	var (
		step  dnssec.Rollover
		moved bool
	)
	_, err = s.editDNSSEC(ctx, z.Name, func(z store.Zone, cur *store.ZoneDNSSEC) (*store.ZoneDNSSEC, error) {
		if cur == nil || cur.Rollover == nil {
			return nil, errNoChange
		}
		keys, err := s.openKeys(z.Name, *cur)
		if err != nil {
			return nil, err
		}
		fixed := cur.Rollover.FixedWait
		next, r, ok, err := dnssec.Advance(toRollover(cur.Rollover), keys, s.now(), s.timing(ctx, z, fixed))
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errNoChange
		}
		rows, err := s.sealKeys(z.Name, next, cur.Keys)
		if err != nil {
			return nil, err
		}
		step, moved = r, true
		return &store.ZoneDNSSEC{Origin: cur.Origin, Keys: rows, Rollover: fromRollover(r, fixed)}, nil
	})
	if errors.Is(err, errNoChange) || !moved {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	kind := KindRolloverStep
	if step.Step == dnssec.StepDone {
		kind = KindRolloverDone
	}
	s.emit(ctx, api.Event{Kind: kind, Message: fmt.Sprintf("zone %s: %s", z.Name, step.Describe())})
	return true, nil
}

// RunDNSSEC runs StepDNSSEC every period until ctx ends.
func (s *Service) RunDNSSEC(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.StepDNSSEC(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("DNSSEC rollovers", "err", err)
			}
		}
	}
}
