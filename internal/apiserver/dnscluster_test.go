package apiserver_test

import (
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/cluster"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
	"github.com/poolctl/poolctl/internal/zones"
)

// TestDNSClusterAdminAPI: the cluster's settings and members through the
// admin API, with the refusals an operator meets: bad input, a member that
// cannot be reached (nothing saved), unknown hosts. (Pushing zones to real
// members is e2e TestDNSClusterWriteOnly.)
func TestDNSClusterAdminAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		zs := zones.New(zones.Config{Store: st})
		e0 := newEnv(t, st) // its fleet records the cluster's events
		var key [32]byte
		key[0] = 7
		cl, err := cluster.New(cluster.Config{Store: st, Zones: zs, Events: e0.svc, MasterKey: key})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnvWith(t, st, func(d *apiserver.Deps) { d.Zones, d.Cluster = zs, cl })
		var set api.ClusterSettings
		wantStatus(t, "settings", e.adminJSON(t, "GET", "/api/v1/dns/cluster", ""), 200, &set)
		if set.Enabled || set.FailureThreshold != 10 {
			t.Fatalf("default settings: %+v, want off with threshold 10", set)
		}
		wantStatus(t, "enable", e.adminJSON(t, "PUT", "/api/v1/dns/cluster", `{"enabled":true,"failure_threshold":0}`), 200, &set)
		if !set.Enabled || set.FailureThreshold != 0 {
			t.Fatalf("settings after the change: %+v", set)
		}
		wantError(t, "a negative threshold", e.adminJSON(t, "PUT", "/api/v1/dns/cluster", `{"failure_threshold":-1}`), 400, "invalid", "failure_threshold")
		for _, bad := range []struct{ body, want string }{
			{`{"host":"ns2.example.net","url":"https://127.0.0.1:1","token":"t","role":"boss"}`, "role"},
			{`{"host":"not a host","url":"https://127.0.0.1:1","token":"t","role":"write-only"}`, "host"},
			{`{"host":"ns2.example.net","url":"ftp://x","token":"t","role":"write-only"}`, "url"},
			{`{"host":"ns2.example.net","url":"https://127.0.0.1:1","role":"write-only"}`, "token is required"},
			{`{"host":"ns2.example.net","url":"https://127.0.0.1:1","token":"t","role":"write-only","ca":"nope"}`, "PEM"},
			{`{"host":"ns2.example.net","url":"https://127.0.0.1:1","token":"t","role":"write-only","backend":"bind"}`, "backend"},
		} {
			wantError(t, "add "+bad.want, e.adminJSON(t, "POST", "/api/v1/dns/cluster/members", bad.body), 400, "invalid", bad.want)
		}
		wantError(t, "add an unreachable member", e.adminJSON(t, "POST", "/api/v1/dns/cluster/members",
			`{"host":"ns2.example.net","url":"https://127.0.0.1:1","token":"t","role":"write-only"}`), 503, "unavailable", "cannot reach ns2.example.net")
		var list api.List[api.ClusterMember]
		wantStatus(t, "list", e.adminJSON(t, "GET", "/api/v1/dns/cluster/members", ""), 200, &list)
		if len(list.Items) != 0 {
			t.Fatalf("a refused member was saved: %+v", list.Items)
		}
		wantError(t, "role of an unknown member", e.adminJSON(t, "PATCH", "/api/v1/dns/cluster/members/nope.test", `{"role":"write-only"}`), 404, "not_found")
		wantError(t, "remove an unknown member", e.adminJSON(t, "DELETE", "/api/v1/dns/cluster/members/nope.test", ""), 404, "not_found")
		wantError(t, "enable an unknown member", e.adminJSON(t, "POST", "/api/v1/dns/cluster/members/nope.test/enable", ""), 404, "not_found")
		wantError(t, "resync an unknown member", e.adminJSON(t, "POST", "/api/v1/dns/cluster/resync?host=nope.test", ""), 404, "not_found")
		wantError(t, "log of an unknown member", e.adminJSON(t, "GET", "/api/v1/dns/cluster/members/nope.test/log", ""), 404, "not_found")
		wantError(t, "log with a bad limit", e.adminJSON(t, "GET", "/api/v1/dns/cluster/members/nope.test/log?limit=x", ""), 400, "invalid", "limit")
		wantError(t, "log with too large a limit", e.adminJSON(t, "GET", "/api/v1/dns/cluster/members/nope.test/log?limit=5000", ""), 400, "invalid", "limit")
		var cs api.List[api.ClusterConflict]
		wantStatus(t, "conflicts", e.adminJSON(t, "GET", "/api/v1/dns/cluster/conflicts", ""), 200, &cs)
		if len(cs.Items) != 0 {
			t.Fatalf("conflicts on a new cluster: %+v", cs.Items)
		}
		wantError(t, "conflicts with a bad flag", e.adminJSON(t, "GET", "/api/v1/dns/cluster/conflicts?all=maybe", ""), 400, "invalid", "all")
		wantError(t, "a conflict that is not a number", e.adminJSON(t, "GET", "/api/v1/dns/cluster/conflicts/abc", ""), 400, "invalid", "conflict id")
		wantError(t, "an unknown conflict", e.adminJSON(t, "GET", "/api/v1/dns/cluster/conflicts/42", ""), 404, "not_found")
		wantError(t, "resolve with no side", e.adminJSON(t, "POST", "/api/v1/dns/cluster/conflicts/42/resolve", `{"keep":"both"}`), 400, "invalid", "keep")
		wantError(t, "resolve an unknown conflict", e.adminJSON(t, "POST", "/api/v1/dns/cluster/conflicts/42/resolve", `{"keep":"local"}`), 404, "not_found")
		wantError(t, "edit with a bad url", e.adminJSON(t, "PATCH", "/api/v1/dns/cluster/members/nope.test", `{"url":"ftp://x"}`), 404, "not_found")
		var rs api.ClusterResync
		wantStatus(t, "resync all", e.adminJSON(t, "POST", "/api/v1/dns/cluster/resync", ""), 200, &rs)
		wantStatus(t, "disable", e.adminJSON(t, "PUT", "/api/v1/dns/cluster", `{"enabled":false}`), 200, nil)
		wantError(t, "resync while disabled", e.adminJSON(t, "POST", "/api/v1/dns/cluster/resync", ""), 409, "conflict", "disabled")
	})
}
