package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
)

// enrolAgent adds a member, enrols a real agent process with the CLI and
// starts it.
func enrolAgent(t *testing.T, s *server, pool, name, address string) *proc {
	t.Helper()
	var added api.MemberAdded
	cliJSON(t, s.env(), &added, "member", "add", pool, name, "--address", address, "--allow-ip", "127.0.0.1/32")
	if added.EnrollmentSecret == "" || added.Member.Status != api.StatusPending {
		t.Fatalf("member add: got %+v", added)
	}
	dir := filepath.Join(t.TempDir(), name)
	cli(t, nil, "agent", "enroll", "--server", s.url, "--secret", added.EnrollmentSecret, "--data", dir)
	fi, err := os.Stat(filepath.Join(dir, "agent.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("agent.json: %v %v, want mode 0600", fi, err)
	}
	// The secret is single-use.
	if _, errOut, err := cliRun(nil, "agent", "enroll", "--server", s.url, "--secret", added.EnrollmentSecret, "--data", t.TempDir()); err == nil || !strings.Contains(errOut, "already used") {
		t.Fatalf("second enrolment: err %v, stderr %q; want refusal", err, errOut)
	}
	return start(t, nil, "agent", "--data", dir, "--heartbeat-interval", "500ms")
}

func members(t *testing.T, s *server, pool string) map[string]api.Member {
	t.Helper()
	var list api.List[api.Member]
	cliJSON(t, s.env(), &list, "member", "list", pool)
	out := map[string]api.Member{}
	for _, m := range list.Items {
		out[m.Name] = m
	}
	return out
}

func testTwoAgents(t *testing.T, dbArgs ...string) {
	s := startServer(t, t.TempDir(), dbArgs...)
	cli(t, s.env(), "pool", "create", "web", "--heartbeat-timeout", "3s")
	a1 := enrolAgent(t, s, "web", "node1", "203.0.113.10")
	enrolAgent(t, s, "web", "node2", "2001:db8::2")
	waitFor(t, 30*time.Second, "both members healthy with facts", func() bool {
		ms := members(t, s, "web")
		for _, n := range []string{"node1", "node2"} {
			m := ms[n]
			if m.Status != api.StatusHealthy || m.LastHeartbeatAt == nil || m.Facts.Hostname == "" || m.Metrics == nil {
				return false
			}
		}
		return true
	})
	table := cli(t, s.env(), "member", "list", "web")
	if !strings.Contains(table, "node1") || !strings.Contains(table, "healthy") {
		t.Fatalf("member list table:\n%s", table)
	}
	// kill -9 one agent: it turns suspect, then down.
	a1.kill(syscall.SIGKILL)
	waitFor(t, 30*time.Second, "node1 down", func() bool { return members(t, s, "web")["node1"].Status == api.StatusDown })
	if st := members(t, s, "web")["node2"].Status; st != api.StatusHealthy {
		t.Fatalf("node2: got %s, want healthy", st)
	}
	evs := cli(t, s.env(), "events", "--pool", "web", "--kind", "member.")
	for _, want := range []string{"member.enrolled", "member.healthy", "member.suspect", "member.down"} {
		if !strings.Contains(evs, want) {
			t.Errorf("events lack %s:\n%s", want, evs)
		}
	}
	// Removing a member tells its agent to stop.
	cli(t, s.env(), "member", "remove", "web", "node2")
	waitFor(t, 30*time.Second, "pool shows one member", func() bool { return len(members(t, s, "web")) == 1 })
}

func TestTwoAgentsSQLite(t *testing.T) { testTwoAgents(t) }

func TestTwoAgentsPostgres(t *testing.T) {
	testTwoAgents(t, "--database", storetest.NewPostgresDB(t))
}

// TestServerKilledDuringWrites kills the server with SIGKILL while clients
// create pools and members, restarts it, and checks that every pool is
// whole: no half-created member, the database intact.
func TestServerKilledDuringWrites(t *testing.T) {
	data := t.TempDir()
	s := startServer(t, data)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				pool := fmt.Sprintf("p%d-%d", w, i)
				if _, _, err := cliRun(s.env(), "pool", "create", pool); err != nil {
					return
				}
				if _, _, err := cliRun(s.env(), "member", "add", pool, "m1", "--address", "192.0.2.1"); err != nil {
					return
				}
			}
		}(w)
	}
	time.Sleep(3 * time.Second)
	s.kill(syscall.SIGKILL)
	wg.Wait()

	s2 := startServer(t, data)
	var pools api.List[api.Pool]
	cliJSON(t, s2.env(), &pools, "pool", "list")
	if len(pools.Items) == 0 {
		t.Fatal("no pool survived; the writers did not get going before the kill")
	}
	for _, p := range pools.Items {
		if p.MemberCount > 1 {
			t.Errorf("pool %s has %d members, want at most 1", p.Name, p.MemberCount)
		}
	}
	s2.kill(syscall.SIGTERM)
	// The database file passes SQLite's own integrity check.
	db, err := store.Open(t.Context(), filepath.Join(data, "poolctl.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.DB().QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check: %q %v", res, err)
	}
}
