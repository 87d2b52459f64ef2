package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/internal/cluster"
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
	r = admin.post("/dns-cluster/members/nope.test/enable", nil)
	wantStatus(t, "enable an unknown member", r, http.StatusNotFound)

	e.addUser(t, "viewer", false)
	viewer := e.client(t)
	viewer.login("viewer", testPassword)
	wantStatus(t, "viewer", viewer.get("/dns-cluster"), http.StatusForbidden)
	if r := viewer.get("/zones"); r.Status != http.StatusOK || strings.Contains(r.Body, `href="/dns-cluster"`) {
		t.Fatalf("the viewer's zones page links to the cluster (status %d)", r.Status)
	}
}
