package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns/pdnstest"
)

// TestFailoverAtPowerDNS: a pool's failover record lives at a real
// pdns_server registered as a DNS provider (poolctl dns provider add, a
// wrong key refused first). dig against PowerDNS answers the active
// member, then, after kill -9 of its agent, the standby; the cut event
// says where the record was published. The provider cannot be removed
// while the pool uses it; once the pool stops publishing there, the
// record is gone from PowerDNS and the provider can be removed.
func TestFailoverAtPowerDNS(t *testing.T) {
	needDig(t)
	p := pdnstest.Start(t)
	if _, err := pdnsClient(t, p).CreateZone(t.Context(), powerdns.ZoneCreate{Name: "fail.test.", Nameservers: []string{"ns1.fail.test."}}); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, t.TempDir())
	dir := t.TempDir()
	wrong, key := filepath.Join(dir, "wrong.key"), filepath.Join(dir, "pdns.key")
	if err := os.WriteFile(wrong, []byte("not-the-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, []byte(p.APIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := cliRun(s.env(), "dns", "provider", "add", "pdns1", "--kind", "powerdns", "--url", p.URL, "--api-key-file", wrong)
	if err == nil || !strings.Contains(stderr, "refused the API key") {
		t.Fatalf("a wrong key: got err %v, stderr %q; want a refusal naming the key", err, stderr)
	}
	var prov api.DNSProvider
	cliJSON(t, s.env(), &prov, "dns", "provider", "add", "pdns1", "--kind", "powerdns", "--url", p.URL, "--api-key-file", key)
	if prov.Target != p.URL || !prov.HasSecret {
		t.Fatalf("provider added: %+v", prov)
	}
	if out := cli(t, s.env(), "dns", "provider", "list"); !strings.Contains(out, "pdns1") || strings.Contains(out, p.APIKey) {
		t.Fatalf("provider list:\n%s", out)
	}

	cli(t, s.env(), "pool", "create", "web", "--failover-record", "www.fail.test", "--dns-provider", "pdns1",
		"--failover-delay", "5s", "--ttl", "5", "--heartbeat-timeout", "3s")
	var agents [2]*proc
	for i, name := range []string{"node1", "node2"} {
		var added api.MemberAdded
		cliJSON(t, s.env(), &added, "member", "add", "web", name, "--address", "203.0.113."+string(rune('1'+i)), "--allow-ip", "127.0.0.1", "--priority", string(rune('1'+i)))
		d := filepath.Join(t.TempDir(), name)
		cli(t, nil, "agent", "enroll", "--server", s.url, "--secret", added.EnrollmentSecret, "--data", d)
		agents[i] = start(t, nil, "agent", "--data", d, "--heartbeat-interval", "500ms")
		if i == 0 {
			waitFor(t, 30*time.Second, "www.fail.test -> node1 at PowerDNS", func() bool { return dig(t, p.DNS, "www.fail.test") == "203.0.113.1" })
		}
	}
	var pool api.Pool
	cliJSON(t, s.env(), &pool, "pool", "show", "web")
	if pool.DNSProvider != "pdns1" {
		t.Fatalf("pool: dns_provider %q, want pdns1", pool.DNSProvider)
	}
	_, stderr, err = cliRun(s.env(), "dns", "provider", "remove", "pdns1")
	if err == nil || !strings.Contains(stderr, "pool:web") {
		t.Fatalf("remove in use: got err %v, stderr %q", err, stderr)
	}

	waitFor(t, 30*time.Second, "node2 healthy", func() bool { return members(t, s, "web")["node2"].Status == api.StatusHealthy })
	time.Sleep(11 * time.Second) // the standby settles before it can take over
	agents[0].kill(syscall.SIGKILL)
	waitFor(t, 20*time.Second, "www.fail.test -> node2 at PowerDNS", func() bool { return dig(t, p.DNS, "www.fail.test") == "203.0.113.2" })
	recs, err := pdnsClient(t, p).GetRecords(t.Context(), "fail.test.")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.Name == "www" {
			got = append(got, r.String())
		}
	}
	if len(got) != 1 || got[0] != "www 5 A 203.0.113.2" {
		t.Fatalf("www.fail.test at PowerDNS: got %q, want one A record with TTL 5", got)
	}
	var evs api.List[api.Event]
	cliJSON(t, s.env(), &evs, "events", "--pool", "web", "--kind", "failover.cut")
	var data struct {
		DNS struct {
			Provider  string `json:"provider"`
			Published bool   `json:"published"`
		} `json:"dns"`
	}
	if len(evs.Items) != 1 || json.Unmarshal(evs.Items[0].Data, &data) != nil || data.DNS.Provider != "pdns1" || !data.DNS.Published {
		t.Fatalf("the cut event does not say where the record went: %+v", evs.Items)
	}

	// The pool stops publishing there: the record is removed at PowerDNS
	// and the provider can go.
	cli(t, s.env(), "pool", "update", "web", "--failover-record", "", "--dns-provider", "")
	if got := dig(t, p.DNS, "www.fail.test"); got != "" {
		t.Fatalf("www.fail.test at PowerDNS after the pool stopped publishing it: got %q, want nothing", got)
	}
	cli(t, s.env(), "dns", "provider", "remove", "pdns1")
}
