package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// Notify is notifications and monitoring routes as the dashboard needs
// them (internal/notify's Admin implements it). Channels never carry
// their secrets.
type Notify interface {
	Channels(ctx context.Context) ([]api.NotifyChannel, error)
	// Test sends a test message to a channel now and answers its outcome.
	Test(ctx context.Context, name string) (api.NotifyDelivery, error)
	// Deliveries lists the delivery history, newest first.
	Deliveries(ctx context.Context, channel, pool, status string, limit int) ([]api.NotifyDelivery, error)
	MonitorSettings(ctx context.Context, pool string) (api.MonitorSettings, error)
}

var errNoNotify = apperr.New(apperr.Unavailable, "notifications are not available on this server")

// historyLimit is how many deliveries the page lists.
const historyLimit = 50

type notifyPage struct {
	Base
	Channels   []channelRow
	Deliveries []deliveryRow
	Pools      []poolRouting
}

type channelRow struct {
	api.NotifyChannel
	Target string // where it delivers, without secrets
}

type deliveryRow struct {
	api.NotifyDelivery
	Error string // LastError with webhook addresses masked; administrators only
}

type poolRouting struct {
	Pool   string
	Routes []api.MonitorRoute
	Open   int           // incidents not resolved
	Latest *api.Incident // the newest incident, if any
}

// notificationsPage lists the channels, the delivery history and each
// pool's routes. Read-only users see it without the test buttons and
// without delivery errors (an error can quote a receiver's address).
func (h *Handler) notificationsPage(w http.ResponseWriter, r *http.Request) error {
	return h.showNotifications(w, r, http.StatusOK, nil)
}

func (h *Handler) showNotifications(w http.ResponseWriter, r *http.Request, status int, formErr error) error {
	d := &notifyPage{Base: h.pageBase(w, r, "Notifications", "notifications")}
	if h.cfg.Notify == nil {
		return errNoNotify
	}
	ctx := r.Context()
	chs, err := h.cfg.Notify.Channels(ctx)
	if err != nil {
		return err
	}
	var mask []string // raw webhook addresses and their safe forms, for errors
	for _, c := range chs {
		row := channelRow{NotifyChannel: c, Target: channelTarget(c)}
		if c.Webhook != nil && c.Webhook.URL != "" {
			mask = append(mask, c.Webhook.URL, row.Target)
		}
		if !d.Admin && row.Email != nil {
			e := *row.Email
			e.User = ""
			row.Email = &e
		}
		d.Channels = append(d.Channels, row)
	}
	ds, err := h.cfg.Notify.Deliveries(ctx, "", "", "", historyLimit)
	if err != nil {
		return err
	}
	masker := strings.NewReplacer(mask...)
	for _, dl := range ds {
		row := deliveryRow{NotifyDelivery: dl}
		if d.Admin {
			row.Error = masker.Replace(dl.LastError)
		}
		row.LastError = ""
		d.Deliveries = append(d.Deliveries, row)
	}
	pools, err := h.fl.Pools(ctx)
	if err != nil {
		return err
	}
	for _, p := range pools {
		ms, err := h.cfg.Notify.MonitorSettings(ctx, p.Name)
		if err != nil {
			return err
		}
		pr := poolRouting{Pool: p.Name, Routes: ms.Routes}
		for i, in := range ms.Incidents {
			if in.State != "resolved" {
				pr.Open++
			}
			if pr.Latest == nil || in.Since.After(pr.Latest.Since) {
				pr.Latest = &ms.Incidents[i]
			}
		}
		d.Pools = append(d.Pools, pr)
	}
	if formErr != nil {
		d.Error = h.message(r, formErr)
	}
	h.render(w, r, status, "notifications", d)
	return nil
}

// channelTarget says where a channel delivers without any secret: an
// e-mail channel's recipients and SMTP server; a webhook's scheme and host
// only (Slack and Telegram addresses carry their token in the path).
func channelTarget(c api.NotifyChannel) string {
	switch {
	case c.Email != nil:
		t := strings.Join(c.Email.To, ", ") + " via " + c.Email.SMTP
		if c.Email.TLS != "" {
			t += " (" + c.Email.TLS + ")"
		}
		return t
	case c.Webhook != nil:
		u, err := url.Parse(c.Webhook.URL)
		if err != nil || u.Host == "" {
			return "(an address that does not parse)"
		}
		t := u.Scheme + "://" + u.Host
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			t += "/…"
		}
		if c.Webhook.Format != "" {
			t += " (" + c.Webhook.Format + ")"
		}
		return t
	}
	return "—"
}

// testChannel sends a test message now and says how it went.
func (h *Handler) testChannel(w http.ResponseWriter, r *http.Request) error {
	if h.cfg.Notify == nil {
		return errNoNotify
	}
	name := r.PathValue("name")
	dl, err := h.cfg.Notify.Test(r.Context(), name)
	if err != nil {
		return h.showNotifications(w, r, statusOf(err), err)
	}
	msg := "Test message to " + name + ": " + dl.Status + "."
	if dl.Status != api.DeliveryDelivered {
		msg += " See the delivery history for the error."
	}
	return h.redirect(w, r, "/notifications", msg)
}
