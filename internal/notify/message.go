package notify

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// Message kinds.
const (
	KindAlert    = "alert"
	KindResolved = "resolved"
	KindReminder = "reminder"
	KindTest     = "test"
)

// Message is what a channel delivers: one alert, reminder or resolution
// about one pool, listing every member it concerns (a grouped alert lists
// many).
type Message struct {
	// ID is the delivery's id, set by the worker before Send: receivers
	// can use it to discard a repeat (email Message-ID, webhook header).
	ID       int64     `json:"id"`
	Kind     string    `json:"kind"`     // alert, resolved, reminder, test
	Severity string    `json:"severity"` // critical, warning
	Pool     string    `json:"pool,omitempty"`
	Subject  string    `json:"subject"`
	Items    []Item    `json:"items"`
	Link     string    `json:"link,omitempty"` // the dashboard page of the pool (or of the one member)
	At       time.Time `json:"at"`
}

// Item is one incident in a message.
type Item struct {
	Incident   int64     `json:"incident,omitempty"`
	Alert      string    `json:"alert"` // member_down, failover, dns_member_disabled, replication_failed, test
	Member     string    `json:"member,omitempty"`
	Cause      string    `json:"cause"`
	Since      time.Time `json:"since"`
	Link       string    `json:"link,omitempty"`
	Suppressed int       `json:"suppressed,omitempty"` // dependent alerts folded into this one
}

// Text is the message as plain text.
func (m Message) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", m.Subject)
	if m.Pool != "" {
		fmt.Fprintf(&b, "Pool: %s\n", m.Pool)
	}
	if m.Severity != "" {
		fmt.Fprintf(&b, "Severity: %s\n", m.Severity)
	}
	b.WriteString("\n")
	for _, it := range m.Items {
		who := it.Member
		if who == "" {
			who = "-"
		}
		fmt.Fprintf(&b, "- %s: %s (since %s)", who, it.Cause, it.Since.UTC().Format(time.RFC3339))
		if it.Suppressed > 0 {
			fmt.Fprintf(&b, "; %d dependent alert(s) folded in", it.Suppressed)
		}
		if it.Link != "" {
			fmt.Fprintf(&b, "\n  %s", it.Link)
		}
		b.WriteString("\n")
	}
	if m.Link != "" {
		fmt.Fprintf(&b, "\nDashboard: %s\n", m.Link)
	}
	return b.String()
}

var htmlTmpl = template.Must(template.New("m").Parse(`<!doctype html>
<html><body style="font-family:sans-serif">
<h2>{{.Subject}}</h2>
<p>{{if .Pool}}Pool <b>{{.Pool}}</b>{{end}}{{if .Severity}} · severity <b>{{.Severity}}</b>{{end}}</p>
<table cellpadding="4" style="border-collapse:collapse">
<tr><th align="left">Member</th><th align="left">Cause</th><th align="left">Since</th></tr>
{{range .Items}}<tr><td>{{if .Link}}<a href="{{.Link}}">{{or .Member "-"}}</a>{{else}}{{or .Member "-"}}{{end}}</td><td>{{.Cause}}{{if .Suppressed}} ({{.Suppressed}} dependent alert(s) folded in){{end}}</td><td>{{.Since.UTC.Format "2006-01-02 15:04:05 UTC"}}</td></tr>
{{end}}</table>
{{if .Link}}<p><a href="{{.Link}}">Open the dashboard</a></p>{{end}}
</body></html>
`))

// HTML is the message as an HTML document (values escaped).
func (m Message) HTML() string {
	var b bytes.Buffer
	if err := htmlTmpl.Execute(&b, m); err != nil {
		return "<pre>" + template.HTMLEscapeString(m.Text()) + "</pre>"
	}
	return b.String()
}
