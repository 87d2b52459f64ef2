package zones

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/store"
)

// The receiving side of the DNS cluster: another nameserver of the cluster
// sends a zone whole (its zone file and SOA serial) and this server takes it
// as it is, serial included, so that every member answers the same SOA. A
// write is idempotent (the same serial and content again changes nothing)
// and never goes backwards: an older serial, or the same serial with other
// content, is a Conflict that names both sides, never a silent overwrite.

// ReplicaSerials lists the zones served here with their serials.
func (s *Service) ReplicaSerials(ctx context.Context) ([]api.ClusterZoneSerial, error) {
	zs, err := s.st.ListZones(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.ClusterZoneSerial, 0, len(zs))
	for _, z := range zs {
		out = append(out, api.ClusterZoneSerial{Zone: z.Name, Serial: z.Serial})
	}
	return out, nil
}

// ReplicaZone is a zone as the cluster sends it: its zone file and serial,
// from one reading of the store.
func (s *Service) ReplicaZone(ctx context.Context, zone string) (api.ClusterZone, error) {
	name, err := zoneName(zone)
	if err != nil {
		return api.ClusterZone{}, err
	}
	z, err := s.st.GetZone(ctx, name)
	if err != nil {
		return api.ClusterZone{}, err
	}
	dz, err := s.build(ctx, z)
	if err != nil {
		return api.ClusterZone{}, err
	}
	dz.Journal = nil
	// The serial of the SOA record read with the records: the receiver
	// checks that they agree.
	serial := dz.Serial
	for _, r := range dz.Records {
		if n, ok := soaSerial(r.Data); r.Type == "SOA" && ok {
			serial = n
		}
	}
	return api.ClusterZone{Serial: serial, Text: dns.FormatZone(dz), DNSSEC: replicaKeys(dz.DNSSEC)}, nil
}

// ApplyReplica writes a zone sent by another member of the cluster.
func (s *Service) ApplyReplica(ctx context.Context, zone string, in api.ClusterZone) (api.ClusterApplied, error) {
	name, err := zoneName(zone)
	if err != nil {
		return api.ClusterApplied{}, err
	}
	origin := name + "."
	parsed, err := dns.ParseZoneFile(origin, strings.NewReader(in.Text))
	if err != nil {
		return api.ClusterApplied{}, invalid(err)
	}
	recs, serial, soas, err := wholeZone(origin, parsed)
	if err != nil {
		return api.ClusterApplied{}, err
	}
	if soas != 1 {
		return api.ClusterApplied{}, apperr.New(apperr.Invalid, "zone %s: the text has %d SOA records, want one", name, soas)
	}
	if serial != in.Serial {
		return api.ClusterApplied{}, apperr.New(apperr.Invalid, "zone %s: serial %d does not match the text's SOA serial %d", name, in.Serial, serial)
	}
	res := api.ClusterApplied{Zone: name, Serial: in.Serial}
	if _, err := s.st.GetZone(ctx, name); errors.Is(err, apperr.NotFound) {
		if err := s.createWhole(ctx, name, in.Serial, recs); err != nil {
			return res, err
		}
		res.Changed, res.Created = true, true
		return res, s.applyReplicaKeys(ctx, name, in.DNSSEC)
	} else if err != nil {
		return res, err
	}
	newRecs := toDNS(recs)
	if err := dns.CheckZone(dns.Zone{Name: origin, Serial: in.Serial, Records: newRecs}); err != nil {
		return res, invalid(err)
	}
	z, err := s.st.EditZone(ctx, name, s.now(), func(z store.Zone, cur []store.Record) (store.ZoneEdit, error) {
		e := store.ZoneEdit{Serial: z.Serial}
		removed, added := dns.DiffRecords(toDNS(cur), newRecs)
		switch {
		case z.Serial == in.Serial && len(removed) == 0 && len(added) == 0:
			return e, errNoChange
		case z.Serial == in.Serial:
			return e, apperr.New(apperr.Conflict, "zone %s has serial %d here too, with other content: two servers changed it; nothing was overwritten", name, z.Serial)
		case !dns.SerialGreater(in.Serial, z.Serial):
			return e, apperr.New(apperr.Conflict, "zone %s has serial %d here, newer than the %d sent: nothing was overwritten", name, z.Serial, in.Serial)
		}
		for _, r := range cur {
			e.Delete = append(e.Delete, r.ID)
		}
		e.Add, e.Serial = recs, in.Serial
		rj, _ := json.Marshal(removed)
		aj, _ := json.Marshal(added)
		e.Journal = &store.ZoneChange{From: z.Serial, To: in.Serial, Removed: string(rj), Added: string(aj)}
		return e, nil
	})
	if errors.Is(err, errNoChange) {
		return res, s.applyReplicaKeys(ctx, name, in.DNSSEC)
	}
	if err != nil {
		return res, err
	}
	s.changed(ctx, z)
	res.Changed = true
	return res, s.applyReplicaKeys(ctx, name, in.DNSSEC)
}

// DeleteReplica removes a zone another member deleted; a zone that is not
// here is already gone (the delete is idempotent).
func (s *Service) DeleteReplica(ctx context.Context, zone string) error {
	err := s.Delete(ctx, zone)
	if errors.Is(err, apperr.NotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete replicated zone: %w", err)
	}
	return nil
}
