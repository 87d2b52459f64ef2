package failover

import (
	"context"
	"errors"
	"fmt"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// MakeActive points pool's record at member on an operator's request, and
// runs the pool's hook. A member that is not healthy is refused with an
// error wrapping apperr.Conflict unless force is set. Making the active
// member active again only re-publishes the record.
//
// Only the engine holding the lease may move a record: on another replica
// MakeActive fails with apperr.Unavailable. A manual move counts as a cut
// for Config.MinCutInterval, so failback auto leaves it alone for at least
// that long.
func (e *Engine) MakeActive(ctx context.Context, pool, member string, force bool) error {
	e.stepMu.Lock()
	defer e.stepMu.Unlock()
	epoch, err := e.acquire(ctx)
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "the failover engine cannot take its lease")
	}
	if epoch == 0 {
		return apperr.New(apperr.Unavailable, "the failover engine runs on another server replica; try again there or later")
	}
	p, ms, err := e.lookup(ctx, pool)
	if err != nil {
		return err
	}
	var to *MemberState
	for i := range ms {
		if ms[i].Name == member {
			to = &ms[i]
		}
	}
	switch {
	case to == nil:
		return apperr.New(apperr.NotFound, "member %q of pool %q not found", member, pool)
	case to.Status != api.StatusHealthy && !force:
		return apperr.New(apperr.Conflict, "member %s is %s, not healthy: force the switch to make it active anyway", member, to.Status)
	case p.Record != "" && !to.Address.IsValid():
		return apperr.New(apperr.Invalid, "member %s has no address to publish", member)
	}
	r := e.run(p.ID)
	if p.ActiveMemberID == to.ID {
		return e.ensurePublished(ctx, p, r, *to)
	}
	now := e.cfg.Now()
	why := fmt.Sprintf("an operator made %s active (status %s)", to.Name, to.Status)
	if force && to.Status != api.StatusHealthy {
		why += ", forced"
	}
	err = e.apply(ctx, epoch, p, r, move{
		kind: KindManual, from: find(ms, p.ActiveMemberID), to: *to, now: now, why: why, hook: true,
		data: map[string]any{"force": force, "status": to.Status},
	})
	if errors.Is(err, ErrFenced) {
		e.stepDown(ctx, epoch, p, err)
		return apperr.Wrap(apperr.Unavailable, err, "another server replica took over the failover engine")
	}
	return err
}

// Republish publishes every pool's record for its active member again, for
// when the zones changed behind the engine's back. On a replica that does
// not hold the lease it does nothing: the leader owns the records. (The
// leader publishes every record once whenever it gains the lease, so
// start-up needs no call.)
func (e *Engine) Republish(ctx context.Context) error {
	e.stepMu.Lock()
	defer e.stepMu.Unlock()
	epoch, pools, err := e.leaderPools(ctx)
	if err != nil || epoch == 0 {
		return err
	}
	var errs []error
	for _, p := range pools {
		p = normalize(p)
		if p.ActiveMemberID == 0 || p.Record == "" {
			continue
		}
		ms, err := e.cfg.Source.Members(ctx, p.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("failover: members of pool %s: %w", p.Name, err))
			continue
		}
		if m := find(ms, p.ActiveMemberID); m != nil {
			r := e.run(p.ID)
			r.published = ""
			errs = append(errs, e.ensurePublished(ctx, p, r, *m))
		}
	}
	return errors.Join(errs...)
}

// lookup finds a pool by name with its members.
func (e *Engine) lookup(ctx context.Context, name string) (PoolState, []MemberState, error) {
	pools, err := e.cfg.Source.Pools(ctx)
	if err != nil {
		return PoolState{}, nil, fmt.Errorf("failover: list pools: %w", err)
	}
	for _, p := range pools {
		if p.Name != name {
			continue
		}
		ms, err := e.cfg.Source.Members(ctx, p.ID)
		if err != nil {
			return PoolState{}, nil, fmt.Errorf("failover: members of pool %s: %w", name, err)
		}
		return normalize(p), ms, nil
	}
	return PoolState{}, nil, apperr.New(apperr.NotFound, "pool %q not found", name)
}
