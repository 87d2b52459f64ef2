package dnsprov_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprov"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns/pdnstest"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

func pdnsZone(t *testing.T, p *pdnstest.Server, zone string) {
	t.Helper()
	c, err := powerdns.New(p.URL, powerdns.Options{APIKey: p.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateZone(t.Context(), powerdns.ZoneCreate{Name: zone, Nameservers: []string{"ns1." + zone}}); err != nil {
		t.Fatal(err)
	}
}

func registry(t *testing.T, st *store.Store) *dnsprov.Registry {
	t.Helper()
	r, err := dnsprov.New(dnsprov.Config{Store: st, MasterKey: [32]byte{1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func digA(t *testing.T, addr, name string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("dig", "+short", "+norec", "+time=1", "+tries=1", "@"+host, "-p", port, name, "A").Output()
	if err != nil {
		t.Fatalf("dig: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestRegistryPowerDNS: a PowerDNS provider is checked on save (a wrong
// key and an unreachable server refused, saying what failed), stored with
// its key sealed (not in the row, not in the API view), built back from the
// store and used to publish an address idempotently; removal is refused
// while a pool uses it. On both store dialects.
func TestRegistryPowerDNS(t *testing.T) {
	p := pdnstest.Start(t)
	pdnsZone(t, p, "reg.test.")
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		r := registry(t, st)
		in := api.DNSProviderCreate{Name: "pdns1", Kind: api.DNSProviderPowerDNS, PowerDNS: &api.PowerDNSProvider{URL: p.URL}, Secret: "wrong-key"}
		_, err := r.Add(ctx, in)
		if !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "list zones") || !strings.Contains(err.Error(), "refused the API key") {
			t.Fatalf("wrong key: got %v, want invalid naming the list of zones and the refused key", err)
		}
		t.Logf("a wrong key: %v", err)
		down := in
		down.PowerDNS = &api.PowerDNSProvider{URL: "http://127.0.0.1:1"}
		down.Secret = p.APIKey
		if _, err := r.Add(ctx, down); !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Fatalf("unreachable: got %v", err)
		}
		if ps, _ := r.List(ctx); len(ps) != 0 {
			t.Fatalf("refused providers were stored: %+v", ps)
		}
		in.Secret = p.APIKey
		got, err := r.Add(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if got.Target != p.URL || !got.HasSecret || got.Kind != "powerdns" {
			t.Fatalf("added: %+v", got)
		}
		b, _ := json.Marshal(got)
		row, err := st.GetDNSProvider(ctx, "pdns1")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), p.APIKey) || strings.Contains(string(row.Config), p.APIKey) || strings.Contains(row.SecretSealed, p.APIKey) {
			t.Fatalf("the API key is readable: api %s, row %+v", b, row)
		}
		if _, err := r.Add(ctx, in); !errors.Is(err, apperr.Conflict) {
			t.Fatalf("added twice: got %v, want conflict", err)
		}

		// A fresh registry (another replica, a restart) builds it from the store.
		r2 := registry(t, st)
		if err := r2.CheckRecord(ctx, "pdns1", "www.reg.test"); err != nil {
			t.Fatal(err)
		}
		if err := r2.CheckRecord(ctx, "pdns1", "www.elsewhere.test"); !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "reg.test.") {
			t.Fatalf("record outside its zones: got %v", err)
		}
		for i, want := range []string{dnsprov.ResultSet, dnsprov.ResultUnchanged} {
			res, err := r2.PublishAddress(ctx, "pdns1", "www.reg.test", 30, netip.MustParseAddr("192.0.2.7"))
			if err != nil || res != want {
				t.Fatalf("publish %d: got %q, %v; want %q", i, res, err, want)
			}
		}
		if got := digA(t, p.DNS, "www.reg.test"); got != "192.0.2.7" {
			t.Fatalf("dig www.reg.test at PowerDNS: got %q", got)
		}
		if _, err := r2.PublishAddress(ctx, "pdns1", "www.reg.test", 30, netip.MustParseAddr("192.0.2.8")); err != nil {
			t.Fatal(err)
		}
		if got := digA(t, p.DNS, "www.reg.test"); got != "192.0.2.8" {
			t.Fatalf("dig after the move: got %q", got)
		}
		for range 2 {
			if err := r2.UnpublishAddress(ctx, "pdns1", "www.reg.test"); err != nil {
				t.Fatal(err)
			}
		}
		if got := digA(t, p.DNS, "www.reg.test"); got != "" {
			t.Fatalf("dig after unpublishing: got %q, want nothing", got)
		}

		pool := store.Pool{Name: "web", Preset: "generic", FailoverDelay: 30 * time.Second, TTL: 30, Failback: "manual", HeartbeatTimeout: 10 * time.Second, DNSProvider: "pdns1"}
		if err := st.CreatePool(ctx, &pool, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := r.Remove(ctx, "pdns1"); !errors.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "pool:web") {
			t.Fatalf("remove in use: got %v, want conflict naming pool:web", err)
		}
		if got, _ := r.Get(ctx, "pdns1"); len(got.UsedBy) != 1 {
			t.Fatalf("used by: %+v", got.UsedBy)
		}
		if _, err := st.DeletePool(ctx, pool.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := r.Remove(ctx, "pdns1"); err != nil {
			t.Fatal(err)
		}
		if err := r.Remove(ctx, "pdns1"); !errors.Is(err, apperr.NotFound) {
			t.Fatalf("removed twice: got %v", err)
		}
	})
}

// TestAddInvalid: settings missing or of another kind are refused before
// anything is contacted.
func TestAddInvalid(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	r := registry(t, st)
	for _, in := range []api.DNSProviderCreate{
		{Name: "Bad_Name", Kind: "powerdns", PowerDNS: &api.PowerDNSProvider{URL: "http://127.0.0.1:1"}, Secret: "k"},
		{Name: "builtin", Kind: "powerdns", PowerDNS: &api.PowerDNSProvider{URL: "http://127.0.0.1:1"}, Secret: "k"},
		{Name: "x", Kind: "bind", Secret: "k"},
		{Name: "x", Kind: "powerdns", Secret: "k"},
		{Name: "x", Kind: "powerdns", PowerDNS: &api.PowerDNSProvider{URL: "http://127.0.0.1:1"}},
		{Name: "x", Kind: "powerdns", PowerDNS: &api.PowerDNSProvider{URL: "http://127.0.0.1:1"}, Cloudflare: &api.CloudflareProvider{}, Secret: "k"},
		{Name: "x", Kind: "rfc2136", RFC2136: &api.RFC2136Provider{Server: "127.0.0.1:53", KeyName: "k."}, Secret: "a2V5"},
		{Name: "x", Kind: "rfc2136", RFC2136: &api.RFC2136Provider{Server: "127.0.0.1:53", KeyName: "k.", Zones: []string{"bad..zone"}}, Secret: "a2V5"},
		{Name: "x", Kind: "cloudflare"},
		{Name: "x", Kind: "powerdns", PowerDNS: &api.PowerDNSProvider{URL: "ftp://h"}, Secret: "k"},
	} {
		if _, err := r.Add(t.Context(), in); !errors.Is(err, apperr.Invalid) {
			t.Errorf("%+v: got %v, want invalid", in, err)
		}
	}
}
