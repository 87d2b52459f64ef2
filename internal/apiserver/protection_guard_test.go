package apiserver_test

import (
	"context"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/objstore/local"
	"github.com/poolctl/poolctl/internal/protection"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// Over the real engine: the guard thresholds are validated on create and
// update, shown, and confirm/reject answer 400, 404 and 409 as they should.
func TestProtectionGuardAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		objs, err := local.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		e := newEnvWith(t, st, func(d *apiserver.Deps) {
			d.Protections = protection.New(protection.Config{Store: st, Fleet: d.Fleet, Objects: objs, MasterKey: [32]byte{7}})
		})
		ctx := context.Background()
		if _, err := e.c.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		e.member(t, "web", api.MemberCreate{Name: "node1", Address: "203.0.113.10"})
		e.member(t, "web", api.MemberCreate{Name: "node2", Address: "203.0.113.20"})
		const create = "/api/v1/pools/web/protections"
		for _, tc := range []struct{ name, body, msg string }{
			{"changed above 100", `{"account":"alice","source":"node1","standby":"node2","guard_changed":101}`, "guard_changed 101 out of range"},
			{"changed negative", `{"account":"alice","source":"node1","standby":"node2","guard_changed":-1}`, "guard_changed -1 out of range"},
			{"incompressible above 100", `{"account":"alice","source":"node1","standby":"node2","guard_incompressible":1000}`, "guard_incompressible 1000 out of range"},
		} {
			wantError(t, "create, "+tc.name, e.adminJSON(t, "POST", create, tc.body), 400, "invalid", tc.msg)
		}
		r := e.adminJSON(t, "POST", create, `{"account":"alice","source":"node1","standby":"node2","guard_changed":"30"}`)
		wantError(t, "create, guard_changed as a string", r, 400, "invalid", "guard_changed")
		var p api.Protection
		wantStatus(t, "create with defaults", e.adminJSON(t, "POST", create, `{"account":"alice","source":"node1","standby":"node2"}`), 201, &p)
		if p.GuardChanged != 30 || p.GuardIncompressible != 80 {
			t.Errorf("defaults: got %d/%d, want 30/80", p.GuardChanged, p.GuardIncompressible)
		}
		const one = create + "/alice"
		wantError(t, "update, changed 101", e.adminJSON(t, "PATCH", one, `{"guard_changed":101}`), 400, "invalid", "guard_changed 101")
		wantError(t, "update, incompressible -5", e.adminJSON(t, "PATCH", one, `{"guard_incompressible":-5}`), 400, "invalid", "guard_incompressible -5")
		wantError(t, "update, nothing", e.adminJSON(t, "PATCH", one, `{}`), 400, "invalid", "guard_changed or guard_incompressible")
		wantStatus(t, "update, guard off", e.adminJSON(t, "PATCH", one, `{"guard_changed":0,"guard_incompressible":95}`), 200, &p)
		if p.GuardChanged != 0 || p.GuardIncompressible != 95 {
			t.Errorf("after update: got %d/%d, want 0/95", p.GuardChanged, p.GuardIncompressible)
		}

		for _, verb := range []string{"confirm", "reject"} {
			wantError(t, verb+" a bad id", e.adminJSON(t, "POST", "/api/v1/runs/x/"+verb, ""), 400, "invalid")
			wantError(t, verb+" a missing run", e.adminJSON(t, "POST", "/api/v1/runs/99999/"+verb, ""), 404, "not_found")
			wantError(t, verb+" with GET", e.adminJSON(t, "GET", "/api/v1/runs/1/"+verb, ""), 405, "method_not_allowed")
		}
		var run api.Run
		wantStatus(t, "run now", e.adminJSON(t, "POST", one+"/run", ""), 202, &run)
		for _, verb := range []string{"confirm", "reject"} {
			r := e.adminJSON(t, "POST", itoaPath("/api/v1/runs/", run.ID, "/"+verb), "")
			wantError(t, verb+" a queued run", r, 409, "conflict", "only a run that needs confirmation")
		}
	})
}
