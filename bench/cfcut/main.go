// Command cfcut cuts 1,000 account records (A records moved to a standby's
// address) through the Cloudflare fake (internal/dnsprovider/cloudflare/
// cftest) with Cloudflare's real limits: a Free zone (200 records per
// batch) and 1,200 requests per 5 minutes, kept by the client's token
// bucket on the real clock. It reports the time and requests the batched
// cut takes, checks that every record moved once (none lost, none
// doubled) and that the fake refused nothing, and sets beside it the
// naive plan (one request per record) run through a second fake on an
// injected clock: its time is what the bucket allows, computed, not
// waited for.
//
//	go run ./bench/cfcut [-records 1000] [-json]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/poolctl/poolctl/internal/dnsprovider"
	"github.com/poolctl/poolctl/internal/dnsprovider/cloudflare"
	"github.com/poolctl/poolctl/internal/dnsprovider/cloudflare/cftest"
)

const (
	zone  = "cut.example"
	token = "cfcut-token"
	from  = "192.0.2.10"
	to    = "198.51.100.20"
)

// Result is one plan's figures.
type Result struct {
	Plan     string  `json:"plan"`
	Records  int     `json:"records"`
	Requests int     `json:"requests"`
	Seconds  float64 `json:"seconds"` // on the clock the limit is kept by
	Moved    int     `json:"moved"`
	Refused  int     `json:"refused_429"`
	MaxIn5m  int     `json:"max_requests_in_5_min"`
}

func seed(s *cftest.Server, n int) error {
	s.AddToken(token, true)
	s.AddZone(zone, cftest.Free)
	recs := make([]cftest.Record, 0, n)
	for i := range n {
		recs = append(recs, cftest.Record{Type: "A", Name: fmt.Sprintf("acct%04d.%s", i, zone), Content: from, TTL: 300})
	}
	return s.Seed(zone, recs)
}

// check counts the records moved, and fails when any is missing or twice.
func check(s *cftest.Server, n int) (int, error) {
	moved, seen := 0, map[string]int{}
	for _, r := range s.Records(zone) {
		seen[r.Name]++
		if r.Content == to {
			moved++
		}
	}
	if len(seen) != n || moved != n {
		return moved, fmt.Errorf("%d names, %d moved; want %d of each", len(seen), moved, n)
	}
	for name, c := range seen {
		if c != 1 {
			return moved, fmt.Errorf("%s holds %d records", name, c)
		}
	}
	return moved, nil
}

func batched(ctx context.Context, n int) (Result, error) {
	s, stop := cftest.NewServer(cftest.Options{Clock: cftest.WallClock()})
	defer stop()
	if err := seed(s, n); err != nil {
		return Result{}, err
	}
	c, err := cloudflare.New(cloudflare.Config{Token: token, BaseURL: s.URL, Clock: s.Clock})
	if err != nil {
		return Result{}, err
	}
	recs := make([]dnsprovider.Record, 0, n)
	for i := range n {
		recs = append(recs, dnsprovider.Record{Name: fmt.Sprintf("acct%04d", i), Type: "A", TTL: 300 * time.Second, Value: to})
	}
	start := time.Now()
	if _, err := c.SetRecords(ctx, zone, recs); err != nil {
		return Result{}, err
	}
	res := Result{Plan: "batched", Records: n, Requests: c.Requests(), Seconds: time.Since(start).Seconds()}
	st := s.Stats()
	res.Refused, res.MaxIn5m = st.Refused, st.MaxInWindow
	res.Moved, err = check(s, n)
	return res, err
}

func naive(ctx context.Context, n int) (Result, error) {
	clock := cftest.NewClock()
	s, stop := cftest.NewServer(cftest.Options{Clock: clock})
	defer stop()
	if err := seed(s, n); err != nil {
		return Result{}, err
	}
	c, err := cloudflare.New(cloudflare.Config{Token: token, BaseURL: s.URL, Clock: clock})
	if err != nil {
		return Result{}, err
	}
	start := clock.Now()
	z, err := c.Zone(ctx, zone+".")
	if err != nil {
		return Result{}, err
	}
	rs, err := c.Records(ctx, z.ID)
	if err != nil {
		return Result{}, err
	}
	for _, r := range rs {
		if _, err := c.PatchRecord(ctx, z.ID, cloudflare.DNSRecord{ID: r.ID, Content: to}); err != nil {
			return Result{}, err
		}
	}
	res := Result{Plan: "naive (one request per record)", Records: n, Requests: c.Requests(), Seconds: clock.Now().Sub(start).Seconds()}
	st := s.Stats()
	res.Refused, res.MaxIn5m = st.Refused, st.MaxInWindow
	res.Moved, err = check(s, n)
	return res, err
}

func main() {
	n := flag.Int("records", 1000, "account records to cut")
	asJSON := flag.Bool("json", false, "print JSON")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := batched(ctx, *n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cfcut: batched:", err)
		os.Exit(1)
	}
	nv, err := naive(ctx, *n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cfcut: naive:", err)
		os.Exit(1)
	}
	computed := cloudflare.Duration(nv.Requests, cloudflare.RateLimit, 1, cloudflare.RateWindow).Seconds()
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{"batched": b, "naive": nv, "naive_computed_seconds": computed, "ratio": nv.Seconds / b.Seconds})
		return
	}
	fmt.Printf("%-32s %8s %9s %10s %6s %5s %8s\n", "plan", "records", "requests", "seconds", "moved", "429s", "max/5min")
	for _, r := range []Result{b, nv} {
		fmt.Printf("%-32s %8d %9d %10.2f %6d %5d %8d\n", r.Plan, r.Records, r.Requests, r.Seconds, r.Moved, r.Refused, r.MaxIn5m)
	}
	fmt.Printf("naive plan from the bucket: %.1f s (injected clock, not waited); batched is %.0f× faster\n", computed, nv.Seconds/b.Seconds)
}
