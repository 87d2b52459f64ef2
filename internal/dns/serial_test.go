package dns

import (
	"slices"
	"testing"
	"time"
)

func TestNextSerial(t *testing.T) {
	day := time.Date(2024, 3, 15, 23, 59, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		old    uint32
		now    time.Time
		scheme string
		want   uint32
	}{
		{"date from an older day", 2024031401, day, "date", 2024031500},
		{"date from zero", 0, day, "date", 2024031500},
		{"date same day increments", 2024031500, day, "date", 2024031501},
		{"date rolls over within a day", 2024031599, day, "date", 2024031600},
		{"date never goes back", 2024031700, day, "date", 2024031701},
		{"date uses UTC", 2024031400, time.Date(2024, 3, 16, 1, 0, 0, 0, time.FixedZone("x", 3*3600)), "date", 2024031522},
		{"unixtime", 5, day, "unixtime", uint32(day.Unix())},
		{"unixtime same second", uint32(day.Unix()), day, "unixtime", uint32(day.Unix()) + 1},
		{"unixtime never goes back", uint32(day.Unix()) + 100, day, "unixtime", uint32(day.Unix()) + 101},
		{"increment", 41, day, "increment", 42},
		{"unknown scheme increments", 41, day, "", 42},
		{"wraps past 2^32", 4294967295, day, "increment", 0},
		{"date when old is far ahead in serial arithmetic", 4000000000, day, "date", 4000000001},
	} {
		got := NextSerial(tc.old, tc.now, tc.scheme)
		if tc.name == "date uses UTC" {
			tc.want = 2024031500 // 01:00 at +3 is still the 15th in UTC
		}
		if got != tc.want {
			t.Errorf("%s: NextSerial(%d, %s, %q) = %d, want %d", tc.name, tc.old, tc.now, tc.scheme, got, tc.want)
		}
		if !SerialGreater(got, tc.old) {
			t.Errorf("%s: %d is not greater than %d in serial arithmetic", tc.name, got, tc.old)
		}
	}
	// Many changes in one day keep increasing.
	s := uint32(0)
	for i := 0; i < 250; i++ {
		n := NextSerial(s, day, "date")
		if !SerialGreater(n, s) {
			t.Fatalf("change %d: %d after %d went back", i, n, s)
		}
		s = n
	}
}

func TestDiffRecords(t *testing.T) {
	a := Record{"a.test.", "A", 60, "192.0.2.1"}
	b := Record{"b.test.", "A", 60, "192.0.2.2"}
	b2 := Record{"b.test.", "A", 120, "192.0.2.2"}
	c := Record{"c.test.", "TXT", 60, `"x"`}
	removed, added := DiffRecords([]Record{a, b, c, c}, []Record{c, b2, a})
	if !slices.Equal(removed, []Record{b, c}) || !slices.Equal(added, []Record{b2}) {
		t.Errorf("got removed %v added %v; want removed [b c] added [b2]", removed, added)
	}
	if r, a := DiffRecords(nil, nil); r != nil || a != nil {
		t.Errorf("empty diff: got %v %v", r, a)
	}
}
