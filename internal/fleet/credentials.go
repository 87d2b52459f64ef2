package fleet

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// Credential prefixes make leaked tokens recognisable.
const (
	adminPrefix  = "pat_"
	agentPrefix  = "pag_"
	secretPrefix = "pe1"
)

func randomToken(prefix string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the stored form of a token or secret. Tokens carry 256
// random bits, so a fast hash is enough: there is nothing to brute-force.
func HashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// newSecret builds an enrolment secret "pe1.<fp>.<random>"; fp is the
// base64url CA fingerprint, or "-" when the server certificate is publicly
// trusted. Only the hash of the whole secret is stored.
func (s *Service) newSecret() (string, error) {
	fp := "-"
	if s.cfg.CAFingerprint != "" {
		raw, err := hex.DecodeString(s.cfg.CAFingerprint)
		if err != nil || len(raw) != sha256.Size {
			return "", errors.New("server CA fingerprint is not a hex SHA-256")
		}
		fp = base64.RawURLEncoding.EncodeToString(raw)
	}
	return secretPrefix + "." + fp + "." + randomToken(""), nil
}

// EnsureAdminToken makes token a valid admin token (the bootstrap token
// written to DATA/admin.token); it is stored hashed, once.
func (s *Service) EnsureAdminToken(ctx context.Context, token string) error {
	h := HashToken(token)
	if _, err := s.st.TokenByHash(ctx, h); err == nil {
		return nil
	} else if !errors.Is(err, apperr.NotFound) {
		return err
	}
	t := store.Token{Name: "admin (bootstrap)", Prefix: token[:min(len(token), 8)], Hash: h, Scope: "admin"}
	return s.st.CreateToken(ctx, &t, s.now())
}

// NewAdminToken returns a fresh random admin token.
func NewAdminToken() string { return randomToken(adminPrefix) }

type adminEntry struct {
	id      int64
	name    string
	scope   string
	expires *time.Time
	checked time.Time
}

// Token scopes: an admin token opens the whole API; a cluster token only
// the DNS cluster API (what another nameserver of the cluster needs).
const (
	ScopeAdmin   = "admin"
	ScopeCluster = "cluster"
)

// AuthAdmin checks an admin bearer token. Lookups are cached for a few
// seconds; a revocation on this server takes effect at once.
func (s *Service) AuthAdmin(ctx context.Context, token string) error {
	e, err := s.authToken(ctx, token)
	if err != nil {
		return err
	}
	if e.scope != ScopeAdmin {
		return apperr.New(apperr.Forbidden, "this token's scope is %s: it opens only the DNS cluster API", e.scope)
	}
	return nil
}

// AuthCluster checks the bearer token of a DNS cluster request: a token of
// scope cluster (an admin token is refused there: give each cluster member
// its own, revocable one). It returns the token's name, which names the
// sender: the zones it writes here are its own.
func (s *Service) AuthCluster(ctx context.Context, token string) (string, error) {
	e, err := s.authToken(ctx, token)
	if err != nil {
		return "", err
	}
	if e.scope != ScopeCluster {
		return "", apperr.New(apperr.Forbidden, "the DNS cluster API takes a cluster token (poolctl token create NAME --scope cluster), not an %s token", e.scope)
	}
	return e.name, nil
}

// authToken checks an API token and returns what is known of it.
func (s *Service) authToken(ctx context.Context, token string) (adminEntry, error) {
	if token == "" {
		return adminEntry{}, apperr.New(apperr.Unauthorized, "missing bearer token; set POOLCTL_TOKEN or --token")
	}
	if strings.HasPrefix(token, agentPrefix) {
		return adminEntry{}, apperr.New(apperr.Forbidden, "an agent credential cannot use the admin API")
	}
	h := HashToken(token)
	now := s.now()
	s.mu.Lock()
	e, ok := s.admins[h]
	s.mu.Unlock()
	if !ok || now.Sub(e.checked) > 5*time.Second {
		t, err := s.st.TokenByHash(ctx, h)
		if errors.Is(err, apperr.NotFound) {
			s.mu.Lock()
			delete(s.admins, h)
			s.mu.Unlock()
			return adminEntry{}, apperr.New(apperr.Unauthorized, "token is not valid (unknown or revoked)")
		}
		if err != nil {
			return adminEntry{}, err
		}
		if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) > time.Minute {
			_ = s.st.TouchToken(ctx, t.ID, now)
		}
		e = adminEntry{id: t.ID, name: t.Name, scope: t.Scope, expires: t.ExpiresAt, checked: now}
		s.mu.Lock()
		s.admins[h] = e
		s.mu.Unlock()
	}
	if e.expires != nil && now.After(*e.expires) {
		return adminEntry{}, apperr.New(apperr.Unauthorized, "token expired at %s", e.expires.Format(time.RFC3339))
	}
	return e, nil
}

// CreateToken creates a named admin token; the secret is returned once.
func (s *Service) CreateToken(ctx context.Context, in api.TokenCreate) (api.TokenCreated, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || len(in.Name) > 100 {
		return api.TokenCreated{}, apperr.New(apperr.Invalid, "token name must be 1-100 characters")
	}
	if in.TTL < 0 {
		return api.TokenCreated{}, apperr.New(apperr.Invalid, "token ttl must not be negative")
	}
	switch in.Scope {
	case "":
		in.Scope = ScopeAdmin
	case ScopeAdmin, ScopeCluster:
	default:
		return api.TokenCreated{}, apperr.New(apperr.Invalid, "token scope %q: want admin or cluster", in.Scope)
	}
	secret := randomToken(adminPrefix)
	t := store.Token{Name: in.Name, Prefix: secret[:8], Hash: HashToken(secret), Scope: in.Scope}
	if in.TTL > 0 {
		exp := s.now().Add(in.TTL.D()).UTC()
		t.ExpiresAt = &exp
	}
	if err := s.st.CreateToken(ctx, &t, s.now()); err != nil {
		return api.TokenCreated{}, err
	}
	s.Emit(ctx, api.Event{Kind: "token.created", Message: fmt.Sprintf("API token %q created", t.Name)})
	return api.TokenCreated{Token: tokenAPI(t), Secret: secret}, nil
}

// ListTokens lists live admin tokens.
func (s *Service) ListTokens(ctx context.Context) ([]api.Token, error) {
	ts, err := s.st.ListTokens(ctx)
	out := make([]api.Token, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenAPI(t))
	}
	return out, err
}

// RevokeToken revokes an admin token.
func (s *Service) RevokeToken(ctx context.Context, id int64) error {
	if err := s.st.RevokeToken(ctx, id, s.now()); err != nil {
		return err
	}
	s.mu.Lock()
	for h, e := range s.admins {
		if e.id == id {
			delete(s.admins, h)
		}
	}
	s.mu.Unlock()
	s.Emit(ctx, api.Event{Kind: "token.revoked", Message: fmt.Sprintf("API token %d revoked", id)})
	return nil
}

func tokenAPI(t store.Token) api.Token {
	return api.Token{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Scope: t.Scope, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, ExpiresAt: t.ExpiresAt}
}

// Agent identifies an authenticated agent.
type Agent struct {
	MemberID     int64
	Pool, Member string
}

// AuthAgentFrom checks an agent credential presented from address from:
// the credential must be valid and from must be in the member's allowed
// source ranges, on every request (not only at enrolment), so a copied
// agent.json is useless elsewhere. A refusal is apperr.Forbidden; it is
// reported as an agent.refused event at most once per member per minute,
// with the number of refusals since the last report. A revoked or
// rotated-out credential is apperr.Unauthorized and reported with its
// source (see checkCredential).
func (s *Service) AuthAgentFrom(ctx context.Context, token string, from netip.Addr) (Agent, error) {
	a, err := s.checkCredential(ctx, token, from)
	if err != nil {
		return a, err
	}
	now := s.now()
	s.mu.Lock()
	l := s.live[a.MemberID]
	if l == nil {
		s.mu.Unlock()
		// Not live here yet (another replica added it): ask the store.
		m, err := s.st.GetMemberByID(ctx, a.MemberID)
		if err != nil {
			return Agent{}, err
		}
		if !CIDRsAllow(m.AllowedCIDRs, from) {
			return Agent{}, refusedSource(from, a.Member, m.AllowedCIDRs)
		}
		return a, nil
	}
	if CIDRsAllow(l.allowed, from) {
		s.mu.Unlock()
		return a, nil
	}
	allowed := l.allowed
	l.refused++
	report := l.refusedAt.IsZero() || now.Sub(l.refusedAt) >= refusalEvery
	n := l.refused
	if report {
		l.refusedAt, l.refused = now, 0
	}
	s.mu.Unlock()
	err = refusedSource(from, a.Member, allowed)
	if report {
		s.Emit(ctx, api.Event{Kind: KindAgentRefused, Pool: a.Pool, Member: a.Member,
			Message: fmt.Sprintf("agent request from %s refused: %s (%d refused since the last report)", from, apperr.Message(err), n),
			Data:    mustJSON(map[string]any{"source": from.String(), "refused": n, "allowed": allowed})})
	}
	return Agent{}, err
}

// KindAgentRefused is the event of agent requests refused for their source.
const KindAgentRefused = "agent.refused"

// refusalEvery bounds agent.refused events to one per member per period.
const refusalEvery = time.Minute

func refusedSource(from netip.Addr, member string, allowed []string) error {
	return apperr.New(apperr.Forbidden, "source address %s is not in the allowed IPs of member %s (%s)", from, member, strings.Join(allowed, ", "))
}

// AuthAgent checks an agent credential, not where it comes from: requests
// from agents go through AuthAgentFrom.
func (s *Service) AuthAgent(ctx context.Context, token string) (Agent, error) {
	return s.checkCredential(ctx, token, netip.Addr{})
}

// Enroll redeems an enrolment secret presented from address from. It
// returns the agent's credential, which only its hash is kept of.
func (s *Service) Enroll(ctx context.Context, in api.EnrollRequest, from netip.Addr) (api.EnrollResponse, error) {
	refuse := func(err error, pool, member string) (api.EnrollResponse, error) {
		s.Emit(ctx, api.Event{Kind: "enrollment.refused", Pool: pool, Member: member,
			Message: fmt.Sprintf("enrolment from %s refused: %s", from, apperr.Message(err)),
			Data:    mustJSON(map[string]any{"source": from.String()})})
		return api.EnrollResponse{}, err
	}
	if err := checkSecretFormat(in.Secret); err != nil {
		return refuse(err, "", "")
	}
	token := randomToken(agentPrefix)
	var pool, member string
	note := func(m store.Member) { pool, member = m.Pool, m.Name }
	m, err := s.st.Enroll(ctx, HashToken(in.Secret), HashToken(token), from.String(), s.now(), note, func(m store.Member) error {
		if !CIDRsAllow(m.AllowedCIDRs, from) {
			return apperr.New(apperr.Forbidden, "source address %s is not in the allowed IPs of member %s (%s)", from, m.Name, strings.Join(m.AllowedCIDRs, ", "))
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, apperr.Forbidden) {
			return refuse(err, pool, member)
		}
		return api.EnrollResponse{}, err
	}
	s.mu.Lock()
	for h, id := range s.agents {
		if id == m.ID {
			delete(s.agents, h)
		}
	}
	l, known := s.live[m.ID]
	if known {
		s.setCredLocked(l, m.Credential, m.TokenHash)
		s.touchCredLocked(l)
	} else {
		s.agents[m.TokenHash] = m.ID
	}
	s.mu.Unlock()
	if !known { // added through another replica
		if err := s.reload(ctx); err != nil {
			s.log.Warn("reload after enrolment", "err", err)
		}
	}
	s.Emit(ctx, api.Event{Kind: "member.enrolled", Pool: m.Pool, Member: m.Name,
		Message: fmt.Sprintf("member %s enrolled from %s (host %q)", m.Name, from, in.Hostname)})
	return api.EnrollResponse{Pool: m.Pool, Member: m.Name, Token: token,
		HeartbeatInterval: api.Duration(DefaultHeartbeatInterval), CAPEM: s.cfg.CAPEM}, nil
}

func checkSecretFormat(sec string) error {
	parts := strings.Split(sec, ".")
	if len(parts) != 3 || parts[0] != secretPrefix || parts[1] == "" || len(parts[2]) < 40 {
		return apperr.New(apperr.Forbidden, "enrolment secret is malformed; copy it exactly as `poolctl member add` printed it")
	}
	return nil
}
