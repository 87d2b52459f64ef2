package web

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
	"github.com/poolctl/poolctl/internal/zones"
)

// testParams keep password hashing cheap in tests (the stored hash names
// its own parameters, so checks use them too).
var testParams = Argon2Params{Time: 1, MemoryKiB: 8 * 1024, Threads: 1}

const testPassword = "correct horse battery"

// clock is a settable time source for the dashboard.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	st    *store.Store
	fl    *fleet.Service
	h     *Handler
	srv   *httptest.Server
	clock *clock
}

func newEnv(t testing.TB, mod ...func(*Config)) *env {
	t.Helper()
	return newEnvClock(t, false, mod...)
}

// newEnvClock is newEnv; with fleetClock the fleet runs on the env's clock
// too, so that a test can let a member's heartbeats go stale.
func newEnvClock(t testing.TB, fleetClock bool, mod ...func(*Config)) *env {
	t.Helper()
	st := storetest.Open(t, store.SQLite)
	ctx, cancel := context.WithCancel(context.Background())
	c := &clock{t: time.Now()}
	fc := fleet.Config{}
	if fleetClock {
		fc.Now = c.now
	}
	fl := fleet.New(st, fc)
	if err := fl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = fl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	zs := zones.New(zones.Config{Store: st, Events: fl})
	fl.SetRecordChecker(zs)
	cfg := Config{Fleet: fl, Zones: zs, Store: st, Context: ctx, Tick: 100 * time.Millisecond, Now: c.now, Version: "test"}
	for _, m := range mod {
		m(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{st: st, fl: fl, h: h, srv: srv, clock: c}
	if tt, ok := t.(*testing.T); ok {
		e.t = tt
	}
	e.addUser(t, "admin", true)
	return e
}

func (e *env) addUser(t testing.TB, name string, admin bool) {
	t.Helper()
	hash, err := HashPassword(testPassword, testParams)
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{Name: name, PasswordHash: hash, IsAdmin: admin}
	if err := e.st.CreateUser(context.Background(), &u, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// client is a browser-like HTTP client: a cookie jar, no automatic
// redirects (tests look at them).
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
	csrf string
}

func (e *env) client(t testing.TB) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: e.srv.URL, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	Status int
	Header http.Header
	Body   string
}

func (c *client) do(req *http.Request) resp {
	c.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := resp{Status: res.StatusCode, Header: res.Header, Body: string(b)}
	if m := csrfRE.FindStringSubmatch(r.Body); m != nil {
		c.csrf = m[1]
	}
	return r
}

var (
	csrfRE  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	tokenRE = regexp.MustCompile(`name="token" value="([^"]+)"`)
)

func (c *client) get(path string) resp {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	return c.do(req)
}

// post submits a form. Unless the form sets csrf, the page's token is added.
func (c *client) post(path string, form url.Values, hdr ...string) resp {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return c.do(req)
}

// login signs in and fails the test unless it worked.
func (c *client) login(name, pw string) resp {
	c.t.Helper()
	r := c.tryLogin(name, pw)
	if r.Status != http.StatusSeeOther {
		c.t.Fatalf("login as %s: status %d, want 303\n%s", name, r.Status, r.Body)
	}
	c.get("/") // picks up the session's CSRF token
	return r
}

func (c *client) tryLogin(name, pw string) resp {
	c.t.Helper()
	page := c.get("/login")
	m := tokenRE.FindStringSubmatch(page.Body)
	if m == nil {
		c.t.Fatalf("login page has no token:\n%s", page.Body)
	}
	return c.post("/login", url.Values{"name": {name}, "password": {pw}, "token": {m[1]}})
}

func mustContain(t testing.TB, what string, r resp, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(r.Body, w) {
			t.Errorf("%s: body lacks %q (status %d)\n%s", what, w, r.Status, r.Body)
		}
	}
	for _, bad := range []string{"goroutine ", "panic(", ".go:"} {
		if strings.Contains(r.Body, bad) {
			t.Errorf("%s: body shows internals (%q)", what, bad)
		}
	}
}

func wantStatus(t testing.TB, what string, r resp, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d\n%s", what, r.Status, status, r.Body)
	}
}
