// Command clusterlatency measures how long a record change takes to be
// answered by every nameserver of a DNS cluster, next to BIND 9 doing the
// same job the classic way.
//
//   - poolctl: a `poolctl server` (the primary, where the change is made
//     through the API) with two `poolctl dns-node`s as write-only members
//     of its DNS cluster: three nameservers.
//   - BIND: a primary `named` that takes the same change as a dynamic
//     UPDATE (RFC 2136) and two secondary `named`s that it NOTIFYs
//     (notify-delay 0) and that pull the change by IXFR.
//
// Every change adds a new name; the clock starts just before the API call
// (or the UPDATE is sent) and each nameserver is polled over UDP every
// --poll (1 ms) until it answers with the new address. The figure that
// matters is the time until the last member answers. It prints, per side,
// the median, p90 and p99 to the primary and to the last member, and the
// ratio of the medians to the last member.
//
//	go build -o poolctl ./cmd/poolctl
//	go run ./bench/clusterlatency --binary ./poolctl --changes 200
//
// Everything runs on 127.0.0.1; the processes started here are stopped on
// exit. ./bench/clusterlatency.sh builds both and runs it.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/bench/internal/dnsq"
	"github.com/poolctl/poolctl/bench/internal/pnode"
	procs "github.com/poolctl/poolctl/bench/internal/proc"
)

const zoneName = "lat.test"

type options struct {
	binary, named string
	changes       int
	warmup        int
	poll          time.Duration
	perChange     time.Duration
	gap           time.Duration
	total         time.Duration
	catchup       int
	profile       string
	keep, verbose bool
}

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "./poolctl", "poolctl binary")
	flag.StringVar(&o.named, "named", "named", "BIND 9 named binary")
	flag.IntVar(&o.changes, "changes", 200, "measured changes (1..1000)")
	flag.IntVar(&o.warmup, "warmup", 3, "unmeasured changes first")
	flag.DurationVar(&o.poll, "poll", time.Millisecond, "query interval while waiting for a change")
	flag.DurationVar(&o.perChange, "change-timeout", 5*time.Second, "give up on one change after this")
	flag.DurationVar(&o.gap, "gap", 20*time.Millisecond, "pause between changes")
	flag.DurationVar(&o.total, "timeout", 6*time.Minute, "bound on the whole run")
	flag.IntVar(&o.catchup, "catchup", 1000, "changes a killed poolctl member misses before its restart, timed until it is current (0: skip)")
	flag.StringVar(&o.profile, "server-profile", "", "write a CPU profile of the poolctl server's run to this file")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (logs, configs)")
	flag.BoolVar(&o.verbose, "v", false, "print every change's timings")
	flag.Parse()
	if o.changes < 1 || o.changes > 1000 || o.warmup < 0 || o.poll <= 0 || o.perChange <= 0 {
		fmt.Fprintln(os.Stderr, "clusterlatency: --changes must be 1..1000, --poll and --change-timeout positive")
		os.Exit(2)
	}
	procs.Main("clusterlatency", o.total, func(ctx context.Context) error { return run(ctx, o) })
}

// side is one way of running three nameservers: its primary takes the
// change, and addrs are every nameserver (the primary first).
type side struct {
	name   string
	addrs  []string
	change func(ctx context.Context, label string, ip net.IP) error
	stop   func()
	// kill and restart the last member (poolctl only: the catch-up run).
	kill, restart func() error
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "poolctl-clusterlatency-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	pc, err := startPoolctl(ctx, o, filepath.Join(dir, "poolctl"))
	if err != nil {
		return fmt.Errorf("poolctl: %w", err)
	}
	defer pc.stop()
	bind, err := startBIND(ctx, o, filepath.Join(dir, "bind"))
	if err != nil {
		return fmt.Errorf("BIND: %w", err)
	}
	defer bind.stop()
	fmt.Printf("poolctl: server %s, dns-nodes %s; BIND %s: primary %s, secondaries %s\n",
		pc.addrs[0], strings.Join(pc.addrs[1:], ", "), bindVersion(o.named), bind.addrs[0], strings.Join(bind.addrs[1:], ", "))

	res := map[string][][]time.Duration{}
	// The two sides take turns, change by change, so that both meet the
	// same load on the machine.
	for i := 0; i < o.warmup+o.changes; i++ {
		for _, s := range []*side{pc, bind} {
			if ctx.Err() != nil {
				return fmt.Errorf("run bound reached after %d changes: %w", i, ctx.Err())
			}
			ds, err := measure(ctx, o, s, i)
			if err != nil {
				return fmt.Errorf("%s change %d: %w", s.name, i, err)
			}
			if i >= o.warmup {
				res[s.name] = append(res[s.name], ds)
			}
			if o.verbose {
				fmt.Fprintf(os.Stderr, "%-7s change %3d: %s\n", s.name, i, joinMS(ds))
			}
			time.Sleep(o.gap)
		}
	}
	report(res, o)
	if o.catchup > 0 {
		return catchUp(ctx, o, pc)
	}
	return nil
}

// catchUp kills the last member with SIGKILL, makes o.catchup changes,
// restarts it and times until it answers the last one.
func catchUp(ctx context.Context, o options, s *side) error {
	if err := s.kill(); err != nil {
		return err
	}
	var lastLabel string
	var lastIP net.IP
	t0 := time.Now()
	for i := 0; i < o.catchup; i++ {
		lastLabel, lastIP = fmt.Sprintf("m%d", i), net.IPv4(203, 0, byte(113+i/250%2), byte(i%250+1)).To4()
		if err := s.change(ctx, lastLabel, lastIP); err != nil {
			return fmt.Errorf("catch-up change %d: %w", i, err)
		}
	}
	made := time.Since(t0)
	back := time.Now()
	if err := s.restart(); err != nil {
		return err
	}
	addr := s.addrs[len(s.addrs)-1]
	// Up as a nameserver first (its SOA), then current (the last change).
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	upAt, _, err := dnsq.WaitFor(wctx, addr, zoneName, dnsq.TypeSOA, o.poll, func([]byte) bool { return true })
	if err != nil {
		return fmt.Errorf("the restarted member does not answer: %w", err)
	}
	at, _, err := dnsq.WaitFor(wctx, addr, lastLabel+"."+zoneName, dnsq.TypeA, o.poll, func(rd []byte) bool { return bytes.Equal(rd, lastIP) })
	if err != nil {
		return fmt.Errorf("the restarted member never caught up: %w", err)
	}
	fmt.Printf("catch-up: a member killed with -9 missed %d changes (made in %s); restarted, it answered DNS %s after its start and was current %s after that (%s after its start)\n",
		o.catchup, made.Round(time.Millisecond), dnsq.MS(upAt.Sub(back)), dnsq.MS(at.Sub(upAt)), dnsq.MS(at.Sub(back)))
	return nil
}

// measure makes change i on s and returns, per nameserver, when it
// answered it (-1: not within the change timeout).
func measure(ctx context.Context, o options, s *side, i int) ([]time.Duration, error) {
	label := fmt.Sprintf("c%d", i)
	ip := net.IPv4(198, 51, byte(i/250), byte(i%250+1)).To4()
	fqdn := label + "." + zoneName
	cctx, cancel := context.WithTimeout(ctx, o.perChange)
	defer cancel()
	want := func(rd []byte) bool { return bytes.Equal(rd, ip) }
	type seen struct {
		at  time.Time
		err error
	}
	chans := make([]chan seen, len(s.addrs))
	for k, addr := range s.addrs {
		chans[k] = make(chan seen, 1)
		go func() {
			at, _, err := dnsq.WaitFor(cctx, addr, fqdn, dnsq.TypeA, o.poll, want)
			chans[k] <- seen{at, err}
		}()
	}
	t0 := time.Now()
	if err := s.change(cctx, label, ip); err != nil {
		cancel()
		for _, c := range chans {
			<-c
		}
		return nil, err
	}
	out := make([]time.Duration, len(chans))
	for k, c := range chans {
		r := <-c
		out[k] = -1
		if r.err == nil {
			out[k] = r.at.Sub(t0)
		}
	}
	return out, nil
}

func joinMS(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = dnsq.MS(d)
	}
	return strings.Join(parts, " ")
}

func report(res map[string][][]time.Duration, o options) {
	last := map[string]time.Duration{}
	for _, name := range []string{"poolctl", "BIND"} {
		var primary, lastMember []time.Duration
		missed := 0
		for _, ds := range res[name] {
			if ds[0] >= 0 {
				primary = append(primary, ds[0])
			}
			l := time.Duration(0)
			for _, d := range ds {
				if d < 0 {
					l = -1
					break
				}
				l = max(l, d)
			}
			if l < 0 {
				missed++
				continue
			}
			lastMember = append(lastMember, l)
		}
		slices.Sort(primary)
		slices.Sort(lastMember)
		last[name] = dnsq.Pct(lastMember, 0.5)
		fmt.Printf("%-7s %d changes, %d not answered everywhere within %s\n", name, len(res[name]), missed, o.perChange)
		fmt.Printf("        primary:     median %s  p90 %s  p99 %s\n", dnsq.MS(dnsq.Pct(primary, 0.5)), dnsq.MS(dnsq.Pct(primary, 0.9)), dnsq.MS(dnsq.Pct(primary, 0.99)))
		fmt.Printf("        last member: median %s  p90 %s  p99 %s  max %s\n", dnsq.MS(dnsq.Pct(lastMember, 0.5)), dnsq.MS(dnsq.Pct(lastMember, 0.9)),
			dnsq.MS(dnsq.Pct(lastMember, 0.99)), dnsq.MS(dnsq.Pct(lastMember, 1)))
	}
	if b := last["BIND"]; b > 0 {
		fmt.Printf("ratio poolctl/BIND, median to the last member: %.2f\n", float64(last["poolctl"])/float64(b))
	}
}

// --- poolctl: a server and two dns-nodes --------------------------------------

func startPoolctl(ctx context.Context, o options, dir string) (*side, error) {
	var started []*procs.Proc
	stop := func() {
		for _, p := range started {
			p.Stop(5 * time.Second)
		}
	}
	fail := func(err error) (*side, error) { stop(); return nil, err }
	var last *procs.Proc
	startOne := func(name, sub, listen, dnsListen string, env ...string) (pnode.Node, error) {
		n, err := pnode.Start(ctx, o.binary, dir, name, sub, listen, dnsListen, env...)
		if n.P != nil {
			started = append(started, n.P)
			last = n.P
		}
		return n, err
	}
	var env []string
	if o.profile != "" {
		env = append(env, "POOLCTL_CPUPROFILE="+o.profile)
	}
	primary, err := startOne("server", "server", "127.0.0.1:0", "127.0.0.1:0", env...)
	if err != nil {
		return fail(err)
	}
	s := &side{name: "poolctl", addrs: []string{primary.DNS}, stop: stop}
	var lastNodeURL string
	for i := 1; i <= 2; i++ {
		n, err := startOne(fmt.Sprintf("node%d", i), "dns-node", "127.0.0.1:0", "127.0.0.1:0")
		if err != nil {
			return fail(err)
		}
		tok, err := n.C.CreateToken(ctx, api.TokenCreate{Name: "server", Scope: "cluster"})
		if err != nil {
			return fail(err)
		}
		if _, err := primary.C.AddClusterMember(ctx, api.ClusterMemberCreate{Host: fmt.Sprintf("ns%d.lat.test", i+1), URL: n.URL,
			Token: tok.Secret, CA: string(n.CA), Role: api.ClusterRoleWriteOnly}); err != nil {
			return fail(err)
		}
		s.addrs = append(s.addrs, n.DNS)
		lastNodeURL = n.URL
	}
	on := true
	if _, err := primary.C.UpdateDNSCluster(ctx, api.ClusterSettingsUpdate{Enabled: &on}); err != nil {
		return fail(err)
	}
	if _, err := primary.C.CreateZone(ctx, api.ZoneCreate{Name: zoneName}); err != nil {
		return fail(err)
	}
	if err := serving(ctx, s.addrs); err != nil {
		return fail(err)
	}
	s.change = func(ctx context.Context, label string, ip net.IP) error {
		_, err := primary.C.AddRecord(ctx, zoneName, api.RecordCreate{Name: label, Type: "A", TTL: 300, Value: ip.String()})
		return err
	}
	lastNode := last
	s.kill = func() error {
		lastNode.Kill()
		return nil
	}
	s.restart = func() error {
		_, err := startOne("node2", "dns-node", strings.TrimPrefix(lastNodeURL, "https://"), s.addrs[len(s.addrs)-1])
		return err
	}
	return s, nil
}

// serving waits until every nameserver answers the zone's SOA.
func serving(ctx context.Context, addrs []string) error {
	for _, a := range addrs {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, _, err := dnsq.WaitFor(wctx, a, zoneName, dnsq.TypeSOA, 50*time.Millisecond, func([]byte) bool { return true })
		cancel()
		if err != nil {
			return fmt.Errorf("%s does not serve %s: %w", a, zoneName, err)
		}
	}
	return nil
}

// --- BIND: a primary taking dynamic updates, two secondaries -----------------

const namedPrimary = `options {
	directory "{{.Dir}}";
	pid-file "{{.Dir}}/named.pid";
	session-keyfile "{{.Dir}}/session.key";
	listen-on port {{.Port}} { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify explicit;
	notify-delay 0;
	notify-rate 1000;
	also-notify { {{range .Secondaries}}127.0.0.1 port {{.}}; {{end}}};
	allow-transfer { 127.0.0.1; };
};
controls { };
zone "{{.Zone}}" {
	type primary;
	file "{{.Dir}}/{{.Zone}}.zone";
	allow-update { 127.0.0.1; };
};
`

const namedSecondary = `options {
	directory "{{.Dir}}";
	pid-file "{{.Dir}}/named.pid";
	session-keyfile "{{.Dir}}/session.key";
	listen-on port {{.Port}} { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify no;
	serial-query-rate 1000;
	allow-notify { 127.0.0.1; };
};
controls { };
zone "{{.Zone}}" {
	type secondary;
	file "{{.Dir}}/{{.Zone}}.zone";
	primaries { 127.0.0.1 port {{.Primary}}; };
};
`

const zoneFile = `$ORIGIN lat.test.
$TTL 300
@ IN SOA ns1.lat.test. hostmaster.lat.test. 1 3600 600 1209600 300
@ IN NS ns1.lat.test.
ns1 IN A 127.0.0.1
`

func startBIND(ctx context.Context, o options, dir string) (*side, error) {
	var started []*procs.Proc
	stop := func() {
		for _, p := range started {
			p.Stop(5 * time.Second)
		}
	}
	fail := func(err error) (*side, error) { stop(); return nil, err }
	ports := make([]int, 3)
	for i := range ports {
		p, err := dnsq.FreePort()
		if err != nil {
			return fail(err)
		}
		ports[i] = p
	}
	write := func(name, conf string, data map[string]any) (string, error) {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		data["Dir"], data["Zone"] = d, zoneName
		var b bytes.Buffer
		if err := template.Must(template.New(name).Parse(conf)).Execute(&b, data); err != nil {
			return "", err
		}
		path := filepath.Join(d, "named.conf")
		return path, os.WriteFile(path, b.Bytes(), 0o644)
	}
	pconf, err := write("primary", namedPrimary, map[string]any{"Port": ports[0], "Secondaries": ports[1:]})
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "primary", zoneName+".zone"), []byte(zoneFile), 0o644); err != nil {
		return fail(err)
	}
	confs := []string{pconf}
	for i := 1; i <= 2; i++ {
		c, err := write(fmt.Sprintf("secondary%d", i), namedSecondary, map[string]any{"Port": ports[i], "Primary": ports[0]})
		if err != nil {
			return fail(err)
		}
		confs = append(confs, c)
	}
	s := &side{name: "BIND", stop: stop}
	for i, c := range confs {
		// -g: foreground, logs to stderr; -n 1: one worker, as poolctl's
		// nameservers share the machine.
		p, err := procs.Start("named", filepath.Join(filepath.Dir(c), "named.log"), nil, o.named, "-g", "-n", "1", "-c", c)
		if err != nil {
			return fail(err)
		}
		started = append(started, p)
		s.addrs = append(s.addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i])))
	}
	if err := serving(ctx, s.addrs); err != nil {
		return fail(fmt.Errorf("%w (logs in %s)", err, dir))
	}
	primary := s.addrs[0]
	var id uint16
	s.change = func(ctx context.Context, label string, ip net.IP) error {
		id++
		return update(ctx, primary, id, label+"."+zoneName, ip)
	}
	return s, nil
}

// update sends a dynamic UPDATE (RFC 2136) adding name A ip to the zone and
// waits for its NOERROR answer.
func update(ctx context.Context, addr string, id uint16, name string, ip net.IP) error {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 0x28, 0, 0, 1, 0, 0, 0, 1, 0, 0) // opcode UPDATE; ZOCOUNT 1, PRCOUNT 0, UPCOUNT 1, ADCOUNT 0
	b = appendName(b, zoneName)
	b = append(b, 0, 6, 0, 1) // SOA IN
	b = appendName(b, name)
	b = append(b, 0, 1, 0, 1)                 // A IN
	b = binary.BigEndian.AppendUint32(b, 300) // TTL
	b = append(b, 0, 4)
	b = append(b, ip.To4()...)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(b); err != nil {
		return err
	}
	buf := make([]byte, 512)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		if n >= 4 && binary.BigEndian.Uint16(buf) == id {
			if rc := buf[3] & 0x0F; rc != 0 {
				return fmt.Errorf("UPDATE refused: rcode %d", rc)
			}
			return nil
		}
	}
}

func appendName(b []byte, name string) []byte {
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	return append(b, 0)
}

func bindVersion(bin string) string {
	out, err := exec.Command(bin, "-v").Output()
	if err != nil {
		return "named"
	}
	return strings.TrimSpace(string(out))
}
