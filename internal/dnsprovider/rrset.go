package dnsprovider

import (
	"slices"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dns"
)

// Helpers shared by providers that read a zone, compute a change and
// write it: input grouped into RRsets, DeleteRecords' matching, and the
// CNAME rule checked on the zone a change would leave.

// RRset is the records of one name and type given to AppendRecords or
// SetRecords, checked: Name absolute and canonical, Values canonical and
// distinct, in input order, one TTL.
type RRset struct {
	Name   string
	Type   string
	TTL    time.Duration
	Values []string
}

// Records returns rs's records with names relative to zone origin.
func (rs RRset) Records(origin string) []Record {
	out := make([]Record, 0, len(rs.Values))
	for _, v := range rs.Values {
		out = append(out, Record{Name: Relative(origin, rs.Name), Type: rs.Type, TTL: rs.TTL, Value: v})
	}
	return out
}

// Group checks recs for zone ([Normalize]) and groups them by RRset in
// input order. Records of one RRset must agree on their TTL. Errors are
// of kind apperr.Invalid: nothing of the call may be applied then.
func Group(zone string, recs []Record) ([]RRset, error) {
	var out []RRset
	for _, r := range recs {
		n, err := Normalize(zone, r)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(out, func(g RRset) bool { return g.Name == n.Name && g.Type == n.Type })
		if i < 0 {
			out = append(out, RRset{Name: n.Name, Type: n.Type, TTL: n.TTL})
			i = len(out) - 1
		}
		g := &out[i]
		if g.TTL != n.TTL {
			return nil, apperr.New(apperr.Invalid, "records %s %s: TTLs %s and %s: the records of one RRset share one TTL (RFC 2181 section 5.2)", n.Name, n.Type, g.TTL, n.TTL)
		}
		if !slices.Contains(g.Values, n.Value) {
			g.Values = append(g.Values, n.Value)
		}
	}
	return out, nil
}

// Matcher is one record given to DeleteRecords, checked: Name absolute,
// Type upper case, Value canonical; empty fields (and a zero TTL) match
// any.
type Matcher struct {
	Name  string
	Type  string
	TTL   time.Duration
	Value string
}

// Matchers checks recs for zone. Errors are of kind apperr.Invalid.
func Matchers(zone string, recs []Record) ([]Matcher, error) {
	origin, err := ZoneName(zone)
	if err != nil {
		return nil, err
	}
	out := make([]Matcher, 0, len(recs))
	for _, r := range recs {
		if strings.TrimSpace(r.Name) == "" {
			return nil, apperr.New(apperr.Invalid, "record %s %s: name is empty (write @ for the zone's apex)", r.Type, r.Value)
		}
		m := Matcher{Name: Absolute(origin, r.Name), Type: strings.ToUpper(strings.TrimSpace(r.Type)), TTL: r.TTL}
		if m.Name != origin && !strings.HasSuffix(m.Name, "."+origin) {
			return nil, apperr.New(apperr.Invalid, "record name %q: %s is outside zone %s", r.Name, m.Name, origin)
		}
		if m.Type != "" && !slices.Contains(dns.SupportedTypes(), m.Type) {
			return nil, apperr.New(apperr.Invalid, "record %s: type %q is not supported (supported: %s)", m.Name, r.Type, strings.Join(dns.SupportedTypes(), ", "))
		}
		if v := strings.TrimSpace(r.Value); v != "" {
			if m.Type == "" {
				return nil, apperr.New(apperr.Invalid, "record %s: a value (%q) needs its type", m.Name, v)
			}
			n, err := Normalize(origin, Record{Name: m.Name, Type: m.Type, TTL: time.Second, Value: v})
			if err != nil {
				return nil, err
			}
			m.Value = n.Value
		}
		out = append(out, m)
	}
	return out, nil
}

// Match reports whether r (a record of zone origin, name relative, as
// GetRecords returns it) is one m removes. The SOA never is.
func (m Matcher) Match(origin string, r Record) bool {
	return r.Type != "SOA" && m.Name == Absolute(origin, r.Name) && (m.Type == "" || m.Type == r.Type) &&
		(m.TTL == 0 || m.TTL == r.TTL) && (m.Value == "" || m.Value == r.Value)
}

// MatchAny reports whether one of ms matches r.
func MatchAny(ms []Matcher, origin string, r Record) bool {
	return slices.ContainsFunc(ms, func(m Matcher) bool { return m.Match(origin, r) })
}

// CheckCNAMEs checks the CNAME rule of RFC 1034 section 3.6.2 (and RFC
// 2181 section 10.1) on the records a zone would hold (names relative to
// origin): no CNAME at the apex, none beside other data at its name, at
// most one per name. Only the names in touched (relative) are checked,
// so that a zone that already breaks the rule elsewhere can still be
// changed. Errors are of kind apperr.Invalid.
func CheckCNAMEs(origin string, zone []Record, touched []string) error {
	types := map[string]map[string]int{}
	for _, r := range zone {
		if !slices.Contains(touched, r.Name) {
			continue
		}
		if types[r.Name] == nil {
			types[r.Name] = map[string]int{}
		}
		types[r.Name][r.Type]++
	}
	for _, name := range touched {
		ts := types[name]
		n := ts["CNAME"]
		switch {
		case n == 0:
		case name == "@":
			return apperr.New(apperr.Invalid, "record %s CNAME: a CNAME cannot be at the zone's apex (it holds the SOA and NS)", Absolute(origin, name))
		case n > 1:
			return apperr.New(apperr.Invalid, "record %s CNAME: a name has at most one CNAME", Absolute(origin, name))
		case len(ts) > 1:
			var other []string
			for t := range ts {
				if t != "CNAME" {
					other = append(other, t)
				}
			}
			slices.Sort(other)
			return apperr.New(apperr.Invalid, "record %s CNAME: a CNAME cannot be beside other data (%s) at its name", Absolute(origin, name), strings.Join(other, ", "))
		}
	}
	return nil
}
