package dns

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// nsdPrimaryConf serves the fixture from a zone file. minimal-responses
// makes NSD leave the apex NS out of positive answers, as poolctl does (and
// Knot, and BIND with minimal-responses); it also makes NSD leave out the
// additional addresses of MX/SRV/NS targets, which poolctl adds, so the
// comparison accepts those extra records (see compareDig).
const nsdPrimaryConf = `server:
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
  minimal-responses: yes
  verbosity: 1
remote-control:
  control-enable: no
zone:
  name: {{.Zone}}
  zonefile: {{.File}}
`

// startNSDPrimary runs NSD serving the zone file text as zone.
func startNSDPrimary(t testing.TB, zone, text string) *peer {
	nsd := requirePeer(t, "nsd")
	dir := t.TempDir()
	file := filepath.Join(dir, "primary.zone")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return startPeer(t, "nsd", []string{nsd, "-d", "-c", "{{CONF}}"}, nsdPrimaryConf,
		map[string]any{"Zone": strings.TrimSuffix(zone, "."), "File": file}, zone)
}

// compareQueries are dig arguments run against NSD and poolctl.
var compareQueries = [][]string{
	{"web.example.test", "A"},
	{"web.example.test", "AAAA"},
	{"web.example.test", "MX"},
	{"nope.example.test", "A"},
	{"nope.nope.example.test", "TXT"},
	{"example.test", "SOA"},
	{"example.test", "NS"},
	{"example.test", "MX"},
	{"example.test", "TXT"},
	{"example.test", "CAA"},
	{"example.test", "AAAA"},
	{"example.test", "ANY"},
	{"web.example.test", "ANY"},
	{"www.example.test", "ANY"},
	{"ttl60.example.test", "A"},
	{"4.3.2.1.example.test", "PTR"},
	{"c.ent.example.test", "A"},
	{"b.c.ent.example.test", "A"},
	{"zz.c.ent.example.test", "A"},
	{"a.b.c.ent.example.test", "A"},
	{"www.example.test", "A"},
	{"www.example.test", "CNAME"},
	{"www.example.test", "MX"},
	{"alias1.example.test", "A"},
	{"alias1.example.test", "AAAA"},
	{"dangling.example.test", "A"},
	{"outside.example.test", "A"},
	{"loop1.example.test", "A"},
	{"x.wild.example.test", "A"},
	{"a.x.wild.example.test", "TXT"},
	{"x.wild.example.test", "MX"},
	{"exists.wild.example.test", "A"},
	{"exists.wild.example.test", "TXT"},
	{"y.exists.wild.example.test", "A"},
	{"wild.example.test", "A"},
	{"*.wild.example.test", "A"},
	{"q.cwild.example.test", "A"},
	{"q.cwild.example.test", "AAAA"},
	{"sub.example.test", "NS"},
	{"sub.example.test", "A"},
	{"host.sub.example.test", "A"},
	{"ns.sub.example.test", "A"},
	{"sub.example.test", "DS"},
	{"_sip._tcp.example.test", "SRV"},
	{"WeB.ExAmPlE.TeSt", "A"},
	{"NOPE.Example.Test", "A"},
	{"www.other.test", "A"},
	{"big.example.test", "A"},
	{"big.example.test", "A", "+noedns", "+ignore"},
	{"big.example.test", "A", "+noedns"}, // dig retries over TCP after TC
	{"big.example.test", "A", "+noedns", "+tcp"},
	{"big.example.test", "A", "+bufsize=4096", "+dnssec"},
	{"huge.example.test", "TXT", "+ignore"},
	{"huge.example.test", "TXT", "+tcp"},
	{"web.example.test", "A", "+tcp"},
	{"nope.example.test", "A", "+tcp", "+noedns"},
}

func TestCompareWithNSD(t *testing.T) {
	dig := requirePeer(t, "dig")
	text := fixtureText(t, "example.test.zone")
	nsd := startNSDPrimary(t, "example.test.", text)
	ours := startServer(t, Config{}, zoneFromText(t, "example.test.", text))
	for _, q := range compareQueries {
		t.Run(strings.Join(q, " "), func(t *testing.T) {
			want := runDig(t, dig, nsd.addr, q...)
			got := runDig(t, dig, ours.Addr(), q...)
			if want.status == "" {
				t.Fatalf("NSD gave no parsable answer")
			}
			for _, d := range compareDig(got, want) {
				t.Errorf("%s\npoolctl: %v\nNSD:     %v", d, got, want)
			}
		})
	}
}

// compareDig lists the differences between poolctl's and NSD's answers:
// RCODE, the aa/tc/ra flags, EDNS presence, and the answer and authority
// sections as sets. In the additional section poolctl may carry more than
// minimal-responses NSD, but only addresses of targets named in the answer.
func compareDig(got, want digResult) []string {
	var diffs []string
	if got.status != want.status {
		diffs = append(diffs, "status: got "+got.status+", want "+want.status)
	}
	for _, f := range []string{"aa", "tc", "ra", "qr"} {
		if got.flags[f] != want.flags[f] {
			diffs = append(diffs, "flag "+f+" differs")
		}
	}
	if got.edns != want.edns {
		diffs = append(diffs, "EDNS presence differs")
	}
	if !sameSet(got.answer, want.answer) {
		diffs = append(diffs, "answer section differs")
	}
	if !sameSet(got.authority, want.authority) {
		diffs = append(diffs, "authority section differs")
	}
	for _, rr := range want.additional {
		if !slices.Contains(got.additional, rr) {
			diffs = append(diffs, "additional section lacks "+rr)
		}
	}
	targets := map[string]bool{}
	for _, rr := range append(slices.Clone(got.answer), got.authority...) {
		f := strings.Fields(rr)
		if len(f) >= 5 && (f[3] == "MX" || f[3] == "SRV" || f[3] == "NS") {
			targets[strings.ToLower(f[len(f)-1])] = true
		}
	}
	for _, rr := range got.additional {
		f := strings.Fields(rr)
		if slices.Contains(want.additional, rr) || (len(f) >= 4 && (f[3] == "A" || f[3] == "AAAA") && targets[f[0]]) {
			continue
		}
		diffs = append(diffs, "additional section has unexpected "+rr)
	}
	return diffs
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
