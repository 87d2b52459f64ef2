package protection

import (
	"testing"

	"github.com/poolctl/poolctl/api"
)

func TestGuardEvaluate(t *testing.T) {
	type want struct {
		compared bool
		reasons  int
		changed  float64
		incomp   float64
	}
	for _, tc := range []struct {
		name            string
		changed, incomp int
		st              api.RunStats
		want            want
	}{
		{"first run: nothing to compare", 30, 80, api.RunStats{Files: 10}, want{}},
		{"unchanged", 30, 80, api.RunStats{FilesBefore: 10, BytesBefore: 1000}, want{compared: true}},
		{"exactly the threshold passes", 30, 80, api.RunStats{FilesBefore: 10, FilesDeleted: 2, FilesChanged: 1, BytesBefore: 1000},
			want{compared: true, changed: 30}},
		{"one file more stops", 30, 80, api.RunStats{FilesBefore: 10, FilesDeleted: 2, FilesChanged: 2, BytesBefore: 1000},
			want{compared: true, reasons: 1, changed: 40}},
		{"half deleted", 30, 80, api.RunStats{FilesBefore: 400, FilesDeleted: 200, BytesBefore: 1 << 20},
			want{compared: true, reasons: 1, changed: 50}},
		{"changed guard off", 0, 80, api.RunStats{FilesBefore: 10, FilesDeleted: 10, BytesBefore: 1000},
			want{compared: true, changed: 100}},
		{"just over 30 % in large numbers", 30, 80, api.RunStats{FilesBefore: 1000000, FilesChanged: 300001, BytesBefore: 1},
			want{compared: true, reasons: 1, changed: 30}},
		{"encrypted: changed and incompressible", 30, 80, api.RunStats{FilesBefore: 10, FilesChanged: 10, BytesBefore: 1000, BytesIncompressible: 990},
			want{compared: true, reasons: 2, changed: 100, incomp: 99}},
		{"incompressible only, changed guard off", 0, 80, api.RunStats{FilesBefore: 10, FilesChanged: 10, BytesBefore: 1000, BytesIncompressible: 810},
			want{compared: true, reasons: 1, changed: 100, incomp: 81}},
		{"incompressible at the threshold passes", 0, 80, api.RunStats{FilesBefore: 10, FilesChanged: 10, BytesBefore: 1000, BytesIncompressible: 800},
			want{compared: true, changed: 100, incomp: 80}},
		{"both off", 0, 0, api.RunStats{FilesBefore: 10, FilesDeleted: 10, BytesBefore: 1000, BytesIncompressible: 1000},
			want{compared: true, changed: 100, incomp: 100}},
		{"empty files before: incompressible not weighed", 30, 1, api.RunStats{FilesBefore: 3, BytesBefore: 0, BytesIncompressible: 50},
			want{compared: true}},
		{"more incompressible than before is capped at 100 %", 30, 80, api.RunStats{FilesBefore: 2, FilesChanged: 0, BytesBefore: 10, BytesIncompressible: 50},
			want{compared: true, reasons: 1, incomp: 100}},
		{"threshold 100 never stops on shares", 100, 100, api.RunStats{FilesBefore: 10, FilesDeleted: 10, BytesBefore: 10, BytesIncompressible: 10},
			want{compared: true, changed: 100, incomp: 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := evaluate(tc.changed, tc.incomp, tc.st)
			if (g != nil) != tc.want.compared {
				t.Fatalf("got %+v, want compared=%v", g, tc.want.compared)
			}
			if g == nil {
				return
			}
			if len(g.Reasons) != tc.want.reasons || g.ChangedPercent != tc.want.changed || g.IncompressiblePercent != tc.want.incomp {
				t.Errorf("got %d reasons %q, %.1f %% changed, %.1f %% incompressible; want %d, %.1f %%, %.1f %%",
					len(g.Reasons), g.Reasons, g.ChangedPercent, g.IncompressiblePercent, tc.want.reasons, tc.want.changed, tc.want.incomp)
			}
			if g.GuardChanged != tc.changed || g.GuardIncompressible != tc.incomp || g.FilesTotal != tc.st.FilesBefore {
				t.Errorf("figures %+v do not carry the thresholds and totals", g)
			}
		})
	}
}

func TestValidGuard(t *testing.T) {
	for v, ok := range map[int]bool{-1: false, 0: true, 1: true, 30: true, 100: true, 101: false} {
		if err := validGuard("guard_changed", v); (err == nil) != ok {
			t.Errorf("validGuard(%d) = %v, want ok=%v", v, err, ok)
		}
	}
}
