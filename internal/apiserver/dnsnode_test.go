package apiserver_test

import (
	"strings"
	"testing"

	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// TestDNSNodeRoutes: a DNS node's API answers zones, tokens, events and
// health; every pool, agent and protection route is a 404 that says why.
func TestDNSNodeRoutes(t *testing.T) {
	e := newEnvWith(t, storetest.Open(t, store.SQLite), func(d *apiserver.Deps) { d.DNSOnly = true })
	for _, p := range []string{"/api/v1/health", "/api/v1/tokens", "/api/v1/events"} {
		wantStatus(t, "GET "+p, e.adminJSON(t, "GET", p, ""), 200, nil)
	}
	for _, rq := range []struct{ method, path string }{{"GET", "/api/v1/pools"}, {"POST", "/api/v1/agent/heartbeat"}, {"GET", "/api/v1/protections"}, {"GET", "/api/v1/agent/releases"}} {
		wantError(t, rq.method+" "+rq.path, e.adminJSON(t, rq.method, rq.path, ""), 404, "not_found", "DNS node")
	}
	doc := e.adminJSON(t, "GET", "/api/v1/openapi.json", "")
	if strings.Contains(string(doc.body), "/api/v1/pools") || !strings.Contains(string(doc.body), "/api/v1/zones") {
		t.Fatal("the DNS node's OpenAPI document lists pool routes or lacks zone routes")
	}
}
