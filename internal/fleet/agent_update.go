package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// Agent updates: `member update-agent` queues one agent.update job (the
// agent's side is internal/agent/update.go); `pool update-agents` is a
// rollout that updates a pool's members one at a time, each waited for
// until it heartbeats on the new version, and stops at the first failure.
// Rollouts live in the store, so a restarted server resumes them.

// Rollback bounds: the watchdog on the agent waits this long for the new
// binary's first heartbeat before it restores the old one.
const (
	minRollbackAfter = 10 * time.Second
	maxRollbackAfter = 10 * time.Minute
	// rolloutGrace is added to the rollback wait before a rollout gives up
	// on a member whose update job neither succeeded nor failed.
	rolloutGrace = 5 * time.Minute
)

// BinaryFinder returns the agent binary the server offers for a platform
// (GOOS, GOARCH): release.Catalog's Find.
type BinaryFinder func(goos, goarch string) (api.AgentBinary, bool)

// SetReleases gives the service the agent binaries it offers.
func (s *Service) SetReleases(find BinaryFinder) { s.findBinary = find }

// goArch maps the machine name an agent reports (uname -m) to GOARCH.
func goArch(machine string) string {
	switch machine {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64", "armv8l":
		return "arm64"
	case "i386", "i486", "i586", "i686", "386":
		return "386"
	case "armv6l", "armv7l", "arm":
		return "arm"
	}
	return machine // riscv64, ppc64le, s390x, loong64, mips64le name themselves
}

func checkRollbackAfter(in api.AgentUpdate) error {
	if d := in.RollbackAfter.D(); d != 0 && (d < minRollbackAfter || d > maxRollbackAfter) {
		return apperr.New(apperr.Invalid, "rollback_after %s out of range %s–%s", d, minRollbackAfter, maxRollbackAfter)
	}
	return nil
}

// updateArgs is the agent.update job for a member: the binary for its
// platform. errUpToDate (wrapped in a Conflict) when the member runs it.
func (s *Service) updateArgs(m store.Member, in api.AgentUpdate) (api.AgentUpdateArgs, error) {
	if s.findBinary == nil {
		return api.AgentUpdateArgs{}, apperr.New(apperr.Unavailable, "this server offers no agent binaries")
	}
	if !m.Enrolled {
		return api.AgentUpdateArgs{}, apperr.New(apperr.Conflict, "member %s has no agent yet (enrol one first)", m.Name)
	}
	goos, arch := m.Facts.OS, goArch(m.Facts.Arch)
	if goos == "" || arch == "" {
		return api.AgentUpdateArgs{}, apperr.New(apperr.Conflict, "the agent of member %s has not reported its platform yet; wait for its first heartbeat", m.Name)
	}
	b, ok := s.findBinary(goos, arch)
	if !ok {
		return api.AgentUpdateArgs{}, apperr.New(apperr.Conflict, "this server offers no agent binary for %s/%s (member %s); add poolctl-%s-%s to --agent-binaries", goos, arch, m.Name, goos, arch)
	}
	if b.Signature == "" {
		return api.AgentUpdateArgs{}, apperr.New(apperr.Conflict, "the %s/%s agent binary is not signed and agents refuse unsigned updates: see the server's log (a replica whose --master-key-file differs from the others' cannot sign; with --release-public-key every binary needs its .sig)", goos, arch)
	}
	if _, ok := ParseVersion(b.Version); !ok {
		return api.AgentUpdateArgs{}, apperr.New(apperr.Conflict, "the version of the %s/%s agent binary is unknown (%q); give it a poolctl-%s-%s.version file", goos, arch, b.Version, goos, arch)
	}
	if m.AgentVersion == b.Version && !in.Force {
		return api.AgentUpdateArgs{}, apperr.Wrap(apperr.Conflict, errUpToDate, "member %s runs poolctl %s already (--force queues the update anyway)", m.Name, b.Version)
	}
	return api.AgentUpdateArgs{Version: b.Version, OS: b.OS, Arch: b.Arch, SHA256: b.SHA256, Size: b.Size,
		Signature: b.Signature, Path: b.URL, RollbackAfter: in.RollbackAfter}, nil
}

var errUpToDate = errors.New("up to date")

// queueUpdate creates a member's agent.update job, unless one is queued or
// running already.
func (s *Service) queueUpdate(ctx context.Context, pool string, m store.Member, args api.AgentUpdateArgs) (api.Job, error) {
	js, err := s.st.ListJobs(ctx, m.ID, 20)
	if err != nil {
		return api.Job{}, err
	}
	for _, j := range js {
		if j.Kind == api.AgentUpdateKind && j.FinishedAt == nil {
			return api.Job{}, apperr.New(apperr.Conflict, "member %s has an agent update under way already (job %d, %s)", m.Name, j.ID, j.Status)
		}
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return api.Job{}, err
	}
	j := store.Job{MemberID: m.ID}
	// One attempt: a retry after a rollback would loop.
	j.Kind, j.Args, j.MaxAttempts = api.AgentUpdateKind, raw, 1
	if err := s.st.CreateJob(ctx, &j, s.now()); err != nil {
		return api.Job{}, err
	}
	j.Pool, j.Member = pool, m.Name
	s.wakeJobs(m.ID)
	s.Emit(ctx, api.Event{Kind: "agent.update_queued", Pool: pool, Member: m.Name,
		Message: fmt.Sprintf("agent update of member %s from %s to %s queued (job %d)", m.Name, orUnknown(m.AgentVersion), args.Version, j.ID),
		Data:    mustJSON(map[string]any{"job": j.ID, "from": m.AgentVersion, "to": args.Version})})
	return j.Job, nil
}

func orUnknown(v string) string {
	if v == "" {
		return "an unknown version"
	}
	return v
}

// UpdateAgent queues the update of one member's agent to the binary the
// server offers for its platform.
func (s *Service) UpdateAgent(ctx context.Context, pool, member string, in api.AgentUpdate) (api.Job, error) {
	if err := checkRollbackAfter(in); err != nil {
		return api.Job{}, err
	}
	_, m, err := s.member(ctx, pool, member)
	if err != nil {
		return api.Job{}, err
	}
	args, err := s.updateArgs(m, in)
	if err != nil {
		return api.Job{}, err
	}
	return s.queueUpdate(ctx, pool, m, args)
}

// StartRollout starts updating a pool's agents one member at a time:
// standbys first, the active member last, so the pool's service moves
// least. Members already on the offered version are skipped.
func (s *Service) StartRollout(ctx context.Context, pool string, in api.AgentUpdate) (api.Rollout, error) {
	if err := checkRollbackAfter(in); err != nil {
		return api.Rollout{}, err
	}
	if s.findBinary == nil {
		return api.Rollout{}, apperr.New(apperr.Unavailable, "this server offers no agent binaries")
	}
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return api.Rollout{}, err
	}
	ms, err := s.st.ListMembers(ctx, p.ID)
	if err != nil {
		return api.Rollout{}, err
	}
	r := store.Rollout{PoolID: p.ID, RollbackAfter: in.RollbackAfter.D()}
	r.Pool = pool
	var active []store.RolloutStep
	for _, m := range ms {
		st := store.RolloutStep{MemberID: m.ID}
		st.Member, st.From, st.Status = m.Name, m.AgentVersion, api.RolloutMemberPending
		args, err := s.updateArgs(m, in)
		switch {
		case errors.Is(err, errUpToDate):
			st.Status, st.Note = api.RolloutMemberSkipped, "runs "+m.AgentVersion+" already"
		case err != nil:
			st.Status, st.Note = api.RolloutMemberSkipped, apperr.Message(err)
		case r.Version == "" || r.Version == args.Version:
			r.Version = args.Version
		default:
			// Members of different platforms may get binaries of different
			// versions; the rollout names the first and each step its own.
			st.Note = "offered " + args.Version
		}
		if m.ID == p.ActiveMemberID {
			active = append(active, st)
			continue
		}
		r.Steps = append(r.Steps, st)
	}
	r.Steps = append(r.Steps, active...)
	if r.Version == "" {
		return api.Rollout{}, apperr.New(apperr.Conflict, "no member of pool %s needs an update: %s", pool, skippedNotes(r.Steps))
	}
	r.Message = fmt.Sprintf("updating %d member(s) to %s, one at a time", countSteps(r.Steps, api.RolloutMemberPending), r.Version)
	if err := s.st.CreateRollout(ctx, &r, s.now()); err != nil {
		return api.Rollout{}, err
	}
	s.Emit(ctx, api.Event{Kind: "agent.rollout_started", Pool: pool, Message: "agent rollout in pool " + pool + ": " + r.Message,
		Data: mustJSON(map[string]any{"rollout": r.ID, "version": r.Version})})
	s.wakeRollouts()
	return s.Rollout(ctx, pool)
}

// countSteps counts the steps in status.
func countSteps(steps []store.RolloutStep, status string) int {
	n := 0
	for _, st := range steps {
		if st.Status == status {
			n++
		}
	}
	return n
}

func skippedNotes(steps []store.RolloutStep) string {
	out := ""
	for i, st := range steps {
		if i > 0 {
			out += "; "
		}
		out += st.Member + " " + st.Note
	}
	if out == "" {
		return "it has no members"
	}
	return out
}

// Rollout returns a pool's latest agent rollout.
func (s *Service) Rollout(ctx context.Context, pool string) (api.Rollout, error) {
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return api.Rollout{}, err
	}
	r, err := s.st.LatestRollout(ctx, p.ID)
	if err != nil {
		return api.Rollout{}, apperr.Wrap(apperr.NotFound, err, "pool %s", pool)
	}
	return r.Rollout, nil
}

// CancelRollout stops a pool's running rollout: members not started are
// skipped; the member being updated finishes (or rolls back) by itself.
func (s *Service) CancelRollout(ctx context.Context, pool string) (api.Rollout, error) {
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return api.Rollout{}, err
	}
	r, err := s.st.LatestRollout(ctx, p.ID)
	if err != nil {
		return api.Rollout{}, apperr.Wrap(apperr.NotFound, err, "pool %s", pool)
	}
	if r.Status != api.RolloutRunning {
		return api.Rollout{}, apperr.New(apperr.Conflict, "the latest agent rollout of pool %s is %s, not running", pool, r.Status)
	}
	for i := range r.Steps {
		if r.Steps[i].Status == api.RolloutMemberPending {
			r.Steps[i].Status, r.Steps[i].Note = api.RolloutMemberSkipped, "rollout cancelled"
		}
	}
	s.finishRollout(ctx, &r, api.RolloutCancelled, "cancelled by an operator")
	if err := s.st.SaveRollout(ctx, &r, s.now()); err != nil {
		return api.Rollout{}, err
	}
	return s.Rollout(ctx, pool)
}

func (s *Service) finishRollout(ctx context.Context, r *store.Rollout, status, msg string) {
	now := s.now().UTC()
	r.Status, r.Message, r.FinishedAt = status, msg, &now
	s.Emit(ctx, api.Event{Kind: "agent.rollout_" + status, Pool: r.Pool,
		Message: fmt.Sprintf("agent rollout in pool %s %s: %s", r.Pool, status, msg),
		Data:    mustJSON(map[string]any{"rollout": r.ID, "version": r.Version})})
}

// wakeRollouts makes Run step the rollouts now rather than at its next tick.
func (s *Service) wakeRollouts() {
	select {
	case s.rolloutWake <- struct{}{}:
	default:
	}
}

// stepRollouts advances every running rollout by what happened since the
// last call. Only the leading replica steps them.
func (s *Service) stepRollouts(ctx context.Context) {
	if s.leader != nil && !s.leader() {
		return
	}
	rs, err := s.st.RunningRollouts(ctx)
	if err != nil {
		s.log.Warn("list agent rollouts", "err", err)
		return
	}
	for i := range rs {
		r := &rs[i]
		before := r.UpdatedAt
		if err := s.stepRollout(ctx, r); err != nil {
			s.log.Warn("agent rollout", "pool", r.Pool, "rollout", r.ID, "err", err)
			continue
		}
		if !r.UpdatedAt.Equal(before) {
			if err := s.st.SaveRollout(ctx, r, s.now()); err != nil {
				s.log.Warn("save agent rollout", "pool", r.Pool, "rollout", r.ID, "err", err)
			}
		}
	}
}

// stepRollout advances one rollout; it sets r.UpdatedAt when r changed.
func (s *Service) stepRollout(ctx context.Context, r *store.Rollout) error {
	now := s.now()
	changed := func() { r.UpdatedAt = now.UTC() }
	for i := range r.Steps {
		st := &r.Steps[i]
		switch st.Status {
		case api.RolloutMemberDone, api.RolloutMemberSkipped, api.RolloutMemberFailed:
			continue
		case api.RolloutMemberUpdating:
			j, err := s.st.GetJob(ctx, st.Job)
			if err != nil {
				return err
			}
			switch j.Status {
			case api.JobSucceeded:
				st.Status = api.RolloutMemberDone
				changed()
				continue
			case api.JobFailed, api.JobCancelled:
				st.Status, st.Note = api.RolloutMemberFailed, j.Error
				s.skipRest(r, i)
				s.finishRollout(ctx, r, api.RolloutFailed, fmt.Sprintf("member %s: %s; the members after it were not updated", st.Member, orStatus(j.Error, j.Status)))
				changed()
				return nil
			}
			wait := r.RollbackAfter
			if wait <= 0 {
				wait = time.Minute
			}
			if r.StepStartedAt != nil && now.Sub(*r.StepStartedAt) > wait+rolloutGrace {
				st.Status, st.Note = api.RolloutMemberFailed, fmt.Sprintf("job %d did not end within %s", j.ID, wait+rolloutGrace)
				s.skipRest(r, i)
				s.finishRollout(ctx, r, api.RolloutFailed, fmt.Sprintf("member %s: its update did not finish; the members after it were not updated", st.Member))
				changed()
			}
			return nil
		case api.RolloutMemberPending:
			m, err := s.st.GetMemberByID(ctx, st.MemberID)
			if err != nil {
				return err
			}
			in := api.AgentUpdate{RollbackAfter: api.Duration(r.RollbackAfter)}
			args, err := s.updateArgs(m, in)
			if err != nil {
				st.Status, st.Note = api.RolloutMemberSkipped, apperr.Message(err)
				changed()
				continue
			}
			if m.Status == api.StatusDown || m.Status == api.StatusPending {
				st.Status, st.Note = api.RolloutMemberSkipped, "member is "+m.Status+"; update it when it is back"
				changed()
				continue
			}
			j, err := s.queueUpdate(ctx, r.Pool, m, args)
			if err != nil {
				st.Status, st.Note = api.RolloutMemberFailed, apperr.Message(err)
				s.skipRest(r, i)
				s.finishRollout(ctx, r, api.RolloutFailed, fmt.Sprintf("member %s: %s", st.Member, apperr.Message(err)))
				changed()
				return nil
			}
			st.Status, st.Job, st.From = api.RolloutMemberUpdating, j.ID, m.AgentVersion
			t := now.UTC()
			r.StepStartedAt = &t
			changed()
			return nil
		}
	}
	// Every step ended without a failure (a failure returns above).
	s.finishRollout(ctx, r, api.RolloutSucceeded, fmt.Sprintf("%d member(s) updated to %s, %d skipped", countSteps(r.Steps, api.RolloutMemberDone), r.Version, len(r.Steps)-countSteps(r.Steps, api.RolloutMemberDone)))
	changed()
	return nil
}

func (s *Service) skipRest(r *store.Rollout, after int) {
	for k := after + 1; k < len(r.Steps); k++ {
		if r.Steps[k].Status == api.RolloutMemberPending {
			r.Steps[k].Status, r.Steps[k].Note = api.RolloutMemberSkipped, "rollout stopped at "+r.Steps[after].Member
		}
	}
}

func orStatus(msg, status string) string {
	if msg == "" {
		return "job " + status
	}
	return msg
}
