// Package apiserver serves poolctl's REST API under /api/v1: one route
// table (routes.go), handlers that return a value or an error, and one place
// (writeError) that maps errors to status codes and the
// {"error":{"code","message"}} body.
package apiserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/release"
	"github.com/poolctl/poolctl/internal/zones"
)

// Body size limits.
const (
	maxBody      = 1 << 20 // 1 MiB for ordinary requests
	maxZoneBody  = 8 << 20 // zone imports
	maxHeartbeat = 256 << 10
)

// Zones is the zone service as the API needs it (internal/zones implements it).
type Zones interface {
	List(ctx context.Context) ([]api.Zone, error)
	Create(ctx context.Context, in api.ZoneCreate) (api.Zone, error)
	Get(ctx context.Context, zone string) (api.Zone, error)
	Delete(ctx context.Context, zone string) error
	Records(ctx context.Context, zone string) ([]api.Record, error)
	AddRecord(ctx context.Context, zone string, in api.RecordCreate) (api.Record, error)
	DeleteRecord(ctx context.Context, zone string, id int64) error
	Import(ctx context.Context, zone string, in api.ZoneImport) (api.ZoneImportResult, error)
	Export(ctx context.Context, zone string) (string, error)
	// The DNS cluster's receiving side (internal/zones/replica.go).
	ReplicaSerials(ctx context.Context) ([]api.ClusterZoneSerial, error)
	ReplicaZone(ctx context.Context, zone string) (api.ClusterZone, error)
	ApplyReplica(ctx context.Context, zone string, in api.ClusterZone, from zones.ReplicaSource) (api.ClusterApplied, error)
	DeleteReplicaSeen(ctx context.Context, zone, writer string, seen uint32) error
}

// Cluster is the DNS cluster engine (internal/cluster) as the API needs it.
type Cluster interface {
	Settings(ctx context.Context) (api.ClusterSettings, error)
	UpdateSettings(ctx context.Context, in api.ClusterSettingsUpdate) (api.ClusterSettings, error)
	Members(ctx context.Context) ([]api.ClusterMember, error)
	AddMember(ctx context.Context, in api.ClusterMemberCreate) (api.ClusterMember, error)
	UpdateMember(ctx context.Context, host string, in api.ClusterMemberUpdate) (api.ClusterMember, error)
	RemoveMember(ctx context.Context, host string, force bool) (api.ClusterMemberRemoved, error)
	EnableMember(ctx context.Context, host string) (api.ClusterMember, error)
	Resync(ctx context.Context, host string) (api.ClusterResync, error)
	Log(ctx context.Context, host string, limit int) ([]api.ClusterLogEntry, error)
	Conflicts(ctx context.Context, all bool) ([]api.ClusterConflict, error)
	Conflict(ctx context.Context, id int64) (api.ClusterConflict, error)
	Resolve(ctx context.Context, id int64, in api.ClusterConflictResolve) (api.ClusterConflict, error)
	AddPeer(ctx context.Context, in api.ClusterPeer) (api.ClusterMember, error)
}

// Failover is the failover engine as the API needs it.
type Failover interface {
	MakeActive(ctx context.Context, pool, member string, force bool) (api.Pool, error)
}

// Deps are what the API serves.
type Deps struct {
	Fleet    *fleet.Service
	Zones    Zones    // nil: zone routes answer 503
	Failover Failover // nil: make-active answers 503
	// Protections is account protection; nil: its routes (and the agent
	// object API) answer 503.
	Protections Protections
	Logger      *slog.Logger
	Version     string
	// Releases are the agent binaries offered for download (and the TLS
	// pin the install script uses); nil: the release routes answer 503.
	Releases *release.Catalog
	// TrustedProxies are the direct peers (load balancers, NAT gateways)
	// whose X-Forwarded-For header names the real source of a request;
	// from anyone else the header is ignored.
	TrustedProxies []netip.Prefix
	// Cluster is the DNS cluster engine; nil: its routes answer 503.
	Cluster Cluster
	// Links is linked nodes; nil: its routes answer 503.
	Links Links
	// Notify is notifications and monitoring routes; nil: their routes answer 503.
	Notify Notify
	// Maintenance is maintenance windows; nil: their routes answer 503.
	Maintenance Maintenance
	// DNSProviders is the registry of DNS providers; nil: its routes answer 503.
	DNSProviders DNSProviders
	// Metrics records requests and heartbeats and serves /metrics; nil:
	// /metrics answers 503.
	Metrics Metrics
	// Ready are /readyz's checks beside the store's ping (the nameserver).
	Ready []ReadyCheck
	// DNSOnly serves a nameserver-only node (poolctl dns-node): zones,
	// records, tokens and events; no pool, agent or protection route.
	DNSOnly bool
}

// Server is the API's http.Handler.
type Server struct {
	d      Deps
	log    *slog.Logger
	mux    *http.ServeMux
	routes []route

	relLimit *releaseLimiter // agent_release.go

	openapiOnce sync.Once
	openapiDoc  []byte
}

// New builds the API handler.
func New(d Deps) *Server {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{d: d, log: d.Logger.With("component", "api"), mux: http.NewServeMux(), relLimit: newReleaseLimiter(nil)}
	s.routes = s.routeTable()
	if d.DNSOnly {
		s.routes = dnsNodeRoutes(s.routes)
	}
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
	}
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if allow := s.allowed(r); len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.writeError(w, r, errMethod(r.Method, r.URL.Path, allow))
			return
		}
		if d.DNSOnly {
			s.writeError(w, r, apperr.New(apperr.NotFound, "no API route %s %s on this DNS node (poolctl dns-node serves zones, records, tokens and events only; pools and agents live on a poolctl server)", r.Method, r.URL.Path))
			return
		}
		s.writeError(w, r, apperr.New(apperr.NotFound, "no API route %s %s", r.Method, r.URL.Path))
	})
	return s
}

// dnsNodeRoutes keeps the routes a nameserver-only node answers.
func dnsNodeRoutes(all []route) []route {
	var out []route
	for _, rt := range all {
		p := strings.TrimPrefix(rt.path, "/api/v1")
		for _, keep := range []string{"/healthz", "/readyz", "/metrics", "/health", "/openapi.json", "/zones", "/tokens", "/events", "/cluster", "/dns"} {
			if p == keep || strings.HasPrefix(p, keep+"/") {
				out = append(out, rt)
				break
			}
		}
	}
	return out
}

// ServeHTTP serves /api/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// allowed lists the methods that have a route for r's path.
func (s *Server) allowed(r *http.Request) []string {
	var out []string
	seen := map[string]bool{}
	for _, rt := range s.routes {
		if seen[rt.method] {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = rt.method
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/api/" {
			seen[rt.method] = true
			out = append(out, rt.method)
		}
	}
	return out
}

// methodError answers 405.
type methodError struct{ msg string }

func (e methodError) Error() string { return e.msg }

func errMethod(method, path string, allow []string) error {
	return methodError{fmt.Sprintf("method %s is not allowed on %s; use %s", method, path, strings.Join(allow, ", "))}
}

type authKind int

const (
	authNone authKind = iota
	authAdmin
	authAgent
	authCluster // a token of scope cluster: another member of the DNS cluster
)

type ctxKey struct{}

// senderKey holds the name of the cluster token of a DNS cluster request.
type senderKey struct{}

// senderOf names the DNS cluster member that sent a request (its token).
func senderOf(r *http.Request) string {
	n, _ := r.Context().Value(senderKey{}).(string)
	return n
}

// agentOf returns the authenticated agent of an agent route.
func agentOf(r *http.Request) fleet.Agent {
	a, _ := r.Context().Value(ctxKey{}).(fleet.Agent)
	return a
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(hw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: hw}
		defer func() { s.observe(rt, w.sent(), start) }()
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p) // a handler cut its answer short on purpose
				}
				s.log.Error("handler panic", "route", rt.path, "panic", p, "stack", string(debug.Stack()))
				s.writeError(w, r, errors.New("internal error"))
			}
		}()
		if err := checkText(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		switch rt.auth {
		case authAdmin:
			if err := s.d.Fleet.AuthAdmin(r.Context(), bearer(r)); err != nil {
				s.writeError(w, r, err)
				return
			}
		case authCluster:
			name, err := s.d.Fleet.AuthCluster(r.Context(), bearer(r))
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), senderKey{}, name))
		case authAgent:
			from, err := s.source(r)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			a, err := s.d.Fleet.AuthAgentFrom(r.Context(), bearer(r), from)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, a))
		}
		out, err := rt.h(w, r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if out == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if _, ok := out.(written); ok {
			return
		}
		if raw, ok := out.(rawJSON); ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rt.okStatus())
			_, _ = w.Write(raw)
			return
		}
		writeJSON(w, rt.okStatus(), out)
		// Long polls (?wait=) are slow on purpose.
		if d := time.Since(start); d > time.Second && !r.URL.Query().Has("wait") {
			s.log.Info("slow request", "method", r.Method, "path", r.URL.Path, "took", d)
		}
	})
}

type rawJSON []byte

// written is what a handler returns when it has written its answer itself
// (a raw body such as an object's bytes); wrap then writes nothing more.
type written struct{}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// statusOf maps errors to HTTP status codes: method errors and body limits
// here, every service error by its apperr kind.
func statusOf(err error) (int, string) {
	if errors.As(err, new(methodError)) {
		return http.StatusMethodNotAllowed, "method_not_allowed"
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "too_large"
	}
	return apperr.Status(err)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(err)
	msg := apperr.Message(err)
	if errors.As(err, new(*http.MaxBytesError)) {
		msg = "request body too large"
	}
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		if status == http.StatusInternalServerError {
			msg = "internal error; see the server log"
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="poolctl"`)
	}
	writeJSON(w, status, api.ErrorBody{Error: api.ErrorDetail{Code: code, Message: msg}})
}

// decode reads a JSON body into v: at most limit bytes, no unknown fields,
// exactly one value, no NUL characters (no database keeps them).
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return apperr.New(apperr.Invalid, "content type %q: send application/json", ct)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apperr.New(apperr.TooLarge, "request body larger than %d bytes", limit)
		}
		return apperr.Wrap(apperr.Invalid, err, "read request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.New(apperr.Invalid, "request body is empty; send a JSON object")
	}
	if bytes.Contains(body, []byte(`\u0000`)) { // JSON's escape is always a lower-case \u
		return apperr.New(apperr.Invalid, "NUL characters (\\u0000) are not allowed in text")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apperr.Wrap(apperr.Invalid, err, "malformed JSON body")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.Invalid, "malformed JSON body: more than one value")
	}
	return nil
}

// checkText refuses path and query values no database can store: invalid
// UTF-8 and NUL characters.
func checkText(r *http.Request) error {
	bad := func(v string) bool { return !utf8.ValidString(v) || strings.ContainsRune(v, 0) }
	if bad(r.URL.Path) {
		return apperr.New(apperr.Invalid, "the request path is not valid UTF-8 text")
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			if bad(k) || bad(v) {
				return apperr.New(apperr.Invalid, "query parameter %q is not valid UTF-8 text", k)
			}
		}
	}
	return nil
}

// decodeOptional is decode for bodies that may be absent.
func decodeOptional(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	if r.ContentLength == 0 && r.Header.Get("Transfer-Encoding") == "" {
		return nil
	}
	return decode(w, r, limit, v)
}

func remoteAddr(r *http.Request) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("remote address %q: %w", r.RemoteAddr, err)
	}
	return ap.Addr().Unmap(), nil
}

// source is the real source address of a request: the direct peer, or,
// when the peer is a trusted proxy, the last address in X-Forwarded-For
// that is not itself a trusted proxy (the first hop the proxies saw).
func (s *Server) source(r *http.Request) (netip.Addr, error) {
	peer, err := remoteAddr(r)
	if err != nil || !s.trusted(peer) {
		return peer, err
	}
	hops := r.Header.Values("X-Forwarded-For")
	var chain []string
	for _, h := range hops {
		for _, f := range strings.Split(h, ",") {
			if f = strings.TrimSpace(f); f != "" {
				chain = append(chain, f)
			}
		}
	}
	for i := len(chain) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(chain[i])
		if err != nil {
			return netip.Addr{}, apperr.New(apperr.Invalid, "X-Forwarded-For from the trusted proxy %s holds %q, not an address", peer, chain[i])
		}
		if a = a.Unmap(); !s.trusted(a) {
			return a, nil
		}
	}
	return peer, nil // the proxy's own request, or a chain of proxies only
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.d.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func queryInt(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, apperr.New(apperr.Invalid, "query parameter %s=%q: want a non-negative integer", name, v)
	}
	return n, nil
}

func queryDuration(r *http.Request, name string, max time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > max {
		return 0, apperr.New(apperr.Invalid, "query parameter %s=%q: want a duration up to %s", name, v, max)
	}
	return d, nil
}

func pathID(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, apperr.New(apperr.Invalid, "%s %q is not a positive integer", name, r.PathValue(name))
	}
	return n, nil
}
