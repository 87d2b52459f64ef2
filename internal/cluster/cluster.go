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
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
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
	"github.com/poolctl/poolctl/internal/store"
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
}

// Service is the DNS cluster engine.
type Service struct {
	cfg  Config
	st   *store.Store
	log  *slog.Logger
	aead cipher.AEAD
	wake chan struct{}

	mu        sync.Mutex
	dirty     map[string]bool // zones changed since the last push
	conflicts map[string]bool // member/zone/serial conflicts already reported
	runMu     sync.Mutex      // one push or reconcile at a time
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
	block, err := aes.NewCipher(cfg.MasterKey[:])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, st: cfg.Store, log: cfg.Logger.With("component", "dns-cluster"), aead: aead,
		wake: make(chan struct{}, 1), dirty: map[string]bool{}, conflicts: map[string]bool{}}, nil
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

// Run pushes changes as they come and reconciles every member
// periodically, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Reconcile)
	defer t.Stop()
	s.reconcileAll(ctx, false)
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			s.pushDirty(ctx)
		case <-t.C:
			s.reconcileAll(ctx, false)
		}
	}
}

// active returns the members that get writes now, or nil while the
// cluster is switched off.
func (s *Service) active(ctx context.Context) ([]store.ClusterMember, store.ClusterSettings, error) {
	set, err := s.st.GetClusterSettings(ctx)
	if err != nil || !set.Enabled {
		return nil, set, err
	}
	ms, err := s.st.ListClusterMembers(ctx)
	var out []store.ClusterMember
	for _, m := range ms {
		if m.DisabledAt == nil && writes(m.Role) {
			out = append(out, m)
		}
	}
	return out, set, err
}

// writes reports whether this server writes to a member of role.
func writes(role string) bool { return role == api.ClusterRoleWriteOnly || role == api.ClusterRoleSync }

func (s *Service) pushDirty(ctx context.Context) {
	s.runMu.Lock()
	defer s.runMu.Unlock()
	s.mu.Lock()
	zones := make([]string, 0, len(s.dirty))
	for z := range s.dirty {
		zones = append(zones, z)
	}
	s.dirty = map[string]bool{}
	s.mu.Unlock()
	slices.Sort(zones)
	ms, set, err := s.active(ctx)
	if err != nil {
		s.log.Warn("DNS cluster members", "err", err)
		return
	}
	s.each(ms, func(m store.ClusterMember) {
		if m.Failures > 0 {
			// Failing: the reconcile retries it and sends everything it
			// missed, so an outage counts one failure per attempt, not
			// one per change made meanwhile.
			return
		}
		s.sync(ctx, m, set, zones, nil)
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

// reconcile asks a member which serials it has and sends what differs.
func (s *Service) reconcile(ctx context.Context, m store.ClusterMember, set store.ClusterSettings, full bool) int {
	c, err := s.client(m)
	if err != nil {
		s.failed(ctx, &m, set, err)
		return 0
	}
	hctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	hello, err := c.ClusterHello(hctx)
	cancel()
	if err != nil {
		s.failed(ctx, &m, set, fmt.Errorf("hello: %w", err))
		return 0
	}
	m.RemoteVersion, m.RemoteNode = hello.Version, hello.Node
	remote := map[string]uint32{}
	for _, z := range hello.Zones {
		remote[z.Zone] = z.Serial
	}
	local, err := s.cfg.Zones.List(ctx)
	if err != nil {
		s.log.Warn("list zones", "err", err)
		return 0
	}
	pushed, err := s.st.ClusterPushed(ctx, m.ID)
	if err != nil {
		s.log.Warn("list pushed zones", "err", err)
		return 0
	}
	var todo []string
	here := map[string]bool{}
	for _, z := range local {
		here[z.Name] = true
		if full || remote[z.Name] != z.Serial {
			todo = append(todo, z.Name)
		} else if pushed[z.Name] != z.Serial {
			// It has our serial already (from an earlier push whose answer
			// was lost): remember it.
			_ = s.st.SetClusterPushed(ctx, m.ID, z.Name, z.Serial)
		}
	}
	for z := range pushed {
		if !here[z] {
			todo = append(todo, z) // deleted here: delete there
		}
	}
	slices.Sort(todo)
	return s.sync(ctx, m, set, todo, c)
}

// sync sends zones to a member in order and accounts for the outcome. It
// returns how many were written there.
func (s *Service) sync(ctx context.Context, m store.ClusterMember, set store.ClusterSettings, zones []string, c *client.Client) int {
	if len(zones) == 0 {
		if m.Failures > 0 || m.LastOKAt == nil {
			s.succeeded(ctx, &m)
		}
		return 0
	}
	if c == nil {
		var err error
		if c, err = s.client(m); err != nil {
			s.failed(ctx, &m, set, err)
			return 0
		}
	}
	pushed, err := s.st.ClusterPushed(ctx, m.ID)
	if err != nil {
		s.log.Warn("list pushed zones", "err", err)
		return 0
	}
	sent := 0
	for _, z := range zones {
		ok, err := s.pushZone(ctx, m, c, z, pushed)
		if err != nil {
			if s.failed(ctx, &m, set, fmt.Errorf("zone %s: %w", z, err)) {
				return sent // disabled: no more operations
			}
			continue
		}
		if ok {
			sent++
		}
		s.succeeded(ctx, &m)
	}
	return sent
}

// pushZone writes (or deletes) one zone on a member; ok reports a write.
// A conflict is reported (once) and not counted as a failure: the member
// answers, it only refuses to go back.
func (s *Service) pushZone(ctx context.Context, m store.ClusterMember, c *client.Client, zone string, pushed map[string]uint32) (bool, error) {
	rz, err := s.cfg.Zones.ReplicaZone(ctx, zone)
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	switch {
	case errors.Is(err, apperr.NotFound):
		if _, had := pushed[zone]; !had {
			return false, nil
		}
		if err := c.ClusterDeleteZone(rctx, zone); err != nil {
			return false, err
		}
		s.log.Info("zone deleted on member", "member", m.Host, "zone", zone)
		return true, s.st.SetClusterPushed(ctx, m.ID, zone, 0)
	case err != nil:
		return false, err
	}
	res, err := c.ClusterPutZone(rctx, zone, rz)
	if client.StatusOf(err) == http.StatusConflict {
		s.conflict(ctx, m, zone, rz.Serial, err)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if res.Changed {
		s.log.Info("zone written on member", "member", m.Host, "zone", zone, "serial", rz.Serial)
	}
	return res.Changed, s.st.SetClusterPushed(ctx, m.ID, zone, rz.Serial)
}

func (s *Service) conflict(ctx context.Context, m store.ClusterMember, zone string, serial uint32, err error) {
	key := fmt.Sprintf("%s/%s/%d", m.Host, zone, serial)
	s.mu.Lock()
	seen := s.conflicts[key]
	s.conflicts[key] = true
	s.mu.Unlock()
	if seen {
		return
	}
	msg := errorText(err)
	s.log.Warn("DNS cluster conflict", "member", m.Host, "zone", zone, "serial", serial, "err", msg)
	s.cfg.Events.Emit(ctx, api.Event{Kind: KindConflict, Message: fmt.Sprintf("zone %s was not written to DNS cluster member %s: %s", zone, m.Host, msg),
		Data: mustJSON(map[string]any{"member": m.Host, "zone": zone, "serial": serial})})
}

func (s *Service) succeeded(ctx context.Context, m *store.ClusterMember) {
	now := s.cfg.Now().UTC()
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

// client returns an API client for a member, with its token unsealed.
func (s *Service) client(m store.ClusterMember) (*client.Client, error) {
	tok, err := s.unseal(m)
	if err != nil {
		return nil, err
	}
	return client.New(m.URL, client.Options{Token: tok, CAPEM: []byte(m.CAPEM), Timeout: s.cfg.Timeout})
}

func tokenAAD(host string) []byte { return []byte("poolctl dns cluster token v1 " + host) }

func (s *Service) seal(host, token string) (string, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, []byte(token), tokenAAD(host))), nil
}

func (s *Service) unseal(m store.ClusterMember) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(m.TokenSealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", fmt.Errorf("the stored token of %s is malformed", m.Host)
	}
	tok, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], tokenAAD(m.Host))
	if err != nil {
		return "", fmt.Errorf("the stored token of %s does not open with this server's master key (another replica with a different --master-key-file?)", m.Host)
	}
	return string(tok), nil
}

var hostRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

func checkRole(role string) error {
	switch role {
	case api.ClusterRoleWriteOnly:
		return nil
	case api.ClusterRoleSync, api.ClusterRoleStandalone:
		return apperr.New(apperr.Invalid, "role %s is not available yet: this server cannot fetch zones back from members; use write-only (this server pushes its zones there)", role)
	}
	return apperr.New(apperr.Invalid, "role %q: want write-only (sync and standalone are not available yet)", role)
}

func checkMember(in *api.ClusterMemberCreate) error {
	in.Host = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(in.Host), "."))
	if !hostRE.MatchString(in.Host) || len(in.Host) > 253 {
		return apperr.New(apperr.Invalid, "host %q: want the member's host name, e.g. ns2.example.net", in.Host)
	}
	u, err := url.Parse(in.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return apperr.New(apperr.Invalid, "url %q: want the member's API, https://HOST:PORT", in.URL)
	}
	if strings.TrimSpace(in.Token) == "" {
		return apperr.New(apperr.Invalid, "token is required: make one on the member with `poolctl token create NAME --scope cluster`")
	}
	if in.CA != "" {
		pool := x509.NewCertPool()
		if b, _ := pem.Decode([]byte(in.CA)); b == nil || !pool.AppendCertsFromPEM([]byte(in.CA)) {
			return apperr.New(apperr.Invalid, "ca: not a PEM certificate (give the member's DATA/ca.pem)")
		}
	}
	if in.Backend == "" {
		in.Backend = "poolctl"
	}
	if in.Backend != "poolctl" {
		return apperr.New(apperr.Invalid, "backend %q: only poolctl (another poolctl server or dns-node) is available yet", in.Backend)
	}
	return checkRole(in.Role)
}
