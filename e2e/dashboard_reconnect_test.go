package e2e

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestDashboardReconnectNotice stops the server under an open overview:
// the page says it is disconnected (a status message, not the last state
// passed off as current), and when the server is back on the same address
// the notice goes and the page carries on live, without reloading.
func TestDashboardReconnectNotice(t *testing.T) {
	needChromium(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	data := t.TempDir()
	s := startServer(t, data, "--listen", addr)
	cli(t, s.env(), "pool", "create", "web")
	pw, err := os.ReadFile(filepath.Join(data, "admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	b := newBrowser(t, ctx)
	b.open(s.url+"/", "#password")
	b.do("sign in", chromedp.SendKeys(chromedp.CSS("#name"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), strings.TrimSpace(string(pw))+kb.Enter), chromedp.WaitReady(chromedp.CSS("table.pools")))
	b.open(s.url+"/pools/web", ".kpis")
	b.do("mark page", chromedp.Evaluate[chromedp.Void](`window.__poolctlNoReload = 7`))
	const notice = `document.querySelector('#live-status .live-lost')`
	if run(b, "notice before", chromedp.Evaluate[bool](`!!`+notice)) {
		t.Fatal("the disconnected notice shows while connected")
	}

	s.kill(syscall.SIGTERM)
	b.waitJS("disconnected notice", `!!`+notice+` && `+notice+`.getBoundingClientRect().height > 0`, 30*time.Second)
	b.shot("reconnect-01-disconnected")
	if txt := run(b, "notice text", chromedp.Evaluate[string](notice+`.textContent`)); txt != "Disconnected — reconnecting…" {
		t.Errorf("notice text %q", txt)
	}
	if role := run(b, "notice role", chromedp.Evaluate[string](`document.getElementById('live-status').getAttribute('role')`)); role != "status" {
		t.Errorf("notice region role %q, want status", role)
	}

	startServer(t, data, "--listen", addr)
	b.waitJS("notice gone after the reconnect", `!`+notice, 90*time.Second)
	b.shot("reconnect-02-reconnected")
	if v := run(b, "marker", chromedp.Evaluate[int](`window.__poolctlNoReload || 0`)); v != 7 {
		t.Error("the overview reloaded; its stream sends every part anew on reconnecting")
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Logf("console errors (a stopped server makes the browser log failed requests): %q", errs)
	}
}
