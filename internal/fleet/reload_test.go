package fleet

import (
	"context"
	"net/netip"
	"testing"
	"time"

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

// TestReloadKeepsCredentialsChangedMeanwhile: a reload that read the store
// before a heartbeat issued a new credential (or its first use promoted
// it, or a revocation) must not put the older state back in memory; before
// the fix, rotating 2,000 credentials under load on PostgreSQL had the new
// ones refused (found by bench/heartbeat.sh).
func TestReloadKeepsCredentialsChangedMeanwhile(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, store.SQLite)
	s := New(st, Config{})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	res, err := s.AddMember(ctx, "web", api.MemberCreate{Name: "node1", Address: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddr("192.0.2.1")
	enr, err := s.Enroll(ctx, api.EnrollRequest{Secret: res.EnrollmentSecret}, src)
	if err != nil {
		t.Fatal(err)
	}
	beat := func(token string) api.HeartbeatReply {
		t.Helper()
		a, err := s.AuthAgentFrom(ctx, token, src)
		if err != nil {
			t.Fatalf("auth: %v", err)
		}
		r, err := s.Heartbeat(ctx, a, api.Heartbeat{Protocol: 3, Interval: api.Duration(2 * time.Second), AgentVersion: "test"})
		if err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
		return r
	}
	beat(enr.Token)
	if _, err := s.RotateCredentials(ctx, "web", "node1"); err != nil {
		t.Fatal(err)
	}
	// The next heartbeat issues the new credential while a reload is
	// between its read and its merge.
	var next string
	s.afterRead = func() {
		s.afterRead = nil
		next = beat(enr.Token).NewCredential
	}
	if err := s.reload(ctx); err != nil {
		t.Fatal(err)
	}
	if next == "" {
		t.Fatal("no credential offered during the reload")
	}
	// Its first use promotes it, again during a reload.
	s.afterRead = func() {
		s.afterRead = nil
		beat(next)
	}
	if err := s.reload(ctx); err != nil {
		t.Fatal(err)
	}
	// Both changes are in memory: with the store gone, the new credential
	// still works and is no longer offered.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if r := beat(next); r.NewCredential != "" {
		t.Fatalf("the promoted credential is offered again: %q", r.NewCredential)
	}
}
