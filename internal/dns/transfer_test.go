package dns

import (
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// transferIn runs an AXFR or IXFR with miekg's client and returns the RRs.
func transferIn(t *testing.T, addr string, m *mdns.Msg, secret string) ([]mdns.RR, error) {
	t.Helper()
	tr := &mdns.Transfer{DialTimeout: 3 * time.Second, ReadTimeout: 3 * time.Second}
	if secret != "" {
		tr.TsigSecret = map[string]string{testKeyName: secret}
		m.SetTsig(testKeyName, mdns.HmacSHA256, 300, time.Now().Unix())
	}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, err
	}
	var rrs []mdns.RR
	for env := range ch {
		if env.Error != nil {
			return rrs, env.Error
		}
		rrs = append(rrs, env.RR...)
	}
	return rrs, nil
}

// bigZone is the fixture plus n extra records, so that AXFR spans messages.
func bigZone(t *testing.T, n int) Zone {
	z := fixtureZone(t)
	for i := range n {
		z.Records = append(z.Records, Record{Name: "host" + strconv.Itoa(i) + ".bulk.example.test.", Type: "TXT", TTL: 300, Data: `"` + strings.Repeat("p", 100) + `"`})
	}
	return z
}

func TestAXFR(t *testing.T) {
	z := bigZone(t, 2000)
	s := startServer(t, transferConfig(), z)
	m := new(mdns.Msg)
	m.SetAxfr("example.test.")
	rrs, err := transferIn(t, s.Addr(), m, testKeySecret)
	if err != nil {
		t.Fatalf("AXFR: %v", err)
	}
	if len(rrs) != len(z.Records)+1 {
		t.Errorf("AXFR: got %d RRs, want %d (records + closing SOA)", len(rrs), len(z.Records)+1)
	}
	if rrs[0].Header().Rrtype != mdns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != mdns.TypeSOA {
		t.Errorf("AXFR must start and end with the SOA")
	}
	if got := s.Stats().Transfers; got != 1 {
		t.Errorf("stats transfers: got %d, want 1", got)
	}
}

func TestAXFRRefused(t *testing.T) {
	z := fixtureZone(t)
	s := startServer(t, transferConfig(), z)
	cfg := transferConfig()
	cfg.AllowTransfer = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	other := startServer(t, cfg, z)

	axfr := func(addr, network string, sign string) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetAxfr("example.test.")
		c := &mdns.Client{Net: network, Timeout: 3 * time.Second}
		if sign != "" {
			m.SetTsig(testKeyName, mdns.HmacSHA256, 300, time.Now().Unix())
			c.TsigSecret = map[string]string{testKeyName: sign}
		}
		r, _, err := c.Exchange(m, addr)
		if r == nil {
			t.Fatalf("AXFR: %v", err)
		}
		return r
	}
	for _, tc := range []struct {
		name          string
		addr, network string
		secret        string
		rcode         int
		tsigErr       uint16
	}{
		{"unsigned while TSIG is required", s.Addr(), "tcp", "", mdns.RcodeRefused, 0},
		{"wrong secret", s.Addr(), "tcp", "d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3I=", mdns.RcodeNotAuth, mdns.RcodeBadSig},
		{"address not allowed", other.Addr(), "tcp", testKeySecret, mdns.RcodeRefused, 0},
		{"over UDP", s.Addr(), "udp", testKeySecret, mdns.RcodeRefused, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := axfr(tc.addr, tc.network, tc.secret)
			if r.Rcode != tc.rcode || len(r.Answer) != 0 {
				t.Errorf("got %s with %d answers, want %s and none", mdns.RcodeToString[r.Rcode], len(r.Answer), mdns.RcodeToString[tc.rcode])
			}
			if tc.tsigErr != 0 && (r.IsTsig() == nil || r.IsTsig().Error != tc.tsigErr) {
				t.Errorf("TSIG error: got %v, want %d", r.IsTsig(), tc.tsigErr)
			}
		})
	}
	m := new(mdns.Msg)
	m.SetAxfr("other.test.")
	m.SetTsig(testKeyName, mdns.HmacSHA256, 300, time.Now().Unix())
	c := &mdns.Client{Net: "tcp", TsigSecret: map[string]string{testKeyName: testKeySecret}}
	// miekg's client reports a NOTAUTH as ErrAuth even when it is signed.
	if r, _, err := c.Exchange(m, s.Addr()); r == nil || r.Rcode != mdns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != 0 {
		t.Errorf("AXFR of a zone not served: got %v, %v; want a signed NOTAUTH (RFC 5936 section 2.2.1)", r, err)
	}
}

// journalZones returns versions 1..3 of a small zone, the last one with a
// journal back to serial 1.
func journalZones(t *testing.T) (v1, v3 Zone) {
	base := `@ 3600 IN SOA ns1 hostmaster SERIAL 7200 3600 1209600 300
@ 3600 IN NS ns1
ns1 3600 IN A 192.0.2.53
`
	ver := func(serial string, extra string) Zone {
		return zoneFromText(t, "j.test.", strings.ReplaceAll(base, "SERIAL", serial)+extra)
	}
	v1 = ver("1", "a 300 IN A 192.0.2.1\n")
	v2 := ver("2", "a 300 IN A 192.0.2.2\n")
	v3 = ver("3", "a 300 IN A 192.0.2.2\nb 300 IN A 192.0.2.3\n")
	r1, a1 := DiffRecords(v1.Records, v2.Records)
	r2, a2 := DiffRecords(v2.Records, v3.Records)
	v3.Journal = []Delta{{From: 1, To: 2, Removed: r1, Added: a1}, {From: 2, To: 3, Removed: r2, Added: a2}}
	return v1, v3
}

func TestIXFR(t *testing.T) {
	_, v3 := journalZones(t)
	s := startServer(t, transferConfig(), v3)
	ixfr := func(serial uint32) []string {
		m := new(mdns.Msg)
		m.SetIxfr("j.test.", serial, "ns1.j.test.", "hostmaster.j.test.")
		rrs, err := transferIn(t, s.Addr(), m, testKeySecret)
		if err != nil {
			t.Fatalf("IXFR from %d: %v", serial, err)
		}
		var out []string
		for _, rr := range rrs {
			if soa, ok := rr.(*mdns.SOA); ok {
				out = append(out, "SOA "+strconv.Itoa(int(soa.Serial)))
				continue
			}
			out = append(out, rr.Header().Name+" "+rdataString(rr))
		}
		return out
	}
	got := strings.Join(ixfr(1), ", ")
	want := "SOA 3, SOA 1, a.j.test. 192.0.2.1, SOA 2, a.j.test. 192.0.2.2, SOA 2, SOA 3, b.j.test. 192.0.2.3, SOA 3"
	if got != want {
		t.Errorf("IXFR from 1:\ngot  %s\nwant %s", got, want)
	}
	if got := strings.Join(ixfr(3), ", "); got != "SOA 3" {
		t.Errorf("IXFR when up to date: got %s, want the single SOA", got)
	}
	full := ixfr(0) // older than the journal: the whole zone, AXFR style
	if len(full) != 6 || full[0] != "SOA 3" || full[len(full)-1] != "SOA 3" {
		t.Errorf("IXFR from an unknown serial: got %v, want the full zone between SOAs", full)
	}

	m := new(mdns.Msg)
	m.SetIxfr("j.test.", 1, "ns1.j.test.", "hostmaster.j.test.")
	m.SetTsig(testKeyName, mdns.HmacSHA256, 300, time.Now().Unix())
	c := &mdns.Client{Net: "udp", TsigSecret: map[string]string{testKeyName: testKeySecret}}
	r, _, err := c.Exchange(m, s.Addr())
	if err != nil || len(r.Answer) != 1 || r.Answer[0].(*mdns.SOA).Serial != 3 {
		t.Errorf("IXFR over UDP: got %v, %v; want the single current SOA", r, err)
	}
}

// fakeSecondary records the NOTIFY messages it gets; it ignores the first
// drop ones to exercise the retries.
type fakeSecondary struct {
	mu      sync.Mutex
	got     []uint32 // serials
	signed  []bool
	drop    int
	srv     *mdns.Server
	addr    string
	arrived chan struct{}
}

func startSecondary(t *testing.T, drop int) *fakeSecondary {
	f := &fakeSecondary{drop: drop, arrived: make(chan struct{}, 16)}
	started := make(chan struct{})
	f.srv = &mdns.Server{Addr: "127.0.0.1:0", Net: "udp", TsigSecret: map[string]string{testKeyName: testKeySecret},
		NotifyStartedFunc: func() { close(started) },
		Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, req *mdns.Msg) {
			f.mu.Lock()
			if f.drop > 0 {
				f.drop--
				f.mu.Unlock()
				return
			}
			var serial uint32
			if len(req.Answer) == 1 {
				serial = req.Answer[0].(*mdns.SOA).Serial
			}
			f.got = append(f.got, serial)
			f.signed = append(f.signed, req.IsTsig() != nil && w.TsigStatus() == nil)
			f.mu.Unlock()
			m := new(mdns.Msg)
			m.SetReply(req)
			if t := req.IsTsig(); t != nil {
				m.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
			}
			w.WriteMsg(m)
			f.arrived <- struct{}{}
		})}
	go f.srv.ListenAndServe()
	<-started
	f.addr = f.srv.PacketConn.LocalAddr().String()
	t.Cleanup(func() { f.srv.Shutdown() })
	return f
}

func (f *fakeSecondary) wait(t *testing.T) {
	t.Helper()
	select {
	case <-f.arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("no NOTIFY arrived within 5 s")
	}
}

func TestNotifyOnSerialIncrease(t *testing.T) {
	sec := startSecondary(t, 2) // the first two attempts go unanswered
	cfg := transferConfig()
	cfg.Notify = []string{sec.addr}
	cfg.NotifyTimeout = 100 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	z := fixtureZone(t)
	s := startServer(t, cfg)
	s.SetZone(z) // a new zone is announced too
	sec.wait(t)
	s.SetZone(z) // same serial: no NOTIFY
	s.SetZone(withSerial(t, z, z.Serial+1))
	sec.wait(t)
	s.SetZone(withSerial(t, z, z.Serial)) // going back: no NOTIFY
	time.Sleep(300 * time.Millisecond)
	sec.mu.Lock()
	defer sec.mu.Unlock()
	if want := []uint32{z.Serial, z.Serial + 1}; len(sec.got) != 2 || sec.got[0] != want[0] || sec.got[1] != want[1] {
		t.Errorf("NOTIFY serials: got %v, want %v", sec.got, want)
	}
	for i, ok := range sec.signed {
		if !ok {
			t.Errorf("NOTIFY %d was not signed with %s", i, testKeyName)
		}
	}
	st := s.Stats()
	if st.NotifiesAcked != 2 || st.NotifiesSent != 4 || st.NotifiesFailed != 0 {
		t.Errorf("stats: got sent %d acked %d failed %d, want 4, 2, 0", st.NotifiesSent, st.NotifiesAcked, st.NotifiesFailed)
	}
}

func TestNotifyGivesUp(t *testing.T) {
	sec := startSecondary(t, 100)
	s := startServer(t, Config{NotifyTimeout: 20 * time.Millisecond})
	s.SetNotify([]string{sec.addr})
	s.SetZone(fixtureZone(t))
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().NotifiesFailed == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := s.Stats(); st.NotifiesFailed != 1 || st.NotifiesSent != notifyAttempts {
		t.Errorf("stats: got sent %d failed %d, want %d and 1", st.NotifiesSent, st.NotifiesFailed, notifyAttempts)
	}
}
