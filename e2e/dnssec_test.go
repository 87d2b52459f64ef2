package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// needTool skips the test when a peer tool is missing, or fails it under
// POOLCTL_REQUIRE_PEERS.
func needTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("POOLCTL_REQUIRE_PEERS") != "" {
			t.Fatalf("%s is required (%s)", name, pkg)
		}
		t.Skipf("%s not installed (%s)", name, pkg)
	}
}

// delv validates name/qtype at addr with the zone's KSK as the only trust
// anchor and returns its output.
func delv(t *testing.T, addr, anchors, zone, name, qtype string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	out, _ := exec.Command("delv", "@"+host, "-p", port, "-a", anchors, "+root="+zone, "+tcp", name, qtype).CombinedOutput()
	return string(out)
}

// writeAnchor writes delv's trust-anchors file for the zone's KSKs.
func writeAnchor(t *testing.T, dir, zone string, st api.DNSSECStatus) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("trust-anchors {\n")
	for _, k := range st.Keys {
		if k.Role != "ksk" || !k.InDS {
			continue
		}
		f := strings.Fields(k.DNSKEY) // owner ttl IN DNSKEY flags proto alg key...
		fmt.Fprintf(&b, "  %s. static-key %s %s %s \"%s\";\n", zone, f[4], f[5], f[6], strings.Join(f[7:], ""))
	}
	b.WriteString("};\n")
	path := filepath.Join(dir, "anchors.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// validates asserts that delv fully validates a positive answer, an
// NXDOMAIN and a NODATA from the nameserver at addr.
func validates(t *testing.T, what, addr, anchors string) {
	t.Helper()
	for _, q := range []struct{ name, qtype, want string }{
		{"www.signed.test", "A", "; fully validated"},
		{"signed.test", "MX", "; fully validated"},
		{"nx.signed.test", "A", "; negative response, fully validated"},
		{"www.signed.test", "TXT", "; negative response, fully validated"},
		{"host.any.wild.signed.test", "A", "; fully validated"},
	} {
		if out := delv(t, addr, anchors, "signed.test", q.name, q.qtype); !strings.Contains(out, q.want) {
			t.Errorf("%s: delv %s %s: want %q, got:\n%s", what, q.name, q.qtype, q.want, out)
		}
	}
}

// TestDNSSECValidates: a zone signed on a poolctl server validates with
// delv (positive, NXDOMAIN, NODATA, wildcard) against the server and a
// dns-node of its DNS cluster, which signs with the same keys; its AXFR
// passes ldns-verify-zone; after a ZSK rollover (short waits) run to its
// end, both still validate.
func TestDNSSECValidates(t *testing.T) {
	needDig(t)
	needTool(t, "delv", "bind9-dnsutils")
	needTool(t, "ldns-verify-zone", "ldnsutils")
	dir := t.TempDir()
	s := startServer(t, t.TempDir(), "--dns-listen", "127.0.0.1:0", "--dns-allow-transfer", "127.0.0.1",
		"--dnssec-test-waits", "--dns-cluster-reconcile", "2s")
	sDNS := dnsAddr(t, s)
	nodeData := t.TempDir()
	node := startServing(t, binary, "dns-node", nodeData, "--dns-listen", "127.0.0.1:0")
	nodeDNS := dnsAddr(t, node)
	var tok api.TokenCreated
	cliJSON(t, node.env(), &tok, "token", "create", "ns1", "--scope", "cluster")
	cli(t, s.env(), "dns", "cluster", "add", "ns2.test", "--url", node.url, "--ca", filepath.Join(nodeData, "ca.pem"), "--role", "write-only", "--token", tok.Secret)
	cli(t, s.env(), "dns", "cluster", "enable")

	cli(t, s.env(), "zone", "create", "signed.test", "--ns", "ns1.signed.test")
	for _, r := range [][]string{{"ns1", "A", "192.0.2.53"}, {"www", "A", "192.0.2.1"}, {"@", "MX", "10 mail.signed.test."},
		{"mail", "A", "192.0.2.25"}, {"*.wild", "A", "192.0.2.99"}} {
		cli(t, s.env(), "record", "add", "signed.test", r[0], r[1], r[2], "--ttl", "60")
	}
	if _, errOut, err := cliRun(s.env(), "zone", "dnssec", "ds", "signed.test"); err == nil || !strings.Contains(errOut, "not signed") {
		t.Fatalf("ds of an unsigned zone: %v %s", err, errOut)
	}
	var st api.DNSSECStatus
	cliJSON(t, s.env(), &st, "zone", "dnssec", "enable", "signed.test")
	if !st.Enabled || len(st.Keys) != 2 || len(st.DS) != 1 {
		t.Fatalf("enable: %+v", st)
	}
	if out := cli(t, s.env(), "zone", "dnssec", "ds", "signed.test"); strings.TrimSpace(out) != strings.Join(strings.Fields(st.DS[0]), " ") {
		t.Errorf("zone dnssec ds: %q, want %q", out, st.DS[0])
	}
	anchors := writeAnchor(t, dir, "signed.test", st)
	keyCount := func(addr string) int {
		host, port, _ := strings.Cut(addr, ":")
		out, _ := exec.Command("dig", "+short", "+norec", "+time=1", "+tries=1", "@"+host, "-p", port, "signed.test", "DNSKEY").Output()
		return len(strings.Fields(strings.TrimSpace(string(out)))) / 4
	}
	waitFor(t, 20*time.Second, "the dns-node serves the zone signed", func() bool { return keyCount(nodeDNS) == 2 })
	validates(t, "server", sDNS, anchors)
	validates(t, "dns-node", nodeDNS, anchors)

	// The AXFR is a complete signed zone.
	verifyAXFR := func() {
		t.Helper()
		host, port, _ := strings.Cut(sDNS, ":")
		out, err := exec.Command("dig", "+nocmd", "+nostats", "+noall", "+answer", "@"+host, "-p", port, "signed.test", "AXFR").Output()
		if err != nil {
			t.Fatalf("dig AXFR: %v", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		path := filepath.Join(dir, "signed.test.axfr")
		if err := os.WriteFile(path, []byte(strings.Join(lines[:len(lines)-1], "\n")+"\n"), 0o600); err != nil { // one SOA
			t.Fatal(err)
		}
		if out, err := exec.Command("ldns-verify-zone", path).CombinedOutput(); err != nil {
			t.Errorf("ldns-verify-zone: %v\n%s", err, out)
		}
	}
	verifyAXFR()

	// A ZSK rollover with 1 s steps: pre-published, signing, done.
	if _, errOut, err := cliRun(s.env(), "zone", "dnssec", "rollover", "signed.test", "csk"); err == nil || !strings.Contains(errOut, "zsk") {
		t.Fatalf("rollover of csk: %v %s", err, errOut)
	}
	cliJSON(t, s.env(), &st, "zone", "dnssec", "rollover", "signed.test", "zsk", "--step-wait", "1s")
	if st.Rollover == nil || st.Rollover.Step != "published" || len(st.Keys) != 3 {
		t.Fatalf("rollover started: %+v", st.Rollover)
	}
	newTag := st.Rollover.NewTag
	waitFor(t, 30*time.Second, "the rollover done", func() bool {
		cliJSON(t, s.env(), &st, "zone", "dnssec", "status", "signed.test")
		return st.Rollover != nil && st.Rollover.Step == "done"
	})
	if len(st.Keys) != 2 || !strings.Contains(cli(t, s.env(), "zone", "dnssec", "status", "signed.test"), fmt.Sprint(newTag)) {
		t.Errorf("after the rollover: %+v", st.Keys)
	}
	for _, k := range st.Keys {
		if k.Role == "zsk" && (k.Tag != newTag || !k.Signing) {
			t.Errorf("ZSK after the rollover: %+v, want tag %d signing", k, newTag)
		}
	}
	var evs api.List[api.Event]
	cliJSON(t, s.env(), &evs, "events")
	kinds := map[string]int{}
	for _, e := range evs.Items {
		kinds[e.Kind]++
	}
	if kinds["dnssec.enabled"] != 1 || kinds["dnssec.rollover_started"] != 1 || kinds["dnssec.rollover_step"] != 1 || kinds["dnssec.rollover_done"] != 1 {
		t.Errorf("events: %v", kinds)
	}
	waitFor(t, 20*time.Second, "the dns-node has the new key set", func() bool {
		host, port, _ := strings.Cut(nodeDNS, ":")
		out, _ := exec.Command("dig", "+norec", "+time=1", "+tries=1", "+dnssec", "@"+host, "-p", port, "www.signed.test", "A").Output()
		return strings.Contains(string(out), fmt.Sprintf(" %d signed.test.", newTag)) && keyCount(nodeDNS) == 2
	})
	validates(t, "server after the rollover", sDNS, anchors)
	validates(t, "dns-node after the rollover", nodeDNS, anchors)
	verifyAXFR()
}
