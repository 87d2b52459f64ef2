package dns

import (
	"strings"

	mdns "github.com/miekg/dns"
)

// maxChain bounds how many CNAMEs one answer follows.
const maxChain = 12

// maxLabels is the most labels a 255-octet name can have.
const maxLabels = 128

// matchKind is how a name was found in a zone.
type matchKind int

const (
	matchExact    matchKind = iota // the name exists (possibly as an empty non-terminal)
	matchWildcard                  // synthesised from a wildcard (RFC 4592)
	matchNX                        // no such name
	matchReferral                  // at or below a delegation point
)

// labelIndex fills idx with the start offset of each label of name (an
// absolute name in presentation form, escapes allowed) and returns how many
// there are; the root has none.
func labelIndex(name []byte, idx *[maxLabels]int) int {
	if len(name) == 0 || (len(name) == 1 && name[0] == '.') {
		return 0
	}
	n := 0
	idx[n] = 0
	n++
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++ // the escaped character (or the first digit of \DDD) is not a dot
		case '.':
			if i+1 < len(name) && n < maxLabels {
				idx[n] = i + 1
				n++
			}
		}
	}
	return n
}

// lowerName writes the lower-case form of name into buf (ASCII only, as
// DNS case-insensitivity is) and returns it; map lookups with
// string(b[i:]) do not allocate.
func lowerName(buf []byte, name string) []byte {
	b := buf[:0]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// findZone returns the served zone closest to name (idx from labelIndex, n
// labels) and the label index of its apex within name. A DS query for a
// zone's apex belongs to the parent zone when that is served as well.
func (sn *snapshot) findZone(name []byte, qtype uint16, idx *[maxLabels]int, n int) (*zoneData, int) {
	var found *zoneData
	at := -1
	for i := 0; i < n; i++ {
		zd := sn.zones.getBytes(name[idx[i]:])
		if zd == nil {
			continue
		}
		if i == 0 && qtype == mdns.TypeDS && found == nil {
			found, at = zd, i
			continue // prefer a parent zone
		}
		return zd, i
	}
	return found, at
}

// find walks from the apex of zd down to name (apex at label index apex,
// idx from labelIndex) following RFC 1034 section 4.3.2 step 3.
func (zd *zoneData) find(name []byte, qtype uint16, idx *[maxLabels]int, apex int) (*node, matchKind) {
	prev := zd.apex
	for j := apex - 1; j >= 0; j-- {
		n := zd.nodes[string(name[idx[j]:])]
		if n == nil {
			if prev.wild != nil {
				return prev.wild, matchWildcard
			}
			return prev, matchNX // the closest encloser
		}
		if n.cut && (j != 0 || qtype != mdns.TypeDS) {
			return n, matchReferral
		}
		prev = n
	}
	return prev, matchExact
}

// anySet picks the one RRset a minimal ANY answer carries (RFC 8482
// section 4.2): the CNAME when there is one, the SOA at the apex (as NSD
// does), else the RRset of the lowest type.
func (n *node) anySet() *rrset {
	if n.cname != nil {
		return n.cname
	}
	if soa := n.get(mdns.TypeSOA); soa != nil {
		return soa
	}
	if len(n.sets) == 0 {
		return nil
	}
	return &n.sets[0]
}

// resolve answers one question from sn into rp's sections and returns the
// RCODE, whether the answer is authoritative, and whether it is a referral.
// With rp.do set, answers from signed zones carry their RRSIGs and the
// NSEC3 records that prove a denial or a wildcard expansion.
func (sn *snapshot) resolve(q *mdns.Question, rp *reply) (rcode int, aa, referral bool) {
	qtype := q.Qtype
	owner := q.Name
	name := lowerName(rp.name[:], owner)
	n := labelIndex(name, &rp.idx)
	zd, apex := sn.findZone(name, qtype, &rp.idx, n)
	if zd == nil {
		return mdns.RcodeRefused, false, false
	}
	for hop := 0; ; hop++ {
		nd, kind := zd.find(name, qtype, &rp.idx, apex)
		sec := rp.do && zd.sec != nil
		switch kind {
		case matchNX:
			rp.ns = append(rp.ns, zd.negSOA)
			if sec {
				rp.ns = append(rp.ns, zd.sec.negSigs...)
				zd.denyName(rp, name, n, nd.name)
			}
			return mdns.RcodeNameError, true, false
		case matchReferral:
			ns := nd.get(mdns.TypeNS)
			rp.ns = append(rp.ns, ns.rrs...)
			if sec {
				if ds := nd.get(mdns.TypeDS); ds != nil {
					rp.ns = append(rp.ns, ds.rrs...)
					rp.ns = append(rp.ns, ds.sigs...)
				} else {
					zd.denyType(rp, nd.name) // an unsigned delegation: no DS
				}
			}
			rp.extra = append(rp.extra, ns.extra...)
			// After a CNAME from authoritative data the answer stays authoritative.
			return mdns.RcodeSuccess, len(rp.answer) > 0, len(rp.answer) == 0
		}
		wild := kind == matchWildcard
		var set *rrset
		if qtype == mdns.TypeANY {
			set = nd.anySet()
		} else {
			set = nd.get(qtype)
		}
		if set != nil {
			rp.addAnswer(set, wild, owner)
			if !sec {
				rp.extra = append(rp.extra, set.extra...)
				return mdns.RcodeSuccess, true, false
			}
			rp.addSigs(set, wild, owner)
			if wild {
				zd.proveWildcard(rp, name, n, nd.name[2:], false)
			}
			rp.extra = append(rp.extra, set.extraDO...)
			return mdns.RcodeSuccess, true, false
		}
		if nd.cname == nil || qtype == mdns.TypeCNAME {
			rp.ns = append(rp.ns, zd.negSOA) // NODATA (RFC 2308 section 2.2)
			if sec {
				rp.ns = append(rp.ns, zd.sec.negSigs...)
				if wild {
					zd.proveWildcard(rp, name, n, nd.name[2:], true)
				} else {
					zd.denyType(rp, nd.name)
				}
			}
			return mdns.RcodeSuccess, true, false
		}
		rp.addAnswer(nd.cname, wild, owner)
		if sec {
			rp.addSigs(nd.cname, wild, owner)
			if wild {
				zd.proveWildcard(rp, name, n, nd.name[2:], false)
			}
		}
		target := nd.cname.rrs[0].(*mdns.CNAME).Target // lower case already
		if hop+1 >= maxChain || rp.inAnswer(target) {
			return mdns.RcodeSuccess, true, false // a loop or too long: stop here
		}
		name = append(rp.name[:0], target...)
		n = labelIndex(name, &rp.idx)
		next, at := sn.findZone(name, qtype, &rp.idx, n)
		if next == nil {
			return mdns.RcodeSuccess, true, false // the target is not ours
		}
		zd, apex, owner = next, at, target
	}
}

// addAnswer appends set to the answer section; wildcard data is copied with
// the owner replaced by the name asked for.
func (rp *reply) addAnswer(set *rrset, wild bool, owner string) {
	if !wild {
		rp.answer = append(rp.answer, set.rrs...)
		return
	}
	for _, rr := range set.rrs {
		c := mdns.Copy(rr)
		c.Header().Name = owner
		rp.answer = append(rp.answer, c)
	}
}

// inAnswer reports whether the answer already has data owned by name.
func (rp *reply) inAnswer(name string) bool {
	for _, rr := range rp.answer {
		if strings.EqualFold(rr.Header().Name, name) {
			return true
		}
	}
	return false
}
