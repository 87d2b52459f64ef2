package dns

import (
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// rawUDP sends b to addr and returns the unpacked reply.
func rawUDP(t *testing.T, addr string, b []byte) *mdns.Msg {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	r := new(mdns.Msg)
	if err := r.Unpack(buf[:n]); err != nil {
		t.Fatalf("unpack reply: %v", err)
	}
	return r
}

func TestProtocolErrors(t *testing.T) {
	s := startServer(t, Config{}, fixtureZone(t))

	t.Run("two questions are FORMERR", func(t *testing.T) {
		m := new(mdns.Msg)
		m.SetQuestion("web.example.test.", mdns.TypeA)
		m.Question = append(m.Question, m.Question[0])
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if r := rawUDP(t, s.Addr(), b); r.Rcode != mdns.RcodeFormatError {
			t.Errorf("rcode: got %s, want FORMERR", mdns.RcodeToString[r.Rcode])
		}
	})
	t.Run("a question cut short is FORMERR", func(t *testing.T) {
		m := new(mdns.Msg)
		m.SetQuestion("web.example.test.", mdns.TypeA)
		b, _ := m.Pack()
		if r := rawUDP(t, s.Addr(), b[:len(b)-3]); r.Rcode != mdns.RcodeFormatError {
			t.Errorf("rcode: got %s, want FORMERR", mdns.RcodeToString[r.Rcode])
		}
	})
	t.Run("two OPT records are FORMERR", func(t *testing.T) {
		m := new(mdns.Msg)
		m.SetQuestion("web.example.test.", mdns.TypeA)
		m.SetEdns0(1232, false)
		m.SetEdns0(1232, false)
		m.Extra = append(m.Extra, m.Extra[0])
		r := exchange(t, "udp", s.Addr(), m)
		if r.Rcode != mdns.RcodeFormatError {
			t.Errorf("rcode: got %s, want FORMERR", mdns.RcodeToString[r.Rcode])
		}
	})
	for _, op := range []int{mdns.OpcodeUpdate, mdns.OpcodeStatus, mdns.OpcodeIQuery, 3} {
		t.Run("opcode "+mdns.OpcodeToString[op]+" is NOTIMP", func(t *testing.T) {
			m := new(mdns.Msg)
			m.SetQuestion("example.test.", mdns.TypeSOA)
			m.Opcode = op
			r := exchange(t, "udp", s.Addr(), m)
			if r.Rcode != mdns.RcodeNotImplemented {
				t.Errorf("rcode: got %s, want NOTIMP", mdns.RcodeToString[r.Rcode])
			}
		})
	}
	t.Run("EDNS version 1 is BADVERS", func(t *testing.T) {
		m := new(mdns.Msg)
		m.SetQuestion("web.example.test.", mdns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().SetVersion(1)
		r := exchange(t, "udp", s.Addr(), m)
		if r.Rcode != mdns.RcodeBadVers || r.IsEdns0() == nil || len(r.Answer) != 0 {
			t.Errorf("got rcode %s, OPT %v, %d answers; want BADVERS with OPT and no answer", mdns.RcodeToString[r.Rcode], r.IsEdns0() != nil, len(r.Answer))
		}
	})
	t.Run("class CH is REFUSED", func(t *testing.T) {
		m := new(mdns.Msg)
		m.SetQuestion("version.bind.", mdns.TypeTXT)
		m.Question[0].Qclass = mdns.ClassCHAOS
		if r := exchange(t, "udp", s.Addr(), m); r.Rcode != mdns.RcodeRefused {
			t.Errorf("rcode: got %s, want REFUSED", mdns.RcodeToString[r.Rcode])
		}
	})
	t.Run("responses are not answered", func(t *testing.T) {
		m := new(mdns.Msg)
		m.SetQuestion("web.example.test.", mdns.TypeA)
		m.Response = true
		b, _ := m.Pack()
		c, _ := net.Dial("udp", s.Addr())
		defer c.Close()
		c.Write(b)
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := c.Read(make([]byte, 512)); err == nil {
			t.Errorf("got a %d-octet reply to a response", n)
		}
	})
	t.Run("TCP keeps the connection for several queries", func(t *testing.T) {
		co, err := mdns.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer co.Close()
		for _, name := range []string{"web.example.test.", "nope.example.test.", "mail.example.test."} {
			m := new(mdns.Msg)
			m.SetQuestion(name, mdns.TypeA)
			if err := co.WriteMsg(m); err != nil {
				t.Fatal(err)
			}
			r, err := co.ReadMsg()
			if err != nil || r.Id != m.Id {
				t.Fatalf("query %s: %v (id %d, want %d)", name, err, r.Id, m.Id)
			}
		}
	})
	st := s.Stats()
	if st.Queries == 0 || st.Responses["FORMERR"] < 3 || st.Responses["NOTIMP"] < 4 {
		t.Errorf("stats: got %+v, want queries counted with FORMERR ≥ 3 and NOTIMP ≥ 4", st)
	}
}

func TestTSIGOnQueries(t *testing.T) {
	s := startServer(t, transferConfig(), fixtureZone(t))
	query := func(secret string) (*mdns.Msg, error) {
		m := new(mdns.Msg)
		m.SetQuestion("web.example.test.", mdns.TypeA)
		m.SetTsig(testKeyName, mdns.HmacSHA256, 300, time.Now().Unix())
		c := &mdns.Client{Net: "udp", Timeout: 3 * time.Second, TsigSecret: map[string]string{testKeyName: secret}}
		r, _, err := c.Exchange(m, s.Addr())
		return r, err
	}
	r, err := query(testKeySecret)
	if err != nil {
		t.Fatalf("signed query: %v (the response must be signed with the same key)", err)
	}
	if r.IsTsig() == nil || len(r.Answer) != 2 {
		t.Errorf("signed query: got TSIG %v and %d answers, want a signed answer of 2", r.IsTsig() != nil, len(r.Answer))
	}
	r, _ = query("d3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3Jvbmctd3I=")
	if r == nil || r.Rcode != mdns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != mdns.RcodeBadSig {
		t.Errorf("bad MAC: got %v, want NOTAUTH with TSIG error BADSIG", r)
	}
	m := new(mdns.Msg)
	m.SetQuestion("web.example.test.", mdns.TypeA)
	m.SetTsig("other-key.", mdns.HmacSHA256, 300, time.Now().Unix())
	c := &mdns.Client{Net: "udp", Timeout: 3 * time.Second, TsigSecret: map[string]string{"other-key.": testKeySecret}}
	r, _, _ = c.Exchange(m, s.Addr())
	if r == nil || r.Rcode != mdns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != mdns.RcodeBadKey {
		t.Errorf("unknown key: got %v, want NOTAUTH with TSIG error BADKEY", r)
	}
}

func TestListenPortZeroBindsUDPAndTCP(t *testing.T) {
	s := startServer(t, Config{Addr: "127.0.0.1:0"}, fixtureZone(t))
	_, port, _ := net.SplitHostPort(s.Addr())
	if port == "0" || port == "" {
		t.Fatalf("Addr: got %q, want the real port", s.Addr())
	}
	for _, network := range []string{"udp", "tcp"} {
		m := new(mdns.Msg)
		m.SetQuestion("web.example.test.", mdns.TypeA)
		if r := exchange(t, network, s.Addr(), m); len(r.Answer) != 2 {
			t.Errorf("%s: got %d answers, want 2", network, len(r.Answer))
		}
	}
}

func TestSetZoneSwapsAndRemoveZone(t *testing.T) {
	z := fixtureZone(t)
	s := startServer(t, Config{}, z)
	ask := func() *mdns.Msg {
		m := new(mdns.Msg)
		m.SetQuestion("new.example.test.", mdns.TypeA)
		return exchange(t, "udp", s.Addr(), m)
	}
	if r := ask(); r.Rcode != mdns.RcodeNameError {
		t.Fatalf("before: got %s, want NXDOMAIN", mdns.RcodeToString[r.Rcode])
	}
	z2 := withSerial(t, z, z.Serial+1)
	z2.Records = append(z2.Records, Record{Name: "new.example.test.", Type: "A", TTL: 60, Data: "192.0.2.200"})
	s.SetZone(z2)
	if r := ask(); len(r.Answer) != 1 {
		t.Fatalf("after SetZone: got %v, want the new record", r.Answer)
	}
	s.RemoveZone("Example.Test")
	if r := ask(); r.Rcode != mdns.RcodeRefused {
		t.Fatalf("after RemoveZone: got %s, want REFUSED", mdns.RcodeToString[r.Rcode])
	}
	if err := s.LoadZone(Zone{Name: "bad.test.", Records: []Record{{Name: "bad.test.", Type: "A", Data: "1.2.3.4"}}}); err == nil {
		t.Errorf("LoadZone without SOA: got nil error")
	}
}

// withSerial returns a copy of z whose SOA carries serial.
func withSerial(t testing.TB, z Zone, serial uint32) Zone {
	t.Helper()
	out := Zone{Name: z.Name, Serial: serial}
	for _, r := range z.Records {
		if r.Type == "SOA" {
			rr, err := recordToRR(r)
			if err != nil {
				t.Fatal(err)
			}
			rr.(*mdns.SOA).Serial = serial
			r = rrToRecord(rr)
		}
		out.Records = append(out.Records, r)
	}
	return out
}

// TestTruncatedRetryOverTCP does what a resolver does with an answer too
// big for UDP: it gets TC (with no partial RRset) and the full RRset over TCP.
func TestTruncatedRetryOverTCP(t *testing.T) {
	s := startServer(t, Config{}, fixtureZone(t))
	for _, edns := range []uint16{0, 1232} {
		name, qtype, want := "big.example.test.", mdns.TypeA, 32
		if edns > 0 {
			name, qtype, want = "huge.example.test.", mdns.TypeTXT, 40
		}
		m := new(mdns.Msg)
		m.SetQuestion(name, qtype)
		if edns > 0 {
			m.SetEdns0(edns, false)
		}
		r := exchange(t, "udp", s.Addr(), m)
		if !r.Truncated || len(r.Answer) != 0 || r.Len() > max(512, int(edns)) {
			t.Fatalf("EDNS %d over UDP: got TC=%v, %d answers, %d octets; want TC, no answer, within the limit", edns, r.Truncated, len(r.Answer), r.Len())
		}
		r = exchange(t, "tcp", s.Addr(), m)
		if r.Truncated || len(r.Answer) != want {
			t.Errorf("EDNS %d retry over TCP: got TC=%v and %d answers, want all %d", edns, r.Truncated, len(r.Answer), want)
		}
	}
	if got := s.Stats().Truncated; got != 2 {
		t.Errorf("stats: got %d truncated responses, want 2", got)
	}
}
