package protection

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// A replication never overwrites the copy that is serving. Once a cut
// points an account's DNS at a member other than its source (after a
// failover, or by hand), that member serves the live copy: customers write
// to it. A run copies the source's (now stale) copy over the standby, so
// while the DNS points away from the source no run proceeds:
//
//   - RunNow refuses (Conflict, naming the cut);
//   - schedule queues nothing, and records KindPausedByCut once per cut;
//   - start fails a run queued before the cut;
//   - snapshotDone does not queue the restore, and checks again after
//     queueing it (a cut on another replica may land in between);
//   - cut itself fails the runs in progress and cancels their jobs, and
//     the engine stops any it missed at its next step;
//   - the standby's agent asks the server whether its restore job still
//     runs right before it swaps the staged copy in (internal/agent).
//
// The way on is Reverse (replicate from the member that serves, to the old
// source) or a cut back to the source.

// servingAway reports whether pr's DNS points at a member other than its
// source.
func servingAway(pr store.Protection) bool { return pr.CutToID != 0 && pr.CutToID != pr.SourceID }

// cutText describes pr's cut: "account alice's DNS was cut to node2 at
// 2026-12-04T05:00:00Z automatically after node1 failed".
func cutText(pr store.Protection) string {
	s := fmt.Sprintf("account %s's DNS was cut to %s", pr.Account, pr.CutTo)
	if pr.CutAt != nil {
		s += " at " + pr.CutAt.UTC().Format(time.RFC3339)
	}
	if pr.CutReason != "" {
		s += " " + pr.CutReason
	}
	return s
}

// blockedText says why pr's runs are refused, with the ways on; "" when
// they are not.
func blockedText(pr store.Protection) string {
	if !servingAway(pr) {
		return ""
	}
	if pr.CutToID == pr.StandbyID {
		return fmt.Sprintf("%s: %s serves the live copy, so a run from %s would overwrite it; replication is paused. "+
			"Reverse the protection (poolctl protection reverse %s %s) to replicate %s → %s, or cut DNS back first (poolctl account cut-dns %s %s --to %s)",
			cutText(pr), pr.CutTo, pr.Source, pr.Pool, pr.Account, pr.Standby, pr.Source, pr.Pool, pr.Account, pr.Source)
	}
	return fmt.Sprintf("%s: %s serves the live copy, not the source %s, so replicating %s → %s would copy stale data; replication is paused. "+
		"Cut DNS back first (poolctl account cut-dns %s %s --to %s), or cut it to %s and reverse the protection",
		cutText(pr), pr.CutTo, pr.Source, pr.Source, pr.Standby, pr.Pool, pr.Account, pr.Source, pr.Standby)
}

// blocked returns the Conflict that refuses pr's runs, or nil.
func blocked(pr store.Protection) error {
	if t := blockedText(pr); t != "" {
		return apperr.New(apperr.Conflict, "%s", t)
	}
	return nil
}

// current re-reads pr from the store: the engine's copy may predate a cut
// made on another replica. When pr is gone, it returns pr as it was.
func (s *Service) current(ctx context.Context, pr store.Protection) (store.Protection, error) {
	cur, err := s.st.GetProtectionByID(ctx, pr.ID)
	if errors.Is(err, apperr.NotFound) {
		return pr, nil
	}
	if err != nil {
		return pr, err
	}
	return cur, nil
}

// cancelJob cancels a job of a run, if it has not ended. It reports
// whether the job had succeeded already.
func (s *Service) cancelJob(ctx context.Context, id int64) (succeeded bool) {
	if id == 0 {
		return false
	}
	j, err := s.fl.CancelJob(ctx, id)
	if err != nil && !errors.Is(err, apperr.Conflict) && !errors.Is(err, apperr.NotFound) {
		s.log.Warn("cancel a replication job", "job", id, "err", err)
	}
	return err != nil && j.Status == api.JobSucceeded
}

// stopRuns fails pr's runs in progress, because pr's DNS was cut away
// from its source, and cancels their jobs. A run whose restore finished
// before the cut is left to the engine, which records it as good.
func (s *Service) stopRuns(ctx context.Context, pr store.Protection) {
	ctx = context.WithoutCancel(ctx)
	runs, err := s.st.ActiveRuns(ctx)
	if err != nil {
		s.log.Warn("list active runs to stop after a cut", "protection", pr.ID, "err", err)
		return
	}
	for i := range runs {
		if r := &runs[i]; r.Protection == pr.ID {
			if r.Status == api.RunRestore && r.StandbyJob != 0 {
				if j, err := s.st.GetJob(ctx, r.StandbyJob); err == nil && j.Status == api.JobSucceeded {
					continue // restored before the cut
				}
			}
			s.stopRun(ctx, pr, r)
		}
	}
}

// stopRun fails r, a run of pr whose DNS points away from its source, and
// cancels its jobs.
func (s *Service) stopRun(ctx context.Context, pr store.Protection, r *store.Run) {
	msg := fmt.Sprintf("cancelled because %s: %s serves the live copy, which this run would overwrite", cutText(pr), pr.CutTo)
	ok, err := s.st.FailRun(ctx, r, msg, s.now())
	if err != nil {
		s.log.Warn("fail a run after a cut", "run", r.ID, "err", err)
		return
	}
	if !ok {
		return // it ended meanwhile
	}
	lines := []string{"run failed: " + msg}
	s.cancelJob(ctx, r.SourceJob)
	if s.cancelJob(ctx, r.StandbyJob) {
		lines = append(lines, fmt.Sprintf("warning: the restore on %s (job %d) had just finished when the cut cancelled it: "+
			"check the account on %s, which serves it now", pr.Standby, r.StandbyJob, pr.Standby))
	} else {
		lines = append(lines, fmt.Sprintf("its jobs were cancelled; the copy on %s was left as it was", pr.Standby))
	}
	s.logRun(ctx, r.ID, lines...)
	s.emit(ctx, KindRunFailed, pr.Pool, pr.Source, fmt.Sprintf("replication run %d of account %s failed: %s", r.ID, pr.Account, msg),
		map[string]any{"protection": pr.ID, "run": r.ID, "account": pr.Account, "error": msg})
}

// noticeCut records, once per cut, that pr's replication is paused by it.
func (s *Service) noticeCut(ctx context.Context, pr store.Protection) {
	if pr.CutNoticed {
		return
	}
	first, err := s.st.NoticeCut(ctx, pr.ID, pr.CutToID)
	if err != nil {
		s.log.Warn("notice a cut", "protection", pr.ID, "err", err)
		return
	}
	if first {
		s.emit(ctx, KindPausedByCut, pr.Pool, pr.CutTo, "replication of account "+pr.Account+" paused: "+blockedText(pr),
			map[string]any{"account": pr.Account, "protection": pr.ID, "cut_to": pr.CutTo, "cut_at": pr.CutAt, "cut_reason": pr.CutReason})
	}
}

// Reverse swaps a protection's source and standby once its DNS points at
// the standby: the member that serves the account becomes its source, and
// the old source its standby. The cut is cleared (the DNS points at the
// new source), the next run is a full one (the manifests of the last good
// copy describe the other direction) and the RPO counts from now until it
// succeeds. It is a Conflict while the DNS points at the source (or a third
// member) and while a run has not ended.
func (s *Service) Reverse(ctx context.Context, pool, account string) (api.Protection, error) {
	pr, err := s.protection(ctx, pool, account)
	if err != nil {
		return api.Protection{}, err
	}
	switch {
	case pr.CutToID == 0 || pr.CutToID == pr.SourceID:
		return api.Protection{}, apperr.New(apperr.Conflict,
			"account %s's DNS points at its source %s: there is nothing to reverse, replication %s → %s goes on as it is "+
				"(to move the account to %s, cut its DNS first: poolctl account cut-dns %s %s --to %s)",
			account, pr.Source, pr.Source, pr.Standby, pr.Standby, pool, account, pr.Standby)
	case pr.CutToID != pr.StandbyID:
		return api.Protection{}, apperr.New(apperr.Conflict,
			"account %s's DNS points at %s, which is neither its source %s nor its standby %s: cut it to %s (then reverse) or back to %s first",
			account, pr.CutTo, pr.Source, pr.Standby, pr.Standby, pr.Source)
	}
	var next *time.Time
	if sched, err := ParseSchedule(pr.Schedule); err == nil && !pr.Paused {
		n := sched.Next(s.now())
		next = &n
	}
	oldSource, oldStandby := pr.Source, pr.Standby
	if err := s.st.ReverseProtection(ctx, &pr, next, s.now()); err != nil {
		return api.Protection{}, err
	}
	s.auth.Delete(pr.ID)
	s.emit(ctx, KindReversed, pool, pr.Source, fmt.Sprintf("protection of account %s reversed: it now replicates %s → %s (its DNS points at %s); the next run is a full copy",
		account, pr.Source, pr.Standby, pr.Source), map[string]any{"account": account, "protection": pr.ID, "source": pr.Source, "standby": pr.Standby,
		"previous_source": oldSource, "previous_standby": oldStandby})
	return s.toAPI(ctx, pr)
}
