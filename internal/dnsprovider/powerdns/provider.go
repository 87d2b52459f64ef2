package powerdns

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/dnsprovider"
)

var _ dnsprovider.Provider = (*Client)(nil)

// The dnsprovider contract over the API. PowerDNS changes whole RRsets, so
// AppendRecords and DeleteRecords read the zone and then replace the RRsets
// they change, in one PATCH (all or none): a change made by someone else
// to the same RRset between the read and the write is overwritten (the
// API has no conditional write). Records the server holds disabled are
// kept as they are and not returned.

// ListZones returns the server's zones.
func (c *Client) ListZones(ctx context.Context) ([]dnsprovider.Zone, error) {
	zs, err := c.Zones(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]dnsprovider.Zone, 0, len(zs))
	for _, z := range zs {
		out = append(out, dnsprovider.Zone{Name: strings.ToLower(z.Name)})
	}
	return out, nil
}

// GetRecords returns the records the server serves in zone. A record
// whose data poolctl cannot parse (a type it does not store) is returned
// as the server prints it.
func (c *Client) GetRecords(ctx context.Context, zone string) ([]dnsprovider.Record, error) {
	origin, err := canonical(zone)
	if err != nil {
		return nil, err
	}
	z, err := c.Zone(ctx, origin)
	if err != nil {
		return nil, err
	}
	var out []dnsprovider.Record
	for _, rs := range z.RRsets {
		for _, r := range rs.Records {
			if r.Disabled {
				continue
			}
			out = append(out, fromServer(origin, rs, r.Content))
		}
	}
	return out, nil
}

func fromServer(origin string, rs RRset, content string) dnsprovider.Record {
	rec, err := dnsprovider.Canonical(origin, rs.Name, rs.Type, rs.TTL, content)
	if err != nil {
		return dnsprovider.Record{Name: dnsprovider.Relative(origin, rs.Name), Type: rs.Type, TTL: time.Duration(rs.TTL) * time.Second, Value: content}
	}
	return rec
}

// rrsetKey names an RRset: absolute owner and type.
type rrsetKey struct{ name, typ string }

// group is the records of one RRset in input order.
type group struct {
	key  rrsetKey
	ttl  time.Duration
	recs []dnsprovider.Record // absolute names, canonical values
}

// groups checks recs for zone origin and groups them by RRset; nothing is
// sent when one is refused.
func groups(origin string, recs []dnsprovider.Record) ([]*group, error) {
	var out []*group
	for _, r := range recs {
		n, err := dnsprovider.Normalize(origin, r)
		if err != nil {
			return nil, err
		}
		k := rrsetKey{n.Name, n.Type}
		i := slices.IndexFunc(out, func(g *group) bool { return g.key == k })
		if i < 0 {
			out = append(out, &group{key: k, ttl: n.TTL})
			i = len(out) - 1
		}
		g := out[i]
		if g.ttl != n.TTL {
			return nil, apperr.New(apperr.Invalid, "records %s %s: TTLs %s and %s: the records of one RRset share one TTL (RFC 2181 section 5.2)", n.Name, n.Type, g.ttl, n.TTL)
		}
		if !slices.ContainsFunc(g.recs, func(x dnsprovider.Record) bool { return x.Value == n.Value }) {
			g.recs = append(g.recs, n)
		}
	}
	return out, nil
}

// find returns the zone's RRset of key, if any.
func find(z Zone, k rrsetKey) (RRset, bool) {
	for _, rs := range z.RRsets {
		if strings.EqualFold(rs.Name, k.name) && rs.Type == k.typ {
			return rs, true
		}
	}
	return RRset{}, false
}

func seconds(d time.Duration) uint32 { return uint32(d / time.Second) }

func relative(origin string, r dnsprovider.Record) dnsprovider.Record {
	r.Name = dnsprovider.Relative(origin, r.Name)
	return r
}

// AppendRecords adds the records not there already, in one PATCH.
func (c *Client) AppendRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	origin, err := canonical(zone)
	if err != nil {
		return nil, err
	}
	gs, err := groups(origin, recs)
	if err != nil {
		return nil, err
	}
	z, err := c.Zone(ctx, origin)
	if err != nil {
		return nil, err
	}
	var patch []RRset
	var added []dnsprovider.Record
	for _, g := range gs {
		cur, _ := find(z, g.key)
		have := map[string]bool{}
		for _, r := range cur.Records {
			have[fromServer(origin, cur, r.Content).Value] = true
		}
		next := RRset{Name: g.key.name, Type: g.key.typ, TTL: seconds(g.ttl), ChangeType: Replace, Records: slices.Clone(cur.Records)}
		n := len(added)
		for _, r := range g.recs {
			if !have[r.Value] {
				next.Records = append(next.Records, RR{Content: r.Value})
				added = append(added, relative(origin, r))
			}
		}
		if len(added) > n {
			patch = append(patch, next)
		}
	}
	if len(patch) == 0 {
		return nil, nil
	}
	if err := c.PatchZone(ctx, origin, patch); err != nil {
		return nil, err
	}
	// The RRsets appended to took the new TTL: so did the records there.
	return added, nil
}

// SetRecords replaces each RRset named in recs, in one PATCH.
func (c *Client) SetRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	origin, err := canonical(zone)
	if err != nil {
		return nil, err
	}
	gs, err := groups(origin, recs)
	if err != nil {
		return nil, err
	}
	if len(gs) == 0 {
		return nil, nil
	}
	patch := make([]RRset, 0, len(gs))
	var out []dnsprovider.Record
	for _, g := range gs {
		rs := RRset{Name: g.key.name, Type: g.key.typ, TTL: seconds(g.ttl), ChangeType: Replace}
		for _, r := range g.recs {
			rs.Records = append(rs.Records, RR{Content: r.Value})
			out = append(out, relative(origin, r))
		}
		patch = append(patch, rs)
	}
	if err := c.PatchZone(ctx, origin, patch); err != nil {
		return nil, err
	}
	return out, nil
}

// matcher is one record of DeleteRecords: empty fields match any.
type matcher struct {
	name, typ, value string
	ttl              time.Duration
}

func matchers(origin string, recs []dnsprovider.Record) ([]matcher, error) {
	out := make([]matcher, 0, len(recs))
	for _, r := range recs {
		if strings.TrimSpace(r.Name) == "" {
			return nil, apperr.New(apperr.Invalid, "record %s %s: name is empty (write @ for the zone's apex)", r.Type, r.Value)
		}
		m := matcher{name: dnsprovider.Absolute(origin, r.Name), typ: strings.ToUpper(strings.TrimSpace(r.Type)), ttl: r.TTL}
		if m.name != origin && !strings.HasSuffix(m.name, "."+origin) {
			return nil, apperr.New(apperr.Invalid, "record name %q: %s is outside zone %s", r.Name, m.name, origin)
		}
		if m.typ != "" && !slices.Contains(dns.SupportedTypes(), m.typ) {
			return nil, apperr.New(apperr.Invalid, "record %s: type %q is not supported (supported: %s)", m.name, r.Type, strings.Join(dns.SupportedTypes(), ", "))
		}
		if v := strings.TrimSpace(r.Value); v != "" {
			if m.typ == "" {
				return nil, apperr.New(apperr.Invalid, "record %s: a value (%q) needs its type", m.name, v)
			}
			n, err := dnsprovider.Normalize(origin, dnsprovider.Record{Name: m.name, Type: m.typ, TTL: time.Second, Value: v})
			if err != nil {
				return nil, err
			}
			m.value = n.Value
		}
		out = append(out, m)
	}
	return out, nil
}

func (m matcher) match(r dnsprovider.Record, abs string) bool {
	return m.name == abs && (m.typ == "" || m.typ == r.Type) && (m.ttl == 0 || m.ttl == r.TTL) && (m.value == "" || m.value == r.Value)
}

// DeleteRecords removes the records that match recs, in one PATCH.
func (c *Client) DeleteRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	origin, err := canonical(zone)
	if err != nil {
		return nil, err
	}
	ms, err := matchers(origin, recs)
	if err != nil {
		return nil, err
	}
	z, err := c.Zone(ctx, origin)
	if err != nil {
		return nil, err
	}
	var patch []RRset
	var removed []dnsprovider.Record
	for _, rs := range z.RRsets {
		if rs.Type == "SOA" {
			continue
		}
		abs := strings.ToLower(rs.Name)
		keep := RRset{Name: abs, Type: rs.Type, TTL: rs.TTL, ChangeType: Replace, Records: []RR{}}
		n := len(removed)
		for _, r := range rs.Records {
			rec := fromServer(origin, rs, r.Content)
			if !r.Disabled && slices.ContainsFunc(ms, func(m matcher) bool { return m.match(rec, abs) }) {
				removed = append(removed, rec)
				continue
			}
			keep.Records = append(keep.Records, r)
		}
		switch {
		case len(removed) == n:
		case len(keep.Records) == 0:
			patch = append(patch, RRset{Name: abs, Type: rs.Type, ChangeType: Delete})
		default:
			patch = append(patch, keep)
		}
	}
	if len(patch) == 0 {
		return nil, nil
	}
	if err := c.PatchZone(ctx, origin, patch); err != nil {
		return nil, err
	}
	return removed, nil
}
