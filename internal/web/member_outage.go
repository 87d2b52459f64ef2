package web

import (
	"context"
	"net/url"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/failover"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
)

// outage is what the dashboard says about a member that is suspect or
// down instead of its figures: since when, the last error recorded for
// it, and where its events are. Its figures are shown as of its last
// heartbeat, greyed, never as current.
type outage struct {
	Status    string     // suspect or down
	Since     *time.Time // when it turned Status; nil if no event says
	AsOf      *time.Time // its last heartbeat: the figures' age
	Error     string     // the last error recorded for it
	ErrorAt   time.Time
	EventsURL string
}

// errorKinds are the events that tell why a member is not well: its
// agent's requests refused, the failover engine's probe verdicts about
// it, failed publications, jobs and replication runs. The transition event itself (with the
// heartbeat age) is the fallback.
var errorKinds = map[string]bool{
	fleet.KindAgentRefused:      true,
	fleet.KindCredentialRefused: true,
	"enrollment.refused":        true,
	failover.KindConfirming:     true,
	failover.KindAgentLost:      true,
	failover.KindFailStatic:     true,
	failover.KindHeld:           true,
	failover.KindPublishError:   true,
	"job.failed":                true,
	"replication.failed":        true, // protection.KindRunFailed
}

// outageScan bounds the events read to explain one member's outage.
const outageScan = 50

// outage describes m's outage, or returns nil when m is healthy or
// pending (there is nothing stale to explain).
func (h *Handler) outage(ctx context.Context, m api.Member) (*outage, error) {
	if m.Status != api.StatusDown && m.Status != api.StatusSuspect {
		return nil, nil
	}
	o := &outage{Status: m.Status, AsOf: m.LastHeartbeatAt,
		EventsURL: "/events?" + url.Values{"pool": {m.Pool}, "member": {m.Name}}.Encode()}
	evs, err := h.st.ListEvents(ctx, store.EventFilter{Pool: m.Pool, Member: m.Name, Limit: outageScan, Newest: true})
	if err != nil {
		return nil, err
	}
	var fallback *api.Event
	for i := len(evs) - 1; i >= 0; i-- { // newest first
		e := evs[i]
		if e.Kind == "member."+api.StatusHealthy {
			break // older events belong to an earlier outage
		}
		if e.Kind == "member."+m.Status {
			t := e.Time
			o.Since = &t
			if fallback == nil {
				fallback = &evs[i]
			}
		}
		if o.Error == "" && errorKinds[e.Kind] {
			o.Error, o.ErrorAt = e.Message, e.Time
		}
	}
	if o.Error == "" && fallback != nil {
		o.Error, o.ErrorAt = fallback.Message, fallback.Time
	}
	return o, nil
}
