package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// runsShown is how many recent runs a protection's page lists.
const runsShown = 20

// runRow is one run as a protection's page lists it.
type runRow struct {
	api.Run
	URL, Duration string
}

// runDuration is how long a run took, or has been going.
func runDuration(r api.Run, now time.Time) string {
	if r.StartedAt == nil {
		return "—"
	}
	if r.FinishedAt == nil {
		return span(now.Sub(*r.StartedAt)) + " so far"
	}
	return span(r.FinishedAt.Sub(*r.StartedAt))
}

// protSettingsForm holds the settings form as typed, for re-display.
type protSettingsForm struct {
	Schedule, TTL string
	Records       map[string]bool
}

func protSettingsOf(p api.Protection) protSettingsForm {
	f := protSettingsForm{Schedule: p.Schedule, TTL: strconv.Itoa(p.TTL), Records: map[string]bool{}}
	for _, t := range p.Records {
		f.Records[t] = true
	}
	return f
}

type protectionPage struct {
	Base
	P         api.Protection
	URL, RPO  string
	Runs      []runRow
	Members   []string // of the pool: the targets of a DNS cut
	Types     []string
	Schedules []string
	Edit      protSettingsForm
	CutTo     string
	Cut       *api.DNSCutResult // a dry run's changes, shown before the real cut
	Confirm   string            // typed in the delete form, shown again
	// ConfirmReverse is what was typed in the reverse form.
	ConfirmReverse string
	Actions        protectionActions
}

// protectionView is what a protection's page shows besides the protection.
type protectionView struct {
	status int
	edit   *protSettingsForm
	cutTo  string
	cut    *api.DNSCutResult
	err    error // a refused form or action, shown as a message
}

func (h *Handler) protectionPage(w http.ResponseWriter, r *http.Request) error {
	return h.showProtection(w, r, protectionView{status: http.StatusOK})
}

func (h *Handler) showProtection(w http.ResponseWriter, r *http.Request, v protectionView) error {
	if h.prot == nil {
		return errNoProtections
	}
	pool, account := r.PathValue("pool"), r.PathValue("account")
	p, err := h.prot.GetProtection(r.Context(), pool, account)
	if err != nil {
		return err
	}
	d := &protectionPage{Base: h.pageBase(w, r, "Protection of "+p.Account, "protection"), P: p,
		URL: protectionURL(p.Pool, p.Account), RPO: rpoText(p.RPOSeconds), Types: cutRecordTypes, Schedules: scheduleNames,
		Edit: protSettingsOf(p), CutTo: v.cutTo, Cut: v.cut}
	d.Actions = actionsOf(p, d.URL, d.ActionCSRF(), "detail")
	if v.edit != nil {
		d.Edit = *v.edit
	}
	if d.CutTo == "" {
		d.CutTo = p.Standby
		if p.CutTo == p.Standby {
			d.CutTo = p.Source // after a cut, the way back
		}
	}
	runs, err := h.prot.Runs(r.Context(), pool, account, runsShown)
	if err != nil && v.err == nil {
		v.err, v.status = err, statusOf(err)
	}
	for _, run := range runs {
		d.Runs = append(d.Runs, runRow{Run: run, URL: runURL(pool, account, run.ID), Duration: runDuration(run, d.Now)})
	}
	ms, err := h.fl.Members(r.Context(), pool)
	if err != nil {
		return err
	}
	for _, m := range ms {
		d.Members = append(d.Members, m.Name)
	}
	if v.err != nil {
		d.Error = h.message(r, v.err)
		d.Confirm = r.PostFormValue("confirm")
		d.ConfirmReverse = r.PostFormValue("confirm_reverse")
	}
	h.render(w, r, v.status, "protection", d)
	return nil
}

// updateProtection saves the settings form, sending only what changed.
func (h *Handler) updateProtection(w http.ResponseWriter, r *http.Request) error {
	if h.prot == nil {
		return errNoProtections
	}
	pool, account := r.PathValue("pool"), r.PathValue("account")
	f := protSettingsForm{Schedule: strings.TrimSpace(r.PostFormValue("schedule")), TTL: strings.TrimSpace(r.PostFormValue("ttl"))}
	var recs []string
	f.Records, recs = checkedRecords(r)
	fail := func(err error) error {
		return h.showProtection(w, r, protectionView{status: statusOf(err), edit: &f, err: err})
	}
	cur, err := h.prot.GetProtection(r.Context(), pool, account)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return fail(apperr.New(apperr.Invalid, "choose at least one record type to cut to the standby"))
	}
	ttl, err := parseInt("TTL", f.TTL)
	if err != nil {
		return fail(err)
	}
	var in api.ProtectionUpdate
	if f.Schedule != "" && f.Schedule != cur.Schedule {
		in.Schedule = &f.Schedule
	}
	if !sameSet(recs, cur.Records) {
		in.Records = &recs
	}
	if ttl != 0 && ttl != cur.TTL {
		in.TTL = &ttl
	}
	if in.Schedule == nil && in.Records == nil && in.TTL == nil {
		return h.redirect(w, r, protectionURL(pool, account), "Nothing changed.")
	}
	if _, err := h.prot.UpdateProtection(r.Context(), pool, account, in); err != nil {
		return fail(err)
	}
	return h.redirect(w, r, protectionURL(pool, account), "Settings of the protection of "+account+" saved.")
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func (h *Handler) deleteProtection(w http.ResponseWriter, r *http.Request) error {
	if h.prot == nil {
		return errNoProtections
	}
	pool, account := r.PathValue("pool"), r.PathValue("account")
	if strings.TrimSpace(r.PostFormValue("confirm")) != account {
		err := apperr.New(apperr.Invalid, "type the account's name, %s, to confirm that it should no longer be protected", account)
		return h.showProtection(w, r, protectionView{status: http.StatusBadRequest, err: err})
	}
	p, err := h.prot.GetProtection(r.Context(), pool, account)
	if err != nil {
		return err
	}
	if err := h.prot.DeleteProtection(r.Context(), pool, account); err != nil {
		return h.showProtection(w, r, protectionView{status: statusOf(err), err: err})
	}
	return h.redirect(w, r, "/protections",
		fmt.Sprintf("Account %s is no longer protected; its copy on %s was left in place.", account, p.Standby))
}

// cutDNS previews a DNS cut (dry_run set: the changes are listed on the
// page, with the button for the real cut) or makes it.
func (h *Handler) cutDNS(w http.ResponseWriter, r *http.Request) error {
	if h.prot == nil {
		return errNoProtections
	}
	pool, account := r.PathValue("pool"), r.PathValue("account")
	in := api.DNSCut{To: strings.TrimSpace(r.PostFormValue("to")), DryRun: r.PostFormValue("dry_run") != ""}
	var err error
	if in.To == "" {
		err = apperr.New(apperr.Invalid, "choose the member the account's records should point at")
	}
	var res api.DNSCutResult
	if err == nil {
		res, err = h.prot.CutDNS(r.Context(), pool, account, in)
	}
	if err != nil {
		return h.showProtection(w, r, protectionView{status: statusOf(err), cutTo: in.To, err: err})
	}
	if in.DryRun {
		return h.showProtection(w, r, protectionView{status: http.StatusOK, cutTo: in.To, cut: &res})
	}
	return h.redirect(w, r, protectionURL(pool, account),
		fmt.Sprintf("DNS of account %s cut from %s to %s: %d records changed.", account, res.From, res.To, len(res.Changes)))
}
