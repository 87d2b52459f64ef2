package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
)

var _ dnsprovider.Provider = (*Client)(nil)

// The dnsprovider contract over the API. Each call reads the zone's
// records and sends what changes as batches of at most BatchLimit
// records: a call that fits in one batch is applied all or nothing (one
// transaction at Cloudflare); a larger one is sent in several, each whole
// RRset in one batch. Cloudflare does not list its SOA and apex NS
// records in dns_records: GetRecords returns them built from the zone's
// name servers (SOA serial 0: Cloudflare keeps it) and never writes them.
// An automatic TTL (1) reads as AutoTTL.

// AutoTTL is what Cloudflare's automatic TTL (ttl 1) means.
const AutoTTL = 300 * time.Second

// SOA timers Cloudflare documents for its zones.
const soaTimers = "10000 2400 604800 1800"

func canonical(zone string) (string, error) { return dnsprovider.ZoneName(zone) }

// ListZones returns the zones the token may see.
func (c *Client) ListZones(ctx context.Context) ([]dnsprovider.Zone, error) {
	zs, err := c.Zones(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]dnsprovider.Zone, 0, len(zs))
	for _, z := range zs {
		out = append(out, dnsprovider.Zone{Name: strings.ToLower(strings.TrimSuffix(z.Name, ".")) + "."})
	}
	return out, nil
}

// held is one record of the zone as Cloudflare holds it.
type held struct {
	rec dnsprovider.Record // relative name, canonical value
	cf  DNSRecord
}

// read returns the zone and its records.
func (c *Client) read(ctx context.Context, origin string) (Zone, []held, error) {
	z, err := c.Zone(ctx, origin)
	if err != nil {
		return Zone{}, nil, err
	}
	rs, err := c.Records(ctx, z.ID)
	if errors.Is(err, apperr.NotFound) {
		c.forget(origin)
		return Zone{}, nil, fmt.Errorf("zone %s: %w", origin, err)
	}
	if err != nil {
		return Zone{}, nil, err
	}
	out := make([]held, 0, len(rs))
	for _, r := range rs {
		out = append(out, held{rec: fromCF(origin, r), cf: r})
	}
	return z, out, nil
}

// GetRecords returns the zone's records, with its SOA and NS.
func (c *Client) GetRecords(ctx context.Context, zone string) ([]dnsprovider.Record, error) {
	origin, err := canonical(zone)
	if err != nil {
		return nil, err
	}
	z, hs, err := c.read(ctx, origin)
	if err != nil {
		return nil, err
	}
	var out []dnsprovider.Record
	for i, ns := range z.NameServers {
		ns = strings.ToLower(strings.TrimSuffix(ns, ".")) + "."
		if i == 0 {
			out = append(out, dnsprovider.Record{Name: "@", Type: "SOA", TTL: time.Hour, Value: ns + " dns.cloudflare.com. 0 " + soaTimers})
		}
		out = append(out, dnsprovider.Record{Name: "@", Type: "NS", TTL: 24 * time.Hour, Value: ns})
	}
	for _, h := range hs {
		out = append(out, h.rec)
	}
	return out, nil
}

func bare(name string) string { return strings.TrimSuffix(name, ".") }

// fromCF is a Cloudflare record as a dnsprovider.Record; one poolctl
// cannot parse is returned as Cloudflare gives it.
func fromCF(origin string, r DNSRecord) dnsprovider.Record {
	ttl := time.Duration(r.TTL) * time.Second
	if r.TTL == 1 {
		ttl = AutoTTL
	}
	name := strings.ToLower(bare(r.Name)) + "."
	value := r.Content
	switch r.Type {
	case "CNAME", "NS", "PTR":
		value = bare(r.Content) + "."
	case "MX":
		p := uint16(0)
		if r.Priority != nil {
			p = *r.Priority
		}
		value = fmt.Sprintf("%d %s.", p, bare(r.Content))
	case "SRV":
		if d := r.Data; d != nil && d.Priority != nil && d.Weight != nil && d.Port != nil {
			value = fmt.Sprintf("%d %d %d %s.", *d.Priority, *d.Weight, *d.Port, bare(d.Target))
		}
	case "CAA":
		if d := r.Data; d != nil && d.Flags != nil {
			value = fmt.Sprintf("%d %s %s", *d.Flags, d.Tag, strconv.Quote(d.Value))
		}
	}
	secs := uint32(ttl / time.Second)
	rec, err := dnsprovider.Canonical(origin, name, r.Type, secs, value)
	if err != nil {
		return dnsprovider.Record{Name: dnsprovider.Relative(origin, name), Type: r.Type, TTL: ttl, Value: value}
	}
	return rec
}

// toCF is a checked record (absolute name, canonical value) as
// Cloudflare takes it.
func (c *Client) toCF(r dnsprovider.Record) (DNSRecord, error) {
	out := DNSRecord{Type: r.Type, Name: bare(r.Name), TTL: int(r.TTL / time.Second)}
	f := strings.Fields(r.Value)
	u16 := func(s string) *uint16 {
		n, _ := strconv.ParseUint(s, 10, 16)
		v := uint16(n)
		return &v
	}
	switch r.Type {
	case "CNAME", "NS", "PTR":
		out.Content = bare(r.Value)
	case "MX":
		out.Priority, out.Content = u16(f[0]), bare(f[1])
	case "SRV":
		out.Data = &RecordData{Priority: u16(f[0]), Weight: u16(f[1]), Port: u16(f[2]), Target: bare(f[3])}
	case "CAA":
		n, _ := strconv.ParseUint(f[0], 10, 8)
		flags := uint8(n)
		v, err := strconv.Unquote(strings.TrimSpace(strings.SplitN(r.Value, " ", 3)[2]))
		if err != nil {
			return DNSRecord{}, apperr.New(apperr.Invalid, "record %s CAA %s: the value is not one quoted string", r.Name, r.Value)
		}
		out.Data = &RecordData{Flags: &flags, Tag: f[1], Value: v}
	default:
		out.Content = r.Value
	}
	if c.proxied[r.Name] {
		if r.Type != "A" && r.Type != "AAAA" && r.Type != "CNAME" {
			return DNSRecord{}, apperr.New(apperr.Invalid, "record %s %s: only A, AAAA and CNAME records can be proxied", r.Name, r.Type)
		}
		t := true
		out.Proxied, out.TTL = &t, 1
	}
	return out, nil
}

// plan is the batches of one call and what it returns.
type plan struct {
	groups []Batch // one per RRset, merged into batches when sent
	result []dnsprovider.Record
}

// send merges the groups into batches of at most limit records and sends
// them in order.
func (c *Client) send(ctx context.Context, z Zone, p plan) error {
	limit := c.BatchLimit(z)
	var cur Batch
	flush := func() error {
		if cur.Len() == 0 {
			return nil
		}
		_, err := c.Batch(ctx, z.ID, cur)
		cur = Batch{}
		return err
	}
	for _, g := range p.groups {
		if g.Len() > limit {
			return apperr.New(apperr.Invalid, "Cloudflare zone %s: one RRset needs %d changes, more than a batch of %d", z.Name, g.Len(), limit)
		}
		if cur.Len()+g.Len() > limit {
			if err := flush(); err != nil {
				return err
			}
		}
		cur.Deletes = append(cur.Deletes, g.Deletes...)
		cur.Patches = append(cur.Patches, g.Patches...)
		cur.Puts = append(cur.Puts, g.Puts...)
		cur.Posts = append(cur.Posts, g.Posts...)
	}
	return flush()
}

// rrset returns the held records of name (relative) and type.
func rrset(hs []held, name, typ string) []held {
	var out []held
	for _, h := range hs {
		if h.rec.Name == name && h.rec.Type == typ {
			out = append(out, h)
		}
	}
	return out
}

// ttlPatch sets the TTL of a held record, unless it is proxied (whose TTL
// is automatic).
func ttlPatch(h held, ttl time.Duration) (DNSRecord, bool) {
	if h.rec.TTL == ttl || (h.cf.Proxied != nil && *h.cf.Proxied) {
		return DNSRecord{}, false
	}
	return DNSRecord{ID: h.cf.ID, TTL: int(ttl / time.Second)}, true
}

func (c *Client) change(ctx context.Context, zone string, recs []dnsprovider.Record, compute func(origin string, gs []dnsprovider.RRset, hs []held) (plan, error)) ([]dnsprovider.Record, error) {
	origin, err := canonical(zone)
	if err != nil {
		return nil, err
	}
	gs, err := dnsprovider.Group(origin, recs)
	if err != nil {
		return nil, err
	}
	z, hs, err := c.read(ctx, origin)
	if err != nil {
		return nil, err
	}
	p, err := compute(origin, gs, hs)
	if err != nil {
		return nil, err
	}
	if err := c.send(ctx, z, p); err != nil {
		return nil, err
	}
	return p.result, nil
}

// AppendRecords adds the records not there already.
func (c *Client) AppendRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	return c.change(ctx, zone, recs, func(origin string, gs []dnsprovider.RRset, hs []held) (plan, error) {
		var p plan
		for _, g := range gs {
			cur := rrset(hs, dnsprovider.Relative(origin, g.Name), g.Type)
			var b Batch
			var added []dnsprovider.Record
			for _, v := range g.Values {
				if slices.ContainsFunc(cur, func(h held) bool { return h.rec.Value == v }) {
					continue
				}
				cf, err := c.toCF(dnsprovider.Record{Name: g.Name, Type: g.Type, TTL: g.TTL, Value: v})
				if err != nil {
					return plan{}, err
				}
				b.Posts = append(b.Posts, cf)
				added = append(added, dnsprovider.Record{Name: dnsprovider.Relative(origin, g.Name), Type: g.Type, TTL: g.TTL, Value: v})
			}
			if len(added) == 0 {
				continue
			}
			for _, h := range cur {
				if pt, ok := ttlPatch(h, g.TTL); ok {
					b.Patches = append(b.Patches, pt)
				}
			}
			p.groups = append(p.groups, b)
			p.result = append(p.result, added...)
		}
		return p, nil
	})
}

// SetRecords replaces each RRset named in recs.
func (c *Client) SetRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	return c.change(ctx, zone, recs, func(origin string, gs []dnsprovider.RRset, hs []held) (plan, error) {
		var p plan
		for _, g := range gs {
			cur := rrset(hs, dnsprovider.Relative(origin, g.Name), g.Type)
			var b Batch
			var stale []held // records whose value goes
			for _, h := range cur {
				if !slices.Contains(g.Values, h.rec.Value) {
					stale = append(stale, h)
				} else if pt, ok := ttlPatch(h, g.TTL); ok {
					b.Patches = append(b.Patches, pt)
				}
			}
			for _, v := range g.Values {
				if slices.ContainsFunc(cur, func(h held) bool { return h.rec.Value == v }) {
					continue
				}
				cf, err := c.toCF(dnsprovider.Record{Name: g.Name, Type: g.Type, TTL: g.TTL, Value: v})
				if err != nil {
					return plan{}, err
				}
				if len(stale) == 0 {
					b.Posts = append(b.Posts, cf)
					continue
				}
				// A value replaced: the record is changed in place (one
				// PATCH, its id, proxied flag and comment kept).
				h := stale[0]
				stale = stale[1:]
				cf.ID, cf.Name, cf.Type = h.cf.ID, "", ""
				if cf.Proxied == nil && h.cf.Proxied != nil && *h.cf.Proxied {
					cf.TTL = 1
				}
				b.Patches = append(b.Patches, cf)
			}
			for _, h := range stale {
				b.Deletes = append(b.Deletes, DNSRecord{ID: h.cf.ID})
			}
			if b.Len() > 0 {
				p.groups = append(p.groups, b)
			}
			p.result = append(p.result, g.Records(origin)...)
		}
		return p, nil
	})
}

// DeleteRecords removes the records that match recs.
func (c *Client) DeleteRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	origin, err := canonical(zone)
	if err != nil {
		return nil, err
	}
	ms, err := dnsprovider.Matchers(origin, recs)
	if err != nil {
		return nil, err
	}
	z, hs, err := c.read(ctx, origin)
	if err != nil {
		return nil, err
	}
	var p plan
	var b Batch
	for _, h := range hs {
		if dnsprovider.MatchAny(ms, origin, h.rec) {
			b.Deletes = append(b.Deletes, DNSRecord{ID: h.cf.ID})
			p.result = append(p.result, h.rec)
		}
	}
	// Deletes are independent: they go in batches of the limit.
	limit := c.BatchLimit(z)
	for len(b.Deletes) > 0 {
		n := min(limit, len(b.Deletes))
		p.groups = append(p.groups, Batch{Deletes: b.Deletes[:n]})
		b.Deletes = b.Deletes[n:]
	}
	if err := c.send(ctx, z, p); err != nil {
		return nil, err
	}
	return p.result, nil
}
