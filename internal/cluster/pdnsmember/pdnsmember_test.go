package pdnsmember_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/cluster/pdnsmember"
	"github.com/poolctl/poolctl/internal/dnsprovider"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns/pdnstest"
)

func zoneText(serial uint32, extra ...string) api.ClusterZone {
	text := fmt.Sprintf(`shop.test. 3600 IN SOA ns1.shop.test. hostmaster.shop.test. %d 3600 600 604800 60
shop.test. 3600 IN NS ns1.shop.test.
www.shop.test. 60 IN A 192.0.2.1
txt.shop.test. 300 IN TXT "v=spf1 -all"
`, serial)
	for _, e := range extra {
		text += e + "\n"
	}
	return api.ClusterZone{Serial: serial, Text: text}
}

func start(t *testing.T) (*pdnstest.Server, *pdnsmember.Member, *powerdns.Client) {
	t.Helper()
	s := pdnstest.Start(t)
	m, err := pdnsmember.Dial(s.URL, s.APIKey, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := powerdns.New(s.URL, powerdns.Options{APIKey: s.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	return s, m.(*pdnsmember.Member), c
}

// TestPutGet: a zone written whole is read back whole, serial kept; the
// same write again changes nothing; a newer one replaces the RRsets (and
// removes those gone); an older serial or the same serial with other
// content is refused and changes nothing.
func TestPutGet(t *testing.T) {
	_, m, c := start(t)
	ctx := t.Context()
	put := client.ClusterPut{Role: api.ClusterRoleWriteOnly}
	res, err := m.ClusterPutZone(ctx, "shop.test", zoneText(10, "old.shop.test. 60 IN A 192.0.2.9"), put)
	if err != nil || !res.Changed || !res.Created || res.Zone != "shop.test" {
		t.Fatalf("first put = %+v, %v", res, err)
	}
	z, err := c.Zone(ctx, "shop.test")
	if err != nil || z.Kind != "Native" || z.Serial != 10 || z.SOAEditAPI != "" {
		t.Fatalf("zone on PowerDNS = %+v, %v", z, err)
	}
	res, err = m.ClusterPutZone(ctx, "shop.test", zoneText(10, "old.shop.test. 60 IN A 192.0.2.9"), put)
	if err != nil || res.Changed {
		t.Fatalf("the same put again = %+v, %v; want unchanged", res, err)
	}
	res, err = m.ClusterPutZone(ctx, "shop.test", zoneText(11, "new.shop.test. 60 IN A 192.0.2.10", "www.shop.test. 60 IN A 192.0.2.2"), put)
	if err != nil || !res.Changed || res.Created {
		t.Fatalf("newer put = %+v, %v", res, err)
	}
	got, err := m.ClusterGetZone(ctx, "shop.test")
	if err != nil || got.Serial != 11 {
		t.Fatalf("get = %+v, %v", got, err)
	}
	for _, want := range []string{"new.shop.test.\t60\tIN\tA\t192.0.2.10", "www.shop.test.\t60\tIN\tA\t192.0.2.1", "www.shop.test.\t60\tIN\tA\t192.0.2.2", `"v=spf1 -all"`, "hostmaster.shop.test. 11 3600"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("the zone read back lacks %q:\n%s", want, got.Text)
		}
	}
	if strings.Contains(got.Text, "old.shop.test") {
		t.Errorf("an RRset gone from the text stayed:\n%s", got.Text)
	}

	// Backwards, or the same serial with other content: refused, unchanged.
	if _, err := m.ClusterPutZone(ctx, "shop.test", zoneText(9), put); !errors.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "newer than the 9 sent") {
		t.Fatalf("an older serial: %v, want a conflict", err)
	}
	if _, err := m.ClusterPutZone(ctx, "shop.test", zoneText(11, "other.shop.test. 60 IN A 192.0.2.3"), put); !errors.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "other content") {
		t.Fatalf("the same serial, other content: %v, want a conflict", err)
	}
	if again, err := m.ClusterGetZone(ctx, "shop.test"); err != nil || again.Text != got.Text {
		t.Fatalf("a refused put changed the zone:\n%s\nwas\n%s", again.Text, got.Text)
	}

	h, err := m.ClusterHello(ctx)
	if err != nil || h.Node != "powerdns" || !strings.HasPrefix(h.Version, "PowerDNS 4") || len(h.Zones) != 1 || h.Zones[0] != (api.ClusterZoneSerial{Zone: "shop.test", Serial: 11}) {
		t.Fatalf("hello = %+v, %v", h, err)
	}

	if err := m.ClusterDeleteZone(ctx, "shop.test", put); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := m.ClusterDeleteZone(ctx, "shop.test", put); err != nil {
		t.Fatalf("delete of a zone not there: %v, want done", err)
	}
	if _, err := m.ClusterGetZone(ctx, "shop.test"); !errors.Is(err, apperr.NotFound) {
		t.Fatalf("get of a deleted zone: %v, want not found", err)
	}
}

// TestSerialKept: a zone made in PowerDNS (its SOA-EDIT-API on, as by
// default) takes the serial sent, not one of PowerDNS's own.
func TestSerialKept(t *testing.T) {
	_, m, c := start(t)
	ctx := t.Context()
	if _, err := c.CreateZone(ctx, powerdns.ZoneCreate{Name: "shop.test", SOAEditAPI: "DEFAULT", Nameservers: []string{"ns1.shop.test."}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppendRecords(ctx, "shop.test", []dnsprovider.Record{{Name: "www", Type: "A", TTL: 60e9, Value: "192.0.2.50"}}); err != nil {
		t.Fatal(err)
	}
	z, err := c.Zone(ctx, "shop.test")
	if err != nil || z.SOAEditAPI != "DEFAULT" {
		t.Fatalf("zone = %+v, %v", z, err)
	}
	next := z.Serial + 5
	if _, err := m.ClusterPutZone(ctx, "shop.test", zoneText(next), client.ClusterPut{}); err != nil {
		t.Fatal(err)
	}
	got, err := m.ClusterGetZone(ctx, "shop.test")
	if err != nil || got.Serial != next {
		t.Fatalf("serial after the put = %d, %v; want %d as sent", got.Serial, err, next)
	}
	if strings.Contains(got.Text, "192.0.2.50") {
		t.Fatalf("a record PowerDNS had, not in the text, stayed:\n%s", got.Text)
	}
}

// TestRefusals: a signed zone, a malformed text, a record poolctl cannot
// take, and a wrong API key.
func TestRefusals(t *testing.T) {
	s, m, c := start(t)
	ctx := t.Context()
	signed := zoneText(3)
	signed.DNSSEC = &api.ClusterDNSSEC{}
	if _, err := m.ClusterPutZone(ctx, "shop.test", signed, client.ClusterPut{}); !errors.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "DNSSEC") {
		t.Fatalf("a signed zone: %v", err)
	}
	bad := zoneText(3)
	bad.Serial = 4
	if _, err := m.ClusterPutZone(ctx, "shop.test", bad, client.ClusterPut{}); !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("a serial that is not the text's: %v", err)
	}
	if _, err := m.ClusterPutZone(ctx, "shop.test", api.ClusterZone{Serial: 1, Text: "www 60 IN A 192.0.2.1\n"}, client.ClusterPut{}); !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "0 SOA") {
		t.Fatalf("a text without SOA: %v", err)
	}
	if zs, err := c.ListZones(ctx); err != nil || len(zs) != 0 {
		t.Fatalf("refused puts created zones: %v, %v", zs, err)
	}
	if _, err := c.CreateZone(ctx, powerdns.ZoneCreate{Name: "odd.test", Nameservers: []string{"ns1.odd.test."},
		RRsets: []powerdns.RRset{{Name: "odd.test.", Type: "NAPTR", TTL: 60, Records: []powerdns.RR{{Content: `100 10 "u" "E2U+sip" "!^.*$!sip:info@odd.test!" .`}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.ClusterGetZone(ctx, "odd.test"); !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "NAPTR") {
		t.Fatalf("a zone with a NAPTR record: %v", err)
	}
	wrong, err := pdnsmember.Dial(s.URL, "wrong-key", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.ClusterHello(ctx); !errors.Is(err, apperr.Unauthorized) || !strings.Contains(err.Error(), "refused the API key") {
		t.Fatalf("a wrong key: %v", err)
	}
}
