package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
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
	Settings  api.ClusterSettings
	Members   []clusterMemberRow
	Conflicts []api.ClusterConflict
	Roles     []string
	// Signed are the signed zones, whose keys every member signs with.
	Signed []api.DNSSECStatus
}

// signedLister lists the signed zones; internal/zones implements it.
type signedLister interface {
	SignedZones(ctx context.Context) ([]api.DNSSECStatus, error)
}

type clusterMemberRow struct {
	api.ClusterMember
	Log []api.ClusterLogEntry // its latest operations
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
	ms, err := h.cfg.Cluster.Members(r.Context())
	if err != nil {
		return err
	}
	for _, m := range ms {
		row := clusterMemberRow{ClusterMember: m}
		if row.Log, err = h.cfg.Cluster.Log(r.Context(), m.Host, 15); err != nil {
			return err
		}
		d.Members = append(d.Members, row)
	}
	if d.Conflicts, err = h.cfg.Cluster.Conflicts(r.Context(), false); err != nil {
		return err
	}
	d.Roles = []string{api.ClusterRoleSync, api.ClusterRoleWriteOnly, api.ClusterRoleStandalone}
	if sl, ok := h.zones.(signedLister); ok {
		if d.Signed, err = sl.SignedZones(r.Context()); err != nil {
			return err
		}
		for i := range d.Signed {
			d.Signed[i].DS = dnssecCard{Status: d.Signed[i]}.DSPlain() // single spaces, as registrars take it
		}
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
	return h.redirect(w, r, "/dns-cluster", fmt.Sprintf("Resynchronised %s: %d zone(s) written or fetched.", orNone(strings.Join(res.Members, ", ")), res.Zones))
}

func orNone(s string) string {
	if s == "" {
		return "no member"
	}
	return s
}

func (h *Handler) clusterMemberRole(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Cluster == nil {
		return errNoCluster
	}
	host, role := r.PathValue("host"), r.PostFormValue("role")
	if _, err := h.cfg.Cluster.UpdateMember(r.Context(), host, api.ClusterMemberUpdate{Role: &role}); err != nil {
		return h.showCluster(w, r, statusOf(err), err)
	}
	return h.redirect(w, r, "/dns-cluster", "Member "+host+" is now "+role+".")
}

func (h *Handler) resolveClusterConflict(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Cluster == nil {
		return errNoCluster
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return apperr.New(apperr.NotFound, "no DNS cluster conflict %q", r.PathValue("id"))
	}
	cf, err := h.cfg.Cluster.Resolve(r.Context(), id, api.ClusterConflictResolve{Keep: r.PostFormValue("keep")})
	if err != nil {
		return h.showCluster(w, r, statusOf(err), err)
	}
	return h.redirect(w, r, "/dns-cluster", fmt.Sprintf("Conflict on zone %s with %s resolved: %s.", cf.Zone, cf.Member, cf.Resolution))
}

func (h *Handler) clusterThreshold(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Cluster == nil {
		return errNoCluster
	}
	n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("threshold")))
	if err != nil {
		return h.showCluster(w, r, http.StatusBadRequest, apperr.New(apperr.Invalid, "the failure threshold must be a number of failed operations (0 keeps every member online)"))
	}
	set, err := h.cfg.Cluster.UpdateSettings(r.Context(), api.ClusterSettingsUpdate{FailureThreshold: &n})
	if err != nil {
		return h.showCluster(w, r, statusOf(err), err)
	}
	msg := "Every member is kept online whatever fails."
	if set.FailureThreshold > 0 {
		msg = fmt.Sprintf("A member is now disabled after %d consecutive failed operations.", set.FailureThreshold)
	}
	return h.redirect(w, r, "/dns-cluster", msg)
}

// clusterMemberEdit changes how a member is reached: its URL, a new token
// or CA (each checked against the member before it is saved), and its
// debug log.
func (h *Handler) clusterMemberEdit(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Cluster == nil {
		return errNoCluster
	}
	host := r.PathValue("host")
	var in api.ClusterMemberUpdate
	if u := strings.TrimSpace(r.PostFormValue("url")); u != "" {
		in.URL = &u
	}
	if t := strings.TrimSpace(r.PostFormValue("token")); t != "" {
		in.Token = &t
	}
	if ca := strings.TrimSpace(r.PostFormValue("ca")); ca != "" {
		in.CA = &ca
	}
	debug := r.PostFormValue("debug") == "1"
	in.Debug = &debug
	if _, err := h.cfg.Cluster.UpdateMember(r.Context(), host, in); err != nil {
		return h.showCluster(w, r, statusOf(err), err)
	}
	return h.redirect(w, r, "/dns-cluster", "Member "+host+" saved.")
}

// clusterMemberRemove stops synchronisation with a member. Zones that
// exist only there are named first; removing it anyway needs the box
// ticked.
func (h *Handler) clusterMemberRemove(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Cluster == nil {
		return errNoCluster
	}
	host := r.PathValue("host")
	res, err := h.cfg.Cluster.RemoveMember(r.Context(), host, r.PostFormValue("force") == "1")
	if err != nil {
		return h.showCluster(w, r, statusOf(err), err)
	}
	msg := "Member " + host + " removed: no zone is sent to it any more."
	if len(res.LoneZones) > 0 {
		msg += " Zones that existed only there: " + strings.Join(res.LoneZones, ", ") + "."
	}
	return h.redirect(w, r, "/dns-cluster", msg)
}
