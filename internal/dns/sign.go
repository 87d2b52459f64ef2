package dns

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/poolctl/poolctl/internal/dnssec"
)

// Signing asks for a zone to be served signed with DNSSEC keys: RRSIGs
// over every authoritative RRset, DNSKEY, CDS, CDNSKEY and NSEC3PARAM at
// the apex, and an NSEC3 chain (internal/dnssec). Signatures are made when
// the zone is loaded, kept in the snapshot (queries only look them up),
// reused from the previous version of the zone while they are fresh, and
// made again by [Server.RefreshSignatures] before they expire.
type Signing struct {
	Keys []dnssec.Key
}

// signedData is the DNSSEC part of a signed zone's snapshot.
type signedData struct {
	signer    *dnssec.Signer
	chain     *dnssec.Chain
	nsec3     []mdns.RR   // the chain's records, index as in chain
	nsec3Sigs [][]mdns.RR // their RRSIGs
	negSigs   []mdns.RR   // RRSIGs of negSOA (TTL lowered as negSOA's)
	refreshAt time.Time   // the earliest time a signature must be made again
}

// sigCache finds the signatures of an unchanged RRset in the previous
// version of a zone, while they are fresh and made by the same keys.
type sigCache struct {
	prev *zoneData
	now  time.Time
	v    dnssec.Validity
}

func (c sigCache) lookup(name string, set *rrset) []mdns.RR {
	if c.prev == nil {
		return nil
	}
	n := c.prev.nodes[name]
	if n == nil {
		return nil
	}
	old := n.get(set.typ)
	if old == nil || len(old.sigs) == 0 || !sameRRs(old.rrs, set.rrs) || !c.v.Fresh(old.sigs[0], c.now) {
		return nil
	}
	return old.sigs
}

func sameRRs(a, b []mdns.RR) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].String() != b[i].String() {
			return false
		}
	}
	return true
}

// sign signs zd (built by buildZone) with keys at now. prev, the version
// of the zone served until now, lends its fresh signatures.
func (zd *zoneData) sign(keys []dnssec.Key, prev *zoneData, now time.Time, v dnssec.Validity) error {
	signer, err := dnssec.NewSigner(zd.name, keys)
	if err != nil {
		return err
	}
	cache := sigCache{now: now, v: v}
	if prev != nil && prev.sec != nil && prev.sec.signer.ID() == signer.ID() {
		cache.prev = prev
	}
	inception, expiration, _ := v.Window(now)
	sd := &signedData{signer: signer}
	minExp := expiration
	signSet := func(name string, set *rrset) error {
		if sigs := cache.lookup(name, set); sigs != nil {
			set.sigs = sigs
		} else if set.sigs, err = signer.Sign(set.rrs, inception, expiration); err != nil {
			return err
		}
		if e := time.Unix(int64(set.sigs[0].(*mdns.RRSIG).Expiration), 0); e.Before(minExp) {
			minExp = e
		}
		return nil
	}

	for _, rrs := range signer.ApexSets(zd.soa.Hdr.Ttl) {
		zd.apex.sets = append(zd.apex.sets, rrset{typ: rrs[0].Header().Rrtype, rrs: slices.Clip(rrs)})
	}
	slices.SortFunc(zd.apex.sets, func(a, b rrset) int { return cmp.Compare(a.typ, b.typ) })
	zd.apex.sets = slices.Clip(zd.apex.sets)
	zd.apex.cname = zd.apex.get(mdns.TypeCNAME)

	var names []dnssec.NameTypes
	for name, n := range zd.nodes {
		if !n.cut && zd.occluded(name) {
			continue // glue and names below a delegation are not the zone's data
		}
		nt := dnssec.NameTypes{Name: name}
		for i := range n.sets {
			set := &n.sets[i]
			nt.Types = append(nt.Types, set.typ)
			if n.cut && set.typ != mdns.TypeDS {
				continue // a delegation's NS set is the child's: unsigned
			}
			if err := signSet(name, set); err != nil {
				return err
			}
		}
		if len(nt.Types) > 0 && (!n.cut || n.get(mdns.TypeDS) != nil) {
			nt.Types = append(nt.Types, mdns.TypeRRSIG)
		}
		names = append(names, nt)
	}
	sd.chain = dnssec.BuildChain(zd.name, names, zd.negSOA.Hdr.Ttl)
	var prevSec *signedData
	if cache.prev != nil {
		prevSec = cache.prev.sec
	}
	for _, rec := range sd.chain.Records() {
		set := &rrset{typ: mdns.TypeNSEC3, rrs: []mdns.RR{rec}}
		if prevSec != nil {
			set.sigs = prevNSEC3Sigs(prevSec, rec, cache)
		}
		if set.sigs == nil {
			if set.sigs, err = signer.Sign(set.rrs, inception, expiration); err != nil {
				return err
			}
		}
		if e := time.Unix(int64(set.sigs[0].(*mdns.RRSIG).Expiration), 0); e.Before(minExp) {
			minExp = e
		}
		sd.nsec3 = append(sd.nsec3, rec)
		sd.nsec3Sigs = append(sd.nsec3Sigs, set.sigs)
	}
	for _, sig := range zd.apex.get(mdns.TypeSOA).sigs {
		c := *sig.(*mdns.RRSIG)
		c.Hdr.Ttl = zd.negSOA.Hdr.Ttl
		sd.negSigs = append(sd.negSigs, &c)
	}
	sd.refreshAt = minExp.Add(-v.Refresh)
	for _, n := range zd.nodes {
		for i := range n.sets {
			n.sets[i].extraDO = zd.withSigs(n.sets[i].extra)
		}
	}
	zd.sec = sd
	return nil
}

// prevNSEC3Sigs returns the fresh signatures of an identical NSEC3 record
// in the previous chain.
func prevNSEC3Sigs(prev *signedData, rec *mdns.NSEC3, c sigCache) []mdns.RR {
	label, _, _ := strings.Cut(rec.Hdr.Name, ".")
	j := prev.chain.MatchHash(strings.ToUpper(label))
	if j < 0 || prev.nsec3[j].String() != rec.String() || !c.v.Fresh(prev.nsec3Sigs[j][0], c.now) {
		return nil
	}
	return prev.nsec3Sigs[j]
}

// withSigs returns extra followed by the RRSIGs of the authoritative
// RRsets it holds (glue has none).
func (zd *zoneData) withSigs(extra []mdns.RR) []mdns.RR {
	if len(extra) == 0 {
		return extra
	}
	out := slices.Clone(extra)
	type key struct {
		name string
		typ  uint16
	}
	seen := map[key]bool{}
	for _, rr := range extra {
		h := rr.Header()
		k := key{h.Name, h.Rrtype}
		if seen[k] {
			continue
		}
		seen[k] = true
		if n := zd.nodes[h.Name]; n != nil {
			if s := n.get(h.Rrtype); s != nil {
				out = append(out, s.sigs...)
			}
		}
	}
	return slices.Clip(out)
}

// Proofs of non-existence (RFC 5155 section 7.2). name is the lower-case
// query name, idx and n its labels as labelIndex made them.

// nextCloser returns the name one label longer than the closest encloser
// ce, cut from name.
func nextCloser(name []byte, idx *[maxLabels]int, n int, ce string) string {
	i := n - mdns.CountLabel(ce) - 1
	if i < 0 {
		i = 0
	}
	return string(name[idx[i]:])
}

// proof collects NSEC3 records for one answer without duplicates.
type proof struct {
	sd   *signedData
	rp   *reply
	seen [3]int
	k    int
}

func (p *proof) add(i int) {
	if i < 0 || slices.Contains(p.seen[:p.k], i) {
		return
	}
	if p.k < len(p.seen) {
		p.seen[p.k] = i
		p.k++
	}
	p.rp.ns = append(p.rp.ns, p.sd.nsec3[i])
	p.rp.ns = append(p.rp.ns, p.sd.nsec3Sigs[i]...)
}

// denyName proves that name does not exist: the closest encloser ce
// exists, the next closer name does not, nor the wildcard at ce.
func (zd *zoneData) denyName(rp *reply, name []byte, n int, ce string) {
	p := proof{sd: zd.sec, rp: rp}
	p.add(zd.sec.chain.Match(ce))
	p.add(zd.sec.chain.Cover(nextCloser(name, &rp.idx, n, ce)))
	p.add(zd.sec.chain.Cover("*." + ce))
}

// denyType proves that an existing name has no data of the type asked.
func (zd *zoneData) denyType(rp *reply, owner string) {
	p := proof{sd: zd.sec, rp: rp}
	p.add(zd.sec.chain.Match(owner))
}

// proveWildcard proves, for an answer synthesised from the wildcard at ce,
// that the name asked for does not exist itself; nodata adds the proof
// that the wildcard has no data of the type asked.
func (zd *zoneData) proveWildcard(rp *reply, name []byte, n int, ce string, nodata bool) {
	p := proof{sd: zd.sec, rp: rp}
	if nodata {
		p.add(zd.sec.chain.Match(ce))
	}
	p.add(zd.sec.chain.Cover(nextCloser(name, &rp.idx, n, ce)))
	if nodata {
		p.add(zd.sec.chain.Match("*." + ce))
	}
}

// addSigs appends the RRSIGs of set to the answer; those of wildcard data
// are copied with the owner replaced by the name asked for.
func (rp *reply) addSigs(set *rrset, wild bool, owner string) {
	if !wild {
		rp.answer = append(rp.answer, set.sigs...)
		return
	}
	for _, rr := range set.sigs {
		c := *rr.(*mdns.RRSIG)
		c.Hdr.Name = owner
		rp.answer = append(rp.answer, &c)
	}
}

// RefreshSignatures signs again, at the configured clock's now, the
// served zones with signatures within their refresh period of expiry.
// The server calls it every [Config.ResignEvery]; it returns the zones
// signed again.
func (s *Server) RefreshSignatures() ([]string, error) {
	now := s.now()
	var due []*zoneData
	s.snap.Load().zones.each(func(_ string, zd *zoneData) {
		if zd.sec != nil && !now.Before(zd.sec.refreshAt) {
			due = append(due, zd)
		}
	})
	var done []string
	var errs []error
	for _, old := range due {
		if err := s.loadZone(old.src, old); err != nil {
			errs = append(errs, fmt.Errorf("re-sign %s: %w", old.name, err))
			continue
		}
		done = append(done, old.name)
	}
	slices.Sort(done)
	if len(errs) > 0 {
		return done, errs[0]
	}
	return done, nil
}
