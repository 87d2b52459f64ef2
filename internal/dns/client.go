package dns

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/poolctl/poolctl/internal/apperr"
)

// This file is the client side of the DNS protocol that poolctl needs to
// drive another primary server: zone transfers to read a zone (RFC 5936)
// and dynamic updates to change it (RFC 2136), both signed with TSIG
// (RFC 8945, hmac-sha256). The other packages keep to these helpers: only
// this package speaks the wire format.

// TSIGKey is a TSIG key shared with a server: Name is the key's name (a
// domain name, "update-key." or without the dot), Secret its base64
// secret. The algorithm is hmac-sha256.
type TSIGKey struct {
	Name   string
	Secret string
}

// Check validates k; errors are of kind apperr.Invalid and never hold the
// secret.
func (k TSIGKey) Check() error {
	if strings.TrimSpace(k.Name) == "" {
		return apperr.New(apperr.Invalid, "TSIG key: the name is empty")
	}
	if _, ok := mdns.IsDomainName(k.Name); !ok {
		return apperr.New(apperr.Invalid, "TSIG key %q: the name is not a domain name", k.Name)
	}
	raw, err := base64.StdEncoding.DecodeString(k.Secret)
	if err != nil || len(raw) == 0 {
		return apperr.New(apperr.Invalid, "TSIG key %q: the secret is not base64 (as in the server's key statement)", k.Name)
	}
	return nil
}

func (k TSIGKey) fqdn() string { return strings.ToLower(mdns.Fqdn(strings.TrimSpace(k.Name))) }

func (k TSIGKey) secrets() map[string]string { return map[string]string{k.fqdn(): k.Secret} }

// ClientTimeout bounds one exchange with a server when the context has no
// earlier deadline.
const ClientTimeout = 10 * time.Second

// Expect is a prerequisite of an update (RFC 2136 section 2.4): the RRset
// Name/Type holds exactly Records (their TTLs are not compared), or, when
// Records is empty, does not exist.
type Expect struct {
	Name    string // absolute
	Type    string
	Records []Record
}

// UpdateRequest is one dynamic update: when every prerequisite holds,
// the deletions and then the additions are applied as one change (RFC
// 2136 section 3.4: all or nothing). A deletion with empty Data deletes
// the whole RRset of its name and type; one with an empty Type every
// RRset of its name (the SOA and apex NS excepted, by the server).
type UpdateRequest struct {
	Expect []Expect
	Delete []Record
	Add    []Record
}

// ErrPrerequisite is returned (with kind apperr.Conflict) when the server
// refused an update because a prerequisite did not hold: the zone changed
// since it was read.
var ErrPrerequisite = errors.New("the zone changed since it was read")

// Update sends req for zone to server (HOST:PORT) over TCP, signed with
// key. Records are absolute and normalised ([NormalizeRecord]). Errors
// are of an apperr kind naming the server and zone: Invalid (a record
// that cannot be sent, NOTZONE, FORMERR), Unauthorized (a TSIG failure),
// Forbidden (REFUSED: the key may not update the zone), NotFound (the
// server is not authoritative for the zone), Conflict wrapping
// [ErrPrerequisite], Unavailable (unreachable, SERVFAIL, timeouts).
func Update(ctx context.Context, server, zone string, key TSIGKey, req UpdateRequest) error {
	origin, err := CanonicalZoneName(zone)
	if err != nil {
		return err
	}
	m := new(mdns.Msg)
	m.SetUpdate(origin)
	for _, e := range req.Expect {
		rrs, err := toRRs(e.Records)
		if err != nil {
			return err
		}
		if len(rrs) == 0 {
			t, ok := supportedTypes[strings.ToUpper(e.Type)]
			if !ok {
				return apperr.New(apperr.Invalid, "update of %s: prerequisite type %q is not supported", origin, e.Type)
			}
			m.RRsetNotUsed([]mdns.RR{&mdns.ANY{Hdr: mdns.RR_Header{Name: e.Name, Rrtype: t}}})
			continue
		}
		m.Used(rrs)
	}
	for _, d := range req.Delete {
		switch {
		case d.Type == "":
			m.RemoveName([]mdns.RR{&mdns.ANY{Hdr: mdns.RR_Header{Name: d.Name}}})
		case d.Data == "":
			t, ok := supportedTypes[strings.ToUpper(d.Type)]
			if !ok {
				return apperr.New(apperr.Invalid, "update of %s: type %q is not supported", origin, d.Type)
			}
			m.RemoveRRset([]mdns.RR{&mdns.ANY{Hdr: mdns.RR_Header{Name: d.Name, Rrtype: t}}})
		default:
			rrs, err := toRRs([]Record{d})
			if err != nil {
				return err
			}
			m.Remove(rrs)
		}
	}
	adds, err := toRRs(req.Add)
	if err != nil {
		return err
	}
	m.Insert(adds)
	r, err := signedExchange(ctx, server, key, m)
	if err != nil {
		return fmt.Errorf("update of %s at %s: %w", origin, server, err)
	}
	switch r.Rcode {
	case mdns.RcodeSuccess:
		return nil
	case mdns.RcodeYXRrset, mdns.RcodeNXRrset, mdns.RcodeYXDomain, mdns.RcodeNameError:
		return apperr.Wrap(apperr.Conflict, ErrPrerequisite, "update of %s at %s: %s", origin, server, mdns.RcodeToString[r.Rcode])
	}
	return rcodeError(r, "update of "+origin, server, origin)
}

// Transfer reads zone from server (HOST:PORT) by AXFR over TCP, signed
// with key, and returns its records (absolute, canonical; the SOA once).
// Records of types poolctl does not store are returned as the server
// prints them. It first asks for the zone's SOA, so that a server that
// does not have the zone or refuses the key says so clearly; errors are
// of the kinds [Update] returns.
func Transfer(ctx context.Context, server, zone string, key TSIGKey) ([]Record, error) {
	origin, err := CanonicalZoneName(zone)
	if err != nil {
		return nil, err
	}
	q := new(mdns.Msg)
	q.SetQuestion(origin, mdns.TypeSOA)
	q.RecursionDesired = false
	r, err := signedExchange(ctx, server, key, q)
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", origin, server, err)
	}
	if r.Rcode != mdns.RcodeSuccess || !r.Authoritative || !hasSOA(r.Answer, origin) {
		switch r.Rcode {
		case mdns.RcodeSuccess, mdns.RcodeNameError, mdns.RcodeRefused, mdns.RcodeNotAuth:
			// Knot and BIND refuse a query for a zone they do not have.
			return nil, apperr.New(apperr.NotFound, "%s does not serve zone %s (%s to its SOA)", server, origin, mdns.RcodeToString[r.Rcode])
		}
		return nil, rcodeError(r, "reading "+origin, server, origin)
	}

	ctx, cancel := withTimeout(ctx)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, netError(ctx, err, "reading "+origin, server)
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	tr := &mdns.Transfer{Conn: &mdns.Conn{Conn: nc}, TsigSecret: key.secrets(), ReadTimeout: time.Until(deadline(ctx))}
	m := new(mdns.Msg)
	m.SetAxfr(origin)
	m.SetTsig(key.fqdn(), mdns.HmacSHA256, 300, time.Now().Unix())
	env, err := tr.In(m, server)
	if err != nil {
		return nil, netError(ctx, err, "reading "+origin, server)
	}
	var out []Record
	soas := 0
	var failed error
	for e := range env {
		if e.Error != nil {
			if failed == nil {
				failed = e.Error
			}
			continue
		}
		for _, rr := range e.RR {
			if rr.Header().Rrtype == mdns.TypeSOA {
				if soas++; soas > 1 {
					continue // the closing SOA
				}
			}
			out = append(out, readRR(origin, rr))
		}
	}
	if failed != nil {
		if errors.Is(failed, mdns.ErrSig) || errors.Is(failed, mdns.ErrSecret) || errors.Is(failed, mdns.ErrTime) {
			return nil, apperr.Wrap(apperr.Unauthorized, failed, "reading %s from %s: the transfer's TSIG did not verify with key %s", origin, server, key.fqdn())
		}
		return nil, netError(ctx, failed, "reading "+origin+" (AXFR)", server)
	}
	if soas == 0 {
		return nil, apperr.New(apperr.Unavailable, "reading %s from %s: the transfer ended without the zone's SOA", origin, server)
	}
	return out, nil
}

// readRR is rr as a Record: canonical when poolctl can take it, else as
// the server printed it.
func readRR(origin string, rr mdns.RR) Record {
	if rec, err := normalizeRR(origin, rr); err == nil {
		return rec
	}
	h := rr.Header()
	return Record{Name: strings.ToLower(h.Name), Type: mdns.TypeToString[h.Rrtype], TTL: h.Ttl, Data: rdataString(rr)}
}

func hasSOA(rrs []mdns.RR, origin string) bool {
	for _, rr := range rrs {
		if rr.Header().Rrtype == mdns.TypeSOA && strings.EqualFold(rr.Header().Name, origin) {
			return true
		}
	}
	return false
}

func toRRs(recs []Record) ([]mdns.RR, error) {
	out := make([]mdns.RR, 0, len(recs))
	for _, r := range recs {
		rr, err := recordToRR(r)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "record %s", r)
		}
		out = append(out, rr)
	}
	return out, nil
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < ClientTimeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, ClientTimeout)
}

func deadline(ctx context.Context) time.Time {
	dl, _ := ctx.Deadline()
	return dl
}

// signedExchange sends m signed with key over TCP and checks the answer's
// signature.
func signedExchange(ctx context.Context, server string, key TSIGKey, m *mdns.Msg) (*mdns.Msg, error) {
	if err := key.Check(); err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	m.SetTsig(key.fqdn(), mdns.HmacSHA256, 300, time.Now().Unix())
	c := &mdns.Client{Net: "tcp", TsigSecret: key.secrets(), Timeout: time.Until(deadline(ctx))}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		if r != nil && r.Rcode == mdns.RcodeNotAuth {
			return nil, tsigError(r, server, key)
		}
		if errors.Is(err, mdns.ErrSig) || errors.Is(err, mdns.ErrSecret) || errors.Is(err, mdns.ErrTime) {
			return nil, apperr.Wrap(apperr.Unauthorized, err, "%s: the answer's TSIG did not verify with key %s", server, key.fqdn())
		}
		return nil, netError(ctx, err, "", server)
	}
	if t := r.IsTsig(); t != nil && t.Error != mdns.RcodeSuccess {
		return nil, tsigError(r, server, key)
	}
	return r, nil
}

func tsigError(r *mdns.Msg, server string, key TSIGKey) error {
	code := "BADSIG or BADKEY"
	if t := r.IsTsig(); t != nil && t.Error != mdns.RcodeSuccess {
		code = mdns.RcodeToString[int(t.Error)]
	}
	return apperr.New(apperr.Unauthorized, "%s refused TSIG key %s (%s): check the key's name and secret", server, key.fqdn(), code)
}

// rcodeError maps a failure rcode to an apperr kind.
func rcodeError(r *mdns.Msg, what, server, origin string) error {
	rc := mdns.RcodeToString[r.Rcode]
	switch r.Rcode {
	case mdns.RcodeRefused:
		return apperr.New(apperr.Forbidden, "%s: %s answered REFUSED: either the key may not change %s (BIND's allow-update, Knot's acl) or the server's own checks refused the change (BIND's check-integrity refuses an MX or SRV target inside the zone without an address): its log says which", what, server, origin)
	case mdns.RcodeNotAuth:
		return apperr.New(apperr.NotFound, "%s: %s is not authoritative for %s (NOTAUTH)", what, server, origin)
	case mdns.RcodeNotZone, mdns.RcodeFormatError, mdns.RcodeNotImplemented:
		return apperr.New(apperr.Invalid, "%s: %s answered %s", what, server, rc)
	}
	return apperr.New(apperr.Unavailable, "%s: %s answered %s", what, server, rc)
}

func netError(ctx context.Context, err error, what, server string) error {
	prefix := server
	if what != "" {
		prefix = what + ": " + server
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", prefix, ctx.Err())
	}
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return apperr.Wrap(apperr.Unavailable, err, "%s did not answer in time", prefix)
	}
	return apperr.Wrap(apperr.Unavailable, err, "cannot reach %s", prefix)
}
