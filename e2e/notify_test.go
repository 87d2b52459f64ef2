package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/notify/email/smtptest"
	"github.com/poolctl/poolctl/internal/notify/webhook"
)

// hookReceiver is a webhook receiver in the test process that checks
// every request's signature.
type hookReceiver struct {
	mu   sync.Mutex
	msgs []webhook.Payload
	bad  int
}

func (h *hookReceiver) kinds() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.msgs {
		out = append(out, p.Message.Kind)
	}
	return out
}

func mailKinds(s *smtptest.Server) []string {
	var out []string
	for _, m := range s.Messages() {
		out = append(out, m.Header.Get("X-Poolctl-Kind"))
	}
	return out
}

// TestNotifyMemberDown: a real server and agent; kill the agent → exactly
// one "down" e-mail (SMTP with AUTH to an in-process go-smtp server) and
// one signed webhook; restart it → one "resolved" each.
func TestNotifyMemberDown(t *testing.T) {
	smtpSrv, err := smtptest.Start(smtptest.Options{User: "alerts", Password: "mail-pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer smtpSrv.Close()
	secret := []byte("hook-secret")
	h := &hookReceiver{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := webhook.Verify(r, secret, time.Now(), 5*time.Minute)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err != nil {
			h.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var p webhook.Payload
		if err := json.Unmarshal(body, &p); err != nil {
			h.bad++
			return
		}
		h.msgs = append(h.msgs, p)
	}))
	defer recv.Close()

	s := startServer(t, t.TempDir(), "--monitor-recover", "2s")
	dir := t.TempDir()
	pw, sec := filepath.Join(dir, "pw"), filepath.Join(dir, "secret")
	if err := os.WriteFile(pw, []byte("mail-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sec, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, s.env(), "notify", "channel", "add", "email", "ops", "--smtp", smtpSrv.Addr, "--from", "poolctl@example.test", "--to", "ops@example.test",
		"--user", "alerts", "--password-file", pw, "--tls", "none")
	cli(t, s.env(), "notify", "channel", "add", "webhook", "hook", "--url", recv.URL+"/poolctl", "--secret-file", sec)
	if out := cli(t, s.env(), "notify", "channel", "list"); strings.Contains(out, "mail-pw") || strings.Contains(out, "hook-secret") || !strings.Contains(out, "sealed") {
		t.Fatalf("channel list shows secrets or none: %s", out)
	}
	cli(t, s.env(), "notify", "test", "hook")
	cli(t, s.env(), "notify", "test", "ops")
	if len(smtpSrv.Messages()) != 1 || len(h.kinds()) != 1 {
		t.Fatalf("test messages: %d e-mails, %d webhooks, want 1 each", len(smtpSrv.Messages()), len(h.kinds()))
	}

	cli(t, s.env(), "pool", "create", "web", "--heartbeat-timeout", "3s")
	cli(t, s.env(), "monitor", "set", "web", "--channel", "ops", "--severity", "critical")
	cli(t, s.env(), "monitor", "set", "web", "--channel", "hook")
	var added api.MemberAdded
	cliJSON(t, s.env(), &added, "member", "add", "web", "node1", "--address", "203.0.113.1", "--allow-ip", "127.0.0.1")
	agentDir := filepath.Join(t.TempDir(), "node1")
	cli(t, nil, "agent", "enroll", "--server", s.url, "--secret", added.EnrollmentSecret, "--data", agentDir)
	agent := start(t, nil, "agent", "--data", agentDir, "--heartbeat-interval", "500ms")
	waitFor(t, 30*time.Second, "node1 healthy", func() bool { return members(t, s, "web")["node1"].Status == api.StatusHealthy })

	agent.kill(syscall.SIGKILL)
	waitFor(t, 30*time.Second, "one down e-mail and one webhook", func() bool { return len(mailKinds(smtpSrv)) == 2 && len(h.kinds()) == 2 })
	time.Sleep(3 * time.Second) // nothing more while it stays down
	if got := mailKinds(smtpSrv); strings.Join(got, ",") != "test,alert" {
		t.Fatalf("e-mails %v, want test,alert", got)
	}
	if got := h.kinds(); strings.Join(got, ",") != "test,alert" {
		t.Fatalf("webhooks %v, want test,alert", got)
	}
	down := smtpSrv.Messages()[1]
	if subj := down.Header.Get("Subject"); subj != "[poolctl] CRITICAL web: member node1 is down" || down.AuthMech != "PLAIN" {
		t.Fatalf("down e-mail: subject %q auth %q", subj, down.AuthMech)
	}
	if body := string(down.Data); !strings.Contains(body, s.url+"/pools/web/members/node1") {
		t.Fatalf("the e-mail lacks the dashboard link %s/pools/web/members/node1:\n%s", s.url, body)
	}

	agent = start(t, nil, "agent", "--data", agentDir, "--heartbeat-interval", "500ms")
	defer agent.kill(syscall.SIGTERM)
	waitFor(t, 30*time.Second, "one resolved e-mail and one webhook", func() bool { return len(mailKinds(smtpSrv)) == 3 && len(h.kinds()) == 3 })
	time.Sleep(3 * time.Second)
	if got := mailKinds(smtpSrv); strings.Join(got, ",") != "test,alert,resolved" {
		t.Fatalf("e-mails %v, want test,alert,resolved", got)
	}
	if got := h.kinds(); strings.Join(got, ",") != "test,alert,resolved" {
		t.Fatalf("webhooks %v, want test,alert,resolved", got)
	}
	if h.bad != 0 {
		t.Fatalf("%d webhook requests failed the signature check", h.bad)
	}
	var ds api.List[api.NotifyDelivery]
	cliJSON(t, s.env(), &ds, "notify", "deliveries")
	if len(ds.Items) != 6 {
		t.Fatalf("%d deliveries in the history, want 6", len(ds.Items))
	}
	for _, d := range ds.Items {
		if d.Status != api.DeliveryDelivered {
			t.Errorf("delivery %d (%s to %s) is %s: %s", d.ID, d.Kind, d.Channel, d.Status, d.LastError)
		}
	}
}
