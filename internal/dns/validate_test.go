package dns

import (
	"errors"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/internal/apperr"
)

func TestCanonicalZoneName(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{in: "Example.TEST", want: "example.test."},
		{in: "example.test.", want: "example.test."},
		{in: " sub.Example.test ", want: "sub.example.test."},
		{in: "xn--bcher-kva.test", want: "xn--bcher-kva.test."},
		{in: "lan", want: "lan."},
		{in: "", err: "empty"},
		{in: ".", err: "root"},
		{in: "a..b", err: "empty label"},
		{in: "-bad.test", err: "starts or ends with '-'"},
		{in: "bad-.test", err: "starts or ends with '-'"},
		{in: "bücher.test", err: "xn--"},
		{in: "sp ace.test", err: "contains"},
		{in: "*.test", err: "'*'"},
		{in: "a/b.test", err: "contains"},
		{in: strings.Repeat("a", 64) + ".test", err: "longer than 63"},
		{in: strings.Repeat("abcdefghi.", 26) + "test", err: "longer than 253"},
	} {
		got, err := CanonicalZoneName(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, apperr.Invalid) {
				t.Errorf("CanonicalZoneName(%q): got %q, %v; want an Invalid error mentioning %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CanonicalZoneName(%q): got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeRecord(t *testing.T) {
	for _, tc := range []struct {
		in   Record
		want Record
		err  string
	}{
		{in: Record{"@", "a", 300, "192.0.2.1"}, want: Record{"example.test.", "A", 300, "192.0.2.1"}},
		{in: Record{"", "A", 300, " 192.0.2.1 "}, want: Record{"example.test.", "A", 300, "192.0.2.1"}},
		{in: Record{"WWW", "CNAME", 60, "Web"}, want: Record{"www.example.test.", "CNAME", 60, "web.example.test."}},
		{in: Record{"www.example.test.", "CNAME", 60, "cdn.Other.TEST."}, want: Record{"www.example.test.", "CNAME", 60, "cdn.other.test."}},
		{in: Record{"@", "MX", 3600, "10 mail"}, want: Record{"example.test.", "MX", 3600, "10 mail.example.test."}},
		{in: Record{"@", "MX", 3600, "0 ."}, want: Record{"example.test.", "MX", 3600, "0 ."}},
		{in: Record{"v6", "AAAA", 300, "2001:DB8:0:0::1"}, want: Record{"v6.example.test.", "AAAA", 300, "2001:db8::1"}},
		{in: Record{"@", "TXT", 300, "v=spf1 mx -all"}, want: Record{"example.test.", "TXT", 300, `"v=spf1 mx -all"`}},
		{in: Record{"@", "TXT", 300, `"a" "b c"`}, want: Record{"example.test.", "TXT", 300, `"a" "b c"`}},
		{in: Record{"@", "TXT", 300, strings.Repeat("x", 300)}, want: Record{"example.test.", "TXT", 300, `"` + strings.Repeat("x", 255) + `" "` + strings.Repeat("x", 45) + `"`}},
		{in: Record{"_sip._tcp", "SRV", 300, "10 5 5060 sip"}, want: Record{"_sip._tcp.example.test.", "SRV", 300, "10 5 5060 sip.example.test."}},
		{in: Record{"@", "CAA", 300, `0 issue "letsencrypt.org"`}, want: Record{"example.test.", "CAA", 300, `0 issue "letsencrypt.org"`}},
		{in: Record{"*.wild", "A", 0, "192.0.2.9"}, want: Record{"*.wild.example.test.", "A", 0, "192.0.2.9"}},
		{in: Record{"@", "SOA", 300, "NS1 hostmaster 1 7200 3600 1209600 300"}, want: Record{"example.test.", "SOA", 300, "ns1.example.test. hostmaster.example.test. 1 7200 3600 1209600 300"}},
		{in: Record{"4.3.2.1", "PTR", 300, "host.example.test."}, want: Record{"4.3.2.1.example.test.", "PTR", 300, "host.example.test."}},
		{in: Record{"@", "A", MaxTTL, "192.0.2.1"}, want: Record{"example.test.", "A", MaxTTL, "192.0.2.1"}},

		{in: Record{"@", "A", 300, "2001:db8::1"}, err: "needs an IPv4 address"},
		{in: Record{"@", "A", 300, "999.1.1.1"}, err: "not an IP address"},
		{in: Record{"@", "A", 300, "1.2.3"}, err: "not an IP address"},
		{in: Record{"@", "AAAA", 300, "192.0.2.1"}, err: "needs an IPv6 address"},
		{in: Record{"@", "A", 300, ""}, err: "data is empty"},
		{in: Record{"@", "A", MaxTTL + 1, "192.0.2.1"}, err: "TTL"},
		{in: Record{"@", "HINFO", 300, "a b"}, err: "not supported"},
		{in: Record{"www.other.test.", "A", 300, "192.0.2.1"}, err: "outside zone"},
		{in: Record{"a*b", "A", 300, "192.0.2.1"}, err: "'*'"},
		{in: Record{"x.*", "A", 300, "192.0.2.1"}, err: "'*'"},
		{in: Record{"bad name", "A", 300, "192.0.2.1"}, err: "contains"},
		{in: Record{"@", "MX", 300, "mail"}, err: "MX"},
		{in: Record{"@", "A", 300, "192.0.2.1\nx A 1.2.3.4"}, err: "control characters"},
		{in: Record{"@", "SRV", 300, "10 5 sip"}, err: "SRV"},
		{in: Record{"@", "CAA", 300, "x issue y"}, err: "CAA"},
	} {
		got, err := NormalizeRecord("Example.Test", tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, apperr.Invalid) {
				t.Errorf("NormalizeRecord(%+v): got %+v, %v; want an Invalid error mentioning %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NormalizeRecord(%+v):\ngot  %+v, %v\nwant %+v", tc.in, got, err, tc.want)
		}
		// Normalising is idempotent.
		if again, err := NormalizeRecord("example.test.", got); err != nil || again != got {
			t.Errorf("NormalizeRecord(%+v) again: got %+v, %v", got, again, err)
		}
	}
}

func TestCheckZone(t *testing.T) {
	const base = `@ 3600 IN SOA ns1 hostmaster 5 7200 3600 1209600 300
@ 3600 IN NS ns1
ns1 3600 IN A 192.0.2.53
`
	zone := func(extra string) Zone {
		z := zoneFromText(t, "example.test.", base+extra)
		return z
	}
	if err := CheckZone(zone("www IN CNAME ns1\n")); err != nil {
		t.Fatalf("valid zone: %v", err)
	}
	if err := CheckZone(fixtureZone(t)); err != nil {
		t.Fatalf("fixture zone: %v", err)
	}
	for _, tc := range []struct {
		name string
		z    Zone
		err  string
	}{
		{"CNAME beside other data", zone("www IN A 192.0.2.1\nwww IN CNAME ns1\n"), `record "www.example.test. 3600 IN CNAME ns1.example.test.": a CNAME cannot share its name`},
		{"other data beside a CNAME", zone("www IN CNAME ns1\nwww IN TXT hi\n"), "a CNAME cannot share its name"},
		{"two CNAMEs", zone("www IN CNAME ns1\nwww IN CNAME ns2\n"), "more than one CNAME"},
		{"CNAME at the apex", zone("@ IN CNAME other.test.\n"), "CNAME is not allowed at the zone apex"},
		{"duplicate", zone("www IN A 192.0.2.1\nwww 60 IN A 192.0.2.1\n"), `duplicate record "www.example.test. 60 IN A 192.0.2.1"`},
		{"two SOAs", zone("@ IN SOA ns2 hostmaster 5 1 1 1 1\n"), "more than one SOA"},
		{"SOA below the apex", zone("sub IN SOA ns2 hostmaster 5 1 1 1 1\n"), "SOA is only allowed at the apex"},
		{"no SOA", Zone{Name: "example.test.", Records: []Record{{"example.test.", "NS", 60, "ns1.example.test."}}}, "no SOA"},
		{"no apex NS", zoneFromText(t, "example.test.", "@ 1 IN SOA ns1 h 5 1 1 1 1\nsub IN NS ns1\n"), "no NS record at the apex"},
		{"serial mismatch", func() Zone { z := zone(""); z.Serial = 6; return z }(), "serial 5 differs from the zone serial 6"},
		{"record outside", func() Zone {
			z := zone("")
			z.Records = append(z.Records, Record{"www.other.test.", "A", 1, "192.0.2.1"})
			return z
		}(), "outside zone"},
		{"bad zone name", Zone{Name: "bad..name"}, "empty label"},
	} {
		err := CheckZone(tc.z)
		if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, apperr.Invalid) {
			t.Errorf("%s: got %v, want an Invalid error containing %q", tc.name, err, tc.err)
		}
	}
}
