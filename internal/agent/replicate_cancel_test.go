package agent

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/replication/replicationtest"
)

// A restore whose job the server cancelled (as a DNS cut to the standby
// does: the standby serves the live copy now) never swaps its copy in:
// not when the server says so right before the swap, and not when it says
// so while the restore is under way.
func TestRestoreCancelledByServer(t *testing.T) {
	for _, when := range []string{"before the swap", "during the restore"} {
		t.Run(strings.ReplaceAll(when, " ", "-"), func(t *testing.T) {
			e := newReplEnv(t)
			files := genAccount(t, e.srcHome(), 60)
			e.fullRun(t)
			before := replicationtest.Describe(t, e.stbHome())
			var idx []int
			for i := range 30 {
				idx = append(idx, i)
			}
			change(t, e.srcHome(), files, 7, idx...)
			s, err := e.snapshot(t.Context())
			must(t, err)

			var cancelled atomic.Bool
			restoreJob := int64(200 + e.run)
			e.fc.mu.Lock()
			e.fc.logErr = func(int) error {
				if cancelled.Load() {
					return apiError(410)
				}
				return nil
			}
			if when == "before the swap" {
				cancelled.Store(true) // the job's log asks every 5 s: too late for this restore
				e.fc.mu.Unlock()
				_, err = e.restore(t.Context(), s)
			} else {
				// The restore runs as the agent runs jobs: the 410 that
				// answers its job's log stream ends its context.
				var gets atomic.Int64
				e.fc.objWait = func(ctx context.Context, op, key string) error {
					if op != "get" || !strings.Contains(key, "/chunks/") || gets.Add(1) != 5 {
						return nil
					}
					cancelled.Store(true)
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(time.Minute):
						return errors.New("the job's context did not end after the server answered 410")
					}
				}
				e.fc.mu.Unlock()
				err = e.runRestoreJob(t, s)
			}
			if !errors.Is(err, errJobCancelled) || !strings.Contains(err.Error(), "previous copy was kept") {
				t.Fatalf("restore of a cancelled job: got %v, want errJobCancelled and the copy kept", err)
			}
			if swapCheck := strings.Contains(err.Error(), "were not swapped in"); swapCheck != (when == "before the swap") {
				t.Errorf("restore cancelled %s: got %v, want it stopped %s", when, err, when)
			}
			replicationtest.SameNodes(t, "standby after the cancelled restore", replicationtest.Describe(t, e.stbHome()), before)
			assertNoStaging(t, e.stbHome())
			e.fc.mu.Lock()
			calls := e.fc.logCalls[restoreJob]
			e.fc.mu.Unlock()
			if calls == 0 {
				t.Error("the restore never asked the server about its job")
			}

			// A job that runs restores as before, asking first.
			cancelled.Store(false)
			e.fc.mu.Lock()
			e.fc.objWait = nil
			e.fc.mu.Unlock()
			if _, err := e.restore(t.Context(), s); err != nil {
				t.Fatalf("restore of a running job: %v", err)
			}
			replicationtest.SameNodes(t, "standby after the restore", replicationtest.Describe(t, e.stbHome()), replicationtest.Describe(t, e.srcHome()))
			if got := e.logged("the server confirmed the job still runs: swapping the files in"); len(got) == 0 {
				t.Error("the restore did not log its check with the server")
			}
		})
	}
}

// runRestoreJob runs the restore of s as an agent runs a job it leased
// (runJob: log stream, lease renewals every few milliseconds, result) and
// returns the handler's error. A job the server cancelled reports no
// result.
func (e *replEnv) runRestoreJob(t *testing.T, s api.SnapshotResult) error {
	t.Helper()
	a, _ := newTestAgent(t, e.fc, Config{})
	a.leaseKeepalive, a.logFlushEvery = 5*time.Millisecond, time.Millisecond
	var herr error
	a.Register(api.KindReplicationRestore, func(ctx context.Context, j api.Job, log func(string)) (any, error) {
		out, err := e.stb.restore(ctx, j, log)
		herr = err
		return out, err
	})
	args := api.RestoreArgs{Protection: 1, Run: e.run, Account: s.Account, Prefix: "protections/1/",
		FilesManifest: s.FilesManifest, DatabasesManifest: s.DatabasesManifest}
	id := 200 + e.run
	a.runJob(t.Context(), job(id, api.KindReplicationRestore, args), a.log)
	e.fc.mu.Lock()
	res, reported := e.fc.results[id]
	e.fc.mu.Unlock()
	if reported && !res.OK {
		t.Errorf("job %d: result %+v reported for a job the server cancelled", id, res)
	}
	return herr
}
