package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// Links is linked nodes as the dashboard needs it; internal/links
// implements it. Errors are apperr kinds with messages for people.
type Links interface {
	Links(ctx context.Context, pool string) ([]api.Link, error)
	AddLink(ctx context.Context, pool string, in api.LinkCreate) (api.Link, error)
	RemoveLink(ctx context.Context, pool, child string) error
	DistributedAccounts(ctx context.Context, pool, child string) ([]api.DistributedAccount, error)
	Runs(ctx context.Context, pool, account string, limit int) ([]api.DistributionRun, error)
	Run(ctx context.Context, id int64) (api.DistributionRun, error)
	RunLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.RunLogLine, error)
}

var errNoLinks = apperr.New(apperr.Unavailable, "linked nodes are not available on this server")

type linksPage struct {
	Base
	Pools []linkPool
	Runs  []api.DistributionRun
	Form  linkForm // the add form as typed, after a refusal
}

// linkPool is one pool's links and the members its add form offers.
type linkPool struct {
	Name     string
	Links    []api.Link
	Parents  []string // standard members that are no child
	Children []string // mail members without a parent
}

type linkForm struct{ Pool, Parent, Child string }

func linkChildURL(pool, child string) string {
	return "/links/" + url.PathEscape(pool) + "/" + url.PathEscape(child)
}

func distRunURL(id int64) string { return "/links/runs/" + strconv.FormatInt(id, 10) }

// linksPage lists every pool's links (parent, child, function, how many
// accounts the child serves) and the latest distribution runs; an
// administrator also gets the forms that add and remove links.
func (h *Handler) linksPage(w http.ResponseWriter, r *http.Request) error {
	return h.showLinks(w, r, http.StatusOK, linkForm{}, nil)
}

func (h *Handler) showLinks(w http.ResponseWriter, r *http.Request, status int, form linkForm, formErr error) error {
	if h.cfg.Links == nil {
		return errNoLinks
	}
	ctx := r.Context()
	d := &linksPage{Base: h.pageBase(w, r, "Linked nodes", "links"), Form: form}
	ps, err := h.fl.Pools(ctx)
	if err != nil {
		return err
	}
	for _, p := range ps {
		lp := linkPool{Name: p.Name}
		if lp.Links, err = h.cfg.Links.Links(ctx, p.Name); err != nil {
			return err
		}
		linked := map[string]bool{}
		for _, l := range lp.Links {
			linked[l.Child] = true
		}
		if d.Admin {
			ms, err := h.fl.Members(ctx, p.Name)
			if err != nil {
				return err
			}
			for _, m := range ms {
				switch {
				case m.Profile == api.ProfileMail && !linked[m.Name]:
					lp.Children = append(lp.Children, m.Name)
				case (m.Profile == "" || m.Profile == api.ProfileStandard) && !linked[m.Name]:
					lp.Parents = append(lp.Parents, m.Name)
				}
			}
		}
		d.Pools = append(d.Pools, lp)
	}
	if d.Runs, err = h.cfg.Links.Runs(ctx, "", "", 20); err != nil {
		return err
	}
	if formErr != nil {
		d.Error = h.message(r, formErr)
	}
	h.render(w, r, status, "links", d)
	return nil
}

func (h *Handler) addLink(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Links == nil {
		return errNoLinks
	}
	f := linkForm{Pool: strings.TrimSpace(r.PostFormValue("pool")), Parent: strings.TrimSpace(r.PostFormValue("parent")),
		Child: strings.TrimSpace(r.PostFormValue("child"))}
	l, err := h.cfg.Links.AddLink(r.Context(), f.Pool, api.LinkCreate{Parent: f.Parent, Child: f.Child, Function: api.FunctionMail})
	if err != nil {
		return h.showLinks(w, r, statusOf(err), f, err)
	}
	return h.redirect(w, r, "/links", fmt.Sprintf("%s is now the %s child of %s.", l.Child, l.Function, l.Parent))
}

func (h *Handler) removeLink(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Links == nil {
		return errNoLinks
	}
	pool, child := r.PathValue("pool"), r.PathValue("child")
	if err := h.cfg.Links.RemoveLink(r.Context(), pool, child); err != nil {
		return h.showLinks(w, r, statusOf(err), linkForm{}, err)
	}
	return h.redirect(w, r, "/links", fmt.Sprintf("%s is no longer a linked child.", child))
}

type linkChildPage struct {
	Base
	Link     api.Link
	Accounts []api.DistributedAccount
	Runs     []api.DistributionRun
}

// linkChildPage is "view distributed accounts": the accounts a child
// serves (state, domains, users, since when, how long it keeps a copy)
// and the runs that moved them.
func (h *Handler) linkChildPage(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Links == nil {
		return errNoLinks
	}
	ctx := r.Context()
	pool, child := r.PathValue("pool"), r.PathValue("child")
	ls, err := h.cfg.Links.Links(ctx, pool)
	if err != nil {
		return err
	}
	d := &linkChildPage{Base: h.pageBase(w, r, "Linked node "+child, "links")}
	found := false
	for _, l := range ls {
		if l.Child == child {
			d.Link, found = l, true
		}
	}
	if !found {
		return apperr.New(apperr.NotFound, "member %s of pool %s is not a linked child", child, pool)
	}
	if d.Accounts, err = h.cfg.Links.DistributedAccounts(ctx, pool, child); err != nil {
		return err
	}
	runs, err := h.cfg.Links.Runs(ctx, pool, "", 100)
	if err != nil {
		return err
	}
	for _, run := range runs {
		if run.Child == child {
			d.Runs = append(d.Runs, run)
		}
	}
	h.render(w, r, http.StatusOK, "link_child", d)
	return nil
}

// distStatus is the distribution run page's live status part.
type distStatus struct {
	R         api.DistributionRun
	Duration  string
	JobMember string // the member running the step's job
}

// stepOn names, for the steps done by an agent job, whether the mail's
// source, its target, the parent or the child runs it (internal/links).
var stepOn = map[string]string{"export": "source", "measure": "source", "copy": "source", "final-copy": "source",
	"check": "target", "import": "target", "copy-in": "target", "final-copy-in": "target", "verify": "target",
	"switch": "parent", "remove-from-parent": "parent", "kick": "child", "remove-from-child": "child"}

func jobMember(r api.DistributionRun) string {
	src, dst := r.Parent, r.Child
	if r.Direction != api.DirDistribute {
		src, dst = r.Child, r.Parent
	}
	switch stepOn[r.Step] {
	case "source":
		return src
	case "target":
		return dst
	case "child":
		return r.Child
	}
	return r.Parent
}

func newDistStatus(r api.DistributionRun, now time.Time) distStatus {
	end := now
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	d := span(end.Sub(r.CreatedAt))
	if r.FinishedAt == nil {
		d += " so far"
	}
	return distStatus{R: r, Duration: d, JobMember: jobMember(r)}
}

type distRunPage struct {
	Base
	Run       api.DistributionRun
	Status    distStatus
	Lines     []api.RunLogLine
	StreamURL string // set while the run has not ended
}

func (h *Handler) distRun(ctx context.Context, r *http.Request) (api.DistributionRun, error) {
	if h.cfg.Links == nil {
		return api.DistributionRun{}, errNoLinks
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return api.DistributionRun{}, apperr.New(apperr.NotFound, "no distribution run %q", r.PathValue("id"))
	}
	return h.cfg.Links.Run(ctx, id)
}

// distRunPage shows a distribution run: its step among the steps, its
// error and its log, which streams live while the run goes on.
func (h *Handler) distRunPage(w http.ResponseWriter, r *http.Request) error {
	run, err := h.distRun(r.Context(), r)
	if err != nil {
		return err
	}
	lines, err := h.cfg.Links.RunLog(r.Context(), run.ID, 0, 0)
	if err != nil {
		return err
	}
	d := &distRunPage{Base: h.pageBase(w, r, fmt.Sprintf("Distribution run %d of %s", run.ID, run.Account), "links"), Run: run, Lines: lines}
	d.Status = newDistStatus(run, d.Now)
	if run.FinishedAt == nil {
		var after int64
		if n := len(lines); n > 0 {
			after = lines[n-1].Seq
		}
		d.StreamURL = distRunURL(run.ID) + "/stream?after=" + strconv.FormatInt(after, 10)
	}
	h.render(w, r, http.StatusOK, "distribution_run", d)
	return nil
}

// distRunStream streams a distribution run as runStream streams a
// replication run: new log lines, the status part when the step or state
// changes, and "done" once it has ended.
func (h *Handler) distRunStream(w http.ResponseWriter, r *http.Request) error {
	run, err := h.distRun(r.Context(), r)
	if err != nil {
		return err
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	return h.streamLog(w, r, after, followed{
		lines: func(ctx context.Context, after int64, wait time.Duration) ([]api.JobLogLine, error) {
			return h.cfg.Links.RunLog(ctx, run.ID, after, wait)
		},
		status: func(ctx context.Context, _ []api.JobLogLine) (string, string, any, bool, string, error) {
			cur, err := h.cfg.Links.Run(ctx, run.ID)
			if err != nil {
				return "", "", nil, false, "", err
			}
			key := fmt.Sprintf("%s %s %d", cur.Status, cur.Step, cur.Job)
			return key, "diststatus", newDistStatus(cur, h.now()), cur.FinishedAt != nil, cur.Status, nil
		},
	})
}

// memberLink says how a member takes part in linked nodes, for its page:
// the link it is the child of, or the children it is the parent of.
type memberLink struct {
	Parent   string     // set on a child
	Children []api.Link // set on a parent
	URL      string     // the child's page (a child)
}

func (h *Handler) memberLink(ctx context.Context, pool, member string) (*memberLink, error) {
	if h.cfg.Links == nil {
		return nil, nil
	}
	ls, err := h.cfg.Links.Links(ctx, pool)
	if err != nil {
		return nil, err
	}
	var ml memberLink
	for _, l := range ls {
		switch member {
		case l.Child:
			ml.Parent, ml.URL = l.Parent, linkChildURL(pool, l.Child)
		case l.Parent:
			ml.Children = append(ml.Children, l)
		}
	}
	if ml.Parent == "" && len(ml.Children) == 0 {
		return nil, nil
	}
	return &ml, nil
}
