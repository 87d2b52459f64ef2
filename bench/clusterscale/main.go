// Command clusterscale measures the DNS cluster at scale: --zones zones of
// --records records each (10,000 × 100 = 1 M records by default).
//
//  1. The zones are made on a `poolctl server` through its API (zone import,
//     --parallel at a time).
//
//  2. A new `poolctl dns-node` joins the server's DNS cluster as a
//     write-only member: the time until it answers the last zone is the full
//     resync of a new member.
//
//  3. The dns-node is restarted: its start-up time (until it answers the
//     last zone) and its resident memory then, next to NSD loading the same
//     zones from zone files (its start-up until it answers the last zone,
//     and the resident memory of all its processes).
//
//     go build -o poolctl ./cmd/poolctl
//     go run ./bench/clusterscale --binary ./poolctl --zones 10000 --records 100
//
// Everything runs on 127.0.0.1; the processes started here are stopped on
// exit. ./bench/clusterscale.sh builds both and runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/bench/internal/dnsq"
	"github.com/poolctl/poolctl/bench/internal/pnode"
	procs "github.com/poolctl/poolctl/bench/internal/proc"
	"github.com/poolctl/poolctl/client"
)

type options struct {
	binary, nsd    string
	zones, records int
	parallel       int
	total          time.Duration
	keep           bool
	profile        string
}

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "./poolctl", "poolctl binary")
	flag.StringVar(&o.nsd, "nsd", "nsd", "NSD binary")
	flag.IntVar(&o.zones, "zones", 10000, "zones (1..100000)")
	flag.IntVar(&o.records, "records", 100, "records per zone (3..10000)")
	flag.IntVar(&o.parallel, "parallel", 4, "zone imports at a time")
	flag.DurationVar(&o.total, "timeout", 40*time.Minute, "bound on the whole run")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory")
	flag.StringVar(&o.profile, "node-profile", "", "write a CPU profile of the restarted dns-node's run to this file")
	flag.Parse()
	if o.zones < 1 || o.zones > 100000 || o.records < 3 || o.records > 10000 || o.parallel < 1 || o.parallel > 64 {
		fmt.Fprintln(os.Stderr, "clusterscale: --zones 1..100000, --records 3..10000, --parallel 1..64")
		os.Exit(2)
	}
	procs.Main("clusterscale", o.total, func(ctx context.Context) error { return run(ctx, o) })
}

func zoneName(i int) string { return fmt.Sprintf("z%05d.test", i) }

// zoneText is zone i as a zone file: SOA, NS and records-2 A records.
func zoneText(i, records int) string {
	var b strings.Builder
	name := zoneName(i)
	fmt.Fprintf(&b, "$ORIGIN %s.\n$TTL 3600\n@ IN SOA ns1.%s. hostmaster.%s. 1 3600 600 1209600 300\n@ IN NS ns1.%s.\n", name, name, name, name)
	for r := 0; r < records-2; r++ {
		fmt.Fprintf(&b, "h%d IN A 10.%d.%d.%d\n", r, (r/65536)%256, (r/256)%256, r%256)
	}
	return b.String()
}

// answers waits until addr serves zone's SOA.
func answers(ctx context.Context, addr, zone string, max time.Duration) (time.Time, error) {
	wctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	at, _, err := dnsq.WaitFor(wctx, addr, zone, dnsq.TypeSOA, 5*time.Millisecond, func([]byte) bool { return true })
	return at, err
}

// rssKB is the resident memory of pid and its children, from /proc.
func rssKB(pid int) int {
	total := 0
	pids := []int{pid}
	if out, err := exec.Command("pgrep", "-P", strconv.Itoa(pid)).Output(); err == nil {
		for _, f := range strings.Fields(string(out)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
	}
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				n, _ := strconv.Atoi(f[1])
				total += n
			}
		}
	}
	return total
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "poolctl-clusterscale-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	last := zoneName(o.zones - 1)
	fmt.Printf("%d zones × %d records = %d records\n", o.zones, o.records, o.zones*o.records)

	// NSD first, from zone files.
	nsdStart, nsdRSS, err := runNSD(ctx, o, filepath.Join(dir, "nsd"), last)
	if err != nil {
		return fmt.Errorf("NSD: %w", err)
	}
	fmt.Printf("NSD: start-up %s, resident memory %d MiB\n", nsdStart.Round(time.Millisecond), nsdRSS/1024)

	srv, err := pnode.Start(ctx, o.binary, dir, "server", "server", "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer srv.P.Stop(10 * time.Second)
	t0 := time.Now()
	if err := importAll(ctx, o, srv.C); err != nil {
		return err
	}
	fmt.Printf("poolctl: %d zones imported through the API in %s\n", o.zones, time.Since(t0).Round(time.Millisecond))

	dn, err := pnode.Start(ctx, o.binary, dir, "node", "dns-node", "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		return err
	}
	tok, err := dn.C.CreateToken(ctx, api.TokenCreate{Name: "server", Scope: "cluster"})
	if err != nil {
		return err
	}
	if _, err := srv.C.AddClusterMember(ctx, api.ClusterMemberCreate{Host: "ns2.scale.test", URL: dn.URL, Token: tok.Secret, CA: string(dn.CA), Role: api.ClusterRoleWriteOnly}); err != nil {
		return err
	}
	on := true
	t0 = time.Now()
	if _, err := srv.C.UpdateDNSCluster(ctx, api.ClusterSettingsUpdate{Enabled: &on}); err != nil {
		return err
	}
	if err := allThere(ctx, dn, o.zones, 30*time.Minute); err != nil {
		return fmt.Errorf("resync of the new member: %w", err)
	}
	resync := time.Since(t0)
	fmt.Printf("poolctl: a new member's full resync (%d zones) took %s (%.0f zones/s)\n", o.zones, resync.Round(time.Millisecond), float64(o.zones)/resync.Seconds())

	// Restart the dns-node: start-up and memory, next to NSD.
	listen := strings.TrimPrefix(dn.URL, "https://")
	dn.P.Stop(10 * time.Second)
	t0 = time.Now()
	var env []string
	if o.profile != "" {
		env = append(env, "POOLCTL_CPUPROFILE="+o.profile)
	}
	dn, err = pnode.Start(ctx, o.binary, dir, "node", "dns-node", listen, dn.DNS, env...)
	if err != nil {
		return err
	}
	defer dn.P.Stop(10 * time.Second)
	at, err := answers(ctx, dn.DNS, last, 10*time.Minute)
	if err != nil {
		return fmt.Errorf("restarted dns-node: %w", err)
	}
	start := at.Sub(t0)
	time.Sleep(2 * time.Second) // settled
	rss := rssKB(dn.P.Cmd.Process.Pid)
	fmt.Printf("poolctl dns-node: start-up %s, resident memory %d MiB\n", start.Round(time.Millisecond), rss/1024)
	fmt.Printf("ratios poolctl/NSD: start-up %.2f, memory %.2f (aim: both ≤ 2)\n", start.Seconds()/nsdStart.Seconds(), float64(rss)/float64(nsdRSS))
	return nil
}

// importAll makes every zone through the API, o.parallel at a time.
func importAll(ctx context.Context, o options, c *client.Client) error {
	next := make(chan int)
	errs := make(chan error, o.parallel)
	var wg sync.WaitGroup
	for range o.parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, err := c.ImportZone(ctx, zoneName(i), api.ZoneImport{Text: zoneText(i, o.records)}); err != nil {
					errs <- fmt.Errorf("import %s: %w", zoneName(i), err)
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := 0; i < o.zones; i++ {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// allThere waits until the member answers every zone (checked by its serial
// list, then the last zone by DNS).
func allThere(ctx context.Context, n pnode.Node, zones int, max time.Duration) error {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		zs, err := n.C.ListZones(ctx)
		if err == nil && len(zs) >= zones {
			_, err := answers(ctx, n.DNS, zoneName(zones-1), 30*time.Second)
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("not every zone arrived in time")
}

const nsdConfHead = `server:
  ip-address: 127.0.0.1@%d
  zonesdir: %s
  database: ""
  pidfile: %s/nsd.pid
  xfrdfile: %s/xfrd.state
  zonelistfile: %s/zone.list
  username: ""
  logfile: %s/nsd.log
  server-count: 1
  rrl-ratelimit: 0
remote-control:
  control-enable: no
`

// runNSD writes the zones as files, starts NSD and times it until it
// answers the last zone; it returns that and NSD's resident memory, and
// stops it.
func runNSD(ctx context.Context, o options, dir, last string) (time.Duration, int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	port, err := dnsq.FreePort()
	if err != nil {
		return 0, 0, err
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, nsdConfHead, port, dir, dir, dir, dir, dir)
	for i := 0; i < o.zones; i++ {
		name := zoneName(i)
		if err := os.WriteFile(filepath.Join(dir, name+".zone"), []byte(zoneText(i, o.records)), 0o644); err != nil {
			return 0, 0, err
		}
		fmt.Fprintf(&conf, "zone:\n  name: %s\n  zonefile: %s.zone\n", name, name)
	}
	confPath := filepath.Join(dir, "nsd.conf")
	if err := os.WriteFile(confPath, []byte(conf.String()), 0o644); err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	p, err := procs.Start("nsd", filepath.Join(dir, "stderr"), nil, o.nsd, "-d", "-c", confPath)
	if err != nil {
		return 0, 0, err
	}
	defer p.Stop(10 * time.Second)
	at, err := answers(ctx, fmt.Sprintf("127.0.0.1:%d", port), last, 10*time.Minute)
	if err != nil {
		return 0, 0, fmt.Errorf("NSD does not answer %s: %w (log %s)", last, err, filepath.Join(dir, "nsd.log"))
	}
	time.Sleep(2 * time.Second)
	return at.Sub(t0), rssKB(p.Cmd.Process.Pid), nil
}
