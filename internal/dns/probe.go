package dns

import (
	"context"
	"fmt"

	mdns "github.com/miekg/dns"
)

// Probe asks the nameserver at server (HOST:PORT) for the SOA of zone
// ("." when empty) over UDP and returns nil once any well-formed answer
// arrives, whatever its RCODE: the nameserver is answering. It gives up
// when ctx ends or after ClientTimeout. The query is counted in the
// nameserver's Stats like any other.
func Probe(ctx context.Context, server, zone string) error {
	if zone == "" {
		zone = "."
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	m := new(mdns.Msg)
	m.SetQuestion(mdns.Fqdn(zone), mdns.TypeSOA)
	c := &mdns.Client{Net: "udp"}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return fmt.Errorf("DNS query to %s: %w", server, err)
	}
	if r.Id != m.Id || !r.Response {
		return fmt.Errorf("DNS query to %s: got a message that is not the answer", server)
	}
	return nil
}
