package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func mkPool(t *testing.T, st *store.Store, name string) store.Pool {
	t.Helper()
	p := store.Pool{Name: name, Preset: "generic", FailoverDelay: 30 * time.Second, TTL: 30, Failback: "manual", HeartbeatTimeout: 10 * time.Second}
	if err := st.CreatePool(context.Background(), &p, t0); err != nil {
		t.Fatalf("create pool %s: %v", name, err)
	}
	return p
}

func mkMember(t *testing.T, st *store.Store, p store.Pool, name, secretHash string) store.Member {
	t.Helper()
	m := store.Member{PoolID: p.ID, Name: name, Address: "203.0.113.10", AllowedCIDRs: []string{"127.0.0.1/32"}, Priority: 100, HeartbeatInterval: 2 * time.Second}
	var sec *store.Secret
	if secretHash != "" {
		sec = &store.Secret{Hash: secretHash, ExpiresAt: t0.Add(24 * time.Hour)}
	}
	if err := st.CreateMember(context.Background(), &m, sec, t0); err != nil {
		t.Fatalf("create member %s: %v", name, err)
	}
	return m
}

func wantKind(t *testing.T, err error, k *apperr.Kind) {
	t.Helper()
	if !errors.Is(err, k) {
		t.Fatalf("got error %v, want kind %s", err, k)
	}
}

func TestPoolsAndMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		p := mkPool(t, st, "web")
		dup := store.Pool{Name: "web", Preset: "generic", FailoverDelay: time.Second, TTL: 1, Failback: "manual", HeartbeatTimeout: time.Second}
		wantKind(t, st.CreatePool(ctx, &dup, t0), apperr.Conflict)

		got, err := st.GetPool(ctx, "web")
		if err != nil || got.ID != p.ID || got.FailoverDelay != 30*time.Second || !got.CreatedAt.Equal(t0) {
			t.Fatalf("got %+v, %v; want pool web with 30s delay created at %v", got, err, t0)
		}
		_, err = st.GetPool(ctx, "nope")
		wantKind(t, err, apperr.NotFound)

		m := mkMember(t, st, p, "node1", "h1")
		dupM := store.Member{PoolID: p.ID, Name: "node1", Address: "203.0.113.11"}
		wantKind(t, st.CreateMember(ctx, &dupM, nil, t0), apperr.Conflict)
		// A second pool may reuse the member name.
		p2 := mkPool(t, st, "mail")
		mkMember(t, st, p2, "node1", "")

		lat, lon := 50.1, 8.6
		m.Location = api.Location{Lat: &lat, Lon: &lon, Text: "Frankfurt"}
		m.ShellEnabled = true
		if err := st.UpdateMember(ctx, &m, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		gm, err := st.GetMember(ctx, p.ID, "node1")
		if err != nil || gm.Location.Text != "Frankfurt" || *gm.Location.Lat != lat || !gm.ShellEnabled || gm.Pool != "web" {
			t.Fatalf("got %+v, %v; want updated location and shell", gm, err)
		}
		all, err := st.ListMembers(ctx, 0)
		if err != nil || len(all) != 2 {
			t.Fatalf("got %d members, %v; want 2", len(all), err)
		}

		// Deleting the pool removes the member and tomb-stones its agent token.
		if _, err := st.Enroll(ctx, "h1", "tok1", "127.0.0.1", t0, nil, func(store.Member) error { return nil }); err != nil {
			t.Fatal(err)
		}
		removed, err := st.DeletePool(ctx, p.ID, t0)
		if err != nil || len(removed) != 1 || removed[0] != "node1" {
			t.Fatalf("got %v, %v; want [node1]", removed, err)
		}
		r, ok, err := st.RemovedAgent(ctx, "tok1")
		if err != nil || !ok || r.Pool != "web" || r.Member != "node1" || r.Reason != store.ReasonRemoved {
			t.Fatalf("removed agent: got %+v %v %v", r, ok, err)
		}
		_, err = st.MemberByToken(ctx, "tok1")
		wantKind(t, err, apperr.NotFound)
	})
}

func TestEnrollOnceOnly(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		p := mkPool(t, st, "web")
		mkMember(t, st, p, "node1", "secret-hash")
		allow := func(store.Member) error { return nil }

		// Refused by the source check: nothing changes, the secret stays usable.
		_, err := st.Enroll(ctx, "secret-hash", "tok", "10.0.0.1", t0, nil, func(store.Member) error {
			return apperr.New(apperr.Forbidden, "wrong source")
		})
		wantKind(t, err, apperr.Forbidden)
		if _, err := st.MemberByToken(ctx, "tok"); !errors.Is(err, apperr.NotFound) {
			t.Fatalf("refused enrolment left a credential: %v", err)
		}
		_, err = st.Enroll(ctx, "wrong", "tok", "127.0.0.1", t0, nil, allow)
		wantKind(t, err, apperr.Forbidden)
		_, err = st.Enroll(ctx, "secret-hash", "tok", "127.0.0.1", t0.Add(25*time.Hour), nil, allow)
		wantKind(t, err, apperr.Forbidden)

		// Concurrent redemption: exactly one wins.
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
		)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				if _, err := st.Enroll(ctx, "secret-hash", "tok"+string(rune('a'+i)), "127.0.0.1", t0, nil, allow); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if !errors.Is(err, apperr.Forbidden) {
					t.Errorf("concurrent enrol: %v", err)
				}
			}(i)
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("got %d successful enrolments, want 1", wins)
		}
		_, err = st.Enroll(ctx, "secret-hash", "tok-z", "127.0.0.1", t0, nil, allow)
		wantKind(t, err, apperr.Forbidden)

		// A replacement secret re-enrols; the previous credential is retired.
		m, _ := st.GetMember(ctx, p.ID, "node1")
		old := m.TokenHash
		if err := st.ReplaceSecret(ctx, &store.Secret{MemberID: m.ID, Hash: "second", ExpiresAt: t0.Add(time.Hour)}, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Enroll(ctx, "second", "tok-new", "127.0.0.1", t0, nil, allow); err != nil {
			t.Fatal(err)
		}
		if r, ok, _ := st.RemovedAgent(ctx, old); !ok || r.Reason != store.ReasonReenrolled {
			t.Fatalf("old credential %s not retired as re-enrolled: %+v %v", old, r, ok)
		}
	})
}

func TestHeartbeatsEventsSamples(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		p := mkPool(t, st, "web")
		m := mkMember(t, st, p, "node1", "")
		facts := api.Facts{Hostname: "node1", CPUCount: 4}
		err := st.ApplyHeartbeats(ctx, []store.HeartbeatUpdate{
			{MemberID: m.ID, At: t0, Interval: 2 * time.Second, AgentVersion: "1.0", Metrics: &api.Metrics{CPUPercent: 12.5}, Facts: &facts},
			{MemberID: 999999, At: t0}, // removed meanwhile: skipped
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := st.GetMember(ctx, p.ID, "node1")
		if got.LastHeartbeatAt == nil || !got.LastHeartbeatAt.Equal(t0) || got.Facts.CPUCount != 4 || got.Metrics.CPUPercent != 12.5 {
			t.Fatalf("got %+v; want heartbeat stored", got)
		}

		for i, kind := range []string{"member.healthy", "member.down", "pool.created"} {
			e := api.Event{Time: t0.Add(time.Duration(i) * time.Second), Kind: kind, Pool: "web", Member: "node1", Message: kind, Data: json.RawMessage(`{"n":1}`)}
			if err := st.AppendEvent(ctx, &e); err != nil || e.ID == 0 {
				t.Fatalf("append: %v", err)
			}
		}
		evs, err := st.ListEvents(ctx, store.EventFilter{Kind: "member."})
		if err != nil || len(evs) != 2 || evs[0].Kind != "member.healthy" || string(evs[0].Data) != `{"n":1}` {
			t.Fatalf("got %+v, %v; want 2 member events oldest first", evs, err)
		}
		evs, _ = st.ListEvents(ctx, store.EventFilter{After: evs[1].ID})
		if len(evs) != 1 || evs[0].Kind != "pool.created" {
			t.Fatalf("after cursor: got %+v", evs)
		}
		evs, _ = st.ListEvents(ctx, store.EventFilter{Limit: 1, Newest: true})
		if len(evs) != 1 || evs[0].Kind != "pool.created" {
			t.Fatalf("newest: got %+v", evs)
		}

		s := store.Sample{MemberID: m.ID, At: t0, Resolution: time.Minute, CPU: 50, NetRx: 1000}
		if err := st.AddSamples(ctx, []store.Sample{s, s, {MemberID: 424242, At: t0, Resolution: time.Minute}}); err != nil {
			t.Fatal(err)
		}
		ss, err := st.ListSamples(ctx, m.ID, time.Minute, t0.Add(-time.Hour))
		if err != nil || len(ss) != 1 || ss[0].CPU != 50 {
			t.Fatalf("got %+v, %v; want one sample", ss, err)
		}
		if n, err := st.PruneSamples(ctx, time.Minute, t0.Add(time.Second)); err != nil || n != 1 {
			t.Fatalf("prune: got %d, %v", n, err)
		}
	})
}

func TestJobsLeases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		p := mkPool(t, st, "web")
		m := mkMember(t, st, p, "node1", "")
		other := mkMember(t, st, p, "node2", "")
		j := store.Job{MemberID: m.ID}
		j.Kind, j.MaxAttempts, j.Args = "facts.refresh", 2, json.RawMessage(`{"a":1}`)
		if err := st.CreateJob(ctx, &j, t0); err != nil {
			t.Fatal(err)
		}
		if got, err := st.ClaimJob(ctx, other.ID, time.Minute, t0); err != nil || got != nil {
			t.Fatalf("another member claimed %v, %v", got, err)
		}
		c, err := st.ClaimJob(ctx, m.ID, time.Minute, t0)
		if err != nil || c == nil || c.ID != j.ID || c.Status != api.JobRunning || c.Attempts != 1 {
			t.Fatalf("claim: got %+v, %v", c, err)
		}
		if again, _ := st.ClaimJob(ctx, m.ID, time.Minute, t0); again != nil {
			t.Fatalf("claimed twice: %+v", again)
		}
		wantKind(t, st.AppendJobLog(ctx, j.ID, other.ID, []string{"x"}, t0, t0), apperr.Forbidden)
		if err := st.AppendJobLog(ctx, j.ID, m.ID, []string{"one", "two"}, t0.Add(time.Minute), t0); err != nil {
			t.Fatal(err)
		}
		// Lease runs out: requeued (1 of 2 attempts used), then failed.
		exp, err := st.ExpireLeases(ctx, t0.Add(2*time.Minute))
		if err != nil || len(exp) != 1 || exp[0].Status != api.JobQueued {
			t.Fatalf("expire: got %+v, %v", exp, err)
		}
		wantKind(t, st.AppendJobLog(ctx, j.ID, m.ID, []string{"late"}, t0, t0), apperr.Gone)
		if _, err := st.ClaimJob(ctx, m.ID, time.Minute, t0.Add(3*time.Minute)); err != nil {
			t.Fatal(err)
		}
		exp, _ = st.ExpireLeases(ctx, t0.Add(10*time.Minute))
		if len(exp) != 1 || exp[0].Status != api.JobFailed || exp[0].Error == "" {
			t.Fatalf("second expiry: got %+v", exp)
		}
		lines, err := st.JobLog(ctx, j.ID, 1, 0)
		if err != nil || len(lines) != 1 || lines[0].Line != "two" || lines[0].Seq != 2 {
			t.Fatalf("log after 1: got %+v, %v", lines, err)
		}

		j2 := store.Job{MemberID: m.ID}
		j2.Kind, j2.MaxAttempts = "service.status", 1
		_ = st.CreateJob(ctx, &j2, t0)
		_, _ = st.ClaimJob(ctx, m.ID, time.Minute, t0)
		done, err := st.FinishJob(ctx, j2.ID, m.ID, true, json.RawMessage(`{"ok":true}`), "", t0)
		if err != nil || done.Status != api.JobSucceeded || string(done.Result) != `{"ok":true}` {
			t.Fatalf("finish: got %+v, %v", done, err)
		}
		_, err = st.FinishJob(ctx, j2.ID, m.ID, true, nil, "", t0)
		wantKind(t, err, apperr.Gone)
		_, err = st.CancelJob(ctx, j2.ID, t0)
		wantKind(t, err, apperr.Conflict)
	})
}

func TestLeaseFencing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e1, err := st.AcquireLease(ctx, "failover", "a", 10*time.Second, t0)
		if err != nil || e1 != 1 {
			t.Fatalf("first acquire: got %d, %v; want epoch 1", e1, err)
		}
		if e, _ := st.AcquireLease(ctx, "failover", "b", 10*time.Second, t0.Add(5*time.Second)); e != 0 {
			t.Fatalf("b took a live lease: epoch %d", e)
		}
		if e, _ := st.AcquireLease(ctx, "failover", "a", 10*time.Second, t0.Add(5*time.Second)); e != 1 {
			t.Fatalf("renewal changed epoch to %d", e)
		}
		e2, _ := st.AcquireLease(ctx, "failover", "b", 10*time.Second, t0.Add(20*time.Second))
		if e2 != 2 {
			t.Fatalf("takeover: got epoch %d, want 2", e2)
		}
		p := mkPool(t, st, "web")
		m := mkMember(t, st, p, "node1", "")
		err = st.SetActiveMember(ctx, p.ID, m.ID, &api.Banner{Message: "x"}, "failover", e1, t0)
		if !errors.Is(err, store.ErrFenced) {
			t.Fatalf("stale epoch write: got %v, want ErrFenced", err)
		}
		if err := st.SetActiveMember(ctx, p.ID, m.ID, &api.Banner{Message: "failed over"}, "failover", e2, t0); err != nil {
			t.Fatal(err)
		}
		got, _ := st.GetPool(ctx, "web")
		if got.ActiveMemberID != m.ID || got.Banner == nil || got.Banner.Message != "failed over" {
			t.Fatalf("got %+v; want active node1 with banner", got)
		}
	})
}

func TestReopenKeepsData(t *testing.T) {
	dsn := storetest.DSN(t, store.SQLite)
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	mkPool(t, st, "web")
	v1, _ := st.SchemaVersion(ctx)
	st.Close()
	st, err = store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	v2, _ := st.SchemaVersion(ctx)
	if _, err := st.GetPool(ctx, "web"); err != nil || v1 != v2 || v1 < 1 {
		t.Fatalf("after reopen: %v, versions %d %d", err, v1, v2)
	}
}
