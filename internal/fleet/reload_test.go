package fleet

import (
	"context"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// TestReloadKeepsMembersAddedMeanwhile: a member added while a reload is
// between reading the store and merging must survive the merge; before the
// fix its agent was told it had been removed (found by bench/failover).
func TestReloadKeepsMembersAddedMeanwhile(t *testing.T) {
	ctx := context.Background()
	s := New(storetest.Open(t, store.SQLite), Config{})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	var added api.MemberAdded
	s.afterRead = func() {
		s.afterRead = nil
		var err error
		if added, err = s.AddMember(ctx, "web", api.MemberCreate{Name: "late", Address: "192.0.2.1"}); err != nil {
			t.Error(err)
		}
	}
	if err := s.reload(ctx); err != nil {
		t.Fatal(err)
	}
	if added.Member.Name != "late" {
		t.Fatal("the member was not added during the reload")
	}
	if hs := s.MemberHealth(1); len(hs) != 1 || hs[0].Member != "late" {
		t.Fatalf("after the reload: got %+v, want member late", hs)
	}
	// A later reload, which reads the member, keeps it too.
	if err := s.reload(ctx); err != nil {
		t.Fatal(err)
	}
	if hs := s.MemberHealth(1); len(hs) != 1 {
		t.Fatalf("after a second reload: got %+v", hs)
	}
}
