package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// TestDNSClusterWriteOnly: a poolctl server pushes its zones to a dns-node,
// both real processes, answered by the real dig. A change is answered by the
// member within seconds; a member killed with -9 misses 20 changes and
// catches up by itself after its restart; the failure threshold disables a
// member with one event and enable-member resynchronises it; removing a
// member that holds a zone of its own lists it first.
func TestDNSClusterWriteOnly(t *testing.T) {
	needDig(t)
	s := startServer(t, t.TempDir(), "--dns-listen", "127.0.0.1:0", "--dns-cluster-reconcile", "2s")
	nodeData := t.TempDir()
	node := startServing(t, binary, "dns-node", nodeData, "--dns-listen", "127.0.0.1:0")
	nodeDNS := dnsAddr(t, node)
	nodeAPI := strings.TrimPrefix(node.url, "https://") // restarts keep the address the server knows
	var tok api.TokenCreated
	cliJSON(t, node.env(), &tok, "token", "create", "ns1", "--scope", "cluster")

	add := []string{"dns", "cluster", "add", "ns2.test", "--url", node.url, "--ca", filepath.Join(nodeData, "ca.pem"), "--role", "write-only"}
	if _, errOut, err := cliRun(s.env(), append(add, "--token", "pat_wrong")...); err == nil || !strings.Contains(errOut, "refused the token") {
		t.Fatalf("add with a bad token: %v %s", err, errOut)
	}
	if _, errOut, err := cliRun(s.env(), append(add, "--token", tok.Secret, "--role", "boss")...); err == nil || !strings.Contains(errOut, "want sync") {
		t.Fatalf("add with an unknown role: %v %s", err, errOut)
	}
	cli(t, s.env(), append(add, "--token", tok.Secret)...)
	if _, errOut, err := cliRun(s.env(), append(add, "--token", tok.Secret)...); err == nil || !strings.Contains(errOut, "exists already") {
		t.Fatalf("a second member with the same host: %v %s", err, errOut)
	}
	cli(t, s.env(), "dns", "cluster", "enable")

	cli(t, s.env(), "zone", "create", "shop.test", "--ns", "ns1.shop.test")
	cli(t, s.env(), "record", "add", "shop.test", "www", "A", "192.0.2.1", "--ttl", "60")
	waitFor(t, 15*time.Second, "the member answers www.shop.test", func() bool { return dig(t, nodeDNS, "www.shop.test") == "192.0.2.1" })

	// kill -9 the member, make 20 changes, restart it: it catches up (the
	// threshold is off meanwhile: the outage lasts longer than 10 attempts).
	cli(t, s.env(), "dns", "cluster", "set", "--threshold", "0")
	node.kill(syscall.SIGKILL)
	for i := 1; i <= 20; i++ {
		cli(t, s.env(), "record", "add", "shop.test", fmt.Sprintf("h%d", i), "A", fmt.Sprintf("192.0.2.%d", 100+i), "--ttl", "60")
	}
	node = startServing(t, binary, "dns-node", nodeData, "--dns-listen", nodeDNS, "--listen", nodeAPI)
	waitFor(t, 20*time.Second, "the restarted member answers the 20th change", func() bool { return dig(t, nodeDNS, "h20.shop.test") == "192.0.2.120" })
	var ms api.List[api.ClusterMember]
	waitFor(t, 10*time.Second, "the member ok again", func() bool {
		cliJSON(t, s.env(), &ms, "dns", "cluster", "list")
		return len(ms.Items) == 1 && ms.Items[0].Status == api.ClusterMemberOK && ms.Items[0].Node == "dns-node"
	})

	// The threshold disables a member that keeps failing, with one event.
	cli(t, s.env(), "dns", "cluster", "set", "--threshold", "3")
	node.kill(syscall.SIGKILL)
	for i := 1; i <= 5; i++ {
		cli(t, s.env(), "record", "add", "shop.test", fmt.Sprintf("d%d", i), "A", "192.0.2.50", "--ttl", "60")
	}
	waitFor(t, 20*time.Second, "the member disabled", func() bool {
		cliJSON(t, s.env(), &ms, "dns", "cluster", "list")
		return ms.Items[0].Status == api.ClusterMemberDisabled
	})
	time.Sleep(3 * time.Second) // a reconcile goes by: still one event
	if evs := cli(t, s.env(), "events", "--kind", "dns.cluster_member_disabled"); strings.Count(evs, "dns.cluster_member_disabled") != 1 {
		t.Fatalf("disabled events:\n%s", evs)
	}
	node = startServing(t, binary, "dns-node", nodeData, "--dns-listen", nodeDNS, "--listen", nodeAPI)
	time.Sleep(3 * time.Second)
	if got := dig(t, nodeDNS, "d5.shop.test"); got == "192.0.2.50" {
		t.Fatal("a disabled member was written to")
	}
	cli(t, s.env(), "dns", "cluster", "enable-member", "ns2.test")
	if got := dig(t, nodeDNS, "d5.shop.test"); got != "192.0.2.50" {
		t.Fatalf("after enable-member (which resyncs): d5.shop.test = %q", got)
	}

	// A zone only the member has is listed before its removal.
	cli(t, node.env(), "zone", "create", "lone.test", "--ns", "ns1.lone.test")
	if _, errOut, err := cliRun(s.env(), "dns", "cluster", "remove", "ns2.test"); err == nil || !strings.Contains(errOut, "lone.test") {
		t.Fatalf("remove a member with a lone zone: %v %s", err, errOut)
	}
	if out := cli(t, s.env(), "dns", "cluster", "remove", "ns2.test", "--force"); !strings.Contains(out, "lone.test") {
		t.Fatalf("forced removal:\n%s", out)
	}
	cli(t, s.env(), "record", "add", "shop.test", "after", "A", "192.0.2.9", "--ttl", "60")
	time.Sleep(3 * time.Second)
	if got := dig(t, nodeDNS, "after.shop.test"); got != "" {
		t.Fatalf("a removed member was written to: %q", got)
	}
}
