package dns

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	mdns "github.com/miekg/dns"
)

// snapshot is the immutable set of zones the server answers from. A new one
// is built for every change and swapped in atomically; queries only read it.
type snapshot struct {
	// zones maps a canonical zone name to its zone, in shards that are
	// copied on write one at a time (zonemap.go): a change to one zone
	// among 10,000 copies about 40 entries, not the whole map.
	zones zoneMap
}

// zoneData is one zone, indexed for lookups and transfers. Nothing in it is
// modified after buildZone returns: every slice has len == cap so that an
// append by a reader can never write into shared memory.
type zoneData struct {
	name   string
	labels int
	serial uint32
	src    Zone      // the zone as given (for IXFR journals)
	soa    *mdns.SOA // the apex SOA
	negSOA *mdns.SOA // SOA with TTL min(TTL, MINIMUM) for negative answers (RFC 2308)
	apex   *node
	nodes  map[string]*node // lower-case owner -> node; includes empty non-terminals
	// every RR except the SOA in canonical order (the AXFR body), sorted
	// on the first transfer: most zones are never transferred.
	recordsOnce sync.Once
	recordsList []mdns.RR
	sec         *signedData // DNSSEC data of a signed zone; nil when unsigned
}

// node is one owner name.
type node struct {
	name  string
	sets  []rrset // sorted by type
	cut   bool    // a delegation point: NS below the apex
	wild  *node   // the "*" child of this name, when it exists
	cname *rrset
}

// rrset is the records of one type at one name.
type rrset struct {
	typ   uint16
	rrs   []mdns.RR
	extra []mdns.RR // additional-section data: addresses of in-zone NS/MX/SRV targets
	sigs  []mdns.RR // RRSIGs over rrs (signed zones; none for a delegation's NS)
	// extraDO is extra with the RRSIGs of its authoritative data (signed zones).
	extraDO []mdns.RR
}

func (n *node) get(t uint16) *rrset {
	for i := range n.sets {
		if n.sets[i].typ == t {
			return &n.sets[i]
		}
	}
	return nil
}

// buildZone validates and indexes z. It refuses zones without an apex SOA or
// with records that do not parse; the finer checks are [CheckZone]'s job.
func buildZone(z Zone) (*zoneData, error) {
	origin, err := CanonicalZoneName(z.Name)
	if err != nil {
		return nil, err
	}
	zd := &zoneData{
		name:   origin,
		labels: mdns.CountLabel(origin),
		src:    z,
		nodes:  make(map[string]*node, len(z.Records)+1),
	}
	type key struct {
		name string
		typ  uint16
	}
	sets := make(map[key][]mdns.RR)
	var order []key
	for _, r := range z.Records {
		rr, err := recordToRR(r)
		if err != nil {
			return nil, fmt.Errorf("zone %s: record %q: %w", origin, describe(r), err)
		}
		h := rr.Header()
		h.Name = strings.ToLower(h.Name)
		lowerRdataNames(rr)
		if !mdns.IsSubDomain(origin, h.Name) {
			return nil, fmt.Errorf("zone %s: record %q is outside the zone", origin, describe(r))
		}
		if soa, ok := rr.(*mdns.SOA); ok {
			if h.Name != origin || zd.soa != nil {
				return nil, fmt.Errorf("zone %s: record %q: one SOA at the apex is required", origin, describe(r))
			}
			if z.Serial != 0 {
				soa.Serial = z.Serial
			}
			zd.soa = soa
			continue
		}
		k := key{h.Name, h.Rrtype}
		if dup := slices.ContainsFunc(sets[k], func(o mdns.RR) bool { return mdns.IsDuplicate(o, rr) }); dup {
			continue
		}
		if _, ok := sets[k]; !ok {
			order = append(order, k)
		}
		sets[k] = append(sets[k], rr)
	}
	if zd.soa == nil {
		return nil, fmt.Errorf("zone %s: no SOA at the apex", origin)
	}
	zd.serial = zd.soa.Serial
	neg := *zd.soa
	neg.Hdr.Ttl = min(zd.soa.Hdr.Ttl, zd.soa.Minttl)
	zd.negSOA = &neg

	zd.apex = zd.ensureNode(origin)
	zd.apex.sets = append(zd.apex.sets, rrset{typ: mdns.TypeSOA, rrs: []mdns.RR{zd.soa}})
	for _, k := range order {
		rrs := sets[k]
		// RFC 2181 section 5.2: one TTL per RRset; serve the lowest.
		ttl := rrs[0].Header().Ttl
		for _, rr := range rrs {
			ttl = min(ttl, rr.Header().Ttl)
		}
		for _, rr := range rrs {
			rr.Header().Ttl = ttl
		}
		n := zd.ensureNode(k.name)
		n.sets = append(n.sets, rrset{typ: k.typ, rrs: slices.Clip(rrs)})
	}
	for _, n := range zd.nodes {
		slices.SortFunc(n.sets, func(a, b rrset) int { return cmp.Compare(a.typ, b.typ) })
		n.sets = slices.Clip(n.sets)
		n.cname = n.get(mdns.TypeCNAME)
		n.cut = n != zd.apex && n.get(mdns.TypeNS) != nil
	}
	for name, n := range zd.nodes {
		if strings.HasPrefix(name, "*.") {
			if p := zd.nodes[name[2:]]; p != nil {
				p.wild = n
			}
		}
	}
	for _, n := range zd.nodes {
		for i := range n.sets {
			n.sets[i].extra = zd.additional(n, &n.sets[i])
		}
	}
	return zd, nil
}

// ensureNode returns the node for name, creating it and the empty
// non-terminals between it and the apex.
func (zd *zoneData) ensureNode(name string) *node {
	if n := zd.nodes[name]; n != nil {
		return n
	}
	n := &node{name: name}
	zd.nodes[name] = n
	for cur := name; cur != zd.name; {
		i, end := mdns.NextLabel(cur, 0)
		if end {
			break
		}
		cur = cur[i:]
		if _, ok := zd.nodes[cur]; ok {
			break
		}
		zd.nodes[cur] = &node{name: cur}
	}
	return n
}

// occluded reports whether name lies at or below a delegation point (but is
// not the apex), so that data there is glue, not authoritative.
func (zd *zoneData) occluded(name string) bool {
	for cur := name; cur != zd.name && len(cur) > len(zd.name); {
		if n := zd.nodes[cur]; n != nil && n.cut {
			return true
		}
		i, end := mdns.NextLabel(cur, 0)
		if end {
			break
		}
		cur = cur[i:]
	}
	return false
}

// additional computes the additional-section records for set at n: the
// A/AAAA of in-zone NS, MX and SRV targets (RFC 1035 section 3.3, RFC 2782).
// For a delegation that includes glue below the cut; otherwise only
// authoritative data.
func (zd *zoneData) additional(n *node, set *rrset) []mdns.RR {
	var targets []string
	for _, rr := range set.rrs {
		switch v := rr.(type) {
		case *mdns.NS:
			targets = append(targets, v.Ns)
		case *mdns.MX:
			targets = append(targets, v.Mx)
		case *mdns.SRV:
			targets = append(targets, v.Target)
		}
	}
	var extra []mdns.RR
	for _, t := range targets {
		t = strings.ToLower(t)
		if slices.ContainsFunc(extra, func(rr mdns.RR) bool { return rr.Header().Name == t }) {
			continue
		}
		tn := zd.nodes[t]
		if tn == nil || !mdns.IsSubDomain(zd.name, t) {
			continue
		}
		glue := set.typ == mdns.TypeNS && n.cut
		if !glue && zd.occluded(t) {
			continue
		}
		for _, typ := range []uint16{mdns.TypeA, mdns.TypeAAAA} {
			if s := tn.get(typ); s != nil {
				extra = append(extra, s.rrs...)
			}
		}
	}
	return slices.Clip(extra)
}

// records lists every RR but the SOA: apex first, then canonical order.
func (zd *zoneData) records() []mdns.RR {
	zd.recordsOnce.Do(func() { zd.recordsList = zd.sortedRecords() })
	return zd.recordsList
}

// sortedRecords lists every RR but the SOA: apex first, then canonical order.
func (zd *zoneData) sortedRecords() []mdns.RR {
	names := make([]string, 0, len(zd.nodes))
	for name := range zd.nodes {
		names = append(names, name)
	}
	slices.SortFunc(names, compareNames)
	var out []mdns.RR
	for _, name := range names {
		for _, s := range zd.nodes[name].sets {
			if s.typ != mdns.TypeSOA {
				out = append(out, s.rrs...)
			}
			out = append(out, s.sigs...)
		}
	}
	if zd.sec != nil {
		for i, rr := range zd.sec.nsec3 {
			out = append(out, rr)
			out = append(out, zd.sec.nsec3Sigs[i]...)
		}
	}
	return slices.Clip(out)
}

// withZone returns a copy of sn with zd added or replaced.
func (sn *snapshot) withZone(zd *zoneData) *snapshot {
	return &snapshot{zones: sn.zones.with(zd)}
}

// withZones returns a copy of sn with every zd added or replaced.
func (sn *snapshot) withZones(zds []*zoneData) *snapshot {
	return &snapshot{zones: sn.zones.with(zds...)}
}

// withoutZone returns a copy of sn without the zone name.
func (sn *snapshot) withoutZone(name string) *snapshot {
	return &snapshot{zones: sn.zones.without(name)}
}
