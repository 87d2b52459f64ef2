package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// poolProvider is a place a pool's failover record can be published: the
// built-in zones (Name "") or a provider of the registry.
type poolProvider struct {
	Name, Label, Target string
}

// poolProviders lists the built-in zones and the registry's providers.
func (h *Handler) poolProviders(r *http.Request) ([]poolProvider, error) {
	out := []poolProvider{{Label: "builtin", Target: "the built-in nameservers (this server's zones)"}}
	if h.cfg.DNSProviders == nil {
		return out, nil
	}
	ps, err := h.cfg.DNSProviders.List(r.Context())
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		out = append(out, poolProvider{Name: p.Name, Label: p.Name + " (" + p.Kind + ")", Target: p.Target})
	}
	return out, nil
}

type poolSettingsPage struct {
	Base
	P         api.Pool
	Form      poolForm
	Members   []string
	Providers []poolProvider
	Chosen    string // the provider selected: the pool's, or the one of a refused form
	Confirm   string
	// Rollout is the pool's latest agent rollout (nil: none yet);
	// ServerVersion what the agents are updated to.
	Rollout       *api.Rollout
	ServerVersion string
}

func settingsForm(p api.Pool) poolForm {
	return poolForm{Name: p.Name, FailoverRecord: p.FailoverRecord, FailoverDelay: p.FailoverDelay.D().String(),
		TTL: strconv.Itoa(p.TTL), Failback: p.Failback, HeartbeatTimeout: p.HeartbeatTimeout.D().String(), Hook: p.Hook,
		Description: p.Description}
}

func (h *Handler) poolSettingsPage(w http.ResponseWriter, r *http.Request) error {
	return h.showPoolSettings(w, r, http.StatusOK, nil, nil)
}

func (h *Handler) showPoolSettings(w http.ResponseWriter, r *http.Request, status int, f *poolForm, formErr error) error {
	p, nav, err := h.poolNav(r.Context(), r.PathValue("pool"), "settings")
	if err != nil {
		return err
	}
	ms, err := h.fl.Members(r.Context(), p.Name)
	if err != nil {
		return err
	}
	d := &poolSettingsPage{Base: h.pageBase(w, r, p.Name+" · settings", "pools"), P: p, Form: settingsForm(p), Chosen: p.DNSProvider}
	if d.Providers, err = h.poolProviders(r); err != nil {
		return err
	}
	if f != nil && r.PostForm.Has("dns_provider") {
		d.Chosen = r.PostFormValue("dns_provider")
	}
	d.Pool = nav
	d.ServerVersion = h.fl.ServerVersion()
	if ro, err := h.fl.Rollout(r.Context(), p.Name); err == nil {
		d.Rollout = &ro
	}
	for _, m := range ms {
		d.Members = append(d.Members, m.Name)
	}
	if f != nil {
		d.Form = *f
	}
	if formErr != nil {
		d.Error = h.message(r, formErr)
		d.Confirm = r.PostFormValue("confirm")
	}
	h.render(w, r, status, "pool_settings", d)
	return nil
}

func (h *Handler) updatePool(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("pool")
	f := readPoolForm(r)
	f.Name = name
	in := api.PoolUpdate{FailoverRecord: &f.FailoverRecord, Failback: &f.Failback, Hook: &f.Hook, Description: &f.Description}
	if r.PostForm.Has("dns_provider") {
		prov := r.PostFormValue("dns_provider")
		in.DNSProvider = &prov
	}
	delay, err := parseDuration("failover delay", f.FailoverDelay)
	var timeout api.Duration
	var ttl int
	if err == nil {
		timeout, err = parseDuration("heartbeat timeout", f.HeartbeatTimeout)
	}
	if err == nil {
		ttl, err = parseInt("TTL", f.TTL)
	}
	if err == nil {
		in.FailoverDelay, in.HeartbeatTimeout, in.TTL = &delay, &timeout, &ttl
		_, err = h.fl.UpdatePool(r.Context(), name, in)
	}
	if err != nil {
		return h.showPoolSettings(w, r, statusOf(err), &f, err)
	}
	return h.redirect(w, r, "/pools/"+url.PathEscape(name)+"/settings", "Settings of pool "+name+" saved.")
}

// deletePool deletes the pool, with its members, once its name was typed.
func (h *Handler) deletePool(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("pool")
	if strings.TrimSpace(r.PostFormValue("confirm")) != name {
		return h.showPoolSettings(w, r, http.StatusBadRequest, nil,
			apperr.New(apperr.Invalid, "type the pool's name, %s, to confirm its deletion", name))
	}
	res, err := h.fl.DeletePool(r.Context(), name, true)
	if err != nil {
		return h.showPoolSettings(w, r, statusOf(err), nil, err)
	}
	msg := "Pool " + name + " deleted."
	if len(res.RemovedMembers) > 0 {
		msg = "Pool " + name + " deleted with its members " + strings.Join(res.RemovedMembers, ", ") + "."
	}
	return h.redirect(w, r, "/", msg)
}
