package dns

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// testKeyName and testKeySecret are the TSIG key the transfer tests use.
const (
	testKeyName   = "xfr-key."
	testKeySecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=" // base64 of 32 octets
)

// zoneFromText parses zone-file text into a Zone (serial from its SOA).
func zoneFromText(t testing.TB, origin, text string) Zone {
	t.Helper()
	recs, err := ParseZoneFile(origin, strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse zone %s: %v", origin, err)
	}
	z := Zone{Name: origin, Records: recs}
	for _, r := range recs {
		if r.Type == "SOA" {
			z.Serial = soaSerial(t, r)
		}
	}
	return z
}

func soaSerial(t testing.TB, r Record) uint32 {
	t.Helper()
	rr, err := recordToRR(r)
	if err != nil {
		t.Fatal(err)
	}
	return rr.(*mdns.SOA).Serial
}

// fixtureText reads a file under testdata.
func fixtureText(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fixtureZone is testdata/example.test.zone as a Zone.
func fixtureZone(t testing.TB) Zone {
	return zoneFromText(t, "example.test.", fixtureText(t, "example.test.zone"))
}

// startServer starts a server on 127.0.0.1:0 serving zones; it is shut
// down when the test ends.
func startServer(t testing.TB, cfg Config, zones ...Zone) *Server {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, z := range zones {
		if err := s.LoadZone(z); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

// transferConfig allows transfers from loopback with the test TSIG key.
func transferConfig() Config {
	return Config{
		TSIG:          map[string]string{testKeyName: testKeySecret},
		AllowTransfer: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		RequireTSIG:   true,
		TransferKey:   testKeyName,
	}
}

// exchange sends m to addr over network and fails the test on error.
func exchange(t testing.TB, network, addr string, m *mdns.Msg) *mdns.Msg {
	t.Helper()
	c := &mdns.Client{Net: network, Timeout: 3 * time.Second, UDPSize: 65535}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, m.Question[0].Name, mdns.TypeToString[m.Question[0].Qtype], err)
	}
	return r
}

// rrStrings renders RRs canonically (owner lower case, tabs collapsed),
// sorted, leaving out OPT and TSIG.
func rrStrings(rrs []mdns.RR) []string {
	var out []string
	for _, rr := range rrs {
		switch rr.Header().Rrtype {
		case mdns.TypeOPT, mdns.TypeTSIG:
			continue
		}
		rr = mdns.Copy(rr)
		rr.Header().Name = strings.ToLower(rr.Header().Name)
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	slices.Sort(out)
	return out
}

// normRRs parses and renders expected RR texts like rrStrings does.
func normRRs(t testing.TB, texts []string) []string {
	t.Helper()
	var rrs []mdns.RR
	for _, s := range texts {
		rr, err := mdns.NewRR(s)
		if err != nil {
			t.Fatalf("bad expected RR %q: %v", s, err)
		}
		rrs = append(rrs, rr)
	}
	return rrStrings(rrs)
}

// testWriter sends log output to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
