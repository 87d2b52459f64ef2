package e2e

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// restartPool starts a server with DNS and a pool of three real agents
// (heartbeat every 500 ms, timeout 5 s, failover delay 5 s), waits until
// node1 is active and the standbys are settled, so that any silence the
// server mistook for a failure would move the record.
func restartPool(t *testing.T) (s *server, dns string) {
	needDig(t)
	s = startServer(t, t.TempDir(), "--dns-listen", "127.0.0.1:0")
	dns = dnsAddr(t, s)
	cli(t, s.env(), "zone", "create", "restart.test")
	cli(t, s.env(), "pool", "create", "web", "--failover-record", "www.restart.test", "--failover-delay", "5s", "--ttl", "5", "--heartbeat-timeout", "5s")
	for i, name := range []string{"node1", "node2", "node3"} {
		var added api.MemberAdded
		cliJSON(t, s.env(), &added, "member", "add", "web", name, "--address", fmt.Sprintf("203.0.113.%d", i+1),
			"--allow-ip", "127.0.0.1", "--priority", fmt.Sprint(i+1))
		dir := filepath.Join(t.TempDir(), name)
		cli(t, nil, "agent", "enroll", "--server", s.url, "--secret", added.EnrollmentSecret, "--data", dir)
		start(t, nil, "agent", "--data", dir, "--heartbeat-interval", "500ms")
		if i == 0 {
			waitFor(t, 30*time.Second, "www.restart.test -> node1", func() bool { return dig(t, dns, "www.restart.test") == "203.0.113.1" })
		}
	}
	waitFor(t, 30*time.Second, "three members healthy", func() bool {
		ms := members(t, s, "web")
		return len(ms) == 3 && ms["node2"].Status == api.StatusHealthy && ms["node3"].Status == api.StatusHealthy
	})
	time.Sleep(11 * time.Second) // the standbys settle: a cut would now be possible
	return s, dns
}

// backOnline waits for the restarted server and returns how long after it
// listened every member had sent a heartbeat to it.
func backOnline(t *testing.T, s *server, ready time.Time) time.Duration {
	t.Helper()
	var took time.Duration
	waitFor(t, 30*time.Second, "every member heartbeating to the new server", func() bool {
		ms := members(t, s, "web")
		for _, m := range ms {
			if m.LastHeartbeatAt == nil || m.LastHeartbeatAt.Before(ready) {
				return false
			}
			took = max(took, m.LastHeartbeatAt.Sub(ready))
		}
		return len(ms) == 3
	})
	for _, m := range members(t, s, "web") {
		if m.Status != api.StatusHealthy {
			t.Errorf("%s is %s after the server's return, want healthy", m.Name, m.Status)
		}
	}
	return took
}

// noFalseFailover fails the test on any cut, failback or member down since
// the pool was settled, and on a record that left node1.
func noFalseFailover(t *testing.T, s *server, dns, phase string) {
	t.Helper()
	var evs api.List[api.Event]
	cliJSON(t, s.env(), &evs, "events", "--pool", "web")
	for _, e := range evs.Items {
		if e.Kind == "member.down" || e.Kind == "failover.cut" || e.Kind == "failover.confirming" || e.Kind == "failover.fail_static" {
			t.Errorf("%s: event %s at %s: %s", phase, e.Kind, e.Time.Format(time.RFC3339Nano), e.Message)
		}
	}
	if got := dig(t, dns, "www.restart.test"); got != "203.0.113.1" {
		t.Errorf("%s: www.restart.test answers %q, want node1's 203.0.113.1", phase, got)
	}
}

// restartOn starts the server again on the addresses it had.
func restartOn(t *testing.T, old *server, dns string) (*server, time.Time) {
	t.Helper()
	u, err := url.Parse(old.url)
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, old.data, "--listen", u.Host, "--dns-listen", dns)
	return s, time.Now()
}

// TestServerRestartIsNoFailure runs the real binary under three agents and
// takes the server away three ways: a graceful restart, a stop of twice the
// heartbeat timeout, and a pause of the process (SIGSTOP) of twice the
// timeout. None may move the record or mark a member down, and the agents
// must be back within about one heartbeat interval of the server's return.
func TestServerRestartIsNoFailure(t *testing.T) {
	s, dns := restartPool(t)

	// 1. A graceful restart: shutdown takes a while (long polls), and the
	// server must decide nothing while it goes away.
	s.kill(syscall.SIGTERM)
	s, ready := restartOn(t, s, dns)
	took := backOnline(t, s, ready)
	t.Logf("restart: every agent beat to the new server %s after it listened", took.Round(time.Millisecond))
	noFalseFailover(t, s, dns, "after a restart")

	// 2. The server is away for twice the heartbeat timeout.
	s.kill(syscall.SIGTERM)
	time.Sleep(10 * time.Second)
	s, ready = restartOn(t, s, dns)
	took = backOnline(t, s, ready)
	t.Logf("10 s outage: every agent beat to the new server %s after it listened", took.Round(time.Millisecond))
	// One interval (500 ms), plus the server's TLS handshakes and the
	// granularity of this test's polling.
	if took > 2*time.Second {
		t.Errorf("agents came back %s after the server, want about one heartbeat interval", took)
	}
	noFalseFailover(t, s, dns, "after a 10 s outage")

	// 3. The process is paused for twice the heartbeat timeout: when it
	// runs again it must count the pause as its own deafness.
	if err := s.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	if err := s.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	took = backOnline(t, s, resumed)
	t.Logf("10 s pause: every agent beat again %s after the process resumed", took.Round(time.Millisecond))
	time.Sleep(6 * time.Second) // longer than the failover delay after the pause
	noFalseFailover(t, s, dns, "after a 10 s pause")
	var gaps api.List[api.Event]
	cliJSON(t, s.env(), &gaps, "events", "--kind", "server.receiving")
	found := false
	for _, e := range gaps.Items {
		found = found || strings.Contains(e.Message, "paused")
	}
	if !found {
		t.Errorf("no server.receiving event for the pause: %+v", gaps.Items)
	}
}
