package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/internal/dnsprov"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns/pdnstest"
	"github.com/poolctl/poolctl/internal/zones"
)

// providerRecords checks failover records in the built-in zones or at a
// provider of the registry.
type providerRecords struct {
	*zones.Service
	reg *dnsprov.Registry
}

func (p providerRecords) CheckProviderRecord(ctx context.Context, provider, fqdn string) error {
	return p.reg.CheckRecord(ctx, provider, fqdn)
}

func (p providerRecords) UnpublishProvider(ctx context.Context, provider, fqdn string) error {
	return p.reg.UnpublishAddress(ctx, provider, fqdn)
}

// TestDNSProvidersCard: the zones page's DNS providers card against a real
// pdns_server: an administrator adds one (a wrong key refused, saying what
// failed; the key never on a page), a pool's settings publish its failover
// record there and show it, removal is refused while the pool uses it; a
// read-only user sees the list without forms and cannot add or remove.
func TestDNSProvidersCard(t *testing.T) {
	p := pdnstest.Start(t)
	pc, err := powerdns.New(p.URL, powerdns.Options{APIKey: p.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.CreateZone(t.Context(), powerdns.ZoneCreate{Name: "dash.test.", Nameservers: []string{"ns1.dash.test."}}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) {
		reg, err := dnsprov.New(dnsprov.Config{Store: c.Store, MasterKey: [32]byte{4}})
		if err != nil {
			t.Fatal(err)
		}
		c.DNSProviders = reg
		// As internal/cli wires it: records in the built-in zones or at a provider.
		c.Fleet.SetRecordChecker(providerRecords{Service: c.Zones.(*zones.Service), reg: reg})
	})
	noKey := func(what string, r resp) {
		t.Helper()
		if strings.Contains(r.Body, p.APIKey) {
			t.Errorf("%s: got the API key in the page, want it never shown", what)
		}
	}
	c := e.client(t)
	c.login("admin", testPassword)
	r := c.get("/zones")
	wantStatus(t, "zones page", r, http.StatusOK)
	mustContain(t, "zones page", r, "DNS providers", "No DNS providers", `action="/dns-providers"`)

	form := url.Values{"name": {"pdns1"}, "kind": {"powerdns"}, "url": {p.URL}, "secret": {"wrong-key"}}
	r = c.post("/dns-providers", form)
	wantStatus(t, "add with a wrong key", r, http.StatusBadRequest)
	mustContain(t, "add with a wrong key", r, "list zones", "refused the API key", `value="pdns1"`)
	if strings.Contains(r.Body, "wrong-key") {
		t.Errorf("add with a wrong key: the credential typed is sent back")
	}
	form.Set("secret", p.APIKey)
	wantStatus(t, "add", c.post("/dns-providers", form), http.StatusSeeOther)
	r = c.get("/zones")
	mustContain(t, "zones page with a provider", r, "checked and added", `data-provider="pdns1"`, p.URL, `action="/dns-providers/pdns1/delete"`)
	noKey("zones page", r)

	wantStatus(t, "create pool", c.post("/pools", url.Values{"name": {"web"}}), http.StatusSeeOther)
	settings := url.Values{"failover_record": {"www.dash.test"}, "dns_provider": {"pdns1"}, "failover_delay": {"30s"}, "ttl": {"30"},
		"failback": {"manual"}, "heartbeat_timeout": {"10s"}}
	wantStatus(t, "publish at pdns1", c.post("/pools/web/settings", settings), http.StatusSeeOther)
	r = c.get("/pools/web/settings")
	mustContain(t, "pool settings", r, `<option value="pdns1" selected>pdns1 (powerdns)</option>`, `data-provider="pdns1"`, "<strong>www.dash.test</strong> at <strong>pdns1</strong>", "this pool's")
	noKey("pool settings", r)
	settings.Set("failover_record", "www.elsewhere.test")
	r = c.post("/pools/web/settings", settings)
	wantStatus(t, "a record outside the provider's zones", r, http.StatusBadRequest)
	mustContain(t, "a record outside the provider's zones", r, "no zone of DNS provider pdns1")

	r = c.post("/dns-providers/pdns1/delete", nil)
	wantStatus(t, "remove in use", r, http.StatusConflict)
	mustContain(t, "remove in use", r, "pool:web")

	e.addUser(t, "viewer", false)
	v := e.client(t)
	v.login("viewer", testPassword)
	r = v.get("/zones")
	wantStatus(t, "viewer's zones page", r, http.StatusOK)
	mustContain(t, "viewer's zones page", r, `data-provider="pdns1"`, "pool:web")
	if strings.Contains(r.Body, `action="/dns-providers`) {
		t.Errorf("viewer's zones page: got a provider form, want none")
	}
	noKey("viewer's zones page", r)
	wantStatus(t, "viewer adds", v.post("/dns-providers", form), http.StatusForbidden)
	wantStatus(t, "viewer removes", v.post("/dns-providers/pdns1/delete", nil), http.StatusForbidden)

	settings.Set("failover_record", "www.dash.test")
	settings.Set("dns_provider", "")
	wantStatus(t, "back to builtin", c.post("/pools/web/settings", settings), http.StatusBadRequest) // no built-in zone dash.test
	settings.Set("failover_record", "")
	wantStatus(t, "no record", c.post("/pools/web/settings", settings), http.StatusSeeOther)
	wantStatus(t, "remove", c.post("/dns-providers/pdns1/delete", nil), http.StatusSeeOther)
	mustContain(t, "after the removal", c.get("/zones"), "DNS provider pdns1 removed.", "No DNS providers")
}

// TestDNSProvidersUnavailable: without a registry the card says so and
// the pool settings offer the built-in zones only.
func TestDNSProvidersUnavailable(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.login("admin", testPassword)
	mustContain(t, "zones page", c.get("/zones"), "DNS providers are not available on this server")
	r := c.post("/dns-providers", url.Values{"name": {"x"}, "kind": {"powerdns"}})
	wantStatus(t, "add without a registry", r, http.StatusServiceUnavailable)
}
