package web

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/poolctl/poolctl/internal/release"
)

var installRE = regexp.MustCompile(`<code>(curl [^<]+)</code>`)

// TestInstallCommandShown: over TLS, with agent downloads on offer, the
// pages that show a new enrolment secret show the one-line install too;
// over plain HTTP they show the manual commands only.
func TestInstallCommandShown(t *testing.T) {
	const pin = "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	self := filepath.Join(t.TempDir(), "poolctl")
	if err := os.WriteFile(self, []byte("agent"), 0o755); err != nil {
		t.Fatal(err)
	}
	cat, err := release.Load(release.Options{Version: "1.2.3", Self: self, SelfOS: "linux", SelfArch: "amd64", TLSPin: pin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	e := newEnv(t, func(c *Config) { c.Releases = cat })
	tlsSrv := httptest.NewTLSServer(e.h)
	t.Cleanup(tlsSrv.Close)
	c := e.client(t)
	c.base = tlsSrv.URL
	c.hc.Transport = tlsSrv.Client().Transport
	c.login("admin", testPassword)
	wantStatus(t, "create pool", c.post("/pools", url.Values{"name": {"web"}}), http.StatusSeeOther)

	check := func(what string, r resp) {
		t.Helper()
		s := secretRE.FindStringSubmatch(r.Body)
		m := installRE.FindStringSubmatch(r.Body)
		if s == nil || m == nil {
			t.Fatalf("%s: no secret or install command on the page\n%s", what, r.Body)
		}
		if got, want := html.UnescapeString(m[1]), release.InstallCommand(tlsSrv.URL, pin, s[1]); got != want {
			t.Errorf("%s: install command\n got %q\nwant %q", what, got, want)
		}
		mustContain(t, what, r, "poolctl agent enroll --server "+tlsSrv.URL)
	}
	r := c.post("/pools/web/members", url.Values{"name": {"node1"}, "address": {"203.0.113.10"}})
	wantStatus(t, "add member", r, http.StatusCreated)
	check("member added", r)
	mustContain(t, "member added", r, "poolctl agent uninstall")
	r = c.post("/pools/web/members/node1/secret", nil)
	wantStatus(t, "new secret", r, http.StatusCreated)
	check("new secret", r)

	// Plain HTTP: nothing downloaded without TLS may run.
	p := e.client(t)
	p.login("admin", testPassword)
	r = p.post("/pools/web/members", url.Values{"name": {"node2"}, "address": {"203.0.113.11"}})
	wantStatus(t, "add member over HTTP", r, http.StatusCreated)
	if installRE.MatchString(r.Body) {
		t.Errorf("plain HTTP page shows an install command:\n%s", r.Body)
	}
	mustContain(t, "add member over HTTP", r, "poolctl agent enroll --server "+e.srv.URL)
}
