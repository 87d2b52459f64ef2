package protection

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// The guard against replicating a disaster: a run whose snapshot deleted
// or changed more of the account's files than the protection allows, or
// rewrote more of their bytes with content that does not compress (the
// sign of encryption by ransomware), does not replace the standby's copy.
// The engine decides once the source's snapshot is in, before it issues
// the standby's restore: the run stops as needs_confirmation with the
// standby untouched, and waits for an operator. Confirmed, the restore is
// issued as usual; rejected, the run ends and its uploaded chunks are
// dropped, so the next run, which compares with the same last good copy,
// measures the same damage and stops again while the source stays damaged.

// Event kinds of the guard.
const (
	KindNeedsConfirmation = "protection.needs_confirmation"
	KindConfirmed         = "protection.confirmed"
	KindRejected          = "protection.rejected"
)

// validGuard checks a guard threshold in percent: 1..100, or 0 for off.
func validGuard(field string, v int) error {
	if v < 0 || v > 100 {
		return apperr.New(apperr.Invalid, "%s %d out of range: a percentage 1–100, or 0 to turn it off", field, v)
	}
	return nil
}

// evaluate weighs a snapshot's figures against the thresholds changed and
// incompressible (percent, 0 = off). It returns nil when the snapshot was
// not compared with a last good copy (a first or full run, or an empty
// account before); otherwise the figures, with Reasons set when the run
// must wait for confirmation. A share equal to its threshold passes: only
// more than it stops a run.
func evaluate(changed, incompressible int, st api.RunStats) *api.RunGuard {
	if st.FilesBefore == 0 {
		return nil
	}
	g := &api.RunGuard{FilesTotal: st.FilesBefore, FilesDeleted: st.FilesDeleted, FilesChanged: st.FilesChanged,
		BytesTotal: st.BytesBefore, BytesIncompressible: st.BytesIncompressible,
		GuardChanged: changed, GuardIncompressible: incompressible}
	g.ChangedPercent = percent(int64(st.FilesDeleted+st.FilesChanged), int64(st.FilesBefore))
	if st.BytesBefore > 0 {
		g.IncompressiblePercent = percent(st.BytesIncompressible, st.BytesBefore)
	}
	// Compared in whole units of the fraction, not the rounded percentage.
	if changed > 0 && int64(st.FilesDeleted+st.FilesChanged)*100 > int64(changed)*int64(st.FilesBefore) {
		g.Reasons = append(g.Reasons, fmt.Sprintf("%d of %d files deleted and %d changed (%.1f %%, more than the guard's %d %%)",
			st.FilesDeleted, st.FilesBefore, st.FilesChanged, g.ChangedPercent, changed))
	}
	if incompressible > 0 && st.BytesBefore > 0 && st.BytesIncompressible*100 > int64(incompressible)*st.BytesBefore {
		g.Reasons = append(g.Reasons, fmt.Sprintf("%s of the files' %s rewritten with content that does not compress, the sign of encryption (%.1f %%, more than the guard's %d %%)",
			size(st.BytesIncompressible), size(st.BytesBefore), g.IncompressiblePercent, incompressible))
	}
	return g
}

// percent is 100·n/of rounded to 0.1, at most 100.
func percent(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return math.Min(100, math.Round(float64(n)*1000/float64(of))/10)
}

// ConfirmRun allows a run that needs confirmation: the engine issues its
// restore to the standby at once. It is a Conflict when the run does not
// need confirmation, or when the account's DNS points away from its source.
func (s *Service) ConfirmRun(ctx context.Context, id int64) (api.Run, error) {
	return s.decide(ctx, id, api.GuardConfirmed)
}

// RejectRun discards a run that needs confirmation: the standby keeps its
// copy and the run ends as rejected. It is a Conflict when the run does not
// need confirmation.
func (s *Service) RejectRun(ctx context.Context, id int64) (api.Run, error) {
	return s.decide(ctx, id, api.GuardRejected)
}

func (s *Service) decide(ctx context.Context, id int64, decision string) (api.Run, error) {
	r, err := s.st.GetRun(ctx, id)
	if err != nil {
		return api.Run{}, err
	}
	if r.Status != api.RunNeedsConfirmation {
		return api.Run{}, apperr.New(apperr.Conflict, "run %d is %s: only a run that needs confirmation can be confirmed or rejected", id, r.Status)
	}
	if decision == api.GuardConfirmed {
		pr, err := s.st.GetProtectionByID(ctx, r.Protection)
		if err != nil {
			return api.Run{}, err
		}
		if err := blocked(pr); err != nil {
			return api.Run{}, err
		}
	}
	ok, err := s.st.DecideRun(ctx, id, decision)
	if err != nil {
		return api.Run{}, err
	}
	if !ok {
		return api.Run{}, apperr.New(apperr.Conflict, "run %d was decided meanwhile, or ended", id)
	}
	s.poke()
	r, err = s.st.GetRun(ctx, id)
	return r.Run, err
}

// park stops r, whose snapshot the guard refused, before the standby's
// restore: the standby is not touched and the run waits for a decision.
func (s *Service) park(ctx context.Context, pr store.Protection, r *store.Run) error {
	r.Status, r.LogCursor = api.RunNeedsConfirmation, 0
	if err := s.st.UpdateRun(ctx, r); err != nil {
		return err
	}
	g := r.Guard
	lines := []string{"the guard stopped this run before the restore on " + pr.Standby + ":"}
	for _, why := range g.Reasons {
		lines = append(lines, "  "+why)
	}
	lines = append(lines, fmt.Sprintf("the copy on %s is left as it was; confirm to replace it anyway (poolctl protection confirm %d) or reject this run (poolctl protection reject %d)",
		pr.Standby, r.ID, r.ID))
	s.logRun(ctx, r.ID, lines...)
	s.emit(ctx, KindNeedsConfirmation, pr.Pool, pr.Source,
		fmt.Sprintf("replication run %d of account %s needs confirmation: %s; the copy on %s was not replaced", r.ID, pr.Account, g.Reasons[0], pr.Standby),
		map[string]any{"protection": pr.ID, "run": r.ID, "account": pr.Account, "files_total": g.FilesTotal, "files_deleted": g.FilesDeleted,
			"files_changed": g.FilesChanged, "changed_percent": g.ChangedPercent, "bytes_total": g.BytesTotal,
			"bytes_incompressible": g.BytesIncompressible, "incompressible_percent": g.IncompressiblePercent, "reasons": g.Reasons})
	return nil
}

// decided carries out the decision on r, a run that needed confirmation.
func (s *Service) decided(ctx context.Context, pr store.Protection, r *store.Run) error {
	switch r.Decision {
	case api.GuardConfirmed:
		pr, err := s.current(ctx, pr)
		if err != nil {
			return err
		}
		if t := blockedText(pr); t != "" {
			return s.fail(ctx, pr, r, "confirmed, but the restore was not started: "+t)
		}
		s.logRun(ctx, r.ID, "confirmed by an operator: the restore proceeds")
		s.emit(ctx, KindConfirmed, pr.Pool, pr.Source, fmt.Sprintf("replication run %d of account %s confirmed: the copy on %s will be replaced", r.ID, pr.Account, pr.Standby),
			map[string]any{"protection": pr.ID, "run": r.ID, "account": pr.Account})
		var acct api.Account
		if err := json.Unmarshal([]byte(r.Account), &acct); err != nil {
			return s.fail(ctx, pr, r, fmt.Sprintf("the account the snapshot reported is unreadable: %v", err))
		}
		return s.startRestore(ctx, pr, r, acct)
	case api.GuardRejected:
		// The rejected run's chunks go first, while the run still blocks
		// the next one: a run never takes a chunk being removed for one
		// that is stored. The standby holds every chunk of the last good
		// copy itself, so nothing it needs is under chunks/.
		n, err := s.deletePrefix(ctx, prefixOf(pr.ID)+"chunks/")
		if err != nil {
			return fmt.Errorf("drop the chunks of rejected run %d: %w", r.ID, err)
		}
		if r.FilesManifest != "" {
			_ = s.objs.Delete(ctx, r.FilesManifest)
		}
		if r.DBManifest != "" {
			_ = s.objs.Delete(ctx, r.DBManifest)
		}
		msg := fmt.Sprintf("rejected by an operator: the copy on %s was kept", pr.Standby)
		ok, err := s.st.RejectRun(ctx, r, msg, s.now())
		if err != nil || !ok {
			return err
		}
		s.logRun(ctx, r.ID, msg, fmt.Sprintf("%d uploaded chunks dropped; the next run compares with the same last good copy, and stops again while the source stays as it is", n))
		s.emit(ctx, KindRejected, pr.Pool, pr.Source, fmt.Sprintf("replication run %d of account %s rejected: the copy on %s was kept", r.ID, pr.Account, pr.Standby),
			map[string]any{"protection": pr.ID, "run": r.ID, "account": pr.Account})
	}
	return nil
}
