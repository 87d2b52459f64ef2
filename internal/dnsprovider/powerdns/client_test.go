package powerdns_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
	"github.com/poolctl/poolctl/internal/dnsprovider/powerdns"
)

// answer is a server that answers every request with status and body.
func answer(t *testing.T, status int, body string) *powerdns.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-API-Key") != "k" {
			t.Errorf("X-API-Key = %q", r.Header.Get("X-API-Key"))
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c, err := powerdns.New(srv.URL, powerdns.Options{APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestErrors: the server's answers become errors of a kind, with what it said.
func TestErrors(t *testing.T) {
	cases := []struct {
		status int
		body   string
		kind   *apperr.Kind
		want   string
	}{
		{422, `{"error": "RRset www.z.test. IN A: Conflicts with pre-existing RRset"}`, apperr.Invalid, "Conflicts with pre-existing RRset (HTTP 422"},
		{400, `{"error": "Unknown changetype"}`, apperr.Invalid, "Unknown changetype"},
		{401, "Unauthorized", apperr.Unauthorized, "refused the API key"},
		{404, "Not Found", apperr.NotFound, "has no zone z.test."},
		{409, "Conflict", apperr.Conflict, "has zone z.test. already"},
		{500, "<html><body>Internal Server Error</body></html>", apperr.Unavailable, "<html><body>Internal Server Error</body></html> (HTTP 500"},
		{503, "", apperr.Unavailable, "Service Unavailable (HTTP 503"},
	}
	for _, c := range cases {
		cl := answer(t, c.status, c.body)
		var err error
		if c.status == 409 {
			_, err = cl.CreateZone(t.Context(), powerdns.ZoneCreate{Name: "z.test"})
		} else {
			_, err = cl.Zone(t.Context(), "z.test")
		}
		if !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("HTTP %d %q: %v, want kind %s saying %q", c.status, c.body, err, c.kind.Code(), c.want)
		}
	}
}

// TestMalformed: an answer that is not the API's JSON is a clear error.
func TestMalformed(t *testing.T) {
	cl := answer(t, 200, "<html>a proxy's login page</html>")
	_, err := cl.Zone(t.Context(), "z.test")
	if !errors.Is(err, apperr.Unavailable) || !strings.Contains(err.Error(), "malformed JSON") {
		t.Fatalf("malformed answer: %v", err)
	}
	cl = answer(t, 404, "Not Found")
	if _, err := cl.Server(t.Context()); !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "does not answer the PowerDNS API") {
		t.Fatalf("no API there: %v", err)
	}
	cl = answer(t, 200, `{"id": "localhost", "daemon_type": "recursor", "version": "4.9"}`)
	if _, err := cl.Server(t.Context()); !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "recursor") {
		t.Fatalf("a recursor: %v", err)
	}
}

// TestTimeout: a server that does not answer is Unavailable after the
// timeout, and says so.
func TestTimeout(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	c, err := powerdns.New(srv.URL, powerdns.Options{APIKey: "k", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRecords(t.Context(), "z.test")
	if !errors.Is(err, apperr.Unavailable) || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("a server that hangs: %v", err)
	}
}

// TestUnreachable: nothing listening is Unavailable, naming the server.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := powerdns.New("http://"+addr, powerdns.Options{APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListZones(t.Context())
	if !errors.Is(err, apperr.Unavailable) || !strings.Contains(err.Error(), "cannot reach PowerDNS at http://"+addr) {
		t.Fatalf("nothing listening: %v", err)
	}
}

// TestNew: bad URLs and a missing key are refused before any request.
func TestNew(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8081", "ftp://h", "http://u:p@h:1", "http://h:1/other"} {
		if _, err := powerdns.New(u, powerdns.Options{APIKey: "k"}); !errors.Is(err, apperr.Invalid) {
			t.Errorf("New(%q): %v, want invalid", u, err)
		}
	}
	if _, err := powerdns.New("http://h:1", powerdns.Options{}); !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "API key") {
		t.Errorf("New without a key: %v", err)
	}
	c, err := powerdns.New("http://h:1/api/v1/", powerdns.Options{APIKey: "k"})
	if err != nil || c.URL() != "http://h:1" {
		t.Errorf("New with /api/v1: %v, %v", c, err)
	}
	// Bad input never reaches the server.
	cl := answer(t, 500, "must not be called")
	if _, err := cl.SetRecords(t.Context(), "z.test", []dnsprovider.Record{{Name: "www", Type: "A", Value: "x"}}); !errors.Is(err, apperr.Invalid) {
		t.Errorf("SetRecords of a bad record: %v", err)
	}
	if _, err := cl.GetRecords(t.Context(), "bad zone"); !errors.Is(err, apperr.Invalid) {
		t.Errorf("GetRecords of a bad zone name: %v", err)
	}
}
