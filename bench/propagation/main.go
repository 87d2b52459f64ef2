// Command propagation measures change propagation: a record added through
// the API, until poolctl's own nameserver serves it ("local") and until an
// NSD secondary serves it ("via NSD"). NSD pulls the zone from poolctl with
// TSIG-signed transfers after poolctl's NOTIFY, as in production.
//
// Every change is one API call, AddRecord of a new name
// www-<i>.prop.test A 192.0.2.x. The clock starts just before the call;
// both nameservers are then polled over UDP every --poll (2 ms) with a
// hand-built query (only internal/dns may import the DNS library) until
// they answer with the new address.
//
//	go build -o poolctl ./cmd/poolctl
//	go run ./bench/propagation --binary ./poolctl --changes 100
//
// Everything runs on 127.0.0.1; the processes started here are stopped on
// exit. ./bench/propagation.sh builds both and runs it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/bench/internal/dnsq"
	procs "github.com/poolctl/poolctl/bench/internal/proc"
	"github.com/poolctl/poolctl/client"
)

const (
	zoneName = "prop.test"
	keyName  = "xfr-key"
)

type options struct {
	binary, nsd   string
	changes       int
	warmup        int
	poll          time.Duration
	perChange     time.Duration
	gap           time.Duration
	total         time.Duration
	reloadTimeout int
	keep          bool
	verbose       bool
}

func main() {
	var o options
	flag.StringVar(&o.binary, "binary", "./poolctl", "poolctl binary")
	flag.StringVar(&o.nsd, "nsd", "nsd", "NSD binary")
	flag.IntVar(&o.changes, "changes", 100, "measured changes (1..1000)")
	flag.IntVar(&o.warmup, "warmup", 3, "unmeasured changes first (connections, first IXFR)")
	flag.DurationVar(&o.poll, "poll", 2*time.Millisecond, "query interval while waiting for a change")
	flag.DurationVar(&o.perChange, "change-timeout", 5*time.Second, "give up on one change after this")
	flag.DurationVar(&o.gap, "gap", 20*time.Millisecond, "pause between changes")
	flag.DurationVar(&o.total, "timeout", 3*time.Minute, "bound on the whole run")
	flag.IntVar(&o.reloadTimeout, "nsd-reload-timeout", 0,
		"NSD xfrd-reload-timeout in seconds; NSD's default 1 throttles reloads to one a second (use with --gap 1.1s)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (logs, configs)")
	flag.BoolVar(&o.verbose, "v", false, "print every change's timings")
	flag.Parse()
	if o.changes < 1 || o.changes > 1000 || o.warmup < 0 || o.poll <= 0 || o.perChange <= 0 {
		fmt.Fprintln(os.Stderr, "propagation: --changes must be 1..1000, --poll and --change-timeout positive")
		os.Exit(2)
	}
	procs.Main("propagation", o.total, func(ctx context.Context) error { return run(ctx, o) })
}

// proc is a child process (poolctl, NSD).
type proc struct{ *procs.Proc }

func start(name, logPath string, argv ...string) (*proc, error) {
	p, err := procs.Start(name, logPath, nil, argv...)
	if err != nil {
		return nil, err
	}
	return &proc{p}, nil
}

func (p *proc) exited() bool { return p.Exited() }

// stop sends SIGTERM (NSD then stops its own server and xfrd children) and
// SIGKILL after 5 s.
func (p *proc) stop() {
	if p != nil {
		p.Stop(5 * time.Second)
	}
}

const nsdConf = `server:
  ip-address: 127.0.0.1@{{.Port}}
  zonesdir: {{.Dir}}
  database: ""
  pidfile: {{.Dir}}/nsd.pid
  xfrdfile: {{.Dir}}/xfrd.state
  zonelistfile: {{.Dir}}/zone.list
  xfrdir: {{.Dir}}
  username: ""
  logfile: {{.Dir}}/nsd.log
  server-count: 1
  rrl-ratelimit: 0
  xfrd-reload-timeout: {{.Reload}}
  verbosity: 2
remote-control:
  control-enable: no
key:
  name: "{{.Key}}"
  algorithm: hmac-sha256
  secret: "{{.Secret}}"
zone:
  name: {{.Zone}}
  zonefile: {{.Zone}}.zone
  request-xfr: 127.0.0.1@{{.Primary}} {{.Key}}
  allow-notify: 127.0.0.1 {{.Key}}
`

// setup is one started pair: poolctl with the zone, NSD serving it.
type setup struct {
	dir, data      string
	server, nsd    *proc
	c              *client.Client
	localDNS, nsdA string
}

func (s *setup) stop() {
	s.nsd.stop()
	s.server.stop()
}

func (s *setup) serverLog() string { return filepath.Join(s.dir, "server.log") }
func (s *setup) nsdLog() string    { return filepath.Join(s.dir, "nsd", "nsd.log") }

// startAll starts poolctl (knowing NSD's port from the start, for its
// NOTIFYs), creates the zone, then starts NSD and waits until it serves the
// zone. A port taken meanwhile fails the attempt; the caller retries.
func startAll(ctx context.Context, o options, dir string) (s *setup, err error) {
	s = &setup{dir: dir, data: filepath.Join(dir, "data")}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return s, err
	}
	nsdPort, err := dnsq.FreePort()
	if err != nil {
		return s, err
	}
	s.nsdA = net.JoinHostPort("127.0.0.1", strconv.Itoa(nsdPort))
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	b64 := base64.StdEncoding.EncodeToString(secret)

	s.server, err = start("poolctl", s.serverLog(), o.binary, "server", "--data", s.data,
		"--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0", "--log-level", "debug",
		"--dns-notify", s.nsdA, "--dns-allow-transfer", "127.0.0.1",
		"--dns-tsig", keyName+":"+b64, "--dns-require-tsig")
	if err != nil {
		return s, err
	}
	read := func(name string) (string, error) {
		for range 300 {
			if b, err := os.ReadFile(filepath.Join(s.data, name)); err == nil && len(bytes.TrimSpace(b)) > 0 {
				return strings.TrimSpace(string(b)), nil
			}
			if s.server.exited() {
				break
			}
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		return "", fmt.Errorf("poolctl server did not write %s; log:\n%s", name, tail(s.serverLog(), 2000))
	}
	url, err := read("server.url")
	if err != nil {
		return s, err
	}
	if s.localDNS, err = read("dns.addr"); err != nil {
		return s, err
	}
	token, err := read("admin.token")
	if err != nil {
		return s, err
	}
	ca, err := os.ReadFile(filepath.Join(s.data, "ca.pem"))
	if err != nil {
		return s, err
	}
	if s.c, err = client.New(url, client.Options{Token: token, CAPEM: ca, Timeout: 10 * time.Second}); err != nil {
		return s, err
	}
	if _, err := s.c.CreateZone(ctx, api.ZoneCreate{Name: zoneName}); err != nil {
		return s, fmt.Errorf("create zone: %w", err)
	}

	nsdDir := filepath.Join(dir, "nsd")
	if err := os.MkdirAll(nsdDir, 0o755); err != nil {
		return s, err
	}
	_, primary, _ := net.SplitHostPort(s.localDNS)
	var conf bytes.Buffer
	err = template.Must(template.New("nsd").Parse(nsdConf)).Execute(&conf, map[string]any{
		"Port": nsdPort, "Dir": nsdDir, "Reload": o.reloadTimeout, "Key": keyName, "Secret": b64,
		"Zone": zoneName, "Primary": primary,
	})
	if err != nil {
		return s, err
	}
	confPath := filepath.Join(nsdDir, "nsd.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o600); err != nil {
		return s, err
	}
	// -d: NSD stays in the foreground, so its PID is ours to stop.
	if s.nsd, err = start("nsd", filepath.Join(nsdDir, "stderr"), o.nsd, "-d", "-c", confPath); err != nil {
		return s, err
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, _, err := dnsq.WaitFor(wctx, s.nsdA, zoneName, dnsq.TypeSOA, 50*time.Millisecond, func([]byte) bool { return true }); err != nil {
		return s, fmt.Errorf("NSD did not serve %s: %v (exited: %v); log:\n%s%s", zoneName, err, s.nsd.exited(),
			tail(s.nsdLog(), 2000), tail(filepath.Join(nsdDir, "stderr"), 1000))
	}
	return s, nil
}

// sample is one measured change.
type sample struct {
	api, local, nsd time.Duration // -1: not seen within the change timeout
	t0              time.Time     // just before the API call
	serial          uint32        // the zone's serial after the change
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "poolctl-propagation-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work directory:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	var s *setup
	for attempt := 1; ; attempt++ {
		adir := filepath.Join(dir, "attempt"+strconv.Itoa(attempt))
		if s, err = startAll(ctx, o, adir); err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "setup attempt %d failed, retrying: %v\n", attempt, firstLine(err))
	}
	defer s.stop()

	zone, err := s.c.GetZone(ctx, zoneName)
	if err != nil {
		return err
	}
	fmt.Printf("poolctl DNS %s, NSD secondary %s (%s), zone %s serial %d, xfrd-reload-timeout %d\n",
		s.localDNS, s.nsdA, nsdVersion(o.nsd), zoneName, zone.Serial, o.reloadTimeout)

	total := o.warmup + o.changes
	var samples []sample
	timeouts := 0
	for i := 0; i < total; i++ {
		if ctx.Err() != nil {
			return fmt.Errorf("run bound reached after %d changes: %w", i, ctx.Err())
		}
		sm, err := change(ctx, o, s, i)
		if err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
		if sm.local < 0 || sm.nsd < 0 {
			timeouts++
			fmt.Fprintf(os.Stderr, "change %d: not served within %s (local %s, nsd %s)\n", i, o.perChange, dnsq.MS(sm.local), dnsq.MS(sm.nsd))
			if timeouts >= 5 {
				return fmt.Errorf("%d changes timed out; logs in %s", timeouts, s.dir)
			}
		}
		// The serial ties the change to the log lines (not timed).
		if z, err := s.c.GetZone(ctx, zoneName); err == nil {
			sm.serial = z.Serial
		}
		if i >= o.warmup {
			samples = append(samples, sm)
		}
		if o.verbose {
			fmt.Fprintf(os.Stderr, "change %3d: api %s local %s nsd %s\n", i, dnsq.MS(sm.api), dnsq.MS(sm.local), dnsq.MS(sm.nsd))
		}
		if o.gap > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(o.gap):
			}
		}
	}

	report(samples, o)
	// Let the last transfer's log lines land before reading the logs.
	time.Sleep(200 * time.Millisecond)
	fmt.Println(transferSummary(s, total))
	fmt.Println(breakdown(s, samples))
	return nil
}

// change makes change i and times it.
func change(ctx context.Context, o options, s *setup, i int) (sample, error) {
	name := fmt.Sprintf("www-%d", i)
	ip := net.IPv4(192, 0, 2, byte(i%254+1)).To4()
	fqdn := name + "." + zoneName
	type res struct {
		at  time.Time
		err error
	}
	cctx, cancel := context.WithTimeout(ctx, o.perChange)
	defer cancel()
	want := func(rd []byte) bool { return bytes.Equal(rd, ip) }
	localC, nsdC := make(chan res, 1), make(chan res, 1)
	// The pollers start first; the record does not exist before the API
	// call, so whatever they see comes after t0.
	go func() {
		at, _, err := dnsq.WaitFor(cctx, s.localDNS, fqdn, dnsq.TypeA, o.poll, want)
		localC <- res{at, err}
	}()
	go func() { at, _, err := dnsq.WaitFor(cctx, s.nsdA, fqdn, dnsq.TypeA, o.poll, want); nsdC <- res{at, err} }()
	t0 := time.Now()
	_, err := s.c.AddRecord(cctx, zoneName, api.RecordCreate{Name: name, Type: "A", TTL: 300, Value: ip.String()})
	tAPI := time.Now()
	if err != nil {
		cancel()
		<-localC
		<-nsdC
		return sample{}, fmt.Errorf("AddRecord %s: %w", fqdn, err)
	}
	sm := sample{api: tAPI.Sub(t0), t0: t0}
	l, n := <-localC, <-nsdC
	sm.local, sm.nsd = -1, -1
	if l.err == nil {
		sm.local = l.at.Sub(t0)
	}
	if n.err == nil {
		sm.nsd = n.at.Sub(t0)
	}
	return sm, nil
}

func report(samples []sample, o options) {
	col := func(f func(sample) time.Duration) []time.Duration {
		var v []time.Duration
		for _, s := range samples {
			if d := f(s); d >= 0 {
				v = append(v, d)
			}
		}
		slices.Sort(v)
		return v
	}
	apiD := col(func(s sample) time.Duration { return s.api })
	local := col(func(s sample) time.Duration { return s.local })
	nsd := col(func(s sample) time.Duration { return s.nsd })
	fmt.Printf("\n%d changes (after %d warm-up), one AddRecord each, polled every %s, %s between changes\n",
		len(samples), o.warmup, o.poll, o.gap)
	fmt.Printf("%-26s %6s %9s %9s %9s %9s %9s\n", "API call -> ...", "count", "min", "median", "p90", "p99", "max")
	line := func(label string, v []time.Duration) {
		fmt.Printf("%-26s %6d %9s %9s %9s %9s %9s\n", label, len(v), dnsq.MS(dnsq.Pct(v, 0)), dnsq.MS(dnsq.Pct(v, 0.5)), dnsq.MS(dnsq.Pct(v, 0.9)), dnsq.MS(dnsq.Pct(v, 0.99)), dnsq.MS(dnsq.Pct(v, 1)))
	}
	line("API call returned", apiD)
	line("poolctl serves (local)", local)
	line("NSD secondary serves", nsd)
	if missed := len(samples) - len(nsd); missed > 0 {
		fmt.Printf("NSD did not serve %d of the changes within %s (left out above)\n", missed, o.perChange)
	}
	if missed := len(samples) - len(local); missed > 0 {
		fmt.Printf("poolctl did not serve %d of the changes within %s (left out above)\n", missed, o.perChange)
	}
	if len(local) > 0 && len(nsd) > 0 {
		lm, nm := dnsq.Pct(local, 0.5), dnsq.Pct(nsd, 0.5)
		fmt.Printf("ratio NSD/local: median %.2f, p99 %.2f; NSD minus local, median %.1fms\n",
			float64(nm)/float64(lm), float64(dnsq.Pct(nsd, 0.99))/float64(dnsq.Pct(local, 0.99)), float64(nm-lm)/float64(time.Millisecond))
		verdict := "meets"
		if nm > 50*time.Millisecond {
			verdict = "misses"
		}
		fmt.Printf("target median <= 50 ms via NSD: %s (%s)\n", verdict, dnsq.MS(nm))
	}
}

var (
	reTransfer = regexp.MustCompile(`msg="transfer sent".* type=(\w+) .*records=(\d+)`)
	reNotifyOK = regexp.MustCompile(`msg="NOTIFY acknowledged"`)
	reNotifyKO = regexp.MustCompile(`msg="NOTIFY (failed|refused)"`)
)

// transferSummary says from both logs whether NSD got the NOTIFYs and
// pulled the changes incrementally. poolctl logs the question type, and
// answers an IXFR the journal cannot serve with the whole zone, so the
// record counts tell: one added record makes a 5-record IXFR answer (SOA,
// old SOA, new SOA, the record, SOA). NSD 4.6 does not log the transfer
// type at verbosity 2.
func transferSummary(s *setup, changes int) string {
	types := map[string]int{}
	minRecs, maxRecs := math.MaxInt, 0
	acked, failed := 0, 0
	eachLine(s.serverLog(), func(l string) {
		if m := reTransfer.FindStringSubmatch(l); m != nil {
			types[m[1]]++
			if n, err := strconv.Atoi(m[2]); err == nil && m[1] == "IXFR" {
				minRecs, maxRecs = min(minRecs, n), max(maxRecs, n)
			}
		}
		if reNotifyOK.MatchString(l) {
			acked++
		}
		if reNotifyKO.MatchString(l) {
			failed++
		}
	})
	var nsdNotify, nsdUpdates, nsdProblems int
	eachLine(s.nsdLog(), func(l string) {
		low := strings.ToLower(l)
		if reNSDNotify.MatchString(l) {
			nsdNotify++
		}
		if reNSDUpdated.MatchString(l) {
			nsdUpdates++
		}
		for _, w := range []string{"fallback", "failed", "error", "bad ", "refused"} {
			if strings.Contains(low, w) {
				nsdProblems++
				break
			}
		}
	})
	how := "NO transfer seen"
	switch {
	case types["IXFR"] > 0 && maxRecs <= 5 && types["AXFR"] <= 1:
		how = "IXFR, one delta each"
	case types["IXFR"] > 0:
		how = "IXFR, some answers larger than one delta (catch-up or whole-zone fallback)"
	case types["AXFR"] > 0:
		how = "AXFR"
	}
	recs := "-"
	if maxRecs > 0 {
		recs = fmt.Sprintf("%d..%d", minRecs, maxRecs)
	}
	return fmt.Sprintf("transfers: NSD pulled the changes by %s: poolctl sent %d IXFR (%s records each) + %d AXFR (initial load) for %d changes, NOTIFY acked %d, failed %d; nsd.log: %d NOTIFYs received, %d reloads with a new serial, %d problem lines",
		how, types["IXFR"], recs, types["AXFR"], changes, acked, failed, nsdNotify, nsdUpdates, nsdProblems)
}

var (
	rePoolctlTime = regexp.MustCompile(`^time=(\S+) `)
	reSerial      = regexp.MustCompile(` serial=(\d+) `)
	reNSDTime     = regexp.MustCompile(`^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})\]`)
	reNSDNotify   = regexp.MustCompile(`notify for \S+ from \S+ serial (\d+)`)
	reNSDUpdated  = regexp.MustCompile(`serial \d+ is updated to (\d+)`)
)

// breakdown places the steps of a change in between, from the logs'
// millisecond timestamps (truncated, so up to 1 ms early): the medians over
// the measured changes of API call -> NSD got the NOTIFY -> poolctl sent the
// IXFR -> NSD's reload finished (xfrd's "is updated to"), beside the
// measured local and NSD times.
func breakdown(s *setup, samples []sample) string {
	xfr, notify, updated := map[uint32]time.Time{}, map[uint32]time.Time{}, map[uint32]time.Time{}
	first := func(m map[uint32]time.Time, serial string, t time.Time) {
		n, err := strconv.ParseUint(serial, 10, 32)
		if err != nil {
			return
		}
		if _, ok := m[uint32(n)]; !ok {
			m[uint32(n)] = t
		}
	}
	eachLine(s.serverLog(), func(l string) {
		tm, sm := rePoolctlTime.FindStringSubmatch(l), reSerial.FindStringSubmatch(l)
		if tm == nil || sm == nil || !reTransfer.MatchString(l) {
			return
		}
		if t, err := time.Parse(time.RFC3339Nano, tm[1]); err == nil {
			first(xfr, sm[1], t)
		}
	})
	eachLine(s.nsdLog(), func(l string) {
		tm := reNSDTime.FindStringSubmatch(l)
		if tm == nil {
			return
		}
		t, err := time.ParseInLocation("2006-01-02 15:04:05.000", tm[1], time.Local) // NSD logs local time
		if err != nil {
			return
		}
		if m := reNSDNotify.FindStringSubmatch(l); m != nil {
			first(notify, m[1], t)
		}
		if m := reNSDUpdated.FindStringSubmatch(l); m != nil {
			first(updated, m[1], t)
		}
	})
	var steps [5][]time.Duration
	for _, sm := range samples {
		tn, ok1 := notify[sm.serial]
		tx, ok2 := xfr[sm.serial]
		tu, ok3 := updated[sm.serial]
		if !ok1 || !ok2 || !ok3 || sm.local < 0 || sm.nsd < 0 {
			continue
		}
		// Wall-clock differences: the log times carry no monotonic reading.
		for k, d := range []time.Duration{sm.local, tn.Sub(sm.t0), tx.Sub(sm.t0), tu.Sub(sm.t0), sm.nsd} {
			steps[k] = append(steps[k], d)
		}
	}
	if len(steps[0]) == 0 {
		return "timeline: no measured change found in both logs"
	}
	med := make([]string, len(steps))
	for k := range steps {
		slices.Sort(steps[k])
		med[k] = dnsq.MS(dnsq.Pct(steps[k], 0.5))
	}
	return fmt.Sprintf("timeline, medians after the API call (%d changes; log times 1 ms): poolctl serves %s, NSD got NOTIFY %s, poolctl sent IXFR %s, NSD reload done %s, NSD serves %s",
		len(steps[0]), med[0], med[1], med[2], med[3], med[4])
}

func eachLine(path string, f func(string)) {
	fh, err := os.Open(path)
	if err != nil {
		return
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f(sc.Text())
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func nsdVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").CombinedOutput()
	f := strings.Fields(string(out))
	if len(f) >= 3 && f[0] == "NSD" {
		return "NSD " + f[2]
	}
	return "NSD"
}
