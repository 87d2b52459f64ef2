package probe

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	status := func(code int) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if code/100 == 3 {
				w.Header().Set("Location", "http://invalid.invalid/elsewhere")
			}
			w.WriteHeader(code)
		}))
		t.Cleanup(s.Close)
		return s
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(tlsSrv.Close)

	tests := []struct {
		name    string
		prober  Prober
		target  string
		wantErr string // "" = answers
	}{
		{"tcp open", Prober{}, "tcp://" + ln.Addr().String(), ""},
		{"tcp closed", Prober{}, "tcp://" + closedAddr(t), "connection refused"},
		{"http 200", Prober{}, status(200).URL, ""},
		{"http 204 with path", Prober{}, status(204).URL + "/health?x=1", ""},
		{"http 302 not followed", Prober{}, status(302).URL, ""},
		{"http 404", Prober{}, status(404).URL, "status 404"},
		{"http 503", Prober{}, status(503).URL, "status 503"},
		{"http closed", Prober{}, "http://" + closedAddr(t) + "/", "connection refused"},
		{"https self-signed", Prober{}, tlsSrv.URL, ""},
		{"https verified", Prober{VerifyTLS: true}, tlsSrv.URL, "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.prober.Probe(t.Context(), tt.target)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Probe(%s): got %v, want nil", tt.target, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Probe(%s): got %v, want an error containing %q", tt.target, err, tt.wantErr)
			}
		})
	}
}

func TestProbeTimeout(t *testing.T) {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(release) })

	// A listener that never accepts: the kernel completes the handshake,
	// then nothing answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })

	for _, target := range []string{s.URL, "http://" + ln.Addr().String() + "/"} {
		start := time.Now()
		err := Prober{Timeout: 200 * time.Millisecond}.Probe(t.Context(), target)
		if err == nil || !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") {
			t.Errorf("Probe(%s) of a hanging server: got %v, want a deadline error", target, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Probe(%s) took %s, want about the 200ms timeout", target, d)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		target string
		ok     bool
	}{
		{"tcp://10.0.0.1:443", true},
		{"tcp://db.example.test:3306/", true},
		{"http://10.0.0.1/", true},
		{"https://[2001:db8::1]:8443/health", true},
		{"HTTPS://example.test", true},
		{"", false},
		{"10.0.0.1:80", false},
		{"tcp://10.0.0.1", false},
		{"tcp://10.0.0.1:0", false},
		{"tcp://10.0.0.1:80/path", false},
		{"http://", false},
		{"http://host:99999/", false},
		{"ftp://host/", false},
		{"udp://host:53", false},
	}
	for _, tt := range tests {
		err := Validate(tt.target)
		if (err == nil) != tt.ok {
			t.Errorf("Validate(%q): got %v, want ok=%v", tt.target, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidTarget) {
			t.Errorf("Validate(%q): got %v, want it to wrap ErrInvalidTarget", tt.target, err)
		}
	}
	if err := Check(t.Context(), "ftp://host/"); !errors.Is(err, ErrInvalidTarget) {
		t.Errorf("Check(ftp://host/): got %v, want ErrInvalidTarget", err)
	}
}

// closedAddr returns an address on which nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestProbeErrorsHideSecrets checks that an error names the target without
// the password of its user information or a token in its query string.
func TestProbeErrorsHideSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	closed := freeAddr(t)
	for _, target := range []string{
		"http://probe:SENTINELpw@" + host + "/health?token=SENTINELtok",    // 503
		"http://probe:SENTINELpw@" + closed + "/health?token=SENTINELtok",  // refused
		"http://probe:SENTINELpw@127.0.0.1:99999/health?token=SENTINELtok", // bad port
		"http://probe:SENTINELpw@bad host/health?token=SENTINELtok",        // unparsable
	} {
		err := Check(context.Background(), target)
		if err == nil {
			t.Fatalf("probe %s: no error", target)
		}
		if strings.Contains(err.Error(), "SENTINEL") {
			t.Errorf("probe error shows a secret: %v", err)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
