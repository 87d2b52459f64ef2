package web

import (
	"encoding/json"
	"time"

	"github.com/poolctl/poolctl/api"
)

// uptime estimates the share of [from, now] in which the pool had at least
// one healthy member, from the member health transitions recorded as events
// (member.healthy, member.suspect, member.down, member.pending, each with
// {"from","to"} data), member.added and member.removed. A member's state at
// from is the "from" of its first transition in the window, or its state
// now when it has none. Time in which no member has ever reported (all
// pending) counts neither way; ok is false when no time counted at all.
func uptime(evs []api.Event, ms []api.Member, from, now time.Time) (ratio float64, ok bool) {
	state := map[string]string{}
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.Member] || e.Member == "" {
			continue
		}
		switch {
		case e.Kind == "member.added":
			seen[e.Member] = true
			// did not exist before
		case isTransition(e.Kind):
			seen[e.Member] = true
			var d struct{ From string }
			if json.Unmarshal(e.Data, &d) == nil && d.From != "" {
				state[e.Member] = d.From
			}
		}
	}
	for _, m := range ms {
		if !seen[m.Name] {
			state[m.Name] = m.Status
		}
	}
	var up, down time.Duration
	at := from
	account := func(until time.Time) {
		if until.Before(at) {
			return
		}
		dt := until.Sub(at)
		healthy, known := false, false
		for _, s := range state {
			switch s {
			case api.StatusHealthy:
				healthy = true
			case api.StatusSuspect, api.StatusDown:
				known = true
			}
		}
		if healthy {
			up += dt
		} else if known {
			down += dt
		}
		at = until
	}
	for _, e := range evs {
		if e.Time.Before(from) || e.Member == "" {
			continue
		}
		switch {
		case isTransition(e.Kind):
			account(e.Time)
			state[e.Member] = e.Kind[len("member."):]
		case e.Kind == "member.added":
			account(e.Time)
			state[e.Member] = api.StatusPending
		case e.Kind == "member.removed":
			account(e.Time)
			delete(state, e.Member)
		}
	}
	account(now)
	if up+down == 0 {
		return 0, false
	}
	return float64(up) / float64(up+down), true
}

func isTransition(kind string) bool {
	switch kind {
	case "member." + api.StatusHealthy, "member." + api.StatusSuspect, "member." + api.StatusDown, "member." + api.StatusPending:
		return true
	}
	return false
}
