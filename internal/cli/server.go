package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/protection"
	"github.com/poolctl/poolctl/internal/release"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/tlsutil"
	"github.com/poolctl/poolctl/internal/web"
)

// ServerOptions configure `poolctl server`.
type ServerOptions struct {
	Data         string
	Listen       string
	DNS          DNSOptions
	Database     string
	TLSCert      string
	TLSKey       string
	TLSNames     []string
	InsecureHTTP bool
	LogLevel     string
	// TrustedProxies are CIDRs of load balancers or NAT gateways whose
	// X-Forwarded-For names the real source of agent requests.
	TrustedProxies []string
	// ClusterReconcile is how often DNS cluster members are compared with
	// this server (0: cluster.DefaultReconcile).
	ClusterReconcile time.Duration
	// DNSOnly runs a nameserver-only node (poolctl dns-node): the store,
	// TLS, admin token, zones and the nameserver; no dashboard, no agent
	// downloads and no failover, protection or replication engines.
	DNSOnly bool
	// ProxyProtocol reads a PROXY protocol header on connections from
	// TrustedProxies (a TCP load balancer in front of the server).
	ProxyProtocol bool
	// CredentialRotation is the age at which agent credentials rotate (0:
	// fleet.DefaultCredentialRotation, negative: only on request);
	// CredentialOverlap how long a replaced one keeps working (0: the default).
	CredentialRotation time.Duration
	CredentialOverlap  time.Duration
	Replication        ReplicationOptions
	Notify             NotifyOptions
	// AgentBinaries is a directory of extra agent binaries to offer,
	// poolctl-<os>-<arch> (see internal/release).
	AgentBinaries string
	// ReleasePublicKey is the file of an offline release public key (from
	// `poolctl release keygen`); empty: the server signs with its own key.
	ReleasePublicKey string
	// Ready, when set, receives the running server once it listens.
	Ready func(*RunningServer)

	releases *release.Catalog // loaded by RunServer, for the API and the dashboard
	master   [32]byte         // the master key, loaded by RunServer
}

func newServerCmd(g *globals) *cobra.Command {
	var o ServerOptions
	cmd := &cobra.Command{
		Use:   "server --data DIR",
		Short: "Run the poolctl server: API, dashboard and authoritative DNS",
		Long: `Run the poolctl server. Everything lives under --data: the SQLite database
(unless --database names PostgreSQL), the TLS CA and certificate, and admin.token.
The first start writes DATA/admin.token (0600) and DATA/ca.pem, and creates the
dashboard administrator "admin" with its password in DATA/admin.password (0600).`,
		Example: `  poolctl server --data /var/lib/poolctl
  poolctl server --data ./data --listen 0.0.0.0:8443 --dns-listen 0.0.0.0:53
  poolctl server --data ./data --database postgres://poolctl@db/poolctl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.CredentialRotation == 0 {
				o.CredentialRotation = -1 // the flag's 0: only on request
			}
			return RunServer(cmd.Context(), o, g.stderr)
		},
	}
	f := cmd.Flags()
	commonServerFlags(f, &o, "API and dashboard address")
	f.StringVar(&o.Database, "database", "", "postgres:// URL; default SQLite at DATA/poolctl.db")
	f.DurationVar(&o.CredentialRotation, "credential-rotation", fleet.DefaultCredentialRotation, "rotate each agent's credential when it is this old (0: only on request)")
	f.DurationVar(&o.CredentialOverlap, "credential-overlap", fleet.DefaultCredentialOverlap, "how long a rotated-out agent credential keeps working after the new one's first use")
	f.BoolVar(&o.ProxyProtocol, "proxy-protocol", false, "read a PROXY protocol header (v1 or v2, as HAProxy's send-proxy writes) on connections from --trusted-proxy peers, for the agents' real source behind a TCP load balancer")
	f.StringSliceVar(&o.TrustedProxies, "trusted-proxy", nil, "CIDR of a load balancer or NAT in front of the server whose X-Forwarded-For names the agent's real source (repeatable; default none)")
	f.StringVar(&o.Replication.Objects, "objects", "", "object storage for replication: a directory (default DATA/objects) or s3://ACCESS:SECRET@HOST:PORT/BUCKET[/PREFIX][?tls=true&region=R]")
	f.StringVar(&o.Replication.MasterKey, "master-key-file", "", "file holding the key that seals the pools' chunk keys (default DATA/master.key; replicas sharing a database must share it)")
	f.IntVar(&o.Replication.Concurrency, "replication-concurrency", 2, "replication runs in progress at once, fleet-wide")
	f.StringVar(&o.AgentBinaries, "agent-binaries", "", "directory of extra agent binaries to offer for download, named poolctl-<os>-<arch> (the server always offers its own executable)")
	f.StringVar(&o.ReleasePublicKey, "release-public-key", "", "offline release public key (from `poolctl release keygen`): offer only agent binaries whose BINARY.sig it verifies (default: sign with the server's own key)")
	f.StringVar(&o.Replication.Hours, "replication-hours", "", "UTC hours in which scheduled replication runs may start, e.g. 1-6 (default: any hour)")
	notifyFlags(f, &o.Notify)
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

// commonServerFlags are the flags of poolctl server and poolctl dns-node:
// data directory, API address, nameserver, TLS and logging.
func commonServerFlags(f *pflag.FlagSet, o *ServerOptions, listenHelp string) {
	f.StringVar(&o.Data, "data", "", "data directory (required)")
	f.StringVar(&o.Listen, "listen", "127.0.0.1:8443", listenHelp)
	f.StringVar(&o.DNS.Listen, "dns-listen", "", "authoritative DNS address, UDP and TCP (e.g. 127.0.0.1:5353); off when empty")
	f.StringSliceVar(&o.DNS.Notify, "dns-notify", nil, "secondary to NOTIFY on every zone change, IP:PORT (repeatable)")
	f.StringSliceVar(&o.DNS.AllowTransfer, "dns-allow-transfer", nil, "address or CIDR allowed to AXFR/IXFR (repeatable; default nobody)")
	f.StringSliceVar(&o.DNS.TSIG, "dns-tsig", nil, "TSIG key NAME:BASE64SECRET, hmac-sha256 (repeatable; the first signs NOTIFY)")
	f.BoolVar(&o.DNS.RequireTSIG, "dns-require-tsig", false, "refuse zone transfers that are not TSIG-signed")
	f.BoolVar(&o.DNS.DNSSECTestWaits, "dnssec-test-waits", false, "let DNSSEC key rollovers take a step_wait instead of the zone's TTLs (tests only)")
	_ = f.MarkHidden("dnssec-test-waits")
	f.StringVar(&o.TLSCert, "tls-cert", "", "certificate file (instead of the self-signed one)")
	f.StringVar(&o.TLSKey, "tls-key", "", "key file for --tls-cert")
	f.StringSliceVar(&o.TLSNames, "tls-name", nil, "extra host names or IPs for the self-signed certificate (repeatable)")
	f.BoolVar(&o.InsecureHTTP, "insecure-http", false, "serve plain HTTP (local development only)")
	f.StringVar(&o.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.DurationVar(&o.ClusterReconcile, "dns-cluster-reconcile", 30*time.Second, "how often the DNS cluster's members are compared with this server, so that one that missed changes catches up")
}

// newDNSNodeCmd is poolctl dns-node: a nameserver-only node.
func newDNSNodeCmd(g *globals) *cobra.Command {
	var o ServerOptions
	cmd := &cobra.Command{
		Use:   "dns-node --data DIR --dns-listen ADDR",
		Short: "Run a nameserver-only node: zones over the API and authoritative DNS, no dashboard and no engines",
		Long: `Run a nameserver-only node (the analogue of cPanel DNSONLY). It keeps its own SQLite store
under --data, and on first start writes DATA/admin.token (0600) and DATA/ca.pem as the
server does. Its API answers zones, records, tokens and events only; there are no pools,
agents, dashboard, failover or replication. Manage its zones with the usual commands
(POOLCTL_URL, POOLCTL_TOKEN and POOLCTL_CA pointing at it).`,
		Example: `  poolctl dns-node --data /var/lib/poolctl-dns --listen 0.0.0.0:8443 --dns-listen 0.0.0.0:53
  POOLCTL_URL=https://ns2.example.net:8443 POOLCTL_TOKEN=$(cat /var/lib/poolctl-dns/admin.token) \
    POOLCTL_CA=/var/lib/poolctl-dns/ca.pem poolctl zone create example.com --ns ns1.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.DNS.Listen == "" {
				return errors.New("--dns-listen is required: a DNS node that answers no DNS is of no use")
			}
			o.DNSOnly, o.CredentialRotation = true, -1
			return RunServer(cmd.Context(), o, g.stderr)
		},
	}
	commonServerFlags(cmd.Flags(), &o, "API address")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

// RunningServer describes a started server.
type RunningServer struct {
	URL           string
	AdminToken    string
	CAFile        string
	CAFingerprint string
	DNSAddr       string
	Fleet         *fleet.Service
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// RunServer runs the server until ctx ends.
func RunServer(ctx context.Context, o ServerOptions, logw io.Writer) error {
	log, err := newLogger(logw, o.LogLevel)
	if err != nil {
		return err
	}
	if path := os.Getenv("POOLCTL_CPUPROFILE"); path != "" {
		// For benchmarks: profile the whole run.
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if o.Data == "" {
		return errors.New("--data is required")
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if o.InsecureHTTP && o.TLSCert != "" {
		return errors.New("--insecure-http and --tls-cert exclude each other")
	}
	if err := os.MkdirAll(o.Data, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	// The key that seals secrets in the store (chunk keys, the release
	// key, cluster tokens), read once for every engine.
	if o.master, err = protection.LoadMasterKey(masterKeyPath(o)); err != nil {
		return err
	}
	dsn := o.Database
	if dsn == "" {
		dsn = filepath.Join(o.Data, "poolctl.db")
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()

	var tlsMat *tlsutil.Material
	switch {
	case o.InsecureHTTP:
		log.Warn("serving plain HTTP: tokens and enrolment secrets cross the network unencrypted; use only for local development")
	case o.TLSCert != "":
		if tlsMat, err = tlsutil.LoadFiles(o.TLSCert, o.TLSKey); err != nil {
			return err
		}
	default:
		host, _, _ := net.SplitHostPort(o.Listen)
		names := append([]string{}, o.TLSNames...)
		if host != "" && host != "0.0.0.0" && host != "::" {
			names = append(names, host)
		}
		if tlsMat, err = tlsutil.LoadOrCreate(o.Data, names); err != nil {
			return err
		}
	}

	releaseKey := ""
	if !o.DNSOnly {
		if o.releases, releaseKey, err = loadReleases(ctx, o, st, tlsMat, log); err != nil {
			return err
		}
		defer o.releases.Close()
	}

	adminToken, err := loadOrCreateAdminToken(filepath.Join(o.Data, "admin.token"))
	if err != nil {
		return err
	}
	// The dashboard's first administrator, only while no user exists.
	if !o.DNSOnly {
		if _, err := web.EnsureFirstAdmin(ctx, st, filepath.Join(o.Data, "admin.password"), time.Now(), log); err != nil {
			return err
		}
	}
	fcfg := fleet.Config{Logger: log, CredentialRotation: o.CredentialRotation, CredentialOverlap: o.CredentialOverlap}
	if o.CredentialRotation > 0 && o.CredentialRotation < time.Hour {
		return fmt.Errorf("--credential-rotation %s: want 0 (only on request) or at least 1h", o.CredentialRotation)
	}
	if o.CredentialOverlap != 0 && (o.CredentialOverlap < time.Second || o.CredentialOverlap > 24*time.Hour) {
		return fmt.Errorf("--credential-overlap %s: want 1s to 24h", o.CredentialOverlap)
	}
	if tlsMat != nil {
		fcfg.CAFingerprint, fcfg.CAPEM = tlsMat.Fingerprint, string(tlsMat.CAPEM)
	}
	fl := fleet.New(st, fcfg)
	if !o.DNSOnly {
		fl.SetRelease(Version, releaseKey)
		fl.SetReleases(func(goos, goarch string) (api.AgentBinary, bool) {
			b, ok := o.releases.Find(goos, goarch)
			return b.AgentBinary, ok
		})
	}
	if err := fl.EnsureAdminToken(ctx, adminToken); err != nil {
		return fmt.Errorf("register admin token: %w", err)
	}
	if err := fl.Start(ctx); err != nil {
		return fmt.Errorf("load members: %w", err)
	}

	eng, err := startEngines(ctx, o, st, fl, log)
	if err != nil {
		return err
	}
	defer eng.stop()

	proxies, err := fleet.ParseCIDRs(o.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxy: %w", err)
	}
	deps := apiserver.Deps{Fleet: fl, Zones: eng.zones, Cluster: eng.cluster, Logger: log, Version: Version, TrustedProxies: proxies, DNSOnly: o.DNSOnly,
		Metrics: eng.metrics, Ready: eng.readyChecks()}
	mux := http.NewServeMux()
	if o.DNSOnly {
		apiSrv := apiserver.New(deps)
		mux.Handle("/api/", apiSrv)
		mountProbes(mux, apiSrv)
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "poolctl dns-node: a nameserver-only node has no dashboard; its API is under /api/v1 (zones, records, tokens, events)", http.StatusNotFound)
		})
	} else {
		deps.Failover, deps.Protections, deps.Releases = eng.failover, linkedObjects{eng.protection, eng.links}, o.releases
		deps.Links = eng.links
		if eng.notifyAdmin != nil {
			deps.Notify = eng.notifyAdmin
		}
		if eng.dnsProviders != nil {
			deps.DNSProviders = eng.dnsProviders
		}
		if eng.windows != nil {
			deps.Maintenance = eng.windows
		}
		apiSrv := apiserver.New(deps)
		mux.Handle("/api/", apiSrv)
		mux.Handle("GET /install.sh", apiSrv.InstallScript())
		mountProbes(mux, apiSrv)
		mux.Handle("/", eng.web(apiSrv))
	}

	if o.ProxyProtocol && len(proxies) == 0 {
		return errors.New("--proxy-protocol needs --trusted-proxy: a PROXY header is believed only from the load balancers named there")
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Listen, err)
	}
	if o.ProxyProtocol {
		ln = proxyListener(ln, proxies)
	}
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	scheme := "http"
	if tlsMat != nil {
		hs.TLSConfig = tlsMat.Config
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String()
	if err := os.WriteFile(filepath.Join(o.Data, "server.url"), []byte(url+"\n"), 0o644); err != nil {
		return err
	}
	if !o.DNSOnly {
		defer eng.startMonitor(ctx, o, st, url, log)()
	}
	if eng.dnsAddr != "" {
		if err := os.WriteFile(filepath.Join(o.Data, "dns.addr"), []byte(eng.dnsAddr+"\n"), 0o644); err != nil {
			return err
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	fleetDone := make(chan error, 1)
	go func() { fleetDone <- fl.Run(runCtx) }()
	serveErr := make(chan error, 1)
	go func() {
		if tlsMat != nil {
			serveErr <- hs.ServeTLS(ln, "", "")
		} else {
			serveErr <- hs.Serve(ln)
		}
	}()
	// Members get a full heartbeat timeout from now: loading the store,
	// zones and engines took time in which nobody could reach us.
	fl.Receiving(ctx)
	caFile := ""
	if tlsMat != nil && len(tlsMat.CAPEM) > 0 {
		caFile = filepath.Join(o.Data, "ca.pem")
	}
	log.Info("poolctl server ready", "url", url, "database", st.Dialect(), "dns", eng.dnsAddr, "data", o.Data)
	if tlsMat != nil && tlsMat.Fingerprint != "" {
		log.Info("TLS CA", "file", caFile, "sha256", tlsMat.Fingerprint)
	}
	if o.Ready != nil {
		o.Ready(&RunningServer{URL: url, AdminToken: adminToken, CAFile: caFile, CAFingerprint: fcfg.CAFingerprint, DNSAddr: eng.dnsAddr, Fleet: fl})
	}
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		return fmt.Errorf("serve API: %w", err)
	}
	log.Info("shutting down")
	// Decide nothing from here on: heartbeats stop arriving because this
	// server is going away, not because members are. Health stops being
	// judged and the failover engine stops (releasing its lease to another
	// replica) before the listener closes.
	fl.Drain()
	eng.stopDeciding()
	shCtx, shCancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer shCancel()
	_ = hs.Shutdown(shCtx)
	cancel()
	return <-fleetDone
}

// loadOrCreateAdminToken reads the bootstrap admin token, creating it (0600)
// on first start.
func loadOrCreateAdminToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", fmt.Errorf("%s is empty; delete it to have a new token created", path)
		}
		return t, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read admin token: %w", err)
	}
	t := fleet.NewAdminToken()
	if err := tlsutil.WriteFileAtomic(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin token: %w", err)
	}
	return t, nil
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
