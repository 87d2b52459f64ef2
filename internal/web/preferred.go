package web

import (
	"cmp"
	"slices"

	"github.com/poolctl/poolctl/api"
)

// preferredNote says that a pool runs on a member other than its
// preferred one: the failover engine prefers the lowest priority (then
// the longest healthy), so a member with a strictly lower priority than
// the active one is preferred, and with failback manual the pool stays
// where it is until an operator moves it.
type preferredNote struct {
	Pool              string
	Active, Preferred api.Member
	PreferredHealthy  bool
	Auto              bool // failback auto: the engine moves back by itself
}

// preferred returns the note for pool p with members ms, or nil when the
// active member is (one of) the preferred, or there is none.
func preferred(p api.Pool, ms []api.Member) *preferredNote {
	var active *api.Member
	for i := range ms {
		if ms[i].Active {
			active = &ms[i]
		}
	}
	if active == nil || len(ms) < 2 {
		return nil
	}
	best := slices.MinFunc(ms, func(a, b api.Member) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		// Of equal priorities, name the one the engine could move to.
		if c := cmp.Compare(statusOrder[b.Status], statusOrder[a.Status]); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	if best.Priority >= active.Priority {
		return nil
	}
	return &preferredNote{Pool: p.Name, Active: *active, Preferred: best,
		PreferredHealthy: best.Status == api.StatusHealthy, Auto: p.Failback == api.FailbackAuto}
}
