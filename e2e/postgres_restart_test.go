package e2e

import (
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// privatePostgres starts a PostgreSQL instance of the test's own, so it can
// be restarted without disturbing other tests.
type privatePostgres struct {
	bin, dir string
	port     int
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if os.Getenv("POOLCTL_REQUIRE_PEERS") != "" {
			t.Fatal("PostgreSQL server binaries are required")
		}
		t.Skip("no PostgreSQL server binaries")
	}
	pg := &privatePostgres{bin: filepath.Dir(bins[len(bins)-1])}
	var err error
	if pg.dir, err = os.MkdirTemp("", "poolctl-pg-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pg.ctl("stop", "-m", "immediate"); os.RemoveAll(pg.dir) })
	if err := exec.Command("chown", "postgres:postgres", pg.dir).Run(); err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	pg.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	if out, err := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pg.bin, "initdb"), "-D", filepath.Join(pg.dir, "data"), "--auth=trust").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := pg.ctl("start", "-w"); err != nil {
		t.Fatal(err)
	}
	return pg
}

func (pg *privatePostgres) ctl(action string, extra ...string) error {
	args := append([]string{"-u", "postgres", "--", filepath.Join(pg.bin, "pg_ctl"), "-D", filepath.Join(pg.dir, "data"),
		"-o", fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s", pg.port, pg.dir),
		"-l", filepath.Join(pg.dir, "log"), action}, extra...)
	out, err := exec.Command("runuser", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %v\n%s", action, err, out)
	}
	return nil
}

func (pg *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

// TestPostgresRestart restarts PostgreSQL under a running server and its
// agent: the server reconnects, the agent's heartbeats keep the member
// healthy, and writes work again.
func TestPostgresRestart(t *testing.T) {
	pg := startPrivatePostgres(t)
	s := startServer(t, t.TempDir(), "--database", pg.url())
	cli(t, s.env(), "pool", "create", "web", "--heartbeat-timeout", "10s")
	enrolAgent(t, s, "web", "node1", "192.0.2.1")
	waitFor(t, 30*time.Second, "node1 healthy", func() bool { return members(t, s, "web")["node1"].Status == api.StatusHealthy })

	if err := pg.ctl("restart", "-w", "-m", "fast"); err != nil {
		t.Fatal(err)
	}
	// The first request after the restart may meet a dead pooled connection;
	// within a few seconds every request works again.
	waitFor(t, 30*time.Second, "API answers after the restart", func() bool {
		_, _, err := cliRun(s.env(), "pool", "create", "after-restart")
		return err == nil
	})
	var p api.Pool
	cliJSON(t, s.env(), &p, "pool", "show", "after-restart")
	if p.Name != "after-restart" {
		t.Fatalf("pool after restart: %+v", p)
	}
	// Heartbeats reach the database again: the stored last_heartbeat_at
	// moves past the restart.
	restarted := time.Now()
	db, err := sql.Open("pgx", pg.url())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitFor(t, 30*time.Second, "heartbeats stored again", func() bool {
		var last int64
		err := db.QueryRow(`SELECT COALESCE(last_heartbeat_at, 0) FROM members WHERE name = 'node1'`).Scan(&last)
		return err == nil && time.UnixMilli(last).After(restarted)
	})
	if st := members(t, s, "web")["node1"].Status; st != api.StatusHealthy {
		t.Fatalf("node1 after the restart: %s, want healthy", st)
	}
	if out := s.out.String(); strings.Contains(out, "panic") {
		t.Fatalf("server panicked:\n%s", out)
	}
}
