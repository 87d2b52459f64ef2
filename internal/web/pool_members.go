package web

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
)

// memberSorts are the orders of the members table: by name; by status,
// worst first (down, suspect, pending, healthy); by last heartbeat, the
// longest silent first (never before any).
var memberSorts = []string{"name", "status", "last_heartbeat"}

var statusOrder = map[string]int{api.StatusDown: 0, api.StatusSuspect: 1, api.StatusPending: 2, api.StatusHealthy: 3}

// sortCol is one sortable column header: its link toggles the order.
type sortCol struct {
	Key, Label, URL string
	Sorted          string // "ascending", "descending" or "" (aria-sort)
}

type poolMembersPage struct {
	Base
	Members    []api.Member
	Total      int
	Q          string
	Sort, Desc string // Desc is "1" for the reversed order
	Cols       []sortCol
}

// poolMembersPage is the pool's members as a table that finds members by
// name or address (?q=) and sorts by a column (?sort=, ?desc=1), all in
// the query so that it works without JavaScript and can be linked to.
func (h *Handler) poolMembersPage(w http.ResponseWriter, r *http.Request) error {
	p, nav, err := h.poolNav(r.Context(), r.PathValue("pool"), "list")
	if err != nil {
		return err
	}
	ms, err := h.fl.Members(r.Context(), p.Name)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	d := &poolMembersPage{Base: h.pageBase(w, r, p.Name+" · members", "pools"), Total: len(ms),
		Q: strings.TrimSpace(q.Get("q")), Sort: q.Get("sort")}
	d.Pool = nav
	if !slices.Contains(memberSorts, d.Sort) {
		d.Sort = "name"
	}
	desc := q.Get("desc") == "1"
	if desc {
		d.Desc = "1"
	}
	d.Members = sortMembers(filterMembers(ms, d.Q), d.Sort, desc)
	base := "/pools/" + url.PathEscape(p.Name) + "/members"
	for _, c := range []struct{ key, label string }{{"name", "Name"}, {"status", "Status"}, {"last_heartbeat", "Last heartbeat"}} {
		v := url.Values{"sort": {c.key}}
		if d.Q != "" {
			v.Set("q", d.Q)
		}
		col := sortCol{Key: c.key, Label: c.label}
		if c.key == d.Sort {
			col.Sorted = "ascending"
			if desc {
				col.Sorted = "descending"
			} else {
				v.Set("desc", "1") // a second click reverses
			}
		}
		col.URL = base + "?" + v.Encode()
		d.Cols = append(d.Cols, col)
	}
	h.render(w, r, http.StatusOK, "pool_members", d)
	return nil
}

// filterMembers keeps the members whose name or address contains q,
// ignoring case.
func filterMembers(ms []api.Member, q string) []api.Member {
	if q == "" {
		return ms
	}
	q = strings.ToLower(q)
	var out []api.Member
	for _, m := range ms {
		if strings.Contains(strings.ToLower(m.Name), q) || strings.Contains(strings.ToLower(m.Address), q) {
			out = append(out, m)
		}
	}
	return out
}

// sortMembers orders ms by key (see memberSorts), ties by name.
func sortMembers(ms []api.Member, key string, desc bool) []api.Member {
	beat := func(m api.Member) time.Time {
		if m.LastHeartbeatAt == nil {
			return time.Time{}
		}
		return *m.LastHeartbeatAt
	}
	slices.SortStableFunc(ms, func(a, b api.Member) int {
		c := 0
		switch key {
		case "status":
			c = cmp.Compare(statusOrder[a.Status], statusOrder[b.Status])
		case "last_heartbeat":
			c = beat(a).Compare(beat(b))
		}
		if c == 0 {
			c = strings.Compare(a.Name, b.Name)
		}
		if desc {
			return -c
		}
		return c
	})
	return ms
}
