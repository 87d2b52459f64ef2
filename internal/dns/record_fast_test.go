package dns

import (
	"strconv"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// TestAddressFastPath: A and AAAA records built without the parser are
// the parser's, and what is not plainly an address goes to the parser.
func TestAddressFastPath(t *testing.T) {
	for _, r := range []Record{
		{Name: "www.example.test.", Type: "A", TTL: 300, Data: "192.0.2.1"},
		{Name: "example.test.", Type: "A", TTL: 0, Data: "10.0.0.255"},
		{Name: "*.example.test.", Type: "A", TTL: 60, Data: "198.51.100.7"},
		{Name: "v6.example.test.", Type: "AAAA", TTL: 3600, Data: "2001:db8::1"},
		{Name: "v6.example.test.", Type: "AAAA", TTL: 3600, Data: "2001:DB8:0:0:0:0:0:2"},
	} {
		fast := addressRR(r)
		if fast == nil {
			t.Fatalf("%+v: no fast path", r)
		}
		slow, err := mdns.NewRR(r.Name + " " + strconv.FormatUint(uint64(r.TTL), 10) + " IN " + r.Type + " " + r.Data)
		if err != nil {
			t.Fatal(err)
		}
		if fast.String() != slow.String() || !mdns.IsDuplicate(fast, slow) {
			t.Errorf("%+v: fast %q, parser %q", r, fast.String(), slow.String())
		}
	}
	for _, r := range []Record{
		{Name: "www.example.test.", Type: "A", TTL: 300, Data: "2001:db8::1"},
		{Name: "www.example.test.", Type: "AAAA", TTL: 300, Data: "192.0.2.1"},
		{Name: "www.example.test.", Type: "AAAA", TTL: 300, Data: "::ffff:192.0.2.1"},
		{Name: "www.example.test.", Type: "A", TTL: 300, Data: "192.0.2.1 ; comment"},
		{Name: "www.example.test", Type: "A", TTL: 300, Data: "192.0.2.1"},
		{Name: "a\\032b.example.test.", Type: "A", TTL: 300, Data: "192.0.2.1"},
		{Name: "www.example.test.", Type: "A", TTL: 300, Data: "fe80::1%eth0"},
	} {
		if rr := addressRR(r); rr != nil {
			t.Errorf("%+v: fast path taken (%s); the parser must decide", r, rr)
		}
	}
}

// TestNormalizeAddressFastPath: plain A and AAAA records normalize as the
// parser would make them.
func TestNormalizeAddressFastPath(t *testing.T) {
	const origin = "example.test."
	for _, r := range []Record{
		{Name: "www", Type: "A", TTL: 300, Data: "192.0.2.1"},
		{Name: "@", Type: "A", TTL: 0, Data: " 10.0.0.255 "},
		{Name: "WWW.Example.Test.", Type: "A", TTL: 60, Data: "198.51.100.7"},
		{Name: "*.wild", Type: "AAAA", TTL: 3600, Data: "2001:DB8:0:0:0:0:0:2"},
		{Name: "v6", Type: "aaaa", TTL: 3600, Data: "2001:db8:0:1:0:0:0:1"},
		{Name: "v6", Type: "AAAA", TTL: 3600, Data: "fe80::1:2:3:4"},
		{Name: "v6", Type: "AAAA", TTL: 3600, Data: "::1"},
	} {
		got, err := NormalizeRecord(origin, r)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		name, _ := absoluteOwner(origin, r.Name)
		want, err := normalizeParsed(origin, name, strings.ToUpper(r.Type), strings.TrimSpace(r.Data), r)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%+v: fast %+v, parser %+v", r, got, want)
		}
	}
	for _, r := range []Record{
		{Name: "www", Type: "A", TTL: 300, Data: "2001:db8::1"},
		{Name: "www", Type: "AAAA", TTL: 300, Data: "192.0.2.1"},
		{Name: "www.other.test.", Type: "A", TTL: 300, Data: "192.0.2.1"},
		{Name: "www", Type: "A", TTL: 300, Data: "192.0.2.300"},
	} {
		if got, err := NormalizeRecord(origin, r); err == nil {
			t.Errorf("%+v: accepted as %+v", r, got)
		}
	}
}
