package dns

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
)

// notifyAttempts is how often one NOTIFY is sent before giving up: the first
// try and five retries.
const notifyAttempts = 6

// notifier sends NOTIFY messages (RFC 1996) in the background, one goroutine
// per zone and secondary; a newer change of a zone supersedes a pending one.
type notifier struct {
	s       *Server
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	targets []string
	pending map[string]*pendingNotify // zone + " " + target
}

type pendingNotify struct{ cancel context.CancelFunc }

func newNotifier(s *Server, targets []string) *notifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &notifier{s: s, ctx: ctx, cancel: cancel, targets: slices.Clone(targets), pending: map[string]*pendingNotify{}}
}

func (n *notifier) setTargets(addrs []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.targets = slices.Clone(addrs)
}

// zoneChanged starts NOTIFYs for zd's current SOA to every secondary.
func (n *notifier) zoneChanged(zd *zoneData) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ctx.Err() != nil {
		return
	}
	for _, target := range n.targets {
		key := zd.name + " " + target
		if p := n.pending[key]; p != nil {
			p.cancel()
		}
		ctx, cancel := context.WithCancel(n.ctx)
		p := &pendingNotify{cancel: cancel}
		n.pending[key] = p
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer cancel()
			n.send(ctx, zd.name, zd.soa, target)
			n.mu.Lock()
			if n.pending[key] == p {
				delete(n.pending, key)
			}
			n.mu.Unlock()
		}()
	}
}

// send delivers one NOTIFY, retrying with doubling timeouts until a reply
// with the matching ID (checked by miekg's client) arrives.
func (n *notifier) send(ctx context.Context, zone string, soa *mdns.SOA, target string) {
	s := n.s
	log := s.log.With("zone", zone, "serial", soa.Serial, "secondary", target)
	timeout := s.cfg.NotifyTimeout
	for attempt := 1; attempt <= notifyAttempts; attempt++ {
		m := new(mdns.Msg)
		m.SetNotify(zone)
		m.Authoritative = true
		m.Answer = []mdns.RR{soa}
		if s.cfg.TransferKey != "" {
			m.SetTsig(s.cfg.TransferKey, mdns.HmacSHA256, 300, time.Now().Unix())
		}
		c := &mdns.Client{Net: "udp", Timeout: timeout, TsigProvider: s.keys}
		start := time.Now()
		s.stats.notifiesSent.Add(1)
		r, _, err := c.ExchangeContext(ctx, m, target)
		if err == nil {
			if r.Rcode != mdns.RcodeSuccess {
				s.stats.notifiesFailed.Add(1)
				log.Warn("NOTIFY refused", "rcode", mdns.RcodeToString[r.Rcode])
				return
			}
			s.stats.notifiesAcked.Add(1)
			log.Debug("NOTIFY acknowledged", "attempt", attempt)
			return
		}
		if ctx.Err() != nil {
			return // superseded by a newer serial, or shutting down
		}
		log.Debug("NOTIFY not answered", "attempt", attempt, "err", err)
		if attempt == notifyAttempts {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(start.Add(timeout))):
		}
		timeout = min(timeout*2, s.cfg.NotifyTimeout*8)
	}
	s.stats.notifiesFailed.Add(1)
	log.Warn("NOTIFY failed", "attempts", notifyAttempts)
}

// stop cancels every pending NOTIFY; later zone changes send none.
func (n *notifier) stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cancel()
}

// wait waits for the NOTIFY goroutines to finish.
func (n *notifier) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notifyIn acknowledges a NOTIFY (RFC 1996) for a zone served here; as the
// primary there is nothing to refresh.
func (s *Server) notifyIn(w mdns.ResponseWriter, req *mdns.Msg, rp *reply, opt *mdns.OPT) {
	if s.snap.Load().zones.get(strings.ToLower(req.Question[0].Name)) == nil {
		s.finish(w, req, rp, opt, mdns.RcodeNotAuth)
		return
	}
	rp.msg.Authoritative = true
	s.finish(w, req, rp, opt, mdns.RcodeSuccess)
}
