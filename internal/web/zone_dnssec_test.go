package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestZoneDNSSECCard: an administrator signs a zone from its page, sees its
// keys, DS record and rollover, starts a rollover and stops signing; a
// read-only user sees the state and no action.
func TestZoneDNSSECCard(t *testing.T) {
	e := newEnv(t)
	e.addUser(t, "viewer", false)
	c := e.client(t)
	wantStatus(t, "login", c.login("admin", testPassword), http.StatusSeeOther)
	wantStatus(t, "create zone", c.post("/zones", url.Values{"name": {"signed.test"}}), http.StatusSeeOther)
	mustContain(t, "unsigned", c.get("/zones/signed.test"), "DNSSEC", "Not signed.", "Sign this zone")
	wantStatus(t, "enable", c.post("/zones/signed.test/dnssec/enable", nil), http.StatusSeeOther)
	r := c.get("/zones/signed.test")
	mustContain(t, "signed", r, "is signed. Give the registrar its DS record.", "13 (ECDSAP256SHA256)", "DS record for the registrar", "signed.test. 3600 IN DS ", "KSK", "ZSK", "Start rollover", "Stop signing")
	wantStatus(t, "enable twice", c.post("/zones/signed.test/dnssec/enable", nil), http.StatusConflict)
	wantStatus(t, "bad rollover", c.post("/zones/signed.test/dnssec/rollover", url.Values{"key": {"csk"}}), http.StatusBadRequest)
	wantStatus(t, "rollover", c.post("/zones/signed.test/dnssec/rollover", url.Values{"key": {"zsk"}}), http.StatusSeeOther)
	mustContain(t, "rollover shown", c.get("/zones/signed.test"), `data-rollover="published"`, "ZSK rollover started")

	v := e.client(t)
	wantStatus(t, "viewer login", v.login("viewer", testPassword), http.StatusSeeOther)
	r = v.get("/zones/signed.test")
	mustContain(t, "viewer sees the state", r, "DS record for the registrar", `data-rollover="published"`)
	if strings.Contains(r.Body, "Start rollover") || strings.Contains(r.Body, "Stop signing") {
		t.Errorf("a read-only user is offered DNSSEC actions")
	}
	if got := v.post("/zones/signed.test/dnssec/disable", nil); got.Status < 400 {
		t.Errorf("a read-only user's disable: status %d", got.Status)
	}

	wantStatus(t, "disable", c.post("/zones/signed.test/dnssec/disable", nil), http.StatusSeeOther)
	mustContain(t, "disabled", c.get("/zones/signed.test"), "no longer signed", "Not signed.")
}
