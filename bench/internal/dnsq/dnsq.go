// Package dnsq is the benchmarks' minimal DNS client (one question out, the
// answer RDATA back, hand-built: only internal/dns may import the DNS
// library) and their timing helpers.
package dnsq

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"strings"
	"time"
)

// FreePort returns a loopback port that was free on both UDP and TCP.
func FreePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err == nil {
			pc.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port")
}

// Pct is the nearest-rank percentile of sorted v.
func Pct(v []time.Duration, p float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(v)))) - 1
	return v[max(0, min(i, len(v)-1))]
}

// MS formats d in milliseconds; negative means not seen.
func MS(d time.Duration) string {
	if d < 0 {
		return "not-seen"
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// Query types.
const (
	TypeA   = 1
	TypeSOA = 6
)

// query builds a non-recursive query for name/qtype.
func query(id uint16, name string, qtype uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) // flags 0, QDCOUNT 1
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, 1) // class IN
}

// skipName returns the offset after the (possibly compressed) name at off.
func skipName(m []byte, off int) (int, bool) {
	for off < len(m) {
		l := int(m[off])
		switch {
		case l == 0:
			return off + 1, true
		case l&0xC0 == 0xC0:
			return off + 2, off+2 <= len(m)
		case l&0xC0 != 0:
			return 0, false
		}
		off += 1 + l
	}
	return 0, false
}

// answers returns the RDATA of the answer records of type qtype in a
// NOERROR response, or ok=false for anything unparsable.
func answers(m []byte, qtype uint16) (rdata [][]byte, rcode int, ok bool) {
	if len(m) < 12 || m[2]&0x80 == 0 {
		return nil, 0, false
	}
	rcode = int(m[3] & 0x0F)
	qd, an := int(binary.BigEndian.Uint16(m[4:])), int(binary.BigEndian.Uint16(m[6:]))
	off := 12
	for range qd {
		if off, ok = skipName(m, off); !ok || off+4 > len(m) {
			return nil, rcode, false
		}
		off += 4
	}
	for range an {
		if off, ok = skipName(m, off); !ok || off+10 > len(m) {
			return nil, rcode, false
		}
		t, class := binary.BigEndian.Uint16(m[off:]), binary.BigEndian.Uint16(m[off+2:])
		n := int(binary.BigEndian.Uint16(m[off+8:]))
		off += 10
		if off+n > len(m) {
			return nil, rcode, false
		}
		if t == qtype && class == 1 {
			rdata = append(rdata, m[off:off+n])
		}
		off += n
	}
	return rdata, rcode, true
}

// WaitFor queries addr for name/qtype every interval (on a socket of its
// own, so that no late answer to an earlier wait can count) until an
// answer record satisfies ok. It returns when that answer arrived and how
// many queries were sent.
func WaitFor(ctx context.Context, addr, name string, qtype uint16, interval time.Duration, ok func([]byte) bool) (time.Time, int, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return time.Time{}, 0, err
	}
	defer conn.Close()
	first := uint16(mrand.Uint32())
	id := first
	buf := make([]byte, 4096)
	sent := 0
	next := time.Now()
	for {
		if ctx.Err() != nil {
			return time.Time{}, sent, ctx.Err()
		}
		id++
		if _, err := conn.Write(query(id, name, qtype)); err != nil && ctx.Err() == nil {
			time.Sleep(interval) // e.g. ICMP refused while a daemon restarts
		}
		sent++
		next = next.Add(interval)
		if now := time.Now(); next.Before(now) {
			next = now.Add(interval)
		}
		for {
			if ctx.Err() != nil {
				return time.Time{}, sent, ctx.Err()
			}
			_ = conn.SetReadDeadline(next)
			n, err := conn.Read(buf)
			at := time.Now()
			if err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					time.Sleep(time.Until(next)) // ECONNREFUSED and the like
				}
				break
			}
			m := buf[:n]
			if n < 2 || binary.BigEndian.Uint16(m)-first-1 >= id-first {
				continue // not one of our IDs first+1 ... id
			}
			rds, rcode, valid := answers(m, qtype)
			if !valid || rcode != 0 {
				continue
			}
			for _, rd := range rds {
				if ok(rd) {
					return at, sent, nil
				}
			}
		}
	}
}
