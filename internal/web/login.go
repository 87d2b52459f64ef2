package web

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
)

type loginPage struct {
	Base
	Name, Next, Token string
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) error {
	if h.lookup(r) != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return nil
	}
	h.showLogin(w, r, http.StatusOK, "", "")
	return nil
}

// showLogin renders the sign-in form with a fresh login token: a
// double-submit value in a cookie and a hidden field, so that a sign-in
// cannot be forged from another site (login CSRF).
func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, status int, name, msg string) {
	tok := randomToken()
	h.setCookie(w, loginCookie, tok, 30*time.Minute)
	d := &loginPage{Base: h.base(r, "Sign in", ""), Name: name, Next: localPath(r.FormValue("next")), Token: tok}
	d.Error = msg
	if d.Flash == "" {
		d.Flash = h.takeFlash(w, r)
	}
	h.render(w, r, status, "login", d)
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimSpace(r.PostFormValue("name"))
	pw := r.PostFormValue("password")
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("token"))) != 1 {
		h.showLogin(w, r, http.StatusForbidden, name, "The sign-in form expired; please try again.")
		return nil
	}
	if name == "" || pw == "" || len(name) > 64 || len(pw) > maxPassword {
		h.showLogin(w, r, http.StatusBadRequest, name, "Enter your user name and password.")
		return nil
	}
	keys := []string{ipKey(clientIP(r)), userKey(strings.ToLower(name))}
	if d := h.limit.wait(keys...); d > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(d.Seconds()))))
		h.showLogin(w, r, http.StatusTooManyRequests, name,
			fmt.Sprintf("Too many failed sign-ins. Try again in %d s.", int(math.Ceil(d.Seconds()))))
		return nil
	}
	u, err := h.st.GetUser(r.Context(), name)
	if err != nil && !errors.Is(err, apperr.NotFound) {
		return err
	}
	ok, err := h.pw.check(u.PasswordHash, pw)
	if err != nil {
		h.log.Error("check password", "user", u.Name, "err", err)
	}
	if !ok {
		h.limit.fail(keys...)
		// An unknown name is not logged: it is often a password typed
		// into the wrong field.
		who := slog.String("user", u.Name)
		if u.Name == "" {
			who = slog.Bool("unknown_user", true)
		}
		h.log.Info("sign-in failed", who, "from", clientIP(r))
		h.showLogin(w, r, http.StatusUnauthorized, name, "Wrong user name or password.")
		return nil
	}
	h.limit.reset(keys...)
	if err := h.startSession(w, r, u); err != nil {
		return err
	}
	h.setCookie(w, loginCookie, "", -1)
	h.log.Info("signed in", "user", u.Name, "from", clientIP(r))
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) error {
	s := sessionOf(r)
	if err := h.st.DeleteSession(r.Context(), s.IDHash); err != nil {
		return err
	}
	h.setCookie(w, h.sessionCookie(), "", -1)
	return h.redirect(w, r, "/login", "You are signed out.")
}

func (h *Handler) logoutEverywhere(w http.ResponseWriter, r *http.Request) error {
	s := sessionOf(r)
	n, err := h.st.DeleteUserSessions(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	h.setCookie(w, h.sessionCookie(), "", -1)
	h.log.Info("signed out everywhere", "user", s.UserName, "sessions", n)
	return h.redirect(w, r, "/login", fmt.Sprintf("Signed out of %d session(s) on every device.", n))
}

type accountPage struct {
	Base
	Since, Expires time.Time
	Admin          bool
}

func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request) error {
	h.showAccount(w, r, http.StatusOK, "")
	return nil
}

func (h *Handler) showAccount(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s := sessionOf(r)
	d := &accountPage{Base: h.base(r, "Account", "account"), Since: s.CreatedAt, Expires: s.ExpiresAt, Admin: s.IsAdmin}
	d.Flash = h.takeFlash(w, r)
	d.Error = msg
	h.render(w, r, status, "account", d)
}

// changePassword sets a new password and ends the user's other sessions.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) error {
	s := sessionOf(r)
	u, err := h.st.GetUser(r.Context(), s.UserName)
	if err != nil {
		return err
	}
	cur, pw, again := r.PostFormValue("current"), r.PostFormValue("password"), r.PostFormValue("again")
	keys := []string{ipKey(clientIP(r)), userKey(strings.ToLower(u.Name))}
	if d := h.limit.wait(keys...); d > 0 {
		h.showAccount(w, r, http.StatusTooManyRequests, fmt.Sprintf("Too many failed attempts. Try again in %d s.", int(math.Ceil(d.Seconds()))))
		return nil
	}
	if ok, _ := h.pw.check(u.PasswordHash, cur); !ok {
		h.limit.fail(keys...)
		h.showAccount(w, r, http.StatusUnauthorized, "The current password is wrong.")
		return nil
	}
	if pw != again {
		h.showAccount(w, r, http.StatusBadRequest, "The new passwords differ.")
		return nil
	}
	if err := ValidatePassword(pw); err != nil {
		h.showAccount(w, r, http.StatusBadRequest, strings.ToUpper(err.Error()[:1])+err.Error()[1:]+".")
		return nil
	}
	hash, err := HashPassword(pw, DefaultArgon2())
	if err != nil {
		return err
	}
	if err := h.st.SetPassword(r.Context(), u.ID, hash, h.now()); err != nil {
		return err
	}
	if _, err := h.st.DeleteUserSessions(r.Context(), u.ID); err != nil {
		return err
	}
	if err := h.startSession(w, r, u); err != nil {
		return err
	}
	return h.redirect(w, r, "/account", "Password changed; your other sessions were signed out.")
}
