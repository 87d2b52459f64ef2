package cli

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServerProbes: poolctl server serves /healthz, /readyz (its
// nameserver answering itself) and /metrics (admin token) at the root,
// beside the API and the dashboard.
func TestServerProbes(t *testing.T) {
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	log := &lockedBuffer{}
	ready := make(chan *RunningServer, 1)
	served := make(chan error, 1)
	go func() {
		served <- RunServer(ctx, ServerOptions{Data: t.TempDir(), Listen: "127.0.0.1:0", InsecureHTTP: true, LogLevel: "info",
			DNS: DNSOptions{Listen: "127.0.0.1:0"}, Ready: func(rs *RunningServer) { ready <- rs }}, log)
	}()
	var rs *RunningServer
	select {
	case rs = <-ready:
	case err := <-served:
		t.Fatalf("server: %v\n%s", err, log.String())
	}
	get := func(path, token string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, "GET", rs.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/healthz", ""); code != 200 || body != "ok\n" {
		t.Errorf("GET /healthz: got %d %q, want 200 ok", code, body)
	}
	if code, body := get("/readyz", ""); code != 200 || body != "ready\n" {
		t.Errorf("GET /readyz: got %d %q, want 200 ready (store and nameserver)", code, body)
	}
	if code, body := get("/metrics", ""); code != 401 || !strings.Contains(body, `"error"`) {
		t.Errorf("GET /metrics without a token: got %d %q, want 401 with an error body", code, body)
	}
	code, body := get("/metrics", rs.AdminToken)
	if code != 200 {
		t.Fatalf("GET /metrics: got %d %q, want 200", code, body)
	}
	for _, want := range []string{"poolctl_dns_queries_total", `poolctl_dns_responses_total{rcode="REFUSED"}`, `poolctl_members{status="healthy"} 0`,
		`poolctl_api_request_duration_seconds_count{code="2xx",method="GET",route="/readyz"} 1`, "poolctl_heartbeats_received_total 0", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics: got no %q in\n%s", want, body)
		}
	}
	stop()
	if err := <-served; err != nil {
		t.Errorf("server: %v", err)
	}
}
