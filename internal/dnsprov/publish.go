package dnsprov

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
)

// Publish results.
const (
	ResultSet       = "set"       // the RRset was written
	ResultUnchanged = "unchanged" // the provider already served exactly it
)

// zoneOf returns the provider's zone holding fqdn (the longest match) and
// fqdn's name relative to it.
func zoneOf(ctx context.Context, name string, p dnsprovider.Provider, fqdn string) (zone, rel string, err error) {
	abs := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(fqdn), ".")) + "."
	zs, err := p.ListZones(ctx)
	if err != nil {
		return "", "", apperr.Wrap(kindOf(err), err, "DNS provider %s: list zones", name)
	}
	for _, z := range zs {
		if (abs == z.Name || strings.HasSuffix(abs, "."+z.Name)) && len(z.Name) > len(zone) {
			zone = z.Name
		}
	}
	if zone == "" {
		names := make([]string, 0, len(zs))
		for _, z := range zs {
			names = append(names, z.Name)
		}
		return "", "", apperr.New(apperr.Invalid, "%s is in no zone of DNS provider %s (it has: %s)", abs, name, orNone(names))
	}
	return zone, dnsprovider.Relative(zone, abs), nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// CheckRecord confirms that the provider name can hold the failover record
// fqdn: it lies in one of its zones and no CNAME holds the name.
func (r *Registry) CheckRecord(ctx context.Context, name, fqdn string) error {
	p, err := r.Provider(ctx, name)
	if err != nil {
		return err
	}
	zone, rel, err := zoneOf(ctx, name, p, fqdn)
	if err != nil {
		return err
	}
	recs, err := p.GetRecords(ctx, zone)
	if err != nil {
		return apperr.Wrap(kindOf(err), err, "DNS provider %s: read zone %s", name, zone)
	}
	for _, rec := range recs {
		if rec.Name == rel && rec.Type == "CNAME" {
			return apperr.New(apperr.Conflict, "%s is a CNAME (%s) at DNS provider %s: delete it there first", dnsprovider.Absolute(zone, rel), rec.Value, name)
		}
	}
	return nil
}

// PublishAddress makes fqdn at the provider name resolve to addr alone: the
// A (IPv4) or AAAA (IPv6) RRset set to addr with ttl seconds, the other
// family's RRset at that name removed. It is idempotent: when the provider
// serves exactly that already, nothing is written and the result is
// ResultUnchanged.
func (r *Registry) PublishAddress(ctx context.Context, name, fqdn string, ttl int, addr netip.Addr) (string, error) {
	p, err := r.Provider(ctx, name)
	if err != nil {
		return "", err
	}
	zone, rel, err := zoneOf(ctx, name, p, fqdn)
	if err != nil {
		return "", err
	}
	addr = addr.Unmap()
	typ, other := "A", "AAAA"
	if addr.Is6() {
		typ, other = "AAAA", "A"
	}
	recs, err := p.GetRecords(ctx, zone)
	if err != nil {
		return "", apperr.Wrap(kindOf(err), err, "DNS provider %s: read zone %s", name, zone)
	}
	want := dnsprovider.Record{Name: rel, Type: typ, TTL: time.Duration(ttl) * time.Second, Value: addr.String()}
	var same, stale []dnsprovider.Record
	for _, rec := range recs {
		if rec.Name != rel {
			continue
		}
		switch rec.Type {
		case typ:
			same = append(same, rec)
		case other:
			stale = append(stale, rec)
		}
	}
	if len(stale) == 0 && len(same) == 1 && same[0] == want {
		return ResultUnchanged, nil
	}
	if len(same) != 1 || same[0] != want {
		if _, err := p.SetRecords(ctx, zone, []dnsprovider.Record{want}); err != nil {
			return "", apperr.Wrap(kindOf(err), err, "DNS provider %s: set %s %s in zone %s", name, want.Name, typ, zone)
		}
	}
	if len(stale) > 0 {
		if _, err := p.DeleteRecords(ctx, zone, []dnsprovider.Record{{Name: rel, Type: other}}); err != nil {
			return "", apperr.Wrap(kindOf(err), err, "DNS provider %s: remove %s %s in zone %s", name, rel, other, zone)
		}
	}
	return ResultSet, nil
}

// kindOf is err's kind, Unavailable when it has none.
func kindOf(err error) *apperr.Kind {
	if k := apperr.KindOf(err); k != nil {
		return k
	}
	return apperr.Unavailable
}

// UnpublishAddress removes the A and AAAA RRsets of fqdn at the provider
// name: a pool's failover record once the pool is deleted, its record
// renamed or moved to another provider. Records not there are not an
// error.
func (r *Registry) UnpublishAddress(ctx context.Context, name, fqdn string) error {
	p, err := r.Provider(ctx, name)
	if err != nil {
		return err
	}
	zone, rel, err := zoneOf(ctx, name, p, fqdn)
	if err != nil {
		return err
	}
	if _, err := p.DeleteRecords(ctx, zone, []dnsprovider.Record{{Name: rel, Type: "A"}, {Name: rel, Type: "AAAA"}}); err != nil {
		return apperr.Wrap(kindOf(err), err, "DNS provider %s: remove %s A and AAAA in zone %s", name, rel, zone)
	}
	return nil
}
