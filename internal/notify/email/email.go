// Package email is the e-mail notification channel: SMTP through
// github.com/wneessen/go-mail with implicit TLS or STARTTLS, AUTH PLAIN or
// LOGIN, and a message with a subject, a plain-text and an HTML body naming
// the pool, the members, the causes and a link to the dashboard.
package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/notify"
)

// Driver makes e-mail channels.
type Driver struct {
	// RootCAs verify the SMTP server's certificate; nil: the system's.
	RootCAs *x509.CertPool
}

var _ notify.Driver = Driver{}

// Kind is api.ChannelEmail.
func (Driver) Kind() string { return api.ChannelEmail }

// Check validates an api.EmailChannel.
func (Driver) Check(raw json.RawMessage, secret bool) (json.RawMessage, error) {
	var c api.EmailChannel
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, apperr.New(apperr.Invalid, "email channel: %v", err)
	}
	host, port, err := net.SplitHostPort(c.SMTP)
	if err != nil || host == "" {
		return nil, apperr.New(apperr.Invalid, "smtp %q: want HOST:PORT", c.SMTP)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return nil, apperr.New(apperr.Invalid, "smtp %q: the port must be 1-65535", c.SMTP)
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		return nil, apperr.New(apperr.Invalid, "from %q: not an e-mail address", c.From)
	}
	if len(c.To) == 0 {
		return nil, apperr.New(apperr.Invalid, "an email channel needs at least one recipient (to)")
	}
	for _, t := range c.To {
		if _, err := mail.ParseAddress(t); err != nil {
			return nil, apperr.New(apperr.Invalid, "to %q: not an e-mail address", t)
		}
	}
	if c.TLS == "" {
		c.TLS = api.TLSStartTLS
	}
	switch c.TLS {
	case api.TLSImplicit, api.TLSStartTLS, api.TLSNone:
	default:
		return nil, apperr.New(apperr.Invalid, "tls %q: want implicit, starttls or none", c.TLS)
	}
	c.Auth = strings.ToLower(c.Auth)
	if c.User == "" {
		if secret {
			return nil, apperr.New(apperr.Invalid, "a password needs a user (--user)")
		}
		c.Auth = ""
	} else {
		if c.Auth == "" {
			c.Auth = "plain"
		}
		if c.Auth != "plain" && c.Auth != "login" {
			return nil, apperr.New(apperr.Invalid, "auth %q: want plain or login", c.Auth)
		}
		if c.TLS == api.TLSNone && !loopback(host) {
			return nil, apperr.New(apperr.Invalid, "tls none with a user would send the password in the clear to %s: use starttls or implicit (tls none with AUTH is allowed to a loopback address only)", host)
		}
	}
	return json.Marshal(c)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Open returns a sender for a checked configuration; secret is the SMTP
// password.
func (d Driver) Open(raw json.RawMessage, secret string) (notify.Sender, error) {
	var c api.EmailChannel
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &Sender{c: c, password: secret, roots: d.RootCAs}, nil
}

// Sender sends messages over SMTP.
type Sender struct {
	c        api.EmailChannel
	password string
	roots    *x509.CertPool
}

// Build is the e-mail for m (exported for tests and previews).
func (s *Sender) Build(m notify.Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(s.c.From); err != nil {
		return nil, notify.Permanent(fmt.Errorf("from: %w", err))
	}
	if err := msg.To(s.c.To...); err != nil {
		return nil, notify.Permanent(fmt.Errorf("to: %w", err))
	}
	msg.Subject(m.Subject)
	if m.ID > 0 {
		_, domain, _ := strings.Cut(s.c.From, "@")
		domain = strings.Trim(domain, "<> ")
		if domain == "" {
			domain = "poolctl"
		}
		msg.SetMessageIDWithValue(fmt.Sprintf("poolctl-delivery-%d@%s", m.ID, domain))
		msg.SetGenHeader("X-Poolctl-Delivery", strconv.FormatInt(m.ID, 10))
	}
	if !m.At.IsZero() {
		msg.SetDateWithValue(m.At)
	} else {
		msg.SetDate()
	}
	msg.SetGenHeader("X-Poolctl-Kind", m.Kind)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text())
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML())
	return msg, nil
}

// Send delivers m. A recipient or sender the server refuses with a 5xx
// answer is permanent; anything else is retried.
func (s *Sender) Send(ctx context.Context, m notify.Message) error {
	msg, err := s.Build(m)
	if err != nil {
		return err
	}
	host, portS, _ := net.SplitHostPort(s.c.SMTP)
	port, _ := strconv.Atoi(portS)
	opts := []gomail.Option{gomail.WithPort(port), gomail.WithTLSConfig(&tls.Config{ServerName: host, RootCAs: s.roots, MinVersion: tls.VersionTLS12}),
		gomail.WithHELO("poolctl")}
	switch s.c.TLS {
	case api.TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case api.TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.c.User != "" {
		mech := map[string]gomail.SMTPAuthType{"plain": gomail.SMTPAuthPlain, "login": gomail.SMTPAuthLogin}[s.c.Auth]
		if s.c.TLS == api.TLSNone { // loopback only (Check)
			mech = map[string]gomail.SMTPAuthType{"plain": gomail.SMTPAuthPlainNoEnc, "login": gomail.SMTPAuthLoginNoEnc}[s.c.Auth]
		}
		opts = append(opts, gomail.WithSMTPAuth(mech), gomail.WithUsername(s.c.User), gomail.WithPassword(s.password))
	}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, gomail.WithTimeout(max(time.Until(dl), time.Second)))
	}
	cl, err := gomail.NewClient(host, opts...)
	if err != nil {
		return notify.Permanent(fmt.Errorf("smtp client: %w", err))
	}
	if err := cl.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
			return notify.Permanent(fmt.Errorf("smtp %s: %w", s.c.SMTP, err))
		}
		return fmt.Errorf("smtp %s: %w", s.c.SMTP, err)
	}
	return nil
}
