package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/notify"
	"github.com/poolctl/poolctl/internal/notify/webhook"
)

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func message() notify.Message {
	return notify.Message{ID: 7, Kind: notify.KindAlert, Severity: api.SeverityCritical, Pool: "web", Subject: "[poolctl] web: member web1 is down",
		Link: "https://poolctl.test/pools/web", At: at, Items: []notify.Item{{Alert: "member_down", Member: "web1", Cause: "no heartbeat <30s>", Since: at}}}
}

func sender(t *testing.T, c api.WebhookChannel, secret string, cl *http.Client) notify.Sender {
	t.Helper()
	raw, _ := json.Marshal(c)
	d := webhook.Driver{Client: cl, Now: func() time.Time { return at }}
	cfg, err := d.Check(raw, secret != "")
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	s, err := d.Open(cfg, secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSignedPost(t *testing.T) {
	secret := []byte("hook-secret")
	var got webhook.Payload
	var verifyErr error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := webhook.Verify(r, secret, at.Add(time.Minute), 5*time.Minute)
		if err != nil {
			verifyErr = err
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if r.Header.Get(webhook.HeaderDelivery) != "7" {
			verifyErr = errors.New("no delivery header")
		}
		verifyErr = json.Unmarshal(body, &got)
	}))
	defer srv.Close()
	if err := sender(t, api.WebhookChannel{URL: srv.URL + "/hook"}, string(secret), srv.Client()).Send(context.Background(), message()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if verifyErr != nil {
		t.Fatalf("receiver: %v", verifyErr)
	}
	if got.Version != 1 || got.Message.Pool != "web" || got.Message.Items[0].Member != "web1" || !strings.Contains(got.Text, "web1") {
		t.Fatalf("payload %+v", got)
	}

	// The wrong secret is refused by the receiver, permanently (401).
	err := sender(t, api.WebhookChannel{URL: srv.URL}, "other", srv.Client()).Send(context.Background(), message())
	if !errors.Is(verifyErr, webhook.ErrBadSignature) || !notify.IsPermanent(err) {
		t.Fatalf("wrong secret: receiver %v, sender %v; want a bad signature and a permanent error", verifyErr, err)
	}
	// A stale timestamp is refused.
	req := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
	req.Header.Set(webhook.HeaderTimestamp, "1000")
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, "1000", []byte("{}")))
	if _, err := webhook.Verify(req, secret, at, 5*time.Minute); !errors.Is(err, webhook.ErrStale) {
		t.Fatalf("stale: got %v", err)
	}
}

func TestRetryableAnswers(t *testing.T) {
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }))
	defer srv.Close()
	s := sender(t, api.WebhookChannel{URL: srv.URL}, "", srv.Client())
	for _, tc := range []struct {
		status    int
		permanent bool
	}{{503, false}, {429, false}, {408, false}, {500, false}, {404, true}, {400, true}} {
		status = tc.status
		err := s.Send(context.Background(), message())
		if err == nil || notify.IsPermanent(err) != tc.permanent {
			t.Errorf("%d: got %v, want permanent=%v", tc.status, err, tc.permanent)
		}
	}
	srv.Close()
	if err := s.Send(context.Background(), message()); err == nil || notify.IsPermanent(err) {
		t.Errorf("closed receiver: got %v, want a temporary error", err)
	}
}

func TestFormats(t *testing.T) {
	var body map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body = nil
		_ = json.NewDecoder(r.Body).Decode(&body)
	}))
	defer srv.Close()
	if err := sender(t, api.WebhookChannel{URL: srv.URL, Format: api.WebhookSlack}, "", srv.Client()).Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	if txt, _ := body["text"].(string); !strings.Contains(txt, "*[poolctl] web: member web1 is down*") || !strings.Contains(txt, "&lt;30s&gt;") || len(body) != 1 {
		t.Fatalf("slack body %v", body)
	}
	if err := sender(t, api.WebhookChannel{URL: srv.URL, Format: api.WebhookTelegram, ChatID: "-100123"}, "", srv.Client()).Send(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	if body["chat_id"] != "-100123" || body["parse_mode"] != "HTML" || !strings.Contains(body["text"].(string), "<b>[poolctl] web: member web1 is down</b>") {
		t.Fatalf("telegram body %v", body)
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []api.WebhookChannel{
		{URL: "ftp://x.test/"}, {URL: "not a url"}, {URL: "https://u:p@x.test/"},
		{URL: "https://x.test/", Format: "teams"}, {URL: "https://x.test/", Format: api.WebhookTelegram},
		{URL: "https://x.test/", ChatID: "1"},
	} {
		raw, _ := json.Marshal(c)
		if _, err := (webhook.Driver{}).Check(raw, false); !errors.Is(err, apperr.Invalid) {
			t.Errorf("%+v: got %v, want Invalid", c, err)
		}
	}
}
