package agent

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
				cancelled.Store(true) // the watch asks every 2 s: too late for this restore
			} else {
				e.stb.watchEvery = 5 * time.Millisecond
				var gets atomic.Int64
				e.fc.objHook = func(op, key string) error {
					if op == "get" && strings.Contains(key, "/chunks/") && gets.Add(1) == 5 {
						cancelled.Store(true)
						time.Sleep(100 * time.Millisecond) // the watch notices
					}
					return nil
				}
			}
			e.fc.mu.Unlock()
			_, err = e.restore(t.Context(), s)
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
			e.fc.objHook = nil
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
