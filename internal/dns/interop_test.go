package dns

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// nsdSecondaryConf makes NSD a TSIG-secured secondary of poolctl.
const nsdSecondaryConf = `server:
  ip-address: 127.0.0.1@{{.Port}}
  zonesdir: {{.Dir}}
  database: ""
  pidfile: {{.Dir}}/nsd.pid
  xfrdfile: {{.Dir}}/xfrd.state
  zonelistfile: {{.Dir}}/zone.list
  xfrdir: {{.Dir}}
  username: ""
  logfile: {{.Dir}}/nsd.log
  rrl-ratelimit: 0
  verbosity: 2
remote-control:
  control-enable: no
key:
  name: "{{.Key}}"
  algorithm: hmac-sha256
  secret: "{{.Secret}}"
zone:
  name: {{.Zone}}
  zonefile: {{.Zone}}.zone
  request-xfr: 127.0.0.1@{{.Primary}} {{.Key}}
  allow-notify: 127.0.0.1 {{.Key}}
`

// knotSecondaryConf makes Knot a TSIG-secured secondary of poolctl.
const knotSecondaryConf = `server:
    rundir: "{{.Dir}}"
    user: root:root
    listen: 127.0.0.1@{{.Port}}
log:
  - target: stderr
    any: info
database:
    storage: "{{.Dir}}/db"
key:
  - id: {{.Key}}
    algorithm: hmac-sha256
    secret: {{.Secret}}
remote:
  - id: primary
    address: 127.0.0.1@{{.Primary}}
    key: {{.Key}}
acl:
  - id: notify_from_primary
    address: 127.0.0.1
    key: {{.Key}}
    action: notify
template:
  - id: default
    storage: "{{.Dir}}/zones"
zone:
  - domain: {{.Zone}}
    master: primary
    acl: notify_from_primary
`

// secondaryData is the template data both secondary configs need.
func secondaryData(primaryAddr string) map[string]any {
	_, port, _ := strings.Cut(primaryAddr, ":")
	return map[string]any{
		"Key":     strings.TrimSuffix(testKeyName, "."),
		"Secret":  testKeySecret,
		"Zone":    "example.test",
		"Primary": port,
	}
}

func startNSDSecondary(t *testing.T, primary string) *peer {
	nsd := requirePeer(t, "nsd")
	return startPeer(t, "nsd", []string{nsd, "-d", "-c", "{{CONF}}"}, nsdSecondaryConf, secondaryData(primary), "example.test.")
}

func startKnotSecondary(t *testing.T, primary string) *peer {
	knotd := requirePeer(t, "knotd")
	data := secondaryData(primary)
	// Knot's storage directories must exist before it starts.
	argv := []string{"/bin/sh", "-c", `d=$(dirname "$1"); mkdir -p "$d/db" "$d/zones" && exec "$0" -c "$1"`, knotd, "{{CONF}}"}
	return startPeer(t, "knot", argv, knotSecondaryConf, data, "example.test.")
}

// hasA reports whether r answers with an A record carrying ip.
func hasA(ip string) func(*mdns.Msg) bool {
	return func(r *mdns.Msg) bool {
		for _, rr := range r.Answer {
			if a, ok := rr.(*mdns.A); ok && a.A.String() == ip {
				return true
			}
		}
		return false
	}
}

// hasSerial reports whether r answers with the SOA serial.
func hasSerial(serial uint32) func(*mdns.Msg) bool {
	return func(r *mdns.Msg) bool {
		for _, rr := range r.Answer {
			if soa, ok := rr.(*mdns.SOA); ok && soa.Serial == serial {
				return true
			}
		}
		return false
	}
}

func TestSecondaryNSD(t *testing.T)  { testSecondary(t, startNSDSecondary, "") }
func TestSecondaryKnot(t *testing.T) { testSecondary(t, startKnotSecondary, "IXFR, incoming") }

// testSecondary makes a peer a secondary of poolctl: it pulls the zone with
// a TSIG-signed transfer; after a change it gets poolctl's NOTIFY and serves
// the new data. When wantLog is set, the peer's log must mention it after
// the change (Knot logs "IXFR, incoming" when it applied the journal
// incrementally). The zone is big enough for the AXFR to span many signed
// messages (RFC 8945 section 5.3.1).
func testSecondary(t *testing.T, start func(*testing.T, string) *peer, wantLog string) {
	z := bigZone(t, 3000)
	s := startServer(t, transferConfig(), z)
	p := start(t, s.Addr())
	if r, ok := pollAnswer(t, p.addr, "example.test.", mdns.TypeSOA, hasSerial(z.Serial)); !ok {
		t.Fatalf("%s did not load the zone within 10 s; last answer: %v", p.name, r)
	}
	for _, q := range []struct{ name, ip string }{{"web.example.test.", "192.0.2.80"}, {"x.wild.example.test.", "192.0.2.99"}, {"a.b.c.ent.example.test.", "192.0.2.7"}} {
		if r, ok := pollAnswer(t, p.addr, q.name, mdns.TypeA, hasA(q.ip)); !ok {
			t.Errorf("%s after the first transfer: %s: got %v, want A %s", p.name, q.name, r, q.ip)
		}
	}
	if r, ok := pollAnswer(t, p.addr, "host2999.bulk.example.test.", mdns.TypeTXT, func(r *mdns.Msg) bool { return len(r.Answer) == 1 }); !ok {
		t.Errorf("%s: the last record of the multi-message AXFR is missing: %v", p.name, r)
	}
	transfers := s.Stats().Transfers
	if transfers == 0 {
		t.Errorf("stats: no transfer counted")
	}

	s.SetNotify([]string{p.addr})
	z2 := withSerial(t, z, z.Serial+1)
	for i, r := range z2.Records {
		if r.Name == "web.example.test." && r.Data == "192.0.2.80" {
			z2.Records[i].Data = "192.0.2.180"
		}
	}
	z2.Records = append(z2.Records, Record{Name: "interop-new.example.test.", Type: "A", TTL: 300, Data: "192.0.2.123"})
	removed, added := DiffRecords(z.Records, z2.Records)
	z2.Journal = []Delta{{From: z.Serial, To: z2.Serial, Removed: removed, Added: added}}
	s.SetZone(z2)

	if r, ok := pollAnswer(t, p.addr, "interop-new.example.test.", mdns.TypeA, hasA("192.0.2.123")); !ok {
		t.Fatalf("%s did not serve the changed zone within 10 s of the NOTIFY; last answer: %v", p.name, r)
	}
	r, _ := pollAnswer(t, p.addr, "web.example.test.", mdns.TypeA, hasA("192.0.2.180"))
	if hasA("192.0.2.80")(r) || !hasA("192.0.2.180")(r) {
		t.Errorf("%s: web.example.test. A: got %v, want 192.0.2.180 instead of 192.0.2.80", p.name, r.Answer)
	}
	if st := s.Stats(); st.NotifiesAcked == 0 || st.Transfers <= transfers {
		t.Errorf("stats after the change: got %+v, want an acknowledged NOTIFY and another transfer", st)
	}
	if log := p.logText(); strings.Contains(log, "fallback") || strings.Contains(log, "failed to transfer") {
		t.Errorf("%s log reports a transfer problem:\n%s", p.name, log)
	}
	if wantLog != "" && !strings.Contains(p.logText(), wantLog) {
		t.Errorf("%s log does not mention %s:\n%s", p.name, wantLog, p.logText())
	}
	if testing.Verbose() {
		t.Logf("%s log:\n%s", p.name, p.logText())
	}
}

// TestDigAndKdigTransfers checks poolctl's signed transfers with the
// transfer clients of BIND (dig AXFR) and Knot (kdig IXFR), which verify
// the TSIG of every message.
func TestDigAndKdigTransfers(t *testing.T) {
	dig := requirePeer(t, "dig")
	kdig := requirePeer(t, "kdig")
	_, v3 := journalZones(t)
	z := bigZone(t, 3000)
	s := startServer(t, transferConfig(), z, v3)
	host, port, _ := strings.Cut(s.Addr(), ":")
	key := "hmac-sha256:" + strings.TrimSuffix(testKeyName, ".") + ":" + testKeySecret

	out, err := exec.Command(dig, "@"+host, "-p", port, "-y", key, "example.test.", "AXFR").CombinedOutput()
	text := string(out)
	wantSize := "XFR size: " + strconv.Itoa(len(z.Records)+1) + " records"
	if err != nil || !strings.Contains(text, wantSize) || strings.Contains(text, "failed") || strings.Contains(text, "TSIG error") {
		t.Errorf("dig AXFR: %v; want %q and no failure in:\n%s", err, wantSize, tail(text, 800))
	}
	out, err = exec.Command(dig, "@"+host, "-p", port, "example.test.", "AXFR").CombinedOutput()
	if !strings.Contains(string(out), "Transfer failed") {
		t.Errorf("unsigned dig AXFR: %v; want it refused:\n%s", err, tail(string(out), 400))
	}

	out, err = exec.Command(kdig, "@"+host, "-p", port, "-y", key, "j.test.", "IXFR=1").CombinedOutput()
	text = string(out)
	if err != nil || !strings.Contains(text, "192.0.2.3") || strings.Contains(text, "failed") || strings.Contains(text, "WARNING") {
		t.Errorf("kdig IXFR=1: %v; want the journal with b.j.test. 192.0.2.3:\n%s", err, text)
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
