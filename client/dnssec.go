package client

import (
	"context"
	"net/http"

	"github.com/poolctl/poolctl/api"
)

// DNSSEC of a zone.

// DNSSECStatus returns a zone's DNSSEC state.
func (c *Client) DNSSECStatus(ctx context.Context, zone string) (api.DNSSECStatus, error) {
	var out api.DNSSECStatus
	err := c.Do(ctx, http.MethodGet, v1+"/zones/"+esc(zone)+"/dnssec", nil, nil, &out)
	return out, err
}

// EnableDNSSEC signs a zone.
func (c *Client) EnableDNSSEC(ctx context.Context, zone string) (api.DNSSECStatus, error) {
	var out api.DNSSECStatus
	err := c.Do(ctx, http.MethodPost, v1+"/zones/"+esc(zone)+"/dnssec", nil, nil, &out)
	return out, err
}

// DisableDNSSEC stops signing a zone and deletes its keys.
func (c *Client) DisableDNSSEC(ctx context.Context, zone string) error {
	return c.Do(ctx, http.MethodDelete, v1+"/zones/"+esc(zone)+"/dnssec", nil, nil, nil)
}

// DNSSECDS returns the DS, CDS and CDNSKEY records of a signed zone.
func (c *Client) DNSSECDS(ctx context.Context, zone string) (api.DNSSECDS, error) {
	var out api.DNSSECDS
	err := c.Do(ctx, http.MethodGet, v1+"/zones/"+esc(zone)+"/dnssec/ds", nil, nil, &out)
	return out, err
}

// DNSSECRollover starts a key rollover of a signed zone.
func (c *Client) DNSSECRollover(ctx context.Context, zone string, in api.DNSSECRolloverStart) (api.DNSSECStatus, error) {
	var out api.DNSSECStatus
	err := c.Do(ctx, http.MethodPost, v1+"/zones/"+esc(zone)+"/dnssec/rollover", nil, in, &out)
	return out, err
}
