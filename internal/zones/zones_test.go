package zones_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
	"github.com/poolctl/poolctl/internal/zones"
)

// sink records what the nameserver would serve.
type sink struct {
	mu    sync.Mutex
	zones map[string]dns.Zone
}

func (s *sink) LoadZone(z dns.Zone) error {
	if err := dns.CheckZone(z); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.zones == nil {
		s.zones = map[string]dns.Zone{}
	}
	s.zones[z.Name] = z
	return nil
}

func (s *sink) RemoveZone(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.zones, name)
}

func (s *sink) get(name string) dns.Zone {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.zones[name]
}

func has(z dns.Zone, name, typ, data string) bool {
	for _, r := range z.Records {
		if r.Name == name && r.Type == typ && r.Data == data {
			return true
		}
	}
	return false
}

func TestZoneLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		sk := &sink{}
		svc := zones.New(zones.Config{Store: st, Sink: sk})
		z, err := svc.Create(ctx, api.ZoneCreate{Name: "Example.TEST."})
		if err != nil {
			t.Fatal(err)
		}
		if z.Name != "example.test" || z.RecordCount != 2 {
			t.Fatalf("got %+v, want example.test with SOA and NS", z)
		}
		if _, err := svc.Create(ctx, api.ZoneCreate{Name: "example.test"}); !errors.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate zone: got %v, want conflict", err)
		}
		served := sk.get("example.test.")
		if served.Serial != z.Serial {
			t.Fatalf("served serial %d, want %d", served.Serial, z.Serial)
		}
		r, err := svc.AddRecord(ctx, "example.test", api.RecordCreate{Name: "www", Type: "a", Value: "192.0.2.1", TTL: 300})
		if err != nil {
			t.Fatal(err)
		}
		served = sk.get("example.test.")
		if !has(served, "www.example.test.", "A", "192.0.2.1") || served.Serial <= z.Serial {
			t.Fatalf("after add: served %+v", served)
		}
		if len(served.Journal) != 1 || served.Journal[0].From != z.Serial || served.Journal[0].To != served.Serial {
			t.Fatalf("journal: got %+v", served.Journal)
		}
		for _, bad := range []api.RecordCreate{
			{Name: "www", Type: "CNAME", Value: "other.example.test."},
			{Name: "x", Type: "A", Value: "2001:db8::1"},
			{Name: "x.other.test.", Type: "A", Value: "192.0.2.1"},
			{Name: "x", Type: "A", Value: "192.0.2.1", TTL: -5},
			{Name: "x", Type: "HINFO", Value: "a b"},
			{Name: "@", Type: "SOA", Value: "a. b. 1 1 1 1 1"},
		} {
			if _, err := svc.AddRecord(ctx, "example.test", bad); !errors.Is(err, apperr.Invalid) {
				t.Errorf("AddRecord(%+v): got %v, want invalid", bad, err)
			}
		}
		if _, err := svc.AddRecord(ctx, "example.test", api.RecordCreate{Name: "www", Type: "A", Value: "192.0.2.1"}); !errors.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate record: got %v, want conflict", err)
		}
		// Refused edits leave the zone as it was.
		if got := sk.get("example.test."); got.Serial != served.Serial {
			t.Fatalf("serial moved on refused edits: %d -> %d", served.Serial, got.Serial)
		}
		if err := svc.DeleteRecord(ctx, "example.test", r.ID); err != nil {
			t.Fatal(err)
		}
		if has(sk.get("example.test."), "www.example.test.", "A", "192.0.2.1") {
			t.Fatal("deleted record still served")
		}
		if err := svc.DeleteRecord(ctx, "example.test", r.ID); !errors.Is(err, apperr.NotFound) {
			t.Fatalf("delete twice: got %v", err)
		}

		// Import with a line error names the line; a good import merges.
		_, err = svc.Import(ctx, "example.test", api.ZoneImport{Text: "www 300 IN A 192.0.2.7\nbad 300 IN A 300.1.1.1\n"})
		if !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "line 2") {
			t.Fatalf("bad import: got %v, want invalid naming line 2", err)
		}
		res, err := svc.Import(ctx, "example.test", api.ZoneImport{Text: "$TTL 300\nwww IN A 192.0.2.7\nmail IN A 192.0.2.8\n@ IN MX 10 mail\n"})
		if err != nil || res.Added != 3 {
			t.Fatalf("import: got %+v, %v", res, err)
		}
		text, err := svc.Export(ctx, "example.test")
		if err != nil {
			t.Fatal(err)
		}
		back, err := dns.ParseZoneFile("example.test.", strings.NewReader(text))
		if err != nil || len(back) != 5 {
			t.Fatalf("export round trip: %d records, %v\n%s", len(back), err, text)
		}

		// Managed failover records: published, idempotent, switched A->AAAA.
		if err := svc.CheckFailoverRecord(ctx, "www.example.test"); !errors.Is(err, apperr.Conflict) {
			t.Fatalf("failover record over an unmanaged A: got %v, want conflict", err)
		}
		if err := svc.CheckFailoverRecord(ctx, "www.nowhere.test"); !errors.Is(err, apperr.Invalid) {
			t.Fatalf("failover record outside zones: got %v, want invalid", err)
		}
		if err := svc.CheckFailoverRecord(ctx, "app.example.test"); err != nil {
			t.Fatal(err)
		}
		if err := svc.PublishAddress(ctx, "app.example.test", 30, netip.MustParseAddr("192.0.2.10"), "pool:web"); err != nil {
			t.Fatal(err)
		}
		s1 := sk.get("example.test.").Serial
		if err := svc.PublishAddress(ctx, "app.example.test", 30, netip.MustParseAddr("192.0.2.10"), "pool:web"); err != nil {
			t.Fatal(err)
		}
		if s2 := sk.get("example.test.").Serial; s2 != s1 {
			t.Fatalf("idempotent publish changed the serial %d -> %d", s1, s2)
		}
		if err := svc.PublishAddress(ctx, "app.example.test", 30, netip.MustParseAddr("2001:db8::10"), "pool:web"); err != nil {
			t.Fatal(err)
		}
		cur := sk.get("example.test.")
		if has(cur, "app.example.test.", "A", "192.0.2.10") || !has(cur, "app.example.test.", "AAAA", "2001:db8::10") {
			t.Fatalf("switch to AAAA: got %+v", cur.Records)
		}
		// The failover record is poolctl's: it cannot be deleted by hand.
		recs, err := svc.Records(ctx, "example.test")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Managed != "" {
				if err := svc.DeleteRecord(ctx, "example.test", r.ID); !errors.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), "kept by poolctl") {
					t.Fatalf("delete the managed record: %v, want a conflict", err)
				}
			}
		}
		if !has(sk.get("example.test."), "app.example.test.", "AAAA", "2001:db8::10") {
			t.Fatal("a refused delete removed the managed record")
		}
		if err := svc.Unpublish(ctx, "pool:web"); err != nil {
			t.Fatal(err)
		}
		if has(sk.get("example.test."), "app.example.test.", "AAAA", "2001:db8::10") {
			t.Fatal("unpublished record still served")
		}

		// A restarted service serves the stored zones again.
		sk2 := &sink{}
		if err := zones.New(zones.Config{Store: st, Sink: sk2}).LoadAll(ctx); err != nil {
			t.Fatal(err)
		}
		if sk2.get("example.test.").Serial != sk.get("example.test.").Serial {
			t.Fatal("reloaded zone differs")
		}
		if err := svc.Delete(ctx, "example.test"); err != nil {
			t.Fatal(err)
		}
		if _, ok := sk.zones["example.test."]; ok {
			t.Fatal("deleted zone still served")
		}
	})
}

// TestSyncBetweenReplicas: a change made through one replica is served by
// another sharing the store after its next Sync; so is a deletion.
func TestSyncBetweenReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		sk1, sk2 := &sink{}, &sink{}
		r1 := zones.New(zones.Config{Store: st, Sink: sk1})
		r2 := zones.New(zones.Config{Store: st, Sink: sk2})
		if _, err := r1.Create(ctx, api.ZoneCreate{Name: "repl.test"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r1.AddRecord(ctx, "repl.test", api.RecordCreate{Name: "www", Type: "A", Value: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
		if err := r2.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if !has(sk2.get("repl.test."), "www.repl.test.", "A", "192.0.2.1") {
			t.Fatal("replica 2 does not serve replica 1's record after Sync")
		}
		if err := r1.Delete(ctx, "repl.test"); err != nil {
			t.Fatal(err)
		}
		if err := r2.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		if _, ok := sk2.zones["repl.test."]; ok {
			t.Fatal("replica 2 still serves a deleted zone")
		}
	})
}

// TestImportCreatesZone: importing into a zone that does not exist creates
// it from the file, SOA and all, as BIND would load it; a file without an
// SOA, or one that fails a check, creates nothing.
func TestImportCreatesZone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		sk := &sink{}
		svc := zones.New(zones.Config{Store: st, Sink: sk})
		const file = `$ORIGIN new.test.
$TTL 1800
@   IN SOA ns1.provider.net. dns-admin.provider.net. 2024010107 7200 900 1209600 600
    IN NS  ns1.provider.net.
    IN NS  ns2.provider.net.
www IN A   192.0.2.80
@   IN MX  10 mail.provider.net.
`
		res, err := svc.Import(ctx, "new.test", api.ZoneImport{Text: file})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Created || res.Added != 4 || res.Serial != 2024010107 {
			t.Fatalf("import result: %+v, want created with 4 records and serial 2024010107", res)
		}
		served := sk.get("new.test.")
		if served.Serial != 2024010107 || !has(served, "new.test.", "SOA", "ns1.provider.net. dns-admin.provider.net. 2024010107 7200 900 1209600 600") ||
			!has(served, "www.new.test.", "A", "192.0.2.80") || !has(served, "new.test.", "NS", "ns2.provider.net.") {
			t.Fatalf("served zone: %+v", served)
		}
		// Importing again merges: nothing new.
		if res, err := svc.Import(ctx, "new.test", api.ZoneImport{Text: file}); err != nil || res.Created || res.Added != 0 {
			t.Fatalf("second import: %+v %v", res, err)
		}
		for _, bad := range []string{
			"www IN A 192.0.2.1\n",                           // no SOA
			"@ IN SOA a. b. 1 2 3 4 5\nwww IN A 192.0.2.1\n", // no NS at the apex
			"@ IN SOA a. b. 1 2 3 4 5\n@ IN NS a.\n@ IN SOA c. d. 1 2 3 4 5\n",
		} {
			if _, err := svc.Import(ctx, "bad.test", api.ZoneImport{Text: bad}); !errors.Is(err, apperr.Invalid) {
				t.Errorf("import of %q: %v, want invalid", bad, err)
			}
			if _, err := svc.Get(ctx, "bad.test"); !errors.Is(err, apperr.NotFound) {
				t.Fatalf("a refused import created the zone: %v", err)
			}
		}
	})
}
