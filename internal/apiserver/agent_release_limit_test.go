package apiserver

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
)

func TestReleaseLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newReleaseLimiter(func() time.Time { return now })
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i := range releaseBurst {
		if _, ok := l.allow(a); !ok {
			t.Fatalf("request %d of the burst: refused, want allowed", i+1)
		}
	}
	wait, ok := l.allow(a)
	if ok || wait != releaseEvery {
		t.Fatalf("request past the burst: got allowed=%v wait %s, want refused, wait %s", ok, wait, releaseEvery)
	}
	if _, ok := l.allow(b); !ok {
		t.Error("another source: refused, want its own burst")
	}
	now = now.Add(releaseEvery)
	if _, ok := l.allow(a); !ok {
		t.Errorf("after %s: refused, want one more request", releaseEvery)
	}
	if _, ok := l.allow(a); ok {
		t.Error("right after: allowed, want refused")
	}

	// Downloads in progress, per source and in all.
	var dones []func()
	for range maxDownloadsPerSource {
		done, err := l.start(a)
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	if _, err := l.start(a); !errors.Is(err, apperr.TooManyRequests) {
		t.Errorf("download %d from one source: got %v, want TooManyRequests", maxDownloadsPerSource+1, err)
	}
	dones[0]()
	done, err := l.start(a)
	if err != nil {
		t.Errorf("after one ended: got %v, want allowed", err)
	} else {
		done()
	}
	for i := 0; l.total < maxDownloads; i++ {
		done, err := l.start(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		if err != nil {
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	if _, err := l.start(b); !errors.Is(err, apperr.Unavailable) {
		t.Errorf("download past %d in all: got %v, want Unavailable", maxDownloads, err)
	}
	for _, d := range dones[1:] {
		d()
	}
	if l.total != 0 || len(l.active) != 0 {
		t.Errorf("after all ended: got total %d, %d sources, want none", l.total, len(l.active))
	}

	// Many sources: the table is pruned, not grown without bound.
	now = now.Add(time.Hour)
	for i := range maxLimitedSources + 10 {
		l.allow(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}))
	}
	if n := len(l.buckets); n > maxLimitedSources {
		t.Errorf("buckets: got %d, want at most %d", n, maxLimitedSources)
	}
}
