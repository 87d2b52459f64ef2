// Package redact hides the secrets that configuration strings carry, so
// that a log line, an error message or an event can name a URL or a DSN
// without showing its password: URL and DSN return the string with the
// secret parts replaced by Mask.
package redact

import (
	"net/url"
	"strings"
)

// Mask replaces a secret (the same as url.URL.Redacted uses).
const Mask = "xxxxx"

// secretParams are query parameter names whose values are masked: a name
// containing one of them (case-insensitive) is a secret.
var secretParams = []string{"password", "passwd", "secret", "token", "key", "sig", "auth", "credential"}

// URL returns rawURL with the password of its user information and the
// values of secret-looking query parameters (password=, token=, api_key=,
// X-Amz-Signature=, ...) replaced by Mask. A string that does not parse as
// a URL is masked the same way by its shape, so a malformed URL is safe to
// print too.
func URL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Opaque != "" {
		return byShape(rawURL)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), Mask)
		}
	}
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil { // a pair that does not parse may still hold a secret
			u.RawQuery = Mask
			return u.String()
		}
		masked := false
		for k, vs := range q {
			if secretParam(k) {
				for i := range vs {
					vs[i] = Mask
				}
				masked = true
			}
		}
		if masked {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}

// DSN returns a database address with its password replaced by Mask: a
// URL (postgres://user:pw@host/db) as URL does, or a MySQL driver DSN
// (user:pw@tcp(host:3306)/db).
func DSN(dsn string) string {
	if strings.Contains(dsn, "://") {
		return URL(dsn)
	}
	// user[:password]@net(addr)/db: the password may hold '@' and '/', the
	// driver splits at the last '@' before the last '/'.
	end := strings.LastIndex(dsn, "/")
	if end < 0 {
		end = len(dsn)
	}
	at := strings.LastIndex(dsn[:end], "@")
	if at < 0 {
		return dsn
	}
	user, _, has := strings.Cut(dsn[:at], ":")
	if !has {
		return dsn
	}
	return user + ":" + Mask + dsn[at:]
}

func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, s := range secretParams {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// byShape masks a string that url.Parse refused: the password between
// "scheme://user:" and the last '@' of the authority, and everything after
// a '?' (query values cannot be told apart without parsing).
func byShape(s string) string {
	out := s
	if i := strings.Index(out, "://"); i >= 0 {
		rest := out[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			if user, _, has := strings.Cut(rest[:at], ":"); has {
				out = out[:i+3] + user + ":" + Mask + rest[at:]
			}
		}
	} else {
		out = DSN(out)
	}
	if q := strings.IndexByte(out, '?'); q >= 0 {
		out = out[:q+1] + Mask
	}
	return out
}
