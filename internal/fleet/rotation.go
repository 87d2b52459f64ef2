package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// Credential rotation. A rotation is due when the current credential is
// older than Config.CredentialRotation, or when an operator asked for one.
// The next heartbeat of the agent (protocol 3) is answered with a new
// credential, whose hash is stored first; the agent saves it and uses it
// from then on. Its first use makes it current, and the replaced one stays
// valid for Config.CredentialOverlap, so requests already on their way (a
// job long-poll, a log post) are not refused. Until the agent uses it, every
// heartbeat reply repeats it: a reply lost on the way costs nothing. The
// plain credential is kept in memory only, and only until it is used; a
// server restarted in between issues another one.
const (
	DefaultCredentialRotation = 30 * 24 * time.Hour
	DefaultCredentialOverlap  = 5 * time.Minute
	// reissueAfter is how long a next credential issued by another server
	// replica (which holds its plain text) is left for that replica to
	// hand out before this one issues its own.
	reissueAfter = 2 * time.Minute
)

// Kinds of the credential events.
const (
	KindCredentialRotated   = "agent.credential_rotated"
	KindCredentialRequested = "agent.credential_rotation_requested"
	KindCredentialRevoked   = "agent.credential_revoked"
	// KindCredentialRefused is a use of a revoked or rotated-out
	// credential, with its source.
	KindCredentialRefused = "agent.credential_refused"
)

// credState is the live copy of a member's credentials (hashes).
type credState struct {
	current, next, prev string
	issuedAt            time.Time // of current; zero: unknown
	nextAt              time.Time
	prevUntil           time.Time
	rotate              bool   // an operator asked for a rotation
	pending             string // plain text of next, held until it is used
	issuing             bool   // a heartbeat is issuing next right now
}

// touchCredLocked marks a change of l.cred made by this replica, which a
// reload that read the store earlier must not undo.
func (s *Service) touchCredLocked(l *liveMember) {
	s.credSeq++
	l.credSeq = s.credSeq
}

// setCredLocked copies the stored credentials of m into l, keeping the plain
// text of a next credential this replica issued, and indexes their hashes.
func (s *Service) setCredLocked(l *liveMember, c store.Credential, current string) {
	for _, h := range []string{l.cred.current, l.cred.next, l.cred.prev} {
		if h != "" && s.agents[h] == l.id {
			delete(s.agents, h)
		}
	}
	pending := ""
	if c.NextHash != "" && c.NextHash == l.cred.next {
		pending = l.cred.pending
	}
	l.cred = credState{current: current, next: c.NextHash, prev: c.PrevHash, rotate: c.RotateRequested,
		pending: pending, issuing: l.cred.issuing}
	if c.IssuedAt != nil {
		l.cred.issuedAt = *c.IssuedAt
	}
	if c.NextAt != nil {
		l.cred.nextAt = *c.NextAt
	}
	if c.PrevUntil != nil {
		l.cred.prevUntil = *c.PrevUntil
	}
	for _, h := range []string{current, c.NextHash, c.PrevHash} {
		if h != "" {
			s.agents[h] = l.id
		}
	}
}

func (s *Service) rotationEvery() time.Duration {
	if s.cfg.CredentialRotation == 0 {
		return DefaultCredentialRotation
	}
	return s.cfg.CredentialRotation // negative: never
}

func (s *Service) overlap() time.Duration {
	if s.cfg.CredentialOverlap <= 0 {
		return DefaultCredentialOverlap
	}
	return s.cfg.CredentialOverlap
}

// rotationDueLocked reports whether l's agent should get a new credential
// with this heartbeat.
func (s *Service) rotationDueLocked(l *liveMember, now time.Time) bool {
	c := &l.cred
	if c.current == "" {
		return false
	}
	if c.rotate {
		return true
	}
	every := s.rotationEvery()
	return every > 0 && !c.issuedAt.IsZero() && now.Sub(c.issuedAt) >= every
}

// offerCredential returns the credential to hand l's agent with this
// heartbeat, issuing one when none is pending, or "" when no rotation is
// due (or the store could not record one: the beat itself is fine, the
// next one tries again).
func (s *Service) offerCredential(ctx context.Context, l *liveMember, now time.Time) string {
	s.mu.Lock()
	if !s.rotationDueLocked(l, now) || l.cred.issuing {
		s.mu.Unlock()
		return ""
	}
	if l.cred.pending != "" {
		p := l.cred.pending
		s.mu.Unlock()
		return p
	}
	l.cred.issuing = true
	current := l.cred.current
	s.mu.Unlock()

	token := randomToken(agentPrefix)
	h := HashToken(token)
	ok, err := s.st.IssueNextCredential(ctx, l.id, current, h, now.Add(-reissueAfter), now)
	s.mu.Lock()
	defer s.mu.Unlock()
	l.cred.issuing = false
	if err != nil {
		s.log.Warn("issue rotated agent credential", "member", l.name, "err", err)
		return ""
	}
	if !ok || l.cred.current != current {
		return "" // rotated meanwhile, or another replica issued one
	}
	if l.cred.next != "" && s.agents[l.cred.next] == l.id {
		delete(s.agents, l.cred.next) // issued before, never used
	}
	l.cred.next, l.cred.nextAt, l.cred.pending = h, now, token
	s.agents[h] = l.id
	s.touchCredLocked(l)
	return token
}

// promote makes the next credential h of l current on its first use.
func (s *Service) promote(ctx context.Context, l *liveMember, h string) error {
	now := s.now()
	until := now.Add(s.overlap())
	ok, err := s.st.PromoteCredential(ctx, l.id, h, until, now)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if l.cred.next == h {
		if l.cred.prev != "" && s.agents[l.cred.prev] == l.id {
			delete(s.agents, l.cred.prev)
		}
		l.cred.prev, l.cred.prevUntil = l.cred.current, until
		l.cred.current, l.cred.issuedAt = h, now
		l.cred.next, l.cred.nextAt, l.cred.pending, l.cred.rotate = "", time.Time{}, "", false
		s.touchCredLocked(l)
	}
	pool, name := l.pool, l.name
	s.mu.Unlock()
	if ok {
		s.Emit(ctx, api.Event{Kind: KindCredentialRotated, Pool: pool, Member: name,
			Message: fmt.Sprintf("agent of %s took its new credential; the previous one works until %s", name, until.UTC().Format(time.RFC3339))})
	}
	return nil
}

// RotateCredentials asks for new credentials for the agents of pool: of
// member, or of every enrolled member when member is "". Each agent takes
// its new one with its next heartbeat.
func (s *Service) RotateCredentials(ctx context.Context, pool, member string) (api.CredentialRotation, error) {
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return api.CredentialRotation{}, err
	}
	if member != "" {
		m, err := s.st.GetMember(ctx, p.ID, member)
		if err != nil {
			return api.CredentialRotation{}, err
		}
		if m.TokenHash == "" {
			return api.CredentialRotation{}, apperr.New(apperr.Conflict, "member %s has no agent credential to rotate (not enrolled, or revoked): enrol its agent with a secret from `poolctl member secret %s %s`", member, pool, member)
		}
	}
	names, err := s.st.RequestRotation(ctx, p.ID, member, s.now())
	if err != nil {
		return api.CredentialRotation{}, err
	}
	if names == nil {
		names = []string{}
	}
	s.mu.Lock()
	for _, l := range s.live {
		if l.poolID == p.ID && (member == "" || l.name == member) && l.cred.current != "" {
			l.cred.rotate = true
			s.touchCredLocked(l)
		}
	}
	s.mu.Unlock()
	for _, n := range names {
		s.Emit(ctx, api.Event{Kind: KindCredentialRequested, Pool: pool, Member: n,
			Message: fmt.Sprintf("credential rotation requested for the agent of %s; it takes the new one with its next heartbeat", n)})
	}
	return api.CredentialRotation{Members: names}, nil
}

// RevokeCredential revokes the agent credentials of a member at once: its
// agent is answered 401 from its next request and must enrol again with a
// new secret. Revoking the pool's active member's agent needs force: with
// no heartbeats it turns down, and the pool fails over.
func (s *Service) RevokeCredential(ctx context.Context, pool, member string, force bool) error {
	p, err := s.st.GetPool(ctx, pool)
	if err != nil {
		return err
	}
	m, err := s.st.GetMember(ctx, p.ID, member)
	if err != nil {
		return err
	}
	if p.ActiveMemberID == m.ID && !force {
		return apperr.New(apperr.Conflict, "member %s is the active member of pool %s: without its agent's heartbeats it turns down and the pool fails over; repeat with --force, or make another member active first", member, pool)
	}
	had, err := s.st.RevokeCredentials(ctx, m.ID, s.now())
	if err != nil {
		return err
	}
	if !had {
		return apperr.New(apperr.Conflict, "member %s has no agent credential (not enrolled, or revoked already)", member)
	}
	s.mu.Lock()
	if l := s.live[m.ID]; l != nil {
		s.setCredLocked(l, store.Credential{}, "")
		s.touchCredLocked(l)
	}
	s.mu.Unlock()
	s.Emit(ctx, api.Event{Kind: KindCredentialRevoked, Pool: pool, Member: member,
		Message: fmt.Sprintf("agent credential of %s revoked; its agent is refused until it enrols again (poolctl member secret %s %s)", member, pool, member)})
	return nil
}

// credentialInfo describes m's credential for the API.
func (s *Service) credentialInfo(m store.Member) *api.CredentialInfo {
	if m.TokenHash == "" {
		return nil
	}
	c := m.Credential
	info := &api.CredentialInfo{IssuedAt: c.IssuedAt, PreviousValidUntil: c.PrevUntil}
	switch {
	case c.NextHash != "":
		info.Rotation = "issued"
	case c.RotateRequested:
		info.Rotation = "requested"
	}
	if every := s.rotationEvery(); every > 0 && c.IssuedAt != nil {
		t := c.IssuedAt.Add(every)
		info.NextRotationAt = &t
	}
	return info
}
