// Package rfc2136 publishes records to a primary name server that takes
// dynamic updates (RFC 2136) — BIND 9, Knot, or any other — signed with
// TSIG (RFC 8945, hmac-sha256). Zones are read by AXFR with the same key;
// the server cannot list its zones, so the provider is configured with
// the zones it manages.
//
// Every change reads the zone, computes the update and sends it with
// prerequisites (RFC 2136 section 2.4) that each RRset it changes still
// holds what was read: a concurrent change by someone else is never
// overwritten — the read and the update are retried (a few times) and the
// caller gets a Conflict if the zone keeps changing. The server applies
// an update all or nothing and raises the zone's SOA serial itself.
//
// The wire work lives in internal/dns (dns.Update, dns.Transfer): it is
// the one package that imports the DNS library.
package rfc2136

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/dnsprovider"
)

// Config configures a Provider.
type Config struct {
	// Server is the primary's address, HOST:PORT (port 53 when omitted).
	Server string
	// Zones are the zones the provider manages on Server. Required.
	Zones []string
	// KeyName and KeySecret are the TSIG key (hmac-sha256) that the
	// server allows to update and transfer the zones; the secret is
	// base64, as in the server's key statement. Required.
	KeyName   string
	KeySecret string
	// Timeout bounds one exchange with the server (dns.ClientTimeout).
	Timeout time.Duration
}

// Provider is a dnsprovider.Provider over one primary server.
type Provider struct {
	server  string
	zones   []string // canonical
	key     dns.TSIGKey
	timeout time.Duration
}

var _ dnsprovider.Provider = (*Provider)(nil)

// attempts bounds the read-and-update rounds of one call when the zone
// keeps changing under it.
const attempts = 8

// New checks c and returns its provider. Errors are of kind
// apperr.Invalid and never hold the secret.
func New(c Config) (*Provider, error) {
	server := strings.TrimSpace(c.Server)
	if server == "" {
		return nil, apperr.New(apperr.Invalid, "RFC 2136: the server's address is required (HOST:PORT)")
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
	}
	host, port, err := net.SplitHostPort(server)
	if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
		return nil, apperr.New(apperr.Invalid, "RFC 2136 server %q: want HOST:PORT", c.Server)
	}
	if len(c.Zones) == 0 {
		return nil, apperr.New(apperr.Invalid, "RFC 2136 server %s: name the zones it manages (an RFC 2136 server cannot list them)", server)
	}
	p := &Provider{server: server, key: dns.TSIGKey{Name: c.KeyName, Secret: c.KeySecret}, timeout: c.Timeout}
	for _, z := range c.Zones {
		origin, err := dnsprovider.ZoneName(z)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "RFC 2136 server %s: zone %q", server, z)
		}
		if !slices.Contains(p.zones, origin) {
			p.zones = append(p.zones, origin)
		}
	}
	if err := p.key.Check(); err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "RFC 2136 server %s", server)
	}
	if p.timeout <= 0 {
		p.timeout = dns.ClientTimeout
	}
	return p, nil
}

// Server is the primary's address.
func (p *Provider) Server() string { return p.server }

// ListZones returns the configured zones.
func (p *Provider) ListZones(context.Context) ([]dnsprovider.Zone, error) {
	out := make([]dnsprovider.Zone, 0, len(p.zones))
	for _, z := range p.zones {
		out = append(out, dnsprovider.Zone{Name: z})
	}
	return out, nil
}

// zone checks that zone is one the provider manages.
func (p *Provider) zone(zone string) (string, error) {
	origin, err := dnsprovider.ZoneName(zone)
	if err != nil {
		return "", err
	}
	if !slices.Contains(p.zones, origin) {
		return "", apperr.New(apperr.NotFound, "zone %s is not among the zones configured for the RFC 2136 server %s", origin, p.server)
	}
	return origin, nil
}

func (p *Provider) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.timeout)
}

// read transfers zone origin: its records with relative names.
func (p *Provider) read(ctx context.Context, origin string) ([]dnsprovider.Record, error) {
	ctx, cancel := p.ctx(ctx)
	defer cancel()
	rs, err := dns.Transfer(ctx, p.server, origin, p.key)
	if err != nil {
		return nil, err
	}
	out := make([]dnsprovider.Record, 0, len(rs))
	for _, r := range rs {
		out = append(out, dnsprovider.Record{Name: dnsprovider.Relative(origin, r.Name), Type: r.Type, TTL: time.Duration(r.TTL) * time.Second, Value: r.Data})
	}
	return out, nil
}

// GetRecords returns the zone's records as an AXFR gives them.
func (p *Provider) GetRecords(ctx context.Context, zone string) ([]dnsprovider.Record, error) {
	origin, err := p.zone(zone)
	if err != nil {
		return nil, err
	}
	return p.read(ctx, origin)
}

// rrset returns the zone's records of name (relative) and type.
func rrset(zone []dnsprovider.Record, name, typ string) []dnsprovider.Record {
	var out []dnsprovider.Record
	for _, r := range zone {
		if r.Name == name && r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func values(rs []dnsprovider.Record) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Value)
	}
	return out
}

// plan is one computed change: the update, the zone it leaves (for the
// CNAME check), the names it touches and what the call returns.
type plan struct {
	req     dns.UpdateRequest
	after   []dnsprovider.Record
	touched []string
	result  []dnsprovider.Record
}

func (pl *plan) expect(origin string, cur []dnsprovider.Record, name, typ string) {
	e := dns.Expect{Name: dnsprovider.Absolute(origin, name), Type: typ}
	for _, r := range cur {
		e.Records = append(e.Records, wire(origin, r))
	}
	pl.req.Expect = append(pl.req.Expect, e)
	if !slices.Contains(pl.touched, name) {
		pl.touched = append(pl.touched, name)
	}
}

func wire(origin string, r dnsprovider.Record) dns.Record {
	return dns.Record{Name: dnsprovider.Absolute(origin, r.Name), Type: r.Type, TTL: uint32(r.TTL / time.Second), Data: r.Value}
}

// change reads the zone, plans with compute and sends the update with its
// prerequisites, again from the read when the zone changed meanwhile.
func (p *Provider) change(ctx context.Context, origin string, compute func(zone []dnsprovider.Record) *plan) ([]dnsprovider.Record, error) {
	var err error
	for range attempts {
		var zone []dnsprovider.Record
		if zone, err = p.read(ctx, origin); err != nil {
			return nil, err
		}
		pl := compute(zone)
		if len(pl.req.Delete) == 0 && len(pl.req.Add) == 0 {
			return pl.result, nil
		}
		if err = dnsprovider.CheckCNAMEs(origin, pl.after, pl.touched); err != nil {
			return nil, err
		}
		uctx, cancel := p.ctx(ctx)
		err = dns.Update(uctx, p.server, origin, p.key, pl.req)
		cancel()
		if err == nil {
			return pl.result, nil
		}
		if !errors.Is(err, dns.ErrPrerequisite) {
			return nil, err
		}
	}
	return nil, apperr.Wrap(apperr.Conflict, err, "zone %s at %s kept changing during %d attempts", origin, p.server, attempts)
}

// without returns zone without the records of name and type.
func without(zone []dnsprovider.Record, name, typ string) []dnsprovider.Record {
	return slices.DeleteFunc(slices.Clone(zone), func(r dnsprovider.Record) bool { return r.Name == name && r.Type == typ })
}

// AppendRecords adds the records not there already in one update; an
// RRset appended to takes the TTL of the records appended.
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	origin, err := p.zone(zone)
	if err != nil {
		return nil, err
	}
	gs, err := dnsprovider.Group(origin, recs)
	if err != nil {
		return nil, err
	}
	return p.change(ctx, origin, func(zone []dnsprovider.Record) *plan {
		pl := &plan{after: zone}
		for _, g := range gs {
			name := dnsprovider.Relative(origin, g.Name)
			cur := rrset(zone, name, g.Type)
			have := values(cur)
			var added []dnsprovider.Record
			for _, r := range g.Records(origin) {
				if !slices.Contains(have, r.Value) {
					added = append(added, r)
				}
			}
			if len(added) == 0 {
				continue
			}
			pl.expect(origin, cur, name, g.Type)
			pl.result = append(pl.result, added...)
			next := added
			if len(cur) > 0 && cur[0].TTL != g.TTL {
				// The RRset's TTL changes: it is written again whole.
				pl.req.Delete = append(pl.req.Delete, dns.Record{Name: g.Name, Type: g.Type})
				next = nil
				for _, r := range cur {
					r.TTL = g.TTL
					next = append(next, r)
				}
				next = append(next, added...)
			}
			for _, r := range next {
				pl.req.Add = append(pl.req.Add, wire(origin, r))
			}
			pl.after = append(without(pl.after, name, g.Type), append(rrsetWithTTL(cur, g.TTL), added...)...)
		}
		return pl
	})
}

func rrsetWithTTL(rs []dnsprovider.Record, ttl time.Duration) []dnsprovider.Record {
	out := slices.Clone(rs)
	for i := range out {
		out[i].TTL = ttl
	}
	return out
}

// SetRecords replaces each RRset named in recs in one update; an RRset
// that holds those records already is left alone.
func (p *Provider) SetRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	origin, err := p.zone(zone)
	if err != nil {
		return nil, err
	}
	gs, err := dnsprovider.Group(origin, recs)
	if err != nil {
		return nil, err
	}
	var result []dnsprovider.Record
	for _, g := range gs {
		result = append(result, g.Records(origin)...)
	}
	return p.change(ctx, origin, func(zone []dnsprovider.Record) *plan {
		pl := &plan{after: zone, result: result}
		for _, g := range gs {
			name := dnsprovider.Relative(origin, g.Name)
			cur := rrset(zone, name, g.Type)
			want := g.Records(origin)
			if same(cur, want) {
				continue
			}
			pl.expect(origin, cur, name, g.Type)
			if len(cur) > 0 {
				pl.req.Delete = append(pl.req.Delete, dns.Record{Name: g.Name, Type: g.Type})
			}
			for _, r := range want {
				pl.req.Add = append(pl.req.Add, wire(origin, r))
			}
			pl.after = append(without(pl.after, name, g.Type), want...)
		}
		return pl
	})
}

// same reports whether two RRsets hold the same values with the same TTL.
func same(a, b []dnsprovider.Record) bool {
	if len(a) != len(b) {
		return false
	}
	for _, r := range a {
		if !slices.Contains(b, r) {
			return false
		}
	}
	return true
}

// DeleteRecords removes the records that match recs in one update.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	origin, err := p.zone(zone)
	if err != nil {
		return nil, err
	}
	ms, err := dnsprovider.Matchers(origin, recs)
	if err != nil {
		return nil, err
	}
	return p.change(ctx, origin, func(zone []dnsprovider.Record) *plan {
		pl := &plan{}
		type key struct{ name, typ string }
		var order []key
		gone := map[key][]dnsprovider.Record{}
		for _, r := range zone {
			if dnsprovider.MatchAny(ms, origin, r) {
				k := key{r.Name, r.Type}
				if gone[k] == nil {
					order = append(order, k)
				}
				gone[k] = append(gone[k], r)
			} else {
				pl.after = append(pl.after, r)
			}
		}
		for _, k := range order {
			cur := rrset(zone, k.name, k.typ)
			pl.expect(origin, cur, k.name, k.typ)
			pl.result = append(pl.result, gone[k]...)
			if len(gone[k]) == len(cur) {
				pl.req.Delete = append(pl.req.Delete, dns.Record{Name: dnsprovider.Absolute(origin, k.name), Type: k.typ})
				continue
			}
			for _, r := range gone[k] {
				pl.req.Delete = append(pl.req.Delete, wire(origin, r))
			}
		}
		return pl
	})
}
