package web

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
)

func ev(at time.Time, kind, member, from string) api.Event {
	e := api.Event{Time: at, Kind: kind, Member: member}
	if from != "" {
		e.Data, _ = json.Marshal(map[string]string{"from": from, "to": strings.TrimPrefix(kind, "member.")})
	}
	return e
}

func TestDashboardUptime(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	h := time.Hour
	for _, tc := range []struct {
		name string
		evs  []api.Event
		ms   []api.Member
		want float64
		ok   bool
	}{
		{"never reported", nil, []api.Member{{Name: "a", Status: api.StatusPending}}, 0, false},
		{"healthy all along", nil, []api.Member{{Name: "a", Status: api.StatusHealthy}}, 1, true},
		{"down for a quarter", []api.Event{ev(t0.Add(h), "member.down", "a", "healthy"), ev(t0.Add(2*h), "member.healthy", "a", "down")},
			[]api.Member{{Name: "a", Status: api.StatusHealthy}}, 0.75, true},
		{"a standby covers", []api.Event{ev(t0.Add(h), "member.down", "a", "healthy")},
			[]api.Member{{Name: "a", Status: api.StatusDown}, {Name: "b", Status: api.StatusHealthy}}, 1, true},
		{"pending time does not count", []api.Event{ev(t0, "member.added", "a", ""), ev(t0.Add(2*h), "member.healthy", "a", "pending"),
			ev(t0.Add(3*h), "member.down", "a", "healthy")}, []api.Member{{Name: "a", Status: api.StatusDown}}, 0.5, true},
		{"removed member", []api.Event{ev(t0.Add(h), "member.healthy", "a", "pending"), ev(t0.Add(2*h), "member.removed", "a", "")}, nil, 1, true},
	} {
		got, ok := uptime(tc.evs, tc.ms, t0, t0.Add(4*h))
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: uptime %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDashboardSparklines(t *testing.T) {
	now := time.Unix(1_000_000, 0).Truncate(time.Minute).Add(30 * time.Second)
	var samples []store.Sample
	for i := 0; i < 60; i++ {
		if i >= 20 && i < 30 {
			continue // the agent was silent
		}
		samples = append(samples, store.Sample{At: now.Add(-time.Duration(60-i) * time.Minute).Truncate(time.Minute), CPU: float64(i), Mem: 50, Load1: 2, NetRx: 1024})
	}
	sp := sparks(samples, now)
	if len(sp) != 6 {
		t.Fatalf("%d sparklines, want 6", len(sp))
	}
	cpu := sp[0]
	if cpu.Empty || cpu.Last != "59%" || cpu.Peak != "59%" {
		t.Errorf("cpu: %+v", cpu)
	}
	if n := strings.Count(cpu.Path, "M"); n != 2 {
		t.Errorf("cpu path has %d segments, want 2 (one gap): %s", n, cpu.Path)
	}
	if sp[2].Last != "0%" || sp[4].Last != "1.0 KiB/s" {
		t.Errorf("disk %q, net in %q", sp[2].Last, sp[4].Last)
	}
	if e := sparks(nil, now); !e[0].Empty || e[0].Last != "—" {
		t.Errorf("no samples: %+v", e[0])
	}
}
