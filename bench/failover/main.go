// Command failover measures failover latency: it runs a real poolctl
// server with its nameserver, many pools of two members whose agents run
// in this process, kills each pool's active agent and times kill → first
// DNS answer with the standby's address, minus the configured delay.
//
//	go run ./bench/failover --binary ./poolctl --pools 50 --delay 5s
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/agent"
)

func main() {
	var (
		binary   = flag.String("binary", "./poolctl", "poolctl binary")
		pools    = flag.Int("pools", 50, "pools, each failed over once (bounded to 200)")
		delay    = flag.Duration("delay", 5*time.Second, "failover delay of every pool")
		interval = flag.Duration("interval", 500*time.Millisecond, "agents' heartbeat interval")
	)
	flag.Parse()
	if *pools > 200 {
		*pools = 200
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := run(ctx, *binary, *pools, *delay, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "failover bench:", err)
		os.Exit(1)
	}
}

type pool struct {
	name, record     string
	addrA, addrB     string
	stopA            context.CancelFunc
	killed, switched time.Time
}

func run(ctx context.Context, binary string, n int, delay, interval time.Duration) error {
	work, err := os.MkdirTemp("", "poolctl-fobench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	data := filepath.Join(work, "server")
	srv := exec.CommandContext(ctx, binary, "server", "--data", data, "--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0", "--log-level", "warn")
	logf, _ := os.Create(filepath.Join(work, "server.log"))
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	read := func(name string) string {
		for i := 0; i < 300; i++ {
			if b, err := os.ReadFile(filepath.Join(data, name)); err == nil && len(b) > 0 {
				return strings.TrimSpace(string(b))
			}
			time.Sleep(100 * time.Millisecond)
		}
		return ""
	}
	url, dnsAddr := read("server.url"), read("dns.addr")
	token := read("admin.token")
	ca, err := os.ReadFile(filepath.Join(data, "ca.pem"))
	if err != nil || url == "" || dnsAddr == "" {
		return fmt.Errorf("server did not start: %v", err)
	}
	c, err := client.New(url, client.Options{Token: token, CAPEM: ca})
	if err != nil {
		return err
	}
	if _, err := c.CreateZone(ctx, api.ZoneCreate{Name: "fo.test"}); err != nil {
		return err
	}
	emptyRoot := filepath.Join(work, "root") // no stack to detect: agents stay light
	_ = os.MkdirAll(emptyRoot, 0o755)
	quiet := slog.New(slog.DiscardHandler)
	var (
		ps     []*pool
		agents sync.WaitGroup
	)
	defer agents.Wait()
	actx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	for i := 0; i < n; i++ {
		p := &pool{name: fmt.Sprintf("p%03d", i), record: fmt.Sprintf("p%03d.fo.test", i),
			addrA: fmt.Sprintf("192.0.2.%d", i%250+1), addrB: fmt.Sprintf("198.51.100.%d", i%250+1)}
		if _, err := c.CreatePool(ctx, api.PoolCreate{Name: p.name, FailoverRecord: p.record, FailoverDelay: api.Duration(delay),
			TTL: 5, HeartbeatTimeout: api.Duration(3 * time.Second)}); err != nil {
			return err
		}
		for j, m := range []struct{ name, addr string }{{"a", p.addrA}, {"b", p.addrB}} {
			added, err := c.AddMember(ctx, p.name, api.MemberCreate{Name: m.name, Address: m.addr, Priority: 10 * (j + 1)})
			if err != nil {
				return err
			}
			dir := filepath.Join(work, p.name+"-"+m.name)
			if _, err := agent.Enroll(ctx, agent.EnrollOptions{Server: url, Secret: added.EnrollmentSecret, DataDir: dir, Version: "bench"}); err != nil {
				return err
			}
			mctx, stop := context.WithCancel(actx)
			if j == 0 {
				p.stopA = stop
			} else {
				defer stop()
			}
			agents.Add(1)
			go func() {
				defer agents.Done()
				_ = agent.Run(mctx, agent.Config{DataDir: dir, HeartbeatInterval: interval, Root: emptyRoot, Logger: quiet, Version: "bench"})
			}()
			if j == 0 {
				ps = append(ps, p)
				// Let a become active before b exists, so a is the one to fail.
				if err := waitAnswer(ctx, dnsAddr, p.record, p.addrA, 30*time.Second); err != nil {
					return fmt.Errorf("%s never pointed at a: %w", p.name, err)
				}
			}
		}
	}
	fmt.Printf("%d pools active; letting the standbys settle\n", n)
	time.Sleep(12 * time.Second)

	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func(p *pool) {
			defer wg.Done()
			p.killed = time.Now()
			p.stopA()
			if err := waitAnswer(ctx, dnsAddr, p.record, p.addrB, delay+60*time.Second); err == nil {
				p.switched = time.Now()
			}
		}(p)
		time.Sleep(100 * time.Millisecond) // staggered, like real failures
	}
	wg.Wait()
	var extra []time.Duration
	failed := 0
	for _, p := range ps {
		if p.switched.IsZero() {
			failed++
			evs, _ := c.Events(ctx, client.EventQuery{Pool: p.name})
			fmt.Printf("pool %s did not switch; its events:\n", p.name)
			for _, e := range evs {
				fmt.Printf("  %s %s %s\n", e.Time.Format("15:04:05.000"), e.Kind, e.Message)
			}
			continue
		}
		extra = append(extra, p.switched.Sub(p.killed)-delay)
	}
	if len(extra) == 0 {
		return fmt.Errorf("no pool failed over; see %s", filepath.Join(work, "server.log"))
	}
	slices.Sort(extra)
	q := func(f float64) time.Duration { return extra[int(f*float64(len(extra)-1))].Round(time.Millisecond) }
	fmt.Printf("failovers: %d measured, %d did not switch within delay+60s\n", len(extra), failed)
	fmt.Printf("kill -> new DNS answer, minus the %s delay (agents beat every %s):\n", delay, interval)
	fmt.Printf("  min %s  median %s  p90 %s  max %s\n", q(0), q(0.5), q(0.9), q(1))
	return nil
}

// waitAnswer polls the nameserver until name resolves to want.
func waitAnswer(ctx context.Context, server, name, want string, max time.Duration) error {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		addrs, err := r.LookupHost(qctx, name)
		cancel()
		if err == nil && len(addrs) == 1 && addrs[0] == want {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not resolve to %s within %s", name, want, max)
}
