package agent

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolctl/poolctl/api"
)

func TestHeartbeatSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := newFakeClient()
		fc.reply = func(n int) api.HeartbeatReply { return api.HeartbeatReply{SendFacts: n == 3} }
		a, _ := newTestAgent(t, fc, Config{})
		begin := time.Now()
		stop := start(t, a)
		time.Sleep(13 * time.Second)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		beats := fc.snapshot()
		if len(beats) != 7 {
			t.Fatalf("%d heartbeats in 13s at a 2s interval, want 7", len(beats))
		}
		if first := beats[0].at.Sub(begin); first < 0 || first >= time.Second {
			t.Errorf("first beat after %s, want a jitter in [0, 1s)", first)
		}
		for i := 1; i < len(beats); i++ {
			if gap := beats[i].at.Sub(beats[i-1].at); gap != 2*time.Second {
				t.Errorf("beat %d came %s after the previous one, want 2s", i, gap)
			}
		}
		for i, b := range beats {
			hb := b.hb
			if hb.Protocol != api.ProtocolVersion || hb.AgentVersion != "test" || hb.Interval.D() != 2*time.Second || hb.Metrics.MemTotal != 1 {
				t.Errorf("beat %d = %+v, want protocol, version, interval and metrics", i, hb)
			}
			// Facts and stack go with the first beat, and with the one after
			// the server asked (reply to beat 3).
			wantFacts := i == 0 || i == 4
			if (hb.Facts != nil) != wantFacts || (hb.Stack != nil) != wantFacts {
				t.Errorf("beat %d: facts sent %t, stack sent %t; want %t", i, hb.Facts != nil, hb.Stack != nil, wantFacts)
			}
		}
		if f := beats[0].hb.Facts; f == nil || *f != testFacts {
			t.Errorf("first beat facts = %+v, want %+v", f, testFacts)
		}
	})
}

// TestHeartbeatStackChange: a re-detected stack that differs goes out with
// the next beat; an unchanged one does not.
func TestHeartbeatStackChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := newFakeClient()
		a, _ := newTestAgent(t, fc, Config{HeartbeatInterval: 10 * time.Second})
		begin := time.Now()
		a.probes.stack = func(context.Context) api.Stack {
			if time.Since(begin) < 90*time.Second {
				return testStack
			}
			return api.Stack{HAProxy: &api.Component{Detected: true, Running: true}}
		}
		stop := start(t, a)
		time.Sleep(200 * time.Second)
		stop()
		// Stack passes run at 0, 60, 120 and 180 s; the change shows at 120 s.
		var sent []time.Duration
		for _, b := range fc.snapshot() {
			if b.hb.Stack != nil {
				sent = append(sent, b.at.Sub(begin))
				if b.hb.Facts == nil {
					t.Errorf("beat at %s carries the stack without the facts", b.at.Sub(begin))
				}
			}
		}
		if len(sent) != 2 || sent[0] >= 5*time.Second || sent[1] < 120*time.Second || sent[1] > 130*time.Second {
			t.Errorf("stack sent at %v, want with the first beat and the first beat after 120s", sent)
		}
	})
}

// TestHeartbeatOutage: during a 503 outage right after a good beat the agent
// retries at least every interval (a server that was just there is most
// likely restarting), logs the outage once, and resends facts and stack when the
// server is back.
func TestHeartbeatOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := newFakeClient()
		fc.beatErr = func(n int) error {
			if n >= 1 && n <= 9 {
				return apiError(503)
			}
			return nil
		}
		a, logs := newTestAgent(t, fc, Config{})
		a.rand = func(n int64) int64 { return n - 1 } // always the longest wait
		stop := start(t, a)
		time.Sleep(200 * time.Second)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		at := fc.snapshot()
		if len(at) < 13 {
			t.Fatalf("%d heartbeat attempts, want at least 13", len(at))
		}
		// Attempt 1 fails 2s after the first beat; the retries wait 1 s,
		// then the heartbeat interval: the server answered a moment ago, so
		// the growth is capped there (full jitter draws below the ceiling).
		wantGaps := []time.Duration{2 * time.Second, time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second,
			2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second, 2 * time.Second}
		for i, want := range wantGaps {
			gap := at[i+1].at.Sub(at[i].at)
			if i > 0 && i < 10 {
				want -= time.Nanosecond
			}
			if gap != want {
				t.Errorf("attempt %d came %s after attempt %d, want %s", i+1, gap, i, want)
			}
		}
		for i, b := range at[:13] {
			wantFacts := i == 0 || i >= 2 && i <= 10 // the first beat; every retry in the outage, until one lands
			if (b.hb.Facts != nil) != wantFacts || (b.hb.Stack != nil) != wantFacts {
				t.Errorf("attempt %d (ok=%t): facts sent %t, stack sent %t; want %t", i, b.ok, b.hb.Facts != nil, b.hb.Stack != nil, wantFacts)
			}
		}
		if n := logs.count("server unreachable"); n != 1 {
			t.Errorf("outage logged %d times, want once:\n%s", n, logs)
		}
		if n := logs.count("server reachable again"); n != 1 || logs.count("failed_beats=9") != 1 {
			t.Errorf("recovery logged %d times, want once with failed_beats=9:\n%s", n, logs)
		}
	})
}

// TestHeartbeatUnauthorized: a refused credential is logged once as an
// error and retried about once a minute, until the operator fixes it.
func TestHeartbeatUnauthorized(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := newFakeClient()
		fc.beatErr = func(n int) error {
			if n <= 2 {
				return apiError(401)
			}
			return nil
		}
		a, logs := newTestAgent(t, fc, Config{})
		a.rand = func(n int64) int64 { return 0 } // the shortest wait
		stop := start(t, a)
		time.Sleep(100 * time.Second)
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		at := fc.snapshot()
		for i := 1; i <= 3; i++ {
			if gap := at[i].at.Sub(at[i-1].at); gap != 30*time.Second {
				t.Errorf("retry %d after a 401 came %s later, want 30s (half the minute, no jitter)", i, gap)
			}
		}
		if !at[3].ok || at[3].hb.Facts == nil {
			t.Errorf("first accepted beat: ok=%t facts=%v, want accepted with facts", at[3].ok, at[3].hb.Facts)
		}
		if n := logs.count("server accepts the agent credential again"); n != 1 {
			t.Errorf("recovery logged %d times, want once:\n%s", n, logs)
		}
		if n := logs.count("level=ERROR msg=\"server refused the agent credential"); n != 1 {
			t.Errorf("refused credential logged %d times as an error, want once:\n%s", n, logs)
		}
	})
}

func TestHeartbeatRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := newFakeClient()
		fc.beatErr = func(n int) error {
			if n == 2 {
				return apiError(410)
			}
			return nil
		}
		a, logs := newTestAgent(t, fc, Config{})
		err := a.Run(t.Context())
		if !errors.Is(err, ErrRemoved) {
			t.Fatalf("Run = %v, want ErrRemoved", err)
		}
		if n := len(fc.snapshot()); n != 3 {
			t.Errorf("%d heartbeats, want 3 (the last answered 410)", n)
		}
		if logs.count("member removed") != 1 {
			t.Errorf("removal not logged:\n%s", logs)
		}
	})
}

func TestJobPollRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := newFakeClient()
		fc.pollErr = apiError(410)
		a, _ := newTestAgent(t, fc, Config{})
		if err := a.Run(t.Context()); !errors.Is(err, ErrRemoved) {
			t.Fatalf("Run = %v, want ErrRemoved", err)
		}
	})
}

func TestBackoffBounds(t *testing.T) {
	b := &backoff{min: time.Second, max: 30 * time.Second, rand: defaultRand}
	ceilings := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i := range 200 {
		ceil := ceilings[min(i, len(ceilings)-1)] * time.Second
		if d := b.next(); d < time.Millisecond || d >= ceil {
			t.Fatalf("try %d waits %s, want [1ms, %s)", i, d, ceil)
		}
	}
	b.reset()
	if d := b.next(); d >= time.Second {
		t.Errorf("after reset waits %s, want < 1s", d)
	}
}

// TestHeartbeatBackoffGrows: a server that has not answered for a long time
// (or never did) is retried with exponential back-off up to the 30 s cap,
// so a fleet does not hammer a server that is gone.
func TestHeartbeatBackoffGrows(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   int // beats that succeed before the outage
	}{{"never reached", 0}, {"outage longer than ten minutes", 1}} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fc := newFakeClient()
				fc.pollErr = errors.New("dial tcp 127.0.0.1:8443: connect: connection refused")
				fc.beatErr = func(n int) error {
					if n < c.ok {
						return nil
					}
					return fc.pollErr
				}
				a, _ := newTestAgent(t, fc, Config{})
				a.rand = func(n int64) int64 { return n - 1 } // always the longest wait
				stop := start(t, a)
				time.Sleep(20 * time.Minute)
				_ = stop()
				at := fc.snapshot()
				var late []time.Duration // gaps after the first ten minutes
				for i := 1; i < len(at); i++ {
					gap := at[i].at.Sub(at[i-1].at).Round(time.Second)
					if at[i].at.Sub(at[0].at) > 11*time.Minute {
						late = append(late, gap)
					}
					if c.ok == 0 && i <= 5 {
						if want := time.Second << (i - 1); gap != want {
							t.Errorf("retry %d came %s after the last, want %s", i, gap, want)
						}
					}
				}
				if len(late) == 0 || late[0] != 30*time.Second || late[len(late)-1] != 30*time.Second {
					t.Errorf("gaps after ten minutes: %v, want the 30 s cap", late)
				}
			})
		})
	}
}

// TestFirstBeatAfterReconnect: when the job poll gets through after an
// outage, the heartbeat goes out at once instead of at the end of its
// back-off.
func TestFirstBeatAfterReconnect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fc := newFakeClient()
		down := errors.New("dial tcp 127.0.0.1:8443: connect: connection refused")
		var outage atomic.Bool
		fc.beatErr = func(n int) error {
			// Heartbeats get through only once a poll has: the poll
			// reconnects first, and must bring the heartbeat along.
			if outage.Load() && len(fc.okPolls) == 0 {
				return down
			}
			return nil
		}
		a, _ := newTestAgent(t, fc, Config{})
		a.reach.recentFor = 0 // a long outage: the back-off has grown to 30 s
		a.rand = func(n int64) int64 { return n - 1 }
		stop := start(t, a)
		time.Sleep(5 * time.Second)
		fc.mu.Lock()
		outage.Store(true)
		fc.pollErr, fc.okPolls = down, nil
		fc.mu.Unlock()
		time.Sleep(3 * time.Minute)
		fc.jobs <- api.Job{ID: 1, Kind: "facts.refresh"} // answered at once, not at the end of a long poll
		fc.mu.Lock()
		fc.pollErr = nil
		fc.mu.Unlock()
		time.Sleep(2 * time.Minute)
		_ = stop()
		fc.mu.Lock()
		polled := fc.okPolls
		fc.mu.Unlock()
		if len(polled) == 0 {
			t.Fatal("no poll got through after the outage")
		}
		for _, b := range fc.snapshot() {
			if b.ok && b.at.After(polled[0].Add(-time.Nanosecond)) {
				if d := b.at.Sub(polled[0]); d > 10*time.Millisecond {
					t.Fatalf("first beat %s after the poll got through, want at once", d)
				}
				return
			}
		}
		t.Fatal("no beat after the server returned")
	})
}
