package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/replication/replicationtest"
)

// lastRun is the protection's newest run.
func (ps *protectionSite) lastRun(t *testing.T) api.Run {
	t.Helper()
	var runs api.List[api.Run]
	cliJSON(t, ps.s.env(), &runs, "protection", "runs", "web", ps.account)
	if len(runs.Items) == 0 {
		t.Fatal("no runs")
	}
	return runs.Items[0]
}

// stoppedRun runs now and checks that the run stops for confirmation with
// the standby as it was (want), and that reason is among its reasons.
func (ps *protectionSite) stoppedRun(t *testing.T, want map[string]replicationtest.NodeInfo, reason string) api.Run {
	t.Helper()
	out, ok := ps.runNow(t)
	if ok || !strings.Contains(out, "needs confirmation") || !strings.Contains(out, "poolctl protection confirm") {
		t.Fatalf("run-now --follow of a damaged source: ok=%v, want an error naming confirm:\n%s", ok, out)
	}
	r := ps.lastRun(t)
	if r.Status != api.RunNeedsConfirmation || r.StandbyJob != 0 || r.Guard == nil {
		t.Fatalf("run after damage: got %+v, want needs_confirmation without a restore job", r)
	}
	if !strings.Contains(strings.Join(r.Guard.Reasons, "\n"), reason) {
		t.Errorf("guard reasons %q, want one with %q", r.Guard.Reasons, reason)
	}
	replicationtest.SameNodes(t, "standby while the run waits", replicationtest.Describe(t, filepath.Join(ps.stbRoot, ps.account)), want)
	return r
}

// TestProtectionGuard: with real agents, deleting half of the source's
// files stops the run before the standby is touched; reject keeps the
// standby's copy and the next run stops again; confirm lets the change
// through. Rewriting the files with random bytes (what ransomware leaves)
// stops a run on incompressibility alone.
func TestProtectionGuard(t *testing.T) {
	ps := newProtectionSite(t, nil, func(s *server) string { return filepath.Join(s.data, "objects") })
	env := ps.s.env()
	home := filepath.Join(ps.srcRoot, ps.account)
	cli(t, env, "protection", "create", "web", ps.account, "--source", "src", "--standby", "stb", "--no-databases")
	if p := ps.protection(t); p.GuardChanged != 30 || p.GuardIncompressible != 80 {
		t.Fatalf("guard defaults: got %d/%d, want 30/80", p.GuardChanged, p.GuardIncompressible)
	}
	if out, ok := ps.runNow(t); !ok {
		t.Fatalf("first run failed:\n%s", out)
	}
	replicationtest.CompareTrees(t, home, filepath.Join(ps.stbRoot, ps.account))
	good := replicationtest.Describe(t, filepath.Join(ps.stbRoot, ps.account))

	// Delete every other small file: half of the account's files.
	var deleted int
	err := filepath.WalkDir(home, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".txt") {
			return err
		}
		if deleted++; deleted%2 == 0 {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := ps.stoppedRun(t, good, "files deleted")
	if g := r.Guard; g.FilesDeleted < 700 || g.ChangedPercent < 40 || g.GuardChanged != 30 {
		t.Errorf("guard figures: %+v, want about 750 deleted, ~50 %%", g)
	}
	var evs api.List[api.Event]
	cliJSON(t, env, &evs, "events", "--kind", "protection.needs_confirmation")
	if len(evs.Items) != 1 || !strings.Contains(evs.Items[0].Message, "needs confirmation") {
		t.Errorf("needs_confirmation events: %+v", evs.Items)
	}
	var show api.Protection
	cliJSON(t, env, &show, "protection", "show", "web", ps.account)
	if show.LastRun == nil || show.LastRun.Status != api.RunNeedsConfirmation {
		t.Errorf("protection show: last run %+v", show.LastRun)
	}

	// Reject: the standby keeps its copy; the next run stops the same way.
	id := strconv.FormatInt(r.ID, 10)
	cli(t, env, "protection", "reject", id)
	waitFor(t, 30*time.Second, "the rejected run ends", func() bool { return ps.lastRun(t).Status == api.RunRejected })
	if _, errOut, err := cliRun(env, "protection", "confirm", id); err == nil || !strings.Contains(errOut, "needs confirmation") {
		t.Errorf("confirm after reject: err %v, %s", err, errOut)
	}
	replicationtest.SameNodes(t, "standby after reject", replicationtest.Describe(t, filepath.Join(ps.stbRoot, ps.account)), good)
	r = ps.stoppedRun(t, good, "files deleted")

	// Confirm: the standby gets the change.
	cli(t, env, "protection", "confirm", strconv.FormatInt(r.ID, 10))
	waitFor(t, 2*time.Minute, "the confirmed run succeeds", func() bool {
		st := ps.lastRun(t).Status
		if st == api.RunFailed {
			t.Fatalf("confirmed run failed: %+v", ps.lastRun(t))
		}
		return st == api.RunSucceeded
	})
	replicationtest.CompareTrees(t, home, filepath.Join(ps.stbRoot, ps.account))
	good = replicationtest.Describe(t, filepath.Join(ps.stbRoot, ps.account))

	// Encryption: every file rewritten with random bytes of its size. With
	// the changed-files guard off, incompressibility alone stops the run.
	cli(t, env, "protection", "update", "web", ps.account, "--guard-changed", "0")
	var n uint64
	err = filepath.WalkDir(home, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || strings.HasSuffix(p, ".poolctl-account.json") {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n++
		if fi.Mode().Perm()&0o200 == 0 {
			return nil // read-only files are left as ransomware might
		}
		return os.WriteFile(p, replicationtest.RandBytes(n, int(fi.Size())), fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
	r = ps.stoppedRun(t, good, "does not compress")
	if g := r.Guard; g.IncompressiblePercent <= 80 || g.GuardChanged != 0 || len(g.Reasons) != 1 {
		t.Errorf("guard figures after encryption: %+v", g)
	}
	cli(t, env, "protection", "reject", strconv.FormatInt(r.ID, 10))
	waitFor(t, 30*time.Second, "the rejected run ends", func() bool { return ps.lastRun(t).Status == api.RunRejected })
	replicationtest.SameNodes(t, "standby after the encrypted run was rejected", replicationtest.Describe(t, filepath.Join(ps.stbRoot, ps.account)), good)
}
