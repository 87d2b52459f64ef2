package rfc2136_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
	"github.com/poolctl/poolctl/internal/dnsprovider/dnsprovidertest"
	"github.com/poolctl/poolctl/internal/dnsprovider/rfc2136"
	"github.com/poolctl/poolctl/internal/dnsprovider/rfc2136/rfc2136test"
)

var flavors = []rfc2136test.Flavor{rfc2136test.Knot, rfc2136test.BIND}

func provider(t *testing.T, s *rfc2136test.Server) *rfc2136.Provider {
	t.Helper()
	p, err := rfc2136.New(rfc2136.Config{Server: s.Addr, Zones: s.Zones, KeyName: rfc2136test.KeyName, KeySecret: rfc2136test.KeySecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log:\n%s", s.Flavor, s.Log())
		}
	})
	return p
}

// TestConformance runs the provider suite against a real knotd and a real
// named.
func TestConformance(t *testing.T) {
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			s := rfc2136test.Start(t, f, "suite.test")
			dnsprovidertest.Run(t, func(t *testing.T) dnsprovider.Provider { return provider(t, s) }, "suite.test")
		})
	}
}

// dig asks s for name/type over UDP, as a resolver would.
func dig(t *testing.T, s *rfc2136test.Server, name, typ string) string {
	t.Helper()
	if _, err := exec.LookPath("dig"); err != nil {
		t.Skip("dig is not installed (bind9-dnsutils)")
	}
	host, port, _ := strings.Cut(s.Addr, ":")
	out, err := exec.Command("dig", "+short", "+norec", "+time=2", "+tries=1", "@"+host, "-p", port, name, typ).Output()
	if err != nil {
		t.Fatalf("dig %s %s: %v", name, typ, err)
	}
	return strings.TrimSpace(string(out))
}

// TestServedByDNS: what the provider writes is what the server answers,
// with the SOA serial raised by the server.
func TestServedByDNS(t *testing.T) {
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			s := rfc2136test.Start(t, f, "served.test")
			p := provider(t, s)
			ctx := t.Context()
			serial := func() string { return strings.Fields(dig(t, s, "served.test", "SOA") + " x x x")[2] }
			before := serial()
			if _, err := p.SetRecords(ctx, "served.test", []dnsprovider.Record{{Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.7"}}); err != nil {
				t.Fatal(err)
			}
			if got := dig(t, s, "www.served.test", "A"); got != "192.0.2.7" {
				t.Fatalf("dig www.served.test A = %q, want 192.0.2.7", got)
			}
			if _, err := p.SetRecords(ctx, "served.test", []dnsprovider.Record{{Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.8"}}); err != nil {
				t.Fatal(err)
			}
			if got := dig(t, s, "www.served.test", "A"); got != "192.0.2.8" {
				t.Fatalf("dig www.served.test A after the cut = %q, want 192.0.2.8", got)
			}
			if after := serial(); after == before {
				t.Fatalf("SOA serial %s did not change with the updates", after)
			}
		})
	}
}

// TestWrongKey: a key the server does not know, or a wrong secret, is
// Unauthorized and says which key.
func TestWrongKey(t *testing.T) {
	for _, f := range flavors {
		t.Run(string(f), func(t *testing.T) {
			s := rfc2136test.Start(t, f, "key.test")
			for name, cfg := range map[string]rfc2136.Config{
				"unknown key":  {KeyName: "other-key.", KeySecret: rfc2136test.KeySecret},
				"wrong secret": {KeyName: rfc2136test.KeyName, KeySecret: "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA=="},
			} {
				cfg.Server, cfg.Zones = s.Addr, s.Zones
				p, err := rfc2136.New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				_, err = p.GetRecords(t.Context(), "key.test")
				if !errors.Is(err, apperr.Unauthorized) || !strings.Contains(err.Error(), strings.TrimSuffix(cfg.KeyName, ".")) {
					t.Errorf("%s: GetRecords = %v, want unauthorized naming the key", name, err)
				}
				_, err = p.AppendRecords(t.Context(), "key.test", []dnsprovider.Record{{Name: "x", Type: "A", Value: "192.0.2.1"}})
				if !errors.Is(err, apperr.Unauthorized) {
					t.Errorf("%s: AppendRecords = %v, want unauthorized", name, err)
				}
				if strings.Contains(err.Error(), cfg.KeySecret) {
					t.Errorf("%s: the error shows the secret: %v", name, err)
				}
			}
		})
	}
}

// TestNotServed: a zone configured but not on the server is NotFound;
// a server that does not answer is Unavailable.
func TestNotServed(t *testing.T) {
	s := rfc2136test.Start(t, rfc2136test.Knot, "here.test")
	p, err := rfc2136.New(rfc2136.Config{Server: s.Addr, Zones: []string{"here.test", "elsewhere.test"}, KeyName: rfc2136test.KeyName, KeySecret: rfc2136test.KeySecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetRecords(t.Context(), "elsewhere.test"); !errors.Is(err, apperr.NotFound) || !strings.Contains(err.Error(), "elsewhere.test") {
		t.Fatalf("GetRecords of a zone the server lacks = %v, want not_found naming it", err)
	}
	s.Stop()
	if _, err := p.GetRecords(t.Context(), "here.test"); !errors.Is(err, apperr.Unavailable) {
		t.Fatalf("GetRecords of a stopped server = %v, want unavailable", err)
	}
}

// TestConcurrentChange: a record added behind the provider's back between
// its read and its update is not lost: the update's prerequisites fail,
// the provider reads again.
func TestConcurrentChange(t *testing.T) {
	s := rfc2136test.Start(t, rfc2136test.BIND, "race.test")
	p, q := provider(t, s), provider(t, s)
	ctx := t.Context()
	// Each writer counts what it was told was appended; a Conflict (the
	// zone kept changing) appended nothing.
	write := func(p *rfc2136.Provider, prefix string) (int, error) {
		n := 0
		for i := range 20 {
			got, err := p.AppendRecords(ctx, "race.test", []dnsprovider.Record{{Name: "r", Type: "TXT", TTL: time.Minute, Value: prefix + string(rune('a'+i))}})
			if err != nil && !errors.Is(err, apperr.Conflict) {
				return n, err
			}
			n += len(got)
		}
		return n, nil
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() { n, err := write(q, "q"); done <- result{n, err} }()
	np, err := write(p, "p")
	if err != nil {
		t.Fatal(err)
	}
	rq := <-done
	if rq.err != nil {
		t.Fatal(rq.err)
	}
	rs, err := p.GetRecords(ctx, "race.test")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rs {
		if r.Name == "r" {
			n++
		}
	}
	if n != np+rq.n || n < 20 {
		t.Fatalf("r holds %d TXT records, want the %d + %d the writers were told were appended (at least 20)", n, np, rq.n)
	}
}

func TestConfig(t *testing.T) {
	good := rfc2136.Config{Server: "127.0.0.1:53", Zones: []string{"a.test"}, KeyName: "k.", KeySecret: rfc2136test.KeySecret}
	for name, c := range map[string]func(*rfc2136.Config){
		"no server":       func(c *rfc2136.Config) { c.Server = "" },
		"bad port":        func(c *rfc2136.Config) { c.Server = "127.0.0.1:99999" },
		"no zones":        func(c *rfc2136.Config) { c.Zones = nil },
		"bad zone":        func(c *rfc2136.Config) { c.Zones = []string{"bad zone"} },
		"no key":          func(c *rfc2136.Config) { c.KeyName = "" },
		"secret not b64":  func(c *rfc2136.Config) { c.KeySecret = "not base64!" },
		"secret is empty": func(c *rfc2136.Config) { c.KeySecret = "" },
	} {
		cfg := good
		cfg.Zones = append([]string(nil), good.Zones...)
		c(&cfg)
		if _, err := rfc2136.New(cfg); !errors.Is(err, apperr.Invalid) {
			t.Errorf("%s: New = %v, want invalid", name, err)
		} else if cfg.KeySecret != "" && strings.Contains(err.Error(), cfg.KeySecret) {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
	}
	p, err := rfc2136.New(rfc2136.Config{Server: "192.0.2.1", Zones: []string{"A.test", "a.test."}, KeyName: "k", KeySecret: rfc2136test.KeySecret})
	if err != nil || p.Server() != "192.0.2.1:53" {
		t.Fatalf("New without a port = %v, %v; want port 53", p, err)
	}
	zs, _ := p.ListZones(t.Context())
	if len(zs) != 1 || zs[0].Name != "a.test." {
		t.Fatalf("ListZones = %v, want [a.test.]", zs)
	}
	if _, err := p.GetRecords(t.Context(), "b.test"); !errors.Is(err, apperr.NotFound) {
		t.Fatalf("GetRecords of a zone not configured = %v, want not_found", err)
	}
}
