package fleet

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// Agent credentials are checked from memory: every live member's current,
// next and previous credential hashes are indexed (s.agents), and so are
// the answers for credentials that do not work (s.refusedCreds). The store
// is asked only about a well-formed credential this server has not seen
// (an agent enrolled through another replica a moment ago), at most once
// per credential per refusalTTL and at most lookupBurst times in a burst,
// lookupRate per second after it; a malformed credential never reaches it.
const (
	refusalTTL     = time.Minute
	maxRefusals    = 4096 // remembered refused credentials
	lookupRate     = 50   // store lookups of unknown credentials per second
	lookupBurst    = 100
	refusedEventIn = 10 * time.Second // per credential: later uses are counted
)

// agentTokenLen is the length of "pag_" and 32 random bytes in base64url.
var agentTokenLen = len(agentPrefix) + base64.RawURLEncoding.EncodedLen(32)

// refusal is a remembered answer for a credential that does not work.
type refusal struct {
	err      error
	retired  *store.RetiredAgent // nil: unknown
	until    time.Time
	reported time.Time // last event
	uses     int       // since the last event
}

// lookupBucket is a token bucket for store lookups of unknown credentials.
type lookupBucket struct {
	tokens float64
	at     time.Time
}

func (b *lookupBucket) take(now time.Time) bool {
	if b.at.IsZero() {
		b.tokens, b.at = lookupBurst, now
	}
	b.tokens = min(lookupBurst, b.tokens+now.Sub(b.at).Seconds()*lookupRate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// wellFormedAgentToken reports whether t has the shape of an agent
// credential: the prefix and 43 base64url characters.
func wellFormedAgentToken(t string) bool {
	if len(t) != agentTokenLen || !strings.HasPrefix(t, agentPrefix) {
		return false
	}
	for _, c := range t[len(agentPrefix):] {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

var errBadAgentCredential = apperr.New(apperr.Unauthorized, "agent credential is not valid")

// checkCredential authenticates an agent credential presented from from (the
// zero Addr when unknown). A credential of a removed or re-enrolled member is
// apperr.Gone, so the agent knows to stop; a revoked or rotated-out one is
// apperr.Unauthorized and every use of it is reported with its source.
func (s *Service) checkCredential(ctx context.Context, token string, from netip.Addr) (Agent, error) {
	if token == "" {
		return Agent{}, apperr.New(apperr.Unauthorized, "missing agent credential")
	}
	if !wellFormedAgentToken(token) {
		return Agent{}, errBadAgentCredential
	}
	h := HashToken(token)
	now := s.now()
	s.mu.Lock()
	if id, ok := s.agents[h]; ok {
		if l := s.live[id]; l != nil {
			a := Agent{MemberID: l.id, Pool: l.pool, Member: l.name}
			switch h {
			case l.cred.next:
				s.mu.Unlock()
				return a, s.promote(ctx, l, h)
			case l.cred.prev:
				if !now.Before(l.cred.prevUntil) {
					r := store.RetiredAgent{Pool: l.pool, Member: l.name, Reason: store.ReasonRotated, At: l.cred.prevUntil}
					s.mu.Unlock()
					return Agent{}, s.refuse(ctx, h, &r, from, now)
				}
			}
			s.mu.Unlock()
			return a, nil
		}
	}
	if r, ok := s.refusedCreds[h]; ok && now.Before(r.until) {
		s.mu.Unlock()
		return Agent{}, s.refuse(ctx, h, r.retired, from, now)
	}
	allowed := s.lookups.take(now)
	s.mu.Unlock()
	if !allowed {
		return Agent{}, errBadAgentCredential
	}
	m, err := s.st.MemberByToken(ctx, h)
	if err == nil {
		s.mu.Lock()
		s.agents[h] = m.ID
		s.mu.Unlock()
		a := Agent{MemberID: m.ID, Pool: m.Pool, Member: m.Name}
		if h == m.Credential.NextHash {
			return a, s.promoteStored(ctx, m, h)
		}
		if h == m.Credential.PrevHash && m.Credential.PrevUntil != nil && !now.Before(*m.Credential.PrevUntil) {
			r := store.RetiredAgent{Pool: m.Pool, Member: m.Name, Reason: store.ReasonRotated, At: *m.Credential.PrevUntil}
			return Agent{}, s.refuse(ctx, h, &r, from, now)
		}
		return a, nil
	}
	if !errors.Is(err, apperr.NotFound) {
		return Agent{}, err
	}
	r, retired, err := s.st.RemovedAgent(ctx, h)
	if err != nil {
		return Agent{}, err
	}
	if !retired {
		return Agent{}, s.refuse(ctx, h, nil, from, now)
	}
	return Agent{}, s.refuse(ctx, h, &r, from, now)
}

// promoteStored promotes the next credential h of a member this replica has
// not loaded yet.
func (s *Service) promoteStored(ctx context.Context, m store.Member, h string) error {
	now := s.now()
	until := now.Add(s.overlap())
	ok, err := s.st.PromoteCredential(ctx, m.ID, h, until, now)
	if err != nil || !ok {
		return err
	}
	s.Emit(ctx, api.Event{Kind: KindCredentialRotated, Pool: m.Pool, Member: m.Name,
		Message: fmt.Sprintf("agent of %s took its new credential; the previous one works until %s", m.Name, until.UTC().Format(time.RFC3339))})
	return nil
}

// refuse remembers and answers a credential that does not work: retired (nil:
// unknown). Uses of revoked and rotated-out credentials are events with
// their source: the first, then one per refusedEventIn with the count.
func (s *Service) refuse(ctx context.Context, h string, retired *store.RetiredAgent, from netip.Addr, now time.Time) error {
	err := errBadAgentCredential
	if retired != nil {
		err = retiredError(*retired)
	}
	s.mu.Lock()
	r := s.refusedCreds[h]
	if r == nil {
		if len(s.refusedCreds) >= maxRefusals {
			clear(s.refusedCreds)
		}
		r = &refusal{err: err, retired: retired}
		s.refusedCreds[h] = r
	}
	r.until = now.Add(refusalTTL)
	r.uses++
	report := retired != nil && (retired.Reason == store.ReasonRevoked || retired.Reason == store.ReasonRotated) &&
		(r.reported.IsZero() || now.Sub(r.reported) >= refusedEventIn)
	uses := r.uses
	if report {
		r.reported, r.uses = now, 0
	}
	s.mu.Unlock()
	if report {
		src := "an unknown address"
		if from.IsValid() {
			src = from.String()
		}
		s.Emit(ctx, api.Event{Kind: KindCredentialRefused, Pool: retired.Pool, Member: retired.Member,
			Message: fmt.Sprintf("%s agent credential of %s used from %s (%d use(s) since the last report); refused", retired.Reason, retired.Member, src, uses),
			Data:    mustJSON(map[string]any{"source": src, "reason": retired.Reason, "uses": uses})})
	}
	return err
}

// retiredError is what the agent of a retired credential is told.
func retiredError(r store.RetiredAgent) error {
	at := r.At.UTC().Format(time.RFC3339)
	switch r.Reason {
	case store.ReasonRevoked:
		return apperr.New(apperr.Unauthorized, "agent credential of member %s (pool %s) was revoked at %s; enrol this agent again with a secret from `poolctl member secret %s %s`", r.Member, r.Pool, at, r.Pool, r.Member)
	case store.ReasonRotated:
		return apperr.New(apperr.Unauthorized, "agent credential of member %s (pool %s) was replaced by a rotation and stopped working at %s; this is an old copy of agent.json: enrol again with a secret from `poolctl member secret %s %s`", r.Member, r.Pool, at, r.Pool, r.Member)
	}
	return apperr.New(apperr.Gone, "member %s of pool %s was removed or re-enrolled; this agent must stop", r.Member, r.Pool)
}
