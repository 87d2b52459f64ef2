package dnssec

import (
	"fmt"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// Signer signs the RRsets of one zone with the zone's keys. It is
// immutable and safe for concurrent use.
type Signer struct {
	origin string
	keys   []*parsedKey
	id     string
}

// NewSigner checks keys ([CheckKeys]) and returns a signer for origin
// ("example.com.").
func NewSigner(origin string, keys []Key) (*Signer, error) {
	if err := CheckKeys(keys); err != nil {
		return nil, fmt.Errorf("zone %s: %w", origin, err)
	}
	origin = mdns.CanonicalName(origin)
	s := &Signer{origin: origin}
	var id strings.Builder
	for _, k := range keys {
		pk, err := k.parse(origin)
		if err != nil {
			return nil, fmt.Errorf("zone %s: %w", origin, err)
		}
		s.keys = append(s.keys, pk)
		fmt.Fprintf(&id, "%s/%d/%t/%t/%t;", k.Role, pk.tag, k.Publish, k.Sign, k.DS)
	}
	s.id = id.String()
	return s, nil
}

// ID identifies the keys and their states: two signers with the same ID
// make interchangeable signatures (a cache of signatures keys on it).
func (s *Signer) ID() string { return s.id }

// ApexSets returns the RRsets DNSSEC adds at the apex, each with TTL ttl:
// DNSKEY (the published keys), CDS and CDNSKEY (the KSKs the parent should
// list, RFC 7344) and NSEC3PARAM (TTL 0, as BIND and Knot publish it).
func (s *Signer) ApexSets(ttl uint32) [][]mdns.RR {
	var dnskey, cds, cdnskey []mdns.RR
	for _, k := range s.keys {
		if !k.Publish {
			continue
		}
		dk := *k.dnskey
		dk.Hdr.Ttl = ttl
		dnskey = append(dnskey, &dk)
		if k.Role == RoleKSK && k.DS {
			c := dk.ToCDNSKEY()
			c.Hdr = mdns.RR_Header{Name: s.origin, Rrtype: mdns.TypeCDNSKEY, Class: mdns.ClassINET, Ttl: ttl}
			cdnskey = append(cdnskey, c)
			d := dk.ToDS(mdns.SHA256).ToCDS()
			d.Hdr = mdns.RR_Header{Name: s.origin, Rrtype: mdns.TypeCDS, Class: mdns.ClassINET, Ttl: ttl}
			cds = append(cds, d)
		}
	}
	out := [][]mdns.RR{dnskey}
	if len(cds) > 0 {
		out = append(out, cds, cdnskey)
	}
	return append(out, []mdns.RR{Param(s.origin)})
}

// bySEP reports whether RRsets of type t are signed by the KSKs.
func bySEP(t uint16) bool {
	return t == mdns.TypeDNSKEY || t == mdns.TypeCDS || t == mdns.TypeCDNSKEY
}

// Sign returns the RRSIGs over rrset (one owner, type and class, one TTL):
// by every signing KSK for DNSKEY, CDS and CDNSKEY, by every signing ZSK
// otherwise. The signatures are valid from inception to expiration.
func (s *Signer) Sign(rrset []mdns.RR, inception, expiration time.Time) ([]mdns.RR, error) {
	if len(rrset) == 0 {
		return nil, nil
	}
	h := rrset[0].Header()
	ksk := bySEP(h.Rrtype)
	var out []mdns.RR
	for _, k := range s.keys {
		if !k.Sign || (k.Role == RoleKSK) != ksk {
			continue
		}
		sig := &mdns.RRSIG{
			Hdr:        mdns.RR_Header{Ttl: h.Ttl},
			Algorithm:  Algorithm,
			OrigTtl:    h.Ttl,
			Expiration: uint32(expiration.Unix()),
			Inception:  uint32(inception.Unix()),
			KeyTag:     k.tag,
			SignerName: s.origin,
		}
		if err := sig.Sign(k.signer, rrset); err != nil {
			return nil, fmt.Errorf("sign %s %s with %s %d: %w", h.Name, mdns.TypeToString[h.Rrtype], k.Role, k.tag, err)
		}
		out = append(out, sig)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("sign %s %s: no signing %s", h.Name, mdns.TypeToString[h.Rrtype], map[bool]string{true: "KSK", false: "ZSK"}[ksk])
	}
	return out, nil
}

// Validity is a signature's lifetime around the time of signing: from
// Backdate before it (clocks of validators run behind) to Lifetime after;
// signatures are made again once less than Refresh of it is left.
type Validity struct {
	Backdate, Lifetime, Refresh time.Duration
}

// DefaultValidity is one hour back, 14 days ahead, re-signed 7 days
// before expiry.
var DefaultValidity = Validity{Backdate: time.Hour, Lifetime: 14 * 24 * time.Hour, Refresh: 7 * 24 * time.Hour}

// Window returns the inception and expiration of signatures made at now,
// and when they must be made again.
func (v Validity) Window(now time.Time) (inception, expiration, refresh time.Time) {
	inception = now.Add(-v.Backdate).Truncate(time.Second)
	expiration = now.Add(v.Lifetime).Truncate(time.Second)
	return inception, expiration, expiration.Add(-v.Refresh)
}

// Fresh reports whether sig (an RRSIG) is still good at now: begun and not
// within Refresh of its expiration.
func (v Validity) Fresh(sig mdns.RR, now time.Time) bool {
	r, ok := sig.(*mdns.RRSIG)
	if !ok {
		return false
	}
	inc, exp := int64(r.Inception), int64(r.Expiration)
	return inc <= now.Unix() && now.Add(v.Refresh).Unix() < exp
}
