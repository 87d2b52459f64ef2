// Package zones is the zone service: it validates zones and records with
// internal/dns's rules, keeps them in the store (the source of truth) with a
// serial that increases on every change and a journal for IXFR, and pushes
// each new version of a zone to the nameserver's in-memory snapshot, so a
// change is served milliseconds after it is committed.
package zones

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/sealbox"
	"github.com/poolctl/poolctl/internal/store"
)

// Sink receives complete zones; *dns.Server implements it.
type Sink interface {
	LoadZone(z dns.Zone) error
	RemoveZone(name string)
}

// Events records what changed.
type Events interface {
	Emit(ctx context.Context, e api.Event) api.Event
}

// Config configures a Service.
type Config struct {
	Store  *store.Store
	Sink   Sink // nil: zones are kept but not served
	Events Events
	Now    func() time.Time
	// SerialScheme is "unixtime" (default) or "date".
	SerialScheme string
	Logger       *slog.Logger
	// OnChange, when set, is told the name of every zone changed, created
	// or deleted here (the DNS cluster pushes it to its members). It must
	// not block.
	OnChange func(zone string)
	// MasterKey seals the zones' DNSSEC private keys in the store.
	MasterKey [32]byte
	// DNSSEC tunes signing and rollovers.
	DNSSEC DNSSECConfig
}

// Service manages zones.
type Service struct {
	cfg Config
	st  *store.Store
	now func() time.Time
	log *slog.Logger
	// mu orders pushes so an older version never replaces a newer one.
	mu sync.Mutex
	// served holds the serial last pushed per zone, for Sync.
	served map[string]uint32
	// journals are the parsed changes of each zone's journal by zone ID,
	// so that a change parses only its own entry, not the whole journal.
	jmu      sync.Mutex
	journals map[int64]map[[2]uint32]dns.Delta
	// box seals DNSSEC private keys; dnssecMu orders DNSSEC changes.
	box      *sealbox.Box
	dnssecMu sync.Mutex
}

// New returns a zone service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SerialScheme == "" {
		cfg.SerialScheme = "unixtime"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg, st: cfg.Store, now: cfg.Now, log: cfg.Logger.With("component", "zones"), box: sealbox.New(cfg.MasterKey)}
}

func invalid(err error) error {
	if err == nil || apperr.KindOf(err) != nil {
		return err
	}
	return apperr.Wrap(apperr.Invalid, err, "invalid")
}

// zoneName canonicalises a zone name for the store: lower case, no
// trailing dot.
func zoneName(s string) (string, error) {
	c, err := dns.CanonicalZoneName(s)
	if err != nil {
		return "", apperr.New(apperr.Invalid, "zone name %q: %v", s, err)
	}
	return strings.TrimSuffix(c, "."), nil
}

func (s *Service) emit(ctx context.Context, e api.Event) {
	if s.cfg.Events != nil {
		s.cfg.Events.Emit(ctx, e)
	}
}

// BatchSink is a Sink that also loads many zones at once (the nameserver:
// built on every core, published together).
type BatchSink interface {
	LoadZones(zs []dns.Zone) []error
}

// LoadAll pushes every stored zone to the sink (at start-up), in batches
// to a BatchSink.
func (s *Service) LoadAll(ctx context.Context) error {
	zs, err := s.st.ListZones(ctx)
	if err != nil {
		return err
	}
	batch, ok := s.cfg.Sink.(BatchSink)
	if !ok {
		for _, z := range zs {
			if err := s.push(ctx, z); err != nil {
				s.log.Error("zone not served", "zone", z.Name, "err", err)
			}
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	byID := make(map[int64]store.Zone, len(zs))
	for _, z := range zs {
		byID[z.ID] = z
	}
	ids, err := s.st.SignedZoneIDs(ctx)
	if err != nil {
		return err
	}
	signed := make(map[int64]bool, len(ids))
	for _, id := range ids {
		signed[id] = true
	}
	if s.served == nil {
		s.served = map[string]uint32{}
	}
	// The zones are read in a few ID ranges at once, and the nameserver
	// builds each batch while the next is read.
	const per = 1000 // zones read before they are handed over
	batches := make(chan []dns.Zone, 1)
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		for part := range batches {
			for _, err := range batch.LoadZones(part) {
				s.log.Error("zone not served", "err", err)
			}
		}
	}()
	zoneIDs := make([]int64, 0, len(zs))
	for _, z := range zs {
		zoneIDs = append(zoneIDs, z.ID)
	}
	slices.Sort(zoneIDs)
	readers := max(1, min(runtime.GOMAXPROCS(0), len(zoneIDs)/per))
	var (
		servedMu sync.Mutex
		wg       sync.WaitGroup
		errs     = make([]error, readers)
	)
	for r := range readers {
		lo, hi := len(zoneIDs)*r/readers, len(zoneIDs)*(r+1)/readers
		if lo == hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var part []dns.Zone
			hand := func() {
				servedMu.Lock()
				for _, dz := range part {
					s.served[strings.TrimSuffix(dz.Name, ".")] = dz.Serial
				}
				servedMu.Unlock()
				batches <- part
				part = nil
			}
			// Every zone has its SOA, so every zone has records.
			errs[r] = s.st.EachZoneRecords(ctx, zoneIDs[lo], zoneIDs[hi-1], func(id int64, recs []store.Record, journal []store.ZoneChange) error {
				z, ok := byID[id]
				if !ok {
					return nil // created after the list was read: served by its change
				}
				dz, err := s.assemble(ctx, z, recs, journal, signed[id])
				if err != nil {
					s.log.Error("zone not served", "zone", z.Name, "err", err)
					return nil
				}
				if part = append(part, dz); len(part) == per {
					hand()
				}
				return nil
			})
			hand()
		}()
	}
	wg.Wait()
	close(batches)
	<-loaded
	return errors.Join(errs...)
}

// changed serves zone z after a change made here and tells OnChange; a
// zone served at start or changed through another replica is only pushed
// (that replica tells its own cluster).
func (s *Service) changed(ctx context.Context, z store.Zone) {
	// The cluster first: it reads the committed change from the store and
	// sends it to the members while this server rebuilds its own answer.
	s.notify(z.Name)
	if err := s.push(ctx, z); err != nil {
		s.log.Error("serve changed zone", "zone", z.Name, "err", err)
	}
}

func (s *Service) notify(zone string) {
	if s.cfg.OnChange != nil {
		s.cfg.OnChange(zone)
	}
}

// push loads zone z from the store and hands it to the sink.
func (s *Service) push(ctx context.Context, z store.Zone) error {
	if s.cfg.Sink == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dz, err := s.build(ctx, z)
	if err != nil {
		return err
	}
	if err := s.cfg.Sink.LoadZone(dz); err != nil {
		return err
	}
	if s.served == nil {
		s.served = map[string]uint32{}
	}
	s.served[z.Name] = dz.Serial
	return nil
}

// Sync serves zones changed or deleted through another server replica
// sharing the store: it compares the stored serials with those served.
// Run calls it periodically.
func (s *Service) Sync(ctx context.Context) error {
	if s.cfg.Sink == nil {
		return nil
	}
	zs, err := s.st.ListZones(ctx)
	if err != nil {
		return err
	}
	stored := map[string]bool{}
	for _, z := range zs {
		stored[z.Name] = true
		s.mu.Lock()
		cur, ok := s.served[z.Name]
		s.mu.Unlock()
		if !ok || cur != z.Serial {
			if err := s.push(ctx, z); err != nil {
				s.log.Error("serve zone changed elsewhere", "zone", z.Name, "err", err)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.served {
		if !stored[name] {
			s.cfg.Sink.RemoveZone(name + ".")
			delete(s.served, name)
		}
	}
	return nil
}

// Run keeps the served zones in step with the store until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("sync zones", "err", err)
			}
		}
	}
}

func (s *Service) build(ctx context.Context, z store.Zone) (dns.Zone, error) {
	recs, err := s.st.ZoneRecords(ctx, z.ID)
	if err != nil {
		return dns.Zone{}, err
	}
	journal, err := s.st.ZoneJournal(ctx, z.ID)
	if err != nil {
		return dns.Zone{}, err
	}
	return s.assemble(ctx, z, recs, journal, true)
}

// assemble is zone z as the nameserver takes it, from its records and
// journal; signed tells whether to look for its DNSSEC keys.
func (s *Service) assemble(ctx context.Context, z store.Zone, recs []store.Record, journal []store.ZoneChange, signed bool) (dns.Zone, error) {
	dz := dns.Zone{Name: z.Name + ".", Serial: z.Serial, Records: toDNS(recs)}
	if signed {
		var err error
		if dz.DNSSEC, err = s.signing(ctx, z); err != nil {
			return dz, err
		}
	}
	dz.Journal = s.parseJournal(z.ID, journal)
	// Keep only a contiguous tail ending at the current serial.
	for i := len(dz.Journal) - 1; i > 0; i-- {
		if dz.Journal[i-1].To != dz.Journal[i].From {
			dz.Journal = dz.Journal[i:]
			break
		}
	}
	if n := len(dz.Journal); n > 0 && dz.Journal[n-1].To != z.Serial {
		dz.Journal = nil
	}
	return dz, nil
}

func toDNS(recs []store.Record) []dns.Record {
	out := make([]dns.Record, len(recs))
	for i, r := range recs {
		out[i] = dns.Record{Name: r.Name, Type: r.Type, TTL: r.TTL, Data: r.Value}
	}
	return out
}

func recordAPI(zone string, r store.Record) api.Record {
	name := strings.TrimSuffix(r.Name, ".")
	switch {
	case name == zone:
		name = "@"
	case strings.HasSuffix(name, "."+zone):
		name = strings.TrimSuffix(name, "."+zone)
	}
	return api.Record{ID: r.ID, Zone: zone, Name: name, Type: r.Type, TTL: int(r.TTL), Value: r.Value, Managed: r.Managed}
}

func zoneAPI(z store.Zone) api.Zone {
	return api.Zone{Name: z.Name, Serial: z.Serial, RecordCount: z.RecordCount, CreatedAt: z.CreatedAt, UpdatedAt: z.UpdatedAt}
}

// List returns the zones.
func (s *Service) List(ctx context.Context) ([]api.Zone, error) {
	zs, err := s.st.ListZones(ctx)
	out := make([]api.Zone, 0, len(zs))
	for _, z := range zs {
		out = append(out, zoneAPI(z))
	}
	return out, err
}

// Get returns one zone.
func (s *Service) Get(ctx context.Context, zone string) (api.Zone, error) {
	name, err := zoneName(zone)
	if err != nil {
		return api.Zone{}, err
	}
	z, err := s.st.GetZone(ctx, name)
	return zoneAPI(z), err
}

// Create creates a zone with its SOA and apex NS records.
func (s *Service) Create(ctx context.Context, in api.ZoneCreate) (api.Zone, error) {
	name, err := zoneName(in.Name)
	if err != nil {
		return api.Zone{}, err
	}
	ns := in.Nameservers
	if len(ns) == 0 {
		ns = []string{"ns1." + name}
	}
	email := in.Email
	if email == "" {
		email = "hostmaster." + name
	}
	mbox := strings.Replace(strings.TrimSuffix(email, "."), "@", ".", 1) + "."
	serial := dns.NextSerial(0, s.now(), s.cfg.SerialScheme)
	origin := name + "."
	raw := []dns.Record{{Name: origin, Type: "SOA", TTL: 3600,
		Data: fmt.Sprintf("%s %s %d 3600 600 1209600 300", fqdn(ns[0]), mbox, serial)}}
	for _, n := range ns {
		raw = append(raw, dns.Record{Name: origin, Type: "NS", TTL: 3600, Data: fqdn(n)})
	}
	var recs []store.Record
	for _, r := range raw {
		nr, err := dns.NormalizeRecord(origin, r)
		if err != nil {
			return api.Zone{}, invalid(err)
		}
		recs = append(recs, store.Record{Name: nr.Name, Type: nr.Type, TTL: nr.TTL, Value: nr.Data})
	}
	if err := dns.CheckZone(dns.Zone{Name: origin, Serial: serial, Records: toDNS(recs)}); err != nil {
		return api.Zone{}, invalid(err)
	}
	z := store.Zone{Name: name, Serial: serial}
	if err := s.st.CreateZone(ctx, &z, recs, s.now()); err != nil {
		return api.Zone{}, err
	}
	z.RecordCount = len(recs)
	s.changed(ctx, z)
	s.emit(ctx, api.Event{Kind: "zone.created", Message: fmt.Sprintf("zone %s created (serial %d)", name, serial)})
	return zoneAPI(z), nil
}

func fqdn(s string) string {
	if strings.HasSuffix(s, ".") {
		return strings.ToLower(s)
	}
	return strings.ToLower(s) + "."
}

// Delete deletes a zone.
func (s *Service) Delete(ctx context.Context, zone string) error {
	name, err := zoneName(zone)
	if err != nil {
		return err
	}
	z, err := s.st.GetZone(ctx, name)
	if err != nil {
		return err
	}
	if err := s.st.DeleteZone(ctx, z.ID); err != nil {
		return err
	}
	defer s.notify(name)
	if s.cfg.Sink != nil {
		s.mu.Lock()
		s.cfg.Sink.RemoveZone(name + ".")
		delete(s.served, name)
		s.mu.Unlock()
	}
	s.emit(ctx, api.Event{Kind: "zone.deleted", Message: fmt.Sprintf("zone %s deleted", name)})
	return nil
}

// Records lists a zone's records.
func (s *Service) Records(ctx context.Context, zone string) ([]api.Record, error) {
	name, err := zoneName(zone)
	if err != nil {
		return nil, err
	}
	z, err := s.st.GetZone(ctx, name)
	if err != nil {
		return nil, err
	}
	recs, err := s.st.ZoneRecords(ctx, z.ID)
	out := make([]api.Record, 0, len(recs))
	for _, r := range recs {
		out = append(out, recordAPI(name, r))
	}
	return out, err
}

// change is an edit of a zone's record set: the records to drop and add.
type change struct {
	drop func(r store.Record) bool
	add  []dns.Record
	// replaceSOA, when set, takes the SOA's fields (not its serial).
	replaceSOA *dns.Record
	managed    string
	// lateAdd, when set, is called after drop has seen every record and
	// returns more records to add (rewrites that depend on what drop saw).
	lateAdd func() ([]dns.Record, error)
}

// edit applies c to a zone atomically: checks the resulting zone as a whole,
// bumps the serial, journals the difference, commits, then serves it.
func (s *Service) edit(ctx context.Context, name string, c change) (store.Zone, []store.Record, error) {
	var added []store.Record
	origin := name + "."
	z, err := s.st.EditZone(ctx, name, s.now(), func(z store.Zone, recs []store.Record) (store.ZoneEdit, error) {
		var (
			e         store.ZoneEdit
			keep      []store.Record
			oldSOA    store.Record
			oldRecs   = toDNS(recs)
			newRecs   []dns.Record
			dropped   = map[int64]bool{}
			additions []store.Record
		)
		for _, r := range recs {
			if r.Type == "SOA" {
				oldSOA = r
				continue
			}
			if c.drop != nil && c.drop(r) {
				dropped[r.ID] = true
				e.Delete = append(e.Delete, r.ID)
				continue
			}
			keep = append(keep, r)
		}
		adds := c.add
		if c.lateAdd != nil {
			more, err := c.lateAdd()
			if err != nil {
				return e, err
			}
			adds = append(slices.Clip(adds), more...)
		}
		for _, r := range adds {
			nr, err := dns.NormalizeRecord(origin, r)
			if err != nil {
				return e, invalid(err)
			}
			if nr.Type == "SOA" {
				return e, apperr.New(apperr.Invalid, "a zone has exactly one SOA, kept by poolctl; change it with a zone import")
			}
			dup := false
			for _, k := range keep {
				if k.Name == nr.Name && k.Type == nr.Type && k.Value == nr.Data {
					dup = true
				}
			}
			for _, a := range additions {
				if a.Name == nr.Name && a.Type == nr.Type && a.Value == nr.Data {
					dup = true
				}
			}
			if dup {
				if c.managed != "" {
					continue
				}
				return e, apperr.New(apperr.Conflict, "record %s %s %s already exists", nr.Name, nr.Type, nr.Data)
			}
			additions = append(additions, store.Record{Name: nr.Name, Type: nr.Type, TTL: nr.TTL, Value: nr.Data, Managed: c.managed})
		}
		if len(e.Delete) == 0 && len(additions) == 0 && c.replaceSOA == nil {
			e.Serial = z.Serial
			return e, errNoChange
		}
		e.Serial = dns.NextSerial(z.Serial, s.now(), s.cfg.SerialScheme)
		soa, err := withSerial(origin, oldSOA, c.replaceSOA, e.Serial)
		if err != nil {
			return e, err
		}
		e.Delete = append(e.Delete, oldSOA.ID)
		additions = append(additions, soa)
		for _, k := range keep {
			newRecs = append(newRecs, dns.Record{Name: k.Name, Type: k.Type, TTL: k.TTL, Data: k.Value})
		}
		newRecs = append(newRecs, toDNS(additions)...)
		if err := dns.CheckZone(dns.Zone{Name: origin, Serial: e.Serial, Records: newRecs}); err != nil {
			return e, invalid(err)
		}
		removed, addedRecs := dns.DiffRecords(oldRecs, newRecs)
		rj, _ := json.Marshal(removed)
		aj, _ := json.Marshal(addedRecs)
		e.Journal = &store.ZoneChange{From: z.Serial, To: e.Serial, Removed: string(rj), Added: string(aj)}
		e.Add = additions
		added = additions
		return e, nil
	})
	if errors.Is(err, errNoChange) {
		cur, gerr := s.st.GetZone(ctx, name)
		return cur, nil, gerr
	}
	if err != nil {
		return z, nil, err
	}
	s.changed(ctx, z)
	return z, added, nil
}

var errNoChange = errors.New("no change")

// withSerial returns the zone's SOA (or repl's fields) with serial.
func withSerial(origin string, old store.Record, repl *dns.Record, serial uint32) (store.Record, error) {
	src := dns.Record{Name: old.Name, Type: "SOA", TTL: old.TTL, Data: old.Value}
	if repl != nil {
		src = *repl
	}
	f := strings.Fields(src.Data)
	if len(f) != 7 {
		return store.Record{}, apperr.New(apperr.Invalid, "SOA %q is malformed", src.Data)
	}
	f[2] = fmt.Sprint(serial)
	nr, err := dns.NormalizeRecord(origin, dns.Record{Name: origin, Type: "SOA", TTL: src.TTL, Data: strings.Join(f, " ")})
	if err != nil {
		return store.Record{}, invalid(err)
	}
	return store.Record{Name: nr.Name, Type: "SOA", TTL: nr.TTL, Value: nr.Data}, nil
}

// AddRecord adds one record.
func (s *Service) AddRecord(ctx context.Context, zone string, in api.RecordCreate) (api.Record, error) {
	name, err := zoneName(zone)
	if err != nil {
		return api.Record{}, err
	}
	if in.TTL < 0 {
		return api.Record{}, apperr.New(apperr.Invalid, "ttl %d must not be negative", in.TTL)
	}
	ttl := uint32(in.TTL)
	if ttl == 0 {
		ttl = 3600
	}
	if strings.TrimSpace(in.Name) == "" {
		in.Name = "@"
	}
	_, added, err := s.edit(ctx, name, change{add: []dns.Record{{Name: in.Name, Type: strings.ToUpper(in.Type), TTL: ttl, Data: in.Value}}})
	if err != nil {
		return api.Record{}, err
	}
	r := added[0]
	s.emit(ctx, api.Event{Kind: "record.added", Message: fmt.Sprintf("record %s %s %s added to zone %s", r.Name, r.Type, r.Value, name)})
	return recordAPI(name, r), nil
}

// DeleteRecord deletes one record by ID.
func (s *Service) DeleteRecord(ctx context.Context, zone string, id int64) error {
	name, err := zoneName(zone)
	if err != nil {
		return err
	}
	var found, managed *store.Record
	_, _, err = s.edit(ctx, name, change{drop: func(r store.Record) bool {
		if r.ID == id && r.Managed != "" {
			cp := r
			managed = &cp
			return false
		}
		if r.ID == id {
			cp := r
			found = &cp
			return true
		}
		return false
	}})
	if err != nil {
		return err
	}
	if managed != nil {
		return apperr.New(apperr.Conflict, "record %s %s %s is kept by poolctl (%s): change or clear the failover record of its pool instead of deleting it",
			managed.Name, managed.Type, managed.Value, managed.Managed)
	}
	if found == nil {
		return apperr.New(apperr.NotFound, "record %d not found in zone %s (the SOA cannot be deleted)", id, name)
	}
	s.emit(ctx, api.Event{Kind: "record.deleted", Message: fmt.Sprintf("record %s %s %s deleted from zone %s", found.Name, found.Type, found.Value, name)})
	return nil
}

// Import loads zone-file text: merged into the zone, or replacing every
// record poolctl does not manage itself when in.Replace is set.
func (s *Service) Import(ctx context.Context, zone string, in api.ZoneImport) (api.ZoneImportResult, error) {
	name, err := zoneName(zone)
	if err != nil {
		return api.ZoneImportResult{}, err
	}
	recs, err := dns.ParseZoneFile(name+".", strings.NewReader(in.Text))
	if err != nil {
		return api.ZoneImportResult{}, invalid(err)
	}
	if _, err := s.st.GetZone(ctx, name); errors.Is(err, apperr.NotFound) {
		return s.importNew(ctx, name, recs)
	} else if err != nil {
		return api.ZoneImportResult{}, err
	}
	var c change
	for i := range recs {
		if recs[i].Type == "SOA" {
			if in.Replace {
				soa := recs[i]
				c.replaceSOA = &soa
			}
			continue
		}
		c.add = append(c.add, recs[i])
	}
	removed := 0
	if in.Replace {
		c.drop = func(r store.Record) bool {
			if r.Managed == "" {
				removed++
				return true
			}
			return false
		}
	}
	c.add = dedupe(c.add)
	if !in.Replace {
		// Merge: skip records that already exist.
		cur, err := s.Records(ctx, name)
		if err != nil {
			return api.ZoneImportResult{}, err
		}
		have := map[string]bool{}
		for _, r := range cur {
			nr, err := dns.NormalizeRecord(name+".", dns.Record{Name: r.Name, Type: r.Type, TTL: uint32(r.TTL), Data: r.Value})
			if err == nil {
				have[nr.Name+" "+nr.Type+" "+nr.Data] = true
			}
		}
		var add []dns.Record
		for _, r := range c.add {
			nr, err := dns.NormalizeRecord(name+".", r)
			if err != nil {
				return api.ZoneImportResult{}, invalid(err)
			}
			if !have[nr.Name+" "+nr.Type+" "+nr.Data] {
				add = append(add, r)
			}
		}
		c.add = add
	}
	_, added, err := s.edit(ctx, name, c)
	if err != nil {
		return api.ZoneImportResult{}, err
	}
	n := len(added)
	if n > 0 {
		n-- // the rewritten SOA
	}
	s.emit(ctx, api.Event{Kind: "zone.imported", Message: fmt.Sprintf("zone %s imported: %d records added, %d removed", name, n, removed)})
	return api.ZoneImportResult{Zone: name, Added: n, Removed: removed}, nil
}

// importNew creates zone name from a zone file in one step, as a BIND user
// expects: the file's SOA (names, timers, TTL and serial) and every record,
// written in one transaction, so a file that fails a check creates nothing.
func (s *Service) importNew(ctx context.Context, name string, recs []dns.Record) (api.ZoneImportResult, error) {
	out, serial, soas, err := wholeZone(name+".", recs)
	if err != nil {
		return api.ZoneImportResult{}, err
	}
	switch {
	case soas == 0:
		return api.ZoneImportResult{}, apperr.New(apperr.Invalid, "zone %s does not exist and the file has no SOA record to create it from: add one, or create the zone first (poolctl zone create %s) and import into it", name, name)
	case soas > 1:
		return api.ZoneImportResult{}, apperr.New(apperr.Invalid, "the file has %d SOA records; a zone has one", soas)
	}
	if serial == 0 {
		serial = dns.NextSerial(0, s.now(), s.cfg.SerialScheme)
	}
	if err := s.createWhole(ctx, name, serial, out); err != nil {
		return api.ZoneImportResult{}, err
	}
	s.emit(ctx, api.Event{Kind: "zone.imported", Message: fmt.Sprintf("zone %s created from a zone file: %d records, serial %d", name, len(out)-1, serial)})
	return api.ZoneImportResult{Zone: name, Created: true, Added: len(out) - 1, Serial: serial}, nil
}

// wholeZone normalizes the records of a whole zone (a zone file) for the
// store, without duplicates, and counts its SOA records; serial is the
// (last) SOA's.
func wholeZone(origin string, recs []dns.Record) (out []store.Record, serial uint32, soas int, err error) {
	for _, r := range dedupe(recs) {
		nr, err := dns.NormalizeRecord(origin, r)
		if err != nil {
			return nil, 0, 0, invalid(err)
		}
		if nr.Type == "SOA" {
			soas++
			serial, _ = soaSerial(nr.Data)
		}
		out = append(out, store.Record{Name: nr.Name, Type: nr.Type, TTL: nr.TTL, Value: nr.Data})
	}
	return out, serial, soas, nil
}

// soaSerial is the serial field of SOA RDATA.
func soaSerial(data string) (uint32, bool) {
	f := strings.Fields(data)
	if len(f) != 7 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[2], 10, 32)
	return uint32(n), err == nil
}

// createWhole checks and stores a new zone with its records (SOA included)
// in one transaction, then serves it.
func (s *Service) createWhole(ctx context.Context, name string, serial uint32, recs []store.Record) error {
	if err := dns.CheckZone(dns.Zone{Name: name + ".", Serial: serial, Records: toDNS(recs)}); err != nil {
		return invalid(err)
	}
	z := store.Zone{Name: name, Serial: serial}
	if err := s.st.CreateZone(ctx, &z, recs, s.now()); err != nil {
		return err
	}
	z.RecordCount = len(recs)
	s.changed(ctx, z)
	return nil
}

func dedupe(in []dns.Record) []dns.Record {
	seen := map[string]bool{}
	var out []dns.Record
	for _, r := range in {
		k := r.Name + " " + r.Type + " " + r.Data
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

// Export returns the zone as RFC 1035 text.
func (s *Service) Export(ctx context.Context, zone string) (string, error) {
	name, err := zoneName(zone)
	if err != nil {
		return "", err
	}
	z, err := s.st.GetZone(ctx, name)
	if err != nil {
		return "", err
	}
	dz, err := s.build(ctx, z)
	if err != nil {
		return "", err
	}
	dz.Journal = nil
	return dns.FormatZone(dz), nil
}

// findZone returns the served zone that contains fqdn (longest match).
func (s *Service) findZone(ctx context.Context, fqdn string) (store.Zone, error) {
	zs, err := s.st.ListZones(ctx)
	if err != nil {
		return store.Zone{}, err
	}
	sort.Slice(zs, func(i, j int) bool { return len(zs[i].Name) > len(zs[j].Name) })
	for _, z := range zs {
		if fqdn == z.Name || strings.HasSuffix(fqdn, "."+z.Name) {
			return z, nil
		}
	}
	return store.Zone{}, apperr.New(apperr.Invalid, "%s is not in a zone poolctl serves; create the zone first (poolctl zone create ZONE)", fqdn)
}

// CheckFailoverRecord confirms a pool's failover record can be managed:
// it lies in a served zone and no CNAME or unmanaged address record holds
// the name.
func (s *Service) CheckFailoverRecord(ctx context.Context, fqdn string) error {
	fqdn = strings.TrimSuffix(strings.ToLower(fqdn), ".")
	z, err := s.findZone(ctx, fqdn)
	if err != nil {
		return err
	}
	recs, err := s.st.ZoneRecords(ctx, z.ID)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.Name == fqdn+"." && r.Managed == "" && (r.Type == "CNAME" || r.Type == "A" || r.Type == "AAAA") {
			return apperr.New(apperr.Conflict, "%s already has a %s record (%s) that poolctl does not manage; delete it first (poolctl record delete %s %d)", fqdn, r.Type, r.Value, z.Name, r.ID)
		}
	}
	return nil
}

// PublishAddress points fqdn at addr (A for IPv4, AAAA for IPv6) with ttl,
// replacing the address records tagged managed (at that name or, after the
// record was renamed, elsewhere) and nothing else. It is idempotent:
// publishing the current address changes nothing.
func (s *Service) PublishAddress(ctx context.Context, fqdn string, ttl int, addr netip.Addr, managed string) error {
	fqdn = strings.TrimSuffix(strings.ToLower(fqdn), ".")
	z, err := s.findZone(ctx, fqdn)
	if err != nil {
		return err
	}
	typ := "A"
	if addr.Is6() && !addr.Is4In6() {
		typ = "AAAA"
	}
	addr = addr.Unmap()
	_, _, err = s.edit(ctx, z.Name, change{
		managed: managed,
		drop: func(r store.Record) bool {
			if r.Managed != managed {
				return false
			}
			if r.Name == fqdn+"." && r.Type == typ && r.Value == addr.String() && int(r.TTL) == ttl {
				return false // already published: the addition below is skipped
			}
			return true
		},
		add: []dns.Record{{Name: fqdn + ".", Type: typ, TTL: uint32(ttl), Data: addr.String()}},
	})
	if err != nil {
		return err
	}
	return s.unpublishExcept(ctx, managed, z.Name)
}

// Unpublish removes the records tagged managed (pool deleted, record
// changed).
func (s *Service) Unpublish(ctx context.Context, managed string) error {
	return s.unpublishExcept(ctx, managed, "")
}

func (s *Service) unpublishExcept(ctx context.Context, managed, keepZone string) error {
	zs, err := s.st.ListZones(ctx)
	if err != nil {
		return err
	}
	for _, z := range zs {
		if z.Name == keepZone {
			continue
		}
		if _, _, err := s.edit(ctx, z.Name, change{drop: func(r store.Record) bool { return r.Managed == managed }}); err != nil {
			return err
		}
	}
	return nil
}

// parseJournal is a zone's journal as the nameserver takes it, each entry
// parsed once (cached by zone and serials; the cache keeps only the
// entries of the zone's current journal). An unreadable entry drops what
// came before it: IXFR clients then get the full zone.
func (s *Service) parseJournal(zoneID int64, journal []store.ZoneChange) []dns.Delta {
	s.jmu.Lock()
	defer s.jmu.Unlock()
	if s.journals == nil {
		s.journals = map[int64]map[[2]uint32]dns.Delta{}
	}
	old := s.journals[zoneID]
	cur := make(map[[2]uint32]dns.Delta, len(journal))
	var out []dns.Delta
	for _, j := range journal {
		k := [2]uint32{j.From, j.To}
		d, ok := old[k]
		if !ok {
			d = dns.Delta{From: j.From, To: j.To}
			if json.Unmarshal([]byte(j.Removed), &d.Removed) != nil || json.Unmarshal([]byte(j.Added), &d.Added) != nil {
				out = nil
				continue
			}
		}
		cur[k] = d
		out = append(out, d)
	}
	if len(cur) == 0 {
		delete(s.journals, zoneID)
	} else {
		s.journals[zoneID] = cur
	}
	return out
}
