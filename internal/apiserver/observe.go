package apiserver

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
)

// Metrics records what the API serves and exposes it (internal/metrics
// implements it). Its methods must be safe for concurrent use.
type Metrics interface {
	// Request observes one answered request: its method, its route
	// pattern from the route table (never the raw path), the status sent
	// and how long it took.
	Request(method, pattern string, status int, d time.Duration)
	// Heartbeat counts one accepted agent heartbeat.
	Heartbeat()
	// Handler serves the metrics in the Prometheus exposition format.
	Handler() http.Handler
}

// ReadyCheck is one condition of /readyz: Check returns nil when the part
// Name names is ready. It is called with a bounded context.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// readyTimeout bounds each readiness check.
const readyTimeout = 2 * time.Second

// readyFailure is the detail of a 503 from /readyz: which checks failed.
type readyFailure struct {
	failed []string
	errs   []error
}

func (f readyFailure) Error() string {
	var b strings.Builder
	b.WriteString("not ready: ")
	for i, n := range f.failed {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(n + ": " + f.errs[i].Error())
	}
	return b.String()
}

// healthz answers while the process serves HTTP.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) (any, error) {
	writeText(w, []byte("ok\n"))
	return written{}, nil
}

// readyz answers 200 when the store answers a ping and every ReadyCheck
// passes, each within readyTimeout; else 503 naming every part that failed.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) (any, error) {
	checks := append([]ReadyCheck{{Name: "store", Check: s.d.Fleet.Store().Ping}}, s.d.Ready...)
	var f readyFailure
	for _, c := range checks {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		err := c.Check(ctx)
		cancel()
		if err != nil {
			f.failed, f.errs = append(f.failed, c.Name), append(f.errs, err)
		}
	}
	if len(f.failed) > 0 {
		return nil, apperr.New(apperr.Unavailable, "%s", f.Error())
	}
	writeText(w, []byte("ready\n"))
	return written{}, nil
}

// metrics serves the Prometheus exposition format.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) (any, error) {
	if s.d.Metrics == nil {
		return nil, apperr.New(apperr.Unavailable, "metrics are not available on this server")
	}
	s.d.Metrics.Handler().ServeHTTP(w, r)
	return written{}, nil
}

// observe reports one request to Metrics.
func (s *Server) observe(rt route, status int, start time.Time) {
	if s.d.Metrics != nil {
		s.d.Metrics.Request(rt.method, rt.path, status, time.Since(start))
	}
}

// statusWriter remembers the status a handler sent.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush passes a flush on when the underlying writer can.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// sent is the status a request was answered with (200 when nothing was
// written: net/http sends that).
func (w *statusWriter) sent() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
