package api

import "time"

// Notification channel kinds.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// Webhook payload formats.
const (
	WebhookGeneric  = "generic"
	WebhookSlack    = "slack"
	WebhookTelegram = "telegram"
)

// SMTP transport security.
const (
	TLSImplicit = "implicit"
	TLSStartTLS = "starttls"
	TLSNone     = "none"
)

// Alert severities. A route's severity is the least it passes: warning
// passes warning and critical, critical passes critical only.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
)

// EmailChannel is an SMTP channel's configuration (its password is sealed
// on the server and never returned).
type EmailChannel struct {
	SMTP string   `json:"smtp"` // HOST:PORT
	From string   `json:"from"`
	To   []string `json:"to"`
	User string   `json:"user,omitempty"` // AUTH when set
	Auth string   `json:"auth,omitempty"` // plain (default) or login
	TLS  string   `json:"tls"`            // implicit, starttls or none
}

// WebhookChannel is a webhook channel's configuration (its signing secret
// is sealed on the server and never returned).
type WebhookChannel struct {
	URL    string `json:"url"`
	Format string `json:"format"`            // generic, slack or telegram
	ChatID string `json:"chat_id,omitempty"` // telegram: the chat to post to
}

// NotifyChannel is a place alerts are delivered to.
type NotifyChannel struct {
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Email     *EmailChannel   `json:"email,omitempty"`
	Webhook   *WebhookChannel `json:"webhook,omitempty"`
	HasSecret bool            `json:"has_secret"` // a password or signing secret is stored (never shown)
	CreatedAt time.Time       `json:"created_at"`
}

// NotifyChannelCreate adds a channel. Secret is the SMTP password or the
// webhook signing secret.
type NotifyChannelCreate struct {
	Name    string          `json:"name"`
	Kind    string          `json:"kind"`
	Email   *EmailChannel   `json:"email,omitempty"`
	Webhook *WebhookChannel `json:"webhook,omitempty"`
	Secret  string          `json:"secret,omitempty"`
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliverySending   = "sending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// NotifyDelivery is one message queued for one channel, with its attempts.
type NotifyDelivery struct {
	ID          int64           `json:"id"`
	Channel     string          `json:"channel"`
	Kind        string          `json:"kind"` // alert, resolved, reminder, test
	Pool        string          `json:"pool,omitempty"`
	Subject     string          `json:"subject"`
	Status      string          `json:"status"`
	Attempts    int             `json:"attempts"`
	MaxAttempts int             `json:"max_attempts"`
	NextAt      *time.Time      `json:"next_at,omitempty"` // pending: the next attempt
	LastError   string          `json:"last_error,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
	AttemptLog  []NotifyAttempt `json:"attempt_log,omitempty"`
}

// NotifyAttempt is one delivery attempt and its outcome.
type NotifyAttempt struct {
	Seq        int       `json:"seq"`
	At         time.Time `json:"at"`
	DurationMS int64     `json:"duration_ms"`
	Outcome    string    `json:"outcome"` // delivered, retry, failed
	Error      string    `json:"error,omitempty"`
}

// MonitorRoute sends a pool's alerts of Severity and worse to Channel.
type MonitorRoute struct {
	Channel  string `json:"channel"`
	Severity string `json:"severity"`
}

// MonitorRouteSet sets a pool's route to a channel.
type MonitorRouteSet struct {
	Severity string `json:"severity"`
}

// Incident is one alert from its first sign to its resolution.
type Incident struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"` // member_down, failover, dns_member_disabled, replication_failed
	Severity   string     `json:"severity"`
	Pool       string     `json:"pool,omitempty"`
	Member     string     `json:"member,omitempty"`
	Cause      string     `json:"cause"`
	State      string     `json:"state"` // pending, firing, recovering, resolved
	Since      time.Time  `json:"since"`
	FiredAt    *time.Time `json:"fired_at,omitempty"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	Suppressed int        `json:"suppressed,omitempty"` // dependent alerts folded into this one
	Muted      string     `json:"muted,omitempty"`      // why no alert was sent (a maintenance window)
}

// MonitorSettings are a pool's monitoring routes and recent incidents.
type MonitorSettings struct {
	Pool      string         `json:"pool"`
	Routes    []MonitorRoute `json:"routes"`
	Incidents []Incident     `json:"incidents"`
}
