package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolctl/poolctl/api"
)

func job(id int64, kind string, args any) api.Job {
	b, _ := json.Marshal(args)
	return api.Job{ID: id, Kind: kind, Args: b, Status: api.JobRunning}
}

func TestJobsRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := newFakeClient()
		a, _ := newTestAgent(t, fc, Config{})
		var want []string
		for i := range 120 {
			want = append(want, fmt.Sprintf("line %d", i))
		}
		a.Register("test.echo", func(ctx context.Context, j api.Job, log func(string)) (any, error) {
			for _, l := range want {
				log(l)
			}
			return map[string]int{"n": len(want)}, nil
		})
		a.Register("test.panic", func(context.Context, api.Job, func(string)) (any, error) { panic("boom") })
		a.Register("test.fail", func(_ context.Context, _ api.Job, log func(string)) (any, error) {
			log("partial\nwork")
			return map[string]int{"done": 1}, errors.New("disk full")
		})
		stop := start(t, a)
		fc.jobs <- job(1, "test.echo", nil)
		fc.jobs <- job(2, "no.such.kind", nil)
		fc.jobs <- job(3, "test.panic", nil)
		fc.jobs <- job(4, "test.fail", nil)
		fc.jobs <- job(5, KindShellExec, ShellExecArgs{Command: "true"})
		time.Sleep(5 * time.Second)
		stop()

		fc.mu.Lock()
		defer fc.mu.Unlock()
		if got := fc.logs[1]; !slices.Equal(got, want) {
			t.Errorf("job 1 log = %d lines %q..., want the 120 lines in order", len(got), got[:min(3, len(got))])
		}
		if n := fc.logCalls[1]; n < 1 || n > 3 {
			t.Errorf("job 1 log sent in %d calls, want it batched", n)
		}
		tests := []struct {
			id      int64
			ok      bool
			result  string
			errLike string
		}{
			{1, true, `{"n":120}`, ""},
			{2, false, "", `unknown job kind "no.such.kind": this agent runs agent.update, facts.refresh, probe.check, service.status, shell.exec, test.echo, test.fail, test.panic`},
			{3, false, "", `job handler "test.panic" panicked: boom`},
			{4, false, `{"done":1}`, "disk full"},
			{5, false, "", "shell.exec is disabled on this server"},
		}
		for _, tt := range tests {
			r, ok := fc.results[tt.id]
			if !ok {
				t.Errorf("job %d: no result reported", tt.id)
				continue
			}
			if r.OK != tt.ok || string(r.Result) != tt.result || !strings.Contains(r.Error, tt.errLike) {
				t.Errorf("job %d result = ok %t, result %s, error %q; want ok %t, result %s, error containing %q",
					tt.id, r.OK, r.Result, r.Error, tt.ok, tt.result, tt.errLike)
			}
			if !tt.ok && !slices.Contains(fc.logs[tt.id], "error: "+r.Error) {
				t.Errorf("job %d: error not in its log %q", tt.id, fc.logs[tt.id])
			}
		}
		if got := fc.logs[4][:2]; !slices.Equal(got, []string{"partial", "work"}) {
			t.Errorf("job 4 log starts %q, want the logged text split into lines", got)
		}
	})
}

// TestJobsBounded: at most four jobs run at once, and the agent does not
// lease more jobs than it can start.
func TestJobsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := newFakeClient()
		a, _ := newTestAgent(t, fc, Config{})
		release := make(chan struct{})
		var running, peak atomic.Int32
		a.Register("test.block", func(ctx context.Context, _ api.Job, _ func(string)) (any, error) {
			n := running.Add(1)
			defer running.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			select {
			case <-release:
				return nil, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
		stop := start(t, a)
		for i := range 6 {
			fc.jobs <- job(int64(10+i), "test.block", nil)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if n, left := running.Load(), len(fc.jobs); n != 4 || left != 2 {
			t.Errorf("%d jobs running and %d still queued, want 4 and 2", n, left)
		}
		close(release)
		time.Sleep(time.Second)
		stop()
		fc.mu.Lock()
		defer fc.mu.Unlock()
		if len(fc.results) != 6 || peak.Load() != 4 {
			t.Errorf("%d results, peak concurrency %d; want 6 and 4", len(fc.results), peak.Load())
		}
	})
}

// TestJobLogLease: a quiet job's lease is renewed with empty log batches, and
// lines logged while the server is unreachable arrive later, in order.
func TestJobLogLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := newFakeClient()
		fc.logErr = func(call int) error {
			if call >= 3 && call <= 10 {
				return apiError(503)
			}
			return nil
		}
		a, _ := newTestAgent(t, fc, Config{})
		a.Register("test.slow", func(ctx context.Context, _ api.Job, log func(string)) (any, error) {
			for i := range 4 {
				log(fmt.Sprintf("step %d", i))
				time.Sleep(20 * time.Second)
			}
			return nil, nil
		})
		stop := start(t, a)
		fc.jobs <- job(7, "test.slow", nil)
		time.Sleep(2 * time.Minute)
		stop()
		fc.mu.Lock()
		defer fc.mu.Unlock()
		if got, want := fc.logs[7], []string{"step 0", "step 1", "step 2", "step 3"}; !slices.Equal(got, want) {
			t.Errorf("log = %q, want %q", got, want)
		}
		// 80 s of work: 4 batches with lines plus keepalives in the quiet
		// stretches and the retries after failures.
		if n := fc.logCalls[7]; n < 10 {
			t.Errorf("%d log calls, want lease renewals in the quiet stretches", n)
		}
		if r := fc.results[7]; !r.OK {
			t.Errorf("result = %+v, want ok", r)
		}
	})
}

// TestJobStopping: a job running when the agent stops is reported failed.
func TestJobStopping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := newFakeClient()
		a, _ := newTestAgent(t, fc, Config{})
		a.Register("test.forever", func(ctx context.Context, _ api.Job, _ func(string)) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		})
		stop := start(t, a)
		fc.jobs <- job(9, "test.forever", nil)
		time.Sleep(time.Second)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		fc.mu.Lock()
		defer fc.mu.Unlock()
		if r := fc.results[9]; r.OK || !strings.Contains(r.Error, "agent stopping") {
			t.Errorf("result = %+v, want failed with \"agent stopping\"", r)
		}
	})
}

func TestServiceStatus(t *testing.T) {
	fc := newFakeClient()
	a, _ := newTestAgent(t, fc, Config{})
	a.probes.procs = func(context.Context) (procSet, error) {
		return procSet{{name: "nginx", exe: "/usr/sbin/nginx"}}, nil
	}
	var lines []string
	res, err := a.serviceStatus(t.Context(), job(1, KindServiceStatus, ServiceStatusArgs{Services: []string{"nginx", "php-fpm"}}),
		func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatalf("service.status: %v", err)
	}
	// The stack was not detected yet: the job detects it (MariaDB, from the
	// fake probe) and reads the running state now (mariadbd is not running).
	want := ServiceStatusResult{
		Components: map[string]ServiceState{"mariadb": {Detected: true, Running: false, Version: "10.11.19-MariaDB"}},
		Services:   map[string]ServiceState{"nginx": {Detected: true, Running: true}, "php-fpm": {}},
	}
	assertJSON(t, "service.status", res, want)
	if len(lines) == 0 {
		t.Error("service.status logged nothing")
	}
	if _, err := a.serviceStatus(t.Context(), api.Job{Kind: KindServiceStatus, Args: []byte(`{"service":["x"]}`)}, func(string) {}); err == nil {
		t.Error("service.status accepted an unknown argument")
	}
}

func TestFactsRefresh(t *testing.T) {
	fc := newFakeClient()
	a, _ := newTestAgent(t, fc, Config{})
	a.snap.setFacts(testFacts)
	a.snap.delivered(a.snap.gen)
	res, err := a.factsRefresh(t.Context(), job(1, KindFactsRefresh, nil), func(string) {})
	if err != nil {
		t.Fatalf("facts.refresh: %v", err)
	}
	assertJSON(t, "facts.refresh", res, FactsRefreshResult{Facts: &testFacts, Stack: &testStack})
	if f, st, _, need := a.snap.pending(); !need || f == nil || st == nil {
		t.Error("after facts.refresh the next heartbeat does not carry facts and stack")
	}
}
