package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// TestAllowListOnEveryRequest: with the real binary and agent, a member's
// allowed IPs hold on every request. A credential copied to another source
// address is refused; when the operator moves the allowed range under a
// running agent, its next requests are refused and the member goes down;
// refusals are an event naming the source, at most one per member a minute.
func TestAllowListOnEveryRequest(t *testing.T) {
	s := startServer(t, t.TempDir())
	cli(t, s.env(), "pool", "create", "web", "--heartbeat-timeout", "3s")
	var added api.MemberAdded
	cliJSON(t, s.env(), &added, "member", "add", "web", "node1", "--address", "203.0.113.10", "--allow-ip", "127.0.0.1/32")
	dir := filepath.Join(t.TempDir(), "node1")
	cli(t, nil, "agent", "enroll", "--server", s.url, "--secret", added.EnrollmentSecret, "--data", dir)
	agent := start(t, nil, "agent", "--data", dir, "--heartbeat-interval", "500ms")
	waitFor(t, 30*time.Second, "node1 healthy", func() bool { return members(t, s, "web")["node1"].Status == api.StatusHealthy })

	// The agent's credential, copied and used from 127.0.0.2.
	raw, err := os.ReadFile(filepath.Join(dir, "agent.json"))
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(raw, &state); err != nil || state.Token == "" {
		t.Fatalf("agent.json: %v (token found: %t)", err, state.Token != "")
	}
	status, body := beatFrom(t, s, "127.0.0.2", state.Token)
	if status != http.StatusForbidden || !strings.Contains(body, "127.0.0.2") || !strings.Contains(body, "not in the allowed IPs") {
		t.Fatalf("copied credential from 127.0.0.2: got %d %s, want 403 naming the source", status, body)
	}
	if status, body := beatFrom(t, s, "127.0.0.1", state.Token); status != http.StatusOK {
		t.Fatalf("the same credential from 127.0.0.1: got %d %s, want 200", status, body)
	}

	// The operator moves the member to another network.
	cli(t, s.env(), "member", "update", "web", "node1", "--allow-ip", "198.51.100.0/24")
	waitFor(t, 15*time.Second, "node1 down", func() bool { return members(t, s, "web")["node1"].Status == api.StatusDown })
	// The copied credential's refusal was reported; the agent's refusals in
	// the same minute are counted into the next report, not one event each.
	evs := cli(t, s.env(), "events", "--kind", "agent.refused")
	if !strings.Contains(evs, "from 127.0.0.2") {
		t.Fatalf("agent.refused events:\n%s", evs)
	}
	if n := strings.Count(evs, "agent.refused"); n != 1 {
		t.Errorf("%d agent.refused events within a minute, want one:\n%s", n, evs)
	}
	if !strings.Contains(agent.out.String(), "not in the allowed IPs") {
		t.Errorf("the agent did not log the refusal:\n%s", agent.out.String())
	}
}

// beatFrom posts one heartbeat with token from the local address src.
func beatFrom(t *testing.T, s *server, src, token string) (int, string) {
	t.Helper()
	pem, err := os.ReadFile(s.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	hb, _ := json.Marshal(api.Heartbeat{Protocol: api.ProtocolVersion, AgentVersion: "copied", Interval: api.Duration(time.Second)})
	rq, _ := http.NewRequest("POST", s.url+"/api/v1/agent/heartbeat", bytes.NewReader(hb))
	rq.Header.Set("Authorization", "Bearer "+token)
	rq.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(rq)
	if err != nil {
		t.Fatalf("heartbeat from %s: %v", src, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}
