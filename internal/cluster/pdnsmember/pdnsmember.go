// Package pdnsmember is the DNS cluster's backend "powerdns": a PowerDNS
// Authoritative server driven through its HTTP API as a member of the
// cluster (write-only, sync or standalone), the way another poolctl server
// is through the cluster API. The member's URL is the PowerDNS webserver
// (http://127.0.0.1:8081) and its token the webserver's api-key.
//
// Zones travel whole, as zone files with their SOA serial, as between
// poolctl servers: a zone written here gets exactly the RRsets of the text
// (created as a Native zone when it is missing), with its serial kept as
// sent (the zone's SOA-EDIT-API is switched off, or PowerDNS would change
// it), and never backwards: an older serial, or the same serial with
// other content, is a Conflict and nothing is overwritten. Records of one
// RRset share one TTL in PowerDNS: the lowest of the text's.
//
// What PowerDNS cannot tell: which poolctl server writes a zone (every
// sender uses the same API key), so a second writer is refused only when
// its serial does not move the zone forward; and poolctl's DNSSEC keys,
// which it does not take, so a signed zone is refused (a Conflict) rather
// than served unsigned.
package pdnsmember

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/cluster"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns"
)

// Backend is the backend's name in `poolctl dns cluster add --backend`.
const Backend = "powerdns"

// Node is what a PowerDNS member's hello reports as its node kind.
const Node = "powerdns"

// Member is a PowerDNS server as a cluster member.
type Member struct {
	c *powerdns.Client
}

var _ cluster.Member = (*Member)(nil)

// Dial is the cluster.Dial of backend powerdns: url is the webserver,
// token its API key, caPEM the CA of an https URL (PowerDNS behind a TLS
// proxy).
func Dial(url, token string, caPEM []byte, timeout time.Duration) (cluster.Member, error) {
	c, err := powerdns.New(url, powerdns.Options{APIKey: token, CAPEM: caPEM, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return &Member{c: c}, nil
}

// New returns the member that c reaches.
func New(c *powerdns.Client) *Member { return &Member{c: c} }

// ClusterHello is the server's version and its zones with their serials.
func (m *Member) ClusterHello(ctx context.Context) (api.ClusterHello, error) {
	srv, err := m.c.Server(ctx)
	if err != nil {
		return api.ClusterHello{}, err
	}
	zs, err := m.c.Zones(ctx)
	if err != nil {
		return api.ClusterHello{}, err
	}
	out := api.ClusterHello{Version: "PowerDNS " + srv.Version, Node: Node, Zones: make([]api.ClusterZoneSerial, 0, len(zs))}
	for _, z := range zs {
		out.Zones = append(out.Zones, api.ClusterZoneSerial{Zone: short(z.Name), Serial: z.Serial})
	}
	return out, nil
}

// short is a zone's name as poolctl writes it: lower case, no trailing dot.
func short(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

// origin is a zone's name as PowerDNS writes it.
func origin(zone string) (string, error) {
	return dns.CanonicalZoneName(zone) // errors: apperr.Invalid
}

// ClusterGetZone reads a zone as a zone file and its SOA serial.
func (m *Member) ClusterGetZone(ctx context.Context, zone string) (api.ClusterZone, error) {
	o, err := origin(zone)
	if err != nil {
		return api.ClusterZone{}, err
	}
	z, err := m.c.Zone(ctx, o)
	if err != nil {
		return api.ClusterZone{}, err
	}
	recs, err := m.records(o, z)
	if err != nil {
		return api.ClusterZone{}, err
	}
	serial, ok := soaSerial(recs)
	if !ok {
		return api.ClusterZone{}, apperr.New(apperr.Invalid, "zone %s on PowerDNS at %s has no SOA record", o, m.c.URL())
	}
	return api.ClusterZone{Serial: serial, Text: dns.FormatZone(dns.Zone{Name: o, Serial: serial, Records: recs})}, nil
}

// records are the records PowerDNS serves in z, canonical. A record that
// poolctl cannot take (a type it does not store) is an error naming it:
// taking the zone without it would lose it silently.
func (m *Member) records(o string, z powerdns.Zone) ([]dns.Record, error) {
	var out []dns.Record
	for _, rs := range z.RRsets {
		for _, r := range rs.Records {
			if r.Disabled {
				continue
			}
			n, err := dns.NormalizeRecord(o, dns.Record{Name: rs.Name, Type: rs.Type, TTL: rs.TTL, Data: r.Content})
			if err != nil {
				return nil, apperr.Wrap(apperr.Invalid, err, "zone %s on PowerDNS at %s holds a record poolctl cannot take (%s %s %s)", o, m.c.URL(), rs.Name, rs.Type, r.Content)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

func soaSerial(recs []dns.Record) (uint32, bool) {
	for _, r := range recs {
		if r.Type != "SOA" {
			continue
		}
		f := strings.Fields(r.Data)
		if len(f) != 7 {
			return 0, false
		}
		n, err := strconv.ParseUint(f[2], 10, 32)
		return uint32(n), err == nil
	}
	return 0, false
}

// key names an RRset.
type key struct{ name, typ string }

// rrsets groups canonical records by RRset, each with the lowest TTL of
// its records (PowerDNS keeps one TTL per RRset) and its contents sorted.
func rrsets(recs []dns.Record) map[key]powerdns.RRset {
	out := map[key]powerdns.RRset{}
	for _, r := range recs {
		k := key{r.Name, r.Type}
		rs, ok := out[k]
		if !ok {
			rs = powerdns.RRset{Name: r.Name, Type: r.Type, TTL: r.TTL}
		}
		rs.TTL = min(rs.TTL, r.TTL)
		if !slices.ContainsFunc(rs.Records, func(x powerdns.RR) bool { return x.Content == r.Data }) {
			rs.Records = append(rs.Records, powerdns.RR{Content: r.Data})
		}
		out[k] = rs
	}
	for k, rs := range out {
		slices.SortFunc(rs.Records, func(a, b powerdns.RR) int { return cmp.Compare(a.Content, b.Content) })
		out[k] = rs
	}
	return out
}

func sameRRsets(a, b map[key]powerdns.RRset) bool {
	return maps.EqualFunc(a, b, func(x, y powerdns.RRset) bool {
		return x.TTL == y.TTL && slices.Equal(x.Records, y.Records)
	})
}

// ClusterPutZone writes a zone whole: created when missing, otherwise its
// RRsets replaced so that they are the text's, in one PATCH. The same
// serial and content again changes nothing; an older serial, or the same
// serial with other content, is a Conflict. p is not used: PowerDNS
// records no writer.
func (m *Member) ClusterPutZone(ctx context.Context, zone string, in api.ClusterZone, _ client.ClusterPut) (api.ClusterApplied, error) {
	o, err := origin(zone)
	if err != nil {
		return api.ClusterApplied{}, err
	}
	res := api.ClusterApplied{Zone: short(o), Serial: in.Serial}
	if in.DNSSEC != nil {
		return res, apperr.New(apperr.Conflict, "zone %s is DNSSEC-signed and PowerDNS at %s does not take poolctl's signing keys: not written (served unsigned, it would fail validation)", short(o), m.c.URL())
	}
	parsed, err := dns.ParseZoneFile(o, strings.NewReader(in.Text))
	if err != nil {
		return res, apperr.Wrap(apperr.Invalid, err, "zone %s", short(o))
	}
	soas := 0
	for _, r := range parsed {
		if r.Type == "SOA" {
			soas++
		}
	}
	if soas != 1 {
		return res, apperr.New(apperr.Invalid, "zone %s: the text has %d SOA records, want one", short(o), soas)
	}
	if serial, _ := soaSerial(parsed); serial != in.Serial {
		return res, apperr.New(apperr.Invalid, "zone %s: serial %d does not match the text's SOA serial %d", short(o), in.Serial, serial)
	}
	want := rrsets(parsed)
	cur, err := m.c.Zone(ctx, o)
	if errors.Is(err, apperr.NotFound) {
		create := powerdns.ZoneCreate{Name: o, Kind: "Native", SOAEditAPI: "", RRsets: sortedRRsets(want, "")}
		if _, err := m.c.CreateZone(ctx, create); err != nil {
			return res, err
		}
		res.Changed, res.Created = true, true
		return res, nil
	}
	if err != nil {
		return res, err
	}
	recs, err := m.records(o, cur)
	if err != nil {
		return res, err
	}
	have := rrsets(recs)
	there, _ := soaSerial(recs)
	switch {
	case there == in.Serial && sameRRsets(have, want):
		return res, nil
	case there == in.Serial:
		return res, apperr.New(apperr.Conflict, "zone %s has serial %d on PowerDNS at %s too, with other content: two servers changed it; nothing was overwritten", short(o), there, m.c.URL())
	case !dns.SerialGreater(in.Serial, there):
		return res, apperr.New(apperr.Conflict, "zone %s has serial %d on PowerDNS at %s, newer than the %d sent: nothing was overwritten", short(o), there, m.c.URL(), in.Serial)
	}
	if cur.SOAEditAPI != "" {
		// Otherwise PowerDNS would give the SOA a serial of its own.
		if err := m.c.SetSOAEditAPI(ctx, o, ""); err != nil {
			return res, fmt.Errorf("switch off SOA-EDIT-API of zone %s: %w", short(o), err)
		}
	}
	patch := sortedRRsets(want, powerdns.Replace)
	var gone []key
	for k := range have {
		if _, ok := want[k]; !ok {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(gone, func(a, b key) int { return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.typ, b.typ)) })
	for _, k := range gone {
		patch = append(patch, powerdns.RRset{Name: k.name, Type: k.typ, ChangeType: powerdns.Delete})
	}
	if err := m.c.PatchZone(ctx, o, patch); err != nil {
		return res, err
	}
	res.Changed = true
	return res, nil
}

// sortedRRsets lists rs in a stable order with changetype ct.
func sortedRRsets(rs map[key]powerdns.RRset, ct string) []powerdns.RRset {
	out := make([]powerdns.RRset, 0, len(rs))
	for _, k := range slices.SortedFunc(maps.Keys(rs), func(a, b key) int { return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.typ, b.typ)) }) {
		r := rs[k]
		r.ChangeType = ct
		out = append(out, r)
	}
	return out
}

// ClusterDeleteZone deletes a zone; one that is not there is deleted
// already.
func (m *Member) ClusterDeleteZone(ctx context.Context, zone string, _ client.ClusterPut) error {
	o, err := origin(zone)
	if err != nil {
		return err
	}
	err = m.c.DeleteZone(ctx, o)
	if errors.Is(err, apperr.NotFound) {
		return nil
	}
	return err
}
