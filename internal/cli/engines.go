package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/cluster"
	"github.com/poolctl/poolctl/internal/cluster/pdnsmember"
	"github.com/poolctl/poolctl/internal/dns"
	"github.com/poolctl/poolctl/internal/dnsprov"
	"github.com/poolctl/poolctl/internal/failover"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/links"
	"github.com/poolctl/poolctl/internal/metrics"
	"github.com/poolctl/poolctl/internal/monitor"
	"github.com/poolctl/poolctl/internal/notify"
	"github.com/poolctl/poolctl/internal/probe"
	"github.com/poolctl/poolctl/internal/protection"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/web"
	"github.com/poolctl/poolctl/internal/zones"
)

// DNSOptions configure the built-in nameserver.
type DNSOptions struct {
	Listen        string
	Notify        []string // secondaries to NOTIFY
	AllowTransfer []string // CIDRs that may AXFR/IXFR
	TSIG          []string // NAME:BASE64SECRET (hmac-sha256)
	RequireTSIG   bool
	// DNSSECTestWaits lets a key rollover replace its TTL-based waits
	// (step_wait) and checks rollovers every 200 ms: tests only.
	DNSSECTestWaits bool
}

// engines are the parts of the server beside the API: zones and the
// nameserver, the failover engine, the dashboard.
type engines struct {
	zones      *zones.Service
	cluster    *cluster.Service
	failover   apiserver.Failover
	protection *protection.Service
	links      *links.Service
	notify     *notify.Service
	// notifyAdmin is the API's side of notifications; its dashboard URL
	// is set once the server listens.
	notifyAdmin *notify.Admin
	// windows are the maintenance windows (the monitor mutes, the failover
	// engine pauses).
	windows *monitor.Windows
	// dnsProviders is the registry of DNS providers.
	dnsProviders *dnsprov.Registry
	leading      func() bool // this replica runs the singleton engines
	metrics      *metrics.Registry
	dash         *web.Handler
	dnsAddr      string
	stops        []func()
	// stopDeciding stops the engines that act on member health (the
	// failover engine, which releases its lease); safe to call twice.
	stopDeciding func()
}

func (e *engines) stop() {
	for i := len(e.stops) - 1; i >= 0; i-- {
		e.stops[i]()
	}
}

func (o DNSOptions) config(log *slog.Logger) (dns.Config, error) {
	cfg := dns.Config{Addr: o.Listen, Notify: o.Notify, RequireTSIG: o.RequireTSIG, Logger: log}
	for _, c := range o.AllowTransfer {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return cfg, fmt.Errorf("--dns-allow-transfer %q: not a CIDR or address", c)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		cfg.AllowTransfer = append(cfg.AllowTransfer, p)
	}
	for i, k := range o.TSIG {
		name, secret, ok := strings.Cut(k, ":")
		if !ok || name == "" || secret == "" {
			// Not the value: without its colon it may be the bare secret.
			return cfg, fmt.Errorf("--dns-tsig (key %d): want NAME:BASE64SECRET", i+1)
		}
		if !strings.HasSuffix(name, ".") {
			name += "."
		}
		if cfg.TSIG == nil {
			cfg.TSIG = map[string]string{}
		}
		cfg.TSIG[name] = secret
		if cfg.TransferKey == "" {
			cfg.TransferKey = name
		}
	}
	if o.RequireTSIG && len(cfg.TSIG) == 0 {
		return cfg, fmt.Errorf("--dns-require-tsig needs a --dns-tsig key")
	}
	return cfg, nil
}

func startEngines(ctx context.Context, o ServerOptions, st *store.Store, fl *fleet.Service, log *slog.Logger) (*engines, error) {
	e := &engines{}
	zcfg := zones.Config{Store: st, Events: fl, Logger: log, MasterKey: o.master,
		DNSSEC: zones.DNSSECConfig{AllowStepWait: o.DNS.DNSSECTestWaits}}
	if o.DNS.Listen != "" {
		dcfg, err := o.DNS.config(log.With("component", "dns"))
		if err != nil {
			return nil, err
		}
		srv, err := dns.NewServer(dcfg)
		if err != nil {
			return nil, fmt.Errorf("DNS server: %w", err)
		}
		if err := srv.Start(); err != nil {
			return nil, fmt.Errorf("DNS server on %s: %w", o.DNS.Listen, err)
		}
		e.dnsAddr = srv.Addr()
		e.stops = append(e.stops, func() { _ = srv.Shutdown(context.Background()) })
		zcfg.Sink = srv
		e.metrics = newMetrics(srv, fl)
	} else {
		e.metrics = newMetrics(nil, fl)
	}
	zcfg.OnChange = func(zone string) {
		if e.cluster != nil {
			e.cluster.Changed(zone)
		}
	}
	e.zones = zones.New(zcfg)
	if err := e.zones.LoadAll(ctx); err != nil {
		e.stop()
		return nil, fmt.Errorf("load zones: %w", err)
	}
	var err error
	if e.dnsProviders, err = dnsprov.New(dnsprov.Config{Store: st, MasterKey: o.master, Logger: log}); err != nil {
		e.stop()
		return nil, fmt.Errorf("DNS providers: %w", err)
	}
	fl.SetRecordChecker(poolRecords{z: e.zones, reg: e.dnsProviders})
	if zcfg.Sink != nil {
		// Replicas sharing a PostgreSQL store serve each other's changes.
		syncCtx, stopSync := context.WithCancel(context.WithoutCancel(ctx))
		syncDone := make(chan struct{})
		go func() { defer close(syncDone); e.zones.Run(syncCtx, time.Second) }()
		e.stops = append(e.stops, func() { stopSync(); <-syncDone })
	}
	// DNSSEC key rollovers and the serial bumps that refresh secondaries'
	// signatures.
	dnssecEvery := time.Minute
	if o.DNS.DNSSECTestWaits {
		dnssecEvery = 200 * time.Millisecond
	}
	dnssecCtx, stopDNSSEC := context.WithCancel(context.WithoutCancel(ctx))
	dnssecDone := make(chan struct{})
	go func() { defer close(dnssecDone); e.zones.RunDNSSEC(dnssecCtx, dnssecEvery) }()
	e.stops = append(e.stops, func() { stopDNSSEC(); <-dnssecDone })
	if err := e.startCluster(ctx, o, st, fl, log); err != nil {
		e.stop()
		return nil, err
	}
	if o.DNSOnly {
		e.stopDeciding = func() {}
		return e, nil
	}

	prot, err := startProtection(ctx, o, st, fl, e.zones, log)
	if err != nil {
		e.stop()
		return nil, err
	}
	e.protection = prot.svc
	e.stops = append(e.stops, prot.stop)
	var stopLinks func()
	e.links, stopLinks = startLinks(ctx, st, fl, e.zones, prot, log)
	e.stops = append(e.stops, stopLinks)

	e.windows = &monitor.Windows{Store: st}
	eng := failover.New(failover.Config{
		Pause:     e.windows,
		Accounts:  foAccounts{p: prot.svc},
		Source:    foSource{st: st, fl: fl},
		Prober:    probe.Prober{},
		Witnesses: foWitnesses{fl: fl},
		Publisher: foPublisher{z: e.zones, reg: e.dnsProviders},
		State:     foState{st: st, now: time.Now},
		Events:    foEvents{fl: fl, m: e.metrics},
		Lease:     foLease{st: st, holder: replicaID(o.Data), now: time.Now},
		Hooks:     foHooks{c: &http.Client{Timeout: failover.DefaultHookTimeout}},
		Logger:    log,
	})
	e.failover = foAPI{e: eng, fl: fl}
	e.leading = eng.Leading
	if err := e.startNotify(ctx, o, st, fl, log); err != nil {
		e.stop()
		return nil, err
	}
	e.notifyAdmin = &notify.Admin{Service: e.notify}
	fl.SetLeader(eng.Leading)
	prot.lead(eng.Leading)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := eng.Run(runCtx); err != nil && runCtx.Err() == nil {
			log.Error("failover engine stopped", "err", err)
		}
	}()
	var once sync.Once
	e.stopDeciding = func() { once.Do(func() { cancel(); <-done }) }
	e.stops = append(e.stops, e.stopDeciding)

	dash, err := web.New(web.Config{Fleet: fl, Zones: e.zones, Cluster: e.cluster, Protections: e.protection, Links: e.links, Notify: e.notifyAdmin, DNSProviders: e.dnsProviders, Failover: e.failover, Store: st, Context: ctx, Secure: !o.InsecureHTTP,
		Logger: log, Version: Version, Releases: o.releases})
	if err != nil {
		e.stop()
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	e.dash = dash
	return e, nil
}

// web serves everything outside /api/: the dashboard.
func (e *engines) web(api http.Handler) http.Handler { return e.dash }

// startCluster runs the DNS cluster engine, which pushes this server's zone
// changes to the cluster's members.
func (e *engines) startCluster(ctx context.Context, o ServerOptions, st *store.Store, fl *fleet.Service, log *slog.Logger) error {
	if o.ClusterReconcile < 0 || (o.ClusterReconcile > 0 && o.ClusterReconcile < time.Second) {
		return fmt.Errorf("--dns-cluster-reconcile %s: want at least 1s", o.ClusterReconcile)
	}
	ca, _ := os.ReadFile(filepath.Join(o.Data, "ca.pem")) // none with --tls-cert: the system's roots
	cl, err := cluster.New(cluster.Config{Store: st, Zones: e.zones, Events: fl, MasterKey: o.master, Logger: log, Reconcile: o.ClusterReconcile,
		Backends: map[string]cluster.Dial{pdnsmember.Backend: pdnsmember.Dial}, Tokens: fl, CAPEM: ca})
	if err != nil {
		return fmt.Errorf("DNS cluster: %w", err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { defer close(done); cl.Run(runCtx) }()
	e.stops = append(e.stops, func() { stop(); <-done })
	e.cluster = cl
	return nil
}
