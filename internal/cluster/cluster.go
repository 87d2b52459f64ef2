// Package cluster is the sending side of the DNS cluster: the nameservers
// (other poolctl servers and dns-nodes) this server writes its zones to.
// Every zone change is pushed to every write-only member at once, whole (its
// zone file and serial), which the member takes idempotently and never
// backwards (internal/zones/replica.go); a periodic reconcile compares the
// member's serials with this server's and sends what differs, so a member
// that was offline, or a change whose push failed, catches up by itself.
// Consecutive failed operations disable a member at the failure threshold
// (an event); enabling it again resynchronises it. While a member fails,
// changes are not pushed to it one by one: the reconcile tries it, so the
// threshold counts attempts (one per reconcile period), and one that
// succeeds sends everything missed meanwhile.
package cluster

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/sealbox"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/zones"
)

// Event kinds.
const (
	KindMemberAdded    = "dns.cluster_member_added"
	KindMemberRemoved  = "dns.cluster_member_removed"
	KindMemberDisabled = "dns.cluster_member_disabled"
	KindMemberEnabled  = "dns.cluster_member_enabled"
	KindConflict       = "dns.cluster_conflict"
)

// DefaultReconcile is how often members are compared with this server.
const DefaultReconcile = 30 * time.Second

// Zones is the zone service as the cluster needs it.
type Zones interface {
	List(ctx context.Context) ([]api.Zone, error)
	ReplicaZone(ctx context.Context, zone string) (api.ClusterZone, error)
	// ApplyReplica and DeleteReplica take here what was fetched from a
	// sync or standalone member.
	ApplyReplica(ctx context.Context, zone string, in api.ClusterZone, from zones.ReplicaSource) (api.ClusterApplied, error)
	DeleteReplica(ctx context.Context, zone, writer string) error
	// AdoptZone writes a zone as a change made here, above a serial:
	// how a conflict is resolved.
	AdoptZone(ctx context.Context, zone, text string, above uint32) (uint32, error)
	// ReplicaDeltas is a zone as its changes since a serial (the
	// operation log); NotFound when the log does not reach back so far.
	ReplicaDeltas(ctx context.Context, zone string, from uint32) (api.ClusterZone, error)
}

// Events records what happened.
type Events interface {
	Emit(ctx context.Context, e api.Event) api.Event
}

// Config configures a Service.
type Config struct {
	Store     *store.Store
	Zones     Zones
	Events    Events
	MasterKey [32]byte // seals the members' tokens in the store
	Logger    *slog.Logger
	Now       func() time.Time
	// Reconcile is the period of the full comparison (DefaultReconcile).
	Reconcile time.Duration
	// Timeout bounds one request to a member (10 s).
	Timeout time.Duration
	// Backends reach members that are not poolctl servers, by backend
	// name (powerdns).
	Backends map[string]Dial
	// Tokens makes and revokes the cluster token a member added with
	// reverse trust uses to reach this server; CAPEM is this server's CA,
	// given to that member. Nil Tokens: no reverse trust.
	Tokens Tokens
	CAPEM  []byte
}

// Tokens are this server's API tokens, as reverse trust needs them.
type Tokens interface {
	CreateToken(ctx context.Context, in api.TokenCreate) (api.TokenCreated, error)
	RevokeToken(ctx context.Context, id int64) error
}

// Service is the DNS cluster engine.
type Service struct {
	cfg  Config
	st   *store.Store
	log  *slog.Logger
	box  *sealbox.Box // seals the members' tokens
	wake chan struct{}

	mu    sync.Mutex
	dirty map[string]bool // zones changed since the last push
	conns map[string]conn // by member host
	runMu sync.Mutex      // one push or reconcile at a time
}

// New returns the engine; Run drives it.
func New(cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Reconcile <= 0 {
		cfg.Reconcile = DefaultReconcile
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Service{cfg: cfg, st: cfg.Store, log: cfg.Logger.With("component", "dns-cluster"), box: sealbox.New(cfg.MasterKey),
		wake: make(chan struct{}, 1), dirty: map[string]bool{}, conns: map[string]conn{}}, nil
}

// Changed is zones.Config.OnChange: zone is pushed at once.
func (s *Service) Changed(zone string) {
	s.mu.Lock()
	s.dirty[zone] = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// ProbeEvery is how often a failing member is asked whether it is back.
const ProbeEvery = time.Second

// Run pushes changes as they come and reconciles every member
// periodically, until ctx ends. A failing member is also asked every
// second whether it is back (a probe that does not count as a failed
// operation), and reconciled as soon as it answers, so that one back from
// an outage catches up within seconds while the failure threshold still
// counts one failure per reconcile period.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Reconcile)
	defer t.Stop()
	probe := time.NewTicker(ProbeEvery)
	defer probe.Stop()
	s.reconcileAll(ctx, false)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			s.pushDirty(ctx)
		case <-t.C:
			s.reconcileAll(ctx, false)
		case <-probe.C:
			s.probeFailing(ctx)
		}
	}
}

// probeFailing reconciles the failing members that answer again.
func (s *Service) probeFailing(ctx context.Context) {
	ms, set, err := s.active(ctx)
	if err != nil {
		return
	}
	var failing []store.ClusterMember
	for _, m := range ms {
		if m.Failures > 0 {
			failing = append(failing, m)
		}
	}
	if len(failing) == 0 {
		return
	}
	s.runMu.Lock()
	defer s.runMu.Unlock()
	s.each(failing, func(m store.ClusterMember) {
		c, err := s.client(m)
		if err != nil {
			return
		}
		pctx, cancel := context.WithTimeout(ctx, min(s.cfg.Timeout, 2*time.Second))
		_, err = c.ClusterHello(pctx)
		cancel()
		if err == nil {
			s.log.Info("DNS cluster member answers again", "member", m.Host)
			s.reconcile(ctx, m, set, false)
		}
	})
}

// active returns the members not disabled, or nil while the cluster is
// switched off.
func (s *Service) active(ctx context.Context) ([]store.ClusterMember, store.ClusterSettings, error) {
	set, err := s.st.GetClusterSettings(ctx)
	if err != nil || !set.Enabled {
		return nil, set, err
	}
	ms, err := s.st.ListClusterMembers(ctx)
	var out []store.ClusterMember
	for _, m := range ms {
		if m.DisabledAt == nil {
			out = append(out, m)
		}
	}
	return out, set, err
}

// writes reports whether this server writes to a member of role.
func writes(role string) bool { return role == api.ClusterRoleWriteOnly || role == api.ClusterRoleSync }

// reads reports whether this server fetches the zones of a member of role.
func reads(role string) bool { return role == api.ClusterRoleStandalone || role == api.ClusterRoleSync }

func (s *Service) pushDirty(ctx context.Context) {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	s.mu.Lock()
	names := make([]string, 0, len(s.dirty))
	for z := range s.dirty {
		names = append(names, z)
	}
	s.dirty = map[string]bool{}
	s.mu.Unlock()
	slices.Sort(names)
	ms, set, err := s.active(ctx)
	if err != nil {
		s.log.Warn("DNS cluster members", "err", err)
		return
	}
	read := newReads(s) // each zone read once for every member
	s.each(ms, func(m store.ClusterMember) {
		if m.Failures > 0 || !writes(m.Role) {
			// Failing: the retry sends everything it missed, so an
			// outage counts one failure per attempt, not one per change
			// made meanwhile.
			return
		}
		s.push(ctx, m, set, names, read)
	})
}

func (s *Service) each(ms []store.ClusterMember, fn func(store.ClusterMember)) {
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() { defer wg.Done(); fn(m) }()
	}
	wg.Wait()
}

// reconcileAll compares every active member with this server; full forgets
// what members acknowledged, so that every zone is sent again.
func (s *Service) reconcileAll(ctx context.Context, full bool) (sent int) {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	ms, set, err := s.active(ctx)
	if err != nil {
		s.log.Warn("DNS cluster members", "err", err)
		return 0
	}
	var mu sync.Mutex
	s.each(ms, func(m store.ClusterMember) {
		n := s.reconcile(ctx, m, set, full)
		mu.Lock()
		sent += n
		mu.Unlock()
	})
	return sent
}

func (s *Service) succeeded(ctx context.Context, m *store.ClusterMember) {
	now := s.cfg.Now().UTC()
	if m.Failures == 0 && m.LastError == "" && m.LastOKAt != nil && now.Sub(*m.LastOKAt) < 5*time.Second {
		return // healthy and recent: not a write per change
	}
	m.Failures, m.LastError, m.LastOKAt = 0, "", &now
	if err := s.st.UpdateClusterMemberHealth(ctx, m, now); err != nil {
		s.log.Warn("save DNS cluster member", "member", m.Host, "err", err)
	}
}

// failed counts a failed operation; it reports whether the member is now
// disabled.
func (s *Service) failed(ctx context.Context, m *store.ClusterMember, set store.ClusterSettings, err error) bool {
	now := s.cfg.Now().UTC()
	m.Failures++
	m.LastError = errorText(err)
	disabled := set.FailureThreshold > 0 && m.Failures >= set.FailureThreshold && m.DisabledAt == nil
	if disabled {
		m.DisabledAt = &now
	}
	if uerr := s.st.UpdateClusterMemberHealth(ctx, m, now); uerr != nil {
		s.log.Warn("save DNS cluster member", "member", m.Host, "err", uerr)
	}
	s.log.Warn("DNS cluster operation failed", "member", m.Host, "failures", m.Failures, "err", m.LastError)
	if disabled {
		s.cfg.Events.Emit(ctx, api.Event{Kind: KindMemberDisabled,
			Message: fmt.Sprintf("DNS cluster member %s disabled after %d consecutive failed operations (last: %s); no more changes are sent to it until `poolctl dns cluster enable-member %s`", m.Host, m.Failures, m.LastError, m.Host),
			Data:    mustJSON(map[string]any{"member": m.Host, "failures": m.Failures, "error": m.LastError})})
	}
	return m.DisabledAt != nil
}

// errorText is an error's message without the client's wrapping.
func errorText(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		return fmt.Sprintf("%s (HTTP %d)", ce.Message, ce.Status)
	}
	return err.Error()
}

// Member is how this server talks to a cluster member. For a poolctl
// server or dns-node it is the public client (the cluster API); another
// backend (Config.Backends) answers the same four operations: a zone it
// does not have is NotFound (apperr.NotFound or HTTP 404), a write it
// refuses is a Conflict (apperr.Conflict or HTTP 409).
type Member interface {
	ClusterHello(ctx context.Context) (api.ClusterHello, error)
	ClusterGetZone(ctx context.Context, zone string) (api.ClusterZone, error)
	ClusterPutZone(ctx context.Context, zone string, z api.ClusterZone, p client.ClusterPut) (api.ClusterApplied, error)
	ClusterDeleteZone(ctx context.Context, zone string, p client.ClusterPut) error
}

// Dial reaches a member of a backend other than poolctl, with its URL,
// unsealed token and CA.
type Dial func(url, token string, caPEM []byte, timeout time.Duration) (Member, error)

// client returns a connection to a member, with its token unsealed. It is
// kept while the member's address, token and CA stay, so that pushes reuse
// its TLS connections instead of a handshake per change.
func (s *Service) client(m store.ClusterMember) (Member, error) {
	key := strings.Join([]string{m.Backend, m.URL, m.TokenSealed, m.CAPEM}, "\x00")
	s.mu.Lock()
	c, ok := s.conns[m.Host]
	s.mu.Unlock()
	if ok && c.key == key {
		return c.m, nil
	}
	mc, err := s.dial(m)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.conns[m.Host] = conn{key: key, m: mc}
	s.mu.Unlock()
	return mc, nil
}

type conn struct {
	key string
	m   Member
}

func (s *Service) dial(m store.ClusterMember) (Member, error) {
	tok, err := s.unseal(m)
	if err != nil {
		return nil, err
	}
	if m.Backend != "" && m.Backend != BackendPoolctl {
		dial, ok := s.cfg.Backends[m.Backend]
		if !ok {
			return nil, fmt.Errorf("backend %s is not available on this server", m.Backend)
		}
		return dial(m.URL, tok, []byte(m.CAPEM), s.cfg.Timeout)
	}
	return client.New(m.URL, client.Options{Token: tok, CAPEM: []byte(m.CAPEM), Timeout: s.cfg.Timeout})
}

// BackendPoolctl is a member that is another poolctl server or dns-node.
const BackendPoolctl = "poolctl"

// isStatus reports whether a member's error is an HTTP status (from the
// client) or the apperr kind that maps to it (from another backend).
func isStatus(err error, status int) bool {
	if client.StatusOf(err) == status {
		return true
	}
	switch status {
	case http.StatusNotFound:
		return errors.Is(err, apperr.NotFound)
	case http.StatusConflict:
		return errors.Is(err, apperr.Conflict)
	}
	return false
}

func tokenAAD(host string) string { return "poolctl dns cluster token v1 " + host }

func (s *Service) seal(host, token string) (string, error) {
	return s.box.Seal([]byte(token), tokenAAD(host))
}

func (s *Service) unseal(m store.ClusterMember) (string, error) {
	tok, err := s.box.Open(m.TokenSealed, tokenAAD(m.Host))
	if err != nil {
		return "", fmt.Errorf("the stored token of %s %w", m.Host, err)
	}
	return string(tok), nil
}

var hostRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

func checkRole(role string) error {
	switch role {
	case api.ClusterRoleWriteOnly, api.ClusterRoleSync, api.ClusterRoleStandalone:
		return nil
	}
	return apperr.New(apperr.Invalid, "role %q: want sync (changes go both ways), write-only (this server writes its zones there, never reads) or standalone (this server fetches its zones, never writes there)", role)
}

func checkMember(in *api.ClusterMemberCreate) error {
	in.Host = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(in.Host), "."))
	if !hostRE.MatchString(in.Host) || len(in.Host) > 253 {
		return apperr.New(apperr.Invalid, "host %q: want the member's host name, e.g. ns2.example.net", in.Host)
	}
	if err := checkURL(in.URL); err != nil {
		return err
	}
	if strings.TrimSpace(in.Token) == "" {
		return apperr.New(apperr.Invalid, "token is required: make one on the member with `poolctl token create NAME --scope cluster` (for a PowerDNS member: its api-key)")
	}
	if err := checkCA(in.CA); err != nil {
		return err
	}
	if in.Backend == "" {
		in.Backend = BackendPoolctl
	}
	return checkRole(in.Role)
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return apperr.New(apperr.Invalid, "url %q: want the member's API, https://HOST:PORT", s)
	}
	return nil
}

func checkCA(ca string) error {
	if ca == "" {
		return nil
	}
	pool := x509.NewCertPool()
	if b, _ := pem.Decode([]byte(ca)); b == nil || !pool.AppendCertsFromPEM([]byte(ca)) {
		return apperr.New(apperr.Invalid, "ca: not a PEM certificate (give the member's DATA/ca.pem)")
	}
	return nil
}
