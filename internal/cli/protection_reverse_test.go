package cli

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

const servingMsg = "account alice's DNS was cut to node2 at 2026-12-04T05:00:00Z automatically after node1 failed: " +
	"node2 serves the live copy, so a run from node1 would overwrite it; replication is paused. " +
	"Reverse the protection (poolctl protection reverse web alice) to replicate node2 → node1, " +
	"or cut DNS back first (poolctl account cut-dns web alice --to node1)"

// servingFixture is alice after a failover cut its DNS to node2.
func servingFixture() api.Protection {
	p := protectionFixture()
	cutAt := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
	p.Status, p.NextRunAt, p.CutTo, p.CutAt, p.CutReason, p.Blocked = api.ProtectionServingStandby, nil, "node2", &cutAt,
		"automatically after node1 failed", servingMsg
	return p
}

// While the standby serves, list and show say so, run-now fails with the
// server's reason, and reverse swaps the members.
func TestProtectionServingStandby(t *testing.T) {
	a := newCannedAPI(t)
	const path = "/api/v1/pools/web/protections/alice"
	p := servingFixture()
	a.on("GET", "/api/v1/protections", 200, api.List[api.Protection]{Items: []api.Protection{p}})
	a.on("GET", path, 200, p)
	out, _ := a.mustRun("protection", "list")
	wantLines(t, "protection list", out, `^web alice node1 node2 6h serving_standby, dns on node2 succeeded 3m ago 3m12s ago -$`)
	out, _ = a.mustRun("protection", "show", "web", "alice")
	wantLines(t, "protection show", out,
		`^status: serving_standby, dns on node2$`,
		`^dns cut: to node2 at 2026-12-04T05:00:00Z automatically after node1 failed$`,
		`^runs refused: account alice's DNS was cut to node2 .* replication is paused\. Reverse the protection \(poolctl protection reverse web alice\)`)

	a.handle("POST", path+"/run", func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeAPIError(w, 409, "conflict", servingMsg)
	})
	for _, args := range [][]string{{"protection", "run-now", "web", "alice"}, {"protection", "run-now", "web", "alice", "--follow"}} {
		code, out, errOut := a.run(args...)
		if code != 1 || errOut != "error: "+servingMsg+"\n" || out != "" {
			t.Errorf("poolctl %s while node2 serves: got exit %d, stdout %q, stderr %q, want exit 1 and the server's reason",
				strings.Join(args, " "), code, out, errOut)
		}
	}
	a.take()

	rev := protectionFixture()
	reversedAt := time.Now()
	rev.Source, rev.Standby, rev.LastGoodAt, rev.RPOSeconds, rev.ReversedAt = "node2", "node1", nil, nil, &reversedAt
	a.on("POST", path+"/reverse", 200, rev)
	out, _ = a.mustRun("protection", "reverse", "web", "alice")
	wantLines(t, "protection reverse", out,
		`^replicates: node2 → node1$`,
		`^status: active$`,
		`^reversed: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`,
		`^last good copy: never$`,
		`^reversed: account alice now replicates node2 → node1; the next run copies it in full:$`,
		`^poolctl protection run-now web alice --follow$`)
	out, _ = a.mustRun("protection", "reverse", "web", "alice", "-o", "json")
	var got api.Protection
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Source != "node2" || got.Standby != "node1" {
		t.Errorf("protection reverse -o json: got %q (%v), want the reversed protection", out, err)
	}
	wantRequests(t, "protection reverse", a, "POST "+path+"/reverse", "POST "+path+"/reverse")

	a.handle("POST", path+"/reverse", func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeAPIError(w, 409, "conflict", "account alice's DNS points at its source node1: there is nothing to reverse")
	})
	if code, _, errOut := a.run("protection", "reverse", "web", "alice"); code != 1 || !strings.Contains(errOut, "nothing to reverse") {
		t.Errorf("reverse refused: got exit %d, stderr %q, want the server's reason", code, errOut)
	}
	if code, _, errOut := a.run("protection", "reverse", "web"); code == 0 || !strings.HasPrefix(errOut, "error: ") {
		t.Errorf("reverse without an account: got exit %d, stderr %q, want an error", code, errOut)
	}
}
