package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// dig asks the server's nameserver with the real dig and returns the
// addresses it answers.
func dig(t *testing.T, addr, name string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("dig", "+short", "+norec", "+time=1", "+tries=1", "@"+host, "-p", port, name, "A").Output()
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.TrimSpace(string(out))
}

func needDig(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("dig"); err != nil {
		if os.Getenv("POOLCTL_REQUIRE_PEERS") != "" {
			t.Fatal("dig is required (bind9-dnsutils)")
		}
		t.Skip("dig not installed")
	}
}

func dnsAddr(t *testing.T, s *server) string {
	t.Helper()
	var addr string
	waitFor(t, 30*time.Second, "dns.addr", func() bool {
		b, err := os.ReadFile(filepath.Join(s.data, "dns.addr"))
		addr = strings.TrimSpace(string(b))
		return err == nil && addr != ""
	})
	return addr
}

// service is a TCP listener standing in for a member's web service.
type service struct {
	ln   net.Listener
	wg   sync.WaitGroup
	once sync.Once
}

func startService(t *testing.T) *service {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &service{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *service) url() string { return "tcp://" + s.ln.Addr().String() }

func (s *service) stop() { s.once.Do(func() { s.ln.Close(); s.wg.Wait() }) }

// failoverPool starts a server with DNS, a zone and a pool whose record
// follows the active member, and enrols node1 (preferred) then node2.
func failoverPool(t *testing.T, delay string, probes [2]string) (*server, string, [2]*proc) {
	needDig(t)
	s := startServer(t, t.TempDir(), "--dns-listen", "127.0.0.1:0")
	dns := dnsAddr(t, s)
	cli(t, s.env(), "zone", "create", "fail.test")
	cli(t, s.env(), "pool", "create", "web", "--failover-record", "www.fail.test", "--failover-delay", delay, "--ttl", "5", "--heartbeat-timeout", "3s")
	var agents [2]*proc
	for i, name := range []string{"node1", "node2"} {
		var added api.MemberAdded
		args := []string{"member", "add", "web", name, "--address", "203.0.113." + string(rune('1'+i)), "--allow-ip", "127.0.0.1", "--priority", string(rune('1' + i))}
		if probes[i] != "" {
			args = append(args, "--probe", probes[i])
		}
		cliJSON(t, s.env(), &added, args...)
		dir := filepath.Join(t.TempDir(), name)
		cli(t, nil, "agent", "enroll", "--server", s.url, "--secret", added.EnrollmentSecret, "--data", dir)
		agents[i] = start(t, nil, "agent", "--data", dir, "--heartbeat-interval", "500ms")
		if i == 0 {
			waitFor(t, 30*time.Second, "www.fail.test -> node1", func() bool { return dig(t, dns, "www.fail.test") == "203.0.113.1" })
		}
	}
	// The standby must be settled (healthy for 10 s) before it can take over.
	waitFor(t, 30*time.Second, "node2 healthy", func() bool { return members(t, s, "web")["node2"].Status == api.StatusHealthy })
	time.Sleep(11 * time.Second)
	return s, dns, agents
}

// TestFailoverHeartbeatLoss: kill -9 the active agent (no probe): dig sees
// the standby after the delay, not before, and within delay + 3 s.
func TestFailoverHeartbeatLoss(t *testing.T) {
	const delay = 5 * time.Second
	s, dns, agents := failoverPool(t, "5s", [2]string{})
	killed := time.Now()
	agents[0].kill(syscall.SIGKILL)
	var moved time.Time
	waitFor(t, delay+10*time.Second, "record moves to node2", func() bool {
		if dig(t, dns, "www.fail.test") == "203.0.113.2" {
			moved = time.Now()
			return true
		}
		return false
	})
	took := moved.Sub(killed)
	t.Logf("record moved %s after kill -9 (delay %s)", took.Round(time.Millisecond), delay)
	// The last heartbeat came up to one interval (500 ms) before the kill.
	if took < delay-600*time.Millisecond {
		t.Fatalf("record moved after %s, before the %s delay", took, delay)
	}
	if took > delay+3*time.Second {
		t.Fatalf("record moved after %s, later than delay + 3 s", took)
	}
	var p api.Pool
	cliJSON(t, s.env(), &p, "pool", "show", "web")
	if p.ActiveMember != "node2" || p.Banner == nil || !strings.Contains(p.Banner.Message, "node2") {
		t.Fatalf("pool after failover: %+v", p)
	}
	evs := cli(t, s.env(), "events", "--pool", "web", "--kind", "failover.")
	if !strings.Contains(evs, "failover.cut") {
		t.Fatalf("no failover.cut event:\n%s", evs)
	}
	cli(t, s.env(), "pool", "ack", "web")
}

// TestFailoverWithProbes: with a probe, a silent agent whose service still
// answers the witnesses is not cut; when the service stops, it is.
func TestFailoverWithProbes(t *testing.T) {
	svc1, svc2 := startService(t), startService(t)
	s, dns, agents := failoverPool(t, "5s", [2]string{svc1.url(), svc2.url()})
	agents[0].kill(syscall.SIGKILL)
	waitFor(t, 30*time.Second, "agent_lost event", func() bool {
		return strings.Contains(cli(t, s.env(), "events", "--pool", "web", "--kind", "failover."), "failover.agent_lost")
	})
	time.Sleep(3 * time.Second)
	if got := dig(t, dns, "www.fail.test"); got != "203.0.113.1" {
		t.Fatalf("record moved while node1's service still answered: %q", got)
	}
	svc1.stop()
	stopped := time.Now()
	waitFor(t, 20*time.Second, "record moves to node2", func() bool { return dig(t, dns, "www.fail.test") == "203.0.113.2" })
	t.Logf("record moved %s after the service stopped", time.Since(stopped).Round(time.Millisecond))
	evs := cli(t, s.env(), "events", "--pool", "web", "--kind", "failover.cut", "--output", "json")
	if !strings.Contains(evs, "node2") {
		t.Fatalf("cut event lacks the observers' verdicts:\n%s", evs)
	}
}
