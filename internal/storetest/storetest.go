// Package storetest opens fresh stores of every dialect for tests: SQLite
// in a temporary directory, and PostgreSQL in a database of its own created
// on the server named by POOLCTL_TEST_POSTGRES (default
// postgres://postgres@127.0.0.1:5432/postgres). Without a reachable
// PostgreSQL the PostgreSQL cases are skipped, unless POOLCTL_REQUIRE_PEERS
// is set (as in CI), where that is a failure.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for the admin connection

	"github.com/poolctl/poolctl/internal/store"
)

// AdminURL is the PostgreSQL server tests create databases on.
func AdminURL() string {
	if u := os.Getenv("POOLCTL_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Required reports whether missing peers fail tests instead of skipping them.
func Required() bool { return os.Getenv("POOLCTL_REQUIRE_PEERS") != "" }

// Each runs fn once per dialect, as a subtest named after it, with a fresh
// migrated store.
func Each(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Open returns a fresh migrated store of dialect d, closed (and for
// PostgreSQL dropped) when the test ends.
func Open(t testing.TB, d store.Dialect) *store.Store {
	t.Helper()
	dsn := DSN(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("open %s store: %v", d, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// DSN returns the address of a fresh, empty database of dialect d.
func DSN(t testing.TB, d store.Dialect) string {
	t.Helper()
	if d == store.SQLite {
		return filepath.Join(t.TempDir(), "poolctl.db")
	}
	return NewPostgresDB(t)
}

// NewPostgresDB creates an empty PostgreSQL database dropped at cleanup.
func NewPostgresDB(t testing.TB) string {
	t.Helper()
	admin, err := sql.Open("pgx", AdminURL())
	if err != nil {
		t.Fatalf("open postgres admin connection: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		if Required() {
			t.Fatalf("PostgreSQL at %s unreachable (required): %v", AdminURL(), err)
		}
		t.Skipf("PostgreSQL unreachable, skipping: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "poolctl_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatalf("parse %s: %v", AdminURL(), err)
	}
	u.Path = "/" + name
	return u.String()
}
