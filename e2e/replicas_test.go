package e2e

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/storetest"
)

// TestTwoReplicas runs two servers on one PostgreSQL database (sharing the
// CA and admin token, as an operator would behind a load balancer): exactly
// one runs the failover engine, a cut is made once, and both nameservers
// serve the new address.
func TestTwoReplicas(t *testing.T) {
	needDig(t)
	dbURL := storetest.NewPostgresDB(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startServer(t, dirA, "--database", dbURL, "--dns-listen", "127.0.0.1:0")
	for _, f := range []string{"ca.pem", "ca.key", "admin.token"} {
		b, err := os.ReadFile(filepath.Join(dirA, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirB, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := startServer(t, dirB, "--database", dbURL, "--dns-listen", "127.0.0.1:0")
	dnsA, dnsB := dnsAddr(t, a), dnsAddr(t, b)

	cli(t, a.env(), "zone", "create", "ha.test")
	cli(t, b.env(), "pool", "create", "web", "--failover-record", "www.ha.test", "--failover-delay", "5s", "--ttl", "5", "--heartbeat-timeout", "3s")
	// Agents report to replica B; the engine may run on either.
	n1 := enrolAgent(t, b, "web", "node1", "192.0.2.1")
	waitFor(t, 30*time.Second, "both nameservers answer node1", func() bool {
		return dig(t, dnsA, "www.ha.test") == "192.0.2.1" && dig(t, dnsB, "www.ha.test") == "192.0.2.1"
	})
	enrolAgent(t, b, "web", "node2", "192.0.2.2")
	waitFor(t, 30*time.Second, "node2 healthy", func() bool { return members(t, b, "web")["node2"].Status == api.StatusHealthy })
	time.Sleep(11 * time.Second) // the standby settles

	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var holders int
	if err := db.QueryRow(`SELECT COUNT(*) FROM leases WHERE name = 'failover' AND expires_at > $1`, time.Now().UnixMilli()).Scan(&holders); err != nil || holders != 1 {
		t.Fatalf("live failover leases: %d, %v; want exactly 1", holders, err)
	}

	n1.kill(syscall.SIGKILL)
	waitFor(t, 30*time.Second, "both nameservers answer node2", func() bool {
		return dig(t, dnsA, "www.ha.test") == "192.0.2.2" && dig(t, dnsB, "www.ha.test") == "192.0.2.2"
	})
	time.Sleep(3 * time.Second)
	evs := cli(t, a.env(), "events", "--pool", "web", "--kind", "failover.cut")
	if n := strings.Count(evs, "failover.cut"); n != 1 {
		t.Fatalf("got %d failover.cut events, want exactly 1:\n%s", n, evs)
	}
}
