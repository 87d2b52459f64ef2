package apiserver_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/notify"
	"github.com/poolctl/poolctl/internal/notify/webhook"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

func TestNotifyAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		var got atomic.Int32
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := webhook.Verify(r, []byte("hook-secret"), time.Now(), time.Minute); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			got.Add(1)
		}))
		defer recv.Close()
		svc, err := notify.New(notify.Config{Store: st, Drivers: []notify.Driver{webhook.Driver{Client: recv.Client()}}, MasterKey: [32]byte{7}})
		if err != nil {
			t.Fatal(err)
		}
		e := newEnvWith(t, st, func(d *apiserver.Deps) { d.Notify = notify.Admin{Service: svc, DashboardURL: "https://poolctl.test"} })
		if r := e.adminJSON(t, "POST", "/api/v1/pools", `{"name":"web"}`); r.status != 201 {
			t.Fatalf("create pool: %s", r)
		}

		r := e.adminJSON(t, "POST", "/api/v1/notify/channels", `{"name":"hook","kind":"webhook","webhook":{"url":"`+recv.URL+`"},"secret":"hook-secret"}`)
		if r.status != 201 || strings.Contains(string(r.body), "hook-secret") || !strings.Contains(string(r.body), `"has_secret":true`) {
			t.Fatalf("add channel: %s", r)
		}
		for _, path := range []string{"/api/v1/notify/channels", "/api/v1/notify/channels/hook"} {
			r := e.adminJSON(t, "GET", path, "")
			if r.status != 200 || strings.Contains(string(r.body), "hook-secret") || !strings.Contains(string(r.body), recv.URL) {
				t.Fatalf("GET %s: %s", path, r)
			}
		}
		wantError(t, "duplicate", e.adminJSON(t, "POST", "/api/v1/notify/channels", `{"name":"hook","kind":"webhook","webhook":{"url":"`+recv.URL+`"}}`), 409, "conflict")
		wantError(t, "bad kind", e.adminJSON(t, "POST", "/api/v1/notify/channels", `{"name":"x","kind":"pager"}`), 400, "invalid")
		wantError(t, "bad name", e.adminJSON(t, "POST", "/api/v1/notify/channels", `{"name":"Bad Name","kind":"webhook","webhook":{"url":"https://x.test"}}`), 400, "invalid")
		wantError(t, "bad url", e.adminJSON(t, "POST", "/api/v1/notify/channels", `{"name":"x","kind":"webhook","webhook":{"url":"ftp://x"}}`), 400, "invalid")
		wantError(t, "email without smtp", e.adminJSON(t, "POST", "/api/v1/notify/channels", `{"name":"x","kind":"email"}`), 400, "invalid")
		wantError(t, "bad JSON", e.adminJSON(t, "POST", "/api/v1/notify/channels", `{"name":`), 400, "invalid")
		wantError(t, "unknown", e.adminJSON(t, "GET", "/api/v1/notify/channels/nope", ""), 404, "not_found")

		r = e.adminJSON(t, "POST", "/api/v1/notify/channels/hook/test", "")
		var d api.NotifyDelivery
		if err := json.Unmarshal(r.body, &d); err != nil || r.status != 200 || d.Status != api.DeliveryDelivered || got.Load() != 1 {
			t.Fatalf("test: %s (received %d)", r, got.Load())
		}
		wantError(t, "test unknown", e.adminJSON(t, "POST", "/api/v1/notify/channels/nope/test", ""), 404, "not_found")

		r = e.adminJSON(t, "GET", "/api/v1/notify/deliveries?channel=hook", "")
		var ds api.List[api.NotifyDelivery]
		if err := json.Unmarshal(r.body, &ds); err != nil || len(ds.Items) != 1 || ds.Items[0].Kind != "test" {
			t.Fatalf("deliveries: %s", r)
		}
		r = e.adminJSON(t, "GET", "/api/v1/notify/deliveries/"+itoa(int(ds.Items[0].ID)), "")
		if err := json.Unmarshal(r.body, &d); err != nil || len(d.AttemptLog) != 1 || d.AttemptLog[0].Outcome != "delivered" {
			t.Fatalf("delivery: %s", r)
		}
		wantError(t, "bad status", e.adminJSON(t, "GET", "/api/v1/notify/deliveries?status=lost", ""), 400, "invalid")
		wantError(t, "bad limit", e.adminJSON(t, "GET", "/api/v1/notify/deliveries?limit=0", ""), 400, "invalid")
		wantError(t, "unknown channel", e.adminJSON(t, "GET", "/api/v1/notify/deliveries?channel=nope", ""), 404, "not_found")
		wantError(t, "unknown delivery", e.adminJSON(t, "GET", "/api/v1/notify/deliveries/999", ""), 404, "not_found")
		wantError(t, "bad delivery id", e.adminJSON(t, "GET", "/api/v1/notify/deliveries/x", ""), 400, "invalid")

		r = e.adminJSON(t, "PUT", "/api/v1/pools/web/monitor/channels/hook", `{"severity":"critical"}`)
		var ms api.MonitorSettings
		if err := json.Unmarshal(r.body, &ms); err != nil || r.status != 200 || len(ms.Routes) != 1 || ms.Routes[0] != (api.MonitorRoute{Channel: "hook", Severity: "critical"}) {
			t.Fatalf("set route: %s", r)
		}
		r = e.adminJSON(t, "GET", "/api/v1/pools/web/monitor", "")
		if err := json.Unmarshal(r.body, &ms); err != nil || len(ms.Routes) != 1 || ms.Incidents == nil {
			t.Fatalf("monitor: %s", r)
		}
		wantError(t, "bad severity", e.adminJSON(t, "PUT", "/api/v1/pools/web/monitor/channels/hook", `{"severity":"info"}`), 400, "invalid")
		wantError(t, "unknown pool", e.adminJSON(t, "PUT", "/api/v1/pools/nope/monitor/channels/hook", `{}`), 404, "not_found")
		wantError(t, "unknown channel", e.adminJSON(t, "PUT", "/api/v1/pools/web/monitor/channels/nope", `{}`), 404, "not_found")
		wantError(t, "unknown pool", e.adminJSON(t, "GET", "/api/v1/pools/nope/monitor", ""), 404, "not_found")
		if r := e.adminJSON(t, "DELETE", "/api/v1/pools/web/monitor/channels/hook", ""); r.status != 204 {
			t.Fatalf("remove route: %s", r)
		}
		wantError(t, "route gone", e.adminJSON(t, "DELETE", "/api/v1/pools/web/monitor/channels/hook", ""), 404, "not_found")

		if r := e.adminJSON(t, "DELETE", "/api/v1/notify/channels/hook", ""); r.status != 204 {
			t.Fatalf("remove: %s", r)
		}
		wantError(t, "removed", e.adminJSON(t, "DELETE", "/api/v1/notify/channels/hook", ""), 404, "not_found")
		wantError(t, "no token", e.do(t, req{method: "GET", path: "/api/v1/notify/channels"}), 401, "unauthorized")
	})
}

func TestNotifyUnavailable(t *testing.T) {
	e := newEnv(t, storetest.Open(t, store.SQLite))
	wantError(t, "no notify", e.adminJSON(t, "GET", "/api/v1/notify/channels", ""), 503, "unavailable", "notifications are not available")
}
