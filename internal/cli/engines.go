package cli

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/store"
)

// engines are the parts of the server beside the API: zones and the
// nameserver, the failover engine, the dashboard.
type engines struct {
	zones    apiserver.Zones
	failover apiserver.Failover
	dnsAddr  string
	stops    []func()
}

func (e *engines) stop() {
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
}

func startEngines(ctx context.Context, o ServerOptions, st *store.Store, fl *fleet.Service, log *slog.Logger) (*engines, error) {
	return &engines{}, nil
}

// web serves everything outside /api/.
func (e *engines) web(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("poolctl server. API: /api/v1 (described at /api/v1/openapi.json)\n"))
	})
}
