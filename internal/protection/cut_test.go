package protection_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/protection"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// servedEnv is an env whose account alice (zone alice.test, records on
// src) is protected src → stb and has one good copy on stb.
func servedEnv(t *testing.T, st *store.Store) *env {
	t.Helper()
	e := newEnv(t, st)
	ctx := context.Background()
	if _, err := e.zs.Create(ctx, api.ZoneCreate{Name: "alice.test"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []api.RecordCreate{
		{Name: "@", Type: "A", Value: "203.0.113.10", TTL: 3600},
		{Name: "www", Type: "A", Value: "203.0.113.10", TTL: 3600},
	} {
		if _, err := e.zs.AddRecord(ctx, "alice.test", r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.CreateProtection(ctx, "web", api.ProtectionCreate{Account: "alice", Source: "src", Standby: "stb", Schedule: "1h"}); err != nil {
		t.Fatal(err)
	}
	markGood(t, e, "alice")
	return e
}

// TestRunNowRefusedAfterFailoverCut reproduces the review's finding: after
// a failover cut alice's DNS to its standby, "Run now" copied the source's
// old copy over the standby, which serves the live copy. The run must be
// refused, naming the cut.
func TestRunNowRefusedAfterFailoverCut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := servedEnv(t, st)
		ctx := context.Background()
		got, err := e.svc.CutAccounts(ctx, "web", "src")
		if err != nil || strings.Join(got.Cut, ",") != "alice" {
			t.Fatalf("automatic cut: got %+v (%v), want alice cut", got, err)
		}
		run, err := e.svc.RunNow(ctx, "web", "alice")
		if !errors.Is(err, apperr.Conflict) {
			t.Fatalf("run now after the cut: got run %+v, err %v, want a conflict", run, err)
		}
		for _, want := range []string{"account alice's DNS was cut to stb at 2026-11-27T10:30:00Z automatically after src failed",
			"stb serves the live copy", "a run from src would overwrite it", "replication is paused",
			"poolctl protection reverse web alice", "poolctl account cut-dns web alice --to src"} {
			if !strings.Contains(apperr.Message(err), want) {
				t.Errorf("run now after the cut: got %q, want it to contain %q", apperr.Message(err), want)
			}
		}
		e.svc.Step(ctx)
		if j, _ := e.fl.NextJob(ctx, e.src, 0); j != nil {
			t.Errorf("a job was queued for the source after the cut: %+v", j)
		}
		if j, _ := e.fl.NextJob(ctx, e.stb, 0); j != nil {
			t.Errorf("a job was queued for the standby after the cut: %+v", j)
		}
	})
}

// runOf returns run id, failing the test when it cannot be read.
func runOf(t *testing.T, e *env, id int64) api.Run {
	t.Helper()
	r, err := e.svc.Run(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func jobStatus(t *testing.T, e *env, id int64) string {
	t.Helper()
	j, err := e.st.GetJob(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return j.Status
}

func events(t *testing.T, e *env, kind string) []api.Event {
	t.Helper()
	evs, err := e.fl.Events(context.Background(), store.EventFilter{Kind: kind}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// cutBehindItsBack records a cut of alice to stb in the store only, as a
// cut made on another server replica looks to this engine before that
// cut has stopped the runs in progress.
func cutBehindItsBack(t *testing.T, e *env, at time.Time) {
	t.Helper()
	ctx := context.Background()
	p, err := e.st.GetPool(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	pr, err := e.st.GetProtection(ctx, p.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	pr.CutToID, pr.CutAt, pr.CutReason = e.stb.MemberID, &at, "by an operator"
	if err := e.st.SetProtectionCut(ctx, &pr, at); err != nil {
		t.Fatal(err)
	}
}

// The protection shows the cut: status, when, why and what is refused.
func TestServingStandbyState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := servedEnv(t, st)
		ctx := context.Background()
		if _, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "stb"}); err != nil {
			t.Fatal(err)
		}
		p, err := e.svc.GetProtection(ctx, "web", "alice")
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != api.ProtectionServingStandby || p.CutTo != "stb" || p.CutAt == nil || !p.CutAt.Equal(e.clk.Now()) ||
			p.CutReason != "by an operator" || p.NextRunAt != nil || p.Paused {
			t.Errorf("after a manual cut: got %+v, want serving_standby on stb since now, by an operator, no next run", p)
		}
		if !strings.HasPrefix(p.Blocked, "account alice's DNS was cut to stb at 2026-11-27T10:30:00Z by an operator: stb serves the live copy") {
			t.Errorf("blocked: got %q, want the cut and its consequence", p.Blocked)
		}
		_, err = e.svc.RunNow(ctx, "web", "alice")
		if !errors.Is(err, apperr.Conflict) || apperr.Message(err) != p.Blocked {
			t.Errorf("run now: got %v, want the conflict %q", err, p.Blocked)
		}
		// Paused while cut: the cut still shows.
		if p, err = e.svc.SetPaused(ctx, "web", "alice", true); err != nil || p.Status != api.ProtectionServingStandby || !p.Paused {
			t.Errorf("paused while cut: got %+v (%v), want serving_standby and paused", p, err)
		}
		// Back at the source, runs are allowed again.
		if _, err := e.svc.SetPaused(ctx, "web", "alice", false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "src"}); err != nil {
			t.Fatal(err)
		}
		p, _ = e.svc.GetProtection(ctx, "web", "alice")
		if p.Status != api.ProtectionActive || p.CutTo != "" || p.CutAt != nil || p.CutReason != "" || p.Blocked != "" {
			t.Errorf("after the cut back: got %+v, want active and no cut", p)
		}
		if _, err := e.svc.RunNow(ctx, "web", "alice"); err != nil {
			t.Errorf("run now after the cut back: %v", err)
		}
	})
}

// While cut, scheduled runs are not queued, one event says why, and no
// RPO alarm is raised; after a cut back the schedule runs again.
func TestScheduleWhileServingStandby(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := servedEnv(t, st) // schedule 1h
		ctx := context.Background()
		if _, err := e.svc.CutAccounts(ctx, "web", "src"); err != nil {
			t.Fatal(err)
		}
		for range 4 { // 10:30 → 14:30: four runs due, and the RPO late
			e.clk.Add(time.Hour)
			e.svc.Step(ctx)
		}
		if j, _ := e.fl.NextJob(ctx, e.src, 0); j != nil {
			t.Fatalf("a scheduled run started while cut: %+v", j)
		}
		if p, _ := e.svc.GetProtection(ctx, "web", "alice"); p.LastRun == nil || p.LastRun.Status != api.RunSucceeded || p.RPOExceeded {
			t.Errorf("while cut: got last run %+v, rpo exceeded %v; want the good run of before, no alarm", p.LastRun, p.RPOExceeded)
		}
		evs := events(t, e, protection.KindPausedByCut)
		if len(evs) != 1 || !strings.Contains(evs[0].Message, "replication of account alice paused: account alice's DNS was cut to stb") ||
			!strings.Contains(evs[0].Message, "automatically after src failed") {
			t.Errorf("paused events: got %+v, want one naming the cut", evs)
		}
		if n := len(events(t, e, protection.KindRPOExceeded)); n != 0 {
			t.Errorf("got %d RPO events while cut, want none", n)
		}
		// Back to the source: the next scheduled run is queued.
		if _, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "src"}); err != nil {
			t.Fatal(err)
		}
		e.clk.Add(time.Hour)
		e.svc.Step(ctx)
		e.nextJob(t, e.src, api.KindReplicationSnapshot)
		// A new cut is announced again.
		e.svc.Step(ctx)
		if _, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "stb"}); err != nil {
			t.Fatal(err)
		}
		e.svc.Step(ctx)
		e.svc.Step(ctx)
		if n := len(events(t, e, protection.KindPausedByCut)); n != 2 {
			t.Errorf("got %d paused events after a second cut, want 2", n)
		}
	})
}

// A run queued before a cut is not started: the cut fails it, and so
// does start when the cut was made where the engine did not see it.
func TestQueuedRunFailedByCut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := servedEnv(t, st)
		ctx := context.Background()
		run, err := e.svc.RunNow(ctx, "web", "alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "stb"}); err != nil {
			t.Fatal(err)
		}
		if r := runOf(t, e, run.ID); r.Status != api.RunFailed || !strings.HasPrefix(r.Error, "cancelled because account alice's DNS was cut to stb") {
			t.Errorf("queued run after the cut: got %+v, want it failed naming the cut", r)
		}
		if _, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "src"}); err != nil {
			t.Fatal(err)
		}

		// The cut lands between the queueing and the start.
		run, err = e.svc.RunNow(ctx, "web", "alice")
		if err != nil {
			t.Fatal(err)
		}
		cutBehindItsBack(t, e, e.clk.Now())
		e.svc.Step(ctx)
		r := runOf(t, e, run.ID)
		if r.Status != api.RunFailed || !strings.HasPrefix(r.Error, "not started: account alice's DNS was cut to stb at 2026-11-27T10:30:00Z by an operator") ||
			!strings.Contains(r.Error, "would overwrite it") || r.SourceJob != 0 {
			t.Errorf("run queued before the cut: got %+v, want it failed at start naming the cut", r)
		}
		if j, _ := e.fl.NextJob(ctx, e.src, 0); j != nil {
			t.Errorf("the snapshot was queued: %+v", j)
		}
	})
}

// A cut stops the runs in progress: their jobs are cancelled (the agents
// learn it on their next report) and the run fails with the reason.
func TestRunInProgressCancelledByCut(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := servedEnv(t, st)
		ctx := context.Background()
		before, _ := e.svc.GetProtection(ctx, "web", "alice")

		// In its snapshot.
		run, err := e.svc.RunNow(ctx, "web", "alice")
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Step(ctx)
		snap := e.nextJob(t, e.src, api.KindReplicationSnapshot)
		if _, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "stb"}); err != nil {
			t.Fatal(err)
		}
		if s := jobStatus(t, e, snap.ID); s != api.JobCancelled {
			t.Errorf("snapshot job after the cut: got %s, want cancelled", s)
		}
		if err := e.fl.AppendJobLog(ctx, e.src, snap.ID, api.JobLogAppend{Lines: []string{"still here"}}); !errors.Is(err, apperr.Gone) {
			t.Errorf("the source's agent reporting on its cancelled job: got %v, want Gone", err)
		}
		e.svc.Step(ctx)
		r := runOf(t, e, run.ID)
		if r.Status != api.RunFailed || !strings.Contains(r.Error, "stb serves the live copy, which this run would overwrite") {
			t.Errorf("run after the cut: got %+v, want it failed naming the cut", r)
		}
		lines, _ := e.svc.RunLog(ctx, run.ID, 0, 0)
		if last := lines[len(lines)-1].Line; !strings.Contains(last, "its jobs were cancelled; the copy on stb was left as it was") {
			t.Errorf("run log ends with %q, want the cancellation", last)
		}
		if _, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "src"}); err != nil {
			t.Fatal(err)
		}

		// In its restore.
		run, err = e.svc.RunNow(ctx, "web", "alice")
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Step(ctx)
		snap = e.nextJob(t, e.src, api.KindReplicationSnapshot)
		pre := "protections/" + itoa(run.Protection) + "/"
		e.finish(t, e.src, snap, api.SnapshotResult{FilesManifest: pre + "manifests/g", Account: api.Account{Name: "alice", Domains: []string{"alice.test"}}}, "")
		e.svc.Step(ctx)
		rest := e.nextJob(t, e.stb, api.KindReplicationRestore)
		if _, err := e.svc.CutAccounts(ctx, "web", "src"); err != nil {
			t.Fatal(err)
		}
		if s := jobStatus(t, e, rest.ID); s != api.JobCancelled {
			t.Errorf("restore job after the cut: got %s, want cancelled", s)
		}
		raw, _ := json.Marshal(api.RestoreResult{})
		if err := e.fl.FinishJob(ctx, e.stb, rest.ID, api.JobResult{OK: true, Result: raw}); !errors.Is(err, apperr.Gone) {
			t.Errorf("the standby reporting its cancelled restore: got %v, want Gone", err)
		}
		e.svc.Step(ctx)
		e.svc.Quiesce()
		r = runOf(t, e, run.ID)
		if r.Status != api.RunFailed || !strings.Contains(r.Error, "automatically after src failed") {
			t.Errorf("run after the automatic cut: got %+v, want it failed naming the cut", r)
		}
		if p, _ := e.svc.GetProtection(ctx, "web", "alice"); p.LastGoodAt == nil || !p.LastGoodAt.Equal(*before.LastGoodAt) {
			t.Errorf("the stopped run moved the last good copy: %v, want %v", p.LastGoodAt, before.LastGoodAt)
		}
	})
}

// Cuts the engine learns of late: a snapshot that ended after the cut gets
// no restore; a restore that ended before the cut is a good run, one that
// ended after it is reported as such.
func TestCutSeenLate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := servedEnv(t, st)
		ctx := context.Background()
		run, err := e.svc.RunNow(ctx, "web", "alice")
		if err != nil {
			t.Fatal(err)
		}
		e.svc.Step(ctx)
		pre := "protections/" + itoa(run.Protection) + "/"
		snap := e.nextJob(t, e.src, api.KindReplicationSnapshot)
		e.finish(t, e.src, snap, api.SnapshotResult{FilesManifest: pre + "manifests/h", Account: api.Account{Name: "alice"}}, "")
		cutBehindItsBack(t, e, e.clk.Now())
		e.svc.Step(ctx)
		if r := runOf(t, e, run.ID); r.Status != api.RunFailed || r.StandbyJob != 0 || !strings.Contains(r.Error, "DNS was cut to stb") {
			t.Errorf("snapshot done after the cut: got %+v, want failed without a restore", r)
		}
		if j, _ := e.fl.NextJob(ctx, e.stb, 0); j != nil {
			t.Errorf("a restore was queued after the cut: %+v", j)
		}

		for _, c := range []struct {
			name   string
			offset time.Duration // of the cut from the restore's end
			want   string
		}{{"before", time.Second, api.RunSucceeded}, {"after", -time.Second, api.RunFailed}} {
			if _, err := e.svc.CutDNS(ctx, "web", "alice", api.DNSCut{To: "src"}); err != nil {
				t.Fatal(err)
			}
			run, err := e.svc.RunNow(ctx, "web", "alice")
			if err != nil {
				t.Fatal(err)
			}
			e.svc.Step(ctx)
			snap := e.nextJob(t, e.src, api.KindReplicationSnapshot)
			e.finish(t, e.src, snap, api.SnapshotResult{FilesManifest: pre + "manifests/" + c.name, Account: api.Account{Name: "alice", Domains: []string{"alice.test"}}}, "")
			e.svc.Step(ctx)
			rest := e.nextJob(t, e.stb, api.KindReplicationRestore)
			e.finish(t, e.stb, rest, api.RestoreResult{}, "")
			j, err := e.st.GetJob(ctx, rest.ID)
			if err != nil {
				t.Fatal(err)
			}
			cutBehindItsBack(t, e, j.FinishedAt.Add(c.offset))
			e.svc.Step(ctx)
			e.svc.Quiesce()
			r := runOf(t, e, run.ID)
			if r.Status != c.want {
				t.Errorf("restore ended %s the cut: got %+v, want %s", c.name, r, c.want)
			}
			if c.want == api.RunFailed && !strings.Contains(r.Error, "the restore on stb ended after account alice's DNS was cut to stb") {
				t.Errorf("restore ended after the cut: got error %q, want it said", r.Error)
			}
		}
	})
}

// Reverse swaps source and standby once the DNS points at the standby:
// the next run copies the standby's account to the old source, in full.
func TestReverse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := servedEnv(t, st)
		ctx := context.Background()
		if _, err := e.svc.Reverse(ctx, "web", "alice"); !errors.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "nothing to reverse") {
			t.Errorf("reverse while the DNS points at the source: got %v, want a conflict", err)
		}
		run, err := e.svc.RunNow(ctx, "web", "alice")
		if err != nil {
			t.Fatal(err)
		}
		cutBehindItsBack(t, e, e.clk.Now()) // the run is still queued
		if _, err := e.svc.Reverse(ctx, "web", "alice"); !errors.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "has not ended yet") {
			t.Errorf("reverse while a run is queued: got %v, want a conflict", err)
		}
		e.svc.Step(ctx) // fails it
		if r := runOf(t, e, run.ID); r.Status != api.RunFailed {
			t.Fatalf("run %+v", r)
		}

		e.clk.Add(10 * time.Minute)
		p, err := e.svc.Reverse(ctx, "web", "alice")
		if err != nil {
			t.Fatal(err)
		}
		if p.Source != "stb" || p.Standby != "src" || p.Status != api.ProtectionActive || p.CutTo != "" || p.CutAt != nil || p.Blocked != "" ||
			p.LastGoodAt != nil || p.RPOSeconds != nil || p.ReversedAt == nil || !p.ReversedAt.Equal(e.clk.Now()) || p.NextRunAt == nil {
			t.Errorf("reversed: got %+v, want stb → src, active, no cut, no good copy yet, reversed now", p)
		}
		if evs := events(t, e, protection.KindReversed); len(evs) != 1 || !strings.Contains(evs[0].Message, "now replicates stb → src") {
			t.Errorf("reversed events: got %+v, want one", evs)
		}
		if _, err := e.svc.Reverse(ctx, "web", "alice"); !errors.Is(err, apperr.Conflict) {
			t.Errorf("second reverse: got %v, want a conflict", err)
		}
		// The RPO counts from the reversal: 1h55m after it (2h5m after
		// the protection was created) it is not late for a 1h schedule.
		e.clk.Add(time.Hour + 55*time.Minute)
		e.svc.Step(ctx)
		if p, _ = e.svc.GetProtection(ctx, "web", "alice"); p.RPOExceeded {
			t.Errorf("RPO exceeded 1h55m after the reversal, want it counted from then")
		}
		if err := e.svc.AuthorizeObject(ctx, e.stb, "protections/"+itoa(p.ID)+"/chunks/ab", true); err != nil {
			t.Errorf("the new source may not write: %v", err)
		}

		// The next run: a full snapshot on stb, restored on src.
		for _, a := range []*fleet.Agent{&e.src, &e.stb} { // take what the scheduled runs queued
			for j, _ := e.fl.NextJob(ctx, *a, 0); j != nil; j, _ = e.fl.NextJob(ctx, *a, 0) {
				e.finish(t, *a, *j, nil, "skipped")
			}
		}
		e.svc.Step(ctx)
		run, err = e.svc.RunNow(ctx, "web", "alice")
		if err != nil {
			p, _ := e.svc.GetProtection(ctx, "web", "alice")
			t.Fatalf("run after the reversal: %v (%+v)", err, p.LastRun)
		}
		e.svc.Step(ctx)
		snap := e.nextJob(t, e.stb, api.KindReplicationSnapshot)
		var sa api.SnapshotArgs
		_ = json.Unmarshal(snap.Args, &sa)
		if sa.PreviousFiles != "" || sa.PreviousDatabases != "" {
			t.Errorf("first run after the reversal: got previous manifests %+v, want a full run", sa)
		}
		pre := "protections/" + itoa(run.Protection) + "/"
		e.finish(t, e.stb, snap, api.SnapshotResult{FilesManifest: pre + "manifests/rev", Account: api.Account{Name: "alice", Domains: []string{"alice.test"}}}, "")
		e.svc.Step(ctx)
		rest := e.nextJob(t, e.src, api.KindReplicationRestore)
		e.finish(t, e.src, rest, api.RestoreResult{}, "")
		e.svc.Step(ctx)
		e.svc.Quiesce()
		if p, _ = e.svc.GetProtection(ctx, "web", "alice"); p.LastRun == nil || p.LastRun.ID != run.ID || p.LastRun.Status != api.RunSucceeded || p.LastGoodAt == nil {
			t.Errorf("after the first run stb → src: got %+v, want it succeeded", p)
		}
		// A failover of the new source cuts the account to src.
		got, err := e.svc.CutAccounts(ctx, "web", "stb")
		if err != nil || strings.Join(got.Cut, ",") != "alice" {
			t.Errorf("failover of the new source: got %+v (%v), want alice cut", got, err)
		}
	})
}
