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

func (s *Service) member(ctx context.Context, pool, member string) (store.Pool, store.Member, error) {
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return p, store.Member{}, err
	}
	m, err := s.st.GetMember(ctx, p.ID, member)
	if errors.Is(err, apperr.NotFound) {
		return p, m, apperr.Wrap(apperr.NotFound, err, "pool %s", pool)
	}
	return p, m, err
}

// memberFields validates the operator-set fields of m in place.
func memberFields(m *store.Member) error {
	a, err := ParseAddress(m.Address)
	if err != nil {
		return err
	}
	m.Address = a.String()
	if m.AllowedCIDRs, err = NormalizeCIDRs(m.AllowedCIDRs); err != nil {
		return err
	}
	if err := ValidateProbeURL(m.ProbeURL); err != nil {
		return err
	}
	if err := validateLocation(m.Location.Lat, m.Location.Lon, m.Location.Text); err != nil {
		return err
	}
	if len(m.Role) > 32 || strings.ContainsAny(m.Role, " \t\n") {
		return apperr.New(apperr.Invalid, "role %q: at most 32 characters, no spaces", m.Role)
	}
	if m.Priority < 0 || m.Priority > 1000 {
		return apperr.New(apperr.Invalid, "priority %d out of range 0–1000 (lower is preferred)", m.Priority)
	}
	return nil
}

// AddMember creates a member and its first enrolment secret.
func (s *Service) AddMember(ctx context.Context, pool string, in api.MemberCreate) (api.MemberAdded, error) {
	if err := ValidateName("member", in.Name); err != nil {
		return api.MemberAdded{}, err
	}
	ttl := in.SecretTTL.D()
	if ttl == 0 {
		ttl = DefaultSecretTTL
	}
	if err := checkRange("secret ttl", ttl, time.Minute, 30*24*time.Hour); err != nil {
		return api.MemberAdded{}, err
	}
	m := store.Member{Name: in.Name, Address: in.Address, AllowedCIDRs: in.AllowedCIDRs, ProbeURL: in.ProbeURL,
		Location: in.Location, Role: in.Role, Priority: in.Priority, ShellEnabled: in.ShellEnabled,
		HeartbeatInterval: DefaultHeartbeatInterval}
	if m.Priority == 0 {
		m.Priority = 100
	}
	if err := memberFields(&m); err != nil {
		return api.MemberAdded{}, err
	}
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return api.MemberAdded{}, err
	}
	m.PoolID, m.Pool = p.ID, p.Name
	secret, err := s.newSecret()
	if err != nil {
		return api.MemberAdded{}, err
	}
	now := s.now()
	sec := store.Secret{Hash: HashToken(secret), ExpiresAt: now.Add(ttl)}
	if err := s.st.CreateMember(ctx, &m, &sec, now); err != nil {
		return api.MemberAdded{}, err
	}
	s.mu.Lock()
	s.addLiveLocked(&liveMember{id: m.ID, poolID: p.ID, pool: p.Name, name: m.Name, status: api.StatusPending,
		interval: m.HeartbeatInterval, timeout: timeoutFor(p.HeartbeatTimeout, m.HeartbeatInterval),
		address: m.Address, priority: m.Priority, probeURL: m.ProbeURL, allowed: m.AllowedCIDRs})
	s.mu.Unlock()
	s.Emit(ctx, api.Event{Kind: "member.added", Pool: p.Name, Member: m.Name,
		Message: fmt.Sprintf("member %s (%s) added to pool %s; enrolment secret valid until %s", m.Name, m.Address, p.Name, sec.ExpiresAt.UTC().Format(time.RFC3339))})
	return api.MemberAdded{Member: s.memberAPI(m), EnrollmentSecret: secret, SecretExpiresAt: sec.ExpiresAt.UTC()}, nil
}

// NewSecret replaces a member's enrolment secret; unused older ones stop
// working. A member that enrols again gets a new credential and the old one
// is retired.
func (s *Service) NewSecret(ctx context.Context, pool, member string, ttl time.Duration) (api.MemberAdded, error) {
	if ttl == 0 {
		ttl = DefaultSecretTTL
	}
	if err := checkRange("secret ttl", ttl, time.Minute, 30*24*time.Hour); err != nil {
		return api.MemberAdded{}, err
	}
	_, m, err := s.member(ctx, pool, member)
	if err != nil {
		return api.MemberAdded{}, err
	}
	secret, err := s.newSecret()
	if err != nil {
		return api.MemberAdded{}, err
	}
	now := s.now()
	sec := store.Secret{MemberID: m.ID, Hash: HashToken(secret), ExpiresAt: now.Add(ttl)}
	if err := s.st.ReplaceSecret(ctx, &sec, now); err != nil {
		return api.MemberAdded{}, err
	}
	s.Emit(ctx, api.Event{Kind: "member.secret_created", Pool: pool, Member: member,
		Message: fmt.Sprintf("new enrolment secret for member %s, valid until %s", member, sec.ExpiresAt.UTC().Format(time.RFC3339))})
	s.overlay(&m)
	return api.MemberAdded{Member: s.memberAPI(m), EnrollmentSecret: secret, SecretExpiresAt: sec.ExpiresAt.UTC()}, nil
}

// Member returns one member with its live state.
func (s *Service) Member(ctx context.Context, pool, member string) (api.Member, error) {
	p, m, err := s.member(ctx, pool, member)
	if err != nil {
		return api.Member{}, err
	}
	s.overlay(&m)
	am := s.memberAPI(m)
	am.Active = m.ID == p.ActiveMemberID
	return am, nil
}

// Members lists a pool's members with their live state.
func (s *Service) Members(ctx context.Context, pool string) ([]api.Member, error) {
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return nil, err
	}
	ms, err := s.st.ListMembers(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	out := make([]api.Member, 0, len(ms))
	for _, m := range ms {
		s.overlay(&m)
		am := s.memberAPI(m)
		am.Active = m.ID == p.ActiveMemberID
		out = append(out, am)
	}
	return out, nil
}

// UpdateMember changes a member's operator-set fields.
func (s *Service) UpdateMember(ctx context.Context, pool, member string, in api.MemberUpdate) (api.Member, error) {
	p, m, err := s.member(ctx, pool, member)
	if err != nil {
		return api.Member{}, err
	}
	var changed []string
	if in.Address != nil {
		m.Address = *in.Address
		changed = append(changed, "address")
	}
	if in.AllowedCIDRs != nil {
		m.AllowedCIDRs = *in.AllowedCIDRs
		changed = append(changed, "allowed IPs")
	}
	if in.ProbeURL != nil {
		m.ProbeURL = *in.ProbeURL
		changed = append(changed, "probe")
	}
	if in.Location != nil {
		m.Location = *in.Location
		changed = append(changed, "location")
	}
	if in.Role != nil {
		m.Role = *in.Role
		changed = append(changed, "role")
	}
	if in.Priority != nil {
		m.Priority = *in.Priority
		changed = append(changed, "priority")
	}
	if in.ShellEnabled != nil {
		m.ShellEnabled = *in.ShellEnabled
		changed = append(changed, fmt.Sprintf("shell.exec=%v", m.ShellEnabled))
	}
	if err := memberFields(&m); err != nil {
		return api.Member{}, err
	}
	if err := s.st.UpdateMember(ctx, &m, s.now()); err != nil {
		return api.Member{}, err
	}
	s.mu.Lock()
	if l := s.live[m.ID]; l != nil {
		// A changed allow-list holds from the agent's next request.
		l.address, l.priority, l.probeURL, l.allowed = m.Address, m.Priority, m.ProbeURL, m.AllowedCIDRs
	}
	s.mu.Unlock()
	s.Emit(ctx, api.Event{Kind: "member.updated", Pool: pool, Member: member,
		Message: fmt.Sprintf("member %s changed: %s", member, strings.Join(changed, ", "))})
	s.overlay(&m)
	am := s.memberAPI(m)
	am.Active = m.ID == p.ActiveMemberID
	return am, nil
}

// RemoveMember removes a member; its agent is told to stop.
// MemberDependents describes what removing a member would break: the
// pool's failover record when it is the active member, and every
// protection it is the source, standby or DNS cut target of.
func (s *Service) MemberDependents(ctx context.Context, pool, member string) ([]string, error) {
	p, m, err := s.member(ctx, pool, member)
	if err != nil {
		return nil, err
	}
	return s.dependents(ctx, p, m)
}

func (s *Service) dependents(ctx context.Context, p store.Pool, m store.Member) ([]string, error) {
	var out []string
	if p.ActiveMemberID == m.ID {
		what := "the pool's active member"
		if p.FailoverRecord != "" {
			what += " (" + p.FailoverRecord + " points at it)"
		}
		out = append(out, what)
	}
	ds, err := s.st.MemberDependents(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		switch d.Role {
		case "source":
			out = append(out, fmt.Sprintf("source of the protection of account %s (standby %s)", d.Account, d.Other))
		case "standby":
			out = append(out, fmt.Sprintf("standby of the protection of account %s (source %s)", d.Account, d.Other))
		default:
			out = append(out, fmt.Sprintf("serving account %s after a DNS cut (source %s)", d.Account, d.Other))
		}
	}
	return out, nil
}

// RemoveMember removes a member. One that something depends on (see
// MemberDependents) is refused unless force, and the refusal lists it all:
// removing it deletes those protections (the standby's copy stays on its
// disk) and leaves the pool without an active member.
func (s *Service) RemoveMember(ctx context.Context, pool, member string, force bool) error {
	p, m, err := s.member(ctx, pool, member)
	if err != nil {
		return err
	}
	deps, err := s.dependents(ctx, p, m)
	if err != nil {
		return err
	}
	if len(deps) > 0 && !force {
		return apperr.New(apperr.Conflict, "member %s is %s; removing it deletes those protections (copies already on a standby stay on its disk) and leaves the pool without an active member until failover picks one: repeat with --force",
			member, strings.Join(deps, "; "))
	}
	if err := s.st.DeleteMember(ctx, m.ID, s.now()); err != nil {
		return err
	}
	s.mu.Lock()
	s.forgetLocked(m.ID)
	s.mu.Unlock()
	msg := fmt.Sprintf("member %s removed from pool %s", member, pool)
	if len(deps) > 0 {
		msg += " with --force; it was " + strings.Join(deps, "; ")
	}
	s.Emit(ctx, api.Event{Kind: "member.removed", Pool: pool, Member: member, Message: msg})
	return nil
}

func (s *Service) memberAPI(m store.Member) api.Member {
	cidrs := m.AllowedCIDRs
	if cidrs == nil {
		cidrs = []string{}
	}
	return api.Member{
		Pool: m.Pool, Name: m.Name, Address: m.Address, AllowedCIDRs: cidrs, ProbeURL: m.ProbeURL,
		Location: m.Location, Role: m.Role, Profile: m.Profile, Priority: m.Priority, ShellEnabled: m.ShellEnabled,
		Status: m.Status, Enrolled: m.Enrolled, LastHeartbeatAt: m.LastHeartbeatAt, HealthySince: m.HealthySince,
		HeartbeatEvery: api.Duration(m.HeartbeatInterval), AgentVersion: m.AgentVersion, Outdated: s.Outdated(m.AgentVersion),
		Facts: m.Facts, Stack: m.Stack, Metrics: m.Metrics, Credential: s.credentialInfo(m),
		CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
}
