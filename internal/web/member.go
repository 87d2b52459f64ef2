package web

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/poolctl/poolctl/api"
)

// memberBase loads the member of the request's path and the header and
// tabs of its pages; every member page streams the member's live state.
func (h *Handler) memberBase(w http.ResponseWriter, r *http.Request, tab, title string) (Base, api.Member, error) {
	pool, name := r.PathValue("pool"), r.PathValue("member")
	_, nav, err := h.poolNav(r.Context(), pool, "members")
	if err != nil {
		return Base{}, api.Member{}, err
	}
	m, err := h.fl.Member(r.Context(), pool, name)
	if err != nil {
		return Base{}, api.Member{}, err
	}
	b := h.pageBase(w, r, m.Name+" · "+title, "pools")
	b.Pool, b.Member = nav, &MemberNav{Name: m.Name, Tab: tab, M: m, Now: b.Now}
	b.Live = memberURL(pool, name) + "/live"
	return b, m, nil
}

func memberURL(pool, member string) string {
	return "/pools/" + url.PathEscape(pool) + "/members/" + url.PathEscape(member)
}

// metricsData is the control panel's live part.
type metricsData struct {
	M      api.Member
	Now    time.Time
	Sparks []spark
	Out    *outage // set while the member is suspect or down
}

type memberPage struct {
	Base
	Metrics metricsData
	Badges  []string
	Link    *memberLink // nil: the member takes no part in linked nodes
}

func (h *Handler) memberPage(w http.ResponseWriter, r *http.Request) error {
	b, m, err := h.memberBase(w, r, "panel", "control panel")
	if err != nil {
		return err
	}
	md, err := h.metrics(r.Context(), m)
	if err != nil {
		return err
	}
	ml, err := h.memberLink(r.Context(), m.Pool, m.Name)
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "member", &memberPage{Base: b, Metrics: md, Badges: stackBadges(m.Stack), Link: ml})
	return nil
}

// metrics reads the member's last hour of one-minute samples.
func (h *Handler) metrics(ctx context.Context, m api.Member) (metricsData, error) {
	now := h.now()
	d := metricsData{M: m, Now: now}
	p, err := h.st.GetPool(ctx, m.Pool)
	if err != nil {
		return d, err
	}
	sm, err := h.st.GetMember(ctx, p.ID, m.Name)
	if err != nil {
		return d, err
	}
	samples, err := h.st.ListSamples(ctx, sm.ID, time.Minute, now.Add(-sparkSpan))
	if err != nil {
		return d, err
	}
	d.Sparks = sparks(samples, now)
	d.Out, err = h.outage(ctx, m)
	return d, err
}

// memberLive streams a member's header state, metrics and components.
func (h *Handler) memberLive(w http.ResponseWriter, r *http.Request) error {
	pool, name := r.PathValue("pool"), r.PathValue("member")
	if _, err := h.fl.Member(r.Context(), pool, name); err != nil {
		return err
	}
	return h.stream(w, r, pool, func(ctx context.Context) ([]sseEvent, error) {
		m, err := h.fl.Member(ctx, pool, name)
		if err != nil {
			return nil, err
		}
		md, err := h.metrics(ctx, m)
		if err != nil {
			return nil, err
		}
		var evs []sseEvent
		for _, f := range []struct {
			event, tpl string
			data       any
		}{
			{"m-state", "memberstate", MemberNav{Name: m.Name, M: m, Now: md.Now}},
			{"m-metrics", "metrics", md},
			{"m-services", "components", components(m.Stack)},
		} {
			s, err := h.fragment(f.tpl, f.data)
			if err != nil {
				return nil, err
			}
			evs = append(evs, sseEvent{Name: f.event, Data: s})
		}
		return evs, nil
	})
}
