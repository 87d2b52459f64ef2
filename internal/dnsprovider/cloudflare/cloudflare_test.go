package cloudflare_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
	"github.com/poolctl/poolctl/internal/dnsprovider/cloudflare"
	"github.com/poolctl/poolctl/internal/dnsprovider/cloudflare/cftest"
	"github.com/poolctl/poolctl/internal/dnsprovider/dnsprovidertest"
)

const token = "cf-test-token-0123456789"

func client(t *testing.T, s *cftest.Server, mod func(*cloudflare.Config)) *cloudflare.Client {
	t.Helper()
	cfg := cloudflare.Config{Token: token, BaseURL: s.URL, Clock: s.Clock}
	if mod != nil {
		mod(&cfg)
	}
	c, err := cloudflare.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConformance runs the provider suite against the fake (an
// Enterprise zone: the suite writes a TTL of 30 s).
func TestConformance(t *testing.T) {
	s := cftest.Start(t, cftest.Options{})
	s.AddToken(token, true)
	s.AddZone("suite.test", cftest.Enterprise)
	s.AddZone("other.test", cftest.Free)
	dnsprovidertest.Run(t, func(t *testing.T) dnsprovider.Provider { return client(t, s, nil) }, "suite.test")
	if st := s.Stats(); st.Refused != 0 {
		t.Errorf("the fake refused %d requests (429)", st.Refused)
	}
}

// TestBadToken: an unknown token is Unauthorized with Cloudflare's code;
// one without write permission, or without the zone, is Forbidden.
func TestBadToken(t *testing.T) {
	s := cftest.Start(t, cftest.Options{})
	s.AddToken("read-only", false)
	s.AddToken("other-zone", true, "elsewhere.test")
	s.AddZone("z.test", cftest.Free)
	s.AddZone("elsewhere.test", cftest.Free)
	bad := client(t, s, func(c *cloudflare.Config) { c.Token = "wrong" })
	_, err := bad.ListZones(t.Context())
	if !errors.Is(err, apperr.Unauthorized) || !strings.Contains(err.Error(), "Invalid access token (code 9109)") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("ListZones with a wrong token: %v; want unauthorized with code 9109 and without the token", err)
	}
	ro := client(t, s, func(c *cloudflare.Config) { c.Token = "read-only" })
	if _, err := ro.GetRecords(t.Context(), "z.test"); err != nil {
		t.Fatalf("GetRecords with a read-only token: %v", err)
	}
	_, err = ro.AppendRecords(t.Context(), "z.test", []dnsprovider.Record{{Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.1"}})
	if !errors.Is(err, apperr.Forbidden) || !strings.Contains(err.Error(), "Authentication error (code 10000)") {
		t.Fatalf("AppendRecords with a read-only token: %v; want forbidden with code 10000", err)
	}
	oz := client(t, s, func(c *cloudflare.Config) { c.Token = "other-zone" })
	if _, err := oz.GetRecords(t.Context(), "z.test"); !errors.Is(err, apperr.NotFound) {
		t.Fatalf("GetRecords of a zone the token may not see: %v; want not_found", err)
	}
	if _, err := cloudflare.New(cloudflare.Config{}); !errors.Is(err, apperr.Invalid) {
		t.Fatalf("New without a token: %v", err)
	}
}

// TestRateLimit: 1,500 requests' worth of reads go through without one
// beyond 1,200 in any 5 minutes (the fake never answers 429), and take
// the time the bucket says.
func TestRateLimit(t *testing.T) {
	s := cftest.Start(t, cftest.Options{})
	s.AddToken(token, true)
	s.AddZone("z.test", cftest.Free)
	c := client(t, s, nil)
	start := s.Clock.Now()
	for range 1500 {
		if _, err := c.Records(t.Context(), "00000000000000000000000000000001"); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Refused != 0 || st.MaxInWindow > cloudflare.RateLimit {
		t.Fatalf("stats %+v: want no 429 and at most %d requests in a window", st, cloudflare.RateLimit)
	}
	want := cloudflare.Duration(1500, cloudflare.RateLimit, 1, cloudflare.RateWindow)
	if got := s.Clock.Now().Sub(start); got < want-time.Second || got > want+time.Second {
		t.Fatalf("1,500 requests took %s on the clock, want the bucket's %s", got, want)
	}
}

// TestRetryAfter: a 429 (the user's budget spent elsewhere) is waited
// out for its Retry-After, then the request is sent once more; a
// Retry-After beyond MaxRetryWait is an error saying when to retry.
func TestRetryAfter(t *testing.T) {
	s := cftest.Start(t, cftest.Options{})
	s.AddToken(token, true)
	s.AddZone("z.test", cftest.Free)
	s.Use(1200)
	c := client(t, s, nil)
	start := s.Clock.Now()
	if _, err := c.ListZones(t.Context()); err != nil {
		t.Fatalf("ListZones after a 429: %v", err)
	}
	if st := s.Stats(); st.Refused != 1 || st.Served != 2 {
		t.Fatalf("stats %+v: want one 429 and one request after it", st)
	}
	if waited := s.Clock.Now().Sub(start); waited < 5*time.Minute {
		t.Fatalf("waited %s, want the Retry-After of 5 minutes", waited)
	}

	s2 := cftest.Start(t, cftest.Options{})
	s2.AddToken(token, true)
	s2.Use(1200)
	short := client(t, s2, func(c *cloudflare.Config) { c.Clock, c.MaxRetryWait = s2.Clock, time.Minute })
	_, err := short.ListZones(t.Context())
	if !errors.Is(err, apperr.TooManyRequests) || !strings.Contains(err.Error(), "retry after 5m0s") {
		t.Fatalf("ListZones with a Retry-After beyond the bound: %v", err)
	}
	if st := s2.Stats(); st.Served != 1 {
		t.Fatalf("stats %+v: want the one refused request only", st)
	}
}

// TestMalformed: a malformed answer is a clear error, and a change whose
// answer was malformed before anything was written leaves the zone as it
// was.
func TestMalformed(t *testing.T) {
	s := cftest.Start(t, cftest.Options{})
	s.AddToken(token, true)
	s.AddZone("z.test", cftest.Free)
	c := client(t, s, nil)
	ctx := t.Context()
	if _, err := c.SetRecords(ctx, "z.test", []dnsprovider.Record{{Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.1"}}); err != nil {
		t.Fatal(err)
	}
	before := s.Records("z.test")
	s.Malform("GET", "/dns_records", 1)
	_, err := c.SetRecords(ctx, "z.test", []dnsprovider.Record{{Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.2"}})
	if !errors.Is(err, apperr.Unavailable) || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("SetRecords over a malformed list: %v; want unavailable saying malformed", err)
	}
	if after := s.Records("z.test"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("the zone changed: %v, was %v", after, before)
	}
	s.Malform("POST", "/batch", 1)
	_, err = c.SetRecords(ctx, "z.test", []dnsprovider.Record{{Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.2"}})
	if !errors.Is(err, apperr.Unavailable) || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("SetRecords with a malformed batch answer: %v", err)
	}
	if after := s.Records("z.test"); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("the zone changed: %v, was %v", after, before)
	}
}

// TestBatches: a change larger than the plan's batch limit goes in
// batches of at most the limit (the fake refuses larger ones whole), each
// RRset in one; none is lost.
func TestBatches(t *testing.T) {
	s := cftest.Start(t, cftest.Options{})
	s.AddToken(token, true)
	s.AddZone("z.test", cftest.Free)
	c := client(t, s, nil)
	var recs []dnsprovider.Record
	for i := range 450 {
		recs = append(recs, dnsprovider.Record{Name: fmt.Sprintf("h%d", i), Type: "A", TTL: time.Minute, Value: "192.0.2.1"})
	}
	n := c.Requests()
	if _, err := c.AppendRecords(t.Context(), "z.test", recs); err != nil {
		t.Fatal(err)
	}
	if got := len(s.Records("z.test")); got != 450 {
		t.Fatalf("the zone holds %d records, want 450", got)
	}
	if got := c.Requests() - n; got != 2+3 {
		t.Fatalf("%d requests, want a zone lookup, a list and 3 batches of at most 200", got)
	}
	// Too big for any batch: refused before sending.
	big := client(t, s, func(c *cloudflare.Config) { c.BatchLimit = 3 })
	var rrset []dnsprovider.Record
	for i := range 4 {
		rrset = append(rrset, dnsprovider.Record{Name: "multi", Type: "A", TTL: time.Minute, Value: fmt.Sprintf("192.0.2.%d", i+1)})
	}
	if _, err := big.SetRecords(t.Context(), "z.test", rrset); !errors.Is(err, apperr.Invalid) {
		t.Fatalf("SetRecords of an RRset beyond the batch limit: %v", err)
	}
}

// TestProxied: records named in Config.Proxied are created proxied (TTL
// automatic); a TXT cannot be, and the fake says so too.
func TestProxied(t *testing.T) {
	s := cftest.Start(t, cftest.Options{})
	s.AddToken(token, true)
	s.AddZone("z.test", cftest.Free)
	c := client(t, s, func(c *cloudflare.Config) { c.Proxied = []string{"www.z.test."} })
	ctx := t.Context()
	if _, err := c.SetRecords(ctx, "z.test", []dnsprovider.Record{{Name: "www", Type: "A", TTL: time.Minute, Value: "192.0.2.1"}}); err != nil {
		t.Fatal(err)
	}
	rs := s.Records("z.test")
	if len(rs) != 1 || !rs[0].Proxied || rs[0].TTL != 1 {
		t.Fatalf("records %+v: want www proxied with the automatic TTL", rs)
	}
	if _, err := c.SetRecords(ctx, "z.test", []dnsprovider.Record{{Name: "www", Type: "TXT", Value: "x"}}); !errors.Is(err, apperr.Invalid) {
		t.Fatalf("a proxied TXT: %v; want invalid", err)
	}
	// The fake refuses it too (code 9004), whole.
	_, err := c.Batch(ctx, rs[0].ZoneID, cloudflare.Batch{Posts: []cloudflare.DNSRecord{
		{Type: "A", Name: "ok.z.test", Content: "192.0.2.5", TTL: 60},
		{Type: "TXT", Name: "t.z.test", Content: "x", TTL: 60, Proxied: ptr(true)}}})
	if !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "code 9004") {
		t.Fatalf("batch with a proxied TXT: %v", err)
	}
	if got := len(s.Records("z.test")); got != 1 {
		t.Fatalf("after the refused batch the zone holds %d records, want 1", got)
	}
	// A Free zone refuses a TTL of 30 s.
	if _, err := c.SetRecords(ctx, "z.test", []dnsprovider.Record{{Name: "short", Type: "A", TTL: 30 * time.Second, Value: "192.0.2.1"}}); !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "TTL") {
		t.Fatalf("TTL 30 on a Free zone: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestPagination: zones and records longer than a page are all read.
func TestPagination(t *testing.T) {
	s := cftest.Start(t, cftest.Options{})
	s.AddToken(token, true)
	for i := range 120 {
		s.AddZone(fmt.Sprintf("z%03d.test", i), cftest.Free)
	}
	c := client(t, s, func(c *cloudflare.Config) { c.PageSize = 7 })
	zs, err := c.ListZones(t.Context())
	if err != nil || len(zs) != 120 {
		t.Fatalf("ListZones = %d zones, %v; want 120", len(zs), err)
	}
	var recs []dnsprovider.Record
	for i := range 30 {
		recs = append(recs, dnsprovider.Record{Name: fmt.Sprintf("h%d", i), Type: "TXT", TTL: time.Minute, Value: "v"})
	}
	if _, err := c.AppendRecords(t.Context(), "z007.test", recs); err != nil {
		t.Fatal(err)
	}
	rs, err := c.GetRecords(t.Context(), "z007.test")
	if err != nil || len(rs) != 30+3 {
		t.Fatalf("GetRecords = %d records, %v; want 30 and the SOA and 2 NS", len(rs), err)
	}
}
