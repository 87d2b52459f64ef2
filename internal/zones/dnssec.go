package zones

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/dnssec"
	"github.com/poolctl/poolctl/internal/store"
)

// DNSSEC of the zones served here: keys generated on enable, kept in the
// store with their private part sealed by the master key (AES-GCM), handed
// to the nameserver with every version of the zone (which signs it), and
// rolled over by resumable state machines whose state is in the store.
// Every DNSSEC change bumps the zone's serial, so secondaries and cluster
// members get the new DNSKEY set, and breaks the IXFR journal (IXFR cannot
// carry signatures: clients across the change get the whole zone).

// DNSSEC event kinds.
const (
	KindDNSSECEnabled   = "dnssec.enabled"
	KindDNSSECDisabled  = "dnssec.disabled"
	KindRolloverStarted = "dnssec.rollover_started"
	KindRolloverStep    = "dnssec.rollover_step"
	KindRolloverDone    = "dnssec.rollover_done"
)

// DNSSECConfig tunes signing and rollovers; zero values take the defaults.
type DNSSECConfig struct {
	// Propagation is how long a change takes to reach every nameserver,
	// added to each TTL a rollover waits (default 10 minutes).
	Propagation time.Duration
	// ParentDSTTL is the TTL of the DS RRset at the parent (default one day).
	ParentDSTTL time.Duration
	// Resign bumps the serial of signed zones unchanged for that long so
	// that secondaries transfer fresh signatures (default 3 days; the
	// nameserver re-signs its own copy before expiry regardless).
	Resign time.Duration
	// AllowStepWait accepts a rollover's step_wait (tests only).
	AllowStepWait bool
}

func (c DNSSECConfig) withDefaults() DNSSECConfig {
	if c.Propagation <= 0 {
		c.Propagation = 10 * time.Minute
	}
	if c.ParentDSTTL <= 0 {
		c.ParentDSTTL = 24 * time.Hour
	}
	if c.Resign <= 0 {
		c.Resign = 72 * time.Hour
	}
	return c
}

// journalBreak is a journal entry IXFR cannot express: its removals do not
// parse, so build cuts the journal there and clients get the whole zone.
const journalBreak = `"dnssec change: transfer the whole zone"`

func keyAAD(zone string, tag uint16) string {
	return "poolctl dnssec key v1 " + zone + " " + strconv.Itoa(int(tag))
}

func (s *Service) sealKey(zone string, tag uint16, der []byte) (string, error) {
	return s.box.Seal(der, keyAAD(zone, tag))
}

func (s *Service) openKey(zone string, k store.DNSSECKey) ([]byte, error) {
	der, err := s.box.Open(k.PrivateSealed, keyAAD(zone, k.Tag))
	if err != nil {
		return nil, fmt.Errorf("zone %s: the stored DNSSEC key %d %w", zone, k.Tag, err)
	}
	return der, nil
}

func (s *Service) openKeys(zone string, d store.ZoneDNSSEC) ([]dnssec.Key, error) {
	out := make([]dnssec.Key, 0, len(d.Keys))
	for _, k := range d.Keys {
		der, err := s.openKey(zone, k)
		if err != nil {
			return nil, err
		}
		out = append(out, dnssec.Key{Role: k.Role, Private: der, Publish: k.Publish, Sign: k.Sign, DS: k.DS})
	}
	return out, nil
}

// sealKeys turns keys into store rows for zone.
func (s *Service) sealKeys(zone string, keys []dnssec.Key, old []store.DNSSECKey) ([]store.DNSSECKey, error) {
	out := make([]store.DNSSECKey, 0, len(keys))
	for _, k := range keys {
		info, err := dnssec.Describe(zone, 0, k)
		if err != nil {
			return nil, err
		}
		sealed, err := s.sealKey(zone, info.Tag, k.Private)
		if err != nil {
			return nil, err
		}
		row := store.DNSSECKey{Role: k.Role, Tag: info.Tag, DNSKEY: info.DNSKEY, PrivateSealed: sealed, Publish: k.Publish, Sign: k.Sign, DS: k.DS}
		for _, o := range old {
			if o.Tag == info.Tag {
				row.CreatedAt = o.CreatedAt
			}
		}
		out = append(out, row)
	}
	return out, nil
}

// signing returns what the nameserver needs to sign zone z; nil when the
// zone is not signed.
func (s *Service) signing(ctx context.Context, z store.Zone) (*dns.Signing, error) {
	d, err := s.st.ZoneDNSSEC(ctx, z.ID)
	if errors.Is(err, apperr.NotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	keys, err := s.openKeys(z.Name, d)
	if err != nil {
		return nil, err
	}
	return &dns.Signing{Keys: keys}, nil
}

// editDNSSEC changes a zone's DNSSEC state with a new serial, atomically.
// fn gets the current state (nil when unsigned) and returns the new one,
// or nil to stop signing.
func (s *Service) editDNSSEC(ctx context.Context, name string, fn func(z store.Zone, cur *store.ZoneDNSSEC) (*store.ZoneDNSSEC, error)) (store.Zone, error) {
	s.dnssecMu.Lock()
	defer s.dnssecMu.Unlock()
	z0, err := s.st.GetZone(ctx, name)
	if err != nil {
		return z0, err
	}
	var cur *store.ZoneDNSSEC
	if d, err := s.st.ZoneDNSSEC(ctx, z0.ID); err == nil {
		cur = &d
	} else if !errors.Is(err, apperr.NotFound) {
		return z0, err
	}
	next, err := fn(z0, cur)
	if err != nil {
		return z0, err
	}
	origin := name + "."
	z, err := s.st.EditZone(ctx, name, s.now(), func(z store.Zone, recs []store.Record) (store.ZoneEdit, error) {
		e := store.ZoneEdit{Serial: dns.NextSerial(z.Serial, s.now(), s.cfg.SerialScheme), DNSSEC: next, DropDNSSEC: next == nil}
		for _, r := range recs {
			if r.Type != "SOA" {
				continue
			}
			soa, err := withSerial(origin, r, nil, e.Serial)
			if err != nil {
				return e, err
			}
			e.Delete, e.Add = []int64{r.ID}, []store.Record{soa}
		}
		e.Journal = &store.ZoneChange{From: z.Serial, To: e.Serial, Removed: journalBreak, Added: journalBreak}
		return e, nil
	})
	if err != nil {
		return z, err
	}
	s.changed(ctx, z)
	return z, nil
}

// EnableDNSSEC signs a zone: a KSK and a ZSK are generated and the zone is
// served signed at once. Its DS records (in the answer) go to the registrar.
func (s *Service) EnableDNSSEC(ctx context.Context, zone string) (api.DNSSECStatus, error) {
	name, err := zoneName(zone)
	if err != nil {
		return api.DNSSECStatus{}, err
	}
	_, err = s.editDNSSEC(ctx, name, func(z store.Zone, cur *store.ZoneDNSSEC) (*store.ZoneDNSSEC, error) {
		if cur != nil {
			return nil, apperr.New(apperr.Conflict, "zone %s is signed already (poolctl zone dnssec status %s)", name, name)
		}
		keys, err := dnssec.NewKeys()
		if err != nil {
			return nil, err
		}
		rows, err := s.sealKeys(name, keys, nil)
		if err != nil {
			return nil, err
		}
		return &store.ZoneDNSSEC{Origin: store.DNSSECLocal, Keys: rows}, nil
	})
	if err != nil {
		return api.DNSSECStatus{}, err
	}
	st, err := s.DNSSECStatus(ctx, name)
	if err == nil {
		s.emit(ctx, api.Event{Kind: KindDNSSECEnabled, Message: fmt.Sprintf("zone %s signed (DNSSEC); give the registrar its DS: %s", name, strings.Join(st.DS, "; "))})
	}
	return st, err
}

// DisableDNSSEC stops signing a zone and deletes its keys. The parent's DS
// must be removed first, or validators will find the zone bogus.
func (s *Service) DisableDNSSEC(ctx context.Context, zone string) error {
	name, err := zoneName(zone)
	if err != nil {
		return err
	}
	_, err = s.editDNSSEC(ctx, name, func(z store.Zone, cur *store.ZoneDNSSEC) (*store.ZoneDNSSEC, error) {
		if cur == nil {
			return nil, apperr.New(apperr.Conflict, "zone %s is not signed", name)
		}
		return nil, nil
	})
	if err != nil {
		return err
	}
	s.emit(ctx, api.Event{Kind: KindDNSSECDisabled, Message: fmt.Sprintf("zone %s no longer signed (DNSSEC keys deleted); its DS must be gone from the parent", name)})
	return nil
}

// DNSSECStatus returns a zone's DNSSEC state: keys, DS, CDS/CDNSKEY and
// the rollover.
func (s *Service) DNSSECStatus(ctx context.Context, zone string) (api.DNSSECStatus, error) {
	name, err := zoneName(zone)
	if err != nil {
		return api.DNSSECStatus{}, err
	}
	z, err := s.st.GetZone(ctx, name)
	if err != nil {
		return api.DNSSECStatus{}, err
	}
	out := api.DNSSECStatus{Zone: name, Keys: []api.DNSSECKey{}, DS: []string{}, CDS: []string{}, CDNSKEY: []string{}}
	d, err := s.st.ZoneDNSSEC(ctx, z.ID)
	if errors.Is(err, apperr.NotFound) {
		return out, nil
	}
	if err != nil {
		return out, err
	}
	keys, err := s.openKeys(name, d)
	if err != nil {
		return out, err
	}
	ttl, _ := s.zoneTTLs(ctx, z)
	out.Enabled, out.Origin = true, d.Origin
	out.Algorithm, out.Denial = "13 (ECDSAP256SHA256)", "NSEC3 1 0 0 -"
	for i, k := range keys {
		info, err := dnssec.Describe(name, ttl, k)
		if err != nil {
			return out, err
		}
		out.Keys = append(out.Keys, api.DNSSECKey{Role: info.Role, Tag: info.Tag, Flags: info.Flags, Algorithm: info.Algorithm,
			DNSKEY: info.DNSKEY, DS: info.DS, Published: info.Publish, Signing: info.Sign, InDS: info.InDS, CreatedAt: d.Keys[i].CreatedAt})
		if k.Role == dnssec.RoleKSK && k.DS {
			out.DS = append(out.DS, info.DS)
		}
	}
	if out.CDS, out.CDNSKEY, err = dnssec.ParentRecords(name, ttl, keys); err != nil {
		return out, err
	}
	if r := d.Rollover; r != nil {
		dr := dnssec.Rollover{Role: r.Role, Step: r.Step, OldTag: r.OldTag, NewTag: r.NewTag, StartedAt: r.StartedAt, NextAt: r.NextAt}
		out.Rollover = &api.DNSSECRollover{Key: r.Role, Step: r.Step, OldTag: r.OldTag, NewTag: r.NewTag,
			StartedAt: r.StartedAt, NextAt: r.NextAt, Description: dr.Describe()}
	}
	return out, nil
}

// DNSSECDS returns what the registrar needs: DS, CDS, CDNSKEY and the KSKs.
func (s *Service) DNSSECDS(ctx context.Context, zone string) (api.DNSSECDS, error) {
	st, err := s.DNSSECStatus(ctx, zone)
	if err != nil {
		return api.DNSSECDS{}, err
	}
	if !st.Enabled {
		return api.DNSSECDS{}, apperr.New(apperr.Conflict, "zone %s is not signed: enable DNSSEC first (poolctl zone dnssec enable %s)", st.Zone, st.Zone)
	}
	out := api.DNSSECDS{Zone: st.Zone, DS: st.DS, CDS: st.CDS, CDNSKEY: st.CDNSKEY, DNSKEY: []string{}}
	for _, k := range st.Keys {
		if k.Role == dnssec.RoleKSK && k.InDS {
			out.DNSKEY = append(out.DNSKEY, k.DNSKEY)
		}
	}
	return out, nil
}

// zoneTTLs returns the zone's DNSKEY TTL (its SOA's TTL) and its largest
// TTL, negative answers (min(SOA TTL, MINIMUM)) included.
func (s *Service) zoneTTLs(ctx context.Context, z store.Zone) (dnskey, largest uint32) {
	recs, err := s.st.ZoneRecords(ctx, z.ID)
	if err != nil {
		return dns.DefaultTTL, dns.DefaultTTL
	}
	for _, r := range recs {
		largest = max(largest, r.TTL)
		if r.Type == "SOA" {
			dnskey = r.TTL
			if f := strings.Fields(r.Value); len(f) == 7 {
				if m, err := strconv.ParseUint(f[6], 10, 32); err == nil {
					largest = max(largest, min(r.TTL, uint32(m)))
				}
			}
		}
	}
	return dnskey, largest
}

// replicaKeys is the DNSSEC part of a zone sent to a DNS cluster member:
// its keys, private parts included (the push goes over TLS to a member
// holding a cluster token).
func replicaKeys(sg *dns.Signing) *api.ClusterDNSSEC {
	if sg == nil {
		return nil
	}
	out := &api.ClusterDNSSEC{}
	for _, k := range sg.Keys {
		out.Keys = append(out.Keys, api.ClusterDNSSECKey{Role: k.Role, Private: base64.StdEncoding.EncodeToString(k.Private),
			Publish: k.Publish, Sign: k.Sign, DS: k.DS})
	}
	return out
}

// applyReplicaKeys stores the DNSSEC keys a cluster member sent with zone
// name (sealed with this server's master key) and serves the zone with
// them; none sent stops signing a zone whose keys came that way. A zone
// signed here keeps its own keys: the server that enabled DNSSEC owns them
// and runs their rollovers. The serial stays the sender's.
func (s *Service) applyReplicaKeys(ctx context.Context, name string, in *api.ClusterDNSSEC) error {
	s.dnssecMu.Lock()
	defer s.dnssecMu.Unlock()
	z, err := s.st.GetZone(ctx, name)
	if err != nil {
		return err
	}
	cur, err := s.st.ZoneDNSSEC(ctx, z.ID)
	signed := err == nil
	if err != nil && !errors.Is(err, apperr.NotFound) {
		return err
	}
	if signed && cur.Origin == store.DNSSECLocal {
		return nil
	}
	var keys []dnssec.Key
	if in != nil {
		for _, k := range in.Keys {
			der, err := base64.StdEncoding.DecodeString(k.Private)
			if err != nil {
				return apperr.New(apperr.Invalid, "zone %s: DNSSEC key of role %s: private part is not base64", name, k.Role)
			}
			keys = append(keys, dnssec.Key{Role: k.Role, Private: der, Publish: k.Publish, Sign: k.Sign, DS: k.DS})
		}
		if err := dnssec.CheckKeys(keys); err != nil {
			return apperr.Wrap(apperr.Invalid, err, "zone %s: DNSSEC keys sent", name)
		}
	}
	if signed {
		old, err := s.openKeys(name, cur)
		if err == nil && sameKeys(old, keys) {
			return nil
		}
	}
	switch {
	case in == nil && !signed:
		return nil
	case in == nil:
		err = s.st.DeleteZoneDNSSEC(ctx, z.ID)
	default:
		rows, serr := s.sealKeys(name, keys, cur.Keys)
		if serr != nil {
			return serr
		}
		err = s.st.SaveZoneDNSSEC(ctx, store.ZoneDNSSEC{ZoneID: z.ID, Origin: store.DNSSECReplica, Keys: rows}, s.now())
	}
	if err != nil {
		return err
	}
	return s.push(ctx, z)
}

func sameKeys(a, b []dnssec.Key) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Role != y.Role || string(x.Private) != string(y.Private) || x.Publish != y.Publish || x.Sign != y.Sign || x.DS != y.DS {
			return false
		}
	}
	return true
}

// SignedZones is the DNSSEC state of every signed zone, by name.
func (s *Service) SignedZones(ctx context.Context) ([]api.DNSSECStatus, error) {
	ids, err := s.st.SignedZoneIDs(ctx)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	signed := make(map[int64]bool, len(ids))
	for _, id := range ids {
		signed[id] = true
	}
	zs, err := s.st.ListZones(ctx)
	if err != nil {
		return nil, err
	}
	var out []api.DNSSECStatus
	for _, z := range zs {
		if !signed[z.ID] {
			continue
		}
		st, err := s.DNSSECStatus(ctx, z.Name)
		if err != nil {
			return out, err
		}
		out = append(out, st)
	}
	return out, nil
}
