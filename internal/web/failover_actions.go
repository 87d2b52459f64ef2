package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// Failover is the failover engine as the dashboard needs it: the same
// make-active path as the API and the CLI (internal/cli wires it).
type Failover interface {
	MakeActive(ctx context.Context, pool, member string, force bool) (api.Pool, error)
}

// foChoice is what the failover banner offers: the members that could be
// made active, and what the record would become.
type foChoice struct {
	Active string
	Record string // the pool's failover record ("" none)
	TTL    int
	Others []api.Member // the members that are not active, the banner's From first
}

// choices lists the members of p other than its active one, the member
// the pool failed over from first (the usual way back).
func choices(p api.Pool, ms []api.Member) foChoice {
	c := foChoice{Active: p.ActiveMember, Record: p.FailoverRecord, TTL: p.TTL}
	from := ""
	if p.Banner != nil {
		from = p.Banner.From
	}
	for _, m := range ms {
		if m.Name == p.ActiveMember {
			continue
		}
		if m.Name == from {
			c.Others = append([]api.Member{m}, c.Others...)
		} else {
			c.Others = append(c.Others, m)
		}
	}
	return c
}

// makeActivePage is the confirmation step of "make active": it names what
// will happen before anything does.
type makeActivePage struct {
	Base
	P      api.Pool
	M      api.Member
	Force  bool // the member is not healthy: the switch needs forcing
	Notice string
}

func (h *Handler) makeActiveData(w http.ResponseWriter, r *http.Request) (*makeActivePage, error) {
	if s := sessionOf(r); s == nil || !s.IsAdmin {
		return nil, apperr.New(apperr.Forbidden, "your account is read-only: only an administrator can make a member active")
	}
	pool, member := r.PathValue("pool"), r.PathValue("member")
	p, nav, err := h.poolNav(r.Context(), pool, "overview")
	if err != nil {
		return nil, err
	}
	m, err := h.fl.Member(r.Context(), pool, member)
	if err != nil {
		return nil, err
	}
	d := &makeActivePage{Base: h.pageBase(w, r, "Make "+member+" active · "+pool, "pools"), P: p, M: m, Force: m.Status != api.StatusHealthy}
	d.Pool = nav
	return d, nil
}

// makeActiveConfirm shows the confirmation step.
func (h *Handler) makeActiveConfirm(w http.ResponseWriter, r *http.Request) error {
	d, err := h.makeActiveData(w, r)
	if err != nil {
		return err
	}
	h.render(w, r, http.StatusOK, "make_active", d)
	return nil
}

// makeActive points the pool's record at the member, once the operator
// confirmed on the confirmation step (which posts the member's name).
func (h *Handler) makeActive(w http.ResponseWriter, r *http.Request) error {
	d, err := h.makeActiveData(w, r)
	if err != nil {
		return err
	}
	if r.PostFormValue("confirm") != d.M.Name {
		d.Error = "Confirm on this page to make " + d.M.Name + " active."
		h.render(w, r, http.StatusBadRequest, "make_active", d)
		return nil
	}
	force := r.PostFormValue("force") == "1"
	if d.Force && !force {
		d.Error = "Member " + d.M.Name + " is " + d.M.Status + ", not healthy: tick the box to switch to it anyway."
		h.render(w, r, http.StatusBadRequest, "make_active", d)
		return nil
	}
	if h.cfg.Failover == nil {
		return apperr.New(apperr.Unavailable, "the failover engine does not run in this server")
	}
	p, err := h.cfg.Failover.MakeActive(r.Context(), d.P.Name, d.M.Name, force)
	if err != nil {
		d.Error = err.Error()
		h.render(w, r, statusOf(err), "make_active", d)
		return nil
	}
	msg := "Member " + d.M.Name + " of pool " + p.Name + " is active"
	if p.FailoverRecord != "" {
		msg += ": " + p.FailoverRecord + " points at " + d.M.Address
	}
	return h.redirect(w, r, "/pools/"+url.PathEscape(p.Name), msg+".")
}

// ackBanner acknowledges the pool's failover banner — the one the page
// showed, named by its time — and returns to the page the operator was on.
func (h *Handler) ackBanner(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("pool")
	back := localPath(r.PostFormValue("back"))
	if back == "/" {
		back = "/pools/" + url.PathEscape(name)
	}
	if at := strings.TrimSpace(r.PostFormValue("at")); at != "" {
		p, err := h.fl.Pool(r.Context(), name)
		if err != nil {
			return err
		}
		if t, err := time.Parse(time.RFC3339Nano, at); err != nil || p.Banner == nil || !p.Banner.At.Equal(t) {
			return apperr.New(apperr.Conflict, "pool %s failed over again since the page was drawn: look at the new banner before acknowledging it", name)
		}
	}
	who := "dashboard"
	if s := sessionOf(r); s != nil {
		who = s.UserName
	}
	if _, err := h.fl.AckBanner(r.Context(), name, who); err != nil {
		return err
	}
	return h.redirect(w, r, back, "Failover banner of pool "+name+" acknowledged.")
}
