package web

import (
	"sync"
	"time"
)

// limiter slows down password guessing: after a few failed sign-ins from
// one address, or for one user name, each further attempt must wait twice
// as long as the previous one (1 s, 2 s, 4 s … up to 5 minutes). A success
// clears the counts of that address and name. Counts are kept in memory and
// forgotten an hour after the last failure; a server restart forgets them.
type limiter struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*attempts
}

type attempts struct {
	fails int
	last  time.Time
}

const (
	freeUserFails = 3  // failures per user name before the back-off starts
	freeIPFails   = 10 // per client address (shared NATs make this larger)
	maxBackoff    = 5 * time.Minute
	forgetAfter   = time.Hour
	maxTracked    = 10000
)

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, m: map[string]*attempts{}}
}

func ipKey(ip string) string     { return "ip " + ip }
func userKey(name string) string { return "user " + name }

func backoff(fails, free int) time.Duration {
	if fails < free {
		return 0
	}
	n := fails - free
	if n > 16 {
		return maxBackoff
	}
	return min(time.Second<<n, maxBackoff)
}

func free(key string) int {
	if len(key) > 3 && key[:3] == "ip " {
		return freeIPFails
	}
	return freeUserFails
}

// wait returns how long the caller must wait before the next attempt.
func (l *limiter) wait(keys ...string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var longest time.Duration
	for _, k := range keys {
		a := l.m[k]
		if a == nil {
			continue
		}
		if d := a.last.Add(backoff(a.fails, free(k))).Sub(now); d > longest {
			longest = d
		}
	}
	return longest
}

// fail records a failed attempt.
func (l *limiter) fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.m) >= maxTracked {
		for k, a := range l.m {
			if now.Sub(a.last) > forgetAfter {
				delete(l.m, k)
			}
		}
	}
	for _, k := range keys {
		a := l.m[k]
		if a == nil || now.Sub(a.last) > forgetAfter {
			if len(l.m) >= maxTracked {
				continue // full of recent failures: those keep their back-off
			}
			a = &attempts{}
			l.m[k] = a
		}
		a.fails++
		a.last = now
	}
}

// reset forgets the failures of keys (after a success).
func (l *limiter) reset(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.m, k)
	}
}
