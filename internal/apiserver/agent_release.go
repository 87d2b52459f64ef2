package apiserver

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/release"
)

// Agent releases: the agent binaries this server offers (Deps.Releases),
// their checksums and the install script. These routes take no credential
// — the binaries are not secret and an install runs before enrolment — so
// each source address is rate limited (releaseBurst requests, then one per
// releaseEvery) and binary downloads run at most maxDownloadsPerSource at
// a time per source and maxDownloads in all.

// Release route limits.
const (
	releaseBurst          = 30
	releaseEvery          = 2 * time.Second
	maxDownloadsPerSource = 4
	maxDownloads          = 32
	maxLimitedSources     = 10000
)

// plainText stands for a text/plain answer in the route table.
type plainText struct{}

var errNoReleases = apperr.New(apperr.Unavailable, "this server offers no agent downloads")

func (s *Server) releases() (*release.Catalog, error) {
	if s.d.Releases == nil {
		return nil, errNoReleases
	}
	return s.d.Releases, nil
}

// releaseLimiter is a token bucket per source address plus counts of the
// downloads in progress.
type releaseLimiter struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
	active  map[netip.Addr]int
	total   int
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newReleaseLimiter(now func() time.Time) *releaseLimiter {
	if now == nil {
		now = time.Now
	}
	return &releaseLimiter{now: now, buckets: map[netip.Addr]*bucket{}, active: map[netip.Addr]int{}}
}

// allow takes one request's token for a, or says how long to wait.
func (l *releaseLimiter) allow(a netip.Addr) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.buckets[a]
	if b == nil {
		if len(l.buckets) >= maxLimitedSources {
			l.prune(now)
		}
		b = &bucket{tokens: releaseBurst, at: now}
		l.buckets[a] = b
	}
	b.tokens = min(releaseBurst, b.tokens+float64(now.Sub(b.at))/float64(releaseEvery))
	b.at = now
	if b.tokens < 1 {
		return time.Duration((1 - b.tokens) * float64(releaseEvery)), false
	}
	b.tokens--
	return 0, true
}

// prune forgets the sources whose buckets are full again (or, if none
// are, all of them: a flood of sources gets no memory, not a lock-out).
func (l *releaseLimiter) prune(now time.Time) {
	for a, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(releaseEvery) >= releaseBurst {
			delete(l.buckets, a)
		}
	}
	if len(l.buckets) >= maxLimitedSources {
		clear(l.buckets)
	}
}

// start counts a download from a; done must be called when it ends.
func (l *releaseLimiter) start(a netip.Addr) (done func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active[a] >= maxDownloadsPerSource {
		return nil, apperr.New(apperr.TooManyRequests, "%d agent downloads from %s are in progress already; retry when one is done", l.active[a], a)
	}
	if l.total >= maxDownloads {
		return nil, apperr.New(apperr.Unavailable, "%d agent downloads are in progress; retry in a minute", l.total)
	}
	l.active[a]++
	l.total++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.total--
		if l.active[a]--; l.active[a] <= 0 {
			delete(l.active, a)
		}
	}, nil
}

// limitRelease applies the per-source rate limit; it sets Retry-After on
// a refusal.
func (s *Server) limitRelease(w http.ResponseWriter, r *http.Request) (netip.Addr, error) {
	from, err := s.source(r)
	if err != nil {
		return from, err
	}
	if wait, ok := s.relLimit.allow(from); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return from, apperr.New(apperr.TooManyRequests, "too many agent release requests from %s; retry in %d s", from, secs)
	}
	return from, nil
}

func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.releases()
	if err != nil {
		return nil, err
	}
	if _, err := s.limitRelease(w, r); err != nil {
		return nil, err
	}
	return c.Releases(), nil
}

func (s *Server) releaseSums(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.releases()
	if err != nil {
		return nil, err
	}
	if _, err := s.limitRelease(w, r); err != nil {
		return nil, err
	}
	writeText(w, []byte(c.SHA256Sums()))
	return written{}, nil
}

func (s *Server) agentBinary(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.releases()
	if err != nil {
		return nil, err
	}
	from, err := s.limitRelease(w, r)
	if err != nil {
		return nil, err
	}
	goos, goarch := r.PathValue("os"), r.PathValue("arch")
	b, body, mod, err := c.Open(goos, goarch)
	switch {
	case errors.Is(err, release.ErrNotOffered):
		return nil, apperr.New(apperr.NotFound, "no agent binary for %q/%q; this server offers %s", goos, goarch, listOr(c.Platforms()))
	case errors.Is(err, release.ErrChanged):
		return nil, apperr.Wrap(apperr.Unavailable, err, "agent binary for %s/%s", goos, goarch)
	case err != nil:
		return nil, err
	}
	done, err := s.relLimit.start(from)
	if err != nil {
		return nil, err
	}
	defer done()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", release.FilePrefix+b.OS+"-"+b.Arch))
	h.Set("X-Poolctl-Sha256", b.SHA256)
	h.Set("X-Poolctl-Version", b.Version)
	if b.Signature != "" {
		h.Set("X-Poolctl-Signature", b.Signature)
	}
	h.Set("ETag", `"sha256:`+b.SHA256+`"`)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", mod, body)
	return written{}, nil
}

func (s *Server) installScript(w http.ResponseWriter, r *http.Request) (any, error) {
	c, err := s.releases()
	if err != nil {
		return nil, err
	}
	if _, err := s.limitRelease(w, r); err != nil {
		return nil, err
	}
	script, err := release.InstallScript(c.TLSPin())
	if err != nil {
		return nil, err
	}
	writeText(w, script)
	return written{}, nil
}

// InstallScript serves the agent install script; `poolctl server` mounts
// it at /install.sh, where the one-line install command fetches it.
func (s *Server) InstallScript() http.Handler {
	var h http.Handler = http.NotFoundHandler()
	for _, rt := range s.routes {
		if rt.path == "/api/v1/agent/install.sh" {
			h = s.wrap(rt)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

func writeText(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func listOr(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}
