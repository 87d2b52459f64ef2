// Package builtin is poolctl's own zones as a dnsprovider.Provider: the
// zones the built-in nameservers serve, changed through the zone service
// (internal/zones), which validates every change against the whole zone,
// raises the serial, journals it for IXFR and serves it at once. The
// package reaches the service through the Zones interface and knows
// nothing of the store.
//
// Each call reads the zone and applies its change as one edit (one
// serial): all or nothing. A change made by someone else between the
// read and the edit makes the edit refuse (a record to remove is gone);
// the call then reads again, a few times, before answering Conflict.
// Records poolctl keeps itself (a pool's failover record) are not
// changed through a provider: Conflict.
package builtin

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
)

// Zones is what the provider needs of the zone service
// (*zones.Service implements it).
type Zones interface {
	// List returns the zones.
	List(ctx context.Context) ([]api.Zone, error)
	// Records returns a zone's records (names relative, "@" for the
	// apex; values canonical), or an error of kind apperr.NotFound.
	Records(ctx context.Context, zone string) ([]api.Record, error)
	// EditRecords removes the records with the ids in remove and adds
	// those of add in one step; an id no longer there is a Conflict.
	EditRecords(ctx context.Context, zone string, remove []int64, add []api.RecordCreate) ([]api.Record, error)
}

// Config configures a Provider.
type Config struct {
	Zones Zones // required
}

// Provider is the built-in zones as a dnsprovider.Provider.
type Provider struct {
	zones Zones
}

var _ dnsprovider.Provider = (*Provider)(nil)

// attempts bounds the read-and-edit rounds of one call.
const attempts = 5

// New returns the provider over c.Zones.
func New(c Config) (*Provider, error) {
	if c.Zones == nil {
		return nil, apperr.New(apperr.Invalid, "built-in DNS provider: the zone service is required")
	}
	return &Provider{zones: c.Zones}, nil
}

// ListZones returns poolctl's zones.
func (p *Provider) ListZones(ctx context.Context) ([]dnsprovider.Zone, error) {
	zs, err := p.zones.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]dnsprovider.Zone, 0, len(zs))
	for _, z := range zs {
		name, err := dnsprovider.ZoneName(z.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, dnsprovider.Zone{Name: name})
	}
	return out, nil
}

// held is a record of the zone with its id.
type held struct {
	rec     dnsprovider.Record
	id      int64
	managed bool
}

func (p *Provider) read(ctx context.Context, origin string) ([]held, error) {
	rs, err := p.zones.Records(ctx, origin)
	if err != nil {
		return nil, err
	}
	out := make([]held, 0, len(rs))
	for _, r := range rs {
		abs := dnsprovider.Absolute(origin, r.Name)
		rec, err := dnsprovider.Canonical(origin, abs, r.Type, uint32(r.TTL), r.Value)
		if err != nil {
			rec = dnsprovider.Record{Name: dnsprovider.Relative(origin, abs), Type: r.Type, TTL: time.Duration(r.TTL) * time.Second, Value: r.Value}
		}
		out = append(out, held{rec: rec, id: r.ID, managed: r.Managed != ""})
	}
	return out, nil
}

// GetRecords returns the zone's records.
func (p *Provider) GetRecords(ctx context.Context, zone string) ([]dnsprovider.Record, error) {
	origin, err := dnsprovider.ZoneName(zone)
	if err != nil {
		return nil, err
	}
	hs, err := p.read(ctx, origin)
	if err != nil {
		return nil, err
	}
	out := make([]dnsprovider.Record, 0, len(hs))
	for _, h := range hs {
		out = append(out, h.rec)
	}
	return out, nil
}

// edit is one computed change.
type edit struct {
	remove []int64
	add    []api.RecordCreate
	result []dnsprovider.Record
}

func create(r dnsprovider.Record) api.RecordCreate {
	return api.RecordCreate{Name: r.Name, Type: r.Type, TTL: int(r.TTL / time.Second), Value: r.Value}
}

func rrset(hs []held, name, typ string) []held {
	var out []held
	for _, h := range hs {
		if h.rec.Name == name && h.rec.Type == typ {
			out = append(out, h)
		}
	}
	return out
}

// change reads the zone, computes the edit and applies it, again from the
// read when the zone changed meanwhile.
func (p *Provider) change(ctx context.Context, origin string, compute func([]held) edit) ([]dnsprovider.Record, error) {
	var err error
	for range attempts {
		var hs []held
		if hs, err = p.read(ctx, origin); err != nil {
			return nil, err
		}
		e := compute(hs)
		if len(e.remove) == 0 && len(e.add) == 0 {
			return e.result, nil
		}
		if _, err = p.zones.EditRecords(ctx, origin, e.remove, e.add); err == nil {
			return e.result, nil
		}
		var ae *apperr.Error
		if !errors.Is(err, apperr.Conflict) || !errors.As(err, &ae) || ae.Err == nil {
			return nil, err
		}
	}
	return nil, err
}

// AppendRecords adds the records not there already; an RRset appended to
// takes the new TTL.
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	origin, err := dnsprovider.ZoneName(zone)
	if err != nil {
		return nil, err
	}
	gs, err := dnsprovider.Group(origin, recs)
	if err != nil {
		return nil, err
	}
	return p.change(ctx, origin, func(hs []held) edit {
		var e edit
		for _, g := range gs {
			cur := rrset(hs, dnsprovider.Relative(origin, g.Name), g.Type)
			var added []dnsprovider.Record
			for _, r := range g.Records(origin) {
				if !slices.ContainsFunc(cur, func(h held) bool { return h.rec.Value == r.Value }) {
					added = append(added, r)
				}
			}
			if len(added) == 0 {
				continue
			}
			for _, h := range cur {
				if h.rec.TTL != g.TTL { // the RRset takes the new TTL
					e.remove = append(e.remove, h.id)
					r := h.rec
					r.TTL = g.TTL
					e.add = append(e.add, create(r))
				}
			}
			for _, r := range added {
				e.add = append(e.add, create(r))
			}
			e.result = append(e.result, added...)
		}
		return e
	})
}

// SetRecords replaces each RRset named in recs.
func (p *Provider) SetRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	origin, err := dnsprovider.ZoneName(zone)
	if err != nil {
		return nil, err
	}
	gs, err := dnsprovider.Group(origin, recs)
	if err != nil {
		return nil, err
	}
	return p.change(ctx, origin, func(hs []held) edit {
		var e edit
		for _, g := range gs {
			want := g.Records(origin)
			cur := rrset(hs, dnsprovider.Relative(origin, g.Name), g.Type)
			for _, h := range cur {
				if !slices.Contains(want, h.rec) {
					e.remove = append(e.remove, h.id)
				}
			}
			for _, r := range want {
				if !slices.ContainsFunc(cur, func(h held) bool { return h.rec == r }) {
					e.add = append(e.add, create(r))
				}
			}
			e.result = append(e.result, want...)
		}
		return e
	})
}

// DeleteRecords removes the records that match recs.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []dnsprovider.Record) ([]dnsprovider.Record, error) {
	origin, err := dnsprovider.ZoneName(zone)
	if err != nil {
		return nil, err
	}
	ms, err := dnsprovider.Matchers(origin, recs)
	if err != nil {
		return nil, err
	}
	return p.change(ctx, origin, func(hs []held) edit {
		var e edit
		for _, h := range hs {
			if dnsprovider.MatchAny(ms, origin, h.rec) {
				e.remove = append(e.remove, h.id)
				e.result = append(e.result, h.rec)
			}
		}
		return e
	})
}
