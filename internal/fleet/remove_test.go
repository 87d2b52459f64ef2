package fleet_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// TestRemoveMemberWithDependents: removing the active member or one in a
// protection is refused with everything that depends on it; --force
// removes it, its protections go and the event says what it was.
func TestRemoveMemberWithDependents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		s := newService(t, st)
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web", FailoverRecord: "www.example.com"}); err != nil {
			t.Fatal(err)
		}
		_, a1 := addMember(t, s, "web", "node1")
		_, a2 := addMember(t, s, "web", "node2")
		addMember(t, s, "web", "node3")
		p, _ := st.GetPool(ctx, "web")
		if err := st.SetActiveMember(ctx, p.ID, a1.MemberID, nil, "", 0, p.CreatedAt); err != nil {
			t.Fatal(err)
		}
		pr := store.Protection{PoolID: p.ID, Account: "alice", SourceID: a1.MemberID, StandbyID: a2.MemberID, Schedule: "1h"}
		if err := st.CreateProtection(ctx, &pr, p.CreatedAt); err != nil {
			t.Fatal(err)
		}

		err := s.RemoveMember(ctx, "web", "node1", false)
		if !errors.Is(err, apperr.Conflict) {
			t.Fatalf("remove the active source: %v, want a conflict", err)
		}
		for _, want := range []string{"active member (www.example.com points at it)", "source of the protection of account alice (standby node2)", "--force"} {
			if !strings.Contains(apperr.Message(err), want) {
				t.Errorf("refusal lacks %q: %s", want, apperr.Message(err))
			}
		}
		if err := s.RemoveMember(ctx, "web", "node2", false); err == nil || !strings.Contains(err.Error(), "standby of the protection of account alice (source node1)") {
			t.Fatalf("remove the standby: %v", err)
		}
		if err := s.RemoveMember(ctx, "web", "node3", false); err != nil {
			t.Fatalf("remove a member nothing depends on: %v", err)
		}
		if err := s.RemoveMember(ctx, "web", "node1", true); err != nil {
			t.Fatalf("remove with force: %v", err)
		}
		if prs, _ := st.ListProtections(ctx, p.ID); len(prs) != 0 {
			t.Fatalf("protections after the forced removal: %+v", prs)
		}
		evs, err := st.ListEvents(ctx, store.EventFilter{Kind: "member.removed", Member: "node1"})
		if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Message, "with --force; it was the pool's active member") {
			t.Fatalf("removal event: %+v %v", evs, err)
		}
		if deps, err := s.MemberDependents(ctx, "web", "node2"); err != nil || len(deps) != 0 {
			t.Fatalf("node2's dependents after the protection went: %v %v", deps, err)
		}
	})
}
