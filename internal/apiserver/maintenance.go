package apiserver

import (
	"context"
	"net/http"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// Maintenance is maintenance windows (internal/monitor.Windows) as the API
// needs it.
type Maintenance interface {
	Start(ctx context.Context, pool string, in api.MaintenanceStart) (api.MaintenanceWindow, error)
	Stop(ctx context.Context, pool, member string) (api.MaintenanceStopped, error)
	List(ctx context.Context, pool string) ([]api.MaintenanceWindow, error)
}

func (s *Server) maintenance() (Maintenance, error) {
	if s.d.Maintenance == nil {
		return nil, apperr.New(apperr.Unavailable, "maintenance windows are not available on this server")
	}
	return s.d.Maintenance, nil
}

func (s *Server) listMaintenance(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := s.maintenance()
	if err != nil {
		return nil, err
	}
	ws, err := m.List(r.Context(), r.URL.Query().Get("pool"))
	if err != nil {
		return nil, err
	}
	return api.List[api.MaintenanceWindow]{Items: nonNil(ws)}, nil
}

func (s *Server) startMaintenance(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := s.maintenance()
	if err != nil {
		return nil, err
	}
	var in api.MaintenanceStart
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return m.Start(r.Context(), r.PathValue("pool"), in)
}

func (s *Server) stopMaintenance(w http.ResponseWriter, r *http.Request) (any, error) {
	m, err := s.maintenance()
	if err != nil {
		return nil, err
	}
	return m.Stop(r.Context(), r.PathValue("pool"), r.URL.Query().Get("member"))
}
