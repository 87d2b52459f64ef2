package powerdns_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
	"github.com/poolctl/poolctl/internal/dnsprovider/dnsprovidertest"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns/pdnstest"
)

func client(t *testing.T, s *pdnstest.Server) *powerdns.Client {
	t.Helper()
	c, err := powerdns.New(s.URL, powerdns.Options{APIKey: s.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConformance runs the provider suite against a real pdns_server.
func TestConformance(t *testing.T) {
	s := pdnstest.Start(t)
	c := client(t, s)
	if _, err := c.CreateZone(t.Context(), powerdns.ZoneCreate{Name: "suite.test", Nameservers: []string{"ns1.suite.test."}}); err != nil {
		t.Fatal(err)
	}
	dnsprovidertest.Run(t, func(t *testing.T) dnsprovider.Provider { return client(t, s) }, "suite.test")
}

// TestServedByDNS: what the provider writes is what PowerDNS answers.
func TestServedByDNS(t *testing.T) {
	s := pdnstest.Start(t)
	if _, err := exec.LookPath("dig"); err != nil {
		t.Skip("dig is not installed (bind9-dnsutils)")
	}
	c := client(t, s)
	ctx := t.Context()
	if _, err := c.CreateZone(ctx, powerdns.ZoneCreate{Name: "served.test.", Nameservers: []string{"ns1.served.test."}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetRecords(ctx, "served.test", []dnsprovider.Record{{Name: "www", Type: "A", TTL: 60e9, Value: "192.0.2.7"}}); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(s.DNS, ":")
	out, err := exec.Command("dig", "+short", "+norec", "+time=2", "@"+host, "-p", port, "www.served.test", "A").Output()
	if err != nil || strings.TrimSpace(string(out)) != "192.0.2.7" {
		t.Fatalf("dig www.served.test = %q, %v; want 192.0.2.7", out, err)
	}
}

// TestZones: create, list, read, refuse a second create, delete.
func TestZones(t *testing.T) {
	s := pdnstest.Start(t)
	c := client(t, s)
	ctx := t.Context()
	srv, err := c.Server(ctx)
	if err != nil || srv.DaemonType != "authoritative" || srv.Version == "" {
		t.Fatalf("Server = %+v, %v", srv, err)
	}
	soa := powerdns.RRset{Name: "z.test.", Type: "SOA", TTL: 3600, Records: []powerdns.RR{{Content: "ns1.z.test. hostmaster.z.test. 7 3600 600 604800 60"}}}
	ns := powerdns.RRset{Name: "z.test.", Type: "NS", TTL: 3600, Records: []powerdns.RR{{Content: "ns1.z.test."}}}
	if _, err := c.CreateZone(ctx, powerdns.ZoneCreate{Name: "Z.test", RRsets: []powerdns.RRset{soa, ns}}); err != nil {
		t.Fatalf("CreateZone: %v", err)
	}
	if _, err := c.CreateZone(ctx, powerdns.ZoneCreate{Name: "z.test."}); !errors.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "z.test. already") {
		t.Fatalf("a second CreateZone: %v, want a conflict naming the zone", err)
	}
	z, err := c.Zone(ctx, "z.test")
	if err != nil || z.Serial != 7 || z.Kind != "Native" || z.SOAEditAPI != "" {
		t.Fatalf("Zone = %+v, %v; want serial 7 kept (soa_edit_api empty), kind Native", z, err)
	}
	zs, err := c.Zones(ctx)
	if err != nil || len(zs) != 1 || zs[0].Name != "z.test." || zs[0].Serial != 7 {
		t.Fatalf("Zones = %+v, %v", zs, err)
	}
	if err := c.DeleteZone(ctx, "z.test"); err != nil {
		t.Fatalf("DeleteZone: %v", err)
	}
	if err := c.DeleteZone(ctx, "z.test"); !errors.Is(err, apperr.NotFound) {
		t.Fatalf("DeleteZone of a missing zone: %v, want not_found", err)
	}
	if _, err := c.Zone(ctx, "z.test"); !errors.Is(err, apperr.NotFound) || !strings.Contains(err.Error(), "has no zone z.test.") {
		t.Fatalf("Zone of a missing zone: %v", err)
	}
	if _, err := c.CreateZone(ctx, powerdns.ZoneCreate{Name: "bad name.test"}); !errors.Is(err, apperr.Invalid) {
		t.Fatalf("CreateZone of a bad name: %v, want invalid", err)
	}
}

// TestWrongKey: a wrong API key is Unauthorized, and says so.
func TestWrongKey(t *testing.T) {
	s := pdnstest.Start(t)
	c, err := powerdns.New(s.URL, powerdns.Options{APIKey: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Server(t.Context())
	if !errors.Is(err, apperr.Unauthorized) || !strings.Contains(err.Error(), "refused the API key") {
		t.Fatalf("Server with a wrong key: %v", err)
	}
}
