package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
)

// followed is a log that streamLog follows: a job's or a replication run's.
type followed struct {
	// lines returns the log lines after seq, waiting up to wait for some.
	lines func(ctx context.Context, after int64, wait time.Duration) ([]api.JobLogLine, error)
	// status reads the current state after each read of lines: key changes
	// when the status fragment (template tmpl with data) must be sent again,
	// and ended is set once nothing more will happen; final is then the end
	// state.
	status func(ctx context.Context, lines []api.JobLogLine) (key, tmpl string, data any, ended bool, final string, err error)
}

// streamLog streams a log as server-sent events: "line" with the new lines
// (appended to the page's log), "status" when the state changes and, once
// the log has ended and is read to the end, "done", on which the page
// closes the stream. "ping" keeps a quiet stream open.
func (h *Handler) streamLog(w http.ResponseWriter, r *http.Request, after int64, f followed) error {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte(h.hello())); err != nil {
		return nil
	}
	send := func(evs []sseEvent) bool {
		var b strings.Builder
		for _, e := range evs {
			writeEvent(&b, e)
		}
		if _, err := w.Write([]byte(b.String())); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(h.ctx, cancel) // a server shutdown ends the stream
	defer stop()
	lastKey := ""
	wait := time.Duration(0) // the first answer goes out at once
	for ctx.Err() == nil {
		if !h.stillSignedIn(r) {
			return nil
		}
		lines, err := f.lines(ctx, after, wait)
		if err != nil {
			return nil
		}
		wait = 5 * time.Second
		var evs []sseEvent
		if len(lines) > 0 {
			s, err := h.fragment("loglines", lines)
			if err != nil {
				return err
			}
			evs = append(evs, sseEvent{Name: "line", Data: s})
			after = lines[len(lines)-1].Seq
		}
		key, tmpl, data, ended, final, err := f.status(ctx, lines)
		if err != nil {
			return nil
		}
		if key != lastKey {
			lastKey = key
			s, err := h.fragment(tmpl, data)
			if err != nil {
				return err
			}
			evs = append(evs, sseEvent{Name: "status", Data: s})
		}
		ended = ended && len(lines) == 0
		if ended {
			evs = append(evs, sseEvent{Name: "done", Data: final})
		} else if len(evs) == 0 {
			evs = append(evs, sseEvent{Name: "ping", Data: ""})
		}
		if !send(evs) {
			return nil
		}
		if ended {
			// The page closes the stream on "done"; hold the connection
			// until it has, so that the browser does not see it drop.
			t := time.NewTimer(30 * time.Second)
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			return nil
		}
	}
	return nil
}
