package fleet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// Failover delay limits.
const (
	MinFailoverDelay = 5 * time.Second
	MaxFailoverDelay = 600 * time.Second
)

// RecordChecker confirms that a failover record belongs to a served zone and
// removes a pool's published record. The zone service implements it; nil
// skips both.
type RecordChecker interface {
	CheckFailoverRecord(ctx context.Context, fqdn string) error
	Unpublish(ctx context.Context, managed string) error
}

// ProviderChecker is a RecordChecker that also confirms a failover record
// can live at a named DNS provider (the provider exists, a zone of its
// holds the name, and no CNAME does) and removes one published there.
type ProviderChecker interface {
	CheckProviderRecord(ctx context.Context, provider, fqdn string) error
	// UnpublishProvider removes fqdn's address records at provider.
	UnpublishProvider(ctx context.Context, provider, fqdn string) error
}

// unpublishAt removes a pool's failover record from the provider it was
// published at, once the pool no longer publishes it there; a failure is
// logged (the record is left there).
func (s *Service) unpublishAt(ctx context.Context, pool, provider, fqdn string) {
	pc, ok := s.records.(ProviderChecker)
	if provider == "" || fqdn == "" || !ok {
		return
	}
	if err := pc.UnpublishProvider(ctx, provider, fqdn); err != nil {
		s.log.Warn("remove the failover record at its former DNS provider", "pool", pool, "provider", provider, "record", fqdn, "err", err)
	}
}

// ManagedTag marks the DNS records poolctl publishes for a pool.
func ManagedTag(pool string) string { return "pool:" + pool }

// SetRecordChecker installs the check run on pools' failover records.
func (s *Service) SetRecordChecker(rc RecordChecker) { s.records = rc }

// CreatePool validates and creates a pool, filling defaults.
func (s *Service) CreatePool(ctx context.Context, in api.PoolCreate) (api.Pool, error) {
	p := store.Pool{
		Name: in.Name, Preset: in.Preset, Description: strings.TrimSpace(in.Description),
		FailoverRecord: in.FailoverRecord, DNSProvider: in.DNSProvider, FailoverDelay: in.FailoverDelay.D(), TTL: in.TTL,
		Failback: in.Failback, HeartbeatTimeout: in.HeartbeatTimeout.D(), Hook: in.Hook,
	}
	if err := ValidateName("pool", p.Name); err != nil {
		return api.Pool{}, err
	}
	if p.Preset == "" {
		p.Preset = "generic"
	}
	if p.FailoverDelay == 0 {
		p.FailoverDelay = DefaultFailoverDelay
	}
	if p.TTL == 0 {
		p.TTL = DefaultTTL
	}
	if p.Failback == "" {
		p.Failback = api.FailbackManual
	}
	if p.HeartbeatTimeout == 0 {
		p.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if err := s.validatePool(ctx, &p); err != nil {
		return api.Pool{}, err
	}
	if err := s.st.CreatePool(ctx, &p, s.now()); err != nil {
		return api.Pool{}, err
	}
	s.Emit(ctx, api.Event{Kind: "pool.created", Pool: p.Name, Message: fmt.Sprintf("pool %s created", p.Name)})
	return s.poolAPI(ctx, p)
}

func (s *Service) validatePool(ctx context.Context, p *store.Pool) error {
	if err := validatePreset(p.Preset); err != nil {
		return err
	}
	if err := checkRange("failover delay", p.FailoverDelay, MinFailoverDelay, MaxFailoverDelay); err != nil {
		return err
	}
	if p.TTL < 1 || p.TTL > 86400 {
		return apperr.New(apperr.Invalid, "ttl %d out of range 1–86400", p.TTL)
	}
	if p.Failback != api.FailbackManual && p.Failback != api.FailbackAuto {
		return apperr.New(apperr.Invalid, "failback %q: want manual or auto", p.Failback)
	}
	if err := checkRange("heartbeat timeout", p.HeartbeatTimeout, 3*time.Second, time.Hour); err != nil {
		return err
	}
	if err := validateHook(p.Hook); err != nil {
		return err
	}
	if len(p.Description) > 500 {
		return apperr.New(apperr.Invalid, "description longer than 500 characters")
	}
	if p.DNSProvider = strings.TrimSpace(p.DNSProvider); p.DNSProvider == "builtin" {
		p.DNSProvider = ""
	}
	if p.DNSProvider != "" && p.FailoverRecord == "" {
		return apperr.New(apperr.Invalid, "dns provider %s: give the failover record to publish there (--failover-record FQDN)", p.DNSProvider)
	}
	if p.FailoverRecord != "" {
		rec, err := NormalizeFQDN("failover record", p.FailoverRecord)
		if err != nil {
			return err
		}
		p.FailoverRecord = rec
		if s.records != nil {
			if err := s.checkRecord(ctx, p.DNSProvider, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkRecord checks a failover record in the built-in zones (provider "")
// or at a DNS provider.
func (s *Service) checkRecord(ctx context.Context, provider, rec string) error {
	if provider == "" {
		return s.records.CheckFailoverRecord(ctx, rec)
	}
	pc, ok := s.records.(ProviderChecker)
	if !ok {
		return apperr.New(apperr.Unavailable, "DNS providers are not available on this server")
	}
	err := pc.CheckProviderRecord(ctx, provider, rec)
	if errors.Is(err, apperr.NotFound) {
		return apperr.Wrap(apperr.Invalid, err, "dns provider %q: no such provider (poolctl dns provider list)", provider)
	}
	return err
}

// Pool returns one pool.
func (s *Service) Pool(ctx context.Context, name string) (api.Pool, error) {
	p, err := s.st.GetPool(ctx, name)
	if err != nil {
		return api.Pool{}, err
	}
	return s.poolAPI(ctx, p)
}

// Pools lists all pools.
func (s *Service) Pools(ctx context.Context) ([]api.Pool, error) {
	ps, err := s.st.ListPools(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.Pool, 0, len(ps))
	for _, p := range ps {
		ap, err := s.poolAPI(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, ap)
	}
	return out, nil
}

// UpdatePool changes a pool's settings.
func (s *Service) UpdatePool(ctx context.Context, name string, in api.PoolUpdate) (api.Pool, error) {
	p, err := s.st.GetPool(ctx, name)
	if err != nil {
		return api.Pool{}, err
	}
	oldProvider, oldRecord := p.DNSProvider, p.FailoverRecord
	if in.Description != nil {
		p.Description = strings.TrimSpace(*in.Description)
	}
	if in.FailoverRecord != nil {
		p.FailoverRecord = *in.FailoverRecord
	}
	if in.DNSProvider != nil {
		p.DNSProvider = *in.DNSProvider
	}
	if in.FailoverDelay != nil {
		p.FailoverDelay = in.FailoverDelay.D()
	}
	if in.TTL != nil {
		p.TTL = *in.TTL
	}
	if in.Failback != nil {
		p.Failback = *in.Failback
	}
	if in.HeartbeatTimeout != nil {
		p.HeartbeatTimeout = in.HeartbeatTimeout.D()
	}
	if in.Hook != nil {
		p.Hook = *in.Hook
	}
	if err := s.validatePool(ctx, &p); err != nil {
		return api.Pool{}, err
	}
	if err := s.st.UpdatePool(ctx, &p, s.now()); err != nil {
		return api.Pool{}, err
	}
	if oldProvider != p.DNSProvider || oldRecord != p.FailoverRecord {
		s.unpublishAt(ctx, p.Name, oldProvider, oldRecord)
	}
	if err := s.reload(ctx); err != nil {
		s.log.Warn("reload after pool update", "err", err)
	}
	s.Emit(ctx, api.Event{Kind: "pool.updated", Pool: p.Name, Message: fmt.Sprintf("pool %s settings changed", p.Name)})
	return s.poolAPI(ctx, p)
}

// DeletePool deletes a pool. A pool with members is refused unless force;
// the refusal and the result both name the members concerned.
func (s *Service) DeletePool(ctx context.Context, name string, force bool) (api.PoolDeleteResult, error) {
	p, err := s.st.GetPool(ctx, name)
	if err != nil {
		return api.PoolDeleteResult{}, err
	}
	ms, err := s.st.ListMembers(ctx, p.ID)
	if err != nil {
		return api.PoolDeleteResult{}, err
	}
	if len(ms) > 0 && !force {
		names := make([]string, len(ms))
		for i, m := range ms {
			names[i] = m.Name
		}
		return api.PoolDeleteResult{Pool: name, RemovedMembers: names}, apperr.New(apperr.Conflict,
			"pool %s has %d member(s) (%s); deleting it removes them, their jobs and samples, and stops their agents: repeat with --force",
			name, len(ms), strings.Join(names, ", "))
	}
	removed, err := s.st.DeletePool(ctx, p.ID, s.now())
	if err != nil {
		return api.PoolDeleteResult{}, err
	}
	if s.records != nil {
		if err := s.records.Unpublish(ctx, ManagedTag(name)); err != nil {
			s.log.Warn("remove failover record of deleted pool", "pool", name, "err", err)
		}
		s.unpublishAt(ctx, name, p.DNSProvider, p.FailoverRecord)
	}
	if removed == nil {
		removed = []string{}
	}
	s.mu.Lock()
	for id, l := range s.live {
		if l.poolID == p.ID {
			s.forgetLocked(id)
		}
	}
	s.mu.Unlock()
	msg := fmt.Sprintf("pool %s deleted", name)
	if len(removed) > 0 {
		msg += fmt.Sprintf(" with members %s", strings.Join(removed, ", "))
	}
	s.Emit(ctx, api.Event{Kind: "pool.deleted", Pool: name, Message: msg})
	return api.PoolDeleteResult{Pool: name, RemovedMembers: removed}, nil
}

// AckBanner acknowledges a pool's failover banner on behalf of who (a
// dashboard user, or "api"): the banner stays, shrunk to one line, until
// the next failover. Acknowledging it again changes nothing.
func (s *Service) AckBanner(ctx context.Context, name, who string) (api.Pool, error) {
	p, err := s.st.GetPool(ctx, name)
	if err != nil {
		return api.Pool{}, err
	}
	if p.Banner == nil {
		return api.Pool{}, apperr.New(apperr.Conflict, "pool %s has no failover banner to acknowledge", name)
	}
	if !p.Banner.Open() {
		return s.poolAPI(ctx, p)
	}
	b, err := s.st.AckBanner(ctx, p.ID, p.Banner.At, p.Banner.EventID, who, s.now())
	if err != nil {
		return api.Pool{}, err
	}
	p.Banner = b
	s.Emit(ctx, api.Event{Kind: "pool.banner_acknowledged", Pool: name, Message: fmt.Sprintf("failover banner of pool %s acknowledged by %s", name, who)})
	return s.poolAPI(ctx, p)
}

func (s *Service) poolAPI(ctx context.Context, p store.Pool) (api.Pool, error) {
	out := api.Pool{
		Name: p.Name, Preset: p.Preset, Description: p.Description, FailoverRecord: p.FailoverRecord, DNSProvider: p.DNSProvider,
		FailoverDelay: api.Duration(p.FailoverDelay), TTL: p.TTL, Failback: p.Failback,
		HeartbeatTimeout: api.Duration(p.HeartbeatTimeout), Hook: p.Hook, Banner: p.Banner,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt,
	}
	s.mu.Lock()
	for _, l := range s.live {
		if l.poolID != p.ID {
			continue
		}
		out.MemberCount++
		switch l.status {
		case api.StatusHealthy:
			out.HealthyCount++
		case api.StatusPending:
			out.PendingCount++
		}
		if l.id == p.ActiveMemberID {
			out.ActiveMember = l.name
		}
	}
	s.mu.Unlock()
	if p.ActiveMemberID != 0 && out.ActiveMember == "" {
		m, err := s.st.GetMemberByID(ctx, p.ActiveMemberID)
		if err != nil && !errors.Is(err, apperr.NotFound) {
			return out, err
		}
		out.ActiveMember = m.Name
	}
	return out, nil
}
