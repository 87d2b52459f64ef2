package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/notify"
	"github.com/poolctl/poolctl/internal/notify/email"
	"github.com/poolctl/poolctl/internal/notify/webhook"
)

// TestNotificationsPage: the Notifications page lists the channels without
// their secrets, sends a test per channel (a real webhook to a loopback
// receiver), shows the delivery history with outcome and error and each
// pool's routes; a read-only user sees it without the test buttons, the
// AUTH user or the errors, and cannot send.
func TestNotificationsPage(t *testing.T) {
	var got atomic.Int64
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	t.Cleanup(ok.Close)
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such hook", http.StatusBadRequest)
	}))
	t.Cleanup(refuse.Close)

	var admin *notify.Admin
	e := newEnv(t, func(c *Config) {
		svc, err := notify.New(notify.Config{Store: c.Store, Drivers: []notify.Driver{email.Driver{}, webhook.Driver{}}, MasterKey: [32]byte{1}})
		if err != nil {
			t.Fatal(err)
		}
		admin = &notify.Admin{Service: svc, DashboardURL: "http://127.0.0.1/"}
		c.Notify = admin
	})
	ctx := t.Context()
	add := func(in api.NotifyChannelCreate) {
		t.Helper()
		if _, err := admin.AddChannel(ctx, in); err != nil {
			t.Fatalf("add channel %s: %v", in.Name, err)
		}
	}
	add(api.NotifyChannelCreate{Name: "hook", Kind: api.ChannelWebhook, Webhook: &api.WebhookChannel{URL: ok.URL + "/services/T0/B0/PATHSECRET"}, Secret: "hmac-secret-1"})
	add(api.NotifyChannelCreate{Name: "broken", Kind: api.ChannelWebhook, Webhook: &api.WebhookChannel{URL: refuse.URL + "/botTOKENSECRET/sendMessage?key=QSECRET"}})
	add(api.NotifyChannelCreate{Name: "ops", Kind: api.ChannelEmail, Email: &api.EmailChannel{SMTP: "127.0.0.1:1", From: "poolctl@example.com", To: []string{"ops@example.com"}, User: "smtpuser", TLS: api.TLSNone}, Secret: "smtp-password-1"})

	c := e.client(t)
	c.login("admin", testPassword)
	wantStatus(t, "create pool", c.post("/pools", url.Values{"name": {"web"}}), http.StatusSeeOther)
	if _, err := admin.SetRoute(ctx, "web", "hook", api.MonitorRouteSet{Severity: api.SeverityCritical}); err != nil {
		t.Fatal(err)
	}
	secrets := []string{"PATHSECRET", "TOKENSECRET", "QSECRET", "hmac-secret-1", "smtp-password-1"}
	noSecrets := func(what string, r resp) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(r.Body, s) {
				t.Errorf("%s: got the secret %q in the page, want it never shown", what, s)
			}
		}
	}

	r := c.get("/notifications")
	wantStatus(t, "notifications page", r, http.StatusOK)
	mustContain(t, "notifications page", r, `href="/notifications" aria-current="page"`,
		`data-channel="hook"`, ok.URL+"/…", `data-channel="ops"`, "ops@example.com via 127.0.0.1:1 (none)", "(AUTH smtpuser)", "sealed",
		`action="/notifications/channels/hook/test"`, "Send a test", `data-pool="web"`, "hook: critical only", "Nothing delivered yet")
	noSecrets("notifications page", r)

	// A test that is delivered, one refused for good, one to no channel.
	wantStatus(t, "test hook", c.post("/notifications/channels/hook/test", nil), http.StatusSeeOther)
	if n := got.Load(); n != 1 {
		t.Errorf("webhook receiver: got %d requests, want 1", n)
	}
	mustContain(t, "after the test", c.get("/notifications"), "Test message to hook: delivered.")
	wantStatus(t, "test broken", c.post("/notifications/channels/broken/test", nil), http.StatusSeeOther)
	r = c.get("/notifications")
	mustContain(t, "after the failed test", r, "Test message to broken: failed.", `data-status="delivered"`, `data-status="failed"`, "400", "1 of 1")
	noSecrets("history with a failed delivery", r)
	r = c.post("/notifications/channels/nosuch/test", nil)
	wantStatus(t, "test an unknown channel", r, http.StatusNotFound)
	mustContain(t, "test an unknown channel", r, "nosuch")

	// A read-only user: the same lists, no action, no AUTH user, no error.
	e.addUser(t, "viewer", false)
	v := e.client(t)
	v.login("viewer", testPassword)
	r = v.get("/notifications")
	wantStatus(t, "viewer's notifications page", r, http.StatusOK)
	mustContain(t, "viewer's notifications page", r, `data-channel="hook"`, `data-pool="web"`, `data-status="failed"`)
	for _, bad := range []string{"Send a test", `action="/notifications/`, "smtpuser", "400"} {
		if strings.Contains(r.Body, bad) {
			t.Errorf("viewer's notifications page: got %q, want no action, AUTH user or delivery error", bad)
		}
	}
	noSecrets("viewer's notifications page", r)
	wantStatus(t, "viewer sends a test", v.post("/notifications/channels/hook/test", nil), http.StatusForbidden)
	if n := got.Load(); n != 1 {
		t.Errorf("webhook receiver after the viewer's attempt: got %d requests, want 1", n)
	}
}

// TestNotificationsUnavailable: without the notification service the page
// says so.
func TestNotificationsUnavailable(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.login("admin", testPassword)
	r := c.get("/notifications")
	wantStatus(t, "notifications without the service", r, http.StatusServiceUnavailable)
	mustContain(t, "notifications without the service", r, "notifications are not available")
}
