package cloudflare

import (
	"context"
	"sync"
	"time"
)

// Clock is the time the client paces itself by; tests inject one whose
// Sleep advances it at once.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends (then it returns ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// bucket is a token bucket: up to burst requests at once, refilled so
// that no window of length window ever holds more than limit requests
// (burst + (limit-burst) over the window), which keeps the client under
// Cloudflare's per-user limit of 1,200 requests per 5 minutes even when
// it is counted over a sliding window.
type bucket struct {
	mu     sync.Mutex
	clock  Clock
	burst  float64
	rate   float64 // tokens per second
	tokens float64
	last   time.Time
}

func newBucket(c Clock, limit, burst int, window time.Duration) *bucket {
	return &bucket{clock: c, burst: float64(burst), rate: float64(limit-burst) / window.Seconds(), tokens: float64(burst), last: c.Now()}
}

// reserve takes a token and returns how long to wait before using it.
func (b *bucket) reserve() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// wait blocks until a request may be sent.
func (b *bucket) wait(ctx context.Context) error {
	if d := b.reserve(); d > 0 {
		return b.clock.Sleep(ctx, d)
	}
	return nil
}

// drain empties the bucket until t: the server said to wait.
func (b *bucket) drain(until time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.tokens, 0)
	if until.After(b.last) {
		b.last = until
	}
}

// Duration returns how long n requests take through a full bucket: what
// a plan of n requests costs at the limit, computed without sending any.
func Duration(n, limit, burst int, window time.Duration) time.Duration {
	if n <= burst {
		return 0
	}
	rate := float64(limit-burst) / window.Seconds()
	return time.Duration(float64(n-burst) / rate * float64(time.Second))
}
