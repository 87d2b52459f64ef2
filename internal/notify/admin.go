package notify

import (
	"context"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

// Admin is the operators' side of notifications and monitoring routes,
// as the API and the dashboard need it.
type Admin struct {
	Service      *Service
	DashboardURL string // linked from test messages
}

// AddChannel adds a channel.
func (a Admin) AddChannel(ctx context.Context, in api.NotifyChannelCreate) (api.NotifyChannel, error) {
	return a.Service.AddChannel(ctx, in)
}

// Channels lists the channels.
func (a Admin) Channels(ctx context.Context) ([]api.NotifyChannel, error) {
	return a.Service.Channels(ctx)
}

// Channel shows one.
func (a Admin) Channel(ctx context.Context, name string) (api.NotifyChannel, error) {
	return a.Service.Channel(ctx, name)
}

// RemoveChannel removes one with its history and routes.
func (a Admin) RemoveChannel(ctx context.Context, name string) error {
	return a.Service.RemoveChannel(ctx, name)
}

// Test sends a test message now.
func (a Admin) Test(ctx context.Context, name string) (api.NotifyDelivery, error) {
	return a.Service.Test(ctx, name, a.DashboardURL)
}

// Deliveries lists the history, newest first.
func (a Admin) Deliveries(ctx context.Context, channel, pool, status string, limit int) ([]api.NotifyDelivery, error) {
	switch status {
	case "", api.DeliveryPending, api.DeliverySending, api.DeliveryDelivered, api.DeliveryFailed:
	default:
		return nil, apperr.New(apperr.Invalid, "status %q: want pending, sending, delivered or failed", status)
	}
	if channel != "" {
		if _, err := a.Service.st.GetNotifyChannel(ctx, channel); err != nil {
			return nil, err
		}
	}
	return a.Service.Deliveries(ctx, store.DeliveryFilter{Channel: channel, Pool: pool, Status: status, Limit: limit})
}

// Delivery shows one with its attempts.
func (a Admin) Delivery(ctx context.Context, id int64) (api.NotifyDelivery, error) {
	return a.Service.Delivery(ctx, id)
}

// MonitorSettings are a pool's routes and latest incidents.
func (a Admin) MonitorSettings(ctx context.Context, pool string) (api.MonitorSettings, error) {
	st := a.Service.st
	p, err := st.GetPool(ctx, pool)
	if err != nil {
		return api.MonitorSettings{}, err
	}
	rs, err := st.ListMonitorRoutes(ctx, p.ID)
	if err != nil {
		return api.MonitorSettings{}, err
	}
	out := api.MonitorSettings{Pool: pool, Routes: []api.MonitorRoute{}, Incidents: []api.Incident{}}
	for _, r := range rs {
		out.Routes = append(out.Routes, api.MonitorRoute{Channel: r.Channel, Severity: r.Severity})
	}
	ins, err := st.ListIncidents(ctx, store.IncidentFilter{Pool: pool, Limit: 50})
	if err != nil {
		return api.MonitorSettings{}, err
	}
	for _, in := range ins {
		out.Incidents = append(out.Incidents, api.Incident{ID: in.ID, Kind: in.Kind, Severity: in.Severity, Pool: in.Pool, Member: in.Member, Cause: in.Cause,
			State: in.State, Since: in.Since, FiredAt: in.FiredAt, ResolvedAt: in.ResolvedAt, Suppressed: in.Suppressed, Muted: in.Muted})
	}
	return out, nil
}

// SetRoute sends a pool's alerts of a severity and worse to a channel.
func (a Admin) SetRoute(ctx context.Context, pool, channel string, in api.MonitorRouteSet) (api.MonitorSettings, error) {
	if in.Severity == "" {
		in.Severity = api.SeverityWarning
	}
	if in.Severity != api.SeverityWarning && in.Severity != api.SeverityCritical {
		return api.MonitorSettings{}, apperr.New(apperr.Invalid, "severity %q: want critical (critical alerts only) or warning (warning and critical)", in.Severity)
	}
	st := a.Service.st
	p, err := st.GetPool(ctx, pool)
	if err != nil {
		return api.MonitorSettings{}, err
	}
	c, err := st.GetNotifyChannel(ctx, channel)
	if err != nil {
		return api.MonitorSettings{}, err
	}
	if err := st.SetMonitorRoute(ctx, p.ID, c.ID, in.Severity); err != nil {
		return api.MonitorSettings{}, err
	}
	return a.MonitorSettings(ctx, pool)
}

// RemoveRoute stops a pool's alerts going to a channel.
func (a Admin) RemoveRoute(ctx context.Context, pool, channel string) error {
	st := a.Service.st
	p, err := st.GetPool(ctx, pool)
	if err != nil {
		return err
	}
	c, err := st.GetNotifyChannel(ctx, channel)
	if err != nil {
		return err
	}
	return st.DeleteMonitorRoute(ctx, p.ID, c.ID)
}
