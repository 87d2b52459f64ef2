package builtin_test

import (
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/dnsprovider"
	"github.com/poolctl/poolctl/internal/dnsprovider/builtin"
	"github.com/poolctl/poolctl/internal/dnsprovider/dnsprovidertest"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/zones"
)

// sink keeps the zones the service serves.
type sink struct {
	mu    sync.Mutex
	zones map[string]dns.Zone
}

func (s *sink) LoadZone(z dns.Zone) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.zones[z.Name] = z
	return nil
}

func (s *sink) RemoveZone(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.zones, name)
}

func service(t *testing.T) (*zones.Service, *sink) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "poolctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sk := &sink{zones: map[string]dns.Zone{}}
	return zones.New(zones.Config{Store: st, Sink: sk}), sk
}

func provider(t *testing.T, svc *zones.Service) *builtin.Provider {
	t.Helper()
	p, err := builtin.New(builtin.Config{Zones: svc})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConformance runs the provider suite against the real zone service
// over a real SQLite store.
func TestConformance(t *testing.T) {
	svc, _ := service(t)
	if _, err := svc.Create(t.Context(), api.ZoneCreate{Name: "suite.test"}); err != nil {
		t.Fatal(err)
	}
	dnsprovidertest.Run(t, func(t *testing.T) dnsprovider.Provider { return provider(t, svc) }, "suite.test")
}

// TestServed: a change is served (pushed to the nameserver) with one new
// serial.
func TestServed(t *testing.T) {
	svc, sk := service(t)
	ctx := t.Context()
	if _, err := svc.Create(ctx, api.ZoneCreate{Name: "served.test"}); err != nil {
		t.Fatal(err)
	}
	before := sk.zones["served.test."].Serial
	p := provider(t, svc)
	if _, err := p.SetRecords(ctx, "served.test", []dnsprovider.Record{
		{Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.1"}, {Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.2"}}); err != nil {
		t.Fatal(err)
	}
	z := sk.zones["served.test."]
	n := 0
	for _, r := range z.Records {
		if r.Name == "www.served.test." && r.Type == "A" {
			n++
		}
	}
	if n != 2 || !dns.SerialGreater(z.Serial, before) {
		t.Fatalf("served zone: %d A records at www, serial %d (was %d); want 2 and a higher serial", n, z.Serial, before)
	}
	if len(z.Journal) == 0 || z.Journal[len(z.Journal)-1].From != before {
		t.Fatalf("journal %+v: want one entry from serial %d", z.Journal, before)
	}
}

// TestManaged: a record poolctl keeps for a pool's failover is not
// changed through the provider.
func TestManaged(t *testing.T) {
	svc, _ := service(t)
	ctx := t.Context()
	if _, err := svc.Create(ctx, api.ZoneCreate{Name: "m.test"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.PublishAddress(ctx, "app.m.test.", 30, mustAddr(t, "192.0.2.10"), "pool:web"); err != nil {
		t.Fatal(err)
	}
	p := provider(t, svc)
	_, err := p.SetRecords(ctx, "m.test", []dnsprovider.Record{{Name: "app", Type: "A", TTL: time.Minute, Value: "192.0.2.11"}})
	if !errors.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "kept by poolctl") {
		t.Fatalf("SetRecords of a managed record: %v; want a conflict", err)
	}
	rs, _ := p.GetRecords(ctx, "m.test")
	found := false
	for _, r := range rs {
		found = found || (r.Name == "app" && r.Value == "192.0.2.10")
	}
	if !found {
		t.Fatalf("the managed record changed: %v", rs)
	}
	if _, err := builtin.New(builtin.Config{}); !errors.Is(err, apperr.Invalid) {
		t.Fatalf("New without a zone service: %v", err)
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
