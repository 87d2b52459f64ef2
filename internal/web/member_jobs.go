package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// jobKinds are offered in the run-a-job form (any valid kind may be typed).
var jobKinds = []string{"facts.refresh", "service.status", "probe.check", "shell.exec"}

type jobForm struct{ Kind, Args, MaxAttempts string }

type jobsPage struct {
	Base
	Jobs  []api.Job
	Kinds []string
	Form  jobForm
}

func (h *Handler) jobsPage(w http.ResponseWriter, r *http.Request) error {
	return h.showJobs(w, r, http.StatusOK, jobForm{Kind: "facts.refresh"}, nil)
}

func (h *Handler) showJobs(w http.ResponseWriter, r *http.Request, status int, f jobForm, formErr error) error {
	b, m, err := h.memberBase(w, r, "jobs", "cron & jobs")
	if err != nil {
		return err
	}
	jobs, err := h.fl.ListJobs(r.Context(), m.Pool, m.Name)
	if err != nil {
		return err
	}
	d := &jobsPage{Base: b, Jobs: jobs, Kinds: jobKinds, Form: f}
	if formErr != nil {
		d.Error = h.message(r, formErr)
	}
	h.render(w, r, status, "member_jobs", d)
	return nil
}

func (h *Handler) runJob(w http.ResponseWriter, r *http.Request) error {
	pool, name := r.PathValue("pool"), r.PathValue("member")
	f := jobForm{Kind: strings.TrimSpace(r.PostFormValue("kind")), Args: strings.TrimSpace(r.PostFormValue("args")),
		MaxAttempts: strings.TrimSpace(r.PostFormValue("max_attempts"))}
	in := api.JobCreate{Kind: f.Kind}
	var err error
	if f.Args != "" {
		if !json.Valid([]byte(f.Args)) {
			err = apperr.New(apperr.Invalid, "arguments are not valid JSON; write an object like {\"command\": \"uptime\"}")
		}
		in.Args = json.RawMessage(f.Args)
	}
	if err == nil {
		in.MaxAttempts, err = parseInt("max attempts", f.MaxAttempts)
	}
	var j api.Job
	if err == nil {
		j, err = h.fl.EnqueueJob(r.Context(), pool, name, in)
	}
	if err != nil {
		return h.showJobs(w, r, statusOf(err), f, err)
	}
	return h.redirect(w, r, fmt.Sprintf("%s/jobs/%d", memberURL(pool, name), j.ID), fmt.Sprintf("Job %d (%s) queued.", j.ID, j.Kind))
}

// memberJob returns job id of the path's member; another member's job is
// not found here.
func (h *Handler) memberJob(ctx context.Context, r *http.Request) (api.Job, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return api.Job{}, apperr.New(apperr.NotFound, "job %q not found", r.PathValue("id"))
	}
	j, err := h.fl.Job(ctx, id)
	if err != nil {
		return j, err
	}
	if j.Pool != r.PathValue("pool") || j.Member != r.PathValue("member") {
		return j, apperr.New(apperr.NotFound, "job %d is not a job of member %s", id, r.PathValue("member"))
	}
	return j, nil
}

type jobPage struct {
	Base
	Job    api.Job
	Status jobStatus
	Lines  []api.JobLogLine
	After  int64
}

// jobStatus is the job's live status line, with its cancel button while
// the job has not ended.
type jobStatus struct {
	J            api.Job
	Action, CSRF string
}

func newJobStatus(r *http.Request, j api.Job) jobStatus {
	return jobStatus{J: j, Action: fmt.Sprintf("%s/jobs/%d/cancel", memberURL(j.Pool, j.Member), j.ID), CSRF: actionCSRF(r)}
}

func (h *Handler) jobPage(w http.ResponseWriter, r *http.Request) error {
	b, _, err := h.memberBase(w, r, "jobs", "job "+r.PathValue("id"))
	if err != nil {
		return err
	}
	j, err := h.memberJob(r.Context(), r)
	if err != nil {
		return err
	}
	lines, err := h.fl.JobLog(r.Context(), j.ID, 0, 0)
	if err != nil {
		return err
	}
	d := &jobPage{Base: b, Job: j, Status: newJobStatus(r, j), Lines: lines}
	if n := len(lines); n > 0 {
		d.After = lines[n-1].Seq
	}
	h.render(w, r, http.StatusOK, "job", d)
	return nil
}

// jobStream streams a job's new log lines ("line" events appended to the
// log), its status ("status") and, once it has ended and its log is read
// to the end, "done", on which the page closes the stream.
func (h *Handler) jobStream(w http.ResponseWriter, r *http.Request) error {
	j, err := h.memberJob(r.Context(), r)
	if err != nil {
		return err
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	return h.streamLog(w, r, after, followed{
		lines: func(ctx context.Context, after int64, wait time.Duration) ([]api.JobLogLine, error) {
			return h.fl.JobLog(ctx, j.ID, after, wait)
		},
		status: func(ctx context.Context, _ []api.JobLogLine) (string, string, any, bool, string, error) {
			cur, err := h.fl.Job(ctx, j.ID)
			if err != nil {
				return "", "", nil, false, "", err
			}
			return cur.Status, "jobstatus", newJobStatus(r, cur), cur.FinishedAt != nil, cur.Status, nil
		},
	})
}

func (h *Handler) cancelJob(w http.ResponseWriter, r *http.Request) error {
	j, err := h.memberJob(r.Context(), r)
	if err != nil {
		return err
	}
	if _, err := h.fl.CancelJob(r.Context(), j.ID); err != nil {
		return err
	}
	return h.redirect(w, r, fmt.Sprintf("%s/jobs/%d", memberURL(j.Pool, j.Member), j.ID), fmt.Sprintf("Job %d cancelled.", j.ID))
}
