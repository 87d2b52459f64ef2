package api

import "time"

// DNS provider kinds.
const (
	DNSProviderPowerDNS   = "powerdns"
	DNSProviderRFC2136    = "rfc2136"
	DNSProviderCloudflare = "cloudflare"
)

// PowerDNSProvider is a PowerDNS Authoritative server's HTTP API (its
// api-key is sealed on the server and never returned).
type PowerDNSProvider struct {
	URL      string `json:"url"`                 // its webserver, http://HOST:8081
	ServerID string `json:"server_id,omitempty"` // "localhost" when empty
}

// RFC2136Provider is a primary that takes dynamic updates signed with a
// TSIG key (hmac-sha256; the secret is sealed and never returned).
type RFC2136Provider struct {
	Server  string   `json:"server"`   // HOST:PORT (53 when omitted)
	KeyName string   `json:"key_name"` // the TSIG key's name
	Zones   []string `json:"zones"`    // the zones it manages there (it cannot list them)
}

// CloudflareProvider is Cloudflare's API v4 with a scoped token (sealed,
// never returned).
type CloudflareProvider struct {
	Account string `json:"account,omitempty"` // a label: whose Cloudflare account the token belongs to
	URL     string `json:"url,omitempty"`     // the API, https://api.cloudflare.com/client/v4 when empty
}

// DNSProvider is a named place poolctl publishes records to.
type DNSProvider struct {
	Name       string              `json:"name"`
	Kind       string              `json:"kind"`
	Target     string              `json:"target"` // where it points, for people: URL, server, account
	PowerDNS   *PowerDNSProvider   `json:"powerdns,omitempty"`
	RFC2136    *RFC2136Provider    `json:"rfc2136,omitempty"`
	Cloudflare *CloudflareProvider `json:"cloudflare,omitempty"`
	HasSecret  bool                `json:"has_secret"`        // a credential is stored (never shown)
	UsedBy     []string            `json:"used_by,omitempty"` // what publishes there: "pool:NAME"
	CreatedAt  time.Time           `json:"created_at"`
}

// DNSProviderCreate adds a provider. Secret is the credential: PowerDNS's
// api-key, the TSIG key's base64 secret, or the Cloudflare API token. The
// provider is checked with a harmless read before it is stored.
type DNSProviderCreate struct {
	Name       string              `json:"name"`
	Kind       string              `json:"kind"`
	PowerDNS   *PowerDNSProvider   `json:"powerdns,omitempty"`
	RFC2136    *RFC2136Provider    `json:"rfc2136,omitempty"`
	Cloudflare *CloudflareProvider `json:"cloudflare,omitempty"`
	Secret     string              `json:"secret"`
}
