// Package webhook is the webhook notification channel: a JSON POST signed
// with HMAC-SHA256, in poolctl's own format or one that Slack or Telegram
// accept.
//
// Signature: with a secret, each request carries
//
//	X-Poolctl-Timestamp: UNIX-SECONDS
//	X-Poolctl-Signature: sha256=HEX(HMAC-SHA256(secret, TIMESTAMP + "." + BODY))
//
// and X-Poolctl-Delivery: ID (the same on every attempt of one delivery:
// a receiver that saw it already can discard the repeat). Receivers check
// the signature with Verify and refuse old timestamps (replays).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/notify"
)

// Header names.
const (
	HeaderSignature = "X-Poolctl-Signature"
	HeaderTimestamp = "X-Poolctl-Timestamp"
	HeaderDelivery  = "X-Poolctl-Delivery"
)

// Driver makes webhook channels.
type Driver struct {
	// Client sends the requests; nil: one with a 30 s timeout.
	Client *http.Client
	// RootCAs verify HTTPS receivers when Client is nil; nil: the system's.
	RootCAs *x509.CertPool
	// Now stamps requests; time.Now when nil.
	Now func() time.Time
}

var _ notify.Driver = Driver{}

// Kind is api.ChannelWebhook.
func (Driver) Kind() string { return api.ChannelWebhook }

// Check validates an api.WebhookChannel.
func (Driver) Check(raw json.RawMessage, secret bool) (json.RawMessage, error) {
	var c api.WebhookChannel
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, apperr.New(apperr.Invalid, "webhook channel: %v", err)
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, apperr.New(apperr.Invalid, "url %q: want an http:// or https:// URL", redactURL(c.URL))
	}
	if u.User != nil {
		return nil, apperr.New(apperr.Invalid, "url: put no user or password in the URL (use --secret-file for signing)")
	}
	if c.Format == "" {
		c.Format = api.WebhookGeneric
	}
	switch c.Format {
	case api.WebhookGeneric, api.WebhookSlack:
		if c.ChatID != "" {
			return nil, apperr.New(apperr.Invalid, "chat_id is for the telegram format only")
		}
	case api.WebhookTelegram:
		if c.ChatID == "" {
			return nil, apperr.New(apperr.Invalid, "the telegram format needs a chat_id (--chat-id)")
		}
	default:
		return nil, apperr.New(apperr.Invalid, "format %q: want generic, slack or telegram", c.Format)
	}
	return json.Marshal(c)
}

func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = url.User("REDACTED")
		return u.String()
	}
	return s
}

// Open returns a sender; secret signs the requests (none: unsigned).
func (d Driver) Open(raw json.RawMessage, secret string) (notify.Sender, error) {
	var c api.WebhookChannel
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	cl := d.Client
	if cl == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if d.RootCAs != nil {
			tr.TLSClientConfig.RootCAs = d.RootCAs
		}
		cl = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	return &Sender{c: c, secret: []byte(secret), client: cl, now: now}, nil
}

// Sender posts messages to one URL.
type Sender struct {
	c      api.WebhookChannel
	secret []byte
	client *http.Client
	now    func() time.Time
}

// Payload is the body of the generic format.
type Payload struct {
	Version int            `json:"version"` // 1
	Message notify.Message `json:"message"`
	Text    string         `json:"text"`
}

// Body is the request body for m in the channel's format.
func (s *Sender) Body(m notify.Message) ([]byte, error) {
	switch s.c.Format {
	case api.WebhookSlack:
		return json.Marshal(map[string]any{"text": slackText(m)})
	case api.WebhookTelegram:
		return json.Marshal(map[string]any{"chat_id": s.c.ChatID, "text": telegramText(m), "parse_mode": "HTML", "disable_web_page_preview": true})
	default:
		return json.Marshal(Payload{Version: 1, Message: m, Text: m.Text()})
	}
}

func slackText(m notify.Message) string {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*", esc.Replace(m.Subject))
	for _, it := range m.Items {
		who := esc.Replace(it.Member)
		if it.Link != "" && who != "" {
			who = "<" + it.Link + "|" + who + ">"
		}
		fmt.Fprintf(&b, "\n• %s %s", who, esc.Replace(it.Cause))
	}
	if m.Link != "" {
		fmt.Fprintf(&b, "\n<%s|Open the dashboard>", m.Link)
	}
	return b.String()
}

func telegramText(m notify.Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "<b>%s</b>", html.EscapeString(m.Subject))
	for _, it := range m.Items {
		who := html.EscapeString(it.Member)
		if it.Link != "" && who != "" {
			who = `<a href="` + html.EscapeString(it.Link) + `">` + who + `</a>`
		}
		fmt.Fprintf(&b, "\n• %s %s", who, html.EscapeString(it.Cause))
	}
	if m.Link != "" {
		fmt.Fprintf(&b, "\n<a href=\"%s\">Open the dashboard</a>", html.EscapeString(m.Link))
	}
	return b.String()
}

// Sign is the X-Poolctl-Signature value for body sent at ts.
func Sign(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp is too old or in the future")
)

// Verify checks a received request's signature and that its timestamp is
// within maxAge of now; it returns the body.
func Verify(r *http.Request, secret []byte, now time.Time, maxAge time.Duration) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	ts := r.Header.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, ErrStale
	}
	if d := now.Sub(time.Unix(sec, 0)); d > maxAge || d < -maxAge {
		return nil, ErrStale
	}
	if !hmac.Equal([]byte(r.Header.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return nil, ErrBadSignature
	}
	return body, nil
}

// Send posts m. A 2xx answer is success; 408, 429 and 5xx are retried;
// other answers are permanent.
func (s *Sender) Send(ctx context.Context, m notify.Message) error {
	body, err := s.Body(m)
	if err != nil {
		return notify.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.c.URL, bytes.NewReader(body))
	if err != nil {
		return notify.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "poolctl-webhook/1")
	if m.ID > 0 {
		req.Header.Set(HeaderDelivery, strconv.FormatInt(m.ID, 10))
	}
	if len(s.secret) > 0 {
		ts := strconv.FormatInt(s.now().Unix(), 10)
		req.Header.Set(HeaderTimestamp, ts)
		req.Header.Set(HeaderSignature, Sign(s.secret, ts, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a token (Telegram's bot URL)
		}
		return fmt.Errorf("post to %s: %w", host(s.c.URL), err)
	}
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("%s answered %s: %s", host(s.c.URL), resp.Status, strings.TrimSpace(string(snippet)))
	if resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
		return err
	}
	return notify.Permanent(err)
}

// host names the receiver without its path (which may hold a token).
func host(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Scheme + "://" + u.Host
	}
	return "the webhook"
}
