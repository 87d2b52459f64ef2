// Package web serves poolctl's dashboard under / on the API's port:
// server-rendered html/template pages (one file per page), templates and
// static files embedded in the binary and checked at start-up, live updates
// over server-sent events (htmx and its SSE extension, vendored), and its
// own sign-in with argon2id password hashes and sessions kept in the store.
//
// Every action calls the same fleet and zone service methods as the REST
// API; the dashboard reads the store directly only for what the API does
// not expose (metric samples for sparklines, users and sessions).
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
	"github.com/poolctl/poolctl/internal/release"
	"github.com/poolctl/poolctl/internal/store"
)

// Cluster is the DNS cluster engine as the dashboard needs it;
// internal/cluster implements it.
type Cluster interface {
	Settings(ctx context.Context) (api.ClusterSettings, error)
	UpdateSettings(ctx context.Context, in api.ClusterSettingsUpdate) (api.ClusterSettings, error)
	Members(ctx context.Context) ([]api.ClusterMember, error)
	EnableMember(ctx context.Context, host string) (api.ClusterMember, error)
	UpdateMember(ctx context.Context, host string, in api.ClusterMemberUpdate) (api.ClusterMember, error)
	RemoveMember(ctx context.Context, host string, force bool) (api.ClusterMemberRemoved, error)
	Resync(ctx context.Context, host string) (api.ClusterResync, error)
	Log(ctx context.Context, host string, limit int) ([]api.ClusterLogEntry, error)
	Conflicts(ctx context.Context, all bool) ([]api.ClusterConflict, error)
	Resolve(ctx context.Context, id int64, in api.ClusterConflictResolve) (api.ClusterConflict, error)
}

// Zones is the zone service as the dashboard needs it; internal/zones
// implements it. Errors are apperr kinds with messages for people.
type Zones interface {
	List(ctx context.Context) ([]api.Zone, error)
	Create(ctx context.Context, in api.ZoneCreate) (api.Zone, error)
	Get(ctx context.Context, zone string) (api.Zone, error)
	Delete(ctx context.Context, zone string) error
	Records(ctx context.Context, zone string) ([]api.Record, error)
	AddRecord(ctx context.Context, zone string, in api.RecordCreate) (api.Record, error)
	DeleteRecord(ctx context.Context, zone string, id int64) error
}

// Defaults of Config.
const (
	DefaultIdleTimeout     = 12 * time.Hour
	DefaultSessionLifetime = 7 * 24 * time.Hour
	DefaultTick            = 2 * time.Second
)

// Config configures the dashboard.
type Config struct {
	Fleet *fleet.Service
	Zones Zones // nil: the zone pages say DNS is not available
	// Cluster is the DNS cluster engine; nil: its page says it is not
	// available.
	Cluster Cluster
	// Protections is account protection; nil: its pages say it is not
	// available.
	Protections Protections
	// Links is linked nodes; nil: its pages say it is not available.
	Links Links
	// Notify is notifications and monitoring routes; nil: the
	// Notifications page says they are not available.
	Notify Notify
	// DNSProviders is the registry of DNS providers, a card of the zones
	// page; nil: the card says it is not available.
	DNSProviders DNSProviders
	// Failover makes a member active from the failover banner; nil: the
	// dashboard answers that the engine does not run here.
	Failover Failover
	Store    *store.Store
	// Context ends live streams; pass the server's lifetime so that a
	// shutdown does not wait for open dashboards.
	Context context.Context
	// Secure marks cookies Secure (the server speaks TLS).
	Secure bool
	// IdleTimeout ends a session after this much inactivity (12 h);
	// SessionLifetime ends it however active it is (7 days).
	IdleTimeout, SessionLifetime time.Duration
	// Tick is how often live pages are refreshed besides health
	// transitions (2 s).
	Tick    time.Duration
	Now     func() time.Time
	Logger  *slog.Logger
	Version string
	// Releases are the agent binaries the server offers; the member pages
	// print the one-line install command with its TLS pin. nil: they print
	// the manual enrol commands only.
	Releases *release.Catalog
}

// Handler is the dashboard's http.Handler. Create it with New.
type Handler struct {
	cfg      Config
	fl       *fleet.Service
	zones    Zones
	prot     Protections
	st       *store.Store
	log      *slog.Logger
	now      func() time.Time
	ctx      context.Context
	tpl      *templates
	static   *staticFiles
	mux      *http.ServeMux
	handler  http.Handler
	gzipped  http.Handler // handler, compressing (routes.go)
	limit    *limiter
	live     *hub
	pw       *passwords
	worldSVG worldPaths
	started  time.Time // when New ran: this server's start, as live streams' hello says
}

// New builds the dashboard; it fails when a template or a vendored file is
// broken, so a bad build never starts serving.
func New(cfg Config) (*Handler, error) {
	if cfg.Fleet == nil || cfg.Store == nil {
		return nil, errors.New("web: Fleet and Store are required")
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	st, err := loadStatic()
	if err != nil {
		return nil, err
	}
	h := &Handler{
		cfg: cfg, fl: cfg.Fleet, zones: cfg.Zones, prot: cfg.Protections, st: cfg.Store, now: cfg.Now, ctx: cfg.Context,
		log:    cfg.Logger.With("component", "web"),
		static: st,
		limit:  newLimiter(cfg.Now),
		live:   newHub(),
		pw:     newPasswords(),
	}
	h.started = cfg.Now()
	h.worldSVG = worldPath()
	if h.tpl, err = parseTemplates(h.funcs()); err != nil {
		return nil, err
	}
	h.fl.Watch(h.live.notify)
	h.routes()
	return h, nil
}

// ServeHTTP serves the dashboard.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	if h.cfg.Secure {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	if strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		h.handler.ServeHTTP(w, r)
		return
	}
	h.gzipped.ServeHTTP(w, r)
}

// handlerFunc is a page handler; an error it returns is rendered by fail.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// page wraps a handler that needs a signed-in user.
func (h *Handler) page(fn handlerFunc) http.Handler {
	return h.requireSession(h.serve(fn))
}

// serve runs fn, turning errors and panics into an error page: never a
// stack trace, always a message that says what failed.
func (h *Handler) serve(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.log.Error("dashboard handler panic", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				h.fail(w, r, errors.New("internal error"))
			}
		}()
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

// statusOf maps service errors to status codes, as the API does.
func statusOf(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	status, _ := apperr.Status(err)
	return status
}

// message is what the operator reads about err.
func (h *Handler) message(r *http.Request, err error) string {
	status := statusOf(err)
	if status >= 500 && status != http.StatusServiceUnavailable {
		h.log.Error("dashboard request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		return "Internal error; the server log has the details."
	}
	if status == http.StatusRequestEntityTooLarge {
		return "The form was too large."
	}
	return apperr.Message(err)
}

type errorPage struct {
	Base
	Status  int
	Message string
}

// fail renders err as a page of its own.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status == 499 {
		return
	}
	d := errorPage{Base: h.base(r, fmt.Sprintf("%d %s", status, http.StatusText(status)), ""), Status: status, Message: h.message(r, err)}
	h.render(w, r, status, "error", &d)
}

// notFound is a NotFound error for a page path.
func notFound(r *http.Request) error {
	return apperr.New(apperr.NotFound, "there is no page at %s", r.URL.Path)
}
