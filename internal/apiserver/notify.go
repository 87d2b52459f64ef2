package apiserver

import (
	"context"
	"net/http"
	"strconv"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// Notify is notifications and monitoring routes (internal/notify.Admin) as
// the API needs it.
type Notify interface {
	AddChannel(ctx context.Context, in api.NotifyChannelCreate) (api.NotifyChannel, error)
	Channels(ctx context.Context) ([]api.NotifyChannel, error)
	Channel(ctx context.Context, name string) (api.NotifyChannel, error)
	RemoveChannel(ctx context.Context, name string) error
	// Test sends a test message now and answers its outcome.
	Test(ctx context.Context, name string) (api.NotifyDelivery, error)
	Deliveries(ctx context.Context, channel, pool, status string, limit int) ([]api.NotifyDelivery, error)
	Delivery(ctx context.Context, id int64) (api.NotifyDelivery, error)
	MonitorSettings(ctx context.Context, pool string) (api.MonitorSettings, error)
	SetRoute(ctx context.Context, pool, channel string, in api.MonitorRouteSet) (api.MonitorSettings, error)
	RemoveRoute(ctx context.Context, pool, channel string) error
}

var errNoNotify = apperr.New(apperr.Unavailable, "notifications are not available on this server")

func (s *Server) notify() (Notify, error) {
	if s.d.Notify == nil {
		return nil, errNoNotify
	}
	return s.d.Notify, nil
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := s.notify()
	if err != nil {
		return nil, err
	}
	cs, err := n.Channels(r.Context())
	if err != nil {
		return nil, err
	}
	return api.List[api.NotifyChannel]{Items: nonNil(cs)}, nil
}

func (s *Server) addChannel(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := s.notify()
	if err != nil {
		return nil, err
	}
	var in api.NotifyChannelCreate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return n.AddChannel(r.Context(), in)
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := s.notify()
	if err != nil {
		return nil, err
	}
	return n.Channel(r.Context(), r.PathValue("name"))
}

func (s *Server) removeChannel(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := s.notify()
	if err != nil {
		return nil, err
	}
	return nil, n.RemoveChannel(r.Context(), r.PathValue("name"))
}

func (s *Server) testChannel(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := s.notify()
	if err != nil {
		return nil, err
	}
	return n.Test(r.Context(), r.PathValue("name"))
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := s.notify()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > 1000 {
			return nil, apperr.New(apperr.Invalid, "query parameter limit=%q: want 1-1000", v)
		}
		limit = l
	}
	ds, err := n.Deliveries(r.Context(), q.Get("channel"), q.Get("pool"), q.Get("status"), limit)
	if err != nil {
		return nil, err
	}
	return api.List[api.NotifyDelivery]{Items: nonNil(ds)}, nil
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := s.notify()
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	return n.Delivery(r.Context(), id)
}

func (s *Server) monitorSettings(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := s.notify()
	if err != nil {
		return nil, err
	}
	return n.MonitorSettings(r.Context(), r.PathValue("pool"))
}

func (s *Server) setMonitorRoute(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := s.notify()
	if err != nil {
		return nil, err
	}
	var in api.MonitorRouteSet
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return n.SetRoute(r.Context(), r.PathValue("pool"), r.PathValue("channel"), in)
}

func (s *Server) removeMonitorRoute(w http.ResponseWriter, r *http.Request) (any, error) {
	n, err := s.notify()
	if err != nil {
		return nil, err
	}
	return nil, n.RemoveRoute(r.Context(), r.PathValue("pool"), r.PathValue("channel"))
}
