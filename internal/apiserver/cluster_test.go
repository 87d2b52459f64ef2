package apiserver_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
	"github.com/poolctl/poolctl/internal/zones"
)

func clusterZoneText(serial uint32, addr string) string {
	return fmt.Sprintf("$ORIGIN shared.test.\n$TTL 300\n@ IN SOA ns1.shared.test. hostmaster.shared.test. %d 3600 600 1209600 300\n@ IN NS ns1.shared.test.\nns1 IN A 192.0.2.1\nwww IN A %s\n", serial, addr)
}

// TestClusterAPI: another member of the DNS cluster writes zones here with
// a token of scope cluster, which opens nothing else; an admin token does
// not open the cluster API. Writes are idempotent and never go back: an
// older serial, or the same serial with other content, is a conflict.
func TestClusterAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		zs := zones.New(zones.Config{Store: st})
		e := newEnvWith(t, st, func(d *apiserver.Deps) { d.Zones = zs })
		var tok api.TokenCreated
		wantStatus(t, "create a cluster token", e.adminJSON(t, "POST", "/api/v1/tokens", `{"name":"ns2","scope":"cluster"}`), 201, &tok)
		if tok.Token.Scope != "cluster" {
			t.Fatalf("token scope %q", tok.Token.Scope)
		}
		wantError(t, "a bad scope", e.adminJSON(t, "POST", "/api/v1/tokens", `{"name":"x","scope":"root"}`), 400, "invalid", "admin or cluster")
		cl := func(method, path string, body any) reply {
			var b []byte
			if body != nil {
				b = []byte(mustJSON(t, body))
			}
			return e.do(t, req{method: method, path: path, token: tok.Secret, body: b, ct: "application/json"})
		}
		wantError(t, "the cluster token on the admin API", cl("GET", "/api/v1/pools", nil), 403, "forbidden", "scope is cluster")
		wantError(t, "an admin token on the cluster API", e.adminJSON(t, "GET", "/api/v1/cluster/hello", ""), 403, "forbidden", "cluster token")
		wantError(t, "no token", e.do(t, req{method: "GET", path: "/api/v1/cluster/hello"}), 401, "unauthorized")

		var got api.ClusterApplied
		wantStatus(t, "write a new zone", cl("PUT", "/api/v1/cluster/zones/shared.test", api.ClusterZone{Serial: 2026120401, Text: clusterZoneText(2026120401, "192.0.2.10")}), 200, &got)
		if !got.Changed || !got.Created || got.Serial != 2026120401 {
			t.Fatalf("first write: %+v", got)
		}
		got = api.ClusterApplied{}
		wantStatus(t, "the same write again", cl("PUT", "/api/v1/cluster/zones/shared.test", api.ClusterZone{Serial: 2026120401, Text: clusterZoneText(2026120401, "192.0.2.10")}), 200, &got)
		if got.Changed {
			t.Fatalf("an identical write changed the zone: %+v", got)
		}
		got = api.ClusterApplied{}
		wantStatus(t, "a newer serial", cl("PUT", "/api/v1/cluster/zones/shared.test", api.ClusterZone{Serial: 2026120402, Text: clusterZoneText(2026120402, "192.0.2.20")}), 200, &got)
		if !got.Changed || got.Created {
			t.Fatalf("newer write: %+v", got)
		}
		wantError(t, "an older serial", cl("PUT", "/api/v1/cluster/zones/shared.test", api.ClusterZone{Serial: 2026120401, Text: clusterZoneText(2026120401, "192.0.2.99")}), 409, "conflict", "newer than the 2026120401 sent")
		wantError(t, "same serial, other content", cl("PUT", "/api/v1/cluster/zones/shared.test", api.ClusterZone{Serial: 2026120402, Text: clusterZoneText(2026120402, "192.0.2.99")}), 409, "conflict", "other content")
		wantError(t, "serial and text disagree", cl("PUT", "/api/v1/cluster/zones/shared.test", api.ClusterZone{Serial: 7, Text: clusterZoneText(2026120403, "192.0.2.30")}), 400, "invalid", "does not match")
		wantError(t, "a broken zone file", cl("PUT", "/api/v1/cluster/zones/shared.test", api.ClusterZone{Serial: 9, Text: "@ IN SOA"}), 400, "invalid")
		recs, err := zs.Records(t.Context(), "shared.test")
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range recs {
			if r.Type == "A" && r.Value == "192.0.2.20" {
				found = true
			}
			if r.Value == "192.0.2.99" || r.Value == "192.0.2.10" {
				t.Fatalf("a refused or replaced record is there: %+v", r)
			}
		}
		if !found {
			t.Fatalf("records after the writes: %+v", recs)
		}
		var hello api.ClusterHello
		wantStatus(t, "hello", cl("GET", "/api/v1/cluster/hello", nil), 200, &hello)
		if len(hello.Zones) != 1 || hello.Zones[0] != (api.ClusterZoneSerial{Zone: "shared.test", Serial: 2026120402}) || hello.Node != "server" {
			t.Fatalf("hello: %+v", hello)
		}
		var fetched api.ClusterZone
		wantStatus(t, "fetch", cl("GET", "/api/v1/cluster/zones/shared.test", nil), 200, &fetched)
		if fetched.Serial != 2026120402 || !strings.Contains(fetched.Text, "192.0.2.20") || !slices.Contains(fetched.History, 2026120401) {
			t.Fatalf("fetched zone: %+v", fetched)
		}
		wantError(t, "fetch an unknown zone", cl("GET", "/api/v1/cluster/zones/nope.test", nil), 404, "not_found")

		// A second write-only sender: refused unless its version descends
		// from the one here, or it takes over; sync senders all write.
		var tok3 api.TokenCreated
		wantStatus(t, "a second sender's token", e.adminJSON(t, "POST", "/api/v1/tokens", `{"name":"ns3","scope":"cluster"}`), 201, &tok3)
		cl3 := func(method, path string, body any) reply {
			b := []byte(mustJSON(t, body))
			return e.do(t, req{method: method, path: path, token: tok3.Secret, body: b, ct: "application/json"})
		}
		wantError(t, "an unrelated version from another writer", cl3("PUT", "/api/v1/cluster/zones/shared.test", api.ClusterZone{Serial: 2026120405, Text: clusterZoneText(2026120405, "192.0.2.50")}), 409, "conflict", `cluster token "ns2"`)
		wantError(t, "a delete from another writer", e.do(t, req{method: "DELETE", path: "/api/v1/cluster/zones/shared.test", token: tok3.Secret}), 409, "conflict", `cluster token "ns2"`)
		wantError(t, "a delete from another writer that saw an older version", e.do(t, req{method: "DELETE", path: "/api/v1/cluster/zones/shared.test?serial=2026120401", token: tok3.Secret}), 409, "conflict", "has changed since")
		wantError(t, "a delete with a bad serial", e.do(t, req{method: "DELETE", path: "/api/v1/cluster/zones/shared.test?serial=x", token: tok3.Secret}), 400, "invalid", "serial")
		wantError(t, "an unknown sender role", cl3("PUT", "/api/v1/cluster/zones/shared.test?role=boss", api.ClusterZone{Serial: 2026120405, Text: clusterZoneText(2026120405, "192.0.2.50")}), 400, "invalid", "role")
		wantError(t, "a bad takeover flag", cl3("PUT", "/api/v1/cluster/zones/shared.test?takeover=yes", api.ClusterZone{Serial: 2026120405, Text: clusterZoneText(2026120405, "192.0.2.50")}), 400, "invalid", "takeover")
		got = api.ClusterApplied{}
		wantStatus(t, "a version that descends from the one here", cl3("PUT", "/api/v1/cluster/zones/shared.test", api.ClusterZone{Serial: 2026120403, Text: clusterZoneText(2026120403, "192.0.2.30"), History: []uint32{2026120402}}), 200, &got)
		if !got.Changed {
			t.Fatalf("a descending version from another writer: %+v", got)
		}
		wantError(t, "the first writer now sends an unrelated version", cl("PUT", "/api/v1/cluster/zones/shared.test", api.ClusterZone{Serial: 2026120406, Text: clusterZoneText(2026120406, "192.0.2.60")}), 409, "conflict", `cluster token "ns3"`)
		wantStatus(t, "a takeover", cl("PUT", "/api/v1/cluster/zones/shared.test?takeover=true", api.ClusterZone{Serial: 2026120406, Text: clusterZoneText(2026120406, "192.0.2.60")}), 200, nil)
		wantStatus(t, "a sync member writes without owning", cl3("PUT", "/api/v1/cluster/zones/shared.test?role=sync", api.ClusterZone{Serial: 2026120407, Text: clusterZoneText(2026120407, "192.0.2.70")}), 200, nil)
		wantError(t, "reverse trust on a server without a cluster engine", cl("POST", "/api/v1/cluster/peers", api.ClusterPeer{Host: "ns1.test", URL: "https://127.0.0.1:1", Token: "t", Role: "standalone"}), 503, "unavailable", "reverse trust needs a poolctl server")
		wantStatus(t, "a delete from another writer that saw this version", e.do(t, req{method: "DELETE", path: "/api/v1/cluster/zones/shared.test?serial=2026120407", token: tok3.Secret}), 204, nil)
		wantStatus(t, "delete", cl("DELETE", "/api/v1/cluster/zones/shared.test", nil), 204, nil)
		wantStatus(t, "delete again", cl("DELETE", "/api/v1/cluster/zones/shared.test", nil), 204, nil)
		if _, err := zs.Get(t.Context(), "shared.test"); err == nil {
			t.Fatal("the zone is still there")
		}
	})
}
