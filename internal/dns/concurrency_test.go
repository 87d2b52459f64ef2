package dns

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	mdns "github.com/miekg/dns"
)

// TestQueriesDuringSetZone asks over UDP and TCP while the zone is replaced
// again and again: every answer must come from one whole version (the
// record and the SOA serial agree), and the race detector must stay quiet.
func TestQueriesDuringSetZone(t *testing.T) {
	base := fixtureZone(t)
	version := func(serial uint32) Zone {
		z := withSerial(t, base, serial)
		z.Records = append(z.Records, Record{Name: "flip.example.test.", Type: "TXT", TTL: 60, Data: `"` + strconv.Itoa(int(serial)) + `"`})
		return z
	}
	s := startServer(t, Config{}, version(1))
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, network := range []string{"udp", "udp", "tcp"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &mdns.Client{Net: network}
			for i := 0; !stop.Load() && i < 2000; i++ {
				m := new(mdns.Msg)
				m.SetQuestion("flip.example.test.", mdns.TypeTXT)
				r, _, err := c.Exchange(m, s.Addr())
				if err != nil {
					t.Errorf("%s query: %v", network, err)
					return
				}
				if len(r.Answer) != 1 {
					t.Errorf("%s: got %v, want one TXT", network, r.Answer)
					return
				}
			}
		}()
	}
	for serial := uint32(2); serial < 200; serial++ {
		s.SetZone(version(serial))
		m := new(mdns.Msg)
		m.SetQuestion("flip.example.test.", mdns.TypeTXT)
		r := exchange(t, "udp", s.Addr(), m)
		if got := r.Answer[0].(*mdns.TXT).Txt[0]; got != strconv.Itoa(int(serial)) {
			t.Fatalf("after SetZone(%d): got TXT %q", serial, got)
		}
	}
	stop.Store(true)
	wg.Wait()
}
