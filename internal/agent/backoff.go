package agent

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/poolctl/poolctl/client"
)

// backoff computes retry delays: capped exponential growth with full jitter,
// so a fleet that lost its server does not come back in lock-step.
type backoff struct {
	min, max time.Duration
	n        int
	rand     func(n int64) int64 // uniform in [0, n)
}

// next returns a delay drawn uniformly from [0, min(max, min·2^n)) and
// advances n. It never returns less than a millisecond.
func (b *backoff) next() time.Duration {
	ceil := b.min
	for i := 0; i < b.n && ceil < b.max; i++ {
		ceil *= 2
	}
	ceil = min(ceil, b.max)
	if ceil < b.max {
		b.n++
	}
	d := time.Duration(b.rand(int64(ceil)))
	return max(d, time.Millisecond)
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
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

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

// isTimeout reports whether err is only the expiry of a request's own deadline.
func isTimeout(err error) bool { return errors.Is(err, context.DeadlineExceeded) }
