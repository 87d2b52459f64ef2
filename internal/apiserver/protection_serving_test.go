package apiserver_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apiserver"
	"github.com/poolctl/poolctl/internal/objstore/local"
	"github.com/poolctl/poolctl/internal/protection"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// Over the real engine: after a failover cut alice's DNS to node2, Run now
// answers 409 naming the cut, and reverse swaps the members so that runs
// go node2 → node1.
func TestProtectionServingStandbyAPI(t *testing.T) {
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
		wantStatus(t, "create protection", e.adminJSON(t, "POST", "/api/v1/pools/web/protections", `{"account":"alice","source":"node1","standby":"node2"}`), 201, nil)
		r := e.adminJSON(t, "POST", "/api/v1/pools/web/protections/alice/reverse", "")
		wantError(t, "reverse before any cut", r, 409, "conflict", "account alice's DNS points at its source node1: there is nothing to reverse")

		// The failover engine's cut, as the store keeps it.
		p, err := st.GetPool(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		pr, err := st.GetProtection(ctx, p.ID, "alice")
		if err != nil {
			t.Fatal(err)
		}
		cutAt := time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)
		pr.CutToID, pr.CutAt, pr.CutReason = pr.StandbyID, &cutAt, "automatically after node1 failed"
		if err := st.SetProtectionCut(ctx, &pr, cutAt); err != nil {
			t.Fatal(err)
		}

		const msg = "account alice's DNS was cut to node2 at 2026-12-04T05:00:00Z automatically after node1 failed: " +
			"node2 serves the live copy, so a run from node1 would overwrite it; replication is paused. " +
			"Reverse the protection (poolctl protection reverse web alice) to replicate node2 → node1, " +
			"or cut DNS back first (poolctl account cut-dns web alice --to node1)"
		r = e.adminJSON(t, "POST", "/api/v1/pools/web/protections/alice/run", "")
		wantError(t, "run now while node2 serves", r, 409, "conflict")
		want, _ := json.Marshal(api.ErrorBody{Error: api.ErrorDetail{Code: "conflict", Message: msg}})
		if got := strings.TrimSpace(string(r.body)); got != string(want) {
			t.Errorf("run now while node2 serves: body\ngot  %s\nwant %s", got, want)
		}
		var shown api.Protection
		wantStatus(t, "show", e.adminJSON(t, "GET", "/api/v1/pools/web/protections/alice", ""), 200, &shown)
		if shown.Status != api.ProtectionServingStandby || shown.Blocked != msg || shown.CutAt == nil || !shown.CutAt.Equal(cutAt) ||
			shown.CutReason != "automatically after node1 failed" || shown.CutTo != "node2" {
			t.Errorf("show while node2 serves: got %+v, want serving_standby with the cut", shown)
		}

		var rev api.Protection
		wantStatus(t, "reverse", e.adminJSON(t, "POST", "/api/v1/pools/web/protections/alice/reverse", ""), 200, &rev)
		if rev.Source != "node2" || rev.Standby != "node1" || rev.Status != api.ProtectionActive || rev.CutTo != "" || rev.ReversedAt == nil {
			t.Errorf("reverse: got %+v, want node2 → node1, active", rev)
		}
		r = e.adminJSON(t, "POST", "/api/v1/pools/web/protections/alice/reverse", "")
		wantError(t, "second reverse", r, 409, "conflict", "points at its source node2")
		wantStatus(t, "run now after the reversal", e.adminJSON(t, "POST", "/api/v1/pools/web/protections/alice/run", ""), 202, nil)
	})
}
