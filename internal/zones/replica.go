package zones

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	history := make([]uint32, 0, len(dz.Journal))
	for i := len(dz.Journal) - 1; i >= 0; i-- {
		history = append(history, dz.Journal[i].From)
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
	return api.ClusterZone{Serial: serial, Text: dns.FormatZone(dz), History: history, DNSSEC: replicaKeys(dz.DNSSEC)}, nil
}

// ReplicaSource says who sends a zone to ApplyReplica.
type ReplicaSource struct {
	// Writer names the sender (its cluster token's name) when it pushes a
	// zone here: a zone is written by one sender, and another one is
	// refused (a Conflict naming the writer) unless Takeover, which an
	// operator chooses to resolve the conflict. Empty: this server fetched
	// the zone itself from a member, and no writer is recorded.
	Writer   string
	Takeover bool
}

// claim makes from.Writer the writer of zone name here. A zone another
// sender writes is taken over only when the version sent descends from the
// one here (its history holds this serial: the two senders share the
// zone, as sync members of one cluster do) or is the same, or on an
// operator's takeover; otherwise two servers write unrelated versions, and
// the write is a Conflict naming the other writer.
func (s *Service) claim(ctx context.Context, name string, in api.ClusterZone, from ReplicaSource) error {
	if have, err := s.st.ClusterWriter(ctx, name); err != nil || have == from.Writer {
		return err // the usual case, read without a write transaction
	}
	writer, err := s.st.ClaimClusterWriter(ctx, name, from.Writer, from.Takeover, s.now())
	if err != nil || writer == from.Writer {
		return err
	}
	z, err := s.st.GetZone(ctx, name)
	switch {
	case errors.Is(err, apperr.NotFound):
		// The other writer's zone is gone: this one may write it.
	case err != nil:
		return err
	case z.Serial == in.Serial || slices.Contains(in.History, z.Serial):
		// The same version, or one made from it.
	default:
		return apperr.New(apperr.Conflict, "zone %s is written here by another server (cluster token %q) and the version sent (serial %d) does not descend from the one here (serial %d): two servers write it; nothing was overwritten (see `poolctl dns cluster conflicts` on the sender)", name, writer, in.Serial, z.Serial)
	}
	_, err = s.st.ClaimClusterWriter(ctx, name, from.Writer, true, s.now())
	return err
}

// ApplyReplica writes a zone sent by another member of the cluster.
func (s *Service) ApplyReplica(ctx context.Context, zone string, in api.ClusterZone, from ReplicaSource) (api.ClusterApplied, error) {
	name, err := zoneName(zone)
	if err != nil {
		return api.ClusterApplied{}, err
	}
	if from.Writer != "" {
		if err := s.claim(ctx, name, in, from); err != nil {
			return api.ClusterApplied{}, err
		}
	}
	if len(in.Deltas) > 0 {
		return s.applyDeltas(ctx, name, in)
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
		e.Delete, e.Add = diffEdit(cur, removed, added)
		e.Serial = in.Serial
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
// here is already gone (the delete is idempotent). A zone another sender
// writes is not its to delete (a Conflict). writer is empty when this
// server deletes a zone it fetched.
func (s *Service) DeleteReplica(ctx context.Context, zone, writer string) error {
	return s.DeleteReplicaSeen(ctx, zone, writer, 0)
}

// DeleteReplicaSeen is DeleteReplica from a sender that has seen serial
// seen of the zone here (0: unknown): a zone another sender wrote last is
// deleted when the sender saw its current version (the two share it, as
// sync servers of one cluster do).
func (s *Service) DeleteReplicaSeen(ctx context.Context, zone, writer string, seen uint32) error {
	name, err := zoneName(zone)
	if err != nil {
		return err
	}
	if writer != "" {
		have, err := s.st.ClusterWriter(ctx, name)
		if err != nil {
			return err
		}
		if have != "" && have != writer {
			z, err := s.st.GetZone(ctx, name)
			switch {
			case errors.Is(err, apperr.NotFound):
			case err != nil:
				return err
			case seen == 0 || z.Serial != seen:
				return apperr.New(apperr.Conflict, "zone %s is written here by another server (cluster token %q) and has changed since the sender saw it (serial %d here): not deleted", name, have, z.Serial)
			}
		}
	}
	if err := s.st.DropClusterWriter(ctx, name); err != nil {
		return err
	}
	err = s.Delete(ctx, name)
	if errors.Is(err, apperr.NotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete replicated zone: %w", err)
	}
	return nil
}

// AdoptZone makes text the zone's whole content here, as a change made
// here, with a serial newer than above and than the zone's own, so that
// every member takes it: how a DNS cluster conflict is resolved. A zone
// that is not here is created. It returns the serial written.
func (s *Service) AdoptZone(ctx context.Context, zone, text string, above uint32) (uint32, error) {
	name, err := zoneName(zone)
	if err != nil {
		return 0, err
	}
	origin := name + "."
	parsed, err := dns.ParseZoneFile(origin, strings.NewReader(text))
	if err != nil {
		return 0, invalid(err)
	}
	recs, _, soas, err := wholeZone(origin, parsed)
	if err != nil {
		return 0, err
	}
	if soas != 1 {
		return 0, apperr.New(apperr.Invalid, "zone %s: the text has %d SOA records, want one", name, soas)
	}
	next := func(cur uint32) uint32 {
		n := above
		if dns.SerialGreater(cur, n) {
			n = cur
		}
		if n++; n == 0 {
			n = 1
		}
		return n
	}
	withNext := func(serial uint32) {
		for i := range recs {
			if recs[i].Type == "SOA" {
				f := strings.Fields(recs[i].Value)
				f[2] = strconv.FormatUint(uint64(serial), 10)
				recs[i].Value = strings.Join(f, " ")
			}
		}
	}
	if _, err := s.st.GetZone(ctx, name); errors.Is(err, apperr.NotFound) {
		serial := next(0)
		withNext(serial)
		return serial, s.createWhole(ctx, name, serial, recs)
	} else if err != nil {
		return 0, err
	}
	z, err := s.st.EditZone(ctx, name, s.now(), func(z store.Zone, cur []store.Record) (store.ZoneEdit, error) {
		serial := next(z.Serial)
		withNext(serial)
		newRecs := toDNS(recs)
		if err := dns.CheckZone(dns.Zone{Name: origin, Serial: serial, Records: newRecs}); err != nil {
			return store.ZoneEdit{}, invalid(err)
		}
		e := store.ZoneEdit{Serial: serial}
		removed, added := dns.DiffRecords(toDNS(cur), newRecs)
		e.Delete, e.Add = diffEdit(cur, removed, added)
		rj, _ := json.Marshal(removed)
		aj, _ := json.Marshal(added)
		e.Journal = &store.ZoneChange{From: z.Serial, To: serial, Removed: string(rj), Added: string(aj)}
		return e, nil
	})
	if err != nil {
		return 0, err
	}
	s.changed(ctx, z)
	return z.Serial, nil
}

// diffEdit turns a whole zone's difference into a store edit: the IDs of
// the records removed and the records added, so that a change of one
// record writes one row, not the whole zone again.
func diffEdit(cur []store.Record, removed, added []dns.Record) ([]int64, []store.Record) {
	gone := make(map[dns.Record]int, len(removed))
	for _, r := range removed {
		gone[r]++
	}
	var del []int64
	for _, r := range cur {
		k := dns.Record{Name: r.Name, Type: r.Type, TTL: r.TTL, Data: r.Value}
		if gone[k] > 0 {
			gone[k]--
			del = append(del, r.ID)
		}
	}
	add := make([]store.Record, 0, len(added))
	for _, r := range added {
		add = append(add, store.Record{Name: r.Name, Type: r.Type, TTL: r.TTL, Value: r.Data})
	}
	return del, add
}

// errStaleBase is the answer to changes sent for a serial this member does
// not have: the sender sends the whole zone instead.
func errStaleBase(name string, have, base uint32) error {
	return apperr.New(apperr.Conflict, "zone %s is at serial %d here, not %d: send the whole zone", name, have, base)
}

// applyDeltas applies the changes of in.Deltas, in order, to a zone that
// is at serial in.Deltas[0].From here, in one transaction.
func (s *Service) applyDeltas(ctx context.Context, name string, in api.ClusterZone) (api.ClusterApplied, error) {
	origin := name + "."
	res := api.ClusterApplied{Zone: name, Serial: in.Serial}
	norm := func(rs []api.ClusterRecord) ([]dns.Record, error) {
		out := make([]dns.Record, 0, len(rs))
		for _, r := range rs {
			nr, err := dns.NormalizeRecord(origin, dns.Record{Name: r.Name, Type: r.Type, TTL: r.TTL, Data: r.Data})
			if err != nil {
				return nil, invalid(err)
			}
			out = append(out, nr)
		}
		return out, nil
	}
	type step struct{ removed, added []dns.Record }
	steps := make([]step, 0, len(in.Deltas))
	for i, d := range in.Deltas {
		if i > 0 && d.From != in.Deltas[i-1].To {
			return res, apperr.New(apperr.Invalid, "zone %s: change %d starts at serial %d, not at %d where the previous one ended", name, i, d.From, in.Deltas[i-1].To)
		}
		rm, err := norm(d.Removed)
		if err != nil {
			return res, err
		}
		add, err := norm(d.Added)
		if err != nil {
			return res, err
		}
		steps = append(steps, step{rm, add})
	}
	if last := in.Deltas[len(in.Deltas)-1].To; last != in.Serial {
		return res, apperr.New(apperr.Invalid, "zone %s: the changes end at serial %d, not at the %d sent", name, last, in.Serial)
	}
	base := in.Deltas[0].From
	z, err := s.st.EditZone(ctx, name, s.now(), func(z store.Zone, cur []store.Record) (store.ZoneEdit, error) {
		e := store.ZoneEdit{Serial: z.Serial}
		if z.Serial == in.Serial {
			return e, errNoChange // applied already
		}
		if z.Serial != base {
			return e, errStaleBase(name, z.Serial, base)
		}
		have := toDNS(cur)
		count := make(map[dns.Record]int, len(have))
		for _, r := range have {
			count[r]++
		}
		var added []dns.Record
		for _, st := range steps {
			for _, r := range st.removed {
				if count[r] == 0 {
					return e, errStaleBase(name, z.Serial, base) // not the version the changes were made on
				}
				count[r]--
			}
			for _, r := range st.added {
				count[r]++
				added = append(added, r)
			}
		}
		var next []dns.Record
		for _, r := range append(have, added...) {
			if count[r] > 0 {
				count[r]--
				next = append(next, r)
			}
		}
		serial, soas := uint32(0), 0
		for _, r := range next {
			if n, ok := soaSerial(r.Data); r.Type == "SOA" && ok {
				serial, soas = n, soas+1
			}
		}
		if soas != 1 || serial != in.Serial {
			return e, apperr.New(apperr.Invalid, "zone %s: after the changes the zone has %d SOA records and serial %d, want one with serial %d", name, soas, serial, in.Serial)
		}
		if err := dns.CheckZone(dns.Zone{Name: origin, Serial: in.Serial, Records: next}); err != nil {
			return e, invalid(err)
		}
		removed, addedNow := dns.DiffRecords(have, next)
		e.Delete, e.Add = diffEdit(cur, removed, addedNow)
		e.Serial = in.Serial
		rj, _ := json.Marshal(removed)
		aj, _ := json.Marshal(addedNow)
		e.Journal = &store.ZoneChange{From: z.Serial, To: in.Serial, Removed: string(rj), Added: string(aj)}
		return e, nil
	})
	switch {
	case errors.Is(err, errNoChange):
		return res, nil
	case errors.Is(err, apperr.NotFound):
		return res, errStaleBase(name, 0, base)
	case err != nil:
		return res, err
	}
	s.changed(ctx, z)
	res.Changed = true
	return res, nil
}

// ReplicaDeltas is a zone as the changes since serial from, for a member
// that has that serial: from the journal, when it reaches back that far
// without a gap. A signed zone is always sent whole (its keys with it).
// NotFound: no such chain; send the whole zone.
func (s *Service) ReplicaDeltas(ctx context.Context, zone string, from uint32) (api.ClusterZone, error) {
	name, err := zoneName(zone)
	if err != nil {
		return api.ClusterZone{}, err
	}
	z, err := s.st.GetZone(ctx, name)
	if err != nil {
		return api.ClusterZone{}, err
	}
	noChain := apperr.New(apperr.NotFound, "zone %s: no change log from serial %d", name, from)
	if z.Serial == from {
		return api.ClusterZone{}, noChain
	}
	if sig, err := s.signing(ctx, z); err != nil || sig != nil {
		if err != nil {
			return api.ClusterZone{}, err
		}
		return api.ClusterZone{}, noChain
	}
	journal, err := s.st.ZoneJournal(ctx, z.ID)
	if err != nil {
		return api.ClusterZone{}, err
	}
	start := -1
	for i, j := range journal {
		if j.From == from {
			start = i
		}
	}
	if start < 0 || journal[len(journal)-1].To != z.Serial {
		return api.ClusterZone{}, noChain
	}
	out := api.ClusterZone{Serial: z.Serial}
	conv := func(js string) ([]api.ClusterRecord, error) {
		var rs []dns.Record
		if err := json.Unmarshal([]byte(js), &rs); err != nil {
			return nil, err
		}
		o := make([]api.ClusterRecord, 0, len(rs))
		for _, r := range rs {
			o = append(o, api.ClusterRecord{Name: r.Name, Type: r.Type, TTL: r.TTL, Data: r.Data})
		}
		return o, nil
	}
	for i, j := range journal[start:] {
		if i > 0 && j.From != journal[start+i-1].To {
			return api.ClusterZone{}, noChain
		}
		rm, err1 := conv(j.Removed)
		add, err2 := conv(j.Added)
		if err1 != nil || err2 != nil {
			return api.ClusterZone{}, noChain
		}
		out.Deltas = append(out.Deltas, api.ClusterDelta{From: j.From, To: j.To, Removed: rm, Added: add})
	}
	for i := len(out.Deltas) - 1; i >= 0; i-- {
		out.History = append(out.History, out.Deltas[i].From)
	}
	return out, nil
}
