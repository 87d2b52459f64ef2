// Package dnsprovider is how poolctl publishes records to a DNS provider
// that it does not run itself (PowerDNS, an RFC 2136 primary, Cloudflare,
// WHM): small interfaces shaped like libdns (github.com/libdns/libdns,
// whose modules the module proxy here refuses), one package per provider
// beside this one, and one conformance suite (dnsprovidertest) that every
// provider runs.
//
// Zones are named with or without the trailing dot ("example.com" and
// "example.com." are the same zone). A provider answers a zone it does not
// have with an error of kind apperr.NotFound, input it cannot take with
// apperr.Invalid (nothing of the call is applied then), a refused
// credential with apperr.Unauthorized, and a provider that cannot be
// reached or fails with apperr.Unavailable.
package dnsprovider

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dns"
)

// Record is one DNS resource record.
//
//   - Name is relative to the zone: "www", "_sip._tcp", "@" for the apex.
//     In input an absolute name (with its trailing dot) inside the zone is
//     taken too, and names are case-insensitive; providers always return
//     relative, lower-case names. An empty name is refused (write "@").
//   - Type is the record type's mnemonic (A, AAAA, CAA, CNAME, MX, NS,
//     PTR, SRV, TXT; SOA is read-only: it belongs to the provider).
//   - TTL is a whole number of seconds; 0 in input means DefaultTTL. All
//     records of one RRset (one name and type) share one TTL in DNS (RFC
//     2181 section 5.2): writing records gives their RRset their TTL.
//   - Value is the record data in zone-file presentation form, names
//     inside it absolute or relative to the zone: "192.0.2.1",
//     "10 mail.example.com.", `"v=spf1 -all"` (a TXT value without any
//     double quote is taken as one string). Providers return it
//     canonically (names absolute and lower case, TXT quoted).
type Record struct {
	Name  string
	Type  string
	TTL   time.Duration
	Value string
}

func (r Record) String() string {
	return fmt.Sprintf("%s %d %s %s", r.Name, int64(r.TTL/time.Second), r.Type, r.Value)
}

// DefaultTTL is the TTL of a record written with none.
const DefaultTTL = time.Hour

// Zone is one zone a provider holds.
type Zone struct {
	Name string // absolute, lower case, with its trailing dot
}

// RecordGetter reads a zone.
type RecordGetter interface {
	// GetRecords returns every record of zone the provider serves
	// (disabled records are not served and not returned), SOA and apex NS
	// included, in no particular order.
	GetRecords(ctx context.Context, zone string) ([]Record, error)
}

// RecordAppender adds records.
type RecordAppender interface {
	// AppendRecords adds recs to zone and returns those that were not
	// there already (same name, type and value): appending a record twice
	// changes nothing the second time. Records already there are kept;
	// an RRset appended to takes the TTL of the records appended.
	AppendRecords(ctx context.Context, zone string, recs []Record) ([]Record, error)
}

// RecordSetter replaces RRsets.
type RecordSetter interface {
	// SetRecords makes each RRset named in recs (each name and type)
	// hold exactly the records of recs with that name and type, and
	// returns recs as written. RRsets not named are not touched; setting
	// the same records again changes nothing.
	SetRecords(ctx context.Context, zone string, recs []Record) ([]Record, error)
}

// RecordDeleter removes records.
type RecordDeleter interface {
	// DeleteRecords removes the records of zone that match one of recs
	// and returns those removed. A record matches when its name is the
	// same and, where given, its type, TTL and value are: an empty Type,
	// a zero TTL or an empty Value matches any (so {Name: "www", Type:
	// "A"} removes every A record of www). SOA records are never
	// removed. Records that are not there are not an error: deleting
	// twice removes nothing the second time.
	DeleteRecords(ctx context.Context, zone string, recs []Record) ([]Record, error)
}

// ZoneLister lists zones.
type ZoneLister interface {
	// ListZones returns the zones the provider holds.
	ListZones(ctx context.Context) ([]Zone, error)
}

// Provider is a provider with every capability; the conformance suite
// runs against one.
type Provider interface {
	RecordGetter
	RecordAppender
	RecordSetter
	RecordDeleter
	ZoneLister
}

// ZoneName returns zone absolute and lower case, with its trailing dot.
// Errors are of kind apperr.Invalid.
func ZoneName(zone string) (string, error) {
	return dns.CanonicalZoneName(zone)
}

// Normalize checks r for zone (absolute, canonical) and returns it with
// an absolute owner name, canonical value and a TTL of whole seconds
// (DefaultTTL for 0). SOA records are refused. Errors are of kind
// apperr.Invalid and name the record.
func Normalize(zone string, r Record) (Record, error) {
	origin, err := ZoneName(zone)
	if err != nil {
		return Record{}, err
	}
	if strings.TrimSpace(r.Name) == "" {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s: name is empty (write @ for the zone's apex)", r.Type, r.Value)
	}
	if r.TTL < 0 {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s: TTL %s is negative", r.Name, r.Type, r.TTL)
	}
	if r.TTL%time.Second != 0 {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s: TTL %s is not a whole number of seconds", r.Name, r.Type, r.TTL)
	}
	if strings.EqualFold(strings.TrimSpace(r.Type), "SOA") {
		return Record{}, apperr.New(apperr.Invalid, "record %s SOA: the SOA record belongs to the provider and cannot be written", r.Name)
	}
	ttl := r.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl/time.Second > dns.MaxTTL {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s: TTL %s is longer than %d s", r.Name, r.Type, r.TTL, dns.MaxTTL)
	}
	n, err := dns.NormalizeRecord(origin, dns.Record{Name: r.Name, Type: r.Type, TTL: uint32(ttl / time.Second), Data: r.Value})
	if err != nil {
		return Record{}, err
	}
	return Record{Name: n.Name, Type: n.Type, TTL: time.Duration(n.TTL) * time.Second, Value: n.Data}, nil
}

// Relative returns name (absolute, canonical) relative to zone (absolute):
// "@" for the apex.
func Relative(zone, name string) string {
	name = strings.ToLower(name)
	if name == zone {
		return "@"
	}
	return strings.TrimSuffix(name, "."+zone)
}

// Absolute returns a name relative to zone (absolute, canonical) as an
// absolute one; an absolute name is returned lower case.
func Absolute(zone, name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	switch {
	case name == "@" || name == "":
		return zone
	case strings.HasSuffix(name, "."):
		return name
	}
	return name + "." + zone
}

// Canonical returns a record read from a provider (absolute name, TTL in
// seconds, value as the provider prints it) as a Record: name relative,
// value canonical. SOA records are taken. Errors are of kind
// apperr.Invalid: a record poolctl cannot represent.
func Canonical(zone, name, typ string, ttl uint32, value string) (Record, error) {
	origin, err := ZoneName(zone)
	if err != nil {
		return Record{}, err
	}
	n, err := dns.NormalizeRecord(origin, dns.Record{Name: name, Type: typ, TTL: ttl, Data: value})
	if err != nil {
		return Record{}, err
	}
	return Record{Name: Relative(origin, n.Name), Type: n.Type, TTL: time.Duration(n.TTL) * time.Second, Value: n.Data}, nil
}
