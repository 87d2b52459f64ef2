package dnssec

import (
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
)

// NSEC3 parameters (RFC 9276): SHA-1, no opt-out, no extra iteration and
// an empty salt.
const (
	nsec3Hash       = mdns.SHA1
	nsec3Iterations = 0
	nsec3Salt       = ""
)

// Param returns the zone's NSEC3PARAM record (TTL 0).
func Param(origin string) *mdns.NSEC3PARAM {
	return &mdns.NSEC3PARAM{
		Hdr:  mdns.RR_Header{Name: mdns.CanonicalName(origin), Rrtype: mdns.TypeNSEC3PARAM, Class: mdns.ClassINET},
		Hash: nsec3Hash, Iterations: nsec3Iterations, Salt: nsec3Salt,
	}
}

// Hash returns the NSEC3 hash of name (upper-case base32hex, no padding).
func Hash(name string) string {
	return mdns.HashName(name, nsec3Hash, nsec3Iterations, nsec3Salt)
}

// NameTypes is one name of a zone with the types present there (RRSIG
// included when the name has signed data; none for an empty non-terminal).
type NameTypes struct {
	Name  string
	Types []uint16
}

// Chain is a zone's NSEC3 chain, sorted by hash; immutable once built.
type Chain struct {
	hashes []string
	recs   []*mdns.NSEC3
}

// BuildChain returns the chain over names (every authoritative name of the
// zone origin, empty non-terminals and delegation points included, nothing
// below a delegation) with records of TTL ttl.
func BuildChain(origin string, names []NameTypes, ttl uint32) *Chain {
	origin = mdns.CanonicalName(origin)
	type entry struct {
		hash  string
		types []uint16
	}
	es := make([]entry, 0, len(names))
	for _, n := range names {
		types := slices.Clone(n.Types)
		slices.Sort(types)
		es = append(es, entry{Hash(n.Name), slices.Compact(types)})
	}
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.hash, b.hash) })
	es = slices.CompactFunc(es, func(a, b entry) bool { return a.hash == b.hash })
	c := &Chain{hashes: make([]string, len(es)), recs: make([]*mdns.NSEC3, len(es))}
	for i, e := range es {
		next := es[(i+1)%len(es)].hash
		c.hashes[i] = e.hash
		c.recs[i] = &mdns.NSEC3{
			Hdr:        mdns.RR_Header{Name: strings.ToLower(e.hash) + "." + origin, Rrtype: mdns.TypeNSEC3, Class: mdns.ClassINET, Ttl: ttl},
			Hash:       nsec3Hash,
			Iterations: nsec3Iterations,
			Salt:       nsec3Salt,
			HashLength: 20,
			NextDomain: next,
			TypeBitMap: e.types,
		}
	}
	return c
}

// Records returns the chain's NSEC3 records in hash order.
func (c *Chain) Records() []*mdns.NSEC3 { return c.recs }

// Match returns the index of the NSEC3 record whose owner is the hash of
// name, or -1.
func (c *Chain) Match(name string) int { return c.MatchHash(Hash(name)) }

// MatchHash is Match for a hash already computed.
func (c *Chain) MatchHash(h string) int {
	i, ok := slices.BinarySearch(c.hashes, h)
	if !ok {
		return -1
	}
	return i
}

// Cover returns the index of the NSEC3 record whose interval covers the
// hash of name (the last hash before it, wrapping around), or -1 when the
// chain is empty or the hash itself is in the chain.
func (c *Chain) Cover(name string) int { return c.CoverHash(Hash(name)) }

// CoverHash is Cover for a hash already computed.
func (c *Chain) CoverHash(h string) int {
	if len(c.hashes) == 0 {
		return -1
	}
	i, ok := slices.BinarySearch(c.hashes, h)
	if ok {
		return -1
	}
	if i == 0 {
		return len(c.hashes) - 1
	}
	return i - 1
}
