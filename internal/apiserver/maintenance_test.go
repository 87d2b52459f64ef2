package apiserver_test

import (
	"encoding/json"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/monitor"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// TestMaintenanceAPI: windows started, scheduled, listed and stopped, and
// every bad input refused with its code; 503 without the service.
func TestMaintenanceAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newEnvWith(t, st, func(d *apiserver.Deps) { d.Maintenance = &monitor.Windows{Store: st} })
		if r := e.adminJSON(t, "POST", "/api/v1/pools", `{"name":"web"}`); r.status != 201 {
			t.Fatalf("create pool: %s", r)
		}
		if r := e.adminJSON(t, "POST", "/api/v1/pools/web/members", `{"name":"node1","address":"192.0.2.1"}`); r.status != 201 {
			t.Fatalf("add member: %s", r)
		}
		r := e.adminJSON(t, "POST", "/api/v1/pools/web/maintenance", `{"member":"node1","for":"2h","reason":"kernel upgrade","pause_failover":true}`)
		var w api.MaintenanceWindow
		if err := json.Unmarshal(r.body, &w); err != nil || r.status != 201 || !w.Active || w.Until == nil || w.Member != "node1" || !w.PauseFailover {
			t.Fatalf("start: %s", r)
		}
		r = e.adminJSON(t, "POST", "/api/v1/pools/web/maintenance", `{"cron":"0 3 * * 0","for":"1h"}`)
		if err := json.Unmarshal(r.body, &w); err != nil || r.status != 201 || w.Cron != "0 3 * * 0" || w.NextAt == nil || w.NextAt.Weekday() != 0 || w.NextAt.Hour() != 3 {
			t.Fatalf("schedule: %s", r)
		}
		var ws api.List[api.MaintenanceWindow]
		r = e.adminJSON(t, "GET", "/api/v1/maintenance?pool=web", "")
		if err := json.Unmarshal(r.body, &ws); err != nil || r.status != 200 || len(ws.Items) != 2 {
			t.Fatalf("list: %s", r)
		}
		for _, bad := range []struct{ what, body, msg string }{
			{"no duration", `{}`, "needs a duration"},
			{"too short", `{"for":"10s"}`, "out of range"},
			{"too long", `{"for":"1000h"}`, "out of range"},
			{"bad cron", `{"for":"1h","cron":"every sunday"}`, "maintenance schedule"},
			{"bad duration", `{"for":"soon"}`, ""},
			{"unknown field", `{"for":"1h","until":"x"}`, ""},
			{"bad JSON", `{"for":`, ""},
		} {
			wantError(t, bad.what, e.adminJSON(t, "POST", "/api/v1/pools/web/maintenance", bad.body), 400, "invalid", bad.msg)
		}
		wantError(t, "unknown member", e.adminJSON(t, "POST", "/api/v1/pools/web/maintenance", `{"member":"nodeX","for":"1h"}`), 404, "not_found")
		wantError(t, "unknown pool", e.adminJSON(t, "POST", "/api/v1/pools/nope/maintenance", `{"for":"1h"}`), 404, "not_found")
		wantError(t, "list unknown pool", e.adminJSON(t, "GET", "/api/v1/maintenance?pool=nope", ""), 404, "not_found")

		r = e.adminJSON(t, "DELETE", "/api/v1/pools/web/maintenance?member=node1", "")
		var stopped api.MaintenanceStopped
		if err := json.Unmarshal(r.body, &stopped); err != nil || r.status != 200 || stopped.Stopped != 1 {
			t.Fatalf("stop: %s", r)
		}
		wantError(t, "stop again", e.adminJSON(t, "DELETE", "/api/v1/pools/web/maintenance?member=node1", ""), 404, "not_found", "no maintenance window")
		r = e.adminJSON(t, "GET", "/api/v1/maintenance", "")
		if err := json.Unmarshal(r.body, &ws); err != nil || len(ws.Items) != 1 || ws.Items[0].Cron == "" {
			t.Fatalf("list after stop: %s", r)
		}
		if r := e.adminJSON(t, "DELETE", "/api/v1/pools/web/maintenance", ""); r.status != 200 {
			t.Fatalf("stop the schedule: %s", r)
		}
		wantError(t, "without token", e.do(t, req{method: "GET", path: "/api/v1/maintenance"}), 401, "unauthorized")

		none := newEnvWith(t, st, nil)
		wantError(t, "no service", none.adminJSON(t, "GET", "/api/v1/maintenance", ""), 503, "unavailable")
	})
}
