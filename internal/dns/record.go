package dns

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"
)

// Record is one resource record in presentation form.
//
// Name is an absolute lower-case FQDN with a trailing dot. Type is the
// upper-case mnemonic of one of the [SupportedTypes]. Data is the RDATA in
// zone-file presentation format, as printed by [NormalizeRecord].
type Record struct {
	Name string
	Type string
	TTL  uint32
	Data string
}

// String returns the record as one zone-file line (tab separated, class IN).
func (r Record) String() string {
	return r.Name + "\t" + strconv.FormatUint(uint64(r.TTL), 10) + "\tIN\t" + r.Type + "\t" + r.Data
}

// Delta is one change of a zone between two serials, used to answer IXFR.
//
// Removed and Added may contain the old and new SOA records (as produced by
// [DiffRecords] over two versions of a zone) or omit them: the IXFR builder
// always emits the SOA with serial From before the removals and the SOA with
// serial To before the additions, and ignores SOA records inside the lists.
type Delta struct {
	From, To       uint32
	Removed, Added []Record
}

// Zone is a complete zone.
//
// Records include exactly one SOA (at the apex, whose serial equals Serial)
// and the apex NS set. Journal lists the recent changes, oldest first, each
// Delta's To equal to the next one's From and the last one's To equal to
// Serial; it may be empty, and IXFR clients then get the full zone.
type Zone struct {
	Name    string
	Serial  uint32
	Records []Record
	Journal []Delta
	// DNSSEC, when set, serves the zone signed with these keys.
	DNSSEC *Signing
}

// DefaultTTL is the TTL that zone files without $TTL or an explicit TTL get
// (miekg's default, the usual one hour).
const DefaultTTL = 3600

// MaxTTL is the largest TTL [NormalizeRecord] accepts: RFC 2181 section 8
// limits TTLs to 31 bits.
const MaxTTL = 2147483647

// supportedTypes maps the mnemonics the zone service may store to their codes.
var supportedTypes = map[string]uint16{
	"A":     mdns.TypeA,
	"AAAA":  mdns.TypeAAAA,
	"CNAME": mdns.TypeCNAME,
	"MX":    mdns.TypeMX,
	"TXT":   mdns.TypeTXT,
	"SRV":   mdns.TypeSRV,
	"NS":    mdns.TypeNS,
	"SOA":   mdns.TypeSOA,
	"CAA":   mdns.TypeCAA,
	"PTR":   mdns.TypePTR,
}

// SupportedTypes returns the record types poolctl stores and serves, in a
// stable order.
func SupportedTypes() []string {
	return []string{"A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT"}
}

// recordToRR parses a normalised record into a miekg RR.
func recordToRR(r Record) (mdns.RR, error) {
	if strings.ContainsAny(r.Data, "\n\r") {
		return nil, fmt.Errorf("data contains a line break")
	}
	// Addresses, most of a hosting zone, without the zone-file parser (a
	// zone of a million records loads in a fraction of the time).
	if r.Type == "A" || r.Type == "AAAA" {
		if rr := addressRR(r); rr != nil {
			return rr, nil
		}
	}
	rr, err := mdns.NewRR(r.Name + " " + strconv.FormatUint(uint64(r.TTL), 10) + " IN " + r.Type + " " + r.Data)
	if err != nil {
		return nil, cleanParseError(err)
	}
	if rr == nil {
		return nil, fmt.Errorf("empty record")
	}
	return rr, nil
}

// rrToRecord prints rr in canonical presentation form: owner and the domain
// names inside the RDATA lower-cased (RFC 4034 section 6.2 types).
func rrToRecord(rr mdns.RR) Record {
	lowerRdataNames(rr)
	h := rr.Header()
	h.Name = strings.ToLower(h.Name)
	return Record{
		Name: h.Name,
		Type: mdns.TypeToString[h.Rrtype],
		TTL:  h.Ttl,
		Data: rdataString(rr),
	}
}

// rdataString returns the presentation form of rr's RDATA.
func rdataString(rr mdns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// lowerRdataNames lower-cases the domain names inside rr's RDATA.
func lowerRdataNames(rr mdns.RR) {
	switch v := rr.(type) {
	case *mdns.NS:
		v.Ns = strings.ToLower(v.Ns)
	case *mdns.CNAME:
		v.Target = strings.ToLower(v.Target)
	case *mdns.PTR:
		v.Ptr = strings.ToLower(v.Ptr)
	case *mdns.MX:
		v.Mx = strings.ToLower(v.Mx)
	case *mdns.SRV:
		v.Target = strings.ToLower(v.Target)
	case *mdns.SOA:
		v.Ns = strings.ToLower(v.Ns)
		v.Mbox = strings.ToLower(v.Mbox)
	}
}

// cleanParseError turns miekg's "dns: bad A A: "x" at line: 1:21" into
// "bad A A: "x"" (the line is meaningless for a single record).
func cleanParseError(err error) error {
	msg, _ := splitParseError(err)
	return fmt.Errorf("%s", msg)
}

// splitParseError separates miekg's parse error text from its line number
// (0 when the error carries none).
func splitParseError(err error) (string, int) {
	msg := strings.TrimPrefix(err.Error(), "dns: ")
	line := 0
	if i := strings.LastIndex(msg, " at line: "); i >= 0 {
		pos := msg[i+len(" at line: "):]
		if j := strings.IndexByte(pos, ':'); j >= 0 {
			pos = pos[:j]
		}
		if n, err := strconv.Atoi(pos); err == nil {
			line = n
			msg = msg[:i]
		}
	}
	return msg, line
}

// addressRR is an A or AAAA record built directly, or nil when r is not
// plainly one (the parser then decides, with its error messages).
func addressRR(r Record) mdns.RR {
	if _, ok := mdns.IsDomainName(r.Name); !ok || !mdns.IsFqdn(r.Name) || strings.ContainsAny(r.Name, "\\ ;()\"") {
		return nil
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(r.Data))
	if err != nil || ip.Zone() != "" {
		return nil
	}
	hdr := mdns.RR_Header{Name: r.Name, Class: mdns.ClassINET, Ttl: r.TTL}
	switch {
	case r.Type == "A" && ip.Is4():
		hdr.Rrtype = mdns.TypeA
		return &mdns.A{Hdr: hdr, A: net.IP(ip.AsSlice())}
	case r.Type == "AAAA" && ip.Is6() && !ip.Is4In6():
		hdr.Rrtype = mdns.TypeAAAA
		return &mdns.AAAA{Hdr: hdr, AAAA: net.IP(ip.AsSlice())}
	}
	return nil
}
