package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/cluster"
	"github.com/poolctl/poolctl/internal/store"
)

// TestClusterPage: the DNS cluster page shows the switch and members to an
// administrator, switches the cluster on and off, and is refused to a
// read-only user, whose zones page does not link to it.
func TestClusterPage(t *testing.T) {
	var key [32]byte
	e := newEnv(t, func(c *Config) {
		cl, err := cluster.New(cluster.Config{Store: c.Store, Zones: c.Zones.(cluster.Zones), Events: c.Fleet, MasterKey: key})
		if err != nil {
			t.Fatal(err)
		}
		c.Cluster = cl
	})
	admin := e.client(t)
	admin.login("admin", testPassword)
	r := admin.get("/dns-cluster")
	wantStatus(t, "cluster page", r, http.StatusOK)
	mustContain(t, "cluster page", r, "The cluster is <strong>disabled</strong>", "10 consecutive failed operations", "No member yet", "Enable the cluster")
	mustContain(t, "zones page", admin.get("/zones"), `href="/dns-cluster"`)
	wantStatus(t, "enable", admin.post("/dns-cluster/switch", url.Values{"enabled": {"1"}}), http.StatusSeeOther)
	mustContain(t, "after enabling", admin.get("/dns-cluster"), "The cluster is <strong>enabled</strong>", "Disable the cluster")
	wantStatus(t, "resync", admin.post("/dns-cluster/resync", nil), http.StatusSeeOther)
	wantStatus(t, "threshold", admin.post("/dns-cluster/threshold", url.Values{"threshold": {"3"}}), http.StatusSeeOther)
	mustContain(t, "after the threshold change", admin.get("/dns-cluster"), "disabled after 3 consecutive failed operations")
	r = admin.post("/dns-cluster/threshold", url.Values{"threshold": {"many"}})
	wantStatus(t, "a threshold that is not a number", r, http.StatusBadRequest)
	mustContain(t, "a threshold that is not a number", r, "must be a number")
	wantStatus(t, "a negative threshold", admin.post("/dns-cluster/threshold", url.Values{"threshold": {"-1"}}), http.StatusBadRequest)
	r = admin.post("/dns-cluster/members/nope.test/enable", nil)
	wantStatus(t, "enable an unknown member", r, http.StatusNotFound)

	// A member with a conflict and logged operations (written to the store
	// as the engine does: the member itself is unreachable).
	ctx := t.Context()
	now := time.Now()
	m := store.ClusterMember{Host: "ns2.test", URL: "https://127.0.0.1:1", TokenSealed: "x", Role: api.ClusterRoleSync, Backend: "poolctl"}
	if err := e.st.CreateClusterMember(ctx, &m, now); err != nil {
		t.Fatal(err)
	}
	cf := store.ClusterConflict{MemberID: m.ID, Zone: "shop.test", Kind: api.ConflictBothChanged, Message: "zone shop.test changed here and on ns2.test", LocalSerial: 7, RemoteSerial: 8}
	if _, err := e.st.OpenClusterConflict(ctx, &cf, now); err != nil {
		t.Fatal(err)
	}
	if err := e.st.AddClusterLog(ctx, store.ClusterLogEntry{MemberID: m.ID, At: now, Op: "push", Zone: "shop.test", Serial: 7, Message: "connection refused"}, 10); err != nil {
		t.Fatal(err)
	}
	r = admin.get("/dns-cluster")
	mustContain(t, "cluster page with a member", r, "ns2.test", `<option value="sync" selected>sync</option>`, "Conflicts",
		"zone shop.test changed here and on ns2.test", "Keep this server", "Operation log of ns2.test", "connection refused")
	wantStatus(t, "change the role", admin.post("/dns-cluster/members/ns2.test/role", url.Values{"role": {"standalone"}}), http.StatusSeeOther)
	mustContain(t, "after the role change", admin.get("/dns-cluster"), `<option value="standalone" selected>standalone</option>`)
	r = admin.post("/dns-cluster/members/ns2.test/role", url.Values{"role": {"boss"}})
	wantStatus(t, "an unknown role", r, http.StatusBadRequest)
	mustContain(t, "an unknown role", r, "want sync")
	r = admin.post(fmt.Sprintf("/dns-cluster/conflicts/%d/resolve", cf.ID), url.Values{"keep": {"local"}})
	wantStatus(t, "resolve with the member unreachable", r, http.StatusServiceUnavailable)
	mustContain(t, "resolve with the member unreachable", r, "cannot reach ns2.test")
	r = admin.post(fmt.Sprintf("/dns-cluster/conflicts/%d/resolve", cf.ID), url.Values{"keep": {"both"}})
	wantStatus(t, "resolve with no side", r, http.StatusBadRequest)
	r = admin.post("/dns-cluster/members/ns2.test/edit", url.Values{"url": {"ftp://nope"}})
	wantStatus(t, "edit with a bad address", r, http.StatusBadRequest)
	mustContain(t, "edit with a bad address", r, "want the member")
	r = admin.post("/dns-cluster/members/ns2.test/remove", nil)
	wantStatus(t, "remove an unreachable member", r, http.StatusConflict)
	mustContain(t, "remove an unreachable member", r, "--force")
	wantStatus(t, "remove it anyway", admin.post("/dns-cluster/members/ns2.test/remove", url.Values{"force": {"1"}}), http.StatusSeeOther)
	mustContain(t, "after the removal", admin.get("/dns-cluster"), "No member yet")

	// A signed zone is listed with its keys and DS record.
	wantStatus(t, "create zone", admin.post("/zones", url.Values{"name": {"signed.test"}}), http.StatusSeeOther)
	wantStatus(t, "sign it", admin.post("/zones/signed.test/dnssec/enable", nil), http.StatusSeeOther)
	mustContain(t, "signed zones on the cluster page", admin.get("/dns-cluster"), "Signed zones", `href="/zones/signed.test#dnssec-title"`, "signed.test. 3600 IN DS ", "ksk ", "zsk ")

	e.addUser(t, "viewer", false)
	viewer := e.client(t)
	viewer.login("viewer", testPassword)
	wantStatus(t, "viewer", viewer.get("/dns-cluster"), http.StatusForbidden)
	if r := viewer.get("/zones"); r.Status != http.StatusOK || strings.Contains(r.Body, `href="/dns-cluster"`) {
		t.Fatalf("the viewer's zones page links to the cluster (status %d)", r.Status)
	}
}
