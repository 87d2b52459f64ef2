package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
)

var (
	errCrossOrigin = apperr.New(apperr.Forbidden, "this request came from another site and was refused; use the dashboard's own forms")
	errCSRF        = apperr.New(apperr.Forbidden, "the form's security token is missing or stale; reload the page and try again")
	errReadOnly    = apperr.New(apperr.Forbidden, "your account is read-only; ask an administrator to make this change")
)

// Cookie names. Over TLS the session cookie takes the __Host- prefix, which
// browsers accept only with Secure, Path=/ and no Domain.
func (h *Handler) sessionCookie() string {
	if h.cfg.Secure {
		return "__Host-poolctl_session"
	}
	return "poolctl_session"
}

const (
	loginCookie = "poolctl_login"
	flashCookie = "poolctl_flash"
)

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: h.cfg.Secure, SameSite: http.SameSiteLaxMode}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	http.SetCookie(w, c)
}

type sessionKey struct{}

// session is the signed-in user of a request.
type session struct {
	store.Session
}

func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

// lookup returns the live session of r, or nil. Expired sessions are
// deleted; activity is recorded at most once a minute.
func (h *Handler) lookup(r *http.Request) *session {
	c, err := r.Cookie(h.sessionCookie())
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return nil
	}
	id := hashID(c.Value)
	se, err := h.st.GetSession(r.Context(), id)
	if err != nil {
		if !errors.Is(err, apperr.NotFound) {
			h.log.Warn("look up session", "err", err)
		}
		return nil
	}
	now := h.now()
	if !now.Before(se.ExpiresAt) || now.Sub(se.LastSeenAt) > h.cfg.IdleTimeout {
		_ = h.st.DeleteSession(context.WithoutCancel(r.Context()), id)
		return nil
	}
	if now.Sub(se.LastSeenAt) > time.Minute {
		if err := h.st.TouchSession(r.Context(), id, now); err != nil {
			h.log.Warn("touch session", "err", err)
		}
	}
	return &session{Session: se}
}

// requireSession lets signed-in users through and sends everyone else to
// the sign-in page. State-changing requests must carry the session's CSRF
// token (form field csrf or header X-CSRF-Token) and, except for the
// user's own account actions, an administrator.
func (h *Handler) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := h.lookup(r)
		if s == nil {
			h.toLogin(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" {
				tok = r.PostFormValue("csrf")
			}
			if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.CSRFToken)) != 1 {
				h.fail(w, r, errCSRF)
				return
			}
			own := r.URL.Path == "/logout" || r.URL.Path == "/logout-everywhere" || r.URL.Path == "/account/password"
			if !s.IsAdmin && !own {
				h.fail(w, r, errReadOnly)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, s)))
	})
}

// toLogin redirects to the sign-in page, remembering where to come back.
func (h *Handler) toLogin(w http.ResponseWriter, r *http.Request) {
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	switch {
	case r.Header.Get("HX-Request") != "":
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
	case r.Method == http.MethodGet && !strings.Contains(r.Header.Get("Accept"), "text/event-stream"):
		http.Redirect(w, r, target, http.StatusSeeOther)
	default:
		h.fail(w, r, apperr.New(apperr.Unauthorized, "you are not signed in (or your session ended); sign in again"))
	}
}

// localPath accepts only same-site paths as redirect targets.
func localPath(p string) string {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "/"
	}
	return p
}

// clientIP is the address the request came from. Forwarding headers are
// ignored: they are trivial to forge.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// startSession signs user in and sets the cookie.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, u store.User) error {
	token := randomToken()
	now := h.now()
	ua := r.UserAgent()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	se := store.Session{IDHash: hashID(token), UserID: u.ID, CSRFToken: randomToken(), CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(h.cfg.SessionLifetime), RemoteAddr: clientIP(r), UserAgent: ua}
	if err := h.st.CreateSession(r.Context(), &se); err != nil {
		return err
	}
	if n, err := h.st.PruneSessions(r.Context(), now, now.Add(-h.cfg.IdleTimeout)); err == nil && n > 0 {
		h.log.Debug("pruned expired sessions", "count", n)
	}
	h.setCookie(w, h.sessionCookie(), token, h.cfg.SessionLifetime)
	return nil
}

// flash sets a one-line notice shown on the next page.
func (h *Handler) flash(w http.ResponseWriter, msg string) {
	h.setCookie(w, flashCookie, url.QueryEscape(msg), time.Minute)
}

// takeFlash reads and clears the notice.
func (h *Handler) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	h.setCookie(w, flashCookie, "", -1)
	msg, err := url.QueryUnescape(c.Value)
	if err != nil || len(msg) > 500 {
		return ""
	}
	return msg
}

// redirect answers a successful form post (POST/redirect/GET).
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, to, flash string) error {
	if flash != "" {
		h.flash(w, flash)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}
