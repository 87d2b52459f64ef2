package client

import (
	"context"
	"net/http"

	"github.com/poolctl/poolctl/api"
)

// AddDNSProvider adds a DNS provider; the server checks it with a harmless
// read first.
func (c *Client) AddDNSProvider(ctx context.Context, in api.DNSProviderCreate) (api.DNSProvider, error) {
	var out api.DNSProvider
	err := c.Do(ctx, http.MethodPost, v1+"/dns/providers", nil, in, &out)
	return out, err
}

// ListDNSProviders lists the DNS providers (without credentials).
func (c *Client) ListDNSProviders(ctx context.Context) ([]api.DNSProvider, error) {
	var out api.List[api.DNSProvider]
	err := c.Do(ctx, http.MethodGet, v1+"/dns/providers", nil, nil, &out)
	return out.Items, err
}

// DNSProvider shows one DNS provider and what uses it.
func (c *Client) DNSProvider(ctx context.Context, name string) (api.DNSProvider, error) {
	var out api.DNSProvider
	err := c.Do(ctx, http.MethodGet, v1+"/dns/providers/"+esc(name), nil, nil, &out)
	return out, err
}

// RemoveDNSProvider removes a DNS provider nothing uses.
func (c *Client) RemoveDNSProvider(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, v1+"/dns/providers/"+esc(name), nil, nil, nil)
}
