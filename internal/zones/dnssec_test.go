package zones_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/storetest"
	"github.com/poolctl/poolctl/internal/zones"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type events struct {
	mu    sync.Mutex
	kinds []string
}

func (e *events) Emit(_ context.Context, ev api.Event) api.Event {
	e.mu.Lock()
	e.kinds = append(e.kinds, ev.Kind)
	e.mu.Unlock()
	return ev
}

func (e *events) count(kind string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, k := range e.kinds {
		if k == kind {
			n++
		}
	}
	return n
}

func signedKeys(t *testing.T, sk *sink) (signing, published int) {
	t.Helper()
	z := sk.get("signed.test.")
	if z.DNSSEC == nil {
		t.Fatalf("the zone is served unsigned")
	}
	for _, k := range z.DNSSEC.Keys {
		if k.Role == "zsk" && k.Sign {
			signing++
		}
		if k.Role == "zsk" && k.Publish {
			published++
		}
	}
	return signing, published
}

func TestDNSSECRolloverResumes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
		sk, ev := &sink{}, &events{}
		key := [32]byte{1, 2, 3}
		cfg := zones.Config{Store: st, Sink: sk, Events: ev, Now: clk.Now, MasterKey: key,
			DNSSEC: zones.DNSSECConfig{Propagation: time.Minute}}
		z := zones.New(cfg)
		if _, err := z.Create(ctx, api.ZoneCreate{Name: "signed.test"}); err != nil {
			t.Fatal(err)
		}
		before := sk.get("signed.test.").Serial
		status, err := z.EnableDNSSEC(ctx, "signed.test")
		if err != nil {
			t.Fatal(err)
		}
		if !status.Enabled || len(status.Keys) != 2 || len(status.DS) != 1 || !strings.Contains(status.DS[0], " 13 2 ") || len(status.CDS) != 1 {
			t.Fatalf("status after enable: %+v", status)
		}
		if got := sk.get("signed.test.").Serial; got == before {
			t.Errorf("enable kept serial %d", got)
		}
		if _, err := z.EnableDNSSEC(ctx, "signed.test"); err == nil || !strings.Contains(err.Error(), "signed already") {
			t.Errorf("enable twice: %v", err)
		}
		if _, err := z.StartRollover(ctx, "signed.test", api.DNSSECRolloverStart{Key: "csk"}); err == nil {
			t.Errorf("rollover of key csk accepted")
		}
		wait := api.Duration(time.Second)
		if _, err := z.StartRollover(ctx, "signed.test", api.DNSSECRolloverStart{Key: "zsk", StepWait: &wait}); err == nil || !strings.Contains(err.Error(), "--dnssec-test-waits") {
			t.Errorf("step_wait without the test flag: %v", err)
		}

		status, err = z.StartRollover(ctx, "signed.test", api.DNSSECRolloverStart{Key: "zsk"})
		if err != nil {
			t.Fatal(err)
		}
		r := status.Rollover
		// The DNSKEY TTL (the SOA's, 3600 s) plus a minute of propagation.
		if r == nil || r.Step != "published" || !r.NextAt.Equal(clk.Now().Add(61*time.Minute)) {
			t.Fatalf("rollover: %+v", r)
		}
		if s, p := signedKeys(t, sk); s != 1 || p != 2 {
			t.Errorf("pre-published: %d signing, %d published ZSKs", s, p)
		}
		if _, err := z.StartRollover(ctx, "signed.test", api.DNSSECRolloverStart{Key: "ksk"}); err == nil || !strings.Contains(err.Error(), "in progress") {
			t.Errorf("second rollover: %v", err)
		}
		clk.add(60 * time.Minute)
		if n, err := z.StepDNSSEC(ctx); n != 0 || err != nil {
			t.Fatalf("step before due: %d %v", n, err)
		}
		clk.add(time.Minute)
		if n, err := z.StepDNSSEC(ctx); n != 1 || err != nil {
			t.Fatalf("step when due: %d %v", n, err)
		}
		if s, p := signedKeys(t, sk); s != 1 || p != 2 {
			t.Errorf("new ZSK signing: %d signing, %d published ZSKs", s, p)
		}

		// A restarted server (a new service on the same store) resumes.
		sk2 := &sink{}
		cfg.Sink = sk2
		z2 := zones.New(cfg)
		if err := z2.LoadAll(ctx); err != nil {
			t.Fatal(err)
		}
		status, _ = z2.DNSSECStatus(ctx, "signed.test")
		if status.Rollover == nil || status.Rollover.Step != "signing" {
			t.Fatalf("after restart: %+v", status.Rollover)
		}
		clk.add(status.Rollover.NextAt.Sub(clk.Now()))
		if n, err := z2.StepDNSSEC(ctx); n != 1 || err != nil {
			t.Fatalf("last step: %d %v", n, err)
		}
		if s, p := signedKeys(t, sk2); s != 1 || p != 1 {
			t.Errorf("done: %d signing, %d published ZSKs", s, p)
		}
		status, _ = z2.DNSSECStatus(ctx, "signed.test")
		if status.Rollover.Step != "done" || len(status.Keys) != 2 {
			t.Errorf("done: %+v, %d keys", status.Rollover, len(status.Keys))
		}
		if ev.count(zones.KindRolloverStarted) != 1 || ev.count(zones.KindRolloverStep) != 1 || ev.count(zones.KindRolloverDone) != 1 {
			t.Errorf("events: %v", ev.kinds)
		}

		// Another master key cannot open the keys.
		other := cfg
		other.MasterKey = [32]byte{9}
		if _, err := zones.New(other).DNSSECStatus(ctx, "signed.test"); err == nil || !strings.Contains(err.Error(), "master key") {
			t.Errorf("wrong master key: %v", err)
		}

		if err := z2.DisableDNSSEC(ctx, "signed.test"); err != nil {
			t.Fatal(err)
		}
		if sk2.get("signed.test.").DNSSEC != nil {
			t.Errorf("still signed after disable")
		}
		if status, _ := z2.DNSSECStatus(ctx, "signed.test"); status.Enabled {
			t.Errorf("status after disable: %+v", status)
		}
	})
}
