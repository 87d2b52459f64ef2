package dns

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/dnssec"
)

// TestServeForBench is the load target of bench/dnsperf.sh, not a test: it
// runs only when POOLCTL_DNSBENCH_ADDR_FILE is set. It serves the fixture
// zone (or the zone file named by POOLCTL_DNSBENCH_ZONE, origin
// example.test.) on 127.0.0.1:0, writes the address to that file and serves
// until the file is removed (at most POOLCTL_DNSBENCH_MAX, default 10 min).
// With POOLCTL_DNSBENCH_SIGN=1 the zone is signed (DNSSEC, new keys).
func TestServeForBench(t *testing.T) {
	path := os.Getenv("POOLCTL_DNSBENCH_ADDR_FILE")
	if path == "" {
		t.Skip("POOLCTL_DNSBENCH_ADDR_FILE is not set; this is bench/dnsperf.sh's load target")
	}
	var text string
	if zf := os.Getenv("POOLCTL_DNSBENCH_ZONE"); zf != "" {
		b, err := os.ReadFile(zf)
		if err != nil {
			t.Fatal(err)
		}
		text = string(b)
	} else {
		text = fixtureText(t, "example.test.zone")
	}
	max := 10 * time.Minute
	if v := os.Getenv("POOLCTL_DNSBENCH_MAX"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		max = min(d, max)
	}
	s, err := NewServer(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	z := zoneFromText(t, "example.test.", text)
	if os.Getenv("POOLCTL_DNSBENCH_SIGN") == "1" {
		keys, err := dnssec.NewKeys()
		if err != nil {
			t.Fatal(err)
		}
		z.DNSSEC = &Signing{Keys: keys}
	}
	if err := s.LoadZone(z); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	}()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s.Addr()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	st := s.Stats()
	t.Logf("served %d queries: %v", st.Queries, st.Responses)
}
