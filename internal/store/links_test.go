package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// A child has one parent; a link carrying accounts cannot be removed; an
// account has at most one distribution per function; a run that ended
// stays ended; the log keeps its order.
func TestLinksAndDistributions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		p := mkPool(t, st, "web")
		parent, parent2, child := mkMember(t, st, p, "node1", ""), mkMember(t, st, p, "node2", ""), mkMember(t, st, p, "mail1", "")
		if err := st.SetMemberProfile(ctx, child.ID, api.ProfileMail, t0); err != nil {
			t.Fatal(err)
		}
		if m, _ := st.GetMember(ctx, p.ID, "mail1"); m.Profile != api.ProfileMail {
			t.Fatalf("profile: got %q, want mail", m.Profile)
		}
		if m, _ := st.GetMember(ctx, p.ID, "node1"); m.Profile != api.ProfileStandard {
			t.Fatalf("default profile: got %q, want standard", m.Profile)
		}
		l := store.Link{PoolID: p.ID, Pool: "web", ParentID: parent.ID, Parent: "node1", ChildID: child.ID, Child: "mail1", Function: api.FunctionMail}
		if err := st.CreateLink(ctx, &l, t0); err != nil {
			t.Fatal(err)
		}
		second := store.Link{PoolID: p.ID, ParentID: parent2.ID, Parent: "node2", ChildID: child.ID, Child: "mail1", Function: api.FunctionMail}
		err := st.CreateLink(ctx, &second, t0)
		wantKind(t, err, apperr.Conflict)
		if !strings.Contains(err.Error(), "node1") {
			t.Errorf("second parent refusal %q does not name the parent node1", err)
		}
		got, err := st.LinkOfChild(ctx, child.ID, "mail1")
		if err != nil || got.Parent != "node1" || got.Child != "mail1" || got.Accounts != 0 {
			t.Fatalf("link of child: got %+v, %v", got, err)
		}
		_, err = st.LinkOfChild(ctx, parent.ID, "node1")
		wantKind(t, err, apperr.NotFound)

		d := store.Distribution{Account: "alice", Token: "tok"}
		r := store.DistributionRun{LinkID: l.ID, Pool: "web", Parent: "node1", Child: "mail1", Account: "alice", Direction: api.DirDistribute, Step: "preconditions", Status: api.DistRunning}
		if err := st.StartDistribution(ctx, l, &d, &r, t0); err != nil {
			t.Fatal(err)
		}
		again := store.Distribution{Account: "alice", Token: "x"}
		r2 := r
		wantKind(t, st.StartDistribution(ctx, l, &again, &r2, t0), apperr.Conflict)
		wantKind(t, st.AddDistributionRun(ctx, d.ID, &r2, t0), apperr.Conflict) // r is under way
		err = st.DeleteLink(ctx, l)
		wantKind(t, err, apperr.Conflict)
		if !strings.Contains(err.Error(), "alice") {
			t.Errorf("link remove refusal %q does not name the account", err)
		}
		ls, _ := st.ListLinks(ctx, p.ID)
		if len(ls) != 1 || ls[0].Accounts != 1 {
			t.Fatalf("links: got %+v, want one carrying 1 account", ls)
		}

		if err := st.AppendDistributionLog(ctx, r.ID, []api.RunLogLine{{Time: t0, Line: "a"}, {Time: t0, Line: "b"}}); err != nil {
			t.Fatal(err)
		}
		lines, err := st.DistributionLog(ctx, r.ID, 1, 0)
		if err != nil || len(lines) != 1 || lines[0].Line != "b" || lines[0].Seq != 2 {
			t.Fatalf("log after 1: got %+v, %v; want line b (seq 2)", lines, err)
		}
		r.Step, r.JobID, r.State = "export", 7, `{"token":"tok"}`
		if err := st.UpdateDistributionRun(ctx, &r, t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		fin := t0.Add(2 * time.Second)
		r.Status, r.FinishedAt = api.DistSucceeded, &fin
		if err := st.UpdateDistributionRun(ctx, &r, fin); err != nil {
			t.Fatal(err)
		}
		if err := st.UpdateDistributionRun(ctx, &r, fin); err != store.ErrDistRunEnded {
			t.Fatalf("update of an ended run: got %v, want ErrDistRunEnded", err)
		}
		gr, err := st.GetDistributionRun(ctx, r.ID)
		if err != nil || gr.Step != "export" || gr.JobID != 7 || gr.FinishedAt == nil || gr.State != `{"token":"tok"}` {
			t.Fatalf("run: got %+v, %v", gr, err)
		}
		if act, _ := st.ListDistributionRuns(ctx, true, "", "", 0); len(act) != 0 {
			t.Fatalf("active runs: got %d, want 0", len(act))
		}

		wantKind(t, st.StartDedistribution(ctx, d, &r2, t0), apperr.Conflict) // still distributing
		d.State = store.DistDistributed
		if err := st.UpdateDistribution(ctx, &d, t0); err != nil {
			t.Fatal(err)
		}
		r3 := store.DistributionRun{LinkID: l.ID, Pool: "web", Parent: "node1", Child: "mail1", Account: "alice", Direction: api.DirDedistribute, Step: "preconditions", Status: api.DistRunning}
		if err := st.StartDedistribution(ctx, d, &r3, t0); err != nil {
			t.Fatal(err)
		}
		gd, _ := st.GetDistribution(ctx, parent.ID, api.FunctionMail, "alice")
		if gd.State != store.DistDedistributing {
			t.Fatalf("state: got %s, want dedistributing", gd.State)
		}
		if err := st.DeleteDistribution(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteLink(ctx, l); err != nil {
			t.Fatalf("remove an empty link: %v", err)
		}
		if err := st.CreateLink(ctx, &second, t0); err != nil {
			t.Fatalf("link to a new parent after removal: %v", err)
		}
	})
}
