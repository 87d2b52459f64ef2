package web

import (
	"testing"
	"time"
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
