package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"

	"github.com/poolctl/poolctl/internal/apperr"
)

// CanonicalZoneName returns the canonical form of a zone name: lower case,
// absolute, with a trailing dot ("Example.TEST" → "example.test.").
//
// Labels are 1–63 characters of letters, digits, '-' and '_' (no leading or
// trailing '-'), the whole name at most 253 characters; the root zone,
// escapes and non-ASCII (use the xn-- form) are refused. Errors are of kind
// [apperr.Invalid].
func CanonicalZoneName(s string) (string, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "" || name == "." {
		return "", apperr.New(apperr.Invalid, "zone name %q: must not be empty or the root", s)
	}
	if err := checkName(name, false); err != nil {
		return "", apperr.Wrap(apperr.Invalid, err, "zone name %q", s)
	}
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "", apperr.New(apperr.Invalid, "zone name %q: label %q starts or ends with '-'", s, l)
		}
	}
	return mdns.Fqdn(name), nil
}

// checkName validates a lower-case domain name (absolute or relative).
// Owner names may also contain '/' (RFC 2317 classless reverse zones) and a
// leftmost "*" label (a wildcard).
func checkName(name string, owner bool) error {
	n := strings.TrimSuffix(name, ".")
	if n == "" {
		return fmt.Errorf("empty name")
	}
	if len(n) > 253 {
		return fmt.Errorf("name is longer than 253 characters")
	}
	labels := strings.Split(n, ".")
	for i, l := range labels {
		if l == "" {
			return fmt.Errorf("empty label")
		}
		if len(l) > 63 {
			return fmt.Errorf("label %q is longer than 63 characters", l)
		}
		if l == "*" && owner && i == 0 {
			continue
		}
		for _, c := range []byte(l) {
			switch {
			case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
			case c == '/' && owner:
			case c == '*':
				return fmt.Errorf("label %q: '*' is only allowed as the whole leftmost label", l)
			case c >= 0x80:
				return fmt.Errorf("label %q is not ASCII; use its xn-- (IDNA) form", l)
			default:
				return fmt.Errorf("label %q contains %q", l, rune(c))
			}
		}
	}
	return nil
}

// NormalizeRecord validates r for zone and returns it in canonical form.
//
//   - Name: "@" or "" is the apex, names without a trailing dot are relative
//     to zone; the result is absolute and lower case and must be inside zone.
//   - Type: case-insensitive, one of [SupportedTypes].
//   - TTL: 0–2147483647 (RFC 2181 section 8); 0 is kept as 0 (callers that
//     want a default must fill it in before calling).
//   - Data: parsed as zone-file RDATA (relative names are relative to zone)
//     and re-printed canonically, domain names lower case. A TXT value
//     without any double quote is taken as one string (so `v=spf1 -all`
//     stays one string), split into 255-octet pieces when longer.
//
// Errors are of kind [apperr.Invalid] and name the record.
func NormalizeRecord(zone string, r Record) (Record, error) {
	origin, err := CanonicalZoneName(zone)
	if err != nil {
		return Record{}, err
	}
	name, err := absoluteOwner(origin, r.Name)
	if err != nil {
		return Record{}, err
	}
	typ := strings.ToUpper(strings.TrimSpace(r.Type))
	if _, ok := supportedTypes[typ]; !ok {
		return Record{}, apperr.New(apperr.Invalid, "record %s: type %q is not supported (supported: %s)",
			name, r.Type, strings.Join(SupportedTypes(), ", "))
	}
	if r.TTL > MaxTTL {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s: TTL %d is larger than %d", name, typ, r.TTL, MaxTTL)
	}
	data := strings.TrimSpace(r.Data)
	if data == "" {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s: data is empty", name, typ)
	}
	if strings.ContainsFunc(data, func(c rune) bool { return c < 0x20 && c != '\t' || c == 0x7f }) {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s: data contains control characters", name, typ)
	}
	if err := checkAddress(typ, data); err != nil {
		return Record{}, apperr.Wrap(apperr.Invalid, err, "record %s %s %q", name, typ, data)
	}
	if rec, ok := normalizeAddress(origin, name, typ, r.TTL, data); ok {
		return rec, nil
	}
	return normalizeParsed(origin, name, typ, data, r)
}

// normalizeAddress is NormalizeRecord of a plain A or AAAA record, without
// the zone-file parser (a zone is checked whole on every change): ok is
// false for anything else, which the parser then decides.
func normalizeAddress(origin, name, typ string, ttl uint32, data string) (Record, bool) {
	if typ != "A" && typ != "AAAA" || strings.ContainsRune(name, '\\') {
		return Record{}, false
	}
	ip, err := netip.ParseAddr(data)
	if err != nil || ip.Is4In6() || checkName(name, true) != nil || !mdns.IsSubDomain(origin, name) {
		return Record{}, false
	}
	return Record{Name: name, Type: typ, TTL: ttl, Data: ip.String()}, true
}

// normalizeParsed is NormalizeRecord through the zone-file parser.
func normalizeParsed(origin, name, typ, data string, r Record) (Record, error) {
	if typ == "TXT" && !strings.Contains(data, `"`) {
		data = quoteTXT(data)
	}
	line := name + " " + strconv.FormatUint(uint64(r.TTL), 10) + " IN " + typ + " " + data
	zp := mdns.NewZoneParser(strings.NewReader(line), origin, "")
	zp.SetIncludeAllowed(false)
	rr, ok := zp.Next()
	if !ok {
		if err := zp.Err(); err != nil {
			return Record{}, apperr.Wrap(apperr.Invalid, cleanParseError(err), "record %s %s %q", name, typ, r.Data)
		}
		return Record{}, apperr.New(apperr.Invalid, "record %s %s %q: no record", name, typ, r.Data)
	}
	if _, more := zp.Next(); more || zp.Err() != nil {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s %q: data holds more than one record", name, typ, r.Data)
	}
	out, err := normalizeRR(origin, rr)
	if err != nil {
		return Record{}, err
	}
	if out.Type != typ {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s %q: data parses as %s", name, typ, r.Data, out.Type)
	}
	return out, nil
}

// absoluteOwner resolves a record name relative to origin and validates it.
func absoluteOwner(origin, name string) (string, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch {
	case n == "" || n == "@":
		return origin, nil
	case strings.HasSuffix(n, ".@"):
		n = strings.TrimSuffix(n, "@") + origin
	case !strings.HasSuffix(n, "."):
		n += "." + origin
	}
	if err := checkName(n, true); err != nil {
		return "", apperr.Wrap(apperr.Invalid, err, "record name %q", name)
	}
	if !mdns.IsSubDomain(origin, n) {
		return "", apperr.New(apperr.Invalid, "record name %q: %s is outside zone %s", name, n, origin)
	}
	return n, nil
}

// normalizeRR checks a parsed RR against origin and prints it canonically.
func normalizeRR(origin string, rr mdns.RR) (Record, error) {
	h := rr.Header()
	name := strings.ToLower(h.Name)
	typ := mdns.TypeToString[h.Rrtype]
	if _, ok := supportedTypes[typ]; !ok {
		return Record{}, apperr.New(apperr.Invalid, "record %s: type %s is not supported (supported: %s)",
			name, typ, strings.Join(SupportedTypes(), ", "))
	}
	if h.Class != mdns.ClassINET {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s: class %s is not IN", name, typ, mdns.ClassToString[h.Class])
	}
	if err := checkName(name, true); err != nil {
		return Record{}, apperr.Wrap(apperr.Invalid, err, "record name %s", name)
	}
	if !mdns.IsSubDomain(origin, name) {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s: name is outside zone %s", name, typ, origin)
	}
	if h.Ttl > MaxTTL {
		return Record{}, apperr.New(apperr.Invalid, "record %s %s: TTL %d is larger than %d", name, typ, h.Ttl, MaxTTL)
	}
	if err := checkRdata(rr); err != nil {
		return Record{}, apperr.Wrap(apperr.Invalid, err, "record %s %s", name, typ)
	}
	if typ == "A" || typ == "AAAA" {
		if err := checkAddress(typ, rdataString(rr)); err != nil {
			return Record{}, apperr.Wrap(apperr.Invalid, err, "record %s %s", name, typ)
		}
	}
	return rrToRecord(rr), nil
}

// checkAddress gives A and AAAA data a clearer error than the parser's.
func checkAddress(typ, data string) error {
	if typ != "A" && typ != "AAAA" {
		return nil
	}
	ip, err := netip.ParseAddr(data)
	if err != nil {
		return fmt.Errorf("not an IP address")
	}
	if typ == "A" && !ip.Is4() {
		return fmt.Errorf("an A record needs an IPv4 address (use AAAA for IPv6)")
	}
	if typ == "AAAA" && !ip.Is6() {
		return fmt.Errorf("an AAAA record needs an IPv6 address (use A for IPv4)")
	}
	if ip.Zone() != "" {
		return fmt.Errorf("an address must not carry a zone")
	}
	return nil
}

// quoteTXT makes one TXT value of s, split into 255-octet strings.
func quoteTXT(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		n := min(len(s), 255)
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		for _, c := range []byte(s[:n]) {
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
		s = s[n:]
	}
	return b.String()
}

// CheckZone checks a whole zone for consistency before it is stored or
// served: every record valid and inside the zone; exactly one SOA, at the
// apex, with serial equal to z.Serial; at least one NS at the apex; no CNAME
// at the apex, no CNAME beside other data at the same name and at most one
// CNAME per name; no duplicate records (same name, type and data). Errors
// are of kind [apperr.Invalid] and name the offending record.
func CheckZone(z Zone) error {
	origin, err := CanonicalZoneName(z.Name)
	if err != nil {
		return err
	}
	type key struct{ name, typ, data string }
	seen := make(map[key]bool, len(z.Records))
	types := make(map[string][]string) // owner -> types in order of appearance
	var soa *Record
	apexNS := 0
	for i := range z.Records {
		r, err := NormalizeRecord(origin, z.Records[i])
		if err != nil {
			return apperr.Wrap(apperr.Invalid, err, "zone %s", origin)
		}
		k := key{r.Name, r.Type, r.Data}
		if seen[k] {
			return apperr.New(apperr.Invalid, "zone %s: duplicate record %q", origin, describe(r))
		}
		seen[k] = true
		if !slices.Contains(types[r.Name], r.Type) {
			types[r.Name] = append(types[r.Name], r.Type)
		} else if r.Type == "CNAME" {
			return apperr.New(apperr.Invalid, "zone %s: record %q: more than one CNAME at %s", origin, describe(r), r.Name)
		}
		switch r.Type {
		case "SOA":
			if r.Name != origin {
				return apperr.New(apperr.Invalid, "zone %s: record %q: SOA is only allowed at the apex", origin, describe(r))
			}
			if soa != nil {
				return apperr.New(apperr.Invalid, "zone %s: record %q: more than one SOA", origin, describe(r))
			}
			soa = &r
		case "NS":
			if r.Name == origin {
				apexNS++
			}
		case "CNAME":
			if r.Name == origin {
				return apperr.New(apperr.Invalid, "zone %s: record %q: CNAME is not allowed at the zone apex", origin, describe(r))
			}
		}
		if ts := types[r.Name]; len(ts) > 1 && slices.Contains(ts, "CNAME") {
			return apperr.New(apperr.Invalid, "zone %s: record %q: a CNAME cannot share its name with other data (%s has %s)",
				origin, describe(r), r.Name, strings.Join(ts, ", "))
		}
	}
	if soa == nil {
		return apperr.New(apperr.Invalid, "zone %s: no SOA record at the apex", origin)
	}
	rr, err := recordToRR(*soa)
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "zone %s: SOA %q", origin, describe(*soa))
	}
	if serial := rr.(*mdns.SOA).Serial; serial != z.Serial {
		return apperr.New(apperr.Invalid, "zone %s: SOA %q: serial %d differs from the zone serial %d", origin, describe(*soa), serial, z.Serial)
	}
	if apexNS == 0 {
		return apperr.New(apperr.Invalid, "zone %s: no NS record at the apex", origin)
	}
	return nil
}

// describe renders a record for error messages: one line, single spaces.
func describe(r Record) string {
	return fmt.Sprintf("%s %d IN %s %s", r.Name, r.TTL, r.Type, r.Data)
}

// checkRdata refuses RDATA the parser lets through: RRs without RDATA
// (which miekg allows, for dynamic updates) and CAA tags that are not
// alphanumeric (RFC 8659 section 4.1).
func checkRdata(rr mdns.RR) error {
	missing := false
	switch v := rr.(type) {
	case *mdns.A:
		missing = v.A == nil
	case *mdns.AAAA:
		missing = v.AAAA == nil
	case *mdns.NS:
		missing = v.Ns == ""
	case *mdns.CNAME:
		missing = v.Target == ""
	case *mdns.PTR:
		missing = v.Ptr == ""
	case *mdns.MX:
		missing = v.Mx == ""
	case *mdns.SRV:
		missing = v.Target == ""
	case *mdns.SOA:
		missing = v.Ns == "" || v.Mbox == ""
	case *mdns.TXT:
		missing = len(v.Txt) == 0
	case *mdns.CAA:
		if v.Tag == "" || len(v.Tag) > 15 || strings.ContainsFunc(v.Tag, func(c rune) bool {
			return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9')
		}) {
			return fmt.Errorf("CAA tag %q is not 1-15 letters and digits", v.Tag)
		}
	}
	if missing {
		return fmt.Errorf("data is missing")
	}
	return nil
}
