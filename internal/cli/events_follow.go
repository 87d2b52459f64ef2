package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

// eventSource is the part of the client that `events --follow` uses.
type eventSource interface {
	Events(ctx context.Context, q client.EventQuery) ([]api.Event, error)
}

// eventsRetry is how long `events --follow` waits between attempts while
// the server cannot be reached.
const eventsRetry = 2 * time.Second

// followEvents long-polls for the events after q.After and prints them
// until ctx ends (it then returns nil). While the server cannot be reached
// (no answer, or a gateway's 502/503/504) it retries every retry, and says
// so on stderr once when the connection is lost and once when it is back,
// with how long it was gone. Any other error answer ends it.
func followEvents(ctx context.Context, c eventSource, q client.EventQuery, print func([]api.Event), stderr io.Writer, retry time.Duration) error {
	var lostAt time.Time // zero while connected
	for {
		evs, err := c.Events(ctx, q)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if !unreachable(err) {
				return err
			}
			if lostAt.IsZero() {
				lostAt = time.Now()
				fmt.Fprintf(stderr, "connection to the server lost; retrying (%v)\n", errorText(err))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(retry):
			}
			continue
		}
		if !lostAt.IsZero() {
			fmt.Fprintf(stderr, "reconnected after %s\n", outage(time.Since(lostAt)))
			lostAt = time.Time{}
		}
		print(evs)
		if n := len(evs); n > 0 {
			q.After = evs[n-1].ID
		}
	}
}

// unreachable reports whether err means the server could not be reached,
// rather than that it refused the request.
func unreachable(err error) bool {
	switch client.StatusOf(err) {
	case 0, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// outage renders how long a connection was gone: whole seconds, or
// tenths under a second.
func outage(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}
