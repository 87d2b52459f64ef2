package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// Protections is account protection as the dashboard needs it;
// internal/protection's Service implements it. A protection is named by its
// pool and account (an account has at most one per pool). Errors are
// apperr kinds with messages for people.
type Protections interface {
	// Accounts lists the accounts on a member. With refresh it asks the
	// member's agent now; when the agent does not answer, the accounts last
	// discovered come back with Stale set.
	Accounts(ctx context.Context, pool, member string, refresh bool) (api.AccountList, error)
	// ListProtections lists the protections of pool, of every pool when
	// pool is "".
	ListProtections(ctx context.Context, pool string) ([]api.Protection, error)
	CreateProtection(ctx context.Context, pool string, in api.ProtectionCreate) (api.Protection, error)
	GetProtection(ctx context.Context, pool, account string) (api.Protection, error)
	// UpdateProtection changes the fields of in that are set.
	UpdateProtection(ctx context.Context, pool, account string, in api.ProtectionUpdate) (api.Protection, error)
	SetPaused(ctx context.Context, pool, account string, paused bool) (api.Protection, error)
	// DeleteProtection stops replicating; the standby's copy stays.
	DeleteProtection(ctx context.Context, pool, account string) error
	// RunNow queues a run at once: Conflict while one is queued or
	// running, and while the account's DNS points away from its source
	// (Protection.Blocked says why).
	RunNow(ctx context.Context, pool, account string) (api.Run, error)
	// Reverse swaps source and standby once the account's DNS points at
	// the standby (Conflict otherwise, and while a run has not ended).
	Reverse(ctx context.Context, pool, account string) (api.Protection, error)
	// Runs lists a protection's newest runs first, at most limit.
	Runs(ctx context.Context, pool, account string, limit int) ([]api.Run, error)
	Run(ctx context.Context, id int64) (api.Run, error)
	// RunLog returns a run's log lines after seq; with wait, it waits up
	// to wait for new lines while the run has not ended.
	RunLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.RunLogLine, error)
	// CutDNS points the account's records at another member of its pool;
	// with DryRun it only lists the changes.
	CutDNS(ctx context.Context, pool, account string, in api.DNSCut) (api.DNSCutResult, error)
}

var errNoProtections = apperr.New(apperr.Unavailable, "account protection is not available on this server")

// Choices offered by the protection forms (the service checks them).
var (
	cutRecordTypes = []string{"A", "AAAA", "MX", "SRV"}
	scheduleNames  = []string{"1h", "2h", "3h", "4h", "6h", "8h", "12h", "1d", "1w", "1mo"}
)

func protectionURL(pool, account string) string {
	return "/protections/" + url.PathEscape(pool) + "/" + url.PathEscape(account)
}

func runURL(pool, account string, id int64) string {
	return fmt.Sprintf("%s/runs/%d", protectionURL(pool, account), id)
}

// span renders a duration for people: "42 s", "7 min", "5 h 12 min", "3 days 4 h".
func span(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d days %d h", int(d.Hours()/24), int(d.Hours())%24)
}

// rpoText is the age of the last good copy, "never" before the first.
func rpoText(secs *int64) string {
	if secs == nil {
		return "never"
	}
	return span(time.Duration(*secs) * time.Second)
}

// protectionRow is one protection as the overview lists it.
type protectionRow struct {
	api.Protection
	URL, RPO, LastRunURL string
	LastRunAt            *time.Time // when the last run ended, started or was queued
	Actions              protectionActions
}

func newProtectionRow(p api.Protection, csrf string) protectionRow {
	row := protectionRow{Protection: p, URL: protectionURL(p.Pool, p.Account), RPO: rpoText(p.RPOSeconds)}
	if lr := p.LastRun; lr != nil {
		row.LastRunURL = runURL(p.Pool, p.Account, lr.ID)
		row.LastRunAt = cmp.Or(lr.FinishedAt, lr.StartedAt, &lr.CreatedAt)
	}
	row.Actions = actionsOf(p, row.URL, csrf, "")
	return row
}

// protectionActions are the Run now and Pause or Resume buttons of a
// protection; From is "detail" on the protection's own page. Run now is
// not offered while runs are refused (Blocked: the standby serves).
type protectionActions struct {
	URL, Account, CSRF, From string
	Paused, Blocked          bool
}

func actionsOf(p api.Protection, url, csrf, from string) protectionActions {
	return protectionActions{URL: url, Account: p.Account, CSRF: csrf, From: from,
		Paused: p.Paused || p.Status == api.ProtectionPaused, Blocked: p.Blocked != ""}
}

// protectionForm holds the create form as typed, for re-display.
type protectionForm struct {
	Pool, Account, Source, Standby, Schedule, TTL string
	Records                                       map[string]bool
	Databases, Paused                             bool
}

type protectionsPage struct {
	Base
	Available bool
	Rows      []protectionRow
	Pools     []string
	Members   []string // of every pool, offered for source and standby
	Types     []string
	Schedules []string
	Form      protectionForm
}

func (h *Handler) protectionsPage(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := protectionForm{Pool: q.Get("pool"), Account: q.Get("account"), Source: q.Get("source"), Standby: q.Get("standby"),
		Records: map[string]bool{"A": true, "AAAA": true, "MX": true}, Databases: true}
	return h.showProtections(w, r, http.StatusOK, f, nil)
}

// showProtections renders the overview; formErr (a refused form or
// action) and a failing list are shown as messages on it.
func (h *Handler) showProtections(w http.ResponseWriter, r *http.Request, status int, f protectionForm, formErr error) error {
	d := &protectionsPage{Base: h.pageBase(w, r, "Protection", "protection"), Available: h.prot != nil,
		Types: cutRecordTypes, Schedules: scheduleNames, Form: f}
	if h.prot != nil {
		ps, err := h.prot.ListProtections(r.Context(), "")
		if err != nil && formErr == nil {
			formErr, status = err, statusOf(err)
		}
		for _, p := range ps {
			d.Rows = append(d.Rows, newProtectionRow(p, d.ActionCSRF()))
		}
		pools, err := h.fl.Pools(r.Context())
		if err != nil {
			return err
		}
		for _, p := range pools {
			d.Pools = append(d.Pools, p.Name)
			ms, err := h.fl.Members(r.Context(), p.Name)
			if err != nil {
				return err
			}
			for _, m := range ms {
				if !slices.Contains(d.Members, m.Name) {
					d.Members = append(d.Members, m.Name)
				}
			}
		}
	}
	if formErr != nil {
		d.Error = h.message(r, formErr)
	}
	h.render(w, r, status, "protections", d)
	return nil
}

// checkedRecords reads the record-type checkboxes.
func checkedRecords(r *http.Request) (map[string]bool, []string) {
	set := map[string]bool{}
	var list []string
	for _, t := range r.PostForm["records"] {
		t = strings.ToUpper(strings.TrimSpace(t))
		if t != "" && !set[t] {
			set[t] = true
			list = append(list, t)
		}
	}
	return set, list
}

func (h *Handler) createProtection(w http.ResponseWriter, r *http.Request) error {
	if h.prot == nil {
		return errNoProtections
	}
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := protectionForm{Pool: v("pool"), Account: v("account"), Source: v("source"), Standby: v("standby"), Schedule: v("schedule"),
		TTL: v("ttl"), Databases: v("databases") != "", Paused: v("paused") != ""}
	var recs []string
	f.Records, recs = checkedRecords(r)
	in := api.ProtectionCreate{Account: f.Account, Source: f.Source, Standby: f.Standby, Schedule: f.Schedule, Records: recs,
		Databases: &f.Databases, Paused: f.Paused}
	var err error
	switch {
	case f.Pool == "":
		err = apperr.New(apperr.Invalid, "choose the pool of the account")
	case len(recs) == 0:
		err = apperr.New(apperr.Invalid, "choose at least one record type to cut to the standby")
	default:
		in.TTL, err = parseInt("TTL", f.TTL)
	}
	var p api.Protection
	if err == nil {
		p, err = h.prot.CreateProtection(r.Context(), f.Pool, in)
	}
	if err != nil {
		return h.showProtections(w, r, statusOf(err), f, err)
	}
	msg := fmt.Sprintf("Account %s is protected: %s → %s, schedule %s.", p.Account, p.Source, p.Standby, p.Schedule)
	if p.NextRunAt != nil {
		msg += " First run " + when(*p.NextRunAt) + "; Run now starts one at once."
	}
	return h.redirect(w, r, protectionURL(p.Pool, p.Account), msg)
}

// fromDetail reports whether an action was posted from the protection's
// own page (the form says so), which is then where it returns.
func fromDetail(r *http.Request) bool { return r.PostFormValue("from") == "detail" }

// actionFailed shows a refused action on the page it came from.
func (h *Handler) actionFailed(w http.ResponseWriter, r *http.Request, err error) error {
	if fromDetail(r) {
		return h.showProtection(w, r, protectionView{status: statusOf(err), err: err})
	}
	return h.showProtections(w, r, statusOf(err), protectionForm{Records: map[string]bool{"A": true, "AAAA": true, "MX": true}, Databases: true}, err)
}

func (h *Handler) runProtection(w http.ResponseWriter, r *http.Request) error {
	if h.prot == nil {
		return errNoProtections
	}
	pool, account := r.PathValue("pool"), r.PathValue("account")
	run, err := h.prot.RunNow(r.Context(), pool, account)
	if err != nil {
		return h.actionFailed(w, r, err)
	}
	return h.redirect(w, r, runURL(pool, account, run.ID), fmt.Sprintf("Run %d of account %s queued.", run.ID, account))
}

// reverseProtection swaps source and standby of a protection whose DNS
// points at its standby, once the account's name is typed to confirm.
func (h *Handler) reverseProtection(w http.ResponseWriter, r *http.Request) error {
	if h.prot == nil {
		return errNoProtections
	}
	pool, account := r.PathValue("pool"), r.PathValue("account")
	if strings.TrimSpace(r.PostFormValue("confirm_reverse")) != account {
		err := apperr.New(apperr.Invalid, "type the account's name, %s, to confirm that its replication should be reversed", account)
		return h.showProtection(w, r, protectionView{status: http.StatusBadRequest, err: err})
	}
	p, err := h.prot.Reverse(r.Context(), pool, account)
	if err != nil {
		return h.showProtection(w, r, protectionView{status: statusOf(err), err: err})
	}
	return h.redirect(w, r, protectionURL(pool, account),
		fmt.Sprintf("Protection of account %s reversed: it now replicates %s → %s. Run now copies the account to %s, in full.", account, p.Source, p.Standby, p.Standby))
}

func (h *Handler) pauseProtection(w http.ResponseWriter, r *http.Request) error {
	return h.setPaused(w, r, true)
}

func (h *Handler) resumeProtection(w http.ResponseWriter, r *http.Request) error {
	return h.setPaused(w, r, false)
}

func (h *Handler) setPaused(w http.ResponseWriter, r *http.Request, paused bool) error {
	if h.prot == nil {
		return errNoProtections
	}
	pool, account := r.PathValue("pool"), r.PathValue("account")
	p, err := h.prot.SetPaused(r.Context(), pool, account, paused)
	if err != nil {
		return h.actionFailed(w, r, err)
	}
	msg := "Protection of account " + account + " paused: no scheduled runs until it is resumed."
	if !paused {
		msg = "Protection of account " + account + " resumed."
		if p.NextRunAt != nil {
			msg += " Next run " + when(*p.NextRunAt) + "."
		}
	}
	to := "/protections"
	if fromDetail(r) {
		to = protectionURL(pool, account)
	}
	return h.redirect(w, r, to, msg)
}

// parseRunID reads the run id of the path.
func parseRunID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.New(apperr.NotFound, "run %q not found", r.PathValue("id"))
	}
	return id, nil
}
