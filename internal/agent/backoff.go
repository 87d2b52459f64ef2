package agent

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/poolctl/poolctl/client"
)

// backoff computes retry delays: capped exponential growth with full jitter,
// so a fleet that lost its server does not come back in lock-step.
type backoff struct {
	min, max time.Duration
	n        int
	rand     func(n int64) int64 // uniform in [0, n)
	// reach, when set, caps the growth low while the server answered
	// recently: it is most likely restarting and back in seconds, and a
	// member that comes back late is judged silent.
	reach *reach
}

// next returns a delay drawn uniformly from [0, min(max, min·2^n)) and
// advances n; while the server answered within reach.recentFor the ceiling
// is reach.recentMax instead. It never returns less than a millisecond.
func (b *backoff) next() time.Duration {
	hi := b.max
	if b.reach != nil && b.reach.recent() {
		hi = min(hi, max(b.reach.recentMax, b.min))
	}
	ceil := b.min
	for i := 0; i < b.n && ceil < hi; i++ {
		ceil *= 2
	}
	ceil = min(ceil, hi)
	if ceil < b.max {
		b.n++
	}
	d := time.Duration(b.rand(int64(ceil)))
	return max(d, time.Millisecond)
}

// reach tracks when the server last answered, for every loop of the agent:
// the first loop to get through after an outage wakes the others, so the
// first heartbeat after a reconnection goes out at once.
type reach struct {
	recentMax time.Duration // back-off ceiling while the server was recently reachable
	recentFor time.Duration // how long "recently" lasts
	now       func() time.Time

	mu     sync.Mutex
	last   time.Time     // the last answer; zero before the first
	failed bool          // the last request failed
	back   chan struct{} // closed when the server answers after a failure
}

func newReach(recentMax, recentFor time.Duration, now func() time.Time) *reach {
	return &reach{recentMax: recentMax, recentFor: recentFor, now: now, back: make(chan struct{})}
}

// ok records an answer from the server.
func (r *reach) ok() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = r.now()
	if r.failed {
		r.failed = false
		close(r.back)
		r.back = make(chan struct{})
	}
}

// fail records that the server could not be reached.
func (r *reach) fail() {
	r.mu.Lock()
	r.failed = true
	r.mu.Unlock()
}

// recent reports whether the server answered within recentFor.
func (r *reach) recent() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.last.IsZero() && r.now().Sub(r.last) < r.recentFor
}

// returned is closed when the server answers again after a failure.
func (r *reach) returned() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.back
}

// sleepUnless waits for d, until ctx is done (false) or until wake is closed.
func sleepUnless(ctx context.Context, d time.Duration, wake <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// reset starts the growth over after a success.
func (b *backoff) reset() { b.n = 0 }

// jitter returns a duration drawn uniformly from [0, d); 0 when d <= 0.
func jitter(r func(int64) int64, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(r(int64(d)))
}

func defaultRand(n int64) int64 { return rand.Int64N(n) }

// sleep waits for d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool { return sleepUnless(ctx, d, nil) }

// failure classifies an error from the server.
type failure int

const (
	failTransient failure = iota // network error, 5xx, 408, 429: retry with back-off
	failAuth                     // 401/403: the credential (or source address) was refused
	failRemoved                  // 410: the member was removed
	failRequest                  // other 4xx: the server refused this request
)

func classify(err error) failure {
	switch s := client.StatusOf(err); {
	case s == http.StatusGone:
		return failRemoved
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return failAuth
	case s == 0, s >= 500, s == http.StatusRequestTimeout, s == http.StatusTooManyRequests:
		return failTransient
	default:
		return failRequest
	}
}

// unanswered reports whether err means the server was not reached at all
// (no HTTP answer): it is down, restarting or cut off.
func unanswered(err error) bool { return err != nil && client.StatusOf(err) == 0 }

// isTimeout reports whether err is only the expiry of a request's own deadline.
func isTimeout(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
