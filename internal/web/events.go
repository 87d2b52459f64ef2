package web

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
)

type eventsPage struct {
	Base
	Events                []api.Event // newest first
	Pools                 []string
	FPool, FMember, FKind string // the filter; Base has Pool already
	Limit                 int
	Limits                []int
	Filtered, Truncated   bool
}

// eventsPage lists events, newest first, filtered by pool, member and kind
// prefix ("failover." or "member.down").
func (h *Handler) eventsPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	d := &eventsPage{Base: h.pageBase(w, r, "Events", "events"), FPool: q.Get("pool"), FMember: strings.TrimSpace(q.Get("member")),
		FKind: strings.TrimSpace(q.Get("kind")), Limit: 200, Limits: []int{50, 200, 1000}}
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && slices.Contains(d.Limits, n) {
		d.Limit = n
	}
	d.Filtered = d.FPool != "" || d.FMember != "" || d.FKind != ""
	ps, err := h.fl.Pools(r.Context())
	if err != nil {
		return err
	}
	for _, p := range ps {
		d.Pools = append(d.Pools, p.Name)
	}
	f := store.EventFilter{Pool: d.FPool, Member: d.FMember, Limit: d.Limit, Newest: true}
	if d.FKind != "" {
		f.Kind = strings.TrimSuffix(d.FKind, "*") + "*" // a prefix
	}
	evs, err := h.fl.Events(r.Context(), f, 0)
	if err != nil {
		return err
	}
	slices.Reverse(evs)
	d.Events, d.Truncated = evs, len(evs) == d.Limit
	h.render(w, r, http.StatusOK, "events", d)
	return nil
}
