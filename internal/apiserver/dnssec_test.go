package apiserver_test

import (
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
	"github.com/poolctl/poolctl/internal/zones"
)

// TestDNSSECAPI: enable, status, DS, rollover and disable, with the errors
// an operator meets on the way.
func TestDNSSECAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		zs := zones.New(zones.Config{Store: st})
		e := newEnvWith(t, st, func(d *apiserver.Deps) { d.Zones = zs })
		wantStatus(t, "create a zone", e.adminJSON(t, "POST", "/api/v1/zones", `{"name":"signed.test"}`), 201, nil)

		var status api.DNSSECStatus
		wantStatus(t, "status unsigned", e.adminJSON(t, "GET", "/api/v1/zones/signed.test/dnssec", ""), 200, &status)
		if status.Enabled || status.Keys == nil {
			t.Errorf("unsigned status: %+v", status)
		}
		wantError(t, "DS of an unsigned zone", e.adminJSON(t, "GET", "/api/v1/zones/signed.test/dnssec/ds", ""), 409, "conflict", "not signed")
		wantError(t, "rollover of an unsigned zone", e.adminJSON(t, "POST", "/api/v1/zones/signed.test/dnssec/rollover", `{"key":"zsk"}`), 409, "conflict", "not signed")
		wantError(t, "disable an unsigned zone", e.adminJSON(t, "DELETE", "/api/v1/zones/signed.test/dnssec", ""), 409, "conflict", "not signed")
		wantError(t, "enable a missing zone", e.adminJSON(t, "POST", "/api/v1/zones/missing.test/dnssec", ""), 404, "not_found")

		wantStatus(t, "enable", e.adminJSON(t, "POST", "/api/v1/zones/signed.test/dnssec", ""), 201, &status)
		if !status.Enabled || len(status.Keys) != 2 || len(status.DS) != 1 {
			t.Fatalf("enabled: %+v", status)
		}
		wantError(t, "enable twice", e.adminJSON(t, "POST", "/api/v1/zones/signed.test/dnssec", ""), 409, "conflict", "signed already")
		var ds api.DNSSECDS
		wantStatus(t, "DS", e.adminJSON(t, "GET", "/api/v1/zones/signed.test/dnssec/ds", ""), 200, &ds)
		if len(ds.DS) != 1 || !strings.HasPrefix(ds.DS[0], "signed.test.") || len(ds.CDS) != 1 || len(ds.CDNSKEY) != 1 || len(ds.DNSKEY) != 1 {
			t.Errorf("DS: %+v", ds)
		}
		wantError(t, "rollover of a bad key", e.adminJSON(t, "POST", "/api/v1/zones/signed.test/dnssec/rollover", `{"key":"csk"}`), 400, "invalid", "zsk")
		wantError(t, "rollover with an unknown field", e.adminJSON(t, "POST", "/api/v1/zones/signed.test/dnssec/rollover", `{"kye":"zsk"}`), 400, "invalid")
		wantError(t, "test waits refused", e.adminJSON(t, "POST", "/api/v1/zones/signed.test/dnssec/rollover", `{"key":"zsk","step_wait":"1s"}`), 400, "invalid", "--dnssec-test-waits")
		wantStatus(t, "rollover", e.adminJSON(t, "POST", "/api/v1/zones/signed.test/dnssec/rollover", `{"key":"ksk"}`), 202, &status)
		if status.Rollover == nil || status.Rollover.Key != "ksk" || status.Rollover.Step != "published" || len(status.Keys) != 3 {
			t.Errorf("rollover: %+v", status.Rollover)
		}
		wantError(t, "a second rollover", e.adminJSON(t, "POST", "/api/v1/zones/signed.test/dnssec/rollover", `{"key":"zsk"}`), 409, "conflict", "in progress")
		wantStatus(t, "disable", e.adminJSON(t, "DELETE", "/api/v1/zones/signed.test/dnssec", ""), 204, nil)
		wantStatus(t, "status after disable", e.adminJSON(t, "GET", "/api/v1/zones/signed.test/dnssec", ""), 200, &status)
		if status.Enabled {
			t.Errorf("still enabled")
		}
	})
}
