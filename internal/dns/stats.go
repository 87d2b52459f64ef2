package dns

import (
	"strconv"
	"sync/atomic"

	mdns "github.com/miekg/dns"
)

// Stats are the server's counters since it was created.
type Stats struct {
	Queries          uint64            // requests received (queries, transfers, NOTIFY)
	Responses        map[string]uint64 // responses by RCODE name ("NOERROR", "NXDOMAIN", ...)
	Truncated        uint64            // UDP responses sent with TC
	Transfers        uint64            // AXFR/IXFR responses sent in full
	TransfersRefused uint64            // transfers refused by the ACL or TSIG
	NotifiesSent     uint64            // NOTIFY messages sent, retries included
	NotifiesAcked    uint64            // NOTIFYs answered by the secondary
	NotifiesFailed   uint64            // NOTIFYs given up after all retries or refused
}

// counters are the atomic counters behind Stats.
type counters struct {
	queries          atomic.Uint64
	rcodes           [24]atomic.Uint64
	truncated        atomic.Uint64
	transfers        atomic.Uint64
	transfersRefused atomic.Uint64
	notifiesSent     atomic.Uint64
	notifiesAcked    atomic.Uint64
	notifiesFailed   atomic.Uint64
}

func (c *counters) rcode(rc int) {
	if rc >= 0 && rc < len(c.rcodes) {
		c.rcodes[rc].Add(1)
	}
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	st := Stats{
		Queries:          c.queries.Load(),
		Responses:        map[string]uint64{},
		Truncated:        c.truncated.Load(),
		Transfers:        c.transfers.Load(),
		TransfersRefused: c.transfersRefused.Load(),
		NotifiesSent:     c.notifiesSent.Load(),
		NotifiesAcked:    c.notifiesAcked.Load(),
		NotifiesFailed:   c.notifiesFailed.Load(),
	}
	for rc := range c.rcodes {
		if n := c.rcodes[rc].Load(); n > 0 {
			name, ok := mdns.RcodeToString[rc]
			if rc == mdns.RcodeBadVers {
				name = "BADVERS" // 16 is BADSIG only inside a TSIG record
			} else if !ok {
				name = "RCODE" + strconv.Itoa(rc)
			}
			st.Responses[name] = n
		}
	}
	return st
}
