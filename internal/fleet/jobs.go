package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

var jobKindRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$`)

// ShellKind is the job kind that runs a shell command; it is refused unless
// the operator enabled it on the member.
const ShellKind = "shell.exec"

// OnJobEnd registers fn to be called (synchronously, so it must be quick)
// when a job ends: reported by its agent, cancelled, or failed because its
// agent went away. Engines that wait on jobs use it to act at once.
func (s *Service) OnJobEnd(fn func(api.Job)) {
	s.mu.Lock()
	s.jobEnded = append(s.jobEnded, fn)
	s.mu.Unlock()
}

func (s *Service) jobEnd(j api.Job) {
	s.mu.Lock()
	fns := s.jobEnded
	s.mu.Unlock()
	for _, fn := range fns {
		fn(j)
	}
}

// EnqueueJob queues a job for a member of a pool.
func (s *Service) EnqueueJob(ctx context.Context, pool, member string, in api.JobCreate) (api.Job, error) {
	if !jobKindRE.MatchString(in.Kind) || len(in.Kind) > 64 {
		return api.Job{}, apperr.New(apperr.Invalid, "job kind %q is invalid: want dotted lower-case words like facts.refresh", in.Kind)
	}
	if len(in.Args) > 0 {
		var obj map[string]any
		if err := json.Unmarshal(in.Args, &obj); err != nil {
			return api.Job{}, apperr.New(apperr.Invalid, "job args must be a JSON object")
		}
	}
	if in.MaxAttempts == 0 {
		in.MaxAttempts = 3
	}
	if in.MaxAttempts < 1 || in.MaxAttempts > 20 {
		return api.Job{}, apperr.New(apperr.Invalid, "max_attempts %d out of range 1–20", in.MaxAttempts)
	}
	_, m, err := s.member(ctx, pool, member)
	if err != nil {
		return api.Job{}, err
	}
	if in.Kind == ShellKind && !m.ShellEnabled {
		return api.Job{}, apperr.New(apperr.Forbidden, "shell.exec is disabled on member %s; enable it with `poolctl member update %s %s --shell-enabled`", m.Name, pool, m.Name)
	}
	j := store.Job{MemberID: m.ID}
	j.Kind, j.Args, j.MaxAttempts = in.Kind, in.Args, in.MaxAttempts
	if err := s.st.CreateJob(ctx, &j, s.now()); err != nil {
		return api.Job{}, err
	}
	j.Pool, j.Member = pool, member
	s.wakeJobs(m.ID)
	s.Emit(ctx, api.Event{Kind: "job.queued", Pool: pool, Member: member, Message: fmt.Sprintf("job %d (%s) queued", j.ID, j.Kind),
		Data: mustJSON(map[string]any{"job": j.ID, "kind": j.Kind})})
	return j.Job, nil
}

func (s *Service) wakeJobs(memberID int64) {
	s.mu.Lock()
	if ch, ok := s.jobWake[memberID]; ok {
		close(ch)
		delete(s.jobWake, memberID)
	}
	if l := s.live[memberID]; l != nil {
		l.jobsPending++
	}
	s.mu.Unlock()
}

func (s *Service) jobWaiter(memberID int64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.jobWake[memberID]
	if !ok {
		ch = make(chan struct{})
		s.jobWake[memberID] = ch
	}
	return ch
}

// NextJob hands agent a its next job, waiting up to wait for one to be
// queued. It returns nil when none came.
func (s *Service) NextJob(ctx context.Context, a Agent, wait time.Duration) (*api.Job, error) {
	if wait > 60*time.Second {
		wait = 60 * time.Second
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		woken := s.jobWaiter(a.MemberID)
		j, err := s.claimJob(ctx, a.MemberID)
		if err != nil {
			return nil, err
		}
		if j != nil {
			s.mu.Lock()
			if l := s.live[a.MemberID]; l != nil && l.jobsPending > 0 {
				l.jobsPending--
			}
			s.mu.Unlock()
			s.Emit(ctx, api.Event{Kind: "job.started", Pool: a.Pool, Member: a.Member,
				Message: fmt.Sprintf("job %d (%s) started, attempt %d of %d", j.ID, j.Kind, j.Attempts, j.MaxAttempts),
				Data:    mustJSON(map[string]any{"job": j.ID, "kind": j.Kind})})
			return &j.Job, nil
		}
		// Poll too: a job may have been queued through another replica.
		poll := time.NewTimer(2 * time.Second)
		select {
		case <-ctx.Done():
			poll.Stop()
			return nil, ctx.Err()
		case <-deadline.C:
			poll.Stop()
			return nil, nil
		case <-woken:
		case <-poll.C:
		}
		poll.Stop()
		s.mu.Lock()
		_, alive := s.live[a.MemberID]
		s.mu.Unlock()
		if !alive {
			return nil, apperr.New(apperr.Gone, "member %s was removed; this agent must stop", a.Member)
		}
	}
}

// AppendJobLog stores log lines an agent streams for a running job.
func (s *Service) AppendJobLog(ctx context.Context, a Agent, id int64, in api.JobLogAppend) error {
	if len(in.Lines) > 1000 {
		return apperr.New(apperr.Invalid, "at most 1000 log lines per request")
	}
	for i, l := range in.Lines {
		if len(l) > 8192 {
			in.Lines[i] = l[:8192] + "…"
		}
	}
	now := s.now()
	if err := s.st.AppendJobLog(ctx, id, a.MemberID, in.Lines, now.Add(DefaultJobLease), now); err != nil {
		return err
	}
	s.events.notify() // wakes log followers too
	return nil
}

// FinishJob records the result an agent reports.
func (s *Service) FinishJob(ctx context.Context, a Agent, id int64, in api.JobResult) error {
	if len(in.Error) > 8192 {
		in.Error = in.Error[:8192]
	}
	if len(in.Result) > 0 && !json.Valid(in.Result) {
		return apperr.New(apperr.Invalid, "job result is not valid JSON")
	}
	j, err := s.st.FinishJob(ctx, id, a.MemberID, in.OK, in.Result, in.Error, s.now())
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("job %d (%s) %s", j.ID, j.Kind, j.Status)
	if j.Error != "" {
		msg += ": " + j.Error
	}
	s.Emit(ctx, api.Event{Kind: "job." + j.Status, Pool: a.Pool, Member: a.Member, Message: msg,
		Data: mustJSON(map[string]any{"job": j.ID, "kind": j.Kind})})
	s.jobEnd(j.Job)
	return nil
}

// Job returns one job.
func (s *Service) Job(ctx context.Context, id int64) (api.Job, error) {
	j, err := s.st.GetJob(ctx, id)
	return j.Job, err
}

// CancelJob cancels a job that has not ended.
func (s *Service) CancelJob(ctx context.Context, id int64) (api.Job, error) {
	j, err := s.st.CancelJob(ctx, id, s.now())
	if err != nil {
		return j.Job, err
	}
	s.Emit(ctx, api.Event{Kind: "job.cancelled", Pool: j.Pool, Member: j.Member, Message: fmt.Sprintf("job %d (%s) cancelled", j.ID, j.Kind)})
	s.jobEnd(j.Job)
	return j.Job, nil
}

// ListJobs lists a member's jobs, newest first.
func (s *Service) ListJobs(ctx context.Context, pool, member string) ([]api.Job, error) {
	_, m, err := s.member(ctx, pool, member)
	if err != nil {
		return nil, err
	}
	js, err := s.st.ListJobs(ctx, m.ID, 100)
	out := make([]api.Job, 0, len(js))
	for _, j := range js {
		out = append(out, j.Job)
	}
	return out, err
}

// JobLog returns a job's log lines after seq; with wait, it waits for new
// lines while the job has not ended.
func (s *Service) JobLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.JobLogLine, error) {
	if wait > time.Minute {
		wait = time.Minute
	}
	deadline := s.now().Add(wait)
	for {
		changed := s.events.wait()
		lines, err := s.st.JobLog(ctx, id, after, 0)
		if err != nil || len(lines) > 0 || wait <= 0 {
			return lines, err
		}
		j, err := s.st.GetJob(ctx, id)
		if err != nil {
			return nil, err
		}
		if j.FinishedAt != nil || s.now().After(deadline) {
			return []api.JobLogLine{}, nil
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// lostJobGrace is how long a claimed job may be missing from its agent's
// heartbeats before it counts as lost.
const lostJobGrace = 10 * time.Second

func (s *Service) expireLeases(ctx context.Context) {
	jobs, err := s.st.ExpireLeases(ctx, s.now())
	if err != nil {
		s.log.Warn("expire job leases", "err", err)
		return
	}
	s.reportExpired(ctx, jobs, "lease expired")
}

// reportExpired wakes the agents of requeued jobs and records what happened
// to each job taken back from an agent.
func (s *Service) reportExpired(ctx context.Context, jobs []store.Job, why string) {
	for _, j := range jobs {
		if j.Status == api.JobQueued {
			s.wakeJobs(j.MemberID)
			s.Emit(ctx, api.Event{Kind: "job.requeued", Pool: j.Pool, Member: j.Member,
				Message: fmt.Sprintf("job %d (%s) %s; requeued (attempt %d of %d done)", j.ID, j.Kind, why, j.Attempts, j.MaxAttempts)})
		} else {
			s.Emit(ctx, api.Event{Kind: "job.failed", Pool: j.Pool, Member: j.Member,
				Message: fmt.Sprintf("job %d (%s) failed: %s", j.ID, j.Kind, j.Error)})
			s.jobEnd(j.Job)
		}
	}
}

// RunInternal queues a job for a member without an event (the engines'
// own short-lived jobs, such as witness probes) and waits until it ends or
// ctx does; an unfinished job is cancelled then.
func (s *Service) RunInternal(ctx context.Context, memberID int64, kind string, args any) (api.Job, error) {
	raw, err := json.Marshal(args)
	if err != nil {
		return api.Job{}, err
	}
	j := store.Job{MemberID: memberID}
	j.Kind, j.Args, j.MaxAttempts = kind, raw, 1
	if err := s.st.CreateJob(context.WithoutCancel(ctx), &j, s.now()); err != nil {
		return api.Job{}, err
	}
	s.wakeJobs(memberID)
	for {
		cur, err := s.st.GetJob(context.WithoutCancel(ctx), j.ID)
		if err != nil {
			return api.Job{}, err
		}
		if cur.FinishedAt != nil {
			return cur.Job, nil
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			_, _ = s.st.CancelJob(context.WithoutCancel(ctx), j.ID, s.now())
			return cur.Job, ctx.Err()
		case <-t.C:
		}
	}
}
