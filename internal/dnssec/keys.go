// Package dnssec signs poolctl's zones: ECDSA P-256 keys (algorithm 13), a
// key-signing key (flags 257) and zone-signing keys (256), RRSIGs over a
// zone's RRsets, an NSEC3 chain for authenticated denial (SHA-1, no opt-out,
// no extra iterations and an empty salt, RFC 9276), DS/CDS/CDNSKEY for the
// parent, and the rollover state machines (ZSK pre-publish, KSK double
// signature). internal/dns uses it when it builds a zone's snapshot, so a
// query is answered by lookups, never by a signature. It knows nothing of
// SQL or HTTP: keys come in and go out as [Key] values.
package dnssec

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	mdns "github.com/miekg/dns"
)

// Key roles.
const (
	RoleKSK = "ksk" // signs the DNSKEY, CDS and CDNSKEY RRsets; its DS is at the parent
	RoleZSK = "zsk" // signs every other RRset
)

// Algorithm is the only algorithm poolctl signs with: ECDSA P-256 with
// SHA-256 (RFC 6605).
const Algorithm = mdns.ECDSAP256SHA256

// Key is one DNSSEC key of a zone and what it does now.
type Key struct {
	Role string // RoleKSK or RoleZSK
	// Private is the PKCS#8 DER of the ECDSA P-256 private key.
	Private []byte
	// Publish puts the key in the zone's DNSKEY RRset.
	Publish bool
	// Sign makes it sign: a ZSK the zone's RRsets, a KSK the DNSKEY set.
	Sign bool
	// DS lists a KSK in the CDS/CDNSKEY RRsets: the DS the parent should hold.
	DS bool
}

// Flags returns the DNSKEY flags of the key's role: 257 (SEP) or 256.
func (k Key) Flags() uint16 {
	if k.Role == RoleKSK {
		return 257
	}
	return 256
}

// GenerateKey makes a new key of role whose key tag is none of taken
// (so that a zone's keys are told apart by tag).
func GenerateKey(role string, taken []uint16) (Key, error) {
	if role != RoleKSK && role != RoleZSK {
		return Key{}, fmt.Errorf("key role %q: want %s or %s", role, RoleKSK, RoleZSK)
	}
	for range 64 {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return Key{}, fmt.Errorf("generate %s: %w", role, err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return Key{}, fmt.Errorf("encode %s: %w", role, err)
		}
		k := Key{Role: role, Private: der}
		pk, err := k.parse(".")
		if err != nil {
			return Key{}, err
		}
		if !slices.Contains(taken, pk.dnskey.KeyTag()) {
			return k, nil
		}
	}
	return Key{}, errors.New("generate key: no free key tag after 64 tries")
}

// parsedKey is a Key with its DNSKEY record and signer.
type parsedKey struct {
	Key
	dnskey *mdns.DNSKEY
	signer crypto.Signer
	tag    uint16
}

// parse builds the key's DNSKEY record owned by origin.
func (k Key) parse(origin string) (*parsedKey, error) {
	raw, err := x509.ParsePKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("%s private key: %w", k.Role, err)
	}
	priv, ok := raw.(*ecdsa.PrivateKey)
	if !ok || priv.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s private key: not ECDSA P-256", k.Role)
	}
	pub, err := priv.PublicKey.ECDH()
	if err != nil {
		return nil, fmt.Errorf("%s public key: %w", k.Role, err)
	}
	dk := &mdns.DNSKEY{
		Hdr:       mdns.RR_Header{Name: origin, Rrtype: mdns.TypeDNSKEY, Class: mdns.ClassINET},
		Flags:     k.Flags(),
		Protocol:  3,
		Algorithm: Algorithm,
		PublicKey: base64.StdEncoding.EncodeToString(pub.Bytes()[1:]), // X || Y without the 0x04 prefix
	}
	return &parsedKey{Key: k, dnskey: dk, signer: priv, tag: dk.KeyTag()}, nil
}

// KeyInfo is what an operator sees of a key: never its private part.
type KeyInfo struct {
	Role      string
	Tag       uint16
	Flags     uint16
	Algorithm uint8
	DNSKEY    string // the record, presentation form
	DS        string // KSK only: the DS record (SHA-256 digest) for the registrar
	Publish   bool
	Sign      bool
	InDS      bool
}

// Describe returns the public view of k in zone origin ("example.com.")
// with DNSKEY TTL ttl.
func Describe(origin string, ttl uint32, k Key) (KeyInfo, error) {
	pk, err := k.parse(mdns.CanonicalName(origin))
	if err != nil {
		return KeyInfo{}, err
	}
	pk.dnskey.Hdr.Ttl = ttl
	info := KeyInfo{Role: k.Role, Tag: pk.tag, Flags: pk.dnskey.Flags, Algorithm: Algorithm,
		DNSKEY: pk.dnskey.String(), Publish: k.Publish, Sign: k.Sign, InDS: k.DS}
	if k.Role == RoleKSK {
		info.DS = pk.dnskey.ToDS(mdns.SHA256).String()
	}
	return info, nil
}

// Tag returns the key tag of k (RFC 4034 appendix B).
func Tag(k Key) (uint16, error) {
	pk, err := k.parse(".")
	if err != nil {
		return 0, err
	}
	return pk.tag, nil
}

// CheckKeys reports whether keys can sign a zone: every key parses, tags
// are distinct, at least one published KSK signs and one published ZSK signs.
func CheckKeys(keys []Key) error {
	var tags []uint16
	var ksk, zsk bool
	for _, k := range keys {
		pk, err := k.parse(".")
		if err != nil {
			return err
		}
		if slices.Contains(tags, pk.tag) {
			return fmt.Errorf("two keys have tag %d", pk.tag)
		}
		tags = append(tags, pk.tag)
		if k.Sign && !k.Publish {
			return fmt.Errorf("%s %d signs but is not published", k.Role, pk.tag)
		}
		switch {
		case k.Role == RoleKSK && k.Sign:
			ksk = true
		case k.Role == RoleZSK && k.Sign:
			zsk = true
		}
	}
	var missing []string
	if !ksk {
		missing = append(missing, "a signing KSK")
	}
	if !zsk {
		missing = append(missing, "a signing ZSK")
	}
	if len(missing) > 0 {
		return fmt.Errorf("the zone's keys lack %s", strings.Join(missing, " and "))
	}
	return nil
}

// NewKeys returns the keys of a zone being signed for the first time: one
// KSK (published, signing, in the DS set) and one ZSK (published, signing).
func NewKeys() ([]Key, error) {
	ksk, err := GenerateKey(RoleKSK, nil)
	if err != nil {
		return nil, err
	}
	kt, _ := Tag(ksk)
	zsk, err := GenerateKey(RoleZSK, []uint16{kt})
	if err != nil {
		return nil, err
	}
	ksk.Publish, ksk.Sign, ksk.DS = true, true, true
	zsk.Publish, zsk.Sign = true, true
	return []Key{ksk, zsk}, nil
}

// ParentRecords returns, in presentation form, the CDS and CDNSKEY records
// the zone origin publishes for its parent (RFC 7344): those of the KSKs
// in the DS set.
func ParentRecords(origin string, ttl uint32, keys []Key) (cds, cdnskey []string, err error) {
	origin = mdns.CanonicalName(origin)
	for _, k := range keys {
		if k.Role != RoleKSK || !k.DS || !k.Publish {
			continue
		}
		pk, err := k.parse(origin)
		if err != nil {
			return nil, nil, err
		}
		pk.dnskey.Hdr.Ttl = ttl
		c := pk.dnskey.ToCDNSKEY()
		c.Hdr = mdns.RR_Header{Name: origin, Rrtype: mdns.TypeCDNSKEY, Class: mdns.ClassINET, Ttl: ttl}
		d := pk.dnskey.ToDS(mdns.SHA256).ToCDS()
		d.Hdr = mdns.RR_Header{Name: origin, Rrtype: mdns.TypeCDS, Class: mdns.ClassINET, Ttl: ttl}
		cds, cdnskey = append(cds, d.String()), append(cdnskey, c.String())
	}
	return cds, cdnskey, nil
}
