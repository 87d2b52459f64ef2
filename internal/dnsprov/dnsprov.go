// Package dnsprov is the registry of named DNS providers: each stored with
// its kind (powerdns, rfc2136, cloudflare), its settings and its credential
// sealed with the server's master key (AES-GCM), checked by a harmless
// read before it is stored, never returned. It builds a
// dnsprovider.Provider from a stored entry and publishes a pool's failover
// record there (publish.go).
//
// The provider packages under internal/dnsprovider know no store; this
// package is where the store meets them.
package dnsprov

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
	"github.com/poolctl/poolctl/internal/sealbox"
	"github.com/poolctl/poolctl/internal/store"
)

// Config configures a Registry.
type Config struct {
	Store     *store.Store
	MasterKey [32]byte // seals the providers' credentials
	Now       func() time.Time
	Logger    *slog.Logger
	// CheckTimeout bounds the read that checks a provider on save (15 s).
	CheckTimeout time.Duration
}

// Registry stores DNS providers and builds their clients.
type Registry struct {
	cfg Config
	st  *store.Store
	box *sealbox.Box // seals the credentials
	log *slog.Logger

	mu    sync.Mutex
	built map[string]built // by name
}

// built is a provider's client, kept while its stored row is unchanged so
// that a client's state (Cloudflare's zone ids and rate limit) lasts.
type built struct {
	key string // the row's kind, config, sealed secret and update time
	p   dnsprovider.Provider
}

// New returns a registry over cfg.Store.
func New(cfg Config) (*Registry, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("dnsprov.New: Store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = 15 * time.Second
	}
	return &Registry{cfg: cfg, st: cfg.Store, box: sealbox.New(cfg.MasterKey), log: cfg.Logger.With("component", "dns-providers"), built: map[string]built{}}, nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Add checks in (its settings, then a harmless read with its credential)
// and stores it with the credential sealed.
func (r *Registry) Add(ctx context.Context, in api.DNSProviderCreate) (api.DNSProvider, error) {
	if !nameRE.MatchString(in.Name) {
		return api.DNSProvider{}, apperr.New(apperr.Invalid, "DNS provider name %q is invalid: use 1-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen", in.Name)
	}
	if in.Name == Builtin {
		return api.DNSProvider{}, apperr.New(apperr.Invalid, "DNS provider name %q is taken by poolctl's own zones", in.Name)
	}
	cfg, err := settingsOf(in)
	if err != nil {
		return api.DNSProvider{}, err
	}
	if _, err := r.st.GetDNSProvider(ctx, in.Name); err == nil {
		return api.DNSProvider{}, apperr.New(apperr.Conflict, "DNS provider %s already exists (remove it first to change it)", in.Name)
	}
	p, err := build(in.Kind, cfg, in.Secret)
	if err != nil {
		return api.DNSProvider{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.cfg.CheckTimeout)
	defer cancel()
	if err := check(cctx, in.Kind, cfg, p); err != nil {
		return api.DNSProvider{}, apperr.Wrap(apperr.Invalid, err, "DNS provider %s (%s at %s) not saved: the check failed", in.Name, in.Kind, target(in.Kind, cfg))
	}
	sealed, err := r.seal(in.Name, in.Secret)
	if err != nil {
		return api.DNSProvider{}, err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return api.DNSProvider{}, err
	}
	row := store.DNSProvider{Name: in.Name, Kind: in.Kind, Config: raw, SecretSealed: sealed}
	if err := r.st.CreateDNSProvider(ctx, &row, r.cfg.Now()); err != nil {
		return api.DNSProvider{}, err
	}
	r.log.Info("DNS provider added", "name", in.Name, "kind", in.Kind, "target", target(in.Kind, cfg))
	return r.toAPI(ctx, row)
}

// List lists the providers by name, without their credentials.
func (r *Registry) List(ctx context.Context) ([]api.DNSProvider, error) {
	rows, err := r.st.ListDNSProviders(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.DNSProvider, 0, len(rows))
	for _, row := range rows {
		p, err := r.toAPI(ctx, row)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Get shows one provider, without its credential.
func (r *Registry) Get(ctx context.Context, name string) (api.DNSProvider, error) {
	row, err := r.st.GetDNSProvider(ctx, name)
	if err != nil {
		return api.DNSProvider{}, err
	}
	return r.toAPI(ctx, row)
}

// Remove deletes a provider nothing uses; one in use is a Conflict naming
// its users.
func (r *Registry) Remove(ctx context.Context, name string) error {
	if _, err := r.st.GetDNSProvider(ctx, name); err != nil {
		return err
	}
	users, err := r.usedBy(ctx, name)
	if err != nil {
		return err
	}
	if len(users) > 0 {
		return apperr.New(apperr.Conflict, "DNS provider %s is in use by %s: move them to another provider first (poolctl pool update POOL --dns-provider OTHER, or \"\" for the built-in zones)", name, strings.Join(users, ", "))
	}
	if err := r.st.DeleteDNSProvider(ctx, name); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.built, name)
	r.mu.Unlock()
	r.log.Info("DNS provider removed", "name", name)
	return nil
}

func (r *Registry) usedBy(ctx context.Context, name string) ([]string, error) {
	pools, err := r.st.PoolsUsingDNSProvider(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(pools))
	for _, p := range pools {
		out = append(out, "pool:"+p)
	}
	return out, nil
}

func (r *Registry) toAPI(ctx context.Context, row store.DNSProvider) (api.DNSProvider, error) {
	out := api.DNSProvider{Name: row.Name, Kind: row.Kind, HasSecret: row.SecretSealed != "", CreatedAt: row.CreatedAt}
	cfg, err := decode(row)
	if err != nil {
		return api.DNSProvider{}, err
	}
	out.PowerDNS, out.RFC2136, out.Cloudflare = cfg.PowerDNS, cfg.RFC2136, cfg.Cloudflare
	out.Target = target(row.Kind, cfg)
	if out.UsedBy, err = r.usedBy(ctx, row.Name); err != nil {
		return api.DNSProvider{}, err
	}
	return out, nil
}

// Provider returns the client of the stored provider name.
func (r *Registry) Provider(ctx context.Context, name string) (dnsprovider.Provider, error) {
	row, err := r.st.GetDNSProvider(ctx, name)
	if err != nil {
		return nil, err
	}
	key := strings.Join([]string{row.Kind, string(row.Config), row.SecretSealed, row.UpdatedAt.String()}, "\x00")
	r.mu.Lock()
	b, ok := r.built[name]
	r.mu.Unlock()
	if ok && b.key == key {
		return b.p, nil
	}
	cfg, err := decode(row)
	if err != nil {
		return nil, err
	}
	secret, err := r.open(row)
	if err != nil {
		return nil, err
	}
	p, err := build(row.Kind, cfg, secret)
	if err != nil {
		return nil, fmt.Errorf("DNS provider %s: %w", name, err)
	}
	r.mu.Lock()
	r.built[name] = built{key: key, p: p}
	r.mu.Unlock()
	return p, nil
}
