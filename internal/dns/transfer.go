package dns

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	mdns "github.com/miekg/dns"
)

// xfrMessageSize is the budget of RDATA octets per transfer message, well
// below the 64 KiB TCP limit so that compression, OPT and TSIG always fit.
const xfrMessageSize = 16 << 10

// transfer answers AXFR (RFC 5936) and IXFR (RFC 1995) requests.
func (s *Server) transfer(w mdns.ResponseWriter, req *mdns.Msg, rp *reply, opt *mdns.OPT, tcp bool) {
	q := req.Question[0]
	if !s.transferAllowed(w, req) {
		s.stats.transfersRefused.Add(1)
		s.log.Info("transfer refused", "zone", q.Name, "type", mdns.TypeToString[q.Qtype], "remote", w.RemoteAddr().String())
		s.finish(w, req, rp, opt, mdns.RcodeRefused)
		return
	}
	zd := s.snap.Load().zones.get(strings.ToLower(q.Name))
	if zd == nil {
		s.finish(w, req, rp, opt, mdns.RcodeNotAuth) // RFC 5936 section 2.2.1
		return
	}
	var rrs []mdns.RR
	switch q.Qtype {
	case mdns.TypeAXFR:
		if !tcp {
			s.stats.transfersRefused.Add(1)
			s.finish(w, req, rp, opt, mdns.RcodeRefused) // AXFR is TCP only
			return
		}
		rrs = zd.axfr()
	case mdns.TypeIXFR:
		var client *mdns.SOA
		if len(req.Ns) == 1 {
			client, _ = req.Ns[0].(*mdns.SOA)
		}
		if client == nil {
			s.finish(w, req, rp, opt, mdns.RcodeFormatError) // RFC 1995 section 3
			return
		}
		switch {
		case !SerialGreater(zd.serial, client.Serial):
			rrs = []mdns.RR{zd.soa} // up to date: the condensed answer
		case !tcp:
			rrs = []mdns.RR{zd.soa} // RFC 1995 section 2: a UDP reply that would not fit
		default:
			if rrs = zd.ixfr(client.Serial); rrs == nil {
				rrs = zd.axfr() // journal does not reach back: the whole zone
			}
		}
		if len(rrs) == 1 {
			rp.msg.Authoritative = true
			rp.answer = append(rp.answer, zd.soa)
			rp.msg.Answer = rp.answer
			s.stats.transfers.Add(1)
			s.finish(w, req, rp, opt, mdns.RcodeSuccess)
			return
		}
	}
	if err := s.stream(w, req, opt, rrs); err != nil {
		s.log.Warn("transfer failed", "zone", zd.name, "remote", w.RemoteAddr().String(), "err", err)
		return
	}
	s.stats.transfers.Add(1)
	s.stats.rcode(mdns.RcodeSuccess)
	s.log.Info("transfer sent", "zone", zd.name, "type", mdns.TypeToString[q.Qtype], "serial", zd.serial,
		"records", len(rrs), "remote", w.RemoteAddr().String())
}

// transferAllowed applies the ACL and the TSIG requirement. The signature
// itself was verified before the request got here.
func (s *Server) transferAllowed(w mdns.ResponseWriter, req *mdns.Msg) bool {
	ip := remoteIP(w.RemoteAddr())
	if !ip.IsValid() || !slices.ContainsFunc(s.cfg.AllowTransfer, func(p netip.Prefix) bool { return p.Contains(ip) }) {
		return false
	}
	if !s.cfg.RequireTSIG {
		return true
	}
	t := req.IsTsig()
	if t == nil {
		return false
	}
	return s.cfg.TransferKey == "" || strings.EqualFold(t.Hdr.Name, s.cfg.TransferKey)
}

// remoteIP returns the IP of a UDP or TCP address, IPv4-mapped unmapped.
func remoteIP(a net.Addr) netip.Addr {
	switch v := a.(type) {
	case *net.UDPAddr:
		return v.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return v.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// stream writes rrs as a sequence of messages, each signed when the request
// was (RFC 8945 section 5.3.1: later messages sign with the timers only).
func (s *Server) stream(w mdns.ResponseWriter, req *mdns.Msg, opt *mdns.OPT, rrs []mdns.RR) error {
	t := req.IsTsig()
	for first := true; len(rrs) > 0; first = false {
		n, size := 0, 0
		for n < len(rrs) && (n == 0 || size+mdns.Len(rrs[n]) <= xfrMessageSize) {
			size += mdns.Len(rrs[n])
			n++
		}
		m := new(mdns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		m.Compress = true
		m.Answer = rrs[:n:n]
		rrs = rrs[n:]
		if opt != nil && first {
			o := &mdns.OPT{Hdr: mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}}
			o.SetUDPSize(uint16(s.maxUDP))
			m.Extra = append(m.Extra, o)
		}
		if t != nil {
			m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
		}
		if err := w.WriteMsg(m); err != nil {
			return err
		}
		if t != nil {
			w.TsigTimersOnly(true)
		}
	}
	return nil
}

// axfr returns the zone as an AXFR answer: SOA, every other RR, SOA.
func (zd *zoneData) axfr() []mdns.RR {
	body := zd.records()
	rrs := make([]mdns.RR, 0, len(body)+2)
	rrs = append(rrs, zd.soa)
	rrs = append(rrs, body...)
	return append(rrs, zd.soa)
}

// ixfr returns the IXFR answer from serial from to the current serial
// (RFC 1995 section 4), or nil when the journal cannot provide it.
func (zd *zoneData) ixfr(from uint32) []mdns.RR {
	if zd.sec != nil {
		return nil // the journal has no signatures: a signed zone goes whole
	}
	j := zd.src.Journal
	i := slices.IndexFunc(j, func(d Delta) bool { return d.From == from })
	if i < 0 {
		return nil
	}
	j = j[i:]
	for k := 1; k < len(j); k++ {
		if j[k].From != j[k-1].To {
			return nil
		}
	}
	if j[len(j)-1].To != zd.serial {
		return nil
	}
	rrs := []mdns.RR{zd.soa}
	for _, d := range j {
		part, ok := zd.deltaRRs(d.From, d.Removed)
		if !ok {
			return nil
		}
		rrs = append(rrs, part...)
		if part, ok = zd.deltaRRs(d.To, d.Added); !ok {
			return nil
		}
		rrs = append(rrs, part...)
	}
	return append(rrs, zd.soa)
}

// deltaRRs returns one half of a difference sequence: the SOA with the given
// serial (the one in recs when present, else the current one) followed by
// the other records.
func (zd *zoneData) deltaRRs(serial uint32, recs []Record) ([]mdns.RR, bool) {
	soa := *zd.soa
	out := []mdns.RR{&soa}
	for _, r := range recs {
		rr, err := recordToRR(r)
		if err != nil {
			return nil, false
		}
		lowerRdataNames(rr)
		rr.Header().Name = strings.ToLower(rr.Header().Name)
		if v, ok := rr.(*mdns.SOA); ok {
			soa = *v
			continue
		}
		out = append(out, rr)
	}
	soa.Serial = serial
	return out, true
}
