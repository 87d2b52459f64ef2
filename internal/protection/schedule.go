package protection

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/poolctl/poolctl/internal/apperr"
)

// shortcuts are the schedules that may be named by their interval. Each
// runs at a fixed time of the hour, day, week or month (UTC) so that a
// fleet's runs do not all start at once when the server restarts.
var shortcuts = map[string]string{
	"1h":  "0 * * * *",
	"2h":  "0 */2 * * *",
	"3h":  "0 */3 * * *",
	"4h":  "0 */4 * * *",
	"6h":  "0 */6 * * *",
	"8h":  "0 */8 * * *",
	"12h": "0 */12 * * *",
	"1d":  "0 2 * * *",
	"1w":  "0 3 * * 0",
	"1mo": "0 4 1 * *",
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed protection schedule. Times are UTC.
type Schedule struct {
	Text string
	spec cron.Schedule
}

// ParseSchedule accepts a shortcut (1h 2h 3h 4h 6h 8h 12h 1d 1w 1mo), a
// five-field cron expression or a descriptor such as @daily. Schedules that
// fire more often than every 15 minutes are refused: a run of a large
// account takes longer than that.
func ParseSchedule(text string) (Schedule, error) {
	text = strings.TrimSpace(text)
	expr := text
	if c, ok := shortcuts[strings.ToLower(text)]; ok {
		text, expr = strings.ToLower(text), c
	}
	if strings.HasPrefix(expr, "@every") {
		return Schedule{}, apperr.New(apperr.Invalid, "schedule %q: @every is not supported; use a shortcut (1h … 1mo) or a cron expression", text)
	}
	spec, err := cronParser.Parse(expr)
	if err != nil {
		return Schedule{}, apperr.New(apperr.Invalid, "schedule %q is not a shortcut (1h 2h 3h 4h 6h 8h 12h 1d 1w 1mo) or a cron expression (minute hour day-of-month month day-of-week, UTC): %v", text, err)
	}
	s := Schedule{Text: text, spec: spec}
	if iv := s.Interval(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); iv < 15*time.Minute {
		return Schedule{}, apperr.New(apperr.Invalid, "schedule %q runs every %s; the shortest allowed interval is 15m", text, iv)
	}
	return s, nil
}

// Next is the first time after t the schedule fires.
func (s Schedule) Next(t time.Time) time.Time { return s.spec.Next(t.UTC()) }

// Interval is the time between the schedule's next two firings after t:
// the expected age of the newest copy just before a run.
func (s Schedule) Interval(t time.Time) time.Duration {
	a := s.spec.Next(t.UTC())
	return s.spec.Next(a).Sub(a)
}

// Hours is a window of hours of the day (UTC) in which scheduled runs may
// start: [From, To), wrapping past midnight when From > To. The zero value
// allows every hour.
type Hours struct{ From, To int }

// ParseHours reads "FROM-TO" in whole hours, e.g. "1-6" or "22-4"; "" and
// "0-24" allow every hour.
func ParseHours(s string) (Hours, error) {
	if s == "" {
		return Hours{}, nil
	}
	var h Hours
	if _, err := fmt.Sscanf(s, "%d-%d", &h.From, &h.To); err != nil || h.From < 0 || h.From > 23 || h.To < 0 || h.To > 24 || h.From == h.To {
		return Hours{}, fmt.Errorf("allowed hours %q: want FROM-TO in whole UTC hours, e.g. 1-6 or 22-4", s)
	}
	if h.From == 0 && h.To == 24 {
		return Hours{}, nil
	}
	return h, nil
}

// Allows reports whether a run may start at t.
func (h Hours) Allows(t time.Time) bool {
	if h == (Hours{}) {
		return true
	}
	hr := t.UTC().Hour()
	if h.From < h.To {
		return hr >= h.From && hr < h.To
	}
	return hr >= h.From || hr < h.To
}

func (h Hours) String() string {
	if h == (Hours{}) {
		return "any hour"
	}
	return fmt.Sprintf("%02d:00-%02d:00 UTC", h.From, h.To)
}
