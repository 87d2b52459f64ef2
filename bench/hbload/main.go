// Command hbload is a heartbeat load generator: it enrols many simulated
// agents on a running poolctl server, each with its own credential, then
// posts heartbeats (protocol api.ProtocolVersion) through the real HTTPS
// API and reports throughput and latency percentiles.
//
// Like the real agent, each simulated member switches to the credential a
// heartbeat reply hands it (api.HeartbeatReply.NewCredential) for its next
// request. Refused heartbeats (401 or 403) are counted apart from other
// errors. With --rotate-at the pool's credentials are rotated during the
// measured run (POST /api/v1/pools/{pool}/rotate-credentials), and the
// members that switched are counted at the end.
//
//	go run ./bench/hbload --server URL --token T --ca ca.pem --members 2000 --duration 20s
//	go run ./bench/hbload ... --allow-ip 10.0.0.0/8,192.168.0.0/16,127.0.0.0/8
//	go run ./bench/hbload ... --rate 5000 --rotate-at 3s
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

// listFlag is a repeatable flag that also takes comma-separated lists.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// cred is one credential of a simulated member and the client that sends it.
type cred struct {
	c       *client.Client
	token   string
	rotated bool // a credential handed over by a heartbeat reply
}

// member is a simulated agent. Its credential is swapped atomically: each
// request uses the one loaded when it starts.
type member struct {
	hc        *http.Client // shared by the member's clients: one connection
	cur       atomic.Pointer[cred]
	switched  atomic.Int64 // offset from t0 of the switch, ns; 0: not yet
	confirmed atomic.Int64 // offset from t0 of the first beat answered with the new credential
	refused   atomic.Int64 // heartbeats refused (401/403)
}

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
		rotateAt = flag.Duration("rotate-at", 0, "rotate the credentials of every member of the pool this long into the measured run (0: never)")
		delPool  = flag.Bool("delete-pool", false, "delete the pool and its members at the end (so they do not turn down under the next run)")
		allowIPs listFlag
	)
	flag.Var(&allowIPs, "allow-ip", "allowed source range of every member (repeatable, or a comma-separated list)")
	flag.Parse()
	if *duration > 5*time.Minute {
		*duration = 5 * time.Minute
	}
	ca, err := os.ReadFile(*caFile)
	if err != nil {
		fail(err)
	}
	tlsConf, err := client.TLSConfig(ca, "")
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
	agents := make([]*member, *members)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range agents {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			name := fmt.Sprintf("m%05d", i)
			res, err := admin.AddMember(ctx, *pool, api.MemberCreate{Name: name, Address: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255),
				AllowedCIDRs: allowIPs})
			if err != nil {
				fail(fmt.Errorf("add %s: %w", name, err))
			}
			m := &member{hc: agentHTTP(tlsConf)}
			c, _ := client.New(*server, client.Options{HTTPClient: m.hc})
			enr, err := c.Enroll(ctx, api.EnrollRequest{Secret: res.EnrollmentSecret})
			if err != nil {
				fail(fmt.Errorf("enrol %s: %w", name, err))
			}
			c, _ = client.New(*server, client.Options{Token: enr.Token, HTTPClient: m.hc})
			m.cur.Store(&cred{c: c, token: enr.Token})
			agents[i] = m
		}(i)
	}
	wg.Wait()
	allowed := "no allowed IPs"
	if len(allowIPs) > 0 {
		allowed = "allowed IPs " + allowIPs.String()
	}
	fmt.Printf("enrolled %d members (%s) in %s\n", *members, allowed, time.Since(start).Round(time.Millisecond))

	hb := api.Heartbeat{Protocol: api.ProtocolVersion, AgentVersion: "hbload", Interval: api.Duration(2 * time.Second),
		Metrics: api.Metrics{UptimeSeconds: 1000, Load1: 0.5, CPUPercent: 12, MemTotal: 8 << 30, MemUsed: 2 << 30, MemPercent: 25,
			Disks: []api.DiskUsage{{Mount: "/", Total: 100 << 30, Used: 40 << 30, Percent: 40}}, NetRxBytes: 1 << 20, NetTxBytes: 1 << 20}}
	var (
		next    atomic.Int64
		errs    atomic.Int64
		refused atomic.Int64
		refNew  atomic.Int64 // refused with a credential a reply handed over
		refFrom atomic.Int64 // offsets from t0 of the first and last refusal, ns
		refTo   atomic.Int64
		shown   atomic.Int64
		mu      sync.Mutex
		lats    []time.Duration
		stop    = time.Now().Add(*warmup + *duration)
	)
	// Open-loop pacing: each worker sends on its own schedule, rate/workers
	// per second, staggered; a late send does not delay the next ones.
	var every time.Duration
	if *rate > 0 {
		every = time.Duration(float64(time.Second) * float64(*workers) / float64(*rate))
	}
	t0 := time.Now()
	var rotatedAt atomic.Int64 // offset from t0 of the (last) rotation request
	var rotateFailed atomic.Int64
	var rotation sync.WaitGroup
	if *rotateAt > 0 {
		rotation.Add(1)
		go func() {
			defer rotation.Done()
			time.Sleep(time.Until(t0.Add(*warmup + *rotateAt)))
			// A failed request is reported, and tried again (3 tries).
			for try := 1; ; try++ {
				s := time.Now()
				rotatedAt.Store(int64(s.Sub(t0)))
				res, err := admin.RotateCredential(ctx, *pool, "")
				if err == nil {
					fmt.Printf("rotation of %d credentials requested at +%s (measured run), try %d, answered in %s\n",
						len(res.Members), (s.Sub(t0) - *warmup).Round(time.Millisecond), try, time.Since(s).Round(time.Millisecond))
					return
				}
				fmt.Printf("rotation request at +%s (measured run) failed after %s: %v\n", (s.Sub(t0) - *warmup).Round(time.Millisecond), time.Since(s).Round(time.Millisecond), err)
				rotateFailed.Add(1)
				if try == 3 {
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
		}()
	}
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
				m := agents[int(next.Add(1))%len(agents)]
				cr := m.cur.Load()
				s := time.Now()
				reply, err := cr.c.Heartbeat(ctx, hb)
				if err != nil {
					if st := client.StatusOf(err); st == http.StatusUnauthorized || st == http.StatusForbidden {
						refused.Add(1)
						m.refused.Add(1)
						if cr.rotated {
							refNew.Add(1)
						}
						at := int64(s.Sub(t0))
						refFrom.CompareAndSwap(0, at)
						storeMax(&refTo, at)
					} else {
						errs.Add(1)
					}
					if shown.Add(1) <= 5 {
						fmt.Printf("error at +%dms (rotated credential: %v): %v\n", s.Sub(t0).Milliseconds(), cr.rotated, err)
					}
					continue
				}
				d := time.Since(s)
				if cr.rotated && m.confirmed.Load() == 0 {
					m.confirmed.CompareAndSwap(0, int64(time.Since(t0)))
				}
				if reply.NewCredential != "" && reply.NewCredential != cr.token {
					c, _ := client.New(*server, client.Options{Token: reply.NewCredential, HTTPClient: m.hc})
					if m.cur.CompareAndSwap(cr, &cred{c: c, token: reply.NewCredential, rotated: true}) {
						m.switched.Store(int64(time.Since(t0)))
					}
				}
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
	rotation.Wait() // the request may be answered after the run
	slices.Sort(lats)
	pct := func(p float64) time.Duration {
		if len(lats) == 0 {
			return 0
		}
		return lats[int(float64(len(lats)-1)*p)]
	}
	fmt.Printf("heartbeats: %d ok, %d refused (401/403), %d other errors in %s (refused and errors include the warm-up)\n",
		len(lats), refused.Load(), errs.Load(), elapsed.Round(time.Millisecond))
	if n := refused.Load(); n > 0 {
		refMembers := 0
		for _, m := range agents {
			if m.refused.Load() > 0 {
				refMembers++
			}
		}
		fmt.Printf("refused: %d heartbeats (%d with a rotated credential) of %d members, from +%s to +%s (warm-up %s)\n", n, refNew.Load(), refMembers,
			time.Duration(refFrom.Load()).Round(time.Millisecond), time.Duration(refTo.Load()).Round(time.Millisecond), *warmup)
	}
	fmt.Printf("throughput: %.0f heartbeats/s\n", float64(len(lats))/elapsed.Seconds())
	fmt.Printf("latency: p50 %s  p90 %s  p99 %s  max %s\n", pct(0.5).Round(time.Microsecond), pct(0.9).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), pct(1).Round(time.Microsecond))
	if *rotateAt > 0 {
		var switched, confirmed int
		var lastSwitch, lastConfirm time.Duration
		for _, m := range agents {
			if s := time.Duration(m.switched.Load()); s > 0 {
				switched++
				lastSwitch = max(lastSwitch, s)
			}
			if c := time.Duration(m.confirmed.Load()); c > 0 {
				confirmed++
				lastConfirm = max(lastConfirm, c)
			}
		}
		since := func(d time.Duration) string {
			if r := time.Duration(rotatedAt.Load()); d > 0 && r > 0 {
				return (d - r).Round(time.Millisecond).String()
			}
			return "-"
		}
		fmt.Printf("rotation: %d of %d members switched to their new credential (the last %s after the request); %d used it successfully (the last %s after)\n",
			switched, len(agents), since(lastSwitch), confirmed, since(lastConfirm))
		// The server's view: members whose rotation is still requested or
		// issued (handed out, not used yet).
		ms, err := admin.ListMembers(ctx, *pool)
		if err != nil {
			fail(err)
		}
		var pending []string
		for _, m := range ms {
			if m.Credential == nil || m.Credential.Rotation != "" {
				pending = append(pending, m.Name)
			}
		}
		fmt.Printf("rotation: the server lists %d of %d members with a rotation still under way", len(pending), len(ms))
		if len(pending) > 0 {
			fmt.Printf(" (%s)", strings.Join(pending[:min(len(pending), 10)], ", "))
		}
		fmt.Println()
	}
	if *delPool {
		deletePool(ctx, admin, *pool)
	}
	if errs.Load() > 0 || refused.Load() > 0 || rotateFailed.Load() > 0 {
		os.Exit(1)
	}
}

// deletePool deletes the pool and its members once the server has flushed
// their last heartbeats (each second), trying again on a failure: on
// PostgreSQL the deletion can deadlock with the server's own writes.
func deletePool(ctx context.Context, admin *client.Client, pool string) {
	time.Sleep(2 * time.Second)
	for try := 1; ; try++ {
		_, err := admin.DeletePool(ctx, pool, true)
		if err == nil {
			return
		}
		fmt.Printf("delete pool %s, try %d: %v\n", pool, try, err)
		if try == 3 {
			os.Exit(1)
		}
		time.Sleep(time.Second)
	}
}

// agentHTTP is the HTTP client of one simulated member, configured like
// client.New's default one (HTTP/1.1, 30 s timeout): the member's
// successive credentials share its connection.
func agentHTTP(tlsConf *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConf
	tr.MaxIdleConnsPerHost = 32
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// storeMax raises v to x.
func storeMax(v *atomic.Int64, x int64) {
	for old := v.Load(); x > old && !v.CompareAndSwap(old, x); old = v.Load() {
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "hbload:", err)
	os.Exit(1)
}
