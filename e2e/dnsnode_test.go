package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
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
	// Another member of the DNS cluster writes a zone with a cluster token.
	var tok api.TokenCreated
	cliJSON(t, n.env(), &tok, "token", "create", "ns1", "--scope", "cluster")
	text := "$ORIGIN shared.test.\n@ 300 IN SOA ns1.shared.test. hostmaster.shared.test. 2026120401 3600 600 1209600 300\n@ 300 IN NS ns1.shared.test.\nwww 300 IN A 192.0.2.77\n"
	body, _ = json.Marshal(api.ClusterZone{Serial: 2026120401, Text: text})
	rq, _ := http.NewRequest("PUT", n.url+"/api/v1/cluster/zones/shared.test", bytes.NewReader(body))
	rq.Header.Set("Authorization", "Bearer "+tok.Secret)
	rq.Header.Set("Content-Type", "application/json")
	resp, err = hc.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(out), `"created":true`) {
		t.Fatalf("cluster write: %d %s", resp.StatusCode, out)
	}
	waitFor(t, 10*time.Second, "www.shared.test answered", func() bool { return dig(t, addr, "www.shared.test") == "192.0.2.77" })

	// A restart serves the same zones from its store.
	n.kill(syscall.SIGTERM)
	startServing(t, binary, "dns-node", data, "--dns-listen", addr)
	waitFor(t, 15*time.Second, "www.example.net after a restart", func() bool { return dig(t, addr, "www.example.net") == "192.0.2.53" })
}
