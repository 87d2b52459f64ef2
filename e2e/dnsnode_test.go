package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDNSNode: `poolctl dns-node` is a nameserver-only node. It writes its
// admin token and CA as the server does, serves zones managed through the
// usual commands (answered by the real dig), and refuses what it does not
// do (pools, the dashboard) with a message that says what it is.
func TestDNSNode(t *testing.T) {
	needDig(t)
	data := t.TempDir()
	if _, errOut, err := cliRun(nil, "dns-node", "--data", data); err == nil || !strings.Contains(errOut, "--dns-listen is required") {
		t.Fatalf("dns-node without --dns-listen: %v %s", err, errOut)
	}
	n := startServing(t, binary, "dns-node", data, "--dns-listen", "127.0.0.1:0")
	addr := dnsAddr(t, n)
	if _, err := os.Stat(filepath.Join(data, "admin.password")); !os.IsNotExist(err) {
		t.Fatalf("a DNS node made a dashboard password: %v", err)
	}
	cli(t, n.env(), "zone", "create", "example.net", "--ns", "ns1.example.net")
	cli(t, n.env(), "record", "add", "example.net", "www", "A", "192.0.2.53", "--ttl", "60")
	waitFor(t, 10*time.Second, "www.example.net answered", func() bool { return dig(t, addr, "www.example.net") == "192.0.2.53" })
	if out := cli(t, n.env(), "zone", "list"); !strings.Contains(out, "example.net") {
		t.Fatalf("zone list:\n%s", out)
	}
	if _, errOut, err := cliRun(n.env(), "pool", "create", "web"); err == nil || !strings.Contains(errOut, "DNS node") {
		t.Fatalf("pool create on a DNS node: %v %s", err, errOut)
	}
	pem, err := os.ReadFile(n.ca)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := hc.Get(n.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no dashboard") {
		t.Fatalf("GET / on a DNS node: %d %s", resp.StatusCode, body)
	}
	// A restart serves the same zones from its store.
	n.kill(syscall.SIGTERM)
	n = startServing(t, binary, "dns-node", data, "--dns-listen", addr)
	waitFor(t, 15*time.Second, "www.example.net after a restart", func() bool { return dig(t, addr, "www.example.net") == "192.0.2.53" })
}
