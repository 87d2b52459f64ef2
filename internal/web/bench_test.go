package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
)

// BenchmarkPoolOverview renders the overview of a pool of 200 members that
// all report metrics and a stack, through the whole handler: session
// lookup, fleet and store reads, KPIs with the uptime estimate, the map and
// 200 tiles. The bar is 50 ms per page.
func BenchmarkPoolOverview(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	if _, err := e.fl.CreatePool(ctx, api.PoolCreate{Name: "big"}); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		lat, lon := float64(i%120)-60, float64(i*7%360)-180
		added, err := e.fl.AddMember(ctx, "big", api.MemberCreate{Name: fmt.Sprintf("node%03d", i), Address: fmt.Sprintf("198.51.100.%d", i%250+1),
			Location: api.Location{Lat: &lat, Lon: &lon, Text: "somewhere"}})
		if err != nil {
			b.Fatal(err)
		}
		res, err := e.fl.Enroll(ctx, api.EnrollRequest{Secret: added.EnrollmentSecret}, mustAddr("127.0.0.1"))
		if err != nil {
			b.Fatal(err)
		}
		a, err := e.fl.AuthAgent(ctx, res.Token)
		if err != nil {
			b.Fatal(err)
		}
		_, err = e.fl.Heartbeat(ctx, a, api.Heartbeat{Protocol: 1, Interval: api.Duration(2 * time.Second),
			Metrics: api.Metrics{CPUPercent: float64(i % 100), MemPercent: 40, Disks: []api.DiskUsage{{Mount: "/", Total: 100, Used: 50, Percent: 50}}},
			Facts:   &api.Facts{Hostname: "h", OS: "linux"},
			Stack:   &api.Stack{MariaDB: &api.Component{Detected: true, Version: "10.11", Running: true}, CPanel: &api.Component{Detected: i%2 == 0}}})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := e.fl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	token := randomToken()
	now := time.Now()
	if err := e.st.CreateSession(ctx, &store.Session{IDHash: hashID(token), UserID: 1, CSRFToken: "x", CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/pools/big", nil)
		req.AddCookie(&http.Cookie{Name: "poolctl_session", Value: token})
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, req)
		return rec
	}
	rec := get()
	if rec.Code != 200 || strings.Count(rec.Body.String(), `class="tile"`) != 200 {
		b.Fatalf("overview: status %d, %d tiles", rec.Code, strings.Count(rec.Body.String(), `class="tile"`))
	}
	for b.Loop() {
		get()
	}
	b.ReportMetric(float64(rec.Body.Len()), "bytes/page")
}
