package web

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/store"
	"github.com/poolctl/poolctl/internal/tlsutil"
)

var userNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// ValidateUserName checks a dashboard user name: 1–64 lower-case letters,
// digits, dots, hyphens, underscores or @, starting with a letter or digit.
func ValidateUserName(name string) error {
	if !userNameRE.MatchString(name) {
		return apperr.New(apperr.Invalid, "user name %q is invalid: use 1-64 lower-case letters, digits, '.', '_', '-' or '@'", name)
	}
	return nil
}

// AddUser creates a dashboard user with an argon2id hash of password.
func AddUser(ctx context.Context, st *store.Store, name, password string, admin bool, now time.Time) (store.User, error) {
	if err := ValidateUserName(name); err != nil {
		return store.User{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return store.User{}, apperr.Wrap(apperr.Invalid, err, "user %s", name)
	}
	hash, err := HashPassword(password, DefaultArgon2())
	if err != nil {
		return store.User{}, err
	}
	u := store.User{Name: name, PasswordHash: hash, IsAdmin: admin}
	return u, st.CreateUser(ctx, &u, now)
}

// SetUserPassword replaces a user's password and ends its sessions.
func SetUserPassword(ctx context.Context, st *store.Store, name, password string, now time.Time) error {
	if err := ValidatePassword(password); err != nil {
		return apperr.Wrap(apperr.Invalid, err, "user %s", name)
	}
	u, err := st.GetUser(ctx, name)
	if err != nil {
		return err
	}
	hash, err := HashPassword(password, DefaultArgon2())
	if err != nil {
		return err
	}
	if err := st.SetPassword(ctx, u.ID, hash, now); err != nil {
		return err
	}
	_, err = st.DeleteUserSessions(ctx, u.ID)
	return err
}

// GeneratePassword returns a random 20-character password (about 119 bits)
// from an alphabet without look-alike characters.
func GeneratePassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	out := make([]byte, 0, 20)
	buf := make([]byte, 32)
	for len(out) < cap(out) {
		if _, err := rand.Read(buf); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err))
		}
		for _, c := range buf {
			// Reject the top bytes so that every letter is equally likely.
			if int(c) < 256-256%len(alphabet) && len(out) < cap(out) {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// FirstAdmin is the name of the administrator created at first start.
const FirstAdmin = "admin"

// EnsureFirstAdmin creates the administrator "admin" with a random
// password written to path (0600) when the store has no user at all, and
// does nothing otherwise. It reports whether it created the user.
func EnsureFirstAdmin(ctx context.Context, st *store.Store, path string, now time.Time, log *slog.Logger) (bool, error) {
	n, err := st.CountUsers(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	pw := GeneratePassword()
	hash, err := HashPassword(pw, DefaultArgon2())
	if err != nil {
		return false, err
	}
	u := store.User{Name: FirstAdmin, PasswordHash: hash, IsAdmin: true}
	created, err := st.CreateFirstUser(ctx, &u, now)
	if err != nil || !created {
		return false, err
	}
	if err := tlsutil.WriteFileAtomic(path, []byte(pw+"\n"), 0o600); err != nil {
		_ = st.DeleteUser(context.WithoutCancel(ctx), u.Name)
		return false, fmt.Errorf("write first admin password: %w", err)
	}
	if log != nil {
		log.Info("dashboard administrator created; sign in as admin with the password in "+path+" and change it on the Account page", "user", u.Name)
	}
	return true, nil
}
