package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// DNSProviders is the registry of DNS providers as the dashboard needs it
// (internal/dnsprov's Registry implements it). Credentials go in and never
// come out.
type DNSProviders interface {
	List(ctx context.Context) ([]api.DNSProvider, error)
	// Add checks the provider with a harmless read before storing it.
	Add(ctx context.Context, in api.DNSProviderCreate) (api.DNSProvider, error)
	// Remove refuses a provider in use, naming its users.
	Remove(ctx context.Context, name string) error
}

var errNoDNSProviders = apperr.New(apperr.Unavailable, "DNS providers are not available on this server")

// providerForm is the add form as typed; the credential is never sent back.
type providerForm struct{ Name, Kind, URL, Server, KeyName, Zones, Account string }

// providersCard is the DNS providers card of the zones page.
type providersCard struct {
	Available bool
	Items     []api.DNSProvider
	Kinds     []string
	Form      providerForm
	Error     string // the add or remove form's error
}

func (h *Handler) providersCard(r *http.Request, f providerForm, formErr error) (*providersCard, error) {
	c := &providersCard{Available: h.cfg.DNSProviders != nil, Form: f,
		Kinds: []string{api.DNSProviderPowerDNS, api.DNSProviderRFC2136, api.DNSProviderCloudflare}}
	if c.Form.Kind == "" {
		c.Form.Kind = api.DNSProviderPowerDNS
	}
	if formErr != nil {
		c.Error = h.message(r, formErr)
	}
	if !c.Available {
		return c, nil
	}
	ps, err := h.cfg.DNSProviders.List(r.Context())
	if err != nil {
		return nil, err
	}
	c.Items = ps
	return c, nil
}

// addDNSProvider adds a provider from the zones page's form (administrators;
// the session check refuses others and a missing CSRF token).
func (h *Handler) addDNSProvider(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.DNSProviders == nil {
		return errNoDNSProviders
	}
	f := providerForm{Name: strings.TrimSpace(r.PostFormValue("name")), Kind: r.PostFormValue("kind"),
		URL: strings.TrimSpace(r.PostFormValue("url")), Server: strings.TrimSpace(r.PostFormValue("server")),
		KeyName: strings.TrimSpace(r.PostFormValue("key_name")), Zones: strings.TrimSpace(r.PostFormValue("zones")),
		Account: strings.TrimSpace(r.PostFormValue("account"))}
	in := api.DNSProviderCreate{Name: f.Name, Kind: f.Kind, Secret: strings.TrimSpace(r.PostFormValue("secret"))}
	switch f.Kind {
	case api.DNSProviderPowerDNS:
		in.PowerDNS = &api.PowerDNSProvider{URL: f.URL}
	case api.DNSProviderRFC2136:
		in.RFC2136 = &api.RFC2136Provider{Server: f.Server, KeyName: f.KeyName, Zones: splitList(f.Zones)}
	case api.DNSProviderCloudflare:
		in.Cloudflare = &api.CloudflareProvider{Account: f.Account, URL: f.URL}
	}
	p, err := h.cfg.DNSProviders.Add(r.Context(), in)
	if err != nil {
		return h.showZonesWith(w, r, statusOf(err), zoneForm{}, nil, f, err)
	}
	return h.redirect(w, r, "/zones", "DNS provider "+p.Name+" ("+p.Kind+" at "+p.Target+") checked and added.")
}

// removeDNSProvider removes a provider nothing uses.
func (h *Handler) removeDNSProvider(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.DNSProviders == nil {
		return errNoDNSProviders
	}
	name := r.PathValue("name")
	if err := h.cfg.DNSProviders.Remove(r.Context(), name); err != nil {
		return h.showZonesWith(w, r, statusOf(err), zoneForm{}, nil, providerForm{}, err)
	}
	return h.redirect(w, r, "/zones", "DNS provider "+name+" removed.")
}
