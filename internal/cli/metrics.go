package cli

import (
	"context"
	"net/http"

	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/failover"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/metrics"
)

// dnsCounters are the built-in nameserver's counters as metrics reads them.
type dnsCounters struct{ srv *dns.Server }

func (c dnsCounters) DNSCounters() (uint64, map[string]uint64) {
	st := c.srv.Stats()
	return st.Queries, st.Responses
}

// memberStates are the fleet's live member states as metrics reads them.
type memberStates struct{ fl *fleet.Service }

func (m memberStates) MemberStates() []metrics.MemberState {
	ls := m.fl.LiveStates()
	out := make([]metrics.MemberState, len(ls))
	for i, l := range ls {
		out[i] = metrics.MemberState{Pool: l.Pool, Member: l.Member, Status: l.Status}
	}
	return out
}

// newMetrics builds the server's registry; srv is the built-in nameserver
// (nil without one).
func newMetrics(srv *dns.Server, fl *fleet.Service) *metrics.Registry {
	cfg := metrics.Config{Members: memberStates{fl: fl}}
	if srv != nil {
		cfg.DNS = dnsCounters{srv: srv}
	}
	return metrics.New(cfg)
}

// failoverKind maps a failover event to its poolctl_failovers_total kind
// ("" for the events that moved no record).
func failoverKind(kind string) string {
	switch kind {
	case failover.KindCut:
		return "cut"
	case failover.KindFailback:
		return "failback"
	case failover.KindManual:
		return "manual"
	}
	return ""
}

// readyChecks are /readyz's checks beside the store: the nameserver
// answering a query sent to itself.
func (e *engines) readyChecks() []apiserver.ReadyCheck {
	if e.dnsAddr == "" {
		return nil
	}
	addr := e.dnsAddr
	return []apiserver.ReadyCheck{{Name: "nameserver", Check: func(ctx context.Context) error {
		return dns.Probe(ctx, addr, "")
	}}}
}

// mountProbes serves the API's routes outside /api/: /metrics, /healthz
// and /readyz.
func mountProbes(mux *http.ServeMux, apiSrv *apiserver.Server) {
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		mux.Handle("GET "+p, apiSrv)
	}
}
