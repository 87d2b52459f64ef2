package dns

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/poolctl/poolctl/internal/dnssec"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func signedFixture(t *testing.T) (Zone, []dnssec.Key) {
	t.Helper()
	keys, err := dnssec.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	z := fixtureZone(t)
	z.DNSSEC = &Signing{Keys: keys}
	return z, keys
}

func query(name string, qtype uint16, do bool) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, do)
	return m
}

// rrsets groups a section's records other than RRSIGs by owner and type,
// and its RRSIGs by owner and type covered.
func rrsets(rrs []mdns.RR) (sets map[string][]mdns.RR, sigs map[string][]*mdns.RRSIG) {
	sets, sigs = map[string][]mdns.RR{}, map[string][]*mdns.RRSIG{}
	for _, rr := range rrs {
		if s, ok := rr.(*mdns.RRSIG); ok {
			k := strings.ToLower(s.Hdr.Name) + "/" + mdns.TypeToString[s.TypeCovered]
			sigs[k] = append(sigs[k], s)
			continue
		}
		if rr.Header().Rrtype == mdns.TypeOPT {
			continue
		}
		k := strings.ToLower(rr.Header().Name) + "/" + mdns.TypeToString[rr.Header().Rrtype]
		sets[k] = append(sets[k], rr)
	}
	return sets, sigs
}

// verifySigned checks that every RRset of the answer and authority
// sections (but a referral's NS set) carries a valid RRSIG by one of the
// zone's DNSKEYs at now.
func verifySigned(t *testing.T, what string, r *mdns.Msg, dnskeys []*mdns.DNSKEY, now time.Time, unsigned ...string) {
	t.Helper()
	for _, section := range [][]mdns.RR{r.Answer, r.Ns} {
		sets, sigs := rrsets(section)
		for k, set := range sets {
			if strings.Contains(strings.Join(unsigned, " "), k) {
				continue
			}
			ok := false
			for _, sig := range sigs[k] {
				for _, key := range dnskeys {
					if key.KeyTag() == sig.KeyTag && sig.Verify(key, set) == nil && sig.ValidityPeriod(now) {
						ok = true
					}
				}
			}
			if !ok {
				t.Errorf("%s: RRset %s has no valid signature (sigs %v)", what, k, sigs[k])
			}
		}
	}
}

func nsec3s(rrs []mdns.RR) []*mdns.NSEC3 {
	var out []*mdns.NSEC3
	for _, rr := range rrs {
		if n, ok := rr.(*mdns.NSEC3); ok {
			out = append(out, n)
		}
	}
	return out
}

func matches(ns []*mdns.NSEC3, name string) *mdns.NSEC3 {
	for _, n := range ns {
		if n.Match(name) {
			return n
		}
	}
	return nil
}

func covers(ns []*mdns.NSEC3, name string) bool {
	for _, n := range ns {
		if n.Cover(name) {
			return true
		}
	}
	return false
}

func TestSignedAnswers(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	z, _ := signedFixture(t)
	s := startServer(t, Config{Now: clock.Now}, z)
	addr := s.Addr()

	kr := exchange(t, "udp", addr, query("example.test.", mdns.TypeDNSKEY, true))
	var dnskeys []*mdns.DNSKEY
	for _, rr := range kr.Answer {
		if k, ok := rr.(*mdns.DNSKEY); ok {
			dnskeys = append(dnskeys, k)
		}
	}
	if len(dnskeys) != 2 {
		t.Fatalf("DNSKEY: got %d keys, want 2: %v", len(dnskeys), kr.Answer)
	}
	now := clock.Now()
	verifySigned(t, "DNSKEY", kr, dnskeys, now)
	if kr.AuthenticatedData {
		t.Errorf("DNSKEY: AD set by an authoritative server")
	}

	for _, tc := range []struct {
		name  string
		qtype uint16
	}{{"www.example.test.", mdns.TypeA}, {"example.test.", mdns.TypeMX}, {"example.test.", mdns.TypeCDS},
		{"example.test.", mdns.TypeCDNSKEY}, {"example.test.", mdns.TypeNSEC3PARAM}, {"exists.wild.example.test.", mdns.TypeA}} {
		r := exchange(t, "udp", addr, query(tc.name, tc.qtype, true))
		if r.Rcode != mdns.RcodeSuccess || len(r.Answer) == 0 {
			t.Errorf("%s %s: rcode %d, answer %v", tc.name, mdns.TypeToString[tc.qtype], r.Rcode, r.Answer)
			continue
		}
		verifySigned(t, tc.name, r, dnskeys, now)
	}

	// Without DO nothing changes: no RRSIG, no NSEC3.
	r := exchange(t, "udp", addr, query("nx.example.test.", mdns.TypeA, false))
	for _, rr := range append(r.Answer, r.Ns...) {
		if t := rr.Header().Rrtype; t == mdns.TypeRRSIG || t == mdns.TypeNSEC3 {
			r.Rcode = -1
		}
	}
	if r.Rcode != mdns.RcodeNameError {
		t.Errorf("DO=0 NXDOMAIN: got rcode %d or DNSSEC records: %v", r.Rcode, r.Ns)
	}

	// NXDOMAIN: the closest encloser, the next closer name and the wildcard.
	r = exchange(t, "udp", addr, query("a.nx.example.test.", mdns.TypeA, true))
	verifySigned(t, "NXDOMAIN", r, dnskeys, now)
	ns := nsec3s(r.Ns)
	if r.Rcode != mdns.RcodeNameError || matches(ns, "example.test.") == nil || !covers(ns, "nx.example.test.") || !covers(ns, "*.example.test.") {
		t.Errorf("NXDOMAIN proof incomplete: rcode %d, %v", r.Rcode, ns)
	}

	// NODATA: the NSEC3 of the name, without the type.
	r = exchange(t, "udp", addr, query("web.example.test.", mdns.TypeTXT, true))
	verifySigned(t, "NODATA", r, dnskeys, now)
	if m := matches(nsec3s(r.Ns), "web.example.test."); m == nil || hasType(m, mdns.TypeTXT) || !hasType(m, mdns.TypeA) {
		t.Errorf("NODATA proof: %v", r.Ns)
	}
	// An empty non-terminal has an NSEC3 too.
	r = exchange(t, "udp", addr, query("c.ent.example.test.", mdns.TypeA, true))
	if r.Rcode != mdns.RcodeSuccess || matches(nsec3s(r.Ns), "c.ent.example.test.") == nil {
		t.Errorf("ENT NODATA proof: rcode %d, %v", r.Rcode, r.Ns)
	}

	// A wildcard answer: the RRSIG's labels say so, the next closer name is covered.
	r = exchange(t, "udp", addr, query("x.y.wild.example.test.", mdns.TypeA, true))
	verifySigned(t, "wildcard", r, dnskeys, now)
	_, sigs := rrsets(r.Answer)
	if s := sigs["x.y.wild.example.test./A"]; len(s) != 1 || s[0].Labels != 3 {
		t.Errorf("wildcard RRSIG: %v", s)
	}
	if !covers(nsec3s(r.Ns), "y.wild.example.test.") {
		t.Errorf("wildcard: next closer name not covered: %v", r.Ns)
	}
	// Wildcard NODATA.
	r = exchange(t, "udp", addr, query("q.wild.example.test.", mdns.TypeMX, true))
	verifySigned(t, "wildcard NODATA", r, dnskeys, now)
	ns = nsec3s(r.Ns)
	if matches(ns, "wild.example.test.") == nil || !covers(ns, "q.wild.example.test.") || matches(ns, "*.wild.example.test.") == nil {
		t.Errorf("wildcard NODATA proof: %v", ns)
	}

	// A referral to an unsigned delegation proves there is no DS.
	r = exchange(t, "udp", addr, query("host.sub.example.test.", mdns.TypeA, true))
	verifySigned(t, "referral", r, dnskeys, now, "sub.example.test./NS")
	if m := matches(nsec3s(r.Ns), "sub.example.test."); m == nil || hasType(m, mdns.TypeDS) || hasType(m, mdns.TypeRRSIG) {
		t.Errorf("referral: no NSEC3 proving the delegation unsigned: %v", r.Ns)
	}

	// A signed answer too big for UDP is truncated; TCP carries it whole.
	r = exchange(t, "udp", addr, query("huge.example.test.", mdns.TypeTXT, true))
	if !r.Truncated || len(r.Answer) != 0 {
		t.Errorf("huge over UDP: TC %v, %d answers", r.Truncated, len(r.Answer))
	}
	r = exchange(t, "tcp", addr, query("huge.example.test.", mdns.TypeTXT, true))
	verifySigned(t, "huge over TCP", r, dnskeys, now)
	if r.Truncated || len(r.Answer) != 41 {
		t.Errorf("huge over TCP: TC %v, %d answers (want 40 TXT + RRSIG)", r.Truncated, len(r.Answer))
	}
}

func hasType(n *mdns.NSEC3, t uint16) bool {
	for _, b := range n.TypeBitMap {
		if b == t {
			return true
		}
	}
	return false
}

func TestSignedTransferAndRefresh(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	z, _ := signedFixture(t)
	cfg := transferConfig()
	cfg.Now = clock.Now
	s := startServer(t, cfg, z)
	zd := s.snap.Load().zones.get("example.test.")
	rrs := zd.axfr()
	var sigs, chain int
	for _, rr := range rrs {
		switch rr.Header().Rrtype {
		case mdns.TypeRRSIG:
			sigs++
		case mdns.TypeNSEC3:
			chain++
		}
	}
	if chain == 0 || sigs <= chain {
		t.Fatalf("AXFR of a signed zone: %d RRSIG, %d NSEC3", sigs, chain)
	}
	if zd.ixfr(z.Serial) != nil {
		t.Errorf("IXFR of a signed zone: want the whole zone")
	}
	first := zd.apex.get(mdns.TypeSOA).sigs[0].(*mdns.RRSIG).Inception

	// Loading the same zone again reuses the fresh signatures.
	if err := s.LoadZone(z); err != nil {
		t.Fatal(err)
	}
	again := s.snap.Load().zones.get("example.test.")
	if a, b := zd.apex.get(mdns.TypeMX).sigs[0], again.apex.get(mdns.TypeMX).sigs[0]; a != b {
		t.Errorf("an unchanged RRset was signed again")
	}

	clock.Add(6 * 24 * time.Hour)
	if done, err := s.RefreshSignatures(); err != nil || len(done) != 0 {
		t.Errorf("refresh after 6 days: %v, %v (want nothing due)", done, err)
	}
	clock.Add(2 * 24 * time.Hour)
	done, err := s.RefreshSignatures()
	if err != nil || len(done) != 1 {
		t.Fatalf("refresh after 8 days: %v, %v", done, err)
	}
	re := s.snap.Load().zones.get("example.test.").apex.get(mdns.TypeSOA).sigs[0].(*mdns.RRSIG)
	if re.Inception <= first || !re.ValidityPeriod(clock.Now().Add(13*24*time.Hour)) {
		t.Errorf("re-signed SOA: inception %d (was %d), expiration %d", re.Inception, first, re.Expiration)
	}
}

// TestSignedZoneVerifies runs ldns-verify-zone over the AXFR of the signed
// fixture zone: every signature, the NSEC3 chain and its coverage.
func TestSignedZoneVerifies(t *testing.T) {
	bin := requirePeer(t, "ldns-verify-zone")
	z, _ := signedFixture(t)
	zd, err := buildZone(z)
	if err != nil {
		t.Fatal(err)
	}
	if err := zd.sign(z.DNSSEC.Keys, nil, time.Now(), dnssec.DefaultValidity); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, rr := range zd.axfr()[1:] { // one SOA
		b.WriteString(rr.String() + "\n")
	}
	path := filepath.Join(t.TempDir(), "example.test.signed")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-V", "3", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ldns-verify-zone: %v\n%s", err, out)
	}
	t.Logf("ldns-verify-zone: %s", out)
}
