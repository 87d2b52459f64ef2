package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
	"github.com/poolctl/poolctl/internal/agent"
	"github.com/poolctl/poolctl/internal/store"
)

func newDemoCmd(g *globals) *cobra.Command {
	var (
		keep    bool
		pause   time.Duration
		dnsAddr string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a live local pool: server, DNS, two agents, then watch a failover happen",
		Long: `demo starts a server in a temporary data directory with its nameserver, a zone demo.test and
a pool "demo" whose record www.demo.test follows the active member. Two agents run in this
process, each with a probe target it serves itself. After a short pause the active member's
service and agent stop; the demo prints what happens (detection, confirmation by the
probes, the cut, the new DNS answer) and keeps running until Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), g.stdout, demoOptions{keep: keep, pause: pause, dnsListen: dnsAddr})
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary data directory")
	cmd.Flags().DurationVar(&pause, "pause", 15*time.Second, "how long both members run before the active one dies")
	cmd.Flags().StringVar(&dnsAddr, "dns-listen", "127.0.0.1:0", "nameserver address")
	return cmd
}

type demoOptions struct {
	keep      bool
	pause     time.Duration
	dnsListen string
	// stopAfterCut ends the demo once the record moved (for tests).
	stopAfterCut bool
}

// demoMember is one simulated server: a probe target and an agent.
type demoMember struct {
	name, address string
	ln            net.Listener
	stopAgent     context.CancelFunc
	agentDone     chan struct{}
}

func runDemo(ctx context.Context, out io.Writer, o demoOptions) error {
	data, err := os.MkdirTemp("", "poolctl-demo-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(data)
	}
	var sayMu sync.Mutex // the event stream narrates too
	say := func(format string, args ...any) {
		sayMu.Lock()
		defer sayMu.Unlock()
		fmt.Fprintf(out, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan *RunningServer, 1)
	srvErr := make(chan error, 1)
	logf, err := os.Create(filepath.Join(data, "server.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	go func() {
		srvErr <- RunServer(ctx, ServerOptions{Data: data, Listen: "127.0.0.1:0", DNS: DNSOptions{Listen: o.dnsListen},
			LogLevel: "info", Ready: func(rs *RunningServer) { ready <- rs }}, logf)
	}()
	var rs *RunningServer
	select {
	case rs = <-ready:
	case err := <-srvErr:
		return fmt.Errorf("demo server: %w", err)
	}
	caPEM, err := os.ReadFile(rs.CAFile)
	if err != nil {
		return err
	}
	c, err := client.New(rs.URL, client.Options{Token: rs.AdminToken, CAPEM: caPEM})
	if err != nil {
		return err
	}
	say("server %s (data %s, log server.log)", rs.URL, data)
	say("nameserver %s", rs.DNSAddr)

	if _, err := c.CreateZone(ctx, api.ZoneCreate{Name: "demo.test"}); err != nil {
		return err
	}
	if _, err := c.CreatePool(ctx, api.PoolCreate{Name: "demo", FailoverRecord: "www.demo.test", FailoverDelay: api.Duration(5 * time.Second),
		TTL: 5, HeartbeatTimeout: api.Duration(4 * time.Second)}); err != nil {
		return err
	}
	lookup := demoResolver(rs.DNSAddr)
	answer := func() string {
		lctx, lcancel := context.WithTimeout(ctx, time.Second)
		defer lcancel()
		addrs, err := lookup.LookupHost(lctx, "www.demo.test")
		if err != nil {
			return "(" + err.Error() + ")"
		}
		return strings.Join(addrs, ",")
	}
	members := []*demoMember{{name: "node1", address: "192.0.2.10"}, {name: "node2", address: "192.0.2.20"}}
	var wg sync.WaitGroup
	defer func() {
		cancel()
		for _, m := range members {
			if m.ln != nil {
				m.ln.Close()
			}
		}
		wg.Wait()
		<-srvErr // the server flushes and stops
	}()
	for i, m := range members {
		if m.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return err
		}
		wg.Add(1)
		go func(ln net.Listener) {
			defer wg.Done()
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				conn.Close()
			}
		}(m.ln)
		added, err := c.AddMember(ctx, "demo", api.MemberCreate{Name: m.name, Address: m.address, AllowedCIDRs: []string{"127.0.0.1/32"},
			ProbeURL: "tcp://" + m.ln.Addr().String(), Priority: 10 * (i + 1)})
		if err != nil {
			return err
		}
		dir := filepath.Join(data, "agent-"+m.name)
		if _, err := agent.Enroll(ctx, agent.EnrollOptions{Server: rs.URL, Secret: added.EnrollmentSecret, DataDir: dir, Hostname: m.name, Version: Version}); err != nil {
			return fmt.Errorf("enrol %s: %w", m.name, err)
		}
		actx, stop := context.WithCancel(ctx)
		m.stopAgent, m.agentDone = stop, make(chan struct{})
		wg.Add(1)
		go func(m *demoMember) {
			defer wg.Done()
			defer close(m.agentDone)
			_ = agent.Run(actx, agent.Config{DataDir: dir, HeartbeatInterval: time.Second, Version: Version, Logger: discardLogger()})
		}(m)
		say("member %s (%s) enrolled; its service listens on %s", m.name, m.address, m.ln.Addr())
		if i == 0 {
			// node1 becomes active before node2 starts, so it is the one to die.
			deadline := time.Now().Add(30 * time.Second)
			for answer() != m.address && time.Now().Before(deadline) {
				if !sleepCtx(ctx, 200*time.Millisecond) {
					return nil
				}
			}
		}
	}
	host, port, _ := net.SplitHostPort(rs.DNSAddr)
	say("watch the record in another terminal:")
	fmt.Fprintf(out, "\n    watch -n1 dig +short @%s -p %s www.demo.test\n\n", host, port)
	fmt.Fprintf(out, "    export POOLCTL_URL=%s POOLCTL_TOKEN=%s POOLCTL_CA=%s\n    poolctl member list demo; poolctl events --pool demo --follow\n\n", rs.URL, rs.AdminToken, rs.CAFile)

	// Stream the pool's events.
	wg.Add(1)
	go func() {
		defer wg.Done()
		var after int64
		for ctx.Err() == nil {
			evs, err := rs.Fleet.Events(ctx, store.EventFilter{Pool: "demo", After: after}, 10*time.Second)
			if err != nil {
				return
			}
			for _, e := range evs {
				after = e.ID
				if strings.HasPrefix(e.Kind, "job.") {
					continue
				}
				say("event %-22s %s", e.Kind, e.Message)
			}
		}
	}()

	if a := answer(); a != members[0].address {
		return fmt.Errorf("www.demo.test answers %s, not node1's %s: see %s", a, members[0].address, filepath.Join(data, "server.log"))
	}
	say("www.demo.test -> %s (node1 is active)", members[0].address)
	say("both members run for %s so the standby settles...", o.pause)
	if !sleepCtx(ctx, o.pause) {
		return nil
	}
	victim := members[0]
	say(">>> node1 dies: its service and its agent stop now")
	died := time.Now()
	victim.ln.Close()
	victim.stopAgent()
	<-victim.agentDone
	last := answer()
	for ctx.Err() == nil {
		if a := answer(); a != last {
			say("DNS answer changed: www.demo.test -> %s, %s after node1 died (delay 5 s)", a, time.Since(died).Round(100*time.Millisecond))
			last = a
			if o.stopAfterCut {
				return nil
			}
		}
		if time.Since(died) > 60*time.Second && last == victim.address {
			say("the record has not moved after 60 s: see %s", filepath.Join(data, "server.log"))
			if o.stopAfterCut {
				return fmt.Errorf("no failover within 60 s")
			}
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			break
		}
	}
	say("stopping")
	return nil
}

func demoResolver(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
