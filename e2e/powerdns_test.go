package e2e

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns/pdnstest"
)

// digSOA is the SOA serial addr answers for zone, or "" when it answers none.
func digSOA(t *testing.T, addr, zone string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("dig", "+short", "+norec", "+time=1", "+tries=1", "@"+host, "-p", port, zone, "SOA").Output()
	if err != nil {
		return "error: " + err.Error()
	}
	f := strings.Fields(string(out))
	if len(f) != 7 {
		return ""
	}
	return f[2]
}

func pdnsClient(t *testing.T, p *pdnstest.Server) *powerdns.Client {
	t.Helper()
	c, err := powerdns.New(p.URL, powerdns.Options{APIKey: p.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pdnsMember(t *testing.T, s *server, host string, p *pdnstest.Server, role string) {
	t.Helper()
	cli(t, s.env(), "dns", "cluster", "add", host, "--backend", "powerdns", "--url", p.URL, "--token", p.APIKey, "--role", role)
}

// TestPowerDNSWriteOnly: a poolctl server writes its zones to a real
// pdns_server (backend powerdns, write-only), answered by dig on PowerDNS's
// DNS port: a new zone, record changes, the same SOA serial as the server,
// a deleted zone gone there; pdns_server killed with -9 misses 20 changes
// and a new zone and catches up after its restart.
func TestPowerDNSWriteOnly(t *testing.T) {
	needDig(t)
	p := pdnstest.Start(t)
	s := startServer(t, t.TempDir(), "--dns-listen", "127.0.0.1:0", "--dns-cluster-reconcile", "2s")
	sDNS := dnsAddr(t, s)

	add := []string{"dns", "cluster", "add", "pdns1.test", "--backend", "powerdns", "--url", p.URL, "--role", "write-only"}
	if _, errOut, err := cliRun(s.env(), append(add, "--token", "wrong-key")...); err == nil || !strings.Contains(errOut, "refused the token") || !strings.Contains(errOut, "refused the API key") {
		t.Fatalf("add with a wrong API key: %v %s", err, errOut)
	}
	if _, errOut, err := cliRun(s.env(), append(add, "--token", p.APIKey, "--backend", "bind")...); err == nil || !strings.Contains(errOut, "powerdns") {
		t.Fatalf("add with an unknown backend: %v %s", err, errOut)
	}
	pdnsMember(t, s, "pdns1.test", p, api.ClusterRoleWriteOnly)
	var ms api.List[api.ClusterMember]
	cliJSON(t, s.env(), &ms, "dns", "cluster", "list")
	if len(ms.Items) != 1 || ms.Items[0].Backend != "powerdns" || ms.Items[0].Node != "powerdns" || !strings.HasPrefix(ms.Items[0].Version, "PowerDNS 4") {
		t.Fatalf("members: %+v", ms.Items)
	}
	cli(t, s.env(), "dns", "cluster", "enable")

	cli(t, s.env(), "zone", "create", "shop.test", "--ns", "ns1.shop.test")
	cli(t, s.env(), "record", "add", "shop.test", "www", "A", "192.0.2.1", "--ttl", "60")
	cli(t, s.env(), "record", "add", "shop.test", "@", "TXT", "v=spf1 -all", "--ttl", "60")
	waitFor(t, 15*time.Second, "PowerDNS answers www.shop.test", func() bool { return dig(t, p.DNS, "www.shop.test") == "192.0.2.1" })
	waitFor(t, 15*time.Second, "PowerDNS answers the server's SOA serial", func() bool {
		return digSOA(t, p.DNS, "shop.test") == digSOA(t, sDNS, "shop.test")
	})

	// A record changed (deleted and another added) is answered so.
	var recs api.List[api.Record]
	cliJSON(t, s.env(), &recs, "record", "list", "shop.test")
	for _, r := range recs.Items {
		if r.Name == "www.shop.test" || r.Name == "www" {
			cli(t, s.env(), "record", "delete", "shop.test", fmt.Sprint(r.ID))
		}
	}
	cli(t, s.env(), "record", "add", "shop.test", "www", "A", "192.0.2.2", "--ttl", "60")
	waitFor(t, 15*time.Second, "PowerDNS answers the changed www.shop.test", func() bool { return dig(t, p.DNS, "www.shop.test") == "192.0.2.2" })
	if rs, err := pdnsClient(t, p).GetRecords(t.Context(), "shop.test"); err != nil || !containsRecord(rs, "@", "TXT", `"v=spf1 -all"`) {
		t.Fatalf("PowerDNS's shop.test: %v, %v; want the TXT record", rs, err)
	}

	// A zone deleted here is gone there.
	cli(t, s.env(), "zone", "create", "gone.test", "--ns", "ns1.gone.test")
	cli(t, s.env(), "record", "add", "gone.test", "www", "A", "192.0.2.5", "--ttl", "60")
	waitFor(t, 15*time.Second, "PowerDNS answers www.gone.test", func() bool { return dig(t, p.DNS, "www.gone.test") == "192.0.2.5" })
	cli(t, s.env(), "zone", "delete", "gone.test")
	waitFor(t, 15*time.Second, "gone.test deleted on PowerDNS", func() bool {
		_, err := pdnsClient(t, p).Zone(t.Context(), "gone.test")
		return errors.Is(err, apperr.NotFound)
	})
	if got := dig(t, p.DNS, "www.gone.test"); got != "" {
		t.Fatalf("PowerDNS still answers a deleted zone: %q", got)
	}

	// kill -9 pdns_server, make 20 changes and a zone, restart it: it
	// catches up.
	cli(t, s.env(), "dns", "cluster", "set", "--threshold", "0")
	p.Kill(syscall.SIGKILL)
	ac := apiClient(t, s)
	for i := 1; i <= 20; i++ {
		if _, err := ac.AddRecord(t.Context(), "shop.test", api.RecordCreate{Name: fmt.Sprintf("h%d", i), Type: "A", TTL: 60, Value: fmt.Sprintf("198.51.100.%d", i)}); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	cli(t, s.env(), "zone", "create", "late.test", "--ns", "ns1.late.test")
	cli(t, s.env(), "record", "add", "late.test", "www", "A", "192.0.2.6", "--ttl", "60")
	waitFor(t, 15*time.Second, "the member failing", func() bool {
		cliJSON(t, s.env(), &ms, "dns", "cluster", "list")
		return ms.Items[0].Status == api.ClusterMemberFailing && strings.Contains(ms.Items[0].LastError, "cannot reach PowerDNS")
	})
	p.Restart()
	waitFor(t, 20*time.Second, "the restarted PowerDNS answers the 20th change", func() bool { return dig(t, p.DNS, "h20.shop.test") == "198.51.100.20" })
	waitFor(t, 10*time.Second, "the restarted PowerDNS answers the zone made meanwhile", func() bool { return dig(t, p.DNS, "www.late.test") == "192.0.2.6" })
	if got, want := digSOA(t, p.DNS, "shop.test"), digSOA(t, sDNS, "shop.test"); got != want {
		t.Fatalf("SOA serial on PowerDNS %q, on the server %q", got, want)
	}
	waitFor(t, 10*time.Second, "the member ok again", func() bool {
		cliJSON(t, s.env(), &ms, "dns", "cluster", "list")
		return ms.Items[0].Status == api.ClusterMemberOK
	})
	if evs := cli(t, s.env(), "events", "--kind", "dns.cluster_conflict"); strings.Contains(evs, "dns.cluster_conflict") {
		t.Fatalf("writing to PowerDNS raised a conflict:\n%s", evs)
	}
}

func containsRecord(rs []dnsprovider.Record, name, typ, value string) bool {
	for _, r := range rs {
		if r.Name == name && r.Type == typ && r.Value == value {
			return true
		}
	}
	return false
}

// TestPowerDNSStandalone: a zone made in a real pdns_server through its
// API is fetched and answered by a poolctl server that has it as a
// standalone member, and so are the changes made there (a record added,
// one deleted); the server never writes to it; pdns_server killed with -9
// and restarted is read again, and a change made after its return arrives.
func TestPowerDNSStandalone(t *testing.T) {
	needDig(t)
	p := pdnstest.Start(t)
	pc := pdnsClient(t, p)
	ctx := t.Context()
	if _, err := pc.CreateZone(ctx, powerdns.ZoneCreate{Name: "far.test", Nameservers: []string{"ns1.far.test."}, SOAEditAPI: "DEFAULT"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AppendRecords(ctx, "far.test", []dnsprovider.Record{
		{Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.3"},
		{Name: "old", Type: "A", TTL: time.Minute, Value: "192.0.2.4"}}); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, t.TempDir(), "--dns-listen", "127.0.0.1:0", "--dns-cluster-reconcile", "2s")
	sDNS := dnsAddr(t, s)
	pdnsMember(t, s, "pdns2.test", p, api.ClusterRoleStandalone)
	cli(t, s.env(), "dns", "cluster", "enable")
	waitFor(t, 15*time.Second, "the server answers PowerDNS's www.far.test", func() bool { return dig(t, sDNS, "www.far.test") == "192.0.2.3" })
	if got, want := digSOA(t, sDNS, "far.test"), digSOA(t, p.DNS, "far.test"); got != want || got == "" {
		t.Fatalf("SOA serial on the server %q, on PowerDNS %q", got, want)
	}

	// Changes made in PowerDNS arrive; nothing made here goes there.
	cli(t, s.env(), "zone", "create", "here.test", "--ns", "ns1.here.test")
	if _, err := pc.AppendRecords(ctx, "far.test", []dnsprovider.Record{{Name: "new", Type: "A", TTL: time.Minute, Value: "192.0.2.7"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.DeleteRecords(ctx, "far.test", []dnsprovider.Record{{Name: "old", Type: "A"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the server answers the record added in PowerDNS", func() bool { return dig(t, sDNS, "new.far.test") == "192.0.2.7" })
	waitFor(t, 15*time.Second, "the record deleted in PowerDNS gone here", func() bool { return dig(t, sDNS, "old.far.test") == "" })
	time.Sleep(5 * time.Second) // two reconciles go by
	if _, err := pc.Zone(ctx, "here.test"); !errors.Is(err, apperr.NotFound) {
		t.Fatalf("the server wrote to its standalone member: here.test: %v", err)
	}

	// kill -9 pdns_server; the server keeps answering; restarted, the
	// member is read again and a change made there arrives.
	cli(t, s.env(), "dns", "cluster", "set", "--threshold", "0")
	p.Kill(syscall.SIGKILL)
	var ms api.List[api.ClusterMember]
	waitFor(t, 15*time.Second, "the member failing", func() bool {
		cliJSON(t, s.env(), &ms, "dns", "cluster", "list")
		return ms.Items[0].Status == api.ClusterMemberFailing
	})
	if got := dig(t, sDNS, "www.far.test"); got != "192.0.2.3" {
		t.Fatalf("the server stopped answering far.test while PowerDNS is down: %q", got)
	}
	p.Restart()
	if _, err := pc.SetRecords(ctx, "far.test", []dnsprovider.Record{{Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.8"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the server answers the change made after PowerDNS's restart", func() bool { return dig(t, sDNS, "www.far.test") == "192.0.2.8" })
	waitFor(t, 10*time.Second, "the member ok again", func() bool {
		cliJSON(t, s.env(), &ms, "dns", "cluster", "list")
		return ms.Items[0].Status == api.ClusterMemberOK
	})
}

// TestPowerDNSSync: a real pdns_server as a sync member: a zone made here
// is written there, a change made there (with a new serial) comes back and
// is answered here, and the next change here goes there again; a zone made
// in PowerDNS is served here.
func TestPowerDNSSync(t *testing.T) {
	needDig(t)
	p := pdnstest.Start(t)
	pc := pdnsClient(t, p)
	ctx := t.Context()
	s := startServer(t, t.TempDir(), "--dns-listen", "127.0.0.1:0", "--dns-cluster-reconcile", "2s")
	sDNS := dnsAddr(t, s)
	pdnsMember(t, s, "pdns3.test", p, api.ClusterRoleSync)
	cli(t, s.env(), "dns", "cluster", "enable")

	cli(t, s.env(), "zone", "create", "shop.test", "--ns", "ns1.shop.test")
	cli(t, s.env(), "record", "add", "shop.test", "www", "A", "192.0.2.1", "--ttl", "60")
	waitFor(t, 15*time.Second, "PowerDNS answers www.shop.test", func() bool { return dig(t, p.DNS, "www.shop.test") == "192.0.2.1" })

	// A change made in PowerDNS, with the SOA serial raised in the same PATCH.
	z, err := pc.Zone(ctx, "shop.test")
	if err != nil {
		t.Fatal(err)
	}
	var soa powerdns.RRset
	for _, rs := range z.RRsets {
		if rs.Type == "SOA" {
			soa = rs
		}
	}
	f := strings.Fields(soa.Records[0].Content)
	f[2] = fmt.Sprint(z.Serial + 1)
	soa.Records[0].Content, soa.ChangeType = strings.Join(f, " "), powerdns.Replace
	if err := pc.PatchZone(ctx, "shop.test", []powerdns.RRset{soa,
		{Name: "there.shop.test.", Type: "A", TTL: 60, ChangeType: powerdns.Replace, Records: []powerdns.RR{{Content: "192.0.2.20"}}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the server answers the change made in PowerDNS", func() bool { return dig(t, sDNS, "there.shop.test") == "192.0.2.20" })
	cli(t, s.env(), "record", "add", "shop.test", "here", "A", "192.0.2.21", "--ttl", "60")
	waitFor(t, 15*time.Second, "PowerDNS answers the next change made here", func() bool { return dig(t, p.DNS, "here.shop.test") == "192.0.2.21" })
	if got := dig(t, p.DNS, "there.shop.test"); got != "192.0.2.20" {
		t.Fatalf("PowerDNS lost its own change: there.shop.test = %q", got)
	}

	// A zone made in PowerDNS is served here.
	if _, err := pc.CreateZone(ctx, powerdns.ZoneCreate{Name: "made-there.test", Nameservers: []string{"ns1.made-there.test."}, SOAEditAPI: "DEFAULT"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AppendRecords(ctx, "made-there.test", []dnsprovider.Record{{Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.22"}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the server answers the zone made in PowerDNS", func() bool { return dig(t, sDNS, "www.made-there.test") == "192.0.2.22" })
	if cs := openConflicts(t, s); len(cs) != 0 {
		t.Fatalf("conflicts: %+v", cs)
	}
}
