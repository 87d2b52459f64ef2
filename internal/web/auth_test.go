package web

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// Every page sends an anonymous browser to the sign-in page, remembering
// where it wanted to go; a POST or a live stream is refused outright.
func TestDashboardAuthRedirect(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	for _, p := range []string{"/", "/pools/web", "/pools/web/settings", "/pools/web/members/new", "/pools/web/members/n1",
		"/pools/web/members/n1/status", "/pools/web/members/n1/jobs", "/pools/web/members/n1/jobs/1",
		"/pools/web/members/n1/settings", "/pools/web/members/n1/stack/cpanel", "/events", "/zones", "/zones/example.com", "/account"} {
		r := c.get(p)
		wantStatus(t, "GET "+p, r, http.StatusSeeOther)
		loc := r.Header.Get("Location")
		if p == "/" && loc != "/login" || p != "/" && loc != "/login?next="+url.QueryEscape(p) {
			t.Errorf("GET %s: redirect to %q", p, loc)
		}
	}
	r := c.post("/pools", url.Values{"name": {"web"}})
	wantStatus(t, "anonymous POST", r, http.StatusUnauthorized)
	mustContain(t, "anonymous POST", r, "not signed in")
	req, _ := http.NewRequest("GET", e.srv.URL+"/pools/web/live", nil)
	req.Header.Set("Accept", "text/event-stream")
	wantStatus(t, "anonymous stream", c.do(req), http.StatusUnauthorized)
	// Static files need no session.
	wantStatus(t, "static", c.get("/static/app.css"), http.StatusOK)
}

func TestDashboardLogin(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	r := c.tryLogin("admin", "wrong password!")
	wantStatus(t, "wrong password", r, http.StatusUnauthorized)
	mustContain(t, "wrong password", r, "Wrong user name or password", `value="admin"`)
	r = c.tryLogin("nobody", testPassword)
	wantStatus(t, "unknown user", r, http.StatusUnauthorized)

	r = c.tryLogin("admin", testPassword)
	wantStatus(t, "login", r, http.StatusSeeOther)
	var sess *http.Cookie
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == "poolctl_session" {
			sess = ck
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" {
		t.Fatalf("session cookie: %+v", sess)
	}
	mustContain(t, "pools page", c.get("/"), "Pools", "No pools yet", "Sign out")

	// The next parameter brings the user back, but only to this site.
	c2 := e.client(t)
	page := c2.get("/login?next=/events")
	tok := tokenRE.FindStringSubmatch(page.Body)[1]
	r = c2.post("/login", url.Values{"name": {"admin"}, "password": {testPassword}, "token": {tok}, "next": {"/events"}})
	if loc := r.Header.Get("Location"); loc != "/events" {
		t.Errorf("login with next=/events: redirect to %q", loc)
	}
	for _, bad := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		if got := localPath(bad); got != "/" {
			t.Errorf("localPath(%q) = %q, want /", bad, got)
		}
	}
}

// A sign-in must come from the sign-in form of this site: a login token
// in a cookie and the form (login CSRF), and no cross-site origin.
func TestDashboardLoginCSRF(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	r := c.post("/login", url.Values{"name": {"admin"}, "password": {testPassword}, "token": {"forged"}})
	wantStatus(t, "login without token cookie", r, http.StatusForbidden)
	page := c.get("/login")
	tok := tokenRE.FindStringSubmatch(page.Body)[1]
	r = c.post("/login", url.Values{"name": {"admin"}, "password": {testPassword}, "token": {tok}}, "Sec-Fetch-Site", "cross-site")
	wantStatus(t, "cross-site login", r, http.StatusForbidden)
	mustContain(t, "cross-site login", r, "another site")
}

func TestDashboardLoginBackoff(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	for i := 0; i < freeUserFails; i++ {
		wantStatus(t, "failure", c.tryLogin("admin", "wrong password!"), http.StatusUnauthorized)
	}
	r := c.tryLogin("admin", testPassword)
	wantStatus(t, "attempt during back-off", r, http.StatusTooManyRequests)
	mustContain(t, "back-off", r, "Too many failed sign-ins")
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	e.clock.add(1100 * time.Millisecond)
	wantStatus(t, "after the back-off", c.tryLogin("admin", "wrong again!!"), http.StatusUnauthorized)
	wantStatus(t, "longer back-off", c.tryLogin("admin", testPassword), http.StatusTooManyRequests)
	e.clock.add(2100 * time.Millisecond)
	c.login("admin", testPassword)
	// Success cleared the count.
	wantStatus(t, "after success", e.client(t).tryLogin("admin", "wrong password!"), http.StatusUnauthorized)
}

func TestDashboardLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newLimiter(func() time.Time { return now })
	ip := ipKey("192.0.2.1")
	for i := 0; i < freeIPFails; i++ {
		if d := l.wait(ip); d != 0 {
			t.Fatalf("failure %d: wait %s, want 0", i, d)
		}
		l.fail(ip)
	}
	if d := l.wait(ip); d != time.Second {
		t.Fatalf("after %d failures: wait %s, want 1s", freeIPFails, d)
	}
	for i := 0; i < 30; i++ {
		l.fail(ip)
	}
	if d := l.wait(ip); d != maxBackoff {
		t.Fatalf("many failures: wait %s, want %s", d, maxBackoff)
	}
	now = now.Add(2 * time.Hour)
	l.fail(ip) // forgotten after an hour: counts from one again
	if d := l.wait(ip); d != 0 {
		t.Fatalf("after an hour: wait %s, want 0", d)
	}
}

// State-changing requests need the session's CSRF token and a same-origin
// browser; neither alone is enough.
func TestDashboardCSRF(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.login("admin", testPassword)
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  []string
	}{
		{"no token", url.Values{"name": {"web"}, "csrf": {""}}, nil},
		{"wrong token", url.Values{"name": {"web"}, "csrf": {"x" + c.csrf}}, nil},
		{"cross-site fetch metadata", url.Values{"name": {"web"}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"foreign origin", url.Values{"name": {"web"}}, []string{"Origin", "https://evil.example"}},
	} {
		r := c.post("/pools", tc.form, tc.hdr...)
		wantStatus(t, tc.name, r, http.StatusForbidden)
		mustContain(t, tc.name, r, "refused")
	}
	if ps, _ := e.fl.Pools(context.Background()); len(ps) != 0 {
		t.Fatalf("a refused request created pools: %+v", ps)
	}
	r := c.post("/pools", url.Values{"name": {"web"}}, "Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin")
	wantStatus(t, "same-origin with token", r, http.StatusSeeOther)
	// The header form of the token (htmx requests) works too.
	r = c.post("/pools/web/ack", url.Values{"csrf": {""}}, "X-CSRF-Token", c.csrf)
	wantStatus(t, "header token reaches the handler", r, http.StatusConflict)
}

func TestDashboardSessionExpiry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.IdleTimeout, c.SessionLifetime = time.Hour, 3*time.Hour })
	c := e.client(t)
	c.login("admin", testPassword)
	for i := 0; i < 2; i++ { // activity keeps the session alive…
		e.clock.add(50 * time.Minute)
		wantStatus(t, "active session", c.get("/"), http.StatusOK)
	}
	e.clock.add(61 * time.Minute) // …idleness ends it
	wantStatus(t, "idle session", c.get("/"), http.StatusSeeOther)

	c.login("admin", testPassword)
	for i := 0; i < 3; i++ {
		e.clock.add(55 * time.Minute)
		wantStatus(t, "active session", c.get("/events"), http.StatusOK)
	}
	e.clock.add(20 * time.Minute) // past the absolute lifetime, however active
	wantStatus(t, "session past its lifetime", c.get("/events"), http.StatusSeeOther)
}

func TestDashboardLogout(t *testing.T) {
	e := newEnv(t)
	a, b := e.client(t), e.client(t)
	a.login("admin", testPassword)
	b.login("admin", testPassword)
	r := a.post("/logout", nil)
	wantStatus(t, "logout", r, http.StatusSeeOther)
	wantStatus(t, "after logout", a.get("/"), http.StatusSeeOther)
	wantStatus(t, "other session", b.get("/"), http.StatusOK)

	a.login("admin", testPassword)
	wantStatus(t, "log out everywhere", b.post("/logout-everywhere", nil), http.StatusSeeOther)
	wantStatus(t, "a after everywhere", a.get("/"), http.StatusSeeOther)
	wantStatus(t, "b after everywhere", b.get("/"), http.StatusSeeOther)
	mustContain(t, "notice", b.get("/login"), "Signed out of 2 session(s)")
}

func TestDashboardChangePassword(t *testing.T) {
	e := newEnv(t)
	a, b := e.client(t), e.client(t)
	a.login("admin", testPassword)
	b.login("admin", testPassword)
	a.get("/account")
	r := a.post("/account/password", url.Values{"current": {"nope nope nope"}, "password": {"new password 123"}, "again": {"new password 123"}})
	wantStatus(t, "wrong current password", r, http.StatusUnauthorized)
	r = a.post("/account/password", url.Values{"current": {testPassword}, "password": {"short"}, "again": {"short"}})
	wantStatus(t, "short password", r, http.StatusBadRequest)
	mustContain(t, "short password", r, "too short")
	r = a.post("/account/password", url.Values{"current": {testPassword}, "password": {"new password 123"}, "again": {"new password 123"}})
	wantStatus(t, "change", r, http.StatusSeeOther)
	wantStatus(t, "this session goes on", a.get("/account"), http.StatusOK)
	wantStatus(t, "other sessions end", b.get("/"), http.StatusSeeOther)
	wantStatus(t, "old password", e.client(t).tryLogin("admin", testPassword), http.StatusUnauthorized)
	e.client(t).login("admin", "new password 123")
}

func TestDashboardReadOnly(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "viewer", false)
	c := e.client(t)
	c.login("viewer", testPassword)
	wantStatus(t, "viewer reads", c.get("/"), http.StatusOK)
	r := c.post("/pools", url.Values{"name": {"web"}})
	wantStatus(t, "viewer writes", r, http.StatusForbidden)
	mustContain(t, "viewer writes", r, "read-only")
	wantStatus(t, "viewer signs out", c.post("/logout", nil), http.StatusSeeOther)
}

func TestDashboardPasswordHash(t *testing.T) {
	h, err := HashPassword("s3cret password", testParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if ok, err := CheckPassword(h, "s3cret password"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "s3cret passwore"); ok {
		t.Fatal("wrong password accepted")
	}
	h2, _ := HashPassword("s3cret password", testParams)
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt?")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=8192,t=1,p=1$c2FsdA$aGFzaA", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdA$aGFzaA",
		"$argon2id$v=19$m=8192,t=1,p=1$!!$aGFzaA"} {
		if ok, err := CheckPassword(bad, "x"); ok || err == nil {
			t.Errorf("CheckPassword(%q): %v %v, want an error", bad, ok, err)
		}
	}
	if d := DefaultArgon2(); d.Time != 1 || d.MemoryKiB != 64*1024 || d.Threads != 2 {
		t.Errorf("default argon2id parameters %+v", d)
	}
}

func TestDashboardFirstAdmin(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	path := filepath.Join(t.TempDir(), "admin.password")
	ctx := context.Background()
	created, err := EnsureFirstAdmin(ctx, st, path, time.Now(), nil)
	if err != nil || !created {
		t.Fatalf("first start: %v %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.password: %v %v, want mode 0600", fi, err)
	}
	pw, _ := os.ReadFile(path)
	u, err := st.GetUser(ctx, FirstAdmin)
	if err != nil || !u.IsAdmin {
		t.Fatalf("admin user: %+v %v", u, err)
	}
	if ok, _ := CheckPassword(u.PasswordHash, strings.TrimSpace(string(pw))); !ok {
		t.Fatal("the written password does not sign in")
	}
	os.Remove(path)
	if created, err := EnsureFirstAdmin(ctx, st, path, time.Now(), nil); err != nil || created {
		t.Fatalf("second start: %v %v, want nothing done", created, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("second start wrote a password file")
	}
}

// TestReadOnlySeesNoActions: a read-only user's pages show no form that
// changes anything (the server would refuse it); only signing out and their
// own account's forms remain.
func TestReadOnlySeesNoActions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fl.AddMember(ctx, "web", api.MemberCreate{Name: "node1", Address: "203.0.113.10"}); err != nil {
		t.Fatal(err)
	}
	j, err := e.fl.EnqueueJob(ctx, "web", "node1", api.JobCreate{Kind: "facts.refresh"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.h.cfg.Zones.Create(ctx, api.ZoneCreate{Name: "example.com"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.h.cfg.Zones.AddRecord(ctx, "example.com", api.RecordCreate{Name: "www", Type: "A", Value: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	e.addUser(t, "viewer", false)
	admin, viewer := e.client(t), e.client(t)
	admin.login("admin", testPassword)
	viewer.login("viewer", testPassword)
	form := regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	pages := []string{"/", "/pools/web", "/pools/web/settings", "/pools/web/members/node1", "/pools/web/members/node1/status",
		"/pools/web/members/node1/jobs", "/pools/web/members/node1/jobs/" + itoa(j.ID), "/pools/web/members/node1/settings",
		"/pools/web/members/node1/accounts", "/events", "/zones", "/zones/example.com", "/protections"}
	for _, p := range pages {
		r := viewer.get(p)
		wantStatus(t, "viewer GET "+p, r, http.StatusOK)
		for _, m := range form.FindAllStringSubmatch(r.Body, -1) {
			if m[1] != "/logout" {
				t.Errorf("%s shows the read-only user a form to %s", p, m[1])
			}
		}
	}
	// The administrator sees the actions on the same pages.
	for p, want := range map[string]string{"/pools/web/settings": "/pools/web/settings", "/zones/example.com": "/zones/example.com/records",
		"/pools/web/members/node1/settings": "/pools/web/members/node1/remove", "/pools/web/members/node1/jobs": "/pools/web/members/node1/jobs",
		"/pools/web/members/node1": "/pools/web/members/node1/secret"} {
		if r := admin.get(p); !strings.Contains(r.Body, `<form method="post" action="`+want+`"`) {
			t.Errorf("%s: the administrator sees no form to %s", p, want)
		}
	}
}
