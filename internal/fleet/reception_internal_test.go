package fleet

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// TestStoreOutageJudgesNobody: while the store does not answer, heartbeats
// that reached other replicas cannot be seen, so nobody declines; when it
// answers again, every member gets a full timeout.
func TestStoreOutageJudgesNobody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := storetest.Open(t, store.SQLite)
		ctx := context.Background()
		s := New(st, Config{CAFingerprint: strings.Repeat("ab", 32)})
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreatePool(ctx, api.PoolCreate{Name: "web"}); err != nil {
			t.Fatal(err)
		}
		res, err := s.AddMember(ctx, "web", api.MemberCreate{Name: "node1", Address: "203.0.113.10"})
		if err != nil {
			t.Fatal(err)
		}
		enr, err := s.Enroll(ctx, api.EnrollRequest{Secret: res.EnrollmentSecret}, netip.MustParseAddr("127.0.0.1"))
		if err != nil {
			t.Fatal(err)
		}
		a, err := s.AuthAgent(ctx, enr.Token)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Heartbeat(ctx, a, api.Heartbeat{Protocol: 1, Interval: api.Duration(2 * time.Second)}); err != nil {
			t.Fatal(err)
		}
		status := func() string {
			m, err := s.Member(ctx, "web", "node1")
			if err != nil {
				t.Fatal(err)
			}
			return m.Status
		}
		s.storeFailed(s.now())
		time.Sleep(time.Minute)
		s.Sweep(ctx)
		if got := status(); got != api.StatusHealthy {
			t.Fatalf("a minute into a store outage: got %s, want healthy", got)
		}
		if gap := s.storeAnswered(s.now()); gap != time.Minute {
			t.Fatalf("outage: got %s, want 1m", gap)
		}
		time.Sleep(4 * time.Second)
		s.Sweep(ctx)
		if got := status(); got != api.StatusHealthy {
			t.Fatalf("4 s after the store answered: got %s, want healthy", got)
		}
		time.Sleep(7 * time.Second)
		s.Sweep(ctx)
		if got := status(); got != api.StatusDown {
			t.Fatalf("a full timeout after the outage without a beat: got %s, want down", got)
		}
	})
}
