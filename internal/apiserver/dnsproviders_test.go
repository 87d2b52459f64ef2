package apiserver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/dnsprov"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns/pdnstest"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// TestDNSProvidersAPI: /api/v1/dns/providers against a real pdns_server:
// added after its check, listed and shown without the key, bad input and
// a refused check answered 400 naming what failed, removal refused (409)
// while a pool uses it, 404 for an unknown one, 503 without a registry.
func TestDNSProvidersAPI(t *testing.T) {
	p := pdnstest.Start(t)
	c, err := powerdns.New(p.URL, powerdns.Options{APIKey: p.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateZone(t.Context(), powerdns.ZoneCreate{Name: "api.test.", Nameservers: []string{"ns1.api.test."}}); err != nil {
		t.Fatal(err)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		reg, err := dnsprov.New(dnsprov.Config{Store: st, MasterKey: [32]byte{9}})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnvWith(t, st, func(d *apiserver.Deps) { d.DNSProviders = reg })
		const path = "/api/v1/dns/providers"
		body := `{"name":"pdns1","kind":"powerdns","powerdns":{"url":"` + p.URL + `"},"secret":"` + p.APIKey + `"}`

		wantError(t, "bad JSON", e.adminJSON(t, "POST", path, `{"name":`), 400, "invalid")
		wantError(t, "unknown field", e.adminJSON(t, "POST", path, `{"name":"x","kind":"powerdns","token":"t"}`), 400, "invalid")
		wantError(t, "bad kind", e.adminJSON(t, "POST", path, `{"name":"x","kind":"bind9","secret":"s"}`), 400, "invalid")
		wantError(t, "bad name", e.adminJSON(t, "POST", path, `{"name":"Bad Name","kind":"powerdns","powerdns":{"url":"`+p.URL+`"},"secret":"s"}`), 400, "invalid")
		wantError(t, "no url", e.adminJSON(t, "POST", path, `{"name":"x","kind":"powerdns","secret":"s"}`), 400, "invalid")
		wantError(t, "no secret", e.adminJSON(t, "POST", path, `{"name":"x","kind":"powerdns","powerdns":{"url":"`+p.URL+`"}}`), 400, "invalid")
		wantError(t, "other kind's settings", e.adminJSON(t, "POST", path, `{"name":"x","kind":"powerdns","powerdns":{"url":"`+p.URL+`"},"rfc2136":{"server":"127.0.0.1"},"secret":"s"}`), 400, "invalid")
		wantError(t, "rfc2136 without zones", e.adminJSON(t, "POST", path, `{"name":"x","kind":"rfc2136","rfc2136":{"server":"127.0.0.1:53","key_name":"k."},"secret":"c2VjcmV0"}`), 400, "invalid")
		r := e.adminJSON(t, "POST", path, `{"name":"x","kind":"powerdns","powerdns":{"url":"`+p.URL+`"},"secret":"wrong"}`)
		wantError(t, "wrong key", r, 400, "invalid")
		if !strings.Contains(string(r.body), "list zones") || !strings.Contains(string(r.body), "refused the API key") {
			t.Fatalf("wrong key: the error does not say what failed: %s", r)
		}

		r = e.adminJSON(t, "POST", path, body)
		if r.status != 201 || strings.Contains(string(r.body), p.APIKey) || !strings.Contains(string(r.body), `"has_secret":true`) {
			t.Fatalf("add: %s", r)
		}
		wantError(t, "duplicate", e.adminJSON(t, "POST", path, body), 409, "conflict")
		for _, get := range []string{path, path + "/pdns1"} {
			r := e.adminJSON(t, "GET", get, "")
			if r.status != 200 || strings.Contains(string(r.body), p.APIKey) || !strings.Contains(string(r.body), p.URL) {
				t.Fatalf("GET %s: %s", get, r)
			}
		}
		wantError(t, "unknown", e.adminJSON(t, "GET", path+"/nope", ""), 404, "not_found")
		wantError(t, "remove unknown", e.adminJSON(t, "DELETE", path+"/nope", ""), 404, "not_found")

		pool := store.Pool{Name: "web", Preset: "generic", FailoverDelay: 30 * time.Second, TTL: 30, Failback: "manual", HeartbeatTimeout: 10 * time.Second, DNSProvider: "pdns1"}
		if err := st.CreatePool(t.Context(), &pool, time.Now()); err != nil {
			t.Fatal(err)
		}
		r = e.adminJSON(t, "DELETE", path+"/pdns1", "")
		wantError(t, "remove in use", r, 409, "conflict")
		if !strings.Contains(string(r.body), "pool:web") {
			t.Fatalf("remove in use does not name the pool: %s", r)
		}
		if _, err := st.DeletePool(t.Context(), pool.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
		if r := e.adminJSON(t, "DELETE", path+"/pdns1", ""); r.status != 204 {
			t.Fatalf("remove: %s", r)
		}
	})
	st := storetest.Open(t, store.SQLite)
	e := newEnv(t, st)
	wantError(t, "no registry", e.adminJSON(t, "GET", "/api/v1/dns/providers", ""), 503, "unavailable")
}
