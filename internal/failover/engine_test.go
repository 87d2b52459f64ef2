package failover

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const probeURL = "http://192.0.2.1/health"

// webPool adds pool "web" (delay 30s) with node1 (priority 1, probed at
// probe unless it is empty), node2 (2) and node3 (3), all healthy.
func webPool(w *world, probe string, tweak ...func(*PoolState)) *PoolState {
	p := PoolState{Name: "web", Record: "www.example.test.", Delay: 30 * time.Second, TTL: 30}
	for _, f := range tweak {
		f(&p)
	}
	node1 := "node1@192.0.2.1/1"
	if probe != "" {
		node1 += "!" + probe
	}
	return w.pool(p, node1, "node2@192.0.2.2/2", "node3@192.0.2.3/3")
}

// activate runs the first step, which makes node1 active, and checks it;
// it returns half a tick later.
func activate(t *testing.T, w *world, e *Engine, p *PoolState) {
	t.Helper()
	if err := e.Step(t.Context()); err != nil {
		t.Fatalf("first Step: %v", err)
	}
	if got := w.active(p.ID); got != "node1" {
		t.Fatalf("active member after the first step: got %q, want node1", got)
	}
	time.Sleep(500 * time.Millisecond) // later publications are after this one
}

// TestConfirmation covers who decides a cut once node1's agent has been
// silent for the delay: the majority of the observers that answered.
func TestConfirmation(t *testing.T) {
	tests := []struct {
		name      string
		probe     string
		up        bool     // the service answers
		cut       []string // partitioned observers: they see it fail
		mute      []string // witnesses that do not answer
		wantCut   bool     // the record moves to node2
		wantFail  int      // observers that saw it fail
		wantObs   int      // observers that answered
		wantKinds []string // failover events after activation
	}{
		{name: "no probe: heartbeat loss decides", wantCut: true,
			wantKinds: []string{KindCut}},
		{name: "service down for everyone", probe: probeURL, wantCut: true, wantFail: 3, wantObs: 3,
			wantKinds: []string{KindCut}},
		{name: "server partitioned: its failed probe alone is outvoted", probe: probeURL, up: true,
			cut: []string{ServerObserver}, wantFail: 1, wantObs: 3, wantKinds: []string{KindAgentLost}},
		{name: "one witness partitioned: outvoted", probe: probeURL, up: true,
			cut: []string{"node2"}, wantFail: 1, wantObs: 3, wantKinds: []string{KindAgentLost}},
		{name: "server and one witness partitioned: majority fails", probe: probeURL, up: true,
			cut: []string{ServerObserver, "node2"}, wantCut: true, wantFail: 2, wantObs: 3, wantKinds: []string{KindCut}},
		{name: "half is not a majority", probe: probeURL, up: true,
			cut: []string{ServerObserver}, mute: []string{"node3"}, wantFail: 1, wantObs: 2,
			wantKinds: []string{KindAgentLost}},
		{name: "silent witnesses do not count", probe: probeURL,
			mute: []string{"node2", "node3"}, wantCut: true, wantFail: 1, wantObs: 1, wantKinds: []string{KindCut}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld()
				p := webPool(w, tt.probe)
				w.set(func(w *world) {
					w.up[tt.probe] = tt.up
					for _, o := range tt.cut {
						w.cut[o] = true
					}
					for _, o := range tt.mute {
						w.mute[o] = true
					}
				})
				e := w.engine()
				activate(t, w, e, p)
				w.kill(p.ID, "node1")
				killed := time.Now()
				runFor(t, e, 29*time.Second, nil)
				if got := w.active(p.ID); got != "node1" {
					t.Fatalf("active member 29s into the delay: got %q, want node1", got)
				}
				runFor(t, e, 60*time.Second, nil)

				wantActive := "node1"
				if tt.wantCut {
					wantActive = "node2"
				}
				if got := w.active(p.ID); got != wantActive {
					t.Errorf("active member: got %q, want %q", got, wantActive)
				}
				kinds := slices.DeleteFunc(w.kinds("web"), func(k string) bool { return k == KindActivated })
				if !slices.Equal(kinds, tt.wantKinds) {
					t.Errorf("events: got %v, want %v", kinds, tt.wantKinds)
				}
				pubs := w.pubs("web", killed)
				if !tt.wantCut {
					if len(pubs) != 0 {
						t.Errorf("publications without a cut: got %v, want none", pubs)
					}
					ev := w.event(t, "web", KindAgentLost)
					checkVotes(t, decode(t, ev), tt.wantFail, tt.wantObs)
					return
				}
				if len(pubs) != 1 || pubs[0].Addr != "192.0.2.2" {
					t.Fatalf("publications after the cut: got %v, want one for 192.0.2.2", pubs)
				}
				if d := pubs[0].At.Sub(killed); d < 30*time.Second || d > 31*time.Second {
					t.Errorf("cut %s after the last heartbeat, want within [30s, 31s]", d)
				}
				ev := w.event(t, "web", KindCut)
				data := decode(t, ev)
				if data["standby"] != "node2" || data["from"] != "node1" || data["heartbeat_age"] == nil {
					t.Errorf("cut data: got %s, want from node1, standby node2 and a heartbeat age", ev.Data)
				}
				if tt.probe != "" {
					checkVotes(t, data, tt.wantFail, tt.wantObs)
				}
				b := w.banners[p.ID]
				if b == nil || b.From != "node1" || b.To != "node2" || !strings.HasPrefix(b.Message, "failed over to node2 at ") {
					t.Errorf("banner: got %+v, want failed over from node1 to node2", b)
				}
			})
		})
	}
}

func checkVotes(t *testing.T, data map[string]any, failed, answered int) {
	t.Helper()
	if data["failed"] != float64(failed) || data["answered"] != float64(answered) {
		t.Errorf("votes: got %v of %v failed, want %d of %d", data["failed"], data["answered"], failed, answered)
	}
	if obs, _ := data["observers"].([]any); len(obs) != answered {
		t.Errorf("observers in data: got %v, want %d", data["observers"], answered)
	}
}

// TestAgentLostThenServiceStops: a silent agent whose service answers is
// reported once and not cut; when the service stops later, the periodic
// re-confirmation cuts.
func TestAgentLostThenServiceStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		p := webPool(w, probeURL)
		w.set(func(w *world) { w.up[probeURL] = true })
		e := w.engine()
		activate(t, w, e, p)
		w.kill(p.ID, "node1")
		killed := time.Now()
		runFor(t, e, 5*time.Minute, nil)
		if got := w.count("web", KindAgentLost); got != 1 {
			t.Errorf("agent_lost events over 5 minutes: got %d, want 1", got)
		}
		if got := w.pubs("web", killed); len(got) != 0 {
			t.Fatalf("publications while the service answers: got %v, want none", got)
		}
		ev := w.event(t, "web", KindAgentLost)
		if !strings.Contains(ev.Message, "only 0 of 3 observers") {
			t.Errorf("agent_lost message: got %q, want it to say who observed what", ev.Message)
		}

		w.set(func(w *world) { w.up[probeURL] = false })
		stopped := time.Now()
		runFor(t, e, time.Minute, func() bool { return w.active(p.ID) == "node2" })
		if got := w.active(p.ID); got != "node2" {
			t.Fatalf("active member after the service stopped: got %q, want node2", got)
		}
		if d := time.Since(stopped); d > DefaultReconfirm+time.Second {
			t.Errorf("cut %s after the service stopped, want within %s", d, DefaultReconfirm+time.Second)
		}
		if got := w.count("web", KindAgentLost); got != 1 {
			t.Errorf("agent_lost events: got %d, want 1", got)
		}
	})
}

// TestNoCutWhileBeatsArrive: heartbeats that keep coming within the delay,
// however sparse, and a member revived during the delay, never cut.
func TestNoCutWhileBeatsArrive(t *testing.T) {
	tests := []struct {
		name  string
		probe string
		beats []time.Duration // offsets of single heartbeats after node1 went silent
		alive time.Duration   // node1 beats continuously again from here (0 = never)
	}{
		{name: "beat every 25s", beats: every(25*time.Second, 5*time.Minute)},
		{name: "beat every 29s with probes", probe: probeURL, beats: every(29*time.Second, 5*time.Minute)},
		{name: "revived before probing", alive: 20 * time.Second},
		{name: "revived after the probes saw it fail", probe: probeURL, alive: 28 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld()
				p := webPool(w, tt.probe)
				e := w.engine()
				activate(t, w, e, p)
				w.kill(p.ID, "node1")
				start := time.Now()
				for time.Since(start) < 5*time.Minute+10*time.Second {
					at := time.Since(start)
					if slices.Contains(tt.beats, at) {
						w.beat(p.ID, "node1")
					}
					if tt.alive != 0 && at == tt.alive {
						w.revive(p.ID, "node1")
					}
					if err := e.Step(t.Context()); err != nil {
						t.Fatal(err)
					}
					time.Sleep(500 * time.Millisecond)
				}
				if got := w.active(p.ID); got != "node1" {
					t.Errorf("active member: got %q, want node1", got)
				}
				if got := w.pubs("web", start); len(got) != 0 {
					t.Errorf("publications: got %v, want none", got)
				}
				kinds := slices.DeleteFunc(w.kinds("web"), func(k string) bool { return k == KindActivated })
				if len(kinds) != 0 {
					t.Errorf("events: got %v, want none", kinds)
				}
			})
		})
	}
}

func every(d, until time.Duration) []time.Duration {
	var out []time.Duration
	for t := d; t <= until; t += d {
		out = append(out, t)
	}
	return out
}

// TestAllMembersDown: with no healthy member the record stays (one
// fail-static event, no publish); a member that comes back and settles
// then takes over.
func TestAllMembersDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		p := webPool(w, probeURL)
		e := w.engine()
		activate(t, w, e, p)
		w.kill(p.ID, "node1", "node2", "node3")
		killed := time.Now()
		runFor(t, e, 5*time.Minute, nil)
		if got := w.count("web", KindFailStatic); got != 1 {
			t.Errorf("fail_static events: got %d, want 1", got)
		}
		if got := w.pubs("web", killed); len(got) != 0 {
			t.Errorf("publications with every member down: got %v, want none", got)
		}
		if got := w.active(p.ID); got != "node1" {
			t.Errorf("active member: got %q, want node1 (fail-static)", got)
		}
		ev := w.event(t, "web", KindFailStatic)
		if !strings.Contains(ev.Message, "stays on node1") {
			t.Errorf("fail_static message: got %q, want it to say the record stays on node1", ev.Message)
		}

		w.revive(p.ID, "node3")
		revived := time.Now()
		runFor(t, e, time.Minute, func() bool { return w.active(p.ID) == "node3" })
		if got := w.active(p.ID); got != "node3" {
			t.Fatalf("active member after node3 came back: got %q, want node3", got)
		}
		if d := time.Since(revived); d < 10*time.Second || d > 11*time.Second {
			t.Errorf("cut %s after node3 came back, want after the 10s settle time", d)
		}
		if got := w.kinds("web"); !slices.Contains(got, KindHeld) {
			t.Errorf("events: got %v, want a held event while node3 settled", got)
		}
	})
}

// TestTwoPoolsSharingAddresses: two pools on the same servers decide
// independently, and one pool's slow witnesses do not delay the other.
func TestTwoPoolsSharingAddresses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld()
		const web, mail = "tcp://192.0.2.1:80", "tcp://192.0.2.1:25"
		a := w.pool(PoolState{Name: "web", Record: "www.example.test.", Delay: 30 * time.Second},
			"a1@192.0.2.1/1!"+web, "a2@192.0.2.2/2")
		b := w.pool(PoolState{Name: "mail", Record: "mx.example.test.", Delay: 30 * time.Second},
			"b1@192.0.2.1/1!"+mail, "b2@192.0.2.2/2")
		w.set(func(w *world) {
			w.up[mail] = true
			w.slow[b.ID] = time.Hour // mail's witnesses never answer in time
		})
		e := w.engine()
		runFor(t, e, time.Second, nil)
		if w.active(a.ID) != "a1" || w.active(b.ID) != "b1" {
			t.Fatalf("active members: got %s and %s, want a1 and b1", w.active(a.ID), w.active(b.ID))
		}
		w.kill(a.ID, "a1")
		w.kill(b.ID, "b1")
		killed := time.Now()
		runFor(t, e, 31*time.Second, func() bool { return w.active(a.ID) == "a2" })
		if d := time.Since(killed); w.active(a.ID) != "a2" || d > 31*time.Second {
			t.Fatalf("pool web: active %s after %s, want a2 within 31s", w.active(a.ID), d)
		}
		runFor(t, e, 2*time.Minute, nil)
		if got := w.active(b.ID); got != "b1" {
			t.Errorf("pool mail: active member got %q, want b1 (its service answers)", got)
		}
		if got := w.count("mail", KindAgentLost); got != 1 {
			t.Errorf("pool mail: agent_lost events got %d, want 1", got)
		}
		if got := w.pubs("mail", killed); len(got) != 0 {
			t.Errorf("pool mail: publications got %v, want none", got)
		}
		if got := w.pubs("web", killed); len(got) != 1 || got[0].Record != "www.example.test." {
			t.Errorf("pool web: publications got %v, want one of www.example.test.", got)
		}
	})
}
