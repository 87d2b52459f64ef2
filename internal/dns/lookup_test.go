package dns

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// lookupCase is one query against the fixture zone (testdata/example.test.zone)
// and the response expected, in the style of CoreDNS's plugin/file tests.
type lookupCase struct {
	qname  string
	qtype  uint16
	edns   uint16 // EDNS buffer size; 0 sends no OPT
	do     bool
	nets   []string // networks to ask over; nil means udp and tcp
	rcode  int
	aa     bool
	tc     bool
	answer []string
	ns     []string
	extra  []string
	skipAN bool // only check the counts below, not the answer text
	nAns   int
}

var (
	soaNeg = "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300"
	subNS  = []string{"sub.example.test. 3600 IN NS ns.sub.example.test.", "sub.example.test. 3600 IN NS ns.other.test."}
	webA   = []string{"web.example.test. 3600 IN A 192.0.2.80", "web.example.test. 3600 IN A 192.0.2.81"}
)

var lookupCases = []lookupCase{
	// Plain answers, NXDOMAIN, NODATA.
	{qname: "web.example.test.", qtype: mdns.TypeA, aa: true, answer: webA},
	{qname: "nope.example.test.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, aa: true, ns: []string{soaNeg}},
	{qname: "web.example.test.", qtype: mdns.TypeMX, aa: true, ns: []string{soaNeg}},
	{qname: "ttl60.example.test.", qtype: mdns.TypeA, aa: true, answer: []string{"ttl60.example.test. 60 IN A 192.0.2.60"}},
	{qname: "4.3.2.1.example.test.", qtype: mdns.TypePTR, aa: true, answer: []string{"4.3.2.1.example.test. 3600 IN PTR web.example.test."}},
	{qname: "example.test.", qtype: mdns.TypeCAA, aa: true, answer: []string{`example.test. 3600 IN CAA 0 issue "letsencrypt.org"`}},
	{qname: "example.test.", qtype: mdns.TypeSOA, aa: true, answer: []string{"example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300"}},
	// Empty non-terminals are NODATA, below them NXDOMAIN.
	{qname: "c.ent.example.test.", qtype: mdns.TypeA, aa: true, ns: []string{soaNeg}},
	{qname: "b.c.ent.example.test.", qtype: mdns.TypeTXT, aa: true, ns: []string{soaNeg}},
	{qname: "zz.c.ent.example.test.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, aa: true, ns: []string{soaNeg}},
	{qname: "a.b.c.ent.example.test.", qtype: mdns.TypeA, aa: true, answer: []string{"a.b.c.ent.example.test. 3600 IN A 192.0.2.7"}},
	// CNAMEs and chains.
	{qname: "www.example.test.", qtype: mdns.TypeA, aa: true, answer: append([]string{"www.example.test. 3600 IN CNAME web.example.test."}, webA...)},
	{qname: "www.example.test.", qtype: mdns.TypeCNAME, aa: true, answer: []string{"www.example.test. 3600 IN CNAME web.example.test."}},
	{qname: "alias1.example.test.", qtype: mdns.TypeA, aa: true, answer: append([]string{
		"alias1.example.test. 3600 IN CNAME alias2.example.test.",
		"alias2.example.test. 3600 IN CNAME www.example.test.",
		"www.example.test. 3600 IN CNAME web.example.test."}, webA...)},
	{qname: "www.example.test.", qtype: mdns.TypeMX, aa: true, answer: []string{"www.example.test. 3600 IN CNAME web.example.test."}, ns: []string{soaNeg}},
	{qname: "dangling.example.test.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, aa: true,
		answer: []string{"dangling.example.test. 3600 IN CNAME nowhere.example.test."}, ns: []string{soaNeg}},
	{qname: "outside.example.test.", qtype: mdns.TypeA, aa: true, answer: []string{"outside.example.test. 3600 IN CNAME www.other.test."}},
	{qname: "loop1.example.test.", qtype: mdns.TypeA, aa: true, answer: []string{
		"loop1.example.test. 3600 IN CNAME loop2.example.test.", "loop2.example.test. 3600 IN CNAME loop1.example.test."}},
	// Wildcards (RFC 4592).
	{qname: "x.wild.example.test.", qtype: mdns.TypeA, aa: true, answer: []string{"x.wild.example.test. 3600 IN A 192.0.2.99"}},
	{qname: "a.x.wild.example.test.", qtype: mdns.TypeTXT, aa: true, answer: []string{`a.x.wild.example.test. 3600 IN TXT "wildcard"`}},
	{qname: "x.wild.example.test.", qtype: mdns.TypeMX, aa: true, ns: []string{soaNeg}},
	{qname: "exists.wild.example.test.", qtype: mdns.TypeTXT, aa: true, ns: []string{soaNeg}},
	{qname: "exists.wild.example.test.", qtype: mdns.TypeA, aa: true, answer: []string{"exists.wild.example.test. 3600 IN A 192.0.2.98"}},
	{qname: "wild.example.test.", qtype: mdns.TypeA, aa: true, ns: []string{soaNeg}},
	{qname: "*.wild.example.test.", qtype: mdns.TypeA, aa: true, answer: []string{"*.wild.example.test. 3600 IN A 192.0.2.99"}},
	{qname: "y.exists.wild.example.test.", qtype: mdns.TypeA, rcode: mdns.RcodeNameError, aa: true, ns: []string{soaNeg}},
	{qname: "q.cwild.example.test.", qtype: mdns.TypeA, aa: true, answer: append([]string{"q.cwild.example.test. 3600 IN CNAME web.example.test."}, webA...)},
	// Delegation: referral with glue, not authoritative.
	{qname: "sub.example.test.", qtype: mdns.TypeNS, ns: subNS, extra: []string{"ns.sub.example.test. 3600 IN A 192.0.2.70"}},
	{qname: "host.sub.example.test.", qtype: mdns.TypeA, ns: subNS, extra: []string{"ns.sub.example.test. 3600 IN A 192.0.2.70"}},
	{qname: "ns.sub.example.test.", qtype: mdns.TypeA, ns: subNS, extra: []string{"ns.sub.example.test. 3600 IN A 192.0.2.70"}},
	{qname: "sub.example.test.", qtype: mdns.TypeDS, aa: true, ns: []string{soaNeg}},
	// Additional-section addresses for NS, MX and SRV targets.
	{qname: "example.test.", qtype: mdns.TypeNS, aa: true,
		answer: []string{"example.test. 3600 IN NS ns1.example.test.", "example.test. 3600 IN NS ns2.example.test."},
		extra:  []string{"ns1.example.test. 3600 IN A 192.0.2.53", "ns2.example.test. 3600 IN A 192.0.2.54", "ns2.example.test. 3600 IN AAAA 2001:db8::54"}},
	{qname: "example.test.", qtype: mdns.TypeMX, aa: true,
		answer: []string{"example.test. 3600 IN MX 10 mail.example.test.", "example.test. 3600 IN MX 20 mail2.other.test."},
		extra:  []string{"mail.example.test. 3600 IN A 192.0.2.25"}},
	{qname: "_sip._tcp.example.test.", qtype: mdns.TypeSRV, aa: true,
		answer: []string{"_sip._tcp.example.test. 3600 IN SRV 10 5 5060 sip.example.test."},
		extra:  []string{"sip.example.test. 3600 IN A 192.0.2.60"}},
	// Zones not served are refused; so is a class other than IN.
	{qname: "www.other.test.", qtype: mdns.TypeA, rcode: mdns.RcodeRefused},
	{qname: "test.", qtype: mdns.TypeSOA, rcode: mdns.RcodeRefused},
	// ANY is answered with one RRset (RFC 8482).
	{qname: "web.example.test.", qtype: mdns.TypeANY, aa: true, answer: webA},
	{qname: "www.example.test.", qtype: mdns.TypeANY, aa: true, answer: []string{"www.example.test. 3600 IN CNAME web.example.test."}},
	{qname: "example.test.", qtype: mdns.TypeANY, aa: true, answer: []string{"example.test. 3600 IN SOA ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300"}},
	{qname: "c.ent.example.test.", qtype: mdns.TypeANY, aa: true, ns: []string{soaNeg}},
	// Names are case-insensitive (the question keeps the asker's case).
	{qname: "WeB.ExAmPlE.TeSt.", qtype: mdns.TypeA, aa: true, answer: webA},
	{qname: "X.WILD.example.TEST.", qtype: mdns.TypeA, aa: true, answer: []string{"x.wild.example.test. 3600 IN A 192.0.2.99"}},
	// EDNS and truncation: 32 A records need 544 octets.
	{qname: "big.example.test.", qtype: mdns.TypeA, nets: []string{"udp"}, aa: true, tc: true},
	{qname: "big.example.test.", qtype: mdns.TypeA, nets: []string{"tcp"}, aa: true, skipAN: true, nAns: 32},
	{qname: "big.example.test.", qtype: mdns.TypeA, edns: 1232, aa: true, skipAN: true, nAns: 32},
	{qname: "big.example.test.", qtype: mdns.TypeA, edns: 4096, do: true, aa: true, skipAN: true, nAns: 32},
	{qname: "huge.example.test.", qtype: mdns.TypeTXT, edns: 4096, nets: []string{"udp"}, aa: true, tc: true},
	{qname: "huge.example.test.", qtype: mdns.TypeTXT, edns: 4096, nets: []string{"tcp"}, aa: true, skipAN: true, nAns: 40},
}

func TestLookup(t *testing.T) {
	s := startServer(t, Config{}, fixtureZone(t))
	for _, tc := range lookupCases {
		nets := tc.nets
		if nets == nil {
			nets = []string{"udp", "tcp"}
		}
		for _, network := range nets {
			name := fmt.Sprintf("%s/%s/%s/edns%d", network, tc.qname, mdns.TypeToString[tc.qtype], tc.edns)
			t.Run(name, func(t *testing.T) {
				m := new(mdns.Msg)
				m.SetQuestion(tc.qname, tc.qtype)
				m.RecursionDesired = false
				if tc.edns > 0 {
					m.SetEdns0(tc.edns, tc.do)
				}
				r := exchange(t, network, s.Addr(), m)
				checkResponse(t, tc, m, r)
			})
		}
	}
}

// checkResponse compares r with what tc expects.
func checkResponse(t *testing.T, tc lookupCase, q, r *mdns.Msg) {
	t.Helper()
	if r.Rcode != tc.rcode {
		t.Errorf("rcode: got %s, want %s", mdns.RcodeToString[r.Rcode], mdns.RcodeToString[tc.rcode])
	}
	if r.Authoritative != tc.aa {
		t.Errorf("aa: got %v, want %v", r.Authoritative, tc.aa)
	}
	if r.Truncated != tc.tc {
		t.Errorf("tc: got %v, want %v", r.Truncated, tc.tc)
	}
	if r.RecursionAvailable {
		t.Errorf("ra set on an authoritative-only server")
	}
	if len(r.Question) != 1 || r.Question[0].Name != q.Question[0].Name {
		t.Errorf("question: got %v, want %q echoed as asked", r.Question, q.Question[0].Name)
	}
	opt := r.IsEdns0()
	if (q.IsEdns0() != nil) != (opt != nil) {
		t.Errorf("OPT in response: got %v, want %v", opt != nil, q.IsEdns0() != nil)
	}
	if opt != nil {
		if opt.UDPSize() != 1232 {
			t.Errorf("EDNS buffer size: got %d, want 1232", opt.UDPSize())
		}
		if opt.Do() != q.IsEdns0().Do() {
			t.Errorf("DO bit: got %v, want %v (echoed)", opt.Do(), q.IsEdns0().Do())
		}
	}
	if tc.tc {
		return
	}
	if tc.skipAN {
		if len(r.Answer) != tc.nAns {
			t.Errorf("answer count: got %d, want %d", len(r.Answer), tc.nAns)
		}
		return
	}
	for _, sec := range []struct {
		name      string
		got, want []string
	}{
		{"answer", rrStrings(r.Answer), normRRs(t, tc.answer)},
		{"authority", rrStrings(r.Ns), normRRs(t, tc.ns)},
		{"additional", rrStrings(r.Extra), normRRs(t, tc.extra)},
	} {
		if !slices.Equal(sec.got, sec.want) {
			t.Errorf("%s section:\ngot  %s\nwant %s", sec.name, strings.Join(sec.got, "\n     "), strings.Join(sec.want, "\n     "))
		}
	}
}

func TestLookupAnswerOrderKeepsCNAMEFirst(t *testing.T) {
	s := startServer(t, Config{}, fixtureZone(t))
	m := new(mdns.Msg)
	m.SetQuestion("alias1.example.test.", mdns.TypeA)
	r := exchange(t, "udp", s.Addr(), m)
	want := []string{"alias1.example.test.", "alias2.example.test.", "www.example.test.", "web.example.test.", "web.example.test."}
	var got []string
	for _, rr := range r.Answer {
		got = append(got, rr.Header().Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("answer owners: got %v, want %v", got, want)
	}
}
