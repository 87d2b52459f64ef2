package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// poolRow is one line of the pools list.
type poolRow struct {
	api.Pool
	Status, StatusClass string
}

// poolStatus summarises a pool: all healthy, degraded, down, failed over
// (a failover happened and is not acknowledged) or empty.
// poolStatus is a pool's state in a word or two. Members that never sent a
// heartbeat are waiting, not down; a failover banner does not hide the
// current health ("failed over · degraded").
func poolStatus(p api.Pool) (text, class string) {
	text, class = healthStatus(p)
	if p.Banner.Open() {
		return "failed over · " + text, "s-failover"
	}
	return text, class
}

func healthStatus(p api.Pool) (text, class string) {
	live := p.MemberCount - p.PendingCount
	switch {
	case p.MemberCount == 0:
		return "no members", "s-pending"
	case live == 0:
		return "waiting for agents", "s-pending"
	case p.HealthyCount == live && p.PendingCount > 0:
		return fmt.Sprintf("healthy, %d waiting", p.PendingCount), "s-healthy"
	case p.HealthyCount == live:
		return "all healthy", "s-healthy"
	case p.HealthyCount == 0:
		return "down", "s-down"
	}
	return "degraded", "s-suspect"
}

type poolForm struct {
	Name, FailoverRecord, FailoverDelay, TTL, Failback, HeartbeatTimeout, Hook, Description string
}

type poolsPage struct {
	Base
	Pools []poolRow
	Form  poolForm
}

func (h *Handler) poolsPage(w http.ResponseWriter, r *http.Request) error {
	return h.showPools(w, r, http.StatusOK, poolForm{Failback: api.FailbackManual}, nil)
}

func (h *Handler) showPools(w http.ResponseWriter, r *http.Request, status int, f poolForm, formErr error) error {
	ps, err := h.fl.Pools(r.Context())
	if err != nil {
		return err
	}
	d := &poolsPage{Base: h.pageBase(w, r, "Pools", "pools"), Form: f}
	for _, p := range ps {
		text, class := poolStatus(p)
		d.Pools = append(d.Pools, poolRow{Pool: p, Status: text, StatusClass: class})
	}
	if formErr != nil {
		d.Error = h.message(r, formErr)
	}
	h.render(w, r, status, "pools", d)
	return nil
}

// parseDuration reads an optional duration field ("30s"; a bare number is
// seconds).
func parseDuration(field, v string) (api.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(v); err == nil {
		return api.Duration(time.Duration(n) * time.Second), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, apperr.New(apperr.Invalid, "%s %q: want a duration like 30s or 2m", field, v)
	}
	return api.Duration(d), nil
}

func parseInt(field, v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, apperr.New(apperr.Invalid, "%s %q: want a whole number", field, v)
	}
	return n, nil
}

func readPoolForm(r *http.Request) poolForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return poolForm{Name: v("name"), FailoverRecord: v("failover_record"), FailoverDelay: v("failover_delay"), TTL: v("ttl"),
		Failback: v("failback"), HeartbeatTimeout: v("heartbeat_timeout"), Hook: v("hook"), Description: v("description")}
}

func (h *Handler) createPool(w http.ResponseWriter, r *http.Request) error {
	f := readPoolForm(r)
	in := api.PoolCreate{Name: f.Name, FailoverRecord: f.FailoverRecord, Failback: f.Failback, Hook: f.Hook, Description: f.Description}
	var err error
	if in.FailoverDelay, err = parseDuration("failover delay", f.FailoverDelay); err == nil {
		if in.HeartbeatTimeout, err = parseDuration("heartbeat timeout", f.HeartbeatTimeout); err == nil {
			in.TTL, err = parseInt("TTL", f.TTL)
		}
	}
	if err == nil {
		_, err = h.fl.CreatePool(r.Context(), in)
	}
	if err != nil {
		return h.showPools(w, r, statusOf(err), f, err)
	}
	return h.redirect(w, r, "/pools/"+url.PathEscape(in.Name), "Pool "+in.Name+" created. Add its first member below.")
}
