package dns

import (
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// udpBatch is how many datagrams one recvmmsg/sendmmsg call moves.
const udpBatch = 32

// udpReadSize is the largest request read; bigger ones are malformed here.
const udpReadSize = 4096

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// v6Batch adapts ipv6.PacketConn (its Message is the same type).
type v6Batch struct{ *ipv6.PacketConn }

func (c v6Batch) ReadBatch(ms []ipv4.Message, flags int) (int, error) {
	return c.PacketConn.ReadBatch(ms, flags)
}

func (c v6Batch) WriteBatch(ms []ipv4.Message, flags int) (int, error) {
	return c.PacketConn.WriteBatch(ms, flags)
}

// udpServer answers UDP queries in batches: each worker reads up to
// udpBatch datagrams with one system call (recvmmsg on Linux), answers them
// in turn (a UDP answer never blocks: it is a lookup in the snapshot) and
// sends the answers with one call (sendmmsg). This replaces miekg's UDP
// server, which spends two system calls and a goroutine on every query.
type udpServer struct {
	s    *Server
	conn *net.UDPConn
	bc   batchConn
	wg   sync.WaitGroup
	mu   sync.Mutex
	done bool
}

func newUDPServer(s *Server, conn *net.UDPConn) *udpServer {
	u := &udpServer{s: s, conn: conn}
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		u.bc = ipv4.NewPacketConn(conn)
	} else {
		u.bc = v6Batch{ipv6.NewPacketConn(conn)}
	}
	return u
}

// start runs one worker per usable CPU (at most 8).
func (u *udpServer) start() {
	n := min(max(runtime.GOMAXPROCS(0), 1), 8)
	for range n {
		u.wg.Add(1)
		go u.worker()
	}
}

// stop closes the socket and waits for the workers.
func (u *udpServer) stop() {
	u.mu.Lock()
	u.done = true
	u.mu.Unlock()
	u.conn.Close()
	u.wg.Wait()
}

func (u *udpServer) closed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.done
}

func (u *udpServer) worker() {
	defer u.wg.Done()
	in := make([]ipv4.Message, udpBatch)
	out := make([]ipv4.Message, udpBatch)
	outBufs := make([][]byte, udpBatch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, udpReadSize)}
		outBufs[i] = make([]byte, 0, u.s.maxUDP)
		out[i].Buffers = make([][]byte, 1)
	}
	w := &udpWriter{s: u.s, local: u.conn.LocalAddr()}
	for {
		n, err := u.bc.ReadBatch(in, 0)
		if err != nil {
			if u.closed() || errors.Is(err, net.ErrClosed) {
				return
			}
			u.s.log.Warn("udp read", "err", err)
			time.Sleep(10 * time.Millisecond) // do not spin on a persistent error
			continue
		}
		k := 0
		for i := range n {
			w.reset(in[i].Addr, outBufs[i][:0])
			u.s.servePacket(in[i].Buffers[0][:in[i].N], w)
			if len(w.out) == 0 {
				continue
			}
			outBufs[i] = w.out[:0] // keep the buffer should it have grown
			out[k].Buffers[0] = w.out
			out[k].Addr = in[i].Addr
			k++
		}
		for sent := 0; sent < k; {
			m, err := u.bc.WriteBatch(out[sent:k], 0)
			if err != nil {
				u.s.log.Debug("udp write", "err", err)
				m = 1 // skip the datagram that failed
			}
			sent += m
		}
		for i := range in {
			in[i].Addr = nil
		}
	}
}

// servePacket does for one datagram what miekg's server does: the early
// header checks, unpacking (FORMERR when that fails), TSIG verification,
// then the handler.
func (s *Server) servePacket(b []byte, w *udpWriter) {
	if len(b) < 12 {
		s.invalid(b, mdns.ErrShortRead)
		return
	}
	dh := mdns.Header{
		Id:      binary.BigEndian.Uint16(b[0:]),
		Bits:    binary.BigEndian.Uint16(b[2:]),
		Qdcount: binary.BigEndian.Uint16(b[4:]),
		Ancount: binary.BigEndian.Uint16(b[6:]),
		Nscount: binary.BigEndian.Uint16(b[8:]),
		Arcount: binary.BigEndian.Uint16(b[10:]),
	}
	switch s.accept(dh) {
	case mdns.MsgIgnore:
		return
	case mdns.MsgReject:
		w.header(dh, mdns.RcodeFormatError)
		return
	case mdns.MsgRejectNotImplemented:
		w.header(dh, mdns.RcodeNotImplemented)
		return
	}
	req := new(mdns.Msg)
	if err := req.Unpack(b); err != nil {
		s.invalid(b, err)
		w.header(dh, mdns.RcodeFormatError)
		return
	}
	if t := req.IsTsig(); t != nil && len(s.keys) > 0 {
		w.tsigStatus = mdns.TsigVerifyWithProvider(b, s.keys, "", false)
		w.tsigMAC = t.MAC
	}
	s.serve(w, req)
}

// udpWriter is the ResponseWriter of one datagram: it keeps the response
// in a buffer of the batch.
type udpWriter struct {
	s          *Server
	local      net.Addr
	remote     net.Addr
	out        []byte
	tsigStatus error
	tsigMAC    string
}

var _ mdns.ResponseWriter = (*udpWriter)(nil)

func (w *udpWriter) reset(remote net.Addr, buf []byte) {
	w.remote, w.out, w.tsigStatus, w.tsigMAC = remote, buf, nil, ""
}

// header answers with a bare header: QR, the opcode, rcode, and RD/CD
// copied for queries (as miekg's SetRcodeFormatError does).
func (w *udpWriter) header(dh mdns.Header, rcode int) {
	const qr, rd, cd = 1 << 15, 1 << 8, 1 << 4
	opcode := int(dh.Bits>>11) & 0xF
	bits := uint16(qr) | uint16(opcode)<<11 | uint16(rcode&0xF)
	if opcode == mdns.OpcodeQuery {
		bits |= dh.Bits & (rd | cd)
	}
	var h [12]byte
	binary.BigEndian.PutUint16(h[0:], dh.Id)
	binary.BigEndian.PutUint16(h[2:], bits)
	w.out = append(w.out[:0], h[:]...) // counted in accept or invalid
}

func (w *udpWriter) LocalAddr() net.Addr  { return w.local }
func (w *udpWriter) RemoteAddr() net.Addr { return w.remote }

// WriteMsg packs m, signing it when it carries a TSIG.
func (w *udpWriter) WriteMsg(m *mdns.Msg) error {
	if m.IsTsig() != nil {
		data, _, err := mdns.TsigGenerateWithProvider(m, w.s.keys, w.tsigMAC, false)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	data, err := m.PackBuffer(w.out[:cap(w.out)])
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// Write keeps a copy of b as the datagram to send.
func (w *udpWriter) Write(b []byte) (int, error) {
	w.out = append(w.out[:0], b...)
	return len(b), nil
}

func (w *udpWriter) Close() error        { return nil }
func (w *udpWriter) TsigStatus() error   { return w.tsigStatus }
func (w *udpWriter) TsigTimersOnly(bool) {}
func (w *udpWriter) Hijack()             {}
