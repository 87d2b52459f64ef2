package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
)

// Base is what every page's layout needs.
type Base struct {
	Title   string
	Section string // highlighted navigation entry: pools, events, zones, account
	User    string
	Admin   bool
	CSRF    string
	Flash   string // notice after a redirect
	Error   string // the service's refusal, shown inline
	Version string
	Now     time.Time
	Pool    *PoolNav   // set on a pool's pages
	Member  *MemberNav // set on a member's pages
	Live    string     // URL of the page's server-sent event stream, if any
}

// PoolNav is the pool header of pool and member pages.
type PoolNav struct {
	Name   string
	Tab    string
	Banner *api.Banner
	Fo     foChoice // what the banner offers to make active
}

// MemberNav is the member header and tabs.
type MemberNav struct {
	Name, Tab string
	M         api.Member
	Now       time.Time
}

func (h *Handler) base(r *http.Request, title, section string) Base {
	b := Base{Title: title, Section: section, Version: h.cfg.Version, Now: h.now()}
	if s := sessionOf(r); s != nil {
		b.User, b.Admin, b.CSRF = s.UserName, s.IsAdmin, s.CSRFToken
	}
	return b
}

// ActionCSRF is the CSRF token for the forms of actions: empty for a
// read-only user, whose pages then show no action (the server refuses
// their POSTs anyway); their own account's forms use CSRF.
func (b Base) ActionCSRF() string {
	if !b.Admin {
		return ""
	}
	return b.CSRF
}

// actionCSRF is Base.ActionCSRF for partials rendered outside a page.
func actionCSRF(r *http.Request) string {
	if s := sessionOf(r); s != nil && s.IsAdmin {
		return s.CSRFToken
	}
	return ""
}

// pageBase is base plus the pending flash notice.
func (h *Handler) pageBase(w http.ResponseWriter, r *http.Request, title, section string) Base {
	b := h.base(r, title, section)
	b.Flash = h.takeFlash(w, r)
	return b
}

func (h *Handler) funcs() template.FuncMap {
	return template.FuncMap{
		"static": h.static.url,
		"ago":    ago,
		"agoT":   func(t time.Time, now time.Time) string { return ago(&t, now) },
		"pct":    func(v float64) string { return fmt.Sprintf("%.0f%%", v) },
		"bar":    func(v float64) string { return fmt.Sprintf("%.1f", clamp(v, 0, 100)) },
		"bytes":  humanBytes,
		"rate":   func(v int64) string { return humanBytes(uint64(max(v, 0))) + "/s" },
		"size":   func(v int64) string { return humanBytes(uint64(max(v, 0))) },
		"ms":     func(v int64) string { return humanDuration(time.Duration(v) * time.Millisecond) },
		"when":   when,
		"whenP": func(t *time.Time) string {
			if t == nil {
				return "—"
			}
			return when(*t)
		},
		"dur":       func(d api.Duration) string { return humanDuration(d.D()) },
		"join":      strings.Join,
		"json":      prettyJSON,
		"fixed":     func(v float64) string { return fmt.Sprintf("%.2f", v) },
		"disk":      maxDisk,
		"badges":    stackBadges,
		"stateText": stateText,
		"bannerOf": func(b Base) bannerData {
			d := bannerData{CSRF: b.ActionCSRF()}
			if b.Pool != nil {
				d.Pool, d.Banner, d.foChoice = b.Pool.Name, b.Pool.Banner, b.Pool.Fo
			}
			return d
		},
		"uptime": func(s uint64) string {
			d := time.Duration(s) * time.Second
			if d >= 48*time.Hour {
				return fmt.Sprintf("%d days", int(d.Hours()/24))
			}
			return d.Round(time.Minute).String()
		},
	}
}

func clamp(v, lo, hi float64) float64 {
	if math.IsNaN(v) {
		return lo
	}
	return math.Max(lo, math.Min(hi, v))
}

// ago renders how long before now t was: "3 s ago", "never".
// humanDuration writes d as people read it: "257 ms", "2.5 s", "4 min 12 s",
// "4 h 36 min", "3 days 2 h".
func humanDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + humanDuration(-d)
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 10*time.Second && d%time.Second != 0:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return unitPair(int(d/time.Minute), "min", int(d%time.Minute/time.Second), "s")
	case d < 48*time.Hour:
		return unitPair(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "min")
	}
	return unitPair(int(d/(24*time.Hour)), "days", int(d%(24*time.Hour)/time.Hour), "h")
}

func unitPair(a int, au string, b int, bu string) string {
	if b == 0 {
		return fmt.Sprintf("%d %s", a, au)
	}
	return fmt.Sprintf("%d %s %d %s", a, au, b, bu)
}

func ago(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	d := now.Sub(*t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

func when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func humanBytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(raw)
	}
	return string(b)
}

// maxDisk is the usage of a member's fullest disk.
func maxDisk(m *api.Metrics) float64 {
	if m == nil {
		return 0
	}
	v := 0.0
	for _, d := range m.Disks {
		v = math.Max(v, d.Percent)
	}
	return v
}

// stateText explains a member state in a few words.
func stateText(s string) string {
	switch s {
	case api.StatusPending:
		return "waiting for agent"
	case api.StatusHealthy:
		return "healthy"
	case api.StatusSuspect:
		return "suspect: heartbeats late"
	case api.StatusDown:
		return "down: no heartbeat"
	}
	return s
}

// stackBadges names the detected parts of a member's stack.
func stackBadges(st api.Stack) []string {
	var out []string
	add := func(c *api.Component, name string) {
		if c != nil && c.Detected {
			out = append(out, name)
		}
	}
	add(st.CPanel, "cPanel")
	add(st.OpenLiteSpeed, "OpenLiteSpeed")
	add(st.MariaDB, "MariaDB")
	if st.Galera != nil && st.Galera.Enabled {
		out = append(out, "Galera")
	}
	add(st.HAProxy, "HAProxy")
	add(st.Exim, "Exim")
	add(st.Postfix, "Postfix")
	add(st.Dovecot, "Dovecot")
	if st.Firewall != nil && st.Firewall.Detected {
		out = append(out, "firewall")
	}
	return out
}
