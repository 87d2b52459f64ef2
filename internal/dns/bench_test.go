package dns

import (
	"net"
	"strconv"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
)

// benchWriter is an in-process ResponseWriter: it keeps the response size.
type benchWriter struct {
	remote net.Addr
	n      int
}

func (w *benchWriter) LocalAddr() net.Addr  { return w.remote }
func (w *benchWriter) RemoteAddr() net.Addr { return w.remote }
func (w *benchWriter) WriteMsg(m *mdns.Msg) error {
	b, err := m.Pack()
	w.n = len(b)
	return err
}
func (w *benchWriter) Write(b []byte) (int, error) { w.n = len(b); return len(b), nil }
func (w *benchWriter) Close() error                { return nil }
func (w *benchWriter) TsigStatus() error           { return nil }
func (w *benchWriter) TsigTimersOnly(bool)         {}
func (w *benchWriter) Hijack()                     {}

// BenchmarkServeUDP measures the query path as miekg's UDP server drives it
// (unpack the request, then the handler: lookup, pack, write) without the
// socket. Run with -benchmem to see the allocations per query.
func BenchmarkServeUDP(b *testing.B) {
	s, err := NewServer(Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.LoadZone(fixtureZone(b)); err != nil {
		b.Fatal(err)
	}
	h := handler{s}
	for _, q := range []struct {
		name, qname string
		qtype       uint16
	}{
		{"answer", "web.example.test.", mdns.TypeA},
		{"answer-mixedcase", "Web.Example.Test.", mdns.TypeA},
		{"mx-additional", "example.test.", mdns.TypeMX},
		{"nxdomain", "nope.example.test.", mdns.TypeA},
		{"nodata", "web.example.test.", mdns.TypeTXT},
		{"cname-chain", "alias1.example.test.", mdns.TypeA},
		{"wildcard", "x.wild.example.test.", mdns.TypeA},
		{"referral", "host.sub.example.test.", mdns.TypeA},
		{"refused", "www.other.test.", mdns.TypeA},
	} {
		b.Run(q.name, func(b *testing.B) {
			m := new(mdns.Msg)
			m.SetQuestion(q.qname, q.qtype)
			m.SetEdns0(1232, false)
			wire, err := m.Pack()
			if err != nil {
				b.Fatal(err)
			}
			w := &benchWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5300}}
			b.ReportAllocs()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				req := new(mdns.Msg)
				if err := req.Unpack(wire); err != nil {
					b.Fatal(err)
				}
				h.ServeDNS(w, req)
			}
			if w.n == 0 {
				b.Fatal("no response written")
			}
		})
	}
}

// BenchmarkBuildZone measures SetZone's cost for a zone of 10 000 records.
func BenchmarkBuildZone(b *testing.B) {
	z := fixtureZone(b)
	for i := range 10000 {
		z.Records = append(z.Records, Record{Name: "h" + strconv.Itoa(i) + ".bulk.example.test.", Type: "A", TTL: 300, Data: "192.0.2." + strconv.Itoa(i%250+1)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildZone(z); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseZoneFile checks that the parser never panics and that whatever
// it accepts is normalised and round-trips through FormatZone.
func FuzzParseZoneFile(f *testing.F) {
	f.Add(fixtureText(f, "example.test.zone"))
	f.Add("$TTL 60\n@ IN SOA ns1 h ( 1 2 3 4 5 )\n IN NS ns1\nns1 A 192.0.2.1\n")
	f.Add("www 60 IN TXT \"a\\\"b\" c ; comment\n")
	f.Add("$ORIGIN sub.example.test.\n* 1 IN MX 0 .\n")
	f.Add("$INCLUDE x\n")
	f.Add("a 1 IN CAA 0 issue \"x\"\nb 1 IN SRV 1 2 3 t\nc 1 IN PTR d.\n")
	f.Fuzz(func(t *testing.T, text string) {
		recs, err := ParseZoneFile("example.test.", strings.NewReader(text))
		if err != nil {
			return
		}
		for _, r := range recs {
			n, err := NormalizeRecord("example.test.", r)
			if err != nil || n != r {
				t.Fatalf("parsed record %+v is not normalised: %+v, %v", r, n, err)
			}
		}
		out := FormatZone(Zone{Name: "example.test.", Records: recs})
		back, err := ParseZoneFile("example.test.", strings.NewReader(out))
		if err != nil {
			t.Fatalf("FormatZone output does not parse: %v\n%s", err, out)
		}
		a, b := append([]Record(nil), recs...), back
		sortRecords(a)
		sortRecords(b)
		if len(a) != len(b) {
			t.Fatalf("round trip: %d records became %d", len(a), len(b))
		}
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("round trip changed %+v into %+v", a[i], b[i])
			}
		}
	})
}
