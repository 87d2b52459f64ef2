package apiserver

import (
	"context"
	"net/http"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
)

// DNSProviders is the registry of DNS providers (internal/dnsprov.Registry)
// as the API needs it. Credentials go in and never come out.
type DNSProviders interface {
	// Add checks the provider with a harmless read and stores it.
	Add(ctx context.Context, in api.DNSProviderCreate) (api.DNSProvider, error)
	List(ctx context.Context) ([]api.DNSProvider, error)
	Get(ctx context.Context, name string) (api.DNSProvider, error)
	// Remove refuses a provider in use with a Conflict naming its users.
	Remove(ctx context.Context, name string) error
}

var errNoDNSProviders = apperr.New(apperr.Unavailable, "DNS providers are not available on this server")

func (s *Server) dnsProviders() (DNSProviders, error) {
	if s.d.DNSProviders == nil {
		return nil, errNoDNSProviders
	}
	return s.d.DNSProviders, nil
}

func (s *Server) listDNSProviders(w http.ResponseWriter, r *http.Request) (any, error) {
	d, err := s.dnsProviders()
	if err != nil {
		return nil, err
	}
	ps, err := d.List(r.Context())
	if err != nil {
		return nil, err
	}
	return api.List[api.DNSProvider]{Items: nonNil(ps)}, nil
}

func (s *Server) addDNSProvider(w http.ResponseWriter, r *http.Request) (any, error) {
	d, err := s.dnsProviders()
	if err != nil {
		return nil, err
	}
	var in api.DNSProviderCreate
	if err := decode(w, r, maxBody, &in); err != nil {
		return nil, err
	}
	return d.Add(r.Context(), in)
}

func (s *Server) getDNSProvider(w http.ResponseWriter, r *http.Request) (any, error) {
	d, err := s.dnsProviders()
	if err != nil {
		return nil, err
	}
	return d.Get(r.Context(), r.PathValue("name"))
}

func (s *Server) removeDNSProvider(w http.ResponseWriter, r *http.Request) (any, error) {
	d, err := s.dnsProviders()
	if err != nil {
		return nil, err
	}
	return nil, d.Remove(r.Context(), r.PathValue("name"))
}
