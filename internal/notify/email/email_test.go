package email_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/notify"
	"github.com/poolctl/poolctl/internal/notify/email"
	"github.com/poolctl/poolctl/internal/notify/email/smtptest"
)

func message() notify.Message {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return notify.Message{ID: 42, Kind: notify.KindAlert, Severity: api.SeverityCritical, Pool: "web",
		Subject: "[poolctl] web: member web1 is down", Link: "https://poolctl.test/pools/web", At: at,
		Items: []notify.Item{{Alert: "member_down", Member: "web1", Cause: "no heartbeat for 30s <b>", Since: at, Link: "https://poolctl.test/pools/web/members/web1"}}}
}

func open(t *testing.T, d email.Driver, c api.EmailChannel, secret string) notify.Sender {
	t.Helper()
	raw, _ := json.Marshal(c)
	cfg, err := d.Check(raw, secret != "")
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	s, err := d.Open(cfg, secret)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestSendTLSAndAuth(t *testing.T) {
	for _, tc := range []struct{ tls, auth string }{
		{api.TLSImplicit, "plain"}, {api.TLSImplicit, "login"}, {api.TLSStartTLS, "plain"}, {api.TLSStartTLS, "login"}, {api.TLSNone, "plain"},
	} {
		t.Run(tc.tls+"/"+tc.auth, func(t *testing.T) {
			srvTLS := tc.tls
			if srvTLS == api.TLSNone {
				srvTLS = ""
			}
			srv, err := smtptest.Start(smtptest.Options{TLS: srvTLS, User: "alerts", Password: "s3cret"})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			d := email.Driver{RootCAs: srv.RootCAs}
			c := api.EmailChannel{SMTP: srv.Addr, From: "poolctl@example.test", To: []string{"ops@example.test", "oncall@example.test"}, User: "alerts", Auth: tc.auth, TLS: tc.tls}
			if err := open(t, d, c, "s3cret").Send(context.Background(), message()); err != nil {
				t.Fatalf("Send: %v", err)
			}
			ms := srv.Messages()
			if len(ms) != 1 {
				t.Fatalf("got %d messages, want 1", len(ms))
			}
			m := ms[0]
			if want := strings.ToUpper(tc.auth); m.AuthMech != want {
				t.Errorf("auth mechanism %q, want %q", m.AuthMech, want)
			}
			if m.TLS != (tc.tls != api.TLSNone) {
				t.Errorf("TLS %v, want %v", m.TLS, tc.tls != api.TLSNone)
			}
			if len(m.To) != 2 {
				t.Errorf("recipients %v, want 2", m.To)
			}
			if got := m.Header.Get("Subject"); got != "[poolctl] web: member web1 is down" {
				t.Errorf("subject %q", got)
			}
			if got := m.Header.Get("Message-Id"); got != "<poolctl-delivery-42@example.test>" {
				t.Errorf("Message-ID %q", got)
			}
			body := string(m.Data)
			for _, want := range []string{"text/plain", "text/html", "Pool: web", "web1", "https://poolctl.test/pools/web/members/web1", "&lt;b&gt;"} {
				if !strings.Contains(body, want) {
					t.Errorf("the message lacks %q:\n%s", want, body)
				}
			}
		})
	}
}

func TestSendRefused(t *testing.T) {
	srv, err := smtptest.Start(smtptest.Options{TLS: "starttls", User: "alerts", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	d := email.Driver{RootCAs: srv.RootCAs}
	c := api.EmailChannel{SMTP: srv.Addr, From: "poolctl@example.test", To: []string{"ops@example.test"}, User: "alerts", TLS: api.TLSStartTLS}
	if err := open(t, d, c, "wrong").Send(context.Background(), message()); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	// An untrusted certificate is refused.
	if err := open(t, email.Driver{}, c, "s3cret").Send(context.Background(), message()); err == nil {
		t.Fatal("an untrusted certificate was accepted")
	}
	// A temporary failure is not permanent: it is retried.
	srv.FailNext(1)
	err = open(t, d, c, "s3cret").Send(context.Background(), message())
	if err == nil || notify.IsPermanent(err) {
		t.Fatalf("451: got %v, want a temporary error", err)
	}
	if len(srv.Messages()) != 0 {
		t.Fatalf("got %d messages, want 0", len(srv.Messages()))
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		c      api.EmailChannel
		secret bool
	}{
		{"no port", api.EmailChannel{SMTP: "mail.example.test", From: "a@b.test", To: []string{"c@d.test"}}, false},
		{"bad from", api.EmailChannel{SMTP: "mail.example.test:587", From: "nope", To: []string{"c@d.test"}}, false},
		{"no to", api.EmailChannel{SMTP: "mail.example.test:587", From: "a@b.test"}, false},
		{"bad tls", api.EmailChannel{SMTP: "mail.example.test:587", From: "a@b.test", To: []string{"c@d.test"}, TLS: "maybe"}, false},
		{"password without user", api.EmailChannel{SMTP: "mail.example.test:587", From: "a@b.test", To: []string{"c@d.test"}}, true},
		{"clear-text password", api.EmailChannel{SMTP: "mail.example.test:25", From: "a@b.test", To: []string{"c@d.test"}, User: "u", TLS: api.TLSNone}, true},
		{"bad auth", api.EmailChannel{SMTP: "mail.example.test:587", From: "a@b.test", To: []string{"c@d.test"}, User: "u", Auth: "cram-md5"}, true},
	} {
		raw, _ := json.Marshal(tc.c)
		if _, err := (email.Driver{}).Check(raw, tc.secret); !errors.Is(err, apperr.Invalid) {
			t.Errorf("%s: got %v, want Invalid", tc.name, err)
		}
	}
	raw, _ := json.Marshal(api.EmailChannel{SMTP: "mail.example.test:587", From: "a@b.test", To: []string{"c@d.test"}, User: "u"})
	out, err := (email.Driver{}).Check(raw, true)
	if err != nil {
		t.Fatal(err)
	}
	var c api.EmailChannel
	_ = json.Unmarshal(out, &c)
	if c.TLS != api.TLSStartTLS || c.Auth != "plain" {
		t.Fatalf("defaults: tls %q auth %q, want starttls plain", c.TLS, c.Auth)
	}
}
