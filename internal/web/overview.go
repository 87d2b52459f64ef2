package web

import (
	"context"
	"fmt"
	"hash/fnv"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
)

// kpis are the pool overview's headline figures.
type kpis struct {
	Pool                 string
	Healthy, Total       int
	Outdated             int // agents older than the server (docs/agents.md)
	Active               string
	Failovers            int // failover.cut and failover.failback in 30 days
	LastFailover         *api.Event
	Uptime               string
	UptimeSince          time.Time
	Now                  time.Time
	StatusText, StatusCl string
}

// tile is one member tile of the overview.
type tile struct {
	Pool string
	M    api.Member
	Now  time.Time
	Out  *outage // set while the member is suspect or down
}

type overviewPage struct {
	Base
	K       kpis
	Tiles   []tile
	Map     template.HTML
	Sig     string // the member set the page shows; the live stream reloads the tiles when it changes
	Unplace []string
	Pref    *preferredNote // the pool runs on a member other than its preferred one
}

// poolNav loads pool name and its header.
func (h *Handler) poolNav(ctx context.Context, name, tab string) (api.Pool, *PoolNav, error) {
	p, err := h.fl.Pool(ctx, name)
	if err != nil {
		return p, nil, err
	}
	nav := &PoolNav{Name: p.Name, Tab: tab, Banner: p.Banner}
	if p.Banner.Open() {
		ms, err := h.fl.Members(ctx, name)
		if err != nil {
			return p, nil, err
		}
		nav.Fo = choices(p, ms)
	}
	return p, nav, nil
}

func (h *Handler) overviewPage(w http.ResponseWriter, r *http.Request) error {
	d, err := h.overview(r.Context(), r.PathValue("pool"))
	if err != nil {
		return err
	}
	nav := d.Pool
	d.Base = h.pageBase(w, r, d.K.Pool+" · overview", "pools")
	nav.Name, nav.Tab = d.K.Pool, "overview"
	d.Pool = nav
	d.Live = "/pools/" + url.PathEscape(d.K.Pool) + "/live?v=" + d.Sig
	h.render(w, r, http.StatusOK, "overview", d)
	return nil
}

// overview gathers everything the overview shows (also for the benchmark).
func (h *Handler) overview(ctx context.Context, pool string) (*overviewPage, error) {
	p, err := h.fl.Pool(ctx, pool)
	if err != nil {
		return nil, err
	}
	ms, err := h.fl.Members(ctx, pool)
	if err != nil {
		return nil, err
	}
	now := h.now()
	d := &overviewPage{Sig: memberSig(ms)}
	d.Pool = &PoolNav{Banner: p.Banner, Fo: choices(p, ms)}
	if d.K, err = h.kpis(ctx, p, ms, now); err != nil {
		return nil, err
	}
	for _, m := range ms {
		o, err := h.outage(ctx, m)
		if err != nil {
			return nil, err
		}
		d.Tiles = append(d.Tiles, tile{Pool: p.Name, M: m, Now: now, Out: o})
		if m.Location.Lat == nil {
			d.Unplace = append(d.Unplace, m.Name)
		}
	}
	d.Map = h.worldMap(ms)
	d.Pref = preferred(p, ms)
	return d, nil
}

func memberSig(ms []api.Member) string {
	f := fnv.New64a()
	for _, m := range ms {
		f.Write([]byte(m.Name))
		f.Write([]byte{0})
	}
	return fmt.Sprintf("%x", f.Sum64())
}

// uptimeWindow is the period the uptime KPI covers.
const uptimeWindow = 30 * 24 * time.Hour

func (h *Handler) kpis(ctx context.Context, p api.Pool, ms []api.Member, now time.Time) (kpis, error) {
	k := kpis{Pool: p.Name, Total: len(ms), Active: p.ActiveMember, Now: now}
	k.StatusText, k.StatusCl = poolStatus(p)
	for _, m := range ms {
		if m.Status == api.StatusHealthy {
			k.Healthy++
		}
		if m.Outdated {
			k.Outdated++
		}
	}
	since := now.Add(-uptimeWindow)
	for _, kind := range []string{"failover.cut", "failover.failback"} {
		n, err := h.st.CountEvents(ctx, p.Name, kind, since)
		if err != nil {
			return k, err
		}
		k.Failovers += n
		last, err := h.st.ListEvents(ctx, store.EventFilter{Pool: p.Name, Kind: kind, Limit: 1, Newest: true})
		if err != nil {
			return k, err
		}
		if len(last) == 1 && (k.LastFailover == nil || last[0].Time.After(k.LastFailover.Time)) {
			e := last[0]
			k.LastFailover = &e
		}
	}
	from := since
	if p.CreatedAt.After(from) {
		from = p.CreatedAt
	}
	evs, err := h.st.ListEvents(ctx, store.EventFilter{Pool: p.Name, Kind: "member.", Since: from, Limit: 1000, Newest: true})
	if err != nil {
		return k, err
	}
	if len(evs) == 1000 {
		from = evs[0].Time // older history was cut off: measure over what we read
	}
	k.UptimeSince = from
	if v, ok := uptime(evs, ms, from, now); ok {
		k.Uptime = fmt.Sprintf("%.2f%%", v*100)
	}
	return k, nil
}
