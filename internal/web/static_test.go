package web

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
	"testing"
)

// The vendored scripts are exactly the files recorded in CHECKSUMS, which
// names the npm packages and versions they came from.
func TestDashboardVendorChecksums(t *testing.T) {
	sums, err := fs.ReadFile(staticFS, "static/vendor/CHECKSUMS")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"htmx.org@2.0.11", "htmx-ext-sse@2.2.4"} {
		if !bytes.Contains(sums, []byte(want)) {
			t.Errorf("CHECKSUMS does not record %s", want)
		}
	}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("malformed line %q", line)
		}
		b, err := fs.ReadFile(staticFS, "static/vendor/"+f[1])
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != f[0] {
			t.Errorf("%s: sha256 %s, CHECKSUMS says %s", f[1], got, f[0])
		}
		checked++
	}
	if checked != 2 {
		t.Fatalf("checked %d files, want 2", checked)
	}
	htmx, _ := fs.ReadFile(staticFS, "static/vendor/htmx.min.js")
	if !bytes.Contains(htmx, []byte(`version:"2.0.11"`)) {
		t.Error("htmx.min.js is not htmx 2.0.11")
	}
	// A tampered file stops the dashboard from starting.
	files := map[string][]byte{"vendor/CHECKSUMS": sums, "vendor/htmx.min.js": []byte("alert(1)"), "vendor/htmx-ext-sse.js": nil}
	if err := verifyVendor(files); err == nil {
		t.Fatal("verifyVendor accepted a tampered file")
	}
	files = map[string][]byte{"vendor/CHECKSUMS": []byte("# nothing\n"), "vendor/extra.js": []byte("x")}
	if err := verifyVendor(files); err == nil {
		t.Fatal("verifyVendor accepted an unlisted script")
	}
}

func TestDashboardStatic(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	u, err := e.h.static.url("app.css")
	if err != nil {
		t.Fatal(err)
	}
	r := c.get(u)
	wantStatus(t, "app.css", r, http.StatusOK)
	if ct, cc := r.Header.Get("Content-Type"), r.Header.Get("Cache-Control"); !strings.HasPrefix(ct, "text/css") || !strings.Contains(cc, "immutable") {
		t.Errorf("app.css: Content-Type %q, Cache-Control %q", ct, cc)
	}
	js, _ := e.h.static.url("vendor/htmx.min.js")
	if ct := c.get(js).Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("htmx: Content-Type %q", ct)
	}
	wantStatus(t, "CHECKSUMS is not served", c.get("/static/vendor/CHECKSUMS"), http.StatusNotFound)
	wantStatus(t, "missing file", c.get("/static/nope.js"), http.StatusNotFound)
	r = c.get("/login")
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
		if r.Header.Get(h) == "" {
			t.Errorf("login page lacks %s", h)
		}
	}
	if strings.Contains(r.Body, " style=") {
		t.Error("a page uses a style attribute, which the CSP forbids")
	}
}

// Every page template parses at start-up and draws the layout.
func TestDashboardTemplates(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"login", "error", "pools", "overview", "pool_settings", "member_new", "member", "member_status",
		"member_jobs", "job", "member_settings", "member_stack", "events", "zones", "zone", "account",
		"protections", "protection", "protection_run", "member_accounts", "dns_cluster", "links", "link_child", "distribution_run", "pool_members", "notifications", "make_active"} {
		if e.h.tpl.pages[name] == nil {
			t.Errorf("no page template %s", name)
		}
	}
	if n := len(e.h.tpl.pages); n != 27 {
		t.Errorf("%d page templates, want 27", n)
	}
}
