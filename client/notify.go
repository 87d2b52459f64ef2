package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/poolctl/poolctl/api"
)

// Notifications and monitoring routes.

// AddChannel adds a notification channel.
func (c *Client) AddChannel(ctx context.Context, in api.NotifyChannelCreate) (api.NotifyChannel, error) {
	var out api.NotifyChannel
	err := c.Do(ctx, http.MethodPost, v1+"/notify/channels", nil, in, &out)
	return out, err
}

// ListChannels lists the notification channels.
func (c *Client) ListChannels(ctx context.Context) ([]api.NotifyChannel, error) {
	var out api.List[api.NotifyChannel]
	err := c.Do(ctx, http.MethodGet, v1+"/notify/channels", nil, nil, &out)
	return out.Items, err
}

// RemoveChannel removes a channel with its history and routes.
func (c *Client) RemoveChannel(ctx context.Context, name string) error {
	return c.Do(ctx, http.MethodDelete, v1+"/notify/channels/"+esc(name), nil, nil, nil)
}

// TestChannel sends a test message now and returns its outcome.
func (c *Client) TestChannel(ctx context.Context, name string) (api.NotifyDelivery, error) {
	var out api.NotifyDelivery
	err := c.Do(ctx, http.MethodPost, v1+"/notify/channels/"+esc(name)+"/test", nil, nil, &out)
	return out, err
}

// Deliveries lists the delivery history, newest first.
func (c *Client) Deliveries(ctx context.Context, channel, pool, status string, limit int) ([]api.NotifyDelivery, error) {
	q := url.Values{}
	for k, v := range map[string]string{"channel": channel, "pool": pool, "status": status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out api.List[api.NotifyDelivery]
	err := c.Do(ctx, http.MethodGet, v1+"/notify/deliveries", q, nil, &out)
	return out.Items, err
}

// Delivery shows one delivery with its attempts.
func (c *Client) Delivery(ctx context.Context, id int64) (api.NotifyDelivery, error) {
	var out api.NotifyDelivery
	err := c.Do(ctx, http.MethodGet, v1+"/notify/deliveries/"+strconv.FormatInt(id, 10), nil, nil, &out)
	return out, err
}

// MonitorSettings shows a pool's routes and latest incidents.
func (c *Client) MonitorSettings(ctx context.Context, pool string) (api.MonitorSettings, error) {
	var out api.MonitorSettings
	err := c.Do(ctx, http.MethodGet, v1+"/pools/"+esc(pool)+"/monitor", nil, nil, &out)
	return out, err
}

// SetMonitorRoute sends a pool's alerts of severity and worse to a channel.
func (c *Client) SetMonitorRoute(ctx context.Context, pool, channel, severity string) (api.MonitorSettings, error) {
	var out api.MonitorSettings
	err := c.Do(ctx, http.MethodPut, v1+"/pools/"+esc(pool)+"/monitor/channels/"+esc(channel), nil, api.MonitorRouteSet{Severity: severity}, &out)
	return out, err
}

// RemoveMonitorRoute stops a pool's alerts going to a channel.
func (c *Client) RemoveMonitorRoute(ctx context.Context, pool, channel string) error {
	return c.Do(ctx, http.MethodDelete, v1+"/pools/"+esc(pool)+"/monitor/channels/"+esc(channel), nil, nil, nil)
}
