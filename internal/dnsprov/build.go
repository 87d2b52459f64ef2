package dnsprov

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
	"github.com/poolctl/poolctl/internal/dnsprovider/cloudflare"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns"
	"github.com/poolctl/poolctl/internal/dnsprovider/rfc2136"
	"github.com/poolctl/poolctl/internal/store"
)

// Builtin names poolctl's own zones where a provider is named (a pool's
// dns_provider "" or "builtin").
const Builtin = "builtin"

// settings is what is stored of a provider besides its credential: the
// one part of its kind.
type settings struct {
	PowerDNS   *api.PowerDNSProvider   `json:"powerdns,omitempty"`
	RFC2136    *api.RFC2136Provider    `json:"rfc2136,omitempty"`
	Cloudflare *api.CloudflareProvider `json:"cloudflare,omitempty"`
}

// settingsOf checks that in carries the settings of its kind, and only
// those, and a credential.
func settingsOf(in api.DNSProviderCreate) (settings, error) {
	var s settings
	given := 0
	for _, set := range []bool{in.PowerDNS != nil, in.RFC2136 != nil, in.Cloudflare != nil} {
		if set {
			given++
		}
	}
	missing := func(what string) error {
		return apperr.New(apperr.Invalid, "DNS provider %s of kind %s: %s", in.Name, in.Kind, what)
	}
	switch in.Kind {
	case api.DNSProviderPowerDNS:
		if in.PowerDNS == nil || strings.TrimSpace(in.PowerDNS.URL) == "" {
			return s, missing("give powerdns.url, the webserver of pdns_server (http://HOST:8081)")
		}
		c := *in.PowerDNS
		c.URL = strings.TrimSpace(c.URL)
		s.PowerDNS = &c
	case api.DNSProviderRFC2136:
		if in.RFC2136 == nil || strings.TrimSpace(in.RFC2136.Server) == "" {
			return s, missing("give rfc2136.server, the primary's HOST:PORT")
		}
		if strings.TrimSpace(in.RFC2136.KeyName) == "" {
			return s, missing("give rfc2136.key_name, the TSIG key's name")
		}
		if len(in.RFC2136.Zones) == 0 {
			return s, missing("give rfc2136.zones, the zones it manages there (an RFC 2136 server cannot list them)")
		}
		c := *in.RFC2136
		c.Server, c.KeyName = strings.TrimSpace(c.Server), strings.TrimSpace(c.KeyName)
		c.Zones = nil
		for _, z := range in.RFC2136.Zones {
			n, err := dnsprovider.ZoneName(z)
			if err != nil {
				return s, apperr.Wrap(apperr.Invalid, err, "DNS provider %s: zone %q", in.Name, z)
			}
			c.Zones = append(c.Zones, n)
		}
		s.RFC2136 = &c
	case api.DNSProviderCloudflare:
		c := api.CloudflareProvider{}
		if in.Cloudflare != nil {
			c = *in.Cloudflare
		}
		c.Account, c.URL = strings.TrimSpace(c.Account), strings.TrimSpace(c.URL)
		s.Cloudflare = &c
		if in.Cloudflare == nil {
			given++ // nothing of its own is required
		}
	default:
		return s, apperr.New(apperr.Invalid, "DNS provider %s: kind %q: want powerdns, rfc2136 or cloudflare", in.Name, in.Kind)
	}
	if given != 1 {
		return s, missing("give only the settings of its kind")
	}
	if strings.TrimSpace(in.Secret) == "" {
		return s, missing(map[string]string{
			api.DNSProviderPowerDNS:   "the secret (the api-key of its pdns.conf) is required",
			api.DNSProviderRFC2136:    "the secret (the TSIG key's base64 secret) is required",
			api.DNSProviderCloudflare: "the secret (a scoped API token: Zone:Read, DNS:Edit) is required",
		}[in.Kind])
	}
	return s, nil
}

func decode(row store.DNSProvider) (settings, error) {
	var s settings
	if err := json.Unmarshal(row.Config, &s); err != nil {
		return s, fmt.Errorf("DNS provider %s: stored settings: %w", row.Name, err)
	}
	return s, nil
}

// build returns the client of a provider. Errors are of kind
// apperr.Invalid and never hold the secret.
func build(kind string, s settings, secret string) (dnsprovider.Provider, error) {
	secret = strings.TrimSpace(secret)
	switch {
	case kind == api.DNSProviderPowerDNS && s.PowerDNS != nil:
		return powerdns.New(s.PowerDNS.URL, powerdns.Options{APIKey: secret, ServerID: s.PowerDNS.ServerID})
	case kind == api.DNSProviderRFC2136 && s.RFC2136 != nil:
		return rfc2136.New(rfc2136.Config{Server: s.RFC2136.Server, Zones: s.RFC2136.Zones, KeyName: s.RFC2136.KeyName, KeySecret: secret})
	case kind == api.DNSProviderCloudflare && s.Cloudflare != nil:
		return cloudflare.New(cloudflare.Config{Token: secret, BaseURL: s.Cloudflare.URL})
	}
	return nil, apperr.New(apperr.Invalid, "DNS provider of kind %q without its settings", kind)
}

// check is the harmless read that proves a provider's settings and
// credential: its zones listed (PowerDNS, Cloudflare), or each zone
// transferred (RFC 2136: AXFR with the key).
func check(ctx context.Context, kind string, s settings, p dnsprovider.Provider) error {
	if kind == api.DNSProviderRFC2136 {
		for _, z := range s.RFC2136.Zones {
			if _, err := p.GetRecords(ctx, z); err != nil {
				return fmt.Errorf("AXFR of %s: %w", z, err)
			}
		}
		return nil
	}
	if _, err := p.ListZones(ctx); err != nil {
		return fmt.Errorf("list zones: %w", err)
	}
	return nil
}

// target says where a provider points, for people; no secret.
func target(kind string, s settings) string {
	switch {
	case kind == api.DNSProviderPowerDNS && s.PowerDNS != nil:
		return s.PowerDNS.URL
	case kind == api.DNSProviderRFC2136 && s.RFC2136 != nil:
		return fmt.Sprintf("%s (key %s; %s)", s.RFC2136.Server, s.RFC2136.KeyName, strings.Join(s.RFC2136.Zones, ", "))
	case kind == api.DNSProviderCloudflare && s.Cloudflare != nil:
		t := s.Cloudflare.URL
		if t == "" {
			t = cloudflare.DefaultBaseURL
		}
		if s.Cloudflare.Account != "" {
			t = "account " + s.Cloudflare.Account + " at " + t
		}
		return t
	}
	return ""
}
