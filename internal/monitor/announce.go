package monitor

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/notify"
	"github.com/poolctl/poolctl/internal/store"
)

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

type notice struct {
	kind  string // notify.KindAlert, KindReminder, KindResolved
	in    *store.Incident
	ready time.Time
}

// due lists what in has to say at now, if anything.
func (e *Engine) due(in *store.Incident, now time.Time) (notice, bool) {
	switch {
	case in.State == StateResolved && needsAnnouncement(in):
		return notice{notify.KindResolved, in, *in.ResolvedAt}, true
	case needsAnnouncement(in):
		return notice{notify.KindAlert, in, *in.FiredAt}, true
	case in.State == StateFiring && in.NotifiedAt != nil && e.cfg.Remind > 0 && !oneShot(in.Kind) && now.Sub(*in.NotifiedAt) >= e.cfg.Remind:
		return notice{notify.KindReminder, in, in.NotifiedAt.Add(e.cfg.Remind)}, true
	}
	return notice{}, false
}

// announce queues the messages of every pool whose oldest unannounced
// incident waited GroupWait: one message per kind of notice and channel,
// listing all of the pool's incidents due.
func (e *Engine) announce(ctx context.Context, now time.Time) error {
	byPool := map[string][]notice{}
	oldest := map[string]time.Time{}
	windows := map[[2]string]*api.MaintenanceWindow{}
	for _, in := range e.open {
		n, ok := e.due(in, now)
		if !ok {
			continue
		}
		if n.kind != notify.KindResolved && e.cfg.Maintenance != nil && in.Pool != "" {
			k := [2]string{in.Pool, in.Member}
			w, seen := windows[k]
			if !seen {
				var err error
				if w, err = e.cfg.Maintenance.Covering(ctx, in.Pool, in.Member, now); err != nil {
					return err
				}
				windows[k] = w
			}
			if w != nil {
				e.mute(in, n.kind, *w, now)
				continue
			}
		}
		byPool[in.Pool] = append(byPool[in.Pool], n)
		if o, ok := oldest[in.Pool]; !ok || n.ready.Before(o) {
			oldest[in.Pool] = n.ready
		}
	}
	var routes []store.MonitorRoute
	loaded := false
	for pool, ns := range byPool {
		if now.Sub(oldest[pool]) < e.cfg.GroupWait {
			continue
		}
		if !loaded {
			var err error
			if routes, err = e.st.ListMonitorRoutes(ctx, 0); err != nil {
				return err
			}
			loaded = true
		}
		if err := e.flush(pool, ns, poolRoutes(routes, pool), now); err != nil {
			return err
		}
	}
	return nil
}

// mute records that an incident's alert is not sent because a
// maintenance window covers it. A held condition (a member down) is
// alerted once the window ends if it still holds; a one-off (a failover,
// a failed run) is never announced. Reminders are skipped.
func (e *Engine) mute(in *store.Incident, kind string, w api.MaintenanceWindow, now time.Time) {
	if kind != notify.KindAlert || in.Muted != "" {
		return
	}
	in.Muted = describe(w)
	if oneShot(in.Kind) {
		t := now
		in.State, in.ResolvedAt = StateResolved, &t
	}
	e.touch(in)
	e.log.Info("alert muted by a maintenance window", "pool", in.Pool, "member", in.Member, "kind", in.Kind, "window", in.Muted)
}

// poolRoutes are the routes of pool; incidents of no pool (the DNS
// cluster) go to every channel that any pool routes to, at the most
// permissive severity it has.
func poolRoutes(all []store.MonitorRoute, pool string) []store.MonitorRoute {
	var out []store.MonitorRoute
	if pool != "" {
		for _, r := range all {
			if r.Pool == pool {
				out = append(out, r)
			}
		}
		return out
	}
	best := map[int64]store.MonitorRoute{}
	for _, r := range all {
		if b, ok := best[r.ChannelID]; !ok || (b.Severity == api.SeverityCritical && r.Severity == api.SeverityWarning) {
			best[r.ChannelID] = r
		}
	}
	for _, r := range best {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ChannelID < out[j].ChannelID })
	return out
}

// passes reports whether a route of severity routeSev carries an alert of sev.
func passes(routeSev, sev string) bool {
	return routeSev == api.SeverityWarning || sev == api.SeverityCritical
}

func (e *Engine) flush(pool string, ns []notice, routes []store.MonitorRoute, now time.Time) error {
	sort.Slice(ns, func(i, j int) bool {
		if ns[i].in.Member != ns[j].in.Member {
			return ns[i].in.Member < ns[j].in.Member
		}
		return ns[i].in.Key < ns[j].in.Key
	})
	for _, kind := range []string{notify.KindAlert, notify.KindReminder, notify.KindResolved} {
		var group []notice
		for _, n := range ns {
			if n.kind == kind {
				group = append(group, n)
			}
		}
		if len(group) == 0 {
			continue
		}
		for _, r := range routes {
			var items []notice
			for _, n := range group {
				if passes(r.Severity, n.in.Severity) {
					items = append(items, n)
				}
			}
			if len(items) == 0 {
				continue
			}
			d, err := e.cfg.Queue.NewDelivery(r.ChannelID, e.message(pool, kind, items, now))
			if err != nil {
				return err
			}
			e.out = append(e.out, d)
		}
	}
	for _, n := range ns {
		t := now
		n.in.NotifiedAt = &t
		if oneShot(n.in.Kind) && n.in.State != StateResolved {
			n.in.State, n.in.ResolvedAt = StateResolved, &t
		}
		e.touch(n.in)
	}
	if len(routes) == 0 {
		e.log.Info("incident(s) with no channel routed", "pool", pool, "count", len(ns))
	}
	return nil
}

func (e *Engine) link(parts ...string) string {
	if e.cfg.DashboardURL == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(strings.TrimRight(e.cfg.DashboardURL, "/"))
	for _, p := range parts {
		b.WriteString("/" + url.PathEscape(p))
	}
	return b.String()
}

var what = map[string][3]string{ // alert, reminder, resolved
	AlertMemberDown:        {"member %s is down", "member %s is still down", "member %s is up again"},
	AlertFailover:          {"failover: %s", "failover: %s", "failover: %s"},
	AlertDNSMemberDisabled: {"DNS cluster member %s is disabled", "DNS cluster member %s is still disabled", "DNS cluster member %s is enabled again"},
	AlertReplicationFailed: {"replication failed on %s", "replication failed on %s", "replication on %s"},
}

func (e *Engine) message(pool, kind string, ns []notice, now time.Time) notify.Message {
	m := notify.Message{Kind: kind, Pool: pool, At: now, Severity: api.SeverityWarning}
	if pool != "" {
		m.Link = e.link("pools", pool)
	} else {
		m.Link = e.link("dns-cluster")
	}
	idx := map[string]int{notify.KindAlert: 0, notify.KindReminder: 1, notify.KindResolved: 2}[kind]
	for _, n := range ns {
		in := n.in
		if in.Severity == api.SeverityCritical {
			m.Severity = api.SeverityCritical
		}
		it := notify.Item{Incident: in.ID, Alert: in.Kind, Member: in.Member, Cause: in.Cause, Since: in.Since, Suppressed: in.Suppressed}
		if kind == notify.KindResolved && in.ResolvedAt != nil {
			it.Cause = fmt.Sprintf("resolved after %s (%s)", in.ResolvedAt.Sub(in.Since).Round(time.Second), in.Cause)
		}
		if pool != "" && in.Member != "" {
			it.Link = e.link("pools", pool, "members", in.Member)
		}
		m.Items = append(m.Items, it)
	}
	label := map[string]string{notify.KindAlert: strings.ToUpper(m.Severity), notify.KindReminder: "REMINDER", notify.KindResolved: "RESOLVED"}[kind]
	where := pool
	if where == "" {
		where = "DNS cluster"
	}
	if len(ns) == 1 {
		in := ns[0].in
		subj := what[in.Kind][idx]
		who := in.Member
		if in.Kind == AlertFailover {
			who = in.Cause
		}
		m.Subject = fmt.Sprintf("[poolctl] %s %s: %s", label, where, fmt.Sprintf(subj, who))
		return m
	}
	counts := map[string]int{}
	for _, n := range ns {
		counts[n.in.Kind]++
	}
	var parts []string
	for _, k := range []string{AlertMemberDown, AlertFailover, AlertReplicationFailed, AlertDNSMemberDisabled} {
		if c := counts[k]; c > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c, strings.ReplaceAll(k, "_", " ")))
		}
	}
	m.Subject = fmt.Sprintf("[poolctl] %s %s: %d incidents (%s)", label, where, len(ns), strings.Join(parts, ", "))
	return m
}
