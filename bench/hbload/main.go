// Command hbload is a heartbeat load generator: it enrols many simulated
// agents on a running poolctl server, each with its own credential, then
// posts heartbeats through the real HTTPS API and reports throughput and
// latency percentiles.
//
//	go run ./bench/hbload --server URL --token T --ca ca.pem --members 2000 --duration 20s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

func main() {
	var (
		server   = flag.String("server", os.Getenv("POOLCTL_URL"), "server URL")
		token    = flag.String("token", os.Getenv("POOLCTL_TOKEN"), "admin token")
		caFile   = flag.String("ca", os.Getenv("POOLCTL_CA"), "CA PEM file")
		members  = flag.Int("members", 2000, "simulated members (distinct credentials)")
		workers  = flag.Int("concurrency", 64, "concurrent connections posting heartbeats")
		duration = flag.Duration("duration", 20*time.Second, "measurement time (bounded)")
		rate     = flag.Int("rate", 0, "target heartbeats/s (0: as fast as possible)")
		pool     = flag.String("pool", "bench", "pool to create")
		slow     = flag.Duration("slow", 0, "print each request slower than this, with its start offset")
		warmup   = flag.Duration("warmup", 0, "run this long before measuring (members' first beats turn them healthy)")
	)
	flag.Parse()
	if *duration > 5*time.Minute {
		*duration = 5 * time.Minute
	}
	ca, err := os.ReadFile(*caFile)
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	admin, err := client.New(*server, client.Options{Token: *token, CAPEM: ca})
	if err != nil {
		fail(err)
	}
	if _, err := admin.CreatePool(ctx, api.PoolCreate{Name: *pool, HeartbeatTimeout: api.Duration(time.Minute)}); err != nil && client.StatusOf(err) != 409 {
		fail(err)
	}
	start := time.Now()
	agents := make([]*client.Client, *members)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range agents {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			name := fmt.Sprintf("m%05d", i)
			res, err := admin.AddMember(ctx, *pool, api.MemberCreate{Name: name, Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)})
			if err != nil {
				fail(fmt.Errorf("add %s: %w", name, err))
			}
			c, _ := client.New(*server, client.Options{CAPEM: ca})
			enr, err := c.Enroll(ctx, api.EnrollRequest{Secret: res.EnrollmentSecret})
			if err != nil {
				fail(fmt.Errorf("enrol %s: %w", name, err))
			}
			agents[i], _ = client.New(*server, client.Options{Token: enr.Token, CAPEM: ca})
		}(i)
	}
	wg.Wait()
	fmt.Printf("enrolled %d members in %s\n", *members, time.Since(start).Round(time.Millisecond))

	hb := api.Heartbeat{Protocol: api.ProtocolVersion, AgentVersion: "hbload", Interval: api.Duration(2 * time.Second),
		Metrics: api.Metrics{UptimeSeconds: 1000, Load1: 0.5, CPUPercent: 12, MemTotal: 8 << 30, MemUsed: 2 << 30, MemPercent: 25,
			Disks: []api.DiskUsage{{Mount: "/", Total: 100 << 30, Used: 40 << 30, Percent: 40}}, NetRxBytes: 1 << 20, NetTxBytes: 1 << 20}}
	var (
		next atomic.Int64
		errs atomic.Int64
		mu   sync.Mutex
		lats []time.Duration
		stop = time.Now().Add(*warmup + *duration)
	)
	// Open-loop pacing: each worker sends on its own schedule, rate/workers
	// per second, staggered; a late send does not delay the next ones.
	var every time.Duration
	if *rate > 0 {
		every = time.Duration(float64(time.Second) * float64(*workers) / float64(*rate))
	}
	t0 := time.Now()
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var local []time.Duration
			due := t0.Add(every * time.Duration(w) / time.Duration(*workers))
			for time.Now().Before(stop) {
				if every > 0 {
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
					due = due.Add(every)
				}
				a := agents[int(next.Add(1))%len(agents)]
				s := time.Now()
				if _, err := a.Heartbeat(ctx, hb); err != nil {
					errs.Add(1)
					continue
				}
				d := time.Since(s)
				if s.Sub(t0) < *warmup {
					continue
				}
				local = append(local, d)
				if *slow > 0 && d > *slow {
					fmt.Printf("slow %6dms took %s\n", s.Sub(t0).Milliseconds(), d.Round(time.Millisecond))
				}
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(t0) - *warmup
	slices.Sort(lats)
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[int(float64(len(lats)-1)*p)]
	}
	fmt.Printf("heartbeats: %d ok, %d errors in %s\n", len(lats), errs.Load(), elapsed.Round(time.Millisecond))
	fmt.Printf("throughput: %.0f heartbeats/s\n", float64(len(lats))/elapsed.Seconds())
	fmt.Printf("latency: p50 %s  p90 %s  p99 %s  max %s\n", pct(0.5).Round(time.Microsecond), pct(0.9).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	if errs.Load() > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "hbload:", err)
	os.Exit(1)
}
