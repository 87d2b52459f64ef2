package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/fleet"
)

// hub fans the fleet's health transitions out to the open live streams of
// the pool concerned. Sends never block the fleet: a stream that is busy
// already has a refresh pending.
type hub struct {
	mu   sync.Mutex
	subs map[chan struct{}]string // wake-up channel -> pool
}

func newHub() *hub { return &hub{subs: map[chan struct{}]string{}} }

func (h *hub) subscribe(pool string) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	h.subs[ch] = pool
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

func (h *hub) notify(c fleet.Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch, pool := range h.subs {
		if pool == c.Pool {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

// hello is the first event of every live stream (pages and logs): it
// tells the page that the stream is connected, after a disconnect too, and
// when this server started, so a reconnect (or a restart) can be told from
// the first connection. The page hides its "disconnected" notice on it.
func (h *Handler) hello() string {
	b, _ := json.Marshal(struct {
		ServerStarted string `json:"server_started"`
		Now           string `json:"now"`
	}{h.started.UTC().Format(time.RFC3339), h.now().UTC().Format(time.RFC3339)})
	var sb strings.Builder
	writeEvent(&sb, sseEvent{Name: "hello", Data: string(b)})
	return sb.String()
}

// sseEvent is one server-sent event: htmx's SSE extension swaps Data into
// the elements whose sse-swap attribute names the event.
type sseEvent struct{ Name, Data string }

// stream serves a text/event-stream for pool: it calls render at once, on
// every health transition of the pool (coalesced) and on every tick, and
// sends the events whose data changed since they were last sent. It ends
// when the client goes, or the server stops.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, pool string, render func(ctx context.Context) ([]sseEvent, error)) error {
	rc := http.NewResponseController(w)
	wake, stop := h.live.subscribe(pool)
	defer stop()
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte(h.hello())); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}
	// Every connection starts from nothing sent, so a page that
	// reconnects gets every live part anew.
	sent := map[string]string{}
	tick := time.NewTicker(h.cfg.Tick)
	defer tick.Stop()
	checked := time.Now()
	for {
		if time.Since(checked) > min(sessionRecheck, 10*h.cfg.Tick) {
			if !h.stillSignedIn(r) {
				return nil // signed out (perhaps everywhere): no more data
			}
			checked = time.Now()
		}
		evs, err := render(r.Context())
		if err != nil {
			if errors.Is(err, context.Canceled) || r.Context().Err() != nil {
				return nil
			}
			if errors.Is(err, apperr.NotFound) {
				// Deleted while the page is open: stay quiet rather than end
				// the stream, which the browser would retry and report.
				_, _ = w.Write([]byte(": gone\n\n"))
				_ = rc.Flush()
				select {
				case <-r.Context().Done():
				case <-h.ctx.Done():
				}
				return nil
			}
			// The page stays as it is; the error goes to the log and the
			// stream says so in a comment.
			h.log.Warn("live update", "path", r.URL.Path, "err", err)
			_, _ = w.Write([]byte(": " + strings.ReplaceAll(err.Error(), "\n", " ") + "\n\n"))
		}
		var b strings.Builder
		for _, e := range evs {
			if sent[e.Name] == e.Data {
				continue
			}
			sent[e.Name] = e.Data
			writeEvent(&b, e)
		}
		if b.Len() == 0 {
			b.WriteString(": ping\n\n") // keeps proxies from closing an idle stream
		}
		if _, err := w.Write([]byte(b.String())); err != nil {
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-h.ctx.Done():
			return nil
		case <-wake:
			// Let a burst of transitions settle into one update.
			t := time.NewTimer(50 * time.Millisecond)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return nil
			}
		case <-tick.C:
		}
	}
}

// sessionRecheck is how often (at most; every 10 ticks when that is more
// often) a live stream checks that its session still exists, so that
// signing out everywhere also stops open dashboards.
const sessionRecheck = 15 * time.Second

// stillSignedIn reports whether the session of r is still live.
func (h *Handler) stillSignedIn(r *http.Request) bool {
	s := sessionOf(r)
	if s == nil {
		return false
	}
	se, err := h.st.GetSession(r.Context(), s.IDHash)
	if err != nil {
		return !errors.Is(err, apperr.NotFound) // a database hiccup is not a sign-out
	}
	now := h.now()
	return now.Before(se.ExpiresAt) && now.Sub(se.LastSeenAt) <= h.cfg.IdleTimeout
}

func writeEvent(b *strings.Builder, e sseEvent) {
	b.WriteString("event: ")
	b.WriteString(e.Name)
	b.WriteByte('\n')
	for _, line := range strings.Split(strings.ReplaceAll(e.Data, "\r", ""), "\n") {
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
}

// poolLive streams the overview's changing parts: KPIs, map, banner, the
// non-preferred member notice, one
// event per member tile, and "members" when the set of members differs
// from the one the page shows (the page then fetches the tiles anew).
func (h *Handler) poolLive(w http.ResponseWriter, r *http.Request) error {
	pool := r.PathValue("pool")
	if _, err := h.fl.Pool(r.Context(), pool); err != nil {
		return err
	}
	shown := r.URL.Query().Get("v")
	return h.stream(w, r, pool, func(ctx context.Context) ([]sseEvent, error) {
		d, err := h.overview(ctx, pool)
		if err != nil {
			return nil, err
		}
		var evs []sseEvent
		add := func(name, tpl string, data any) error {
			s, err := h.fragment(tpl, data)
			if err == nil {
				evs = append(evs, sseEvent{Name: name, Data: s})
			}
			return err
		}
		if err := add("kpis", "kpis", d.K); err != nil {
			return nil, err
		}
		if err := add("banner", "banner", bannerData{Pool: pool, Banner: d.Pool.Banner, CSRF: actionCSRF(r), foChoice: d.Pool.Fo}); err != nil {
			return nil, err
		}
		if err := add("preferred", "preferred", d.Pref); err != nil {
			return nil, err
		}
		evs = append(evs, sseEvent{Name: "map", Data: string(d.Map)})
		if d.Sig != shown {
			evs = append(evs, sseEvent{Name: "members", Data: d.Sig})
		}
		for _, t := range d.Tiles {
			if err := add("m-"+t.M.Name, "tilelive", t); err != nil {
				return nil, err
			}
		}
		return evs, nil
	})
}

// tilesFragment answers the overview's request for the member tiles after
// members were added or removed.
func (h *Handler) tilesFragment(w http.ResponseWriter, r *http.Request) error {
	d, err := h.overview(r.Context(), r.PathValue("pool"))
	if err != nil {
		return err
	}
	d.Base = h.base(r, "", "pools")
	d.Pool = &PoolNav{Name: d.K.Pool}
	return h.writeFragment(w, "tiles", d)
}

// bannerData is the failover banner partial's data.
type bannerData struct {
	foChoice
	Pool   string
	Banner *api.Banner
	CSRF   string
}
