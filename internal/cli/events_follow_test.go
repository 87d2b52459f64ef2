package cli

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

// scriptedEvents answers Events from a script, one step a call; when the
// script is done it ends the follow.
type scriptedEvents struct {
	mu     sync.Mutex
	steps  []func(q client.EventQuery) ([]api.Event, error)
	afters []int64
	stop   context.CancelFunc
}

func (s *scriptedEvents) Events(ctx context.Context, q client.EventQuery) ([]api.Event, error) {
	s.mu.Lock()
	s.afters = append(s.afters, q.After)
	if len(s.steps) == 0 {
		s.mu.Unlock()
		s.stop()
		<-ctx.Done()
		return nil, ctx.Err()
	}
	step := s.steps[0]
	s.steps = s.steps[1:]
	s.mu.Unlock()
	return step(q)
}

// TestFollowEventsReconnects: while the server is gone, events --follow
// says so once, retries, says when it is back and how long it was gone,
// and goes on from the last event it printed.
func TestFollowEventsReconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		refused := func(client.EventQuery) ([]api.Event, error) {
			time.Sleep(100 * time.Millisecond) // a refused connection takes a moment
			return nil, errors.New(`Get "https://127.0.0.1:8443/api/v1/events": dial tcp 127.0.0.1:8443: connect: connection refused`)
		}
		events := func(ids ...int64) func(client.EventQuery) ([]api.Event, error) {
			return func(client.EventQuery) ([]api.Event, error) {
				var out []api.Event
				for _, id := range ids {
					out = append(out, api.Event{ID: id, Kind: "member.healthy", Message: "event " + string(rune('0'+id))})
				}
				return out, nil
			}
		}
		unavailable := func(client.EventQuery) ([]api.Event, error) {
			return nil, &client.Error{Status: 503, Code: "http_503", Message: "Service Unavailable"}
		}
		src := &scriptedEvents{stop: cancel, steps: []func(client.EventQuery) ([]api.Event, error){
			events(4), refused, refused, unavailable, refused, events(5, 6), events(7),
		}}
		var printed []int64
		var stderr bytes.Buffer
		err := followEvents(ctx, src, client.EventQuery{After: 3}, func(evs []api.Event) {
			for _, e := range evs {
				printed = append(printed, e.ID)
			}
		}, &stderr, 2*time.Second)
		if err != nil {
			t.Fatalf("followEvents: %v", err)
		}
		if got, want := printed, []int64{4, 5, 6, 7}; !slices.Equal(got, want) {
			t.Errorf("printed events %v, want %v", got, want)
		}
		if got, want := src.afters, []int64{3, 4, 4, 4, 4, 4, 6, 7}; !slices.Equal(got, want) {
			t.Errorf("asked for events after %v, want %v", got, want)
		}
		// Lost when the first refusal came back; then four waits of 2 s
		// and two more refusals of 0.1 s: back 8.2 s later.
		want := "connection to the server lost; retrying (Get \"https://127.0.0.1:8443/api/v1/events\": dial tcp 127.0.0.1:8443: connect: connection refused)\n" +
			"reconnected after 8s\n"
		if stderr.String() != want {
			t.Errorf("stderr:\ngot  %q\nwant %q", stderr.String(), want)
		}
	})
}

// TestFollowEventsRefused: an answer that is not about reachability (a
// revoked token) ends the follow with its error.
func TestFollowEventsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		src := &scriptedEvents{stop: cancel, steps: []func(client.EventQuery) ([]api.Event, error){
			func(client.EventQuery) ([]api.Event, error) {
				return nil, &client.Error{Status: 401, Code: "unauthorized", Message: "token is not valid (unknown or revoked)"}
			},
		}}
		var stderr bytes.Buffer
		err := followEvents(ctx, src, client.EventQuery{}, func([]api.Event) {}, &stderr, time.Second)
		if client.StatusOf(err) != 401 {
			t.Fatalf("followEvents: %v, want the 401", err)
		}
		if strings.Contains(stderr.String(), "lost") {
			t.Errorf("a refusal reported as a lost connection: %q", stderr.String())
		}
	})
}
