package protection_test

import (
	"context"
	"errors"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/protection"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// damagedSnapshot runs a snapshot of alice whose figures say half of its
// 100 files were deleted, and returns the run.
func damagedSnapshot(t *testing.T, e *env) api.Run {
	t.Helper()
	ctx := context.Background()
	run, err := e.svc.RunNow(ctx, "web", "alice")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Step(ctx)
	j := e.nextJob(t, e.src, api.KindReplicationSnapshot)
	pre := "protections/" + itoa(run.Protection) + "/"
	e.put(t, pre+"chunks/cc")
	e.put(t, pre+"manifests/run-"+itoa(run.ID)+"-files")
	e.finish(t, e.src, j, api.SnapshotResult{FilesManifest: pre + "manifests/run-" + itoa(run.ID) + "-files",
		Account: api.Account{Name: "alice", Domains: []string{"alice.test"}},
		Stats:   api.RunStats{Files: 50, FilesBefore: 100, FilesDeleted: 50, BytesBefore: 1 << 20}}, "")
	e.svc.Step(ctx)
	return runOf(t, e, run.ID)
}

func TestGuardLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		p, err := e.svc.CreateProtection(ctx, "web", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb"})
		if err != nil {
			t.Fatal(err)
		}
		if p.GuardChanged != api.DefaultGuardChanged || p.GuardIncompressible != api.DefaultGuardIncompressible {
			t.Errorf("defaults: got %d/%d, want %d/%d", p.GuardChanged, p.GuardIncompressible, api.DefaultGuardChanged, api.DefaultGuardIncompressible)
		}
		markGood(t, e, "alice")
		pre := "protections/" + itoa(p.ID) + "/"

		// Half the files deleted: the run stops before the restore.
		r := damagedSnapshot(t, e)
		if r.Status != api.RunNeedsConfirmation || r.StandbyJob != 0 || r.FinishedAt != nil {
			t.Fatalf("damaged run: got %+v, want needs_confirmation without a restore job", r)
		}
		if r.Guard == nil || r.Guard.FilesDeleted != 50 || r.Guard.ChangedPercent != 50 || len(r.Guard.Reasons) != 1 {
			t.Errorf("guard figures: %+v", r.Guard)
		}
		if j, err := e.fl.NextJob(ctx, e.stb, 0); err != nil || j != nil {
			t.Fatalf("the standby got a job while the run waits: %+v %v", j, err)
		}
		evs := events(t, e, protection.KindNeedsConfirmation)
		if len(evs) != 1 {
			t.Fatalf("got %d %s events, want 1", len(evs), protection.KindNeedsConfirmation)
		}
		// Waiting holds no slot, but the account's runs never overlap.
		if _, err := e.svc.RunNow(ctx, "web", "alice"); !errors.Is(err, apperr.Conflict) {
			t.Errorf("run now while one waits: got %v, want Conflict", err)
		}
		if _, err := e.svc.CreateProtection(ctx, "web", api.ProtectionCreate{Account: "bob", Source: "src", Standby: "stb"}); err != nil {
			t.Fatal(err)
		}
		bob, err := e.svc.RunNow(ctx, "web", "bob")
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Step(ctx) // Concurrency is 1: bob starts only if alice's wait holds no slot
		if got := runOf(t, e, bob.ID); got.Status != api.RunSnapshot {
			t.Errorf("bob's run with alice's waiting: got %s, want snapshot", got.Status)
		}
		e.finish(t, e.src, e.nextJob(t, e.src, api.KindReplicationSnapshot), nil, "bob's snapshot ends here")
		e.svc.Step(ctx)

		// Reject: the run ends, its chunks go, the standby got nothing.
		if _, err := e.svc.ConfirmRun(ctx, bob.ID); !errors.Is(err, apperr.Conflict) {
			t.Errorf("confirm a run that does not wait: got %v, want Conflict", err)
		}
		if _, err := e.svc.RejectRun(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ConfirmRun(ctx, r.ID); !errors.Is(err, apperr.Conflict) {
			t.Errorf("confirm after reject: got %v, want Conflict", err)
		}
		e.svc.Step(ctx)
		if got := runOf(t, e, r.ID); got.Status != api.RunRejected || got.FinishedAt == nil || got.Guard.Decision != api.GuardRejected {
			t.Fatalf("rejected run: %+v", got)
		}
		for _, k := range e.keys(t, pre) {
			if k == pre+"chunks/cc" || k == pre+"manifests/run-"+itoa(r.ID)+"-files" {
				t.Errorf("rejected run left %s", k)
			}
		}
		if j, err := e.fl.NextJob(ctx, e.stb, 0); err != nil || j != nil {
			t.Fatalf("the standby got a job after reject: %+v %v", j, err)
		}
		if len(events(t, e, protection.KindRejected)) != 1 {
			t.Errorf("no %s event", protection.KindRejected)
		}
		pr, _ := e.svc.GetProtection(ctx, "web", "alice")
		if pr.LastRun == nil || pr.LastRun.ID != r.ID {
			t.Errorf("last run: %+v", pr.LastRun)
		}

		// The next run stops the same way; confirm lets the restore go.
		r2 := damagedSnapshot(t, e)
		if r2.Status != api.RunNeedsConfirmation {
			t.Fatalf("second damaged run: got %s, want needs_confirmation", r2.Status)
		}
		if _, err := e.svc.ConfirmRun(ctx, r2.ID); err != nil {
			t.Fatal(err)
		}
		e.svc.Step(ctx)
		if got := runOf(t, e, r2.ID); got.Status != api.RunRestore || got.StandbyJob == 0 || got.Guard.Decision != api.GuardConfirmed {
			t.Fatalf("confirmed run: %+v", got)
		}
		j := e.nextJob(t, e.stb, api.KindReplicationRestore)
		e.finish(t, e.stb, j, api.RestoreResult{}, "")
		e.svc.Step(ctx)
		e.svc.Quiesce()
		if got := runOf(t, e, r2.ID); got.Status != api.RunSucceeded {
			t.Fatalf("confirmed run after restore: %+v", got)
		}
		if len(events(t, e, protection.KindConfirmed)) != 1 {
			t.Errorf("no %s event", protection.KindConfirmed)
		}

		// Guard off: the same damage goes through.
		off := 0
		if _, err := e.svc.UpdateProtection(ctx, "web", "alice", api.ProtectionUpdate{GuardChanged: &off}); err != nil {
			t.Fatal(err)
		}
		if r3 := damagedSnapshot(t, e); r3.Status != api.RunRestore || r3.Guard == nil || len(r3.Guard.Reasons) != 0 {
			t.Errorf("with the guard off: got %s %+v, want restore", r3.Status, r3.Guard)
		}
	})
}

func TestGuardValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		bad, zero, ok := 101, 0, 55
		neg := -1
		if _, err := e.svc.CreateProtection(ctx, "web", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb", GuardChanged: &bad}); !errors.Is(err, apperr.Invalid) {
			t.Errorf("guard_changed 101: got %v, want Invalid", err)
		}
		p, err := e.svc.CreateProtection(ctx, "web", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb", GuardChanged: &zero, GuardIncompressible: &ok})
		if err != nil || p.GuardChanged != 0 || p.GuardIncompressible != 55 {
			t.Fatalf("create with guards 0/55: %+v %v", p, err)
		}
		if _, err := e.svc.UpdateProtection(ctx, "web", "alice", api.ProtectionUpdate{GuardIncompressible: &neg}); !errors.Is(err, apperr.Invalid) {
			t.Errorf("guard_incompressible -1: got %v, want Invalid", err)
		}
		p, err = e.svc.UpdateProtection(ctx, "web", "alice", api.ProtectionUpdate{GuardChanged: &ok})
		if err != nil || p.GuardChanged != 55 || p.GuardIncompressible != 55 {
			t.Fatalf("update guard_changed 55: %+v %v", p, err)
		}
	})
}
