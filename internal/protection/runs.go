package protection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/objstore"
	"github.com/poolctl/poolctl/internal/store"
)

// Trigger kinds of runs.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
)

// jobAttempts lets a job survive its agent's restart: an agent killed
// mid-job loses its lease and the job is handed out again.
const jobAttempts = 3

// RunNow queues a run of a protection at once. It is a Conflict while a
// run has not ended, and while the account's DNS points away from its
// source (the run would overwrite the copy that serves).
func (s *Service) RunNow(ctx context.Context, pool, account string) (api.Run, error) {
	pr, err := s.protection(ctx, pool, account)
	if err != nil {
		return api.Run{}, err
	}
	if err := blocked(pr); err != nil {
		return api.Run{}, err
	}
	r, err := s.queue(ctx, pr, TriggerManual)
	return r.Run, err
}

func (s *Service) queue(ctx context.Context, pr store.Protection, trigger string) (store.Run, error) {
	r := store.Run{}
	r.Protection, r.Trigger = pr.ID, trigger
	if err := s.st.CreateRun(ctx, &r, s.now()); err != nil {
		return r, err
	}
	who := "by an operator"
	if trigger == TriggerSchedule {
		who = "by schedule " + pr.Schedule
	}
	s.logRun(ctx, r.ID, fmt.Sprintf("run %d of account %s queued %s (%s → %s)", r.ID, pr.Account, who, pr.Source, pr.Standby))
	s.emit(ctx, KindRunQueued, pr.Pool, pr.Source, fmt.Sprintf("replication run %d of account %s queued %s", r.ID, pr.Account, who),
		map[string]any{"protection": pr.ID, "run": r.ID, "account": pr.Account})
	s.poke()
	return r, nil
}

// Runs lists a protection's newest runs first.
func (s *Service) Runs(ctx context.Context, pool, account string, limit int) ([]api.Run, error) {
	pr, err := s.protection(ctx, pool, account)
	if err != nil {
		return nil, err
	}
	rows, err := s.st.ListRuns(ctx, pr.ID, limit)
	out := make([]api.Run, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.Run)
	}
	return out, err
}

// Run shows one run.
func (s *Service) Run(ctx context.Context, id int64) (api.Run, error) {
	r, err := s.st.GetRun(ctx, id)
	return r.Run, err
}

// logRun appends engine lines to a run's log and wakes its followers.
func (s *Service) logRun(ctx context.Context, runID int64, lines ...string) {
	now := s.now()
	ls := make([]api.RunLogLine, len(lines))
	for i, l := range lines {
		ls[i] = api.RunLogLine{Time: now, Line: l}
	}
	s.appendLog(ctx, runID, ls)
}

func (s *Service) appendLog(ctx context.Context, runID int64, ls []api.RunLogLine) {
	if err := s.st.AppendRunLog(context.WithoutCancel(ctx), runID, ls); err != nil {
		s.log.Warn("append run log", "run", runID, "err", err)
		return
	}
	s.mu.Lock()
	close(s.logWake)
	s.logWake = make(chan struct{})
	s.mu.Unlock()
}

// RunLog returns a run's log after seq; with wait, it waits for new lines
// while the run has not ended.
func (s *Service) RunLog(ctx context.Context, id, after int64, wait time.Duration) ([]api.RunLogLine, error) {
	if wait > time.Minute {
		wait = time.Minute
	}
	deadline := s.now().Add(wait)
	for {
		s.mu.Lock()
		changed := s.logWake
		s.mu.Unlock()
		lines, err := s.st.RunLog(ctx, id, after, 0)
		if err != nil || len(lines) > 0 || wait <= 0 {
			return lines, err
		}
		r, err := s.st.GetRun(ctx, id)
		if err != nil {
			return nil, err
		}
		if r.FinishedAt != nil || r.Status == api.RunNeedsConfirmation || s.now().After(deadline) {
			// A run waiting for an operator writes nothing until decided.
			return []api.RunLogLine{}, nil
		}
		// Poll too: another replica may drive the run.
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

// Start runs the engine until ctx ends: every tick, on the leading replica,
// it queues scheduled runs, raises RPO events, starts queued runs within the
// concurrency limit and allowed hours, and moves runs along as their jobs
// end.
func (s *Service) Start(ctx context.Context) {
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	defer s.bg.Wait()
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

// Step is one pass of the engine.
func (s *Service) Step(ctx context.Context) {
	prs, err := s.st.ListProtections(ctx, 0)
	if err != nil {
		s.log.Warn("list protections", "err", err)
		return
	}
	byID := make(map[int64]store.Protection, len(prs))
	for _, pr := range prs {
		byID[pr.ID] = pr
		s.schedule(ctx, pr)
	}
	runs, err := s.st.ActiveRuns(ctx)
	if err != nil {
		s.log.Warn("list active runs", "err", err)
		return
	}
	// Move runs in progress along first, so that the slots of runs that
	// just ended go to queued runs in the same pass.
	busy := 0
	for i := range runs {
		r := &runs[i]
		pr, ok := byID[r.Protection]
		if !ok || r.Status == api.RunQueued {
			continue
		}
		if r.Status == api.RunNeedsConfirmation {
			// Waiting for an operator takes no slot.
			if r.Decision == "" {
				continue
			}
			if err := s.decided(ctx, pr, r); err != nil && !errors.Is(err, store.ErrRunEnded) {
				s.log.Warn("replication run", "run", r.ID, "err", err)
			}
			if r.FinishedAt != nil || r.Status == api.RunNeedsConfirmation {
				continue
			}
		} else if err := s.advance(ctx, pr, r); err != nil && !errors.Is(err, store.ErrRunEnded) {
			s.log.Warn("replication run", "run", r.ID, "err", err)
		}
		if r.FinishedAt == nil {
			busy++
		}
	}
	for i := range runs {
		r := &runs[i]
		pr, ok := byID[r.Protection]
		if !ok || r.Status != api.RunQueued {
			continue
		}
		if busy >= s.cfg.Concurrency || (r.Trigger == TriggerSchedule && !s.cfg.Hours.Allows(s.now())) {
			continue
		}
		busy++
		if err := s.start(ctx, pr, r); err != nil && !errors.Is(err, store.ErrRunEnded) {
			s.log.Warn("replication run", "run", r.ID, "err", err)
		}
	}
}

// schedule queues pr's run when it is due and raises the RPO event. While
// pr's DNS points away from its source it queues nothing (the schedule's
// times pass by) and raises no RPO event: replication is paused, which
// KindPausedByCut says once per cut.
func (s *Service) schedule(ctx context.Context, pr store.Protection) {
	now := s.now()
	if servingAway(pr) {
		s.noticeCut(ctx, pr)
		if pr.Paused || pr.NextRunAt == nil || now.Before(*pr.NextRunAt) {
			return
		}
		if sched, err := ParseSchedule(pr.Schedule); err == nil {
			next := sched.Next(now)
			pr.NextRunAt = &next
			if err := s.st.UpdateProtection(ctx, &pr, now); err != nil {
				s.log.Warn("update protection", "protection", pr.ID, "err", err)
			}
		}
		return
	}
	if pr.Paused {
		return
	}
	changed := false
	if pr.NextRunAt != nil && !now.Before(*pr.NextRunAt) {
		if _, err := s.queue(ctx, pr, TriggerSchedule); err != nil && !errors.Is(err, apperr.Conflict) {
			s.log.Warn("queue scheduled run", "protection", pr.ID, "err", err)
			return
		}
		if sched, err := ParseSchedule(pr.Schedule); err == nil {
			next := sched.Next(now)
			pr.NextRunAt, changed = &next, true
		}
	}
	if age, exceeded := s.rpo(pr); exceeded && !pr.RPOAlerted {
		what := "last good copy is " + age.Round(time.Second).String() + " old"
		if pr.GoodAt == nil {
			what = "never replicated successfully in " + age.Round(time.Second).String()
		}
		s.emit(ctx, KindRPOExceeded, pr.Pool, pr.Source, fmt.Sprintf("account %s: %s, more than twice its schedule %s", pr.Account, what, pr.Schedule),
			map[string]any{"account": pr.Account, "protection": pr.ID, "rpo_seconds": int64(age / time.Second)})
		pr.RPOAlerted, changed = true, true
	}
	if changed {
		if err := s.st.UpdateProtection(ctx, &pr, now); err != nil {
			s.log.Warn("update protection", "protection", pr.ID, "err", err)
		}
	}
}

// start hands a queued run's snapshot to the source's agent, unless the
// account's DNS was cut away from its source since the run was queued.
func (s *Service) start(ctx context.Context, pr store.Protection, r *store.Run) error {
	if _, busy := s.cleaning.Load(pr.ID); busy {
		return nil // the last run's chunks are still being removed
	}
	pr, err := s.current(ctx, pr)
	if err != nil {
		return err
	}
	if t := blockedText(pr); t != "" {
		return s.fail(ctx, pr, r, "not started: "+t)
	}
	args := api.SnapshotArgs{Protection: pr.ID, Run: r.ID, Account: pr.Account, Prefix: prefixOf(pr.ID), Databases: pr.Databases}
	if !pr.FullNext {
		args.PreviousFiles, args.PreviousDatabases = pr.GoodFiles, pr.GoodDBs
	}
	raw, _ := json.Marshal(args)
	j, err := s.fl.EnqueueJob(ctx, pr.Pool, pr.Source, api.JobCreate{Kind: api.KindReplicationSnapshot, Args: raw, MaxAttempts: jobAttempts})
	if err != nil {
		return s.fail(ctx, pr, r, fmt.Sprintf("cannot queue the snapshot on %s: %s", pr.Source, apperr.Message(err)))
	}
	now := s.now()
	r.Status, r.SourceJob, r.StartedAt, r.LogCursor = api.RunSnapshot, j.ID, &now, 0
	if err := s.st.UpdateRun(ctx, r); err != nil {
		s.cancelJob(ctx, j.ID) // the run was failed meanwhile (by a cut)
		return err
	}
	mode := "incremental"
	if args.PreviousFiles == "" {
		mode = "full"
	}
	s.logRun(ctx, r.ID, fmt.Sprintf("step 1/3: %s snapshot of %s on %s (job %d)", mode, pr.Account, pr.Source, j.ID))
	s.emit(ctx, KindRunStarted, pr.Pool, pr.Source, fmt.Sprintf("replication run %d of account %s started (%s → %s)", r.ID, pr.Account, pr.Source, pr.Standby),
		map[string]any{"protection": pr.ID, "run": r.ID, "account": pr.Account})
	return nil
}

// advance copies the running job's new log lines into the run's log and,
// when the job has ended, moves the run to its next step.
func (s *Service) advance(ctx context.Context, pr store.Protection, r *store.Run) error {
	jobID, who := r.SourceJob, "source"
	if r.Status == api.RunRestore {
		jobID, who = r.StandbyJob, "standby"
	}
	lines, err := s.st.JobLog(ctx, jobID, r.LogCursor, 0)
	if err != nil && !errors.Is(err, apperr.NotFound) {
		return err
	}
	if len(lines) > 0 {
		ls := make([]api.RunLogLine, len(lines))
		for i, l := range lines {
			ls[i] = api.RunLogLine{Time: l.Time, Line: who + ": " + l.Line}
		}
		s.appendLog(ctx, r.ID, ls)
		r.LogCursor = lines[len(lines)-1].Seq
		if err := s.st.UpdateRun(ctx, r); err != nil {
			return err
		}
	}
	j, err := s.st.GetJob(ctx, jobID)
	if errors.Is(err, apperr.NotFound) {
		return s.fail(ctx, pr, r, fmt.Sprintf("the %s job %d is gone (its member was removed?)", who, jobID))
	}
	if err != nil {
		return err
	}
	if servingAway(pr) && (r.Status != api.RunRestore || j.Status != api.JobSucceeded) {
		// A run the cut did not stop: it was queued, or moved on, while
		// the cut looked. (A restore that succeeded goes on to
		// restoreDone, which tells whether it ended before the cut.)
		if pr, err = s.current(ctx, pr); err != nil {
			return err
		}
		if servingAway(pr) {
			s.stopRun(ctx, pr, r)
			return nil
		}
	}
	if j.FinishedAt == nil {
		return nil
	}
	if len(lines) == 5000 {
		return nil // more log to copy first
	}
	if pr, err = s.current(ctx, pr); err != nil {
		return err
	}
	if j.Status != api.JobSucceeded && servingAway(pr) {
		// Cancelled by the cut, which normally failed the run already.
		s.stopRun(ctx, pr, r)
		return nil
	}
	if j.Status != api.JobSucceeded {
		msg := j.Error
		if msg == "" {
			msg = j.Status
		}
		member := pr.Source
		step := "snapshot"
		if who == "standby" {
			member, step = pr.Standby, "restore"
		}
		return s.fail(ctx, pr, r, fmt.Sprintf("%s on %s failed: %s", step, member, msg))
	}
	if r.Status == api.RunSnapshot {
		return s.snapshotDone(ctx, pr, r, j)
	}
	return s.restoreDone(ctx, pr, r, j)
}

func (s *Service) snapshotDone(ctx context.Context, pr store.Protection, r *store.Run, j store.Job) error {
	var res api.SnapshotResult
	if err := json.Unmarshal(j.Result, &res); err != nil {
		return s.fail(ctx, pr, r, fmt.Sprintf("snapshot on %s answered an unreadable result: %v", pr.Source, err))
	}
	prefix := prefixOf(pr.ID)
	if !strings.HasPrefix(res.FilesManifest, prefix) || (res.DatabasesManifest != "" && !strings.HasPrefix(res.DatabasesManifest, prefix)) {
		return s.fail(ctx, pr, r, fmt.Sprintf("snapshot on %s named manifests outside %s", pr.Source, prefix))
	}
	if res.Account.Name != pr.Account {
		return s.fail(ctx, pr, r, fmt.Sprintf("snapshot on %s reported account %q, not %q", pr.Source, res.Account.Name, pr.Account))
	}
	if t := blockedText(pr); t != "" {
		return s.fail(ctx, pr, r, "the restore was not started: "+t)
	}
	acct, _ := json.Marshal(res.Account)
	stats := res.Stats
	r.FilesManifest, r.DBManifest, r.Account, r.Stats = res.FilesManifest, res.DatabasesManifest, string(acct), &stats
	r.Guard = evaluate(pr.GuardChanged, pr.GuardIncompressible, stats)
	s.logRun(ctx, r.ID,
		fmt.Sprintf("snapshot done: %d files, %s read, %d chunks (%d new, %d reused), %s uploaded, %d database(s), in %s",
			stats.Files, size(stats.BytesRead), stats.ChunksTotal, stats.ChunksNew, stats.ChunksReused, size(stats.BytesUploaded),
			stats.Databases, time.Duration(stats.SnapshotMS)*time.Millisecond))
	if g := r.Guard; g != nil {
		s.logRun(ctx, r.ID, fmt.Sprintf("guard: %d of %d files deleted, %d changed (%.1f %%, limit %s); %s of %s rewritten incompressible (%.1f %%, limit %s)",
			g.FilesDeleted, g.FilesTotal, g.FilesChanged, g.ChangedPercent, limit(g.GuardChanged), size(g.BytesIncompressible), size(g.BytesTotal),
			g.IncompressiblePercent, limit(g.GuardIncompressible)))
		if len(g.Reasons) > 0 {
			return s.park(ctx, pr, r)
		}
	}
	return s.startRestore(ctx, pr, r, res.Account)
}

// limit formats a guard threshold.
func limit(pct int) string {
	if pct == 0 {
		return "off"
	}
	return fmt.Sprintf("%d %%", pct)
}

// startRestore hands the run's snapshot to the standby's agent.
func (s *Service) startRestore(ctx context.Context, pr store.Protection, r *store.Run, acct api.Account) error {
	args := api.RestoreArgs{Protection: pr.ID, Run: r.ID, Account: acct, Prefix: prefixOf(pr.ID),
		FilesManifest: r.FilesManifest, DatabasesManifest: r.DBManifest}
	raw, _ := json.Marshal(args)
	nj, err := s.fl.EnqueueJob(ctx, pr.Pool, pr.Standby, api.JobCreate{Kind: api.KindReplicationRestore, Args: raw, MaxAttempts: jobAttempts})
	if err != nil {
		return s.fail(ctx, pr, r, fmt.Sprintf("cannot queue the restore on %s: %s", pr.Standby, apperr.Message(err)))
	}
	r.Status, r.StandbyJob, r.LogCursor = api.RunRestore, nj.ID, 0
	if err := s.st.UpdateRun(ctx, r); err != nil {
		s.cancelJob(ctx, nj.ID) // the run was failed meanwhile (by a cut)
		return err
	}
	// A cut made on another replica since the check above either saw the
	// restore job in the run (and cancelled it) or is seen here.
	if cur, err := s.current(ctx, pr); err == nil && servingAway(cur) {
		s.stopRun(ctx, cur, r)
		return nil
	}
	s.logRun(ctx, r.ID, fmt.Sprintf("step 2/3: staged restore on %s (job %d)", pr.Standby, nj.ID))
	return nil
}

func (s *Service) restoreDone(ctx context.Context, pr store.Protection, r *store.Run, j store.Job) error {
	if servingAway(pr) && (pr.CutAt == nil || j.FinishedAt == nil || !j.FinishedAt.Before(*pr.CutAt)) {
		// The restore ended after the cut, which could not stop it: the
		// agent checks with the server right before it swaps its copy in,
		// but a cut landing between that check and the swap is too late.
		return s.fail(ctx, pr, r, fmt.Sprintf("the restore on %s ended after %s: %s may have been serving the account when its copy was replaced by this run's; check the account on %s",
			pr.Standby, cutText(pr), pr.Standby, pr.Standby))
	}
	var res api.RestoreResult
	if err := json.Unmarshal(j.Result, &res); err != nil {
		return s.fail(ctx, pr, r, fmt.Sprintf("restore on %s answered an unreadable result: %v", pr.Standby, err))
	}
	st := api.RunStats{}
	if r.Stats != nil {
		st = *r.Stats
	}
	rs := res.Stats
	st.ChunksFetched, st.ChunksLocal, st.BytesFetched, st.BytesWritten = rs.ChunksFetched, rs.ChunksLocal, rs.BytesFetched, rs.BytesWritten
	st.FilesLinked, st.RestoreMS = rs.FilesLinked, rs.RestoreMS
	s.logRun(ctx, r.ID, fmt.Sprintf("restore done: %s written, %d chunks fetched (%s), %d taken from the standby's copy, %d files unchanged, in %s",
		size(rs.BytesWritten), rs.ChunksFetched, size(rs.BytesFetched), rs.ChunksLocal, rs.FilesLinked, time.Duration(rs.RestoreMS)*time.Millisecond))
	if r.StartedAt != nil {
		st.TotalMS = s.now().Sub(*r.StartedAt).Milliseconds()
	}
	r.Stats = &st
	// The lines go first, so that a follower who sees the run end has them.
	s.logRun(ctx, r.ID, fmt.Sprintf("run succeeded in %s", time.Duration(st.TotalMS)*time.Millisecond),
		"step 3/3: removing transient chunks")
	if err := s.st.FinishGoodRun(ctx, r, s.now()); err != nil {
		return err
	}
	msg := fmt.Sprintf("replication run %d of account %s succeeded in %s: the copy on %s is current (RPO reset), %s uploaded",
		r.ID, pr.Account, time.Duration(st.TotalMS)*time.Millisecond, pr.Standby, size(st.BytesUploaded))
	s.emit(ctx, KindRunSucceeded, pr.Pool, pr.Standby, msg, map[string]any{"protection": pr.ID, "run": r.ID, "account": pr.Account, "stats": st})
	s.cleanUp(ctx, pr, *r)
	return nil
}

// Quiesce waits until the background clean-ups in progress have ended.
func (s *Service) Quiesce() { s.bg.Wait() }

// cleanUp removes a good run's transient chunks and the manifests older
// than its own, in the background: the copy is usable already. The next
// run of the protection waits for it (see start), so that it never takes a
// chunk being removed for one that is stored.
func (s *Service) cleanUp(ctx context.Context, pr store.Protection, r store.Run) {
	s.cleaning.Store(pr.ID, true)
	s.bg.Go(func() {
		defer s.cleaning.Delete(pr.ID)
		defer s.poke()
		ctx := context.WithoutCancel(ctx)
		start := time.Now()
		prefix := prefixOf(pr.ID)
		n, err := s.deletePrefix(ctx, prefix+"chunks/")
		if err != nil {
			// The copy is good; leftover chunks are only storage.
			s.logRun(ctx, r.ID, fmt.Sprintf("warning: removing transient chunks failed after %d: %v (the next good run retries)", n, err))
		}
		if err := s.deleteOldManifests(ctx, prefix, &r); err != nil {
			s.logRun(ctx, r.ID, fmt.Sprintf("warning: removing old manifests: %v", err))
		}
		if cur, err := s.st.GetRun(ctx, r.ID); err == nil && cur.Stats != nil {
			cur.Stats.ChunksDeleted = n
			_ = s.st.UpdateRun(ctx, &cur)
		}
		s.logRun(ctx, r.ID, fmt.Sprintf("%d transient chunks removed in %s", n, time.Since(start).Round(time.Millisecond)))
	})
}

// deleteOldManifests keeps only r's manifests, which the next run builds on.
func (s *Service) deleteOldManifests(ctx context.Context, prefix string, r *store.Run) error {
	var old []string
	err := s.objs.List(ctx, prefix+"manifests/", func(i objstore.Info) error {
		if i.Key != r.FilesManifest && i.Key != r.DBManifest {
			old = append(old, i.Key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range old {
		if err := s.objs.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// chunkTrouble reports whether a run failed on a damaged or missing chunk.
func chunkTrouble(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "chunk") && (strings.Contains(m, "corrupt") || strings.Contains(m, "not found") || strings.Contains(m, "missing"))
}

// fail ends a run. When a chunk was damaged or missing, the transient
// chunks are dropped and the next run is a full one, so it uploads every
// chunk again instead of trusting what is stored.
func (s *Service) fail(ctx context.Context, pr store.Protection, r *store.Run, msg string) error {
	now := s.now()
	if err := s.st.UpdateRun(ctx, r); err != nil { // what the run got to
		if errors.Is(err, store.ErrRunEnded) {
			return nil // it ended meanwhile, for its own reason (a cut)
		}
		return err
	}
	ok, err := s.st.FailRun(ctx, r, msg, now)
	if err != nil || !ok {
		return err
	}
	lines := []string{"run failed: " + msg, fmt.Sprintf("the copy on %s was left as it was before this run", pr.Standby)}
	if chunkTrouble(msg) {
		n, err := s.deletePrefix(ctx, prefixOf(pr.ID)+"chunks/")
		lines = append(lines, fmt.Sprintf("a chunk was damaged or missing: %d stored chunks dropped, the next run uploads everything again", n))
		if err != nil {
			lines = append(lines, "warning: dropping stored chunks: "+err.Error())
		}
		pr.FullNext = true
		if err := s.st.UpdateProtection(ctx, &pr, now); err != nil {
			return err
		}
	}
	s.logRun(ctx, r.ID, lines...)
	s.emit(ctx, KindRunFailed, pr.Pool, pr.Source, fmt.Sprintf("replication run %d of account %s failed: %s", r.ID, pr.Account, msg),
		map[string]any{"protection": pr.ID, "run": r.ID, "account": pr.Account, "error": msg})
	if strings.Contains(msg, api.PreflightRefused) {
		// A full disk is the operator's to fix: its own event, on the
		// member whose filesystem lacks the room.
		member := pr.Source
		if r.StandbyJob != 0 {
			member = pr.Standby
		}
		s.emit(ctx, KindPreflightRefused, pr.Pool, member, fmt.Sprintf("replication run %d of account %s refused on %s: %s", r.ID, pr.Account, member, msg),
			map[string]any{"protection": pr.ID, "run": r.ID, "account": pr.Account, "error": msg})
	}
	return nil
}

// size formats a byte count for people.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
