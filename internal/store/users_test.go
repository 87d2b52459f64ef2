package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// Dashboard users and sessions behave alike on both dialects.
func TestDashboardUsersAndSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		first := store.User{Name: "admin", PasswordHash: "$argon2id$x", IsAdmin: true}
		if ok, err := st.CreateFirstUser(ctx, &first, t0); err != nil || !ok {
			t.Fatalf("first user: %v %v", ok, err)
		}
		again := store.User{Name: "other", PasswordHash: "h"}
		if ok, err := st.CreateFirstUser(ctx, &again, t0); err != nil || ok {
			t.Fatalf("second first user: %v %v, want not created", ok, err)
		}
		u := store.User{Name: "alice", PasswordHash: "h1"}
		if err := st.CreateUser(ctx, &u, t0); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateUser(ctx, &store.User{Name: "alice", PasswordHash: "h2"}, t0); !errors.Is(err, apperr.Conflict) {
			t.Fatalf("duplicate user: %v, want Conflict", err)
		}
		if n, err := st.CountUsers(ctx); err != nil || n != 2 {
			t.Fatalf("count: %d %v", n, err)
		}
		got, err := st.GetUser(ctx, "admin")
		if err != nil || !got.IsAdmin || got.PasswordHash != "$argon2id$x" || !got.CreatedAt.Equal(t0) {
			t.Fatalf("get admin: %+v %v", got, err)
		}
		if err := st.SetPassword(ctx, u.ID, "h3", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		for i, id := range []string{"s1", "s2"} {
			se := store.Session{IDHash: id, UserID: u.ID, CSRFToken: "c" + id, CreatedAt: t0, LastSeenAt: t0.Add(time.Duration(i) * time.Hour),
				ExpiresAt: t0.Add(24 * time.Hour), RemoteAddr: "192.0.2.1", UserAgent: "test"}
			if err := st.CreateSession(ctx, &se); err != nil {
				t.Fatal(err)
			}
		}
		se, err := st.GetSession(ctx, "s1")
		if err != nil || se.UserName != "alice" || se.IsAdmin || se.CSRFToken != "cs1" || !se.ExpiresAt.Equal(t0.Add(24*time.Hour)) {
			t.Fatalf("get session: %+v %v", se, err)
		}
		if err := st.TouchSession(ctx, "s1", t0.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		// s2 was last seen at t0+1h: idle since before t0+90m; s1 is not.
		if n, err := st.PruneSessions(ctx, t0.Add(3*time.Hour), t0.Add(90*time.Minute)); err != nil || n != 1 {
			t.Fatalf("prune: %d %v, want 1", n, err)
		}
		if _, err := st.GetSession(ctx, "s2"); !errors.Is(err, apperr.NotFound) {
			t.Fatalf("pruned session: %v", err)
		}
		if n, err := st.DeleteUserSessions(ctx, u.ID); err != nil || n != 1 {
			t.Fatalf("delete sessions: %d %v", n, err)
		}
		// Removing a user ends its sessions (cascade).
		se.IDHash = "s3"
		if err := st.CreateSession(ctx, &se); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteUser(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GetSession(ctx, "s3"); !errors.Is(err, apperr.NotFound) {
			t.Fatalf("session of a removed user: %v", err)
		}
		if err := st.DeleteUser(ctx, "alice"); !errors.Is(err, apperr.NotFound) {
			t.Fatalf("remove twice: %v", err)
		}
		if us, err := st.ListUsers(ctx); err != nil || len(us) != 1 || us[0].Name != "admin" {
			t.Fatalf("list: %+v %v", us, err)
		}
	})
}
