package dns

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/internal/apperr"
)

func TestParseZoneFile(t *testing.T) {
	recs, err := ParseZoneFile("example.test", strings.NewReader(`$TTL 300
; a comment
@   IN SOA ns1 hostmaster (
        2024010101 ; serial
        7200 3600 1209600 300 )
    IN NS  ns1
ns1 IN A   192.0.2.53
    IN AAAA 2001:db8::53
$ORIGIN sub.example.test.
www 60 IN TXT "semi;colon" "two"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{"example.test.", "SOA", 300, "ns1.example.test. hostmaster.example.test. 2024010101 7200 3600 1209600 300"},
		{"example.test.", "NS", 300, "ns1.example.test."},
		{"ns1.example.test.", "A", 300, "192.0.2.53"},
		{"ns1.example.test.", "AAAA", 300, "2001:db8::53"},
		{"www.sub.example.test.", "TXT", 60, `"semi;colon" "two"`},
	}
	if !slices.Equal(recs, want) {
		t.Errorf("got\n%v\nwant\n%v", recs, want)
	}
}

func TestParseZoneFileErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		line       int
		msg        string
	}{
		{"bad address", "@ 60 IN SOA ns1 h 1 1 1 1 1\n\n; comment\nwww 60 IN A 999.1.1.1\n", 4, "bad A"},
		{"IPv6 in A", "www 60 IN A 2001:db8::1\n", 1, "bad A"},
		{"after a multi-line SOA", "@ 60 IN SOA ns1 h (\n 1 1\n 1 1 1 )\nother.test. 60 IN A 192.0.2.1\n", 4, "outside zone"},
		{"continuation line outside", "ns1 60 IN A 192.0.2.1\n 60 IN HINFO a b\n", 2, "not supported"},
		{"$INCLUDE", "@ 60 IN NS ns1\n$INCLUDE /etc/passwd\n", 2, "$INCLUDE is not allowed"},
		{"$GENERATE", "$GENERATE 1-100 host$ A 192.0.2.$\n", 1, "$GENERATE is not allowed"},
		{"$ORIGIN elsewhere", "$ORIGIN other.test.\nwww 60 IN A 192.0.2.1\n", 1, "not an absolute name inside zone"},
		{"class CH", "www 60 CH TXT x\n", 1, "class CH is not IN"},
		{"garbage", "www 60 IN A 192.0.2.1 junk\n", 1, "garbage"},
		{"unbalanced", "www 60 IN TXT (\"a\"\n", 1, ""},
	} {
		_, err := ParseZoneFile("example.test.", strings.NewReader(tc.text))
		var le *LineError
		if !errors.As(err, &le) {
			t.Errorf("%s: got %v, want a *LineError", tc.name, err)
			continue
		}
		prefix := "line " + strconv.Itoa(tc.line) + ": "
		if tc.line != 0 && (le.Line != tc.line || !strings.HasPrefix(err.Error(), prefix)) {
			t.Errorf("%s: got %q (line %d), want it to start with %q", tc.name, err, le.Line, prefix)
		}
		if !strings.Contains(err.Error(), tc.msg) || !errors.Is(err, apperr.Invalid) {
			t.Errorf("%s: got %q, want an Invalid error mentioning %q", tc.name, err, tc.msg)
		}
	}
}

func TestFormatZoneRoundTrips(t *testing.T) {
	z := fixtureZone(t)
	text := FormatZone(z)
	if !strings.HasPrefix(strings.SplitN(text, "\n", 2)[1], "example.test.\t3600\tIN\tSOA\t") {
		t.Errorf("FormatZone must print the SOA first:\n%s", text[:200])
	}
	back, err := ParseZoneFile(z.Name, strings.NewReader(text))
	if err != nil {
		t.Fatalf("ParseZoneFile(FormatZone(z)): %v", err)
	}
	a, b := slices.Clone(z.Records), back
	sortRecords(a)
	sortRecords(b)
	if !slices.Equal(a, b) {
		t.Errorf("round trip changed the records:\nbefore %v\nafter  %v", a, b)
	}
	if again := FormatZone(Zone{Name: z.Name, Serial: z.Serial, Records: back}); again != text {
		t.Errorf("FormatZone is not stable:\n%s\n---\n%s", text, again)
	}
	// The apex sorts before its children, children in canonical order.
	lines := strings.Split(strings.TrimSpace(text), "\n")[1:]
	var names []string
	for _, l := range lines {
		names = append(names, strings.Fields(l)[0])
	}
	if names[1] != "example.test." || !slices.IsSortedFunc(names[1:], compareNames) {
		t.Errorf("records are not in canonical order: %v", names)
	}
}

func sortRecords(rs []Record) {
	slices.SortFunc(rs, func(a, b Record) int { return strings.Compare(a.String(), b.String()) })
}

func TestCompareNames(t *testing.T) {
	// RFC 4034 section 6.1's example, in canonical order.
	names := []string{"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.", "z.example.", "*.z.example.", "\\200.z.example."}
	for i := 0; i+1 < len(names); i++ {
		if compareNames(names[i], names[i+1]) >= 0 || compareNames(names[i+1], names[i]) <= 0 {
			t.Errorf("compareNames(%q, %q): want %q first", names[i], names[i+1], names[i])
		}
	}
	if compareNames("WWW.Example.", "www.example") != 0 {
		t.Errorf("names differing in case and the final dot must compare equal")
	}
}
