package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/poolctl/poolctl/internal/dnssec"
)

// Config configures a [Server].
type Config struct {
	// Addr is where to listen, on UDP and TCP, e.g. "127.0.0.1:5353". With
	// port 0 a port free on both is picked; [Server.Addr] reports it.
	Addr string
	// TSIG maps key names (FQDNs, e.g. "xfr-key.") to base64 secrets, all
	// hmac-sha256.
	TSIG map[string]string
	// AllowTransfer lists who may AXFR/IXFR; empty means nobody.
	AllowTransfer []netip.Prefix
	// RequireTSIG makes transfers require a valid TSIG signature (with
	// TransferKey when that is set, else with any configured key).
	RequireTSIG bool
	// TransferKey names the key that signs outgoing NOTIFY messages.
	TransferKey string
	// Notify lists the secondaries ("127.0.0.1:PORT") to NOTIFY over UDP on
	// every zone change.
	Notify []string
	// MaxUDPSize is the largest UDP response sent and the EDNS buffer size
	// advertised; 0 means 1232 (the DNS Flag Day 2020 value NSD and Knot use).
	MaxUDPSize int
	// NotifyTimeout is the wait for the first NOTIFY reply; retries double
	// it (capped at 8×). 0 means one second.
	NotifyTimeout time.Duration
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// Now is the clock signatures are made by; nil is time.Now.
	Now func() time.Time
	// Validity is the lifetime of the signatures of signed zones; zero is
	// dnssec.DefaultValidity.
	Validity dnssec.Validity
	// ResignEvery is how often signatures are checked and those near
	// expiry made again ([Server.RefreshSignatures]); 0 means an hour.
	ResignEvery time.Duration
}

// Server is an authoritative nameserver answering from an in-memory
// snapshot of zones. Create one with [NewServer], fill it with
// [Server.SetZone] (before or after [Server.Start]) and stop it with
// [Server.Shutdown]. All methods are safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	keys     tsigKeys
	maxUDP   int
	snap     atomic.Pointer[snapshot]
	mu       sync.Mutex // serialises SetZone/RemoveZone and guards udp/tcp/addr
	udp      *udpServer
	tcp      *mdns.Server
	addr     string
	notifier *notifier
	stopSign chan struct{} // closed by Shutdown: ends the re-signing loop
	signDone chan struct{}
	stats    counters
	replies  sync.Pool // *reply scratch space of the query path
}

// NewServer checks cfg and returns a server that serves no zones yet.
func NewServer(cfg Config) (*Server, error) {
	keys, err := newTsigKeys(cfg.TSIG)
	if err != nil {
		return nil, err
	}
	if cfg.TransferKey != "" {
		cfg.TransferKey = mdns.CanonicalName(cfg.TransferKey)
		if _, ok := keys[cfg.TransferKey]; !ok {
			return nil, fmt.Errorf("transfer key %q is not among the TSIG keys", cfg.TransferKey)
		}
	}
	if cfg.RequireTSIG && len(keys) == 0 {
		return nil, fmt.Errorf("RequireTSIG is set but no TSIG keys are configured")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:5353"
	}
	if cfg.MaxUDPSize == 0 {
		cfg.MaxUDPSize = 1232
	}
	if cfg.MaxUDPSize < mdns.MinMsgSize || cfg.MaxUDPSize > mdns.MaxMsgSize {
		return nil, fmt.Errorf("MaxUDPSize %d is outside %d..%d", cfg.MaxUDPSize, mdns.MinMsgSize, mdns.MaxMsgSize)
	}
	if cfg.NotifyTimeout <= 0 {
		cfg.NotifyTimeout = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "dns")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Validity == (dnssec.Validity{}) {
		cfg.Validity = dnssec.DefaultValidity
	}
	if cfg.Validity.Lifetime <= cfg.Validity.Refresh || cfg.Validity.Refresh <= 0 {
		return nil, fmt.Errorf("signature validity: the lifetime (%s) must exceed the refresh period (%s) > 0", cfg.Validity.Lifetime, cfg.Validity.Refresh)
	}
	if cfg.ResignEvery <= 0 {
		cfg.ResignEvery = time.Hour
	}
	s := &Server{cfg: cfg, log: log, keys: keys, maxUDP: cfg.MaxUDPSize, stopSign: make(chan struct{}), signDone: make(chan struct{})}
	s.snap.Store(&snapshot{})
	s.notifier = newNotifier(s, notifyAddrs(cfg.Notify))
	return s, nil
}

// Start binds UDP and TCP and returns once both are listening.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.udp != nil {
		return errors.New("dns server already started")
	}
	pc, l, err := listenBoth(s.cfg.Addr)
	if err != nil {
		return err
	}
	h := handler{s}
	s.udp = newUDPServer(s, pc.(*net.UDPConn))
	s.tcp = &mdns.Server{Listener: l, Handler: h, TsigProvider: s.keys,
		MsgAcceptFunc: s.accept, MsgInvalidFunc: s.invalid}
	s.addr = pc.LocalAddr().String()
	started := make(chan struct{})
	errs := make(chan error, 1)
	s.tcp.NotifyStartedFunc = func() { close(started) }
	go func() {
		if err := s.tcp.ActivateAndServe(); err != nil {
			errs <- err
		}
	}()
	select {
	case <-started:
	case err := <-errs:
		pc.Close()
		l.Close()
		s.udp, s.tcp = nil, nil
		return fmt.Errorf("dns server on %s: %w", s.addr, err)
	}
	s.udp.start()
	go s.resignLoop()
	s.log.Info("dns server listening", "addr", s.addr)
	return nil
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// resignLoop refreshes signatures every ResignEvery until Shutdown.
func (s *Server) resignLoop() {
	defer close(s.signDone)
	t := time.NewTicker(s.cfg.ResignEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopSign:
			return
		case <-t.C:
			if zs, err := s.RefreshSignatures(); err != nil {
				s.log.Error("re-sign zones", "err", err)
			} else if len(zs) > 0 {
				s.log.Info("zones signed again", "zones", zs)
			}
		}
	}
}

// listenBoth binds UDP and TCP on the same address; with port 0 it retries
// until a port is free for both.
func listenBoth(addr string) (net.PacketConn, net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dns listen address %q: %w", addr, err)
	}
	tries := 1
	if port == "0" || port == "" {
		tries = 50
	}
	var lastErr error
	for range tries {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, fmt.Errorf("dns listen udp %s: %w", addr, err)
		}
		p := pc.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		lastErr = err
	}
	return nil, nil, fmt.Errorf("dns listen tcp %s: %w", addr, lastErr)
}

// Addr returns the address the server listens on ("" before Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Shutdown stops the listeners and the background NOTIFY senders.
func (s *Server) Shutdown(ctx context.Context) error {
	s.notifier.stop()
	s.mu.Lock()
	udp, tcp := s.udp, s.tcp
	if udp != nil {
		select {
		case <-s.stopSign:
		default:
			close(s.stopSign)
		}
	}
	s.mu.Unlock()
	if udp != nil {
		<-s.signDone
	}
	var errs []error
	if udp != nil {
		udp.stop()
	}
	if tcp != nil {
		if err := tcp.ShutdownContext(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.notifier.wait(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// SetZone atomically adds z to the served snapshot or replaces the zone of
// the same name (its SOA serial is set to z.Serial unless that is 0; the
// RRs of an RRset are served with their lowest TTL, RFC 2181 section 5.2).
// When the zone is new or its serial increased (RFC 1982),
// the configured secondaries get a NOTIFY. A zone that cannot be built (no
// SOA, a record that does not parse) is logged and the previous version,
// if any, stays served; callers validate with [CheckZone] first.
func (s *Server) SetZone(z Zone) {
	if err := s.LoadZone(z); err != nil {
		s.log.Error("zone not loaded", "zone", z.Name, "err", err)
	}
}

// LoadZone is [Server.SetZone] that reports why a zone could not be built.
func (s *Server) LoadZone(z Zone) error { return s.loadZone(z, nil) }

// LoadZones builds and serves many zones at once (at start-up): they are
// built on every core and published in one snapshot. It returns an error
// per zone that could not be served (the others are).
func (s *Server) LoadZones(zs []Zone) []error {
	built := make([]*zoneData, len(zs))
	errs := make([]error, len(zs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				built[i], errs[i] = s.prepare(zs[i], s.snap.Load().zones.get(strings.ToLower(zs[i].Name)))
			}
		}()
	}
	for i := range zs {
		next <- i
	}
	close(next)
	wg.Wait()
	var ok []*zoneData
	var failed []error
	for i, zd := range built {
		if errs[i] != nil {
			failed = append(failed, errs[i])
			continue
		}
		ok = append(ok, zd)
	}
	s.mu.Lock()
	old := s.snap.Load()
	s.snap.Store(old.withZones(ok))
	s.mu.Unlock()
	for _, zd := range ok {
		if prev := old.zones.get(zd.name); prev == nil || SerialGreater(zd.serial, prev.serial) {
			s.notifier.zoneChanged(zd)
		}
	}
	s.log.Debug("zones loaded", "zones", len(ok), "failed", len(failed))
	return failed
}

// prepare builds zone z (and signs it, when it is signed, reusing what
// prev signed already).
func (s *Server) prepare(z Zone, prev *zoneData) (*zoneData, error) {
	zd, err := buildZone(z)
	if err != nil {
		return nil, err
	}
	if z.DNSSEC != nil {
		if err := zd.sign(z.DNSSEC.Keys, prev, s.now(), s.cfg.Validity); err != nil {
			return nil, fmt.Errorf("sign zone %s: %w", zd.name, err)
		}
	} else {
		// Only a signed zone is built again from its source (to re-sign).
		zd.src.Records = nil
	}
	return zd, nil
}

// loadZone builds and serves z; with resign set, only if resign is still
// the version served (a newer one loaded meanwhile is not replaced).
func (s *Server) loadZone(z Zone, resign *zoneData) error {
	name, err := CanonicalZoneName(z.Name)
	if err != nil {
		return err
	}
	zd, err := s.prepare(z, s.snap.Load().zones.get(name))
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.snap.Load()
	prev := old.zones.get(zd.name)
	if resign != nil && prev != resign {
		s.mu.Unlock()
		return nil
	}
	s.snap.Store(old.withZone(zd))
	s.mu.Unlock()
	if prev == nil || SerialGreater(zd.serial, prev.serial) {
		s.notifier.zoneChanged(zd)
	}
	s.log.Debug("zone loaded", "zone", zd.name, "serial", zd.serial, "names", len(zd.nodes))
	return nil
}

// RemoveZone stops serving the zone name.
func (s *Server) RemoveZone(name string) {
	zone, err := CanonicalZoneName(name)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.snap.Load()
	if old.zones.get(zone) != nil {
		s.snap.Store(old.withoutZone(zone))
	}
}

// Zones returns the names and serials of the served zones.
func (s *Server) Zones() map[string]uint32 {
	out := map[string]uint32{}
	s.snap.Load().zones.each(func(name string, zd *zoneData) { out[name] = zd.serial })
	return out
}

// SetNotify replaces the list of secondaries that get NOTIFY messages.
// Addresses without a port get port 53.
func (s *Server) SetNotify(addrs []string) { s.notifier.setTargets(notifyAddrs(addrs)) }

// notifyAddrs adds the default port to addresses that have none.
func notifyAddrs(addrs []string) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			a = net.JoinHostPort(strings.Trim(a, "[]"), "53")
		}
		out = append(out, a)
	}
	return out
}

// accept is the early filter of miekg's server: it counts the requests it
// rejects (FORMERR, NOTIMP) and otherwise defers to the default rules.
func (s *Server) accept(dh mdns.Header) mdns.MsgAcceptAction {
	action := mdns.DefaultMsgAcceptFunc(dh)
	switch action {
	case mdns.MsgReject:
		s.stats.queries.Add(1)
		s.stats.rcode(mdns.RcodeFormatError)
	case mdns.MsgRejectNotImplemented:
		s.stats.queries.Add(1)
		s.stats.rcode(mdns.RcodeNotImplemented)
	}
	return action
}

// invalid counts the requests that could not be unpacked: those with a
// whole header get a FORMERR, shorter ones are dropped.
func (s *Server) invalid(m []byte, _ error) {
	if len(m) >= 12 {
		s.stats.queries.Add(1)
		s.stats.rcode(mdns.RcodeFormatError)
	}
}
