// Package dnsprovidertest is the conformance suite of dnsprovider: every
// provider runs Run against a real instance (or a faithful fake) of what
// it drives, so that they all keep one contract.
package dnsprovidertest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/dnsprovider"
)

// Run checks that the providers newProvider returns keep the contract of
// dnsprovider's interfaces on zone, which must exist. The suite writes
// only names under "suite-*" labels of the zone, each subtest its own, and
// leaves the zone's other records alone; newProvider is called once per
// subtest.
func Run(t *testing.T, newProvider func(t *testing.T) dnsprovider.Provider, zone string) {
	origin, err := dnsprovider.ZoneName(zone)
	if err != nil {
		t.Fatalf("zone %q: %v", zone, err)
	}
	s := suite{newProvider: newProvider, zone: zone, origin: origin}
	t.Run("ListZones", s.listZones)
	t.Run("Append", s.append)
	t.Run("Set", s.set)
	t.Run("Delete", s.delete)
	t.Run("Names", s.names)
	t.Run("MissingZone", s.missingZone)
	t.Run("BadInput", s.badInput)
}

type suite struct {
	newProvider func(t *testing.T) dnsprovider.Provider
	zone        string // as given
	origin      string // canonical
}

func a(name, value string, ttl int) dnsprovider.Record {
	return dnsprovider.Record{Name: name, Type: "A", TTL: time.Duration(ttl) * time.Second, Value: value}
}

func txt(name, value string, ttl int) dnsprovider.Record {
	return dnsprovider.Record{Name: name, Type: "TXT", TTL: time.Duration(ttl) * time.Second, Value: value}
}

// at returns the records of p's zone under the names given (relative),
// sorted.
func (s suite) at(t *testing.T, p dnsprovider.Provider, names ...string) []dnsprovider.Record {
	t.Helper()
	all, err := p.GetRecords(t.Context(), s.zone)
	if err != nil {
		t.Fatalf("GetRecords(%s): %v", s.zone, err)
	}
	var out []dnsprovider.Record
	for _, r := range all {
		if slices.Contains(names, r.Name) {
			out = append(out, r)
		}
	}
	return sorted(out)
}

func sorted(rs []dnsprovider.Record) []dnsprovider.Record {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b dnsprovider.Record) int { return strings.Compare(a.String(), b.String()) })
	return rs
}

func same(t *testing.T, what string, got, want []dnsprovider.Record) {
	t.Helper()
	got, want = sorted(got), sorted(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

func (s suite) clean(t *testing.T, p dnsprovider.Provider, names ...string) {
	t.Helper()
	var del []dnsprovider.Record
	for _, n := range names {
		del = append(del, dnsprovider.Record{Name: n})
	}
	if _, err := p.DeleteRecords(t.Context(), s.zone, del); err != nil {
		t.Fatalf("clean %v: %v", names, err)
	}
	t.Cleanup(func() { _, _ = p.DeleteRecords(context.WithoutCancel(t.Context()), s.zone, del) })
}

func (s suite) listZones(t *testing.T) {
	p := s.newProvider(t)
	zs, err := p.ListZones(t.Context())
	if err != nil {
		t.Fatalf("ListZones: %v", err)
	}
	if !slices.Contains(zs, dnsprovider.Zone{Name: s.origin}) {
		t.Fatalf("ListZones = %v, want it to hold %s", zs, s.origin)
	}
}

func (s suite) append(t *testing.T) {
	p := s.newProvider(t)
	ctx := t.Context()
	s.clean(t, p, "suite-append")
	in := []dnsprovider.Record{a("suite-append", "192.0.2.1", 300), txt("suite-append", "hello world", 300)}
	got, err := p.AppendRecords(ctx, s.zone, in)
	if err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	want := []dnsprovider.Record{a("suite-append", "192.0.2.1", 300), txt("suite-append", `"hello world"`, 300)}
	same(t, "AppendRecords returned", got, want)
	same(t, "after AppendRecords", s.at(t, p, "suite-append"), want)

	// The same records again: nothing appended, nothing doubled.
	got, err = p.AppendRecords(ctx, s.zone, in)
	if err != nil {
		t.Fatalf("AppendRecords again: %v", err)
	}
	same(t, "AppendRecords of records already there returned", got, nil)
	same(t, "after appending the same records again", s.at(t, p, "suite-append"), want)

	// A second record of an RRset: both stay, with the TTL appended.
	got, err = p.AppendRecords(ctx, s.zone, []dnsprovider.Record{a("suite-append", "192.0.2.2", 120)})
	if err != nil {
		t.Fatalf("AppendRecords to an RRset: %v", err)
	}
	same(t, "AppendRecords to an RRset returned", got, []dnsprovider.Record{a("suite-append", "192.0.2.2", 120)})
	same(t, "after appending to an RRset", s.at(t, p, "suite-append"), []dnsprovider.Record{
		a("suite-append", "192.0.2.1", 120), a("suite-append", "192.0.2.2", 120), txt("suite-append", `"hello world"`, 300)})
}

func (s suite) set(t *testing.T) {
	p := s.newProvider(t)
	ctx := t.Context()
	s.clean(t, p, "suite-set", "suite-set-other")
	if _, err := p.AppendRecords(ctx, s.zone, []dnsprovider.Record{
		a("suite-set", "192.0.2.1", 300), a("suite-set", "192.0.2.2", 300), txt("suite-set", "keep", 300), a("suite-set-other", "192.0.2.9", 300)}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	in := []dnsprovider.Record{a("suite-set", "192.0.2.3", 60)}
	got, err := p.SetRecords(ctx, s.zone, in)
	if err != nil {
		t.Fatalf("SetRecords: %v", err)
	}
	same(t, "SetRecords returned", got, in)
	want := []dnsprovider.Record{a("suite-set", "192.0.2.3", 60), txt("suite-set", `"keep"`, 300), a("suite-set-other", "192.0.2.9", 300)}
	same(t, "after SetRecords (the A RRset replaced, the TXT and the other name untouched)", s.at(t, p, "suite-set", "suite-set-other"), want)

	if _, err := p.SetRecords(ctx, s.zone, in); err != nil {
		t.Fatalf("SetRecords again: %v", err)
	}
	same(t, "after setting the same records again", s.at(t, p, "suite-set", "suite-set-other"), want)

	// Two RRsets in one call, one of them new.
	in = []dnsprovider.Record{a("suite-set", "192.0.2.4", 60), a("suite-set", "192.0.2.5", 60), txt("suite-set-other", "new", 30)}
	if _, err := p.SetRecords(ctx, s.zone, in); err != nil {
		t.Fatalf("SetRecords of two RRsets: %v", err)
	}
	same(t, "after setting two RRsets", s.at(t, p, "suite-set", "suite-set-other"), []dnsprovider.Record{
		a("suite-set", "192.0.2.4", 60), a("suite-set", "192.0.2.5", 60), txt("suite-set", `"keep"`, 300),
		a("suite-set-other", "192.0.2.9", 300), txt("suite-set-other", `"new"`, 30)})
}

func (s suite) delete(t *testing.T) {
	p := s.newProvider(t)
	ctx := t.Context()
	s.clean(t, p, "suite-delete", "suite-delete-other")
	if _, err := p.AppendRecords(ctx, s.zone, []dnsprovider.Record{
		a("suite-delete", "192.0.2.1", 300), a("suite-delete", "192.0.2.2", 300), txt("suite-delete", "t", 300), a("suite-delete-other", "192.0.2.1", 300)}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	// One value of an RRset: the other stays, and so does every other record.
	got, err := p.DeleteRecords(ctx, s.zone, []dnsprovider.Record{{Name: "suite-delete", Type: "A", Value: "192.0.2.1"}})
	if err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}
	same(t, "DeleteRecords returned", got, []dnsprovider.Record{a("suite-delete", "192.0.2.1", 300)})
	same(t, "after deleting one record", s.at(t, p, "suite-delete", "suite-delete-other"), []dnsprovider.Record{
		a("suite-delete", "192.0.2.2", 300), txt("suite-delete", `"t"`, 300), a("suite-delete-other", "192.0.2.1", 300)})

	// Again, and a record that never was: nothing removed, no error.
	got, err = p.DeleteRecords(ctx, s.zone, []dnsprovider.Record{{Name: "suite-delete", Type: "A", Value: "192.0.2.1"}, a("suite-delete-none", "192.0.2.7", 0)})
	if err != nil {
		t.Fatalf("DeleteRecords of records not there: %v", err)
	}
	same(t, "DeleteRecords of records not there returned", got, nil)

	// A TTL that does not match removes nothing.
	if got, err = p.DeleteRecords(ctx, s.zone, []dnsprovider.Record{a("suite-delete", "192.0.2.2", 77)}); err != nil || len(got) != 0 {
		t.Fatalf("DeleteRecords with another TTL = %v, %v; want nothing removed", got, err)
	}

	// A whole RRset by type, then a whole name.
	got, err = p.DeleteRecords(ctx, s.zone, []dnsprovider.Record{{Name: "suite-delete", Type: "TXT"}})
	if err != nil {
		t.Fatalf("DeleteRecords of an RRset: %v", err)
	}
	same(t, "DeleteRecords of an RRset returned", got, []dnsprovider.Record{txt("suite-delete", `"t"`, 300)})
	got, err = p.DeleteRecords(ctx, s.zone, []dnsprovider.Record{{Name: "suite-delete"}})
	if err != nil {
		t.Fatalf("DeleteRecords of a name: %v", err)
	}
	same(t, "DeleteRecords of a name returned", got, []dnsprovider.Record{a("suite-delete", "192.0.2.2", 300)})
	same(t, "after deleting a name", s.at(t, p, "suite-delete", "suite-delete-other"), []dnsprovider.Record{a("suite-delete-other", "192.0.2.1", 300)})

	// The SOA is never removed, even by a name-only match at the apex.
	if _, err := p.DeleteRecords(ctx, s.zone, []dnsprovider.Record{{Name: "@", Type: "SOA"}}); err != nil {
		t.Fatalf("DeleteRecords of the SOA: %v", err)
	}
	if soa := s.at(t, p, "@"); !slices.ContainsFunc(soa, func(r dnsprovider.Record) bool { return r.Type == "SOA" }) {
		t.Fatalf("the SOA was removed: apex holds %v", soa)
	}
}

func (s suite) names(t *testing.T) {
	p := s.newProvider(t)
	ctx := t.Context()
	s.clean(t, p, "suite-names", "sub.suite-names")
	abs := dnsprovider.Record{Name: "SUB.Suite-Names." + s.origin, Type: "mx", Value: "10 Mail.suite-names"}
	got, err := p.AppendRecords(ctx, s.zone, []dnsprovider.Record{abs, a("suite-names", "192.0.2.1", 60)})
	if err != nil {
		t.Fatalf("AppendRecords with an absolute name: %v", err)
	}
	mx := dnsprovider.Record{Name: "sub.suite-names", Type: "MX", TTL: dnsprovider.DefaultTTL, Value: "10 mail.suite-names." + s.origin}
	same(t, "AppendRecords returned", got, []dnsprovider.Record{mx, a("suite-names", "192.0.2.1", 60)})
	same(t, "records (relative, lower case, TTL defaulted, value canonical)", s.at(t, p, "sub.suite-names", "suite-names"),
		[]dnsprovider.Record{mx, a("suite-names", "192.0.2.1", 60)})
	if _, err := p.DeleteRecords(ctx, s.zone, []dnsprovider.Record{{Name: "sub.suite-names." + s.origin, Type: "MX"}}); err != nil {
		t.Fatalf("DeleteRecords with an absolute name: %v", err)
	}
	same(t, "after deleting by absolute name", s.at(t, p, "sub.suite-names"), nil)
	// The zone written with or without its trailing dot is one zone.
	other := strings.TrimSuffix(s.origin, ".")
	if other == s.zone {
		other = s.origin
	}
	if rs, err := p.GetRecords(ctx, other); err != nil || !slices.Contains(rs, a("suite-names", "192.0.2.1", 60)) {
		t.Fatalf("GetRecords(%q) = %v, %v; want the zone's records", other, rs, err)
	}
}

func (s suite) missingZone(t *testing.T) {
	p := s.newProvider(t)
	ctx := t.Context()
	missing := "suite-missing-zone.invalid."
	rec := []dnsprovider.Record{a("www", "192.0.2.1", 60)}
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, apperr.NotFound) {
			t.Errorf("%s on a missing zone: %v, want an error of kind not_found", op, err)
		} else if !strings.Contains(err.Error(), "suite-missing-zone.invalid") {
			t.Errorf("%s on a missing zone: %q does not name the zone", op, err)
		}
	}
	_, err := p.GetRecords(ctx, missing)
	check("GetRecords", err)
	_, err = p.AppendRecords(ctx, missing, rec)
	check("AppendRecords", err)
	_, err = p.SetRecords(ctx, missing, rec)
	check("SetRecords", err)
	_, err = p.DeleteRecords(ctx, missing, rec)
	check("DeleteRecords", err)
}

func (s suite) badInput(t *testing.T) {
	p := s.newProvider(t)
	ctx := t.Context()
	s.clean(t, p, "suite-bad", "suite-bad-cname")
	if _, err := p.AppendRecords(ctx, s.zone, []dnsprovider.Record{a("suite-bad", "192.0.2.1", 60), a("suite-bad-cname", "192.0.2.1", 60)}); err != nil {
		t.Fatalf("AppendRecords: %v", err)
	}
	before := s.at(t, p, "suite-bad", "suite-bad-cname")
	good := a("suite-bad", "192.0.2.99", 60)
	cases := []struct {
		name string
		rec  dnsprovider.Record
		want string // in the message
	}{
		{"empty name", a("", "192.0.2.1", 60), "name is empty"},
		{"name outside the zone", a("www.elsewhere.invalid.", "192.0.2.1", 60), "outside zone"},
		{"bad label", a("bad name", "192.0.2.1", 60), "bad name"},
		{"unknown type", dnsprovider.Record{Name: "suite-bad", Type: "BOGUS", Value: "x"}, "BOGUS"},
		{"bad address", a("suite-bad", "not-an-address", 60), "not an IP address"},
		{"IPv6 in A", a("suite-bad", "2001:db8::1", 60), "IPv4"},
		{"empty value", a("suite-bad", "", 60), "empty"},
		{"negative TTL", a("suite-bad", "192.0.2.1", -5), "TTL"},
		{"fractional TTL", dnsprovider.Record{Name: "suite-bad", Type: "A", TTL: 1500 * time.Millisecond, Value: "192.0.2.1"}, "TTL"},
		{"SOA", dnsprovider.Record{Name: "@", Type: "SOA", Value: "ns1. host. 1 2 3 4 5"}, "SOA"},
		{"line break", txt("suite-bad", "a\nb", 60), "control characters"},
	}
	for _, c := range cases {
		for op, fn := range map[string]func(context.Context, string, []dnsprovider.Record) ([]dnsprovider.Record, error){
			"AppendRecords": p.AppendRecords, "SetRecords": p.SetRecords} {
			// The good record beside the bad one is not applied either.
			_, err := fn(ctx, s.zone, []dnsprovider.Record{good, c.rec})
			if !errors.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s of %s (%v): %v, want an error of kind invalid saying %q", op, c.name, c.rec, err, c.want)
			}
		}
	}
	// A CNAME beside other data is refused by the provider, and nothing
	// of the call is applied.
	_, err := p.AppendRecords(ctx, s.zone, []dnsprovider.Record{good, {Name: "suite-bad-cname", Type: "CNAME", TTL: time.Minute, Value: "target.invalid."}})
	if !errors.Is(err, apperr.Invalid) {
		t.Errorf("AppendRecords of a CNAME beside an A record: %v, want an error of kind invalid", err)
	}
	same(t, "after every refused call", s.at(t, p, "suite-bad", "suite-bad-cname"), before)
}
