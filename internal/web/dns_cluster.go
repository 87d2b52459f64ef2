package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

var (
	errNoCluster  = apperr.New(apperr.Unavailable, "the DNS cluster is not available on this server")
	errAdminsOnly = apperr.New(apperr.Forbidden, "the DNS cluster is shown to administrators only")
)

type clusterPage struct {
	Base
	Settings api.ClusterSettings
	Members  []api.ClusterMember
}

// clusterPage shows the DNS cluster: its switch, threshold and members
// with their status. Administrators only: a member's URL and errors are
// not for read-only users.
func (h *Handler) clusterPage(w http.ResponseWriter, r *http.Request) error {
	return h.showCluster(w, r, http.StatusOK, nil)
}

func (h *Handler) showCluster(w http.ResponseWriter, r *http.Request, status int, formErr error) error {
	d := &clusterPage{Base: h.pageBase(w, r, "DNS cluster", "zones")}
	if !d.Admin {
		return errAdminsOnly
	}
	if h.cfg.Cluster == nil {
		return errNoCluster
	}
	var err error
	if d.Settings, err = h.cfg.Cluster.Settings(r.Context()); err != nil {
		return err
	}
	if d.Members, err = h.cfg.Cluster.Members(r.Context()); err != nil {
		return err
	}
	if formErr != nil {
		d.Error = h.message(r, formErr)
	}
	h.render(w, r, status, "dns_cluster", d)
	return nil
}

func (h *Handler) switchCluster(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Cluster == nil {
		return errNoCluster
	}
	on := r.PostFormValue("enabled") == "1"
	if _, err := h.cfg.Cluster.UpdateSettings(r.Context(), api.ClusterSettingsUpdate{Enabled: &on}); err != nil {
		return h.showCluster(w, r, statusOf(err), err)
	}
	msg := "DNS cluster disabled: no zone is sent to its members."
	if on {
		msg = "DNS cluster enabled: zone changes go to its members."
	}
	return h.redirect(w, r, "/dns-cluster", msg)
}

func (h *Handler) enableClusterMember(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Cluster == nil {
		return errNoCluster
	}
	host := r.PathValue("host")
	if _, err := h.cfg.Cluster.EnableMember(r.Context(), host); err != nil {
		return h.showCluster(w, r, statusOf(err), err)
	}
	return h.redirect(w, r, "/dns-cluster", "Member "+host+" enabled again and resynchronised.")
}

func (h *Handler) resyncCluster(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Cluster == nil {
		return errNoCluster
	}
	res, err := h.cfg.Cluster.Resync(r.Context(), strings.TrimSpace(r.PostFormValue("host")))
	if err != nil {
		return h.showCluster(w, r, statusOf(err), err)
	}
	return h.redirect(w, r, "/dns-cluster", fmt.Sprintf("Resynchronised %s: %d zone(s) written.", orNone(strings.Join(res.Members, ", ")), res.Zones))
}

func orNone(s string) string {
	if s == "" {
		return "no member"
	}
	return s
}
