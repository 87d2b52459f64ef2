package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/poolctl/poolctl/api"
)

// StartMaintenance starts a one-off maintenance window of a pool (or, with
// in.Member, of a member) now, or schedules one with in.Cron.
func (c *Client) StartMaintenance(ctx context.Context, pool string, in api.MaintenanceStart) (api.MaintenanceWindow, error) {
	var out api.MaintenanceWindow
	err := c.Do(ctx, http.MethodPost, v1+"/pools/"+esc(pool)+"/maintenance", nil, in, &out)
	return out, err
}

// StopMaintenance ends the one-off windows of a pool or member now and
// removes its scheduled ones.
func (c *Client) StopMaintenance(ctx context.Context, pool, member string) (api.MaintenanceStopped, error) {
	var out api.MaintenanceStopped
	q := url.Values{}
	if member != "" {
		q.Set("member", member)
	}
	err := c.Do(ctx, http.MethodDelete, v1+"/pools/"+esc(pool)+"/maintenance", q, nil, &out)
	return out, err
}

// ListMaintenance lists the windows open or to come (pool "" all).
func (c *Client) ListMaintenance(ctx context.Context, pool string) ([]api.MaintenanceWindow, error) {
	var out api.List[api.MaintenanceWindow]
	q := url.Values{}
	if pool != "" {
		q.Set("pool", pool)
	}
	err := c.Do(ctx, http.MethodGet, v1+"/maintenance", q, nil, &out)
	return out.Items, err
}
