package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// runSteps is the number of steps of a run: snapshot, restore, clean-up.
const runSteps = 3

// runProgress is where a run is, read from its log: the engine writes a
// line "step N/3: what" as each step starts.
type runProgress struct {
	Step, Steps int
	Text        string // what the current step does
}

// advance takes the step lines of lines into account.
func (p *runProgress) advance(lines []api.RunLogLine) {
	for _, l := range lines {
		var n, m int
		line := strings.TrimSpace(l.Line)
		if _, err := fmt.Sscanf(line, "step %d/%d", &n, &m); err != nil || n < 1 || m < 1 || n > m {
			continue
		}
		p.Step, p.Steps = n, m
		_, p.Text, _ = strings.Cut(line, ": ")
	}
}

// runStatus is the run page's live status part: state, progress, error and,
// once they are known, the run's figures.
type runStatus struct {
	R        api.Run
	P        runProgress
	Duration string
}

func newRunStatus(r api.Run, p runProgress, now time.Time) runStatus {
	if p.Steps == 0 {
		p.Steps = runSteps
	}
	if r.Status == api.RunSucceeded {
		p.Step, p.Text = p.Steps, "done"
	}
	return runStatus{R: r, P: p, Duration: runDuration(r, now)}
}

type runPage struct {
	Base
	P         api.Protection
	URL       string // the protection's page
	Run       api.Run
	Status    runStatus
	Lines     []api.RunLogLine
	StreamURL string // set while the run has not ended
}

// protectionRun returns the protection of the path and its run id; a run
// of another protection is not found here.
func (h *Handler) protectionRun(ctx context.Context, r *http.Request) (api.Protection, api.Run, error) {
	if h.prot == nil {
		return api.Protection{}, api.Run{}, errNoProtections
	}
	id, err := parseRunID(r)
	if err != nil {
		return api.Protection{}, api.Run{}, err
	}
	p, err := h.prot.GetProtection(ctx, r.PathValue("pool"), r.PathValue("account"))
	if err != nil {
		return p, api.Run{}, err
	}
	run, err := h.prot.Run(ctx, id)
	if err != nil {
		return p, run, err
	}
	if run.Protection != p.ID {
		return p, run, apperr.New(apperr.NotFound, "run %d is not a run of the protection of account %s", id, p.Account)
	}
	return p, run, nil
}

func (h *Handler) runPage(w http.ResponseWriter, r *http.Request) error {
	p, run, err := h.protectionRun(r.Context(), r)
	if err != nil {
		return err
	}
	lines, err := h.prot.RunLog(r.Context(), run.ID, 0, 0)
	if err != nil {
		return err
	}
	var prog runProgress
	prog.advance(lines)
	d := &runPage{Base: h.pageBase(w, r, fmt.Sprintf("Run %d of %s", run.ID, p.Account), "protection"), P: p,
		URL: protectionURL(p.Pool, p.Account), Run: run, Lines: lines}
	d.Status = newRunStatus(run, prog, d.Now)
	if run.FinishedAt == nil {
		var after int64
		if n := len(lines); n > 0 {
			after = lines[n-1].Seq
		}
		d.StreamURL = runURL(p.Pool, p.Account, run.ID) + "/stream?after=" + strconv.FormatInt(after, 10)
	}
	h.render(w, r, http.StatusOK, "protection_run", d)
	return nil
}

// runStream streams a run as jobStream streams a job: its new log lines
// ("line" events appended to the log), its status and progress ("status",
// sent when they change) and, once it has ended and its log is read to
// the end, "done", on which the page closes the stream.
func (h *Handler) runStream(w http.ResponseWriter, r *http.Request) error {
	_, run, err := h.protectionRun(r.Context(), r)
	if err != nil {
		return err
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	// The progress counts the steps the page already shows.
	seen, err := h.prot.RunLog(r.Context(), run.ID, 0, 0)
	if err != nil {
		return err
	}
	var prog runProgress
	for _, l := range seen {
		if l.Seq <= after {
			prog.advance([]api.RunLogLine{l})
		}
	}
	return h.streamLog(w, r, after, followed{
		lines: func(ctx context.Context, after int64, wait time.Duration) ([]api.JobLogLine, error) {
			return h.prot.RunLog(ctx, run.ID, after, wait)
		},
		status: func(ctx context.Context, lines []api.JobLogLine) (string, string, any, bool, string, error) {
			prog.advance(lines)
			cur, err := h.prot.Run(ctx, run.ID)
			if err != nil {
				return "", "", nil, false, "", err
			}
			st := newRunStatus(cur, prog, h.now())
			key := fmt.Sprintf("%s %d %t", cur.Status, st.P.Step, cur.Stats != nil)
			return key, "runstatus", st, cur.FinishedAt != nil, cur.Status, nil
		},
	})
}
