package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

type memberSettingsPage struct {
	Base
	Form   memberForm
	Secret *api.MemberAdded // a regenerated enrolment secret, shown once
	URL    string
	Remove string // the typed confirmation, on refusal
	// ServerVersion is the version agents are updated to.
	ServerVersion string
	// Dependents is what removing the member would break.
	Dependents []string
}

func (h *Handler) memberSettingsPage(w http.ResponseWriter, r *http.Request) error {
	return h.showMemberSettings(w, r, http.StatusOK, nil, nil, nil)
}

// showMemberSettings renders the settings; f is the form as typed after a
// refusal (nil: the member's current values).
func (h *Handler) showMemberSettings(w http.ResponseWriter, r *http.Request, status int, f *memberForm, secret *api.MemberAdded, formErr error) error {
	b, m, err := h.memberBase(w, r, "settings", "settings")
	if err != nil {
		return err
	}
	d := &memberSettingsPage{Base: b, Form: formOf(m), Secret: secret, URL: serverURL(r), ServerVersion: h.fl.ServerVersion()}
	if f != nil {
		d.Form = *f
	}
	if d.Dependents, err = h.fl.MemberDependents(r.Context(), b.Pool.Name, m.Name); err != nil {
		return err
	}
	if formErr != nil {
		d.Error = h.message(r, formErr)
		d.Remove = r.PostFormValue("confirm")
	}
	h.render(w, r, status, "member_settings", d)
	return nil
}

func (h *Handler) updateMember(w http.ResponseWriter, r *http.Request) error {
	pool, name := r.PathValue("pool"), r.PathValue("member")
	f := readMemberForm(r)
	f.Name = name
	loc, err := f.location()
	var prio int
	if err == nil {
		prio, err = parseInt("priority", f.Priority)
	}
	if err == nil {
		cidrs := f.cidrs()
		_, err = h.fl.UpdateMember(r.Context(), pool, name, api.MemberUpdate{Address: &f.Address, AllowedCIDRs: &cidrs,
			ProbeURL: &f.Probe, Location: &loc, Role: &f.Role, Priority: &prio, ShellEnabled: &f.Shell})
	}
	if err != nil {
		return h.showMemberSettings(w, r, statusOf(err), &f, nil, err)
	}
	return h.redirect(w, r, memberURL(pool, name)+"/settings", "Settings of "+name+" saved.")
}

// newSecret replaces the enrolment secret and shows the new one once.
func (h *Handler) newSecret(w http.ResponseWriter, r *http.Request) error {
	added, err := h.fl.NewSecret(r.Context(), r.PathValue("pool"), r.PathValue("member"), 0)
	if err != nil {
		return h.showMemberSettings(w, r, statusOf(err), nil, nil, err)
	}
	added.InstallCommand = h.installCommand(r, added.EnrollmentSecret)
	return h.showMemberSettings(w, r, http.StatusCreated, nil, &added, nil)
}

// removeMember removes the member once its name was typed to confirm.
func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request) error {
	pool, name := r.PathValue("pool"), r.PathValue("member")
	if strings.TrimSpace(r.PostFormValue("confirm")) != name {
		err := apperr.New(apperr.Invalid, "type the member's name, %s, to confirm its removal", name)
		return h.showMemberSettings(w, r, http.StatusBadRequest, nil, nil, err)
	}
	if err := h.fl.RemoveMember(r.Context(), pool, name, r.PostFormValue("force") == "1"); err != nil {
		return h.showMemberSettings(w, r, statusOf(err), nil, nil, err)
	}
	return h.redirect(w, r, "/pools/"+url.PathEscape(pool), "Member "+name+" removed; its agent is told to stop.")
}
