package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"

	"github.com/poolctl/poolctl/api"
)

// TestProxyProtocol: behind a TCP load balancer (--proxy-protocol with
// --trusted-proxy 127.0.0.1/32), the source an agent request is judged by
// is the one the PROXY header names: an agent enrols and beats from its
// allowed network through the balancer; the same credential from the
// balancer's own address, without a header, is refused; a header from a
// peer that is not trusted is not believed (its connection fails).
func TestProxyProtocol(t *testing.T) {
	s := startServer(t, t.TempDir(), "--trusted-proxy", "127.0.0.1/32", "--proxy-protocol")
	cli(t, s.env(), "pool", "create", "web")
	var added api.MemberAdded
	cliJSON(t, s.env(), &added, "member", "add", "web", "node1", "--address", "203.0.113.10", "--allow-ip", "203.0.113.0/24")

	pem, err := os.ReadFile(s.ca)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	// via connects from local address from and, when claimed is set, sends
	// a PROXY v2 header naming claimed as the source.
	via := func(from, claimed string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil || claimed == "" {
				return c, err
			}
			h := proxyproto.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.ParseIP(claimed), Port: 40000}, c.RemoteAddr())
			if _, err := h.WriteTo(c); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		}
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: roots}}}
	}
	post := func(hc *http.Client, path, token string, body any) (int, string, error) {
		b, _ := json.Marshal(body)
		rq, _ := http.NewRequest("POST", s.url+path, bytes.NewReader(b))
		rq.Header.Set("Content-Type", "application/json")
		if token != "" {
			rq.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(rq)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.String(), nil
	}

	status, body, err := post(via("127.0.0.1", "203.0.113.50"), "/api/v1/agent/enroll", "", api.EnrollRequest{Secret: added.EnrollmentSecret, AgentVersion: "0.1.0-dev"})
	if err != nil || status != http.StatusCreated {
		t.Fatalf("enrol through the balancer from 203.0.113.50: %d %s %v", status, body, err)
	}
	var enr api.EnrollResponse
	if err := json.Unmarshal([]byte(body), &enr); err != nil {
		t.Fatal(err)
	}
	hb := api.Heartbeat{Protocol: api.ProtocolVersion, AgentVersion: "0.1.0-dev", Interval: api.Duration(time.Second)}
	if status, body, err := post(via("127.0.0.1", "203.0.113.50"), "/api/v1/agent/heartbeat", enr.Token, hb); err != nil || status != http.StatusOK {
		t.Fatalf("heartbeat through the balancer: %d %s %v", status, body, err)
	}
	status, body, err = post(via("127.0.0.1", ""), "/api/v1/agent/heartbeat", enr.Token, hb)
	if err != nil || status != http.StatusForbidden || !strings.Contains(body, "127.0.0.1") {
		t.Fatalf("heartbeat from the balancer itself, no header: %d %s %v, want 403 naming 127.0.0.1", status, body, err)
	}
	if status, body, err := post(via("127.0.0.2", "203.0.113.50"), "/api/v1/agent/heartbeat", enr.Token, hb); err == nil {
		t.Fatalf("a PROXY header from an untrusted peer was believed: %d %s", status, body)
	}
	evs := cli(t, s.env(), "events", "--kind", "agent.refused")
	if !strings.Contains(evs, "from 127.0.0.1") {
		t.Fatalf("refusal events:\n%s", evs)
	}
}
