package web

import (
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// TestTransport: pages and static files are gzip-compressed for browsers
// that take it, live streams are not; HSTS is sent over TLS; the sign-in
// page loads no script.
func TestTransport(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Secure = true })
	if _, err := e.fl.CreatePool(context.Background(), api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	c.login("admin", testPassword)
	raw := &http.Client{Jar: c.hc.Jar, Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, accept string) (*http.Response, string) {
		t.Helper()
		rq, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		rq.Header.Set("Accept-Encoding", "gzip")
		if accept != "" {
			rq.Header.Set("Accept", accept)
		}
		resp, err := raw.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = resp.Body
		if resp.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		if accept == "text/event-stream" {
			resp.Body.Close()
			return resp, ""
		}
		b, _ := io.ReadAll(body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, body := get("/pools/web", "")
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(body, "htmx.min") {
		t.Fatalf("overview: encoding %q, htmx loaded %t", resp.Header.Get("Content-Encoding"), strings.Contains(body, "htmx.min"))
	}
	if hsts := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
		t.Fatalf("HSTS: %q", hsts)
	}
	css := regexp.MustCompile(`href="(/static/[^"]*app[^"]*)"`).FindStringSubmatch(body)
	if css == nil {
		t.Fatal("no stylesheet link on the overview")
	}
	resp, _ = get(css[1], "")
	if resp.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("app.css: encoding %q, cache %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Cache-Control"))
	}
	resp, _ = get("/pools/web/live", "text/event-stream")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("live stream: status %d, encoding %q, want 200 uncompressed", resp.StatusCode, resp.Header.Get("Content-Encoding"))
	}
	anon := e.client(t)
	if r := anon.get("/login"); strings.Contains(r.Body, "<script") {
		t.Fatal("the sign-in page loads a script")
	}
}
