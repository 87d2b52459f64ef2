package dns

import (
	"net"
	"time"

	mdns "github.com/miekg/dns"
)

// handler adapts the Server to miekg's Handler interface without exporting
// miekg types from Server.
type handler struct{ s *Server }

func (h handler) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) { h.s.serve(w, req) }

// reply is the per-query scratch space, pooled so that the query path
// allocates little beyond what miekg needs.
type reply struct {
	msg               mdns.Msg
	opt               mdns.OPT
	answer, ns, extra []mdns.RR
	buf               []byte
	idx               [maxLabels]int
	name              [1024]byte // the lower-case name being looked up
	do                bool       // the query set the DO bit: answer with DNSSEC data
}

func (s *Server) getReply() *reply {
	if rp, ok := s.replies.Get().(*reply); ok {
		return rp
	}
	return &reply{buf: make([]byte, 4096)}
}

func (s *Server) putReply(rp *reply) {
	clear(rp.answer)
	clear(rp.ns)
	clear(rp.extra)
	rp.answer, rp.ns, rp.extra = rp.answer[:0], rp.ns[:0], rp.extra[:0]
	rp.msg = mdns.Msg{}
	rp.opt = mdns.OPT{}
	rp.do = false
	s.replies.Put(rp)
}

// serve answers one request. The caller (servePacket for UDP, miekg's
// server for TCP) has already refused what is not a query or NOTIFY, what
// has not exactly one question and what does not unpack, and has verified
// the TSIG if there is one.
func (s *Server) serve(w mdns.ResponseWriter, req *mdns.Msg) {
	s.stats.queries.Add(1)
	_, tcp := w.RemoteAddr().(*net.TCPAddr)
	if t := req.IsTsig(); t != nil {
		status := w.TsigStatus()
		if len(s.keys) == 0 {
			status = mdns.ErrSecret
		}
		if status != nil {
			s.stats.rcode(mdns.RcodeNotAuth)
			s.log.Info("TSIG verification failed", "remote", w.RemoteAddr().String(), "key", t.Hdr.Name, "err", status)
			_ = writeTsigError(w, req, status)
			return
		}
	}
	rp := s.getReply()
	defer s.putReply(rp)
	m := &rp.msg
	m.Id = req.Id
	m.Response = true
	m.Opcode = req.Opcode
	m.RecursionDesired = req.RecursionDesired
	m.CheckingDisabled = req.CheckingDisabled
	m.Question = req.Question
	m.Compress = true

	opt, nopt := requestOPT(req)
	switch {
	case nopt > 1:
		s.finish(w, req, rp, nil, mdns.RcodeFormatError)
		return
	case opt != nil && opt.Version() != 0:
		s.finish(w, req, rp, opt, mdns.RcodeBadVers)
		return
	}
	q := &req.Question[0]
	if req.Opcode == mdns.OpcodeNotify {
		s.notifyIn(w, req, rp, opt)
		return
	}
	if q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY {
		s.finish(w, req, rp, opt, mdns.RcodeRefused)
		return
	}
	switch q.Qtype {
	case mdns.TypeAXFR, mdns.TypeIXFR:
		s.transfer(w, req, rp, opt, tcp)
		return
	case mdns.TypeOPT, mdns.TypeTSIG, mdns.TypeTKEY:
		s.finish(w, req, rp, opt, mdns.RcodeFormatError)
		return
	case mdns.TypeMAILA, mdns.TypeMAILB:
		s.finish(w, req, rp, opt, mdns.RcodeNotImplemented)
		return
	}
	rp.do = opt != nil && opt.Do()
	rcode, aa, referral := s.snap.Load().resolve(q, rp)
	m.Authoritative = aa
	m.Answer, m.Ns, m.Extra = rp.answer, rp.ns, rp.extra
	s.fit(m, s.sizeLimit(req, opt, tcp), referral)
	s.finish(w, req, rp, opt, rcode)
}

// requestOPT returns the request's OPT record and how many it has.
func requestOPT(req *mdns.Msg) (*mdns.OPT, int) {
	var opt *mdns.OPT
	n := 0
	for _, rr := range req.Extra {
		if o, ok := rr.(*mdns.OPT); ok {
			opt = o
			n++
		}
	}
	return opt, n
}

// sizeLimit is the largest response the client can take: 512 octets on UDP
// without EDNS, the advertised size (at least 512, at most MaxUDPSize) with
// it, 64 KiB on TCP; room for a TSIG is reserved when one will be added.
func (s *Server) sizeLimit(req *mdns.Msg, opt *mdns.OPT, tcp bool) int {
	size := mdns.MinMsgSize
	switch {
	case tcp:
		size = mdns.MaxMsgSize
	case opt != nil:
		size = min(max(int(opt.UDPSize()), mdns.MinMsgSize), s.maxUDP)
	}
	if t := req.IsTsig(); t != nil {
		size -= 100 + len(t.Hdr.Name) + len(t.Algorithm)
	}
	if opt != nil {
		size -= 11 // our OPT record, added after fitting
	}
	return size
}

// fit makes m fit in size octets. Additional data is dropped first without
// setting TC (RFC 2181 section 9), except for a referral's glue; when the
// answer and authority themselves do not fit the sections are emptied and
// TC is set so that the client retries over TCP and gets it all.
func (s *Server) fit(m *mdns.Msg, size int, referral bool) {
	m.Compress = false
	n := m.Len()
	m.Compress = true
	if n <= size || m.Len() <= size {
		return
	}
	if !referral && len(m.Extra) > 0 {
		m.Extra = m.Extra[:0]
		if m.Len() <= size {
			return
		}
	}
	m.Answer, m.Ns, m.Extra = m.Answer[:0], m.Ns[:0], m.Extra[:0]
	m.Truncated = true
	s.stats.truncated.Add(1)
}

// finish sets the RCODE, adds the OPT (RFC 6891 section 7: echo when the
// request had one), signs when the request was signed, and writes.
func (s *Server) finish(w mdns.ResponseWriter, req *mdns.Msg, rp *reply, opt *mdns.OPT, rcode int) {
	m := &rp.msg
	m.Rcode = rcode
	if rcode == mdns.RcodeFormatError || rcode == mdns.RcodeNotImplemented || rcode == mdns.RcodeRefused || rcode == mdns.RcodeBadVers {
		m.Authoritative = false
		m.Answer, m.Ns, m.Extra = nil, nil, rp.extra[:0]
	}
	if m.Extra == nil {
		m.Extra = rp.extra[:0]
	}
	if opt != nil && rcode != mdns.RcodeFormatError {
		rp.opt.Hdr = mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}
		rp.opt.SetUDPSize(uint16(s.maxUDP))
		if opt.Do() {
			rp.opt.SetDo()
		}
		m.Extra = append(m.Extra, &rp.opt)
		rp.extra = m.Extra // keep the grown array for the next query
	}
	s.stats.rcode(rcode)
	if t := req.IsTsig(); t != nil {
		m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
		if err := w.WriteMsg(m); err != nil {
			s.log.Debug("write response", "err", err)
		}
		return
	}
	b, err := m.PackBuffer(rp.buf)
	if err != nil {
		s.log.Warn("pack response", "qname", req.Question[0].Name, "err", err)
		return
	}
	if _, err := w.Write(b); err != nil {
		s.log.Debug("write response", "err", err)
	}
}
