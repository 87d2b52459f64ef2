package web

import (
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0 ms", 257 * time.Millisecond: "257 ms", 2500 * time.Millisecond: "2.5 s", 2 * time.Second: "2 s",
		45 * time.Second: "45 s", 4*time.Minute + 12*time.Second: "4 min 12 s", 5 * time.Minute: "5 min",
		4*time.Hour + 36*time.Minute: "4 h 36 min", 30 * time.Hour: "30 h", 74 * time.Hour: "3 days 2 h", 7 * 24 * time.Hour: "7 days",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestPoolStatus(t *testing.T) {
	for _, tt := range []struct {
		p    api.Pool
		want string
	}{
		{api.Pool{}, "no members"},
		{api.Pool{MemberCount: 1, PendingCount: 1}, "waiting for agents"},
		{api.Pool{MemberCount: 3, PendingCount: 1, HealthyCount: 2}, "healthy, 1 waiting"},
		{api.Pool{MemberCount: 2, HealthyCount: 2}, "all healthy"},
		{api.Pool{MemberCount: 2, PendingCount: 1}, "down"},
		{api.Pool{MemberCount: 2, HealthyCount: 1}, "degraded"},
		{api.Pool{MemberCount: 2, HealthyCount: 1, Banner: &api.Banner{}}, "failed over · degraded"},
	} {
		if got, _ := poolStatus(tt.p); got != tt.want {
			t.Errorf("poolStatus(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}
