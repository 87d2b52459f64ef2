package cli

import (
	"net"
	"net/netip"
	"time"

	"github.com/pires/go-proxyproto"
)

// proxyHeaderTimeout bounds the wait for a trusted proxy's PROXY header.
const proxyHeaderTimeout = 5 * time.Second

// proxyListener reads the PROXY protocol header (v1 or v2) that a load
// balancer in front of the server sends, so that the API sees the agent's
// real address (allow-lists, refusal events). Only connections whose direct
// peer is in trusted are read that way, and a header there is optional
// (health checks often come without one); on any other connection the
// first bytes are left alone, so a forged header only breaks its own TLS
// handshake.
func proxyListener(ln net.Listener, trusted []netip.Prefix) net.Listener {
	return &proxyproto.Listener{
		Listener:          ln,
		ReadHeaderTimeout: proxyHeaderTimeout,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if tcp, ok := o.Upstream.(*net.TCPAddr); ok {
				if ip, ok := netip.AddrFromSlice(tcp.IP); ok {
					ip = ip.Unmap()
					for _, p := range trusted {
						if p.Contains(ip) {
							return proxyproto.USE, nil
						}
					}
				}
			}
			return proxyproto.SKIP, nil
		},
	}
}
