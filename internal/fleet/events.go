package fleet

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
)

// hub stores events and wakes waiters when one is appended.
type hub struct {
	st  *store.Store
	now func() time.Time

	mu      sync.Mutex
	changed chan struct{}
}

func newHub(st *store.Store, now func() time.Time) *hub {
	return &hub{st: st, now: now, changed: make(chan struct{})}
}

func (h *hub) notify() {
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

func (h *hub) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

// Emit appends an event. Failing to store an event is logged, not returned:
// the action it describes has already happened.
func (s *Service) Emit(ctx context.Context, e api.Event) api.Event {
	if e.Time.IsZero() {
		e.Time = s.now().UTC()
	}
	if err := s.st.AppendEvent(context.WithoutCancel(ctx), &e); err != nil {
		s.log.Error("store event", "kind", e.Kind, "err", err)
		return e
	}
	s.log.Info(e.Message, "event", e.Kind, "pool", e.Pool, "member", e.Member)
	s.events.notify()
	return e
}

// Events lists events. With wait > 0 and nothing to return yet, it waits
// up to wait for a matching event (long poll for `events --follow`).
func (s *Service) Events(ctx context.Context, f store.EventFilter, wait time.Duration) ([]api.Event, error) {
	if wait > 5*time.Minute {
		wait = 5 * time.Minute
	}
	var deadline <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		deadline = t.C
	}
	for {
		changed := s.events.wait()
		evs, err := s.st.ListEvents(ctx, f)
		if err != nil || len(evs) > 0 || wait <= 0 {
			return evs, err
		}
		// Poll as well as wait: another server replica may append events.
		poll := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			poll.Stop()
			return nil, ctx.Err()
		case <-deadline:
			poll.Stop()
			return []api.Event{}, nil
		case <-changed:
		case <-poll.C:
		}
		poll.Stop()
	}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
