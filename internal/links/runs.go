package links

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/objstore"
	"github.com/poolctl/poolctl/internal/store"
)

// The steps of each direction, in order. A distribution copies the
// Maildirs once while mail still arrives on the parent, then switches the
// parent's routing (its proxy passes IMAP/POP3 logins, and its Postfix
// transport new mail, to the child, and the account's open sessions are
// ended): from then on nothing lands in the parent's Maildirs, which the
// final copy brings over, so no message is lost. Only once the child is
// verified to hold every message does the parent's copy go.
var (
	distributeSteps = []string{"preconditions", "export", "check", "import", "copy", "copy-in", "switch",
		"final-copy", "final-copy-in", "dns", "verify", "remove-from-parent"}
	dedistributeSteps = []string{"preconditions", "measure", "check", "import", "copy", "copy-in", "switch",
		"final-copy", "final-copy-in", "dns", "verify", "kick"}
	forcedSteps  = []string{"preconditions", "import", "switch", "dns"}
	cleanupSteps = []string{"remove-from-child"}
)

// Directions of runs beside api.DirDistribute and api.DirDedistribute.
const dirCleanup = "cleanup"

var accountRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// runState is the engine's part of a run (store.DistributionRun.State).
type runState struct {
	Token    string             `json:"token"`
	Mail     api.AccountMail    `json:"mail"`
	Bytes    int64              `json:"bytes,omitempty"`
	Messages int                `json:"messages,omitempty"`
	Initial  api.MailPackResult `json:"initial"`
	Final    api.MailPackResult `json:"final"`
	Keep     api.Duration       `json:"keep,omitempty"`
	// Ports are the child's mail ports as its agent reported them at the
	// check step of a distribution.
	Ports *api.MailPorts `json:"ports,omitempty"`
}

type run struct {
	store.DistributionRun
	st runState
}

func (r *run) steps() []string {
	switch {
	case r.Direction == dirCleanup:
		return cleanupSteps
	case r.Direction == api.DirDedistribute && r.Forced:
		return forcedSteps
	case r.Direction == api.DirDedistribute:
		return dedistributeSteps
	}
	return distributeSteps
}

func (r *run) index() int { return slices.Index(r.steps(), r.Step) }

// source is the member the mail leaves, target the one it goes to.
func (r *run) source() string {
	if r.Direction == api.DirDistribute {
		return r.Parent
	}
	return r.Child
}

func (r *run) target() string {
	if r.Direction == api.DirDistribute {
		return r.Child
	}
	return r.Parent
}

func (r *run) job(role string) api.MailJob {
	who := "parent"
	if role == r.Child {
		who = "child"
	}
	return api.MailJob{Link: r.LinkID, Run: r.ID, Token: r.st.Token, Account: r.Account, Role: who}
}

func (r *run) users() []string {
	out := make([]string, 0, len(r.st.Mail.Users))
	for _, u := range r.st.Mail.Users {
		out = append(out, u.Name)
	}
	return out
}

func (r *run) prefix(pass string) string { return fmt.Sprintf("links/runs/%d/%s/", r.ID, pass) }

func loadRun(dr store.DistributionRun) *run {
	r := &run{DistributionRun: dr}
	_ = json.Unmarshal([]byte(dr.State), &r.st)
	return r
}

func (r *run) save() {
	b, _ := json.Marshal(r.st)
	r.State = string(b)
}

func runAPI(r *run) api.DistributionRun {
	return api.DistributionRun{ID: r.ID, Pool: r.Pool, Parent: r.Parent, Child: r.Child, Account: r.Account, Direction: r.Direction,
		Step: r.Step, StepIndex: r.index() + 1, Steps: r.steps(), Status: r.Status, Job: r.JobID, Forced: r.Forced, Error: r.Error,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, FinishedAt: r.FinishedAt}
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// healthy refuses a member whose agent is not reporting.
func (s *Service) healthy(ctx context.Context, pool, member, role string) (api.Member, error) {
	m, err := s.fl.Member(ctx, pool, member)
	if err != nil {
		return m, err
	}
	if m.Status != api.StatusHealthy {
		return m, apperr.New(apperr.Conflict, "the %s %s is %s: its agent must be reporting", role, member, m.Status)
	}
	return m, nil
}

// Distribute starts moving an account's mail from its member (the parent)
// to a linked child. Refusals that need no agent come at once; those the
// agents measure (pipe forwarders, free space, services) fail the run at
// its export or check step, with the reason, before anything is written.
// A distribution left half-done by a failed run is resumed from the step
// that failed.
func (s *Service) Distribute(ctx context.Context, pool, parent, account string, in api.Distribute) (api.DistributionRun, error) {
	if in.Function == "" {
		in.Function = api.FunctionMail
	}
	if in.Function != api.FunctionMail {
		return api.DistributionRun{}, apperr.New(apperr.Invalid, "function %q: only mail is distributed", in.Function)
	}
	if !accountRE.MatchString(account) {
		return api.DistributionRun{}, apperr.New(apperr.Invalid, "account %q: want a lower-case name of at most 32 characters", account)
	}
	if in.Child == "" {
		return api.DistributionRun{}, apperr.New(apperr.Invalid, "name the child to distribute to (--mail CHILD)")
	}
	l, err := s.linkOfChild(ctx, pool, in.Child)
	if err != nil {
		return api.DistributionRun{}, err
	}
	if l.Parent != parent {
		return api.DistributionRun{}, apperr.New(apperr.Conflict, "member %s is the child of %s, not of %s", in.Child, l.Parent, parent)
	}
	if s.cfg.Zones == nil {
		return api.DistributionRun{}, apperr.New(apperr.Unavailable, "this server runs no zones: an account's DNS must be managed by poolctl to distribute it")
	}
	if _, err := s.healthy(ctx, pool, parent, "parent"); err != nil {
		return api.DistributionRun{}, err
	}
	if _, err := s.healthy(ctx, pool, in.Child, "child"); err != nil {
		return api.DistributionRun{}, err
	}
	now := s.now()
	d, err := s.st.GetDistribution(ctx, l.ParentID, l.Function, account)
	if err == nil {
		return s.resume(ctx, l, d, api.DirDistribute)
	}
	if !errors.Is(err, apperr.NotFound) {
		return api.DistributionRun{}, err
	}
	r := &run{DistributionRun: store.DistributionRun{LinkID: l.ID, Pool: pool, Parent: parent, Child: in.Child, Account: account,
		Direction: api.DirDistribute, Step: distributeSteps[0], Status: api.DistRunning}}
	r.st.Token = newToken()
	r.save()
	dist := store.Distribution{Account: account, Token: r.st.Token}
	if err := s.st.StartDistribution(ctx, l, &dist, &r.DistributionRun, now); err != nil {
		return api.DistributionRun{}, err
	}
	s.started(ctx, r)
	return runAPI(r), nil
}

// Dedistribute starts moving an account's mail from its child back to the
// parent. With the child unreachable it refuses unless in.Force, which
// needs in.Confirm to repeat the account's name.
func (s *Service) Dedistribute(ctx context.Context, pool, parent, account string, in api.Dedistribute) (api.DistributionRun, error) {
	if in.Function == "" {
		in.Function = api.FunctionMail
	}
	if in.Function != api.FunctionMail {
		return api.DistributionRun{}, apperr.New(apperr.Invalid, "function %q: only mail is distributed", in.Function)
	}
	if in.Keep < 0 {
		return api.DistributionRun{}, apperr.New(apperr.Invalid, "keep %s: want a positive duration", in.Keep)
	}
	_, pm, err := s.member(ctx, pool, parent)
	if err != nil {
		return api.DistributionRun{}, err
	}
	d, err := s.st.GetDistribution(ctx, pm.ID, in.Function, account)
	if err != nil {
		return api.DistributionRun{}, err
	}
	l, err := s.st.GetLink(ctx, d.LinkID)
	if err != nil {
		return api.DistributionRun{}, err
	}
	if in.Force && in.Confirm != account {
		return api.DistributionRun{}, apperr.New(apperr.Invalid, "--force loses every message that exists only on child %s: repeat the account's name with --confirm %s", l.Child, account)
	}
	if _, err := s.healthy(ctx, pool, parent, "parent"); err != nil {
		return api.DistributionRun{}, err
	}
	if _, err := s.healthy(ctx, pool, l.Child, "child"); err != nil && !in.Force {
		return api.DistributionRun{}, apperr.New(apperr.Conflict, "%s; dedistributing copies the mail back from it. If the child is offline for good or compromised, `--force --confirm %s` points %s back at the parent and loses what exists only on the child",
			apperr.Message(err), account, account)
	}
	if d.State == store.DistDedistributing && !in.Force {
		return s.resume(ctx, l, d, api.DirDedistribute)
	}
	if d.State != store.DistDistributed && !(in.Force && d.State == store.DistDedistributing) {
		return api.DistributionRun{}, apperr.New(apperr.Conflict, "account %s is %s, not distributed", account, d.State)
	}
	if d.State == store.DistDedistributing {
		// Forcing a dedistribution that failed: it may go on only once
		// the failed run is over, which resume checks.
		d.State = store.DistDistributed
		if err := s.st.UpdateDistribution(ctx, &d, s.now()); err != nil {
			return api.DistributionRun{}, err
		}
	}
	mi := readMail(d)
	r := &run{DistributionRun: store.DistributionRun{LinkID: l.ID, Pool: pool, Parent: parent, Child: l.Child, Account: account,
		Direction: api.DirDedistribute, Step: dedistributeSteps[0], Status: api.DistRunning, Forced: in.Force}}
	r.st.Token, r.st.Mail, r.st.Keep = d.Token, mi.Mail, in.Keep
	r.save()
	if err := s.st.StartDedistribution(ctx, d, &r.DistributionRun, s.now()); err != nil {
		return api.DistributionRun{}, err
	}
	s.started(ctx, r)
	return runAPI(r), nil
}

// resume starts a new run of a half-done distribution at the step its last
// run failed at, with that run's state.
func (s *Service) resume(ctx context.Context, l store.Link, d store.Distribution, dir string) (api.DistributionRun, error) {
	want := store.DistDistributing
	if dir == api.DirDedistribute {
		want = store.DistDedistributing
	}
	if d.State != want {
		if dir == api.DirDistribute {
			return api.DistributionRun{}, apperr.New(apperr.Conflict, "account %s already has its %s on child %s (%s): an account uses at most one child per function", d.Account, d.Function, l.Child, d.State)
		}
		return api.DistributionRun{}, apperr.New(apperr.Conflict, "account %s is %s", d.Account, d.State)
	}
	runs, err := s.st.ListDistributionRuns(ctx, false, l.Pool, d.Account, 20)
	if err != nil {
		return api.DistributionRun{}, err
	}
	var last *store.DistributionRun
	for i := range runs {
		if runs[i].DistributionID == d.ID && runs[i].Direction == dir {
			last = &runs[i]
			break
		}
	}
	if last == nil {
		return api.DistributionRun{}, apperr.New(apperr.Conflict, "account %s is %s but has no run to resume", d.Account, d.State)
	}
	if last.FinishedAt == nil {
		return api.DistributionRun{}, apperr.New(apperr.Conflict, "account %s: distribution run %d is under way (`poolctl link run %d --follow`)", d.Account, last.ID, last.ID)
	}
	prev := loadRun(*last)
	r := &run{DistributionRun: store.DistributionRun{LinkID: l.ID, Pool: l.Pool, Parent: l.Parent, Child: l.Child, Account: d.Account,
		Direction: dir, Step: prev.Step, Status: api.DistRunning, Forced: prev.Forced}, st: prev.st}
	r.save()
	if err := s.st.AddDistributionRun(ctx, d.ID, &r.DistributionRun, s.now()); err != nil {
		return api.DistributionRun{}, err
	}
	s.logRun(ctx, r.ID, fmt.Sprintf("resuming run %d at step %s", prev.ID, prev.Step))
	s.started(ctx, r)
	return runAPI(r), nil
}

func (s *Service) started(ctx context.Context, r *run) {
	what := fmt.Sprintf("%s → %s", r.Parent, r.Child)
	if r.Direction == api.DirDedistribute {
		what = fmt.Sprintf("%s → %s", r.Child, r.Parent)
	}
	if r.Forced {
		what += ", forced with the child unreachable"
	}
	s.logRun(ctx, r.ID, fmt.Sprintf("%s of account %s's mail (%s), %d steps: %v", r.Direction, r.Account, what, len(r.steps()), r.steps()))
	s.emit(ctx, KindRunStarted, r.Pool, r.Parent, fmt.Sprintf("%s run %d of account %s's mail started (%s)", r.Direction, r.ID, r.Account, what),
		map[string]any{"run": r.ID, "account": r.Account, "direction": r.Direction, "child": r.Child})
	s.poke()
}

// Run returns one run.
func (s *Service) Run(ctx context.Context, id int64) (api.DistributionRun, error) {
	dr, err := s.st.GetDistributionRun(ctx, id)
	if err != nil {
		return api.DistributionRun{}, err
	}
	return runAPI(loadRun(dr)), nil
}

// Runs lists the runs of a pool's account ("" for every account), newest
// first.
func (s *Service) Runs(ctx context.Context, pool, account string, limit int) ([]api.DistributionRun, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rs, err := s.st.ListDistributionRuns(ctx, false, pool, account, limit)
	if err != nil {
		return nil, err
	}
	out := make([]api.DistributionRun, 0, len(rs))
	for _, r := range rs {
		out = append(out, runAPI(loadRun(r)))
	}
	return out, nil
}

func (s *Service) logRun(ctx context.Context, runID int64, lines ...string) {
	now := s.now()
	ls := make([]api.RunLogLine, len(lines))
	for i, l := range lines {
		ls[i] = api.RunLogLine{Time: now, Line: l}
	}
	s.appendLog(ctx, runID, ls)
}

func (s *Service) appendLog(ctx context.Context, runID int64, ls []api.RunLogLine) {
	if err := s.st.AppendDistributionLog(ctx, runID, ls); err != nil {
		s.log.Warn("append distribution log", "run", runID, "err", err)
	}
	s.notify()
}

func (s *Service) notify() {
	s.mu.Lock()
	close(s.logWake)
	s.logWake = make(chan struct{})
	s.mu.Unlock()
}

// RunLog returns a run's log after seq; with wait it waits for lines while
// the run has not ended. An unknown run is NotFound.
func (s *Service) RunLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.RunLogLine, error) {
	if wait > time.Minute {
		wait = time.Minute
	}
	if _, err := s.st.GetDistributionRun(ctx, id); err != nil {
		return nil, err // an unknown run is NotFound, waiting or not
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		s.mu.Lock()
		woken := s.logWake
		s.mu.Unlock()
		ls, err := s.st.DistributionLog(ctx, id, after, 0)
		if err != nil || len(ls) > 0 || wait <= 0 {
			return ls, err
		}
		r, err := s.st.GetDistributionRun(ctx, id)
		if err != nil || r.FinishedAt != nil {
			return nil, err
		}
		select {
		case <-woken:
		case <-t.C:
			return nil, nil
		case <-ctx.Done():
			return nil, nil
		}
	}
}

// Start runs the engine until ctx ends.
func (s *Service) Start(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		if s.cfg.Leading() {
			s.Step(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// Step is one pass of the engine: every run in progress moves as far as it
// can, and retained copies past their time are deleted.
func (s *Service) Step(ctx context.Context) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	s.expireRetained(ctx)
	runs, err := s.st.ListDistributionRuns(ctx, true, "", "", 0)
	if err != nil {
		s.log.Warn("list distribution runs", "err", err)
		return
	}
	for _, dr := range runs {
		r := loadRun(dr)
		// A run moves through its server-side steps and the steps whose
		// job ended in one pass (two moves per job step: queue, then
		// read its end); it stops at a job in flight.
		for range 2*len(r.steps()) + 2 {
			moved, err := s.advance(ctx, r)
			if err != nil {
				if !errors.Is(err, store.ErrDistRunEnded) {
					s.log.Warn("distribution run", "run", r.ID, "err", err)
				}
				break
			}
			if !moved || r.FinishedAt != nil {
				break
			}
		}
	}
}

// expireRetained starts the deletion of the copies children kept after a
// dedistribution, once their time is up.
func (s *Service) expireRetained(ctx context.Context) {
	ds, err := s.st.ListDistributions(ctx, 0)
	if err != nil {
		s.log.Warn("list distributions", "err", err)
		return
	}
	now := s.now()
	for _, d := range ds {
		if d.State != store.DistRetained || d.KeepUntil == nil || now.Before(*d.KeepUntil) {
			continue
		}
		l, err := s.st.GetLink(ctx, d.LinkID)
		if err != nil {
			continue
		}
		r := &run{DistributionRun: store.DistributionRun{LinkID: l.ID, Pool: l.Pool, Parent: l.Parent, Child: l.Child, Account: d.Account,
			Direction: dirCleanup, Step: cleanupSteps[0], Status: api.DistRunning}}
		r.st.Token, r.st.Mail = d.Token, readMail(d).Mail
		r.save()
		if err := s.st.AddDistributionRun(ctx, d.ID, &r.DistributionRun, now); err != nil {
			continue // one is under way
		}
		s.logRun(ctx, r.ID, fmt.Sprintf("the copy %s kept of account %s since its dedistribution is due for deletion", l.Child, d.Account))
	}
}

// save writes the run; the caller's copy stays current.
func (s *Service) saveRun(ctx context.Context, r *run) error {
	r.save()
	err := s.st.UpdateDistributionRun(ctx, &r.DistributionRun, s.now())
	s.notify()
	return err
}

// next moves the run to its next step, or finishes it after the last.
func (s *Service) next(ctx context.Context, r *run) error {
	i := r.index()
	if i+1 >= len(r.steps()) {
		return s.succeed(ctx, r)
	}
	r.Step, r.JobID, r.LogCursor = r.steps()[i+1], 0, 0
	s.logRun(ctx, r.ID, fmt.Sprintf("step %d/%d: %s", i+2, len(r.steps()), r.Step))
	return s.saveRun(ctx, r)
}

// fail ends the run with msg. A distribution refused before anything was
// written on the child is forgotten (and a dedistribution refused before
// anything was written on the parent stays distributed); one that failed
// later stays half-done, and running the command again resumes it.
func (s *Service) fail(ctx context.Context, r *run, msg string) error {
	now := s.now()
	r.Status, r.Error, r.FinishedAt = api.DistFailed, msg, &now
	s.logRun(ctx, r.ID, "failed: "+msg)
	if err := s.saveRun(ctx, r); err != nil {
		return err
	}
	s.cleanObjects(ctx, r)
	refused := r.index() < slices.Index(r.steps(), "import")
	kind := KindRunFailed
	switch {
	case refused && r.Direction == api.DirDistribute:
		kind = KindRunRefused
		if err := s.st.DeleteDistribution(ctx, r.DistributionID); err != nil {
			return err
		}
	case refused && r.Direction == api.DirDedistribute:
		kind = KindRunRefused
		if d, err := s.st.GetDistributionByID(ctx, r.DistributionID); err == nil {
			d.State = store.DistDistributed
			if err := s.st.UpdateDistribution(ctx, &d, now); err != nil {
				return err
			}
		}
	}
	what := "failed"
	if kind == KindRunRefused {
		what = "refused"
	} else if r.Direction != dirCleanup {
		what += fmt.Sprintf(" at step %s (run `poolctl account %s %s %s %s --mail` again to resume)", r.Step, r.Direction, r.Pool, r.Parent, r.Account)
	}
	s.emit(ctx, kind, r.Pool, r.Parent, fmt.Sprintf("%s run %d of account %s's mail %s: %s", r.Direction, r.ID, r.Account, what, msg),
		map[string]any{"run": r.ID, "account": r.Account, "step": r.Step, "child": r.Child})
	return nil
}

func (s *Service) cleanObjects(ctx context.Context, r *run) {
	if s.cfg.Objects == nil {
		return
	}
	prefix := fmt.Sprintf("links/runs/%d/", r.ID)
	var keys []string
	_ = s.cfg.Objects.List(ctx, prefix, func(o objstore.Info) error { keys = append(keys, o.Key); return nil })
	for _, k := range keys {
		if err := s.cfg.Objects.Delete(ctx, k); err != nil {
			s.log.Warn("delete object", "key", k, "err", err)
		}
	}
}
