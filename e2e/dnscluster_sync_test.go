package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

// clusterToken makes a token of scope cluster on s.
func clusterToken(t *testing.T, s *server, name string) string {
	t.Helper()
	var tok api.TokenCreated
	cliJSON(t, s.env(), &tok, "token", "create", name, "--scope", "cluster")
	return tok.Secret
}

// addClusterMember adds member m to s's DNS cluster in role.
func addClusterMember(t *testing.T, s *server, host string, m *server, token, role string) {
	t.Helper()
	cli(t, s.env(), "dns", "cluster", "add", host, "--url", m.url, "--ca", filepath.Join(m.data, "ca.pem"), "--token", token, "--role", role)
}

// apiClient is the public Go client of s, for many changes in a row.
func apiClient(t *testing.T, s *server) *client.Client {
	t.Helper()
	ca, err := os.ReadFile(s.ca)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(s.url, client.Options{Token: s.token, CAPEM: ca})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openConflicts(t *testing.T, s *server) []api.ClusterConflict {
	t.Helper()
	var cs api.List[api.ClusterConflict]
	cliJSON(t, s.env(), &cs, "dns", "cluster", "conflicts")
	return cs.Items
}

// TestDNSClusterSync: two poolctl servers A and B in sync with each other,
// a dns-node N that A and a third server C write to, and a dns-node S that
// B reads as standalone, all real processes answered by dig. A change on
// either sync server is answered by every member; each role's direction
// holds; B killed with -9 misses 200 changes and catches up; a change made
// on both sync servers apart is a conflict on both, both versions kept,
// resolved by choosing a side; two servers writing unrelated versions of a
// zone to N is a conflict, and N keeps the first.
func TestDNSClusterSync(t *testing.T) {
	needDig(t)
	flags := []string{"--dns-listen", "127.0.0.1:0", "--dns-cluster-reconcile", "2s"}
	a := startServer(t, t.TempDir(), flags...)
	bData := t.TempDir()
	b := startServer(t, bData, flags...)
	c := startServer(t, t.TempDir(), flags...)
	n := startServing(t, binary, "dns-node", t.TempDir(), "--dns-listen", "127.0.0.1:0")
	st := startServing(t, binary, "dns-node", t.TempDir(), "--dns-listen", "127.0.0.1:0")
	aDNS, bDNS, nDNS, sDNS := dnsAddr(t, a), dnsAddr(t, b), dnsAddr(t, n), dnsAddr(t, st)

	addClusterMember(t, a, "b.test", b, clusterToken(t, b, "from-a"), api.ClusterRoleSync)
	addClusterMember(t, b, "a.test", a, clusterToken(t, a, "from-b"), api.ClusterRoleSync)
	addClusterMember(t, a, "n.test", n, clusterToken(t, n, "from-a"), api.ClusterRoleWriteOnly)
	addClusterMember(t, c, "n.test", n, clusterToken(t, n, "from-c"), api.ClusterRoleWriteOnly)
	addClusterMember(t, b, "s.test", st, clusterToken(t, st, "from-b"), api.ClusterRoleStandalone)
	for _, s := range []*server{a, b, c} {
		cli(t, s.env(), "dns", "cluster", "enable")
	}

	// A change on either sync server is answered by every member.
	cli(t, a.env(), "zone", "create", "shop.test", "--ns", "ns1.shop.test")
	cli(t, a.env(), "record", "add", "shop.test", "www", "A", "192.0.2.1", "--ttl", "60")
	for name, addr := range map[string]string{"A": aDNS, "B": bDNS, "N": nDNS} {
		waitFor(t, 15*time.Second, name+" answers a change made on A", func() bool { return dig(t, addr, "www.shop.test") == "192.0.2.1" })
	}
	cli(t, b.env(), "record", "add", "shop.test", "fromb", "A", "192.0.2.2", "--ttl", "60")
	for name, addr := range map[string]string{"A": aDNS, "B": bDNS, "N": nDNS} {
		waitFor(t, 15*time.Second, name+" answers a change made on B", func() bool { return dig(t, addr, "fromb.shop.test") == "192.0.2.2" })
	}

	// Directions: B fetches what the standalone member S serves, and never
	// writes there; A never reads what the write-only member N has of its own.
	cli(t, st.env(), "zone", "create", "far.test", "--ns", "ns1.far.test")
	cli(t, st.env(), "record", "add", "far.test", "www", "A", "192.0.2.3", "--ttl", "60")
	waitFor(t, 15*time.Second, "B serves the standalone member's zone", func() bool { return dig(t, bDNS, "www.far.test") == "192.0.2.3" })
	cli(t, n.env(), "zone", "create", "own.test", "--ns", "ns1.own.test")
	cli(t, n.env(), "record", "add", "own.test", "www", "A", "192.0.2.4", "--ttl", "60")
	time.Sleep(5 * time.Second) // two reconciles go by
	if got := dig(t, sDNS, "www.shop.test"); got != "" {
		t.Fatalf("the standalone member was written to: www.shop.test = %q", got)
	}
	if got := dig(t, aDNS, "www.own.test"); got != "" {
		t.Fatalf("the write-only member was read from: www.own.test = %q on A", got)
	}

	// kill -9 B, make 200 changes on A, restart B: it catches up.
	bAPI := strings.TrimPrefix(b.url, "https://")
	b.kill(syscall.SIGKILL)
	ac := apiClient(t, a)
	for i := 1; i <= 200; i++ {
		if _, err := ac.AddRecord(t.Context(), "shop.test", api.RecordCreate{Name: fmt.Sprintf("h%d", i), Type: "A", TTL: 60, Value: fmt.Sprintf("198.51.100.%d", i)}); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	b = startServer(t, bData, "--dns-listen", bDNS, "--listen", bAPI, "--dns-cluster-reconcile", "2s")
	waitFor(t, 20*time.Second, "B answers the 200th change after its restart", func() bool { return dig(t, bDNS, "h200.shop.test") == "198.51.100.200" })
	if evs := cli(t, a.env(), "events", "--kind", "dns.cluster_conflict"); strings.Contains(evs, "dns.cluster_conflict") {
		t.Fatalf("catching up raised a conflict:\n%s", evs)
	}

	// The same zone changed on A and on B apart: a conflict on both sides,
	// both versions kept, nothing overwritten.
	cli(t, a.env(), "dns", "cluster", "disable")
	cli(t, b.env(), "dns", "cluster", "disable")
	cli(t, a.env(), "record", "add", "shop.test", "side-a", "A", "192.0.2.10", "--ttl", "60")
	cli(t, b.env(), "record", "add", "shop.test", "side-b", "A", "192.0.2.11", "--ttl", "60")
	cli(t, a.env(), "dns", "cluster", "enable")
	cli(t, b.env(), "dns", "cluster", "enable")
	var conflict api.ClusterConflict
	waitFor(t, 15*time.Second, "the conflict listed on A", func() bool {
		for _, cf := range openConflicts(t, a) {
			if cf.Zone == "shop.test" && cf.Member == "b.test" {
				conflict = cf
				return true
			}
		}
		return false
	})
	if conflict.Kind != api.ConflictBothChanged {
		t.Fatalf("conflict kind %q, want %s: %+v", conflict.Kind, api.ConflictBothChanged, conflict)
	}
	waitFor(t, 15*time.Second, "the conflict listed on B", func() bool { return len(openConflicts(t, b)) == 1 })
	if dig(t, aDNS, "side-a.shop.test") != "192.0.2.10" || dig(t, bDNS, "side-b.shop.test") != "192.0.2.11" ||
		dig(t, aDNS, "side-b.shop.test") != "" || dig(t, bDNS, "side-a.shop.test") != "" {
		t.Fatal("a side of the conflict was overwritten")
	}
	both := cli(t, a.env(), "dns", "cluster", "conflict", fmt.Sprint(conflict.ID))
	if !strings.Contains(both, "side-a") || !strings.Contains(both, "side-b") {
		t.Fatalf("the conflict does not show both versions:\n%s", both)
	}
	if _, errOut, err := cliRun(a.env(), "dns", "cluster", "resolve", fmt.Sprint(conflict.ID), "--keep", "neither"); err == nil || !strings.Contains(errOut, "--keep") {
		t.Fatalf("resolve with no side: %v %s", err, errOut)
	}
	cli(t, a.env(), "dns", "cluster", "resolve", fmt.Sprint(conflict.ID), "--keep", "remote")
	for name, addr := range map[string]string{"A": aDNS, "B": bDNS, "N": nDNS} {
		waitFor(t, 15*time.Second, name+" answers B's side", func() bool { return dig(t, addr, "side-b.shop.test") == "192.0.2.11" })
		if got := dig(t, addr, "side-a.shop.test"); got != "" {
			t.Fatalf("%s still answers A's side after keeping B's: %q", name, got)
		}
	}
	waitFor(t, 15*time.Second, "B's conflict closed once both sides agree", func() bool { return len(openConflicts(t, b)) == 0 })
	if len(openConflicts(t, a)) != 0 {
		t.Fatalf("A still lists a conflict: %+v", openConflicts(t, a))
	}

	// Two servers write unrelated versions of one zone to N: the first
	// stays, the second is refused and listed on its side.
	cli(t, a.env(), "zone", "create", "dup.test", "--ns", "ns1.dup.test")
	cli(t, a.env(), "record", "add", "dup.test", "www", "A", "192.0.2.20", "--ttl", "60")
	waitFor(t, 15*time.Second, "N answers A's dup.test", func() bool { return dig(t, nDNS, "www.dup.test") == "192.0.2.20" })
	cli(t, c.env(), "zone", "create", "dup.test", "--ns", "ns1.dup.test")
	cli(t, c.env(), "record", "add", "dup.test", "www", "A", "192.0.2.30", "--ttl", "60")
	cli(t, c.env(), "record", "add", "dup.test", "more", "A", "192.0.2.31", "--ttl", "60")
	var refused api.ClusterConflict
	waitFor(t, 15*time.Second, "C lists the refused zone", func() bool {
		for _, cf := range openConflicts(t, c) {
			if cf.Zone == "dup.test" {
				refused = cf
				return true
			}
		}
		return false
	})
	if refused.Kind != api.ConflictRefused || !strings.Contains(refused.Message, "from-a") {
		t.Fatalf("C's conflict: %+v", refused)
	}
	if got := dig(t, nDNS, "www.dup.test"); got != "192.0.2.20" {
		t.Fatalf("N's dup.test was overwritten: %q", got)
	}
	cli(t, c.env(), "dns", "cluster", "resolve", fmt.Sprint(refused.ID), "--keep", "remote")
	cli(t, c.env(), "record", "add", "dup.test", "later", "A", "192.0.2.32", "--ttl", "60")
	time.Sleep(5 * time.Second)
	if len(openConflicts(t, c)) != 0 || dig(t, nDNS, "later.dup.test") != "" {
		t.Fatal("C still writes the zone it yielded to A on N")
	}
	if log := cli(t, c.env(), "dns", "cluster", "log", "n.test"); !strings.Contains(log, "conflict") {
		t.Fatalf("C's log of N has no conflict:\n%s", log)
	}
}

// TestDNSClusterReverseTrust: adding a poolctl server with --reverse-trust
// makes it know this server too, as standalone, without logging in there:
// it fetches this server's zones by itself. Reverse trust to a dns-node is
// refused, and a refused add leaves nothing behind.
func TestDNSClusterReverseTrust(t *testing.T) {
	needDig(t)
	flags := []string{"--dns-listen", "127.0.0.1:0", "--dns-cluster-reconcile", "2s"}
	x := startServer(t, t.TempDir(), flags...)
	y := startServer(t, t.TempDir(), flags...)
	n := startServing(t, binary, "dns-node", t.TempDir(), "--dns-listen", "127.0.0.1:0")
	yDNS := dnsAddr(t, y)

	add := func(host string, m *server, token string) (string, error) {
		_, errOut, err := cliRun(x.env(), "dns", "cluster", "add", host, "--url", m.url, "--ca", filepath.Join(m.data, "ca.pem"), "--token", token,
			"--role", api.ClusterRoleWriteOnly, "--reverse-trust", "--self-host", "x.test", "--self-url", x.url)
		return errOut, err
	}
	if errOut, err := add("n.test", n, clusterToken(t, n, "from-x")); err == nil || !strings.Contains(errOut, "keeps no cluster members") {
		t.Fatalf("reverse trust to a dns-node: %v %s", err, errOut)
	}
	var toks api.List[api.Token]
	cliJSON(t, x.env(), &toks, "token", "list")
	for _, tk := range toks.Items {
		if strings.HasPrefix(tk.Name, "dns cluster:") {
			t.Fatalf("a refused reverse trust left a token behind: %+v", tk)
		}
	}
	if errOut, err := add("y.test", y, clusterToken(t, y, "from-x")); err != nil {
		t.Fatalf("add with reverse trust: %v %s", err, errOut)
	}
	var ms api.List[api.ClusterMember]
	cliJSON(t, y.env(), &ms, "dns", "cluster", "list")
	if len(ms.Items) != 1 || ms.Items[0].Host != "x.test" || ms.Items[0].Role != api.ClusterRoleStandalone {
		t.Fatalf("members on the other server: %+v", ms.Items)
	}
	// X writes nothing (its cluster is off); Y fetches X's zones by itself.
	cli(t, y.env(), "dns", "cluster", "enable")
	cli(t, x.env(), "zone", "create", "rev.test", "--ns", "ns1.rev.test")
	cli(t, x.env(), "record", "add", "rev.test", "www", "A", "192.0.2.40", "--ttl", "60")
	waitFor(t, 15*time.Second, "Y fetches X's zone", func() bool { return dig(t, yDNS, "www.rev.test") == "192.0.2.40" })
}
