package apiserver

import (
	"context"
	"net/http"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// DNSSEC is the zone service's signing side (internal/zones/dnssec.go).
// The zone service given as Deps.Zones provides it when it can sign.
type DNSSEC interface {
	DNSSECStatus(ctx context.Context, zone string) (api.DNSSECStatus, error)
	EnableDNSSEC(ctx context.Context, zone string) (api.DNSSECStatus, error)
	DisableDNSSEC(ctx context.Context, zone string) error
	DNSSECDS(ctx context.Context, zone string) (api.DNSSECDS, error)
	StartRollover(ctx context.Context, zone string, in api.DNSSECRolloverStart) (api.DNSSECStatus, error)
}

var errNoDNSSEC = apperr.New(apperr.Unavailable, "DNSSEC is not available on this server")

func (s *Server) dnssec() (DNSSEC, error) {
	d, ok := s.d.Zones.(DNSSEC)
	if !ok || s.d.Zones == nil {
		return nil, errNoDNSSEC
	}
	return d, nil
}

func (s *Server) dnssecStatus(w http.ResponseWriter, r *http.Request) (any, error) {
	d, err := s.dnssec()
	if err != nil {
		return nil, err
	}
	return d.DNSSECStatus(r.Context(), r.PathValue("zone"))
}

func (s *Server) enableDNSSEC(w http.ResponseWriter, r *http.Request) (any, error) {
	d, err := s.dnssec()
	if err != nil {
		return nil, err
	}
	return d.EnableDNSSEC(r.Context(), r.PathValue("zone"))
}

func (s *Server) disableDNSSEC(w http.ResponseWriter, r *http.Request) (any, error) {
	d, err := s.dnssec()
	if err != nil {
		return nil, err
	}
	return nil, d.DisableDNSSEC(r.Context(), r.PathValue("zone"))
}

func (s *Server) dnssecDS(w http.ResponseWriter, r *http.Request) (any, error) {
	d, err := s.dnssec()
	if err != nil {
		return nil, err
	}
	return d.DNSSECDS(r.Context(), r.PathValue("zone"))
}

func (s *Server) dnssecRollover(w http.ResponseWriter, r *http.Request) (any, error) {
	d, err := s.dnssec()
	if err != nil {
		return nil, err
	}
	var in api.DNSSECRolloverStart
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return d.StartRollover(r.Context(), r.PathValue("zone"), in)
}
