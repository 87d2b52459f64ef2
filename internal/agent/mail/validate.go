package mail

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Names are kept to characters that mean nothing to a passwd-file, a
// Postfix table, a shell or a path: no ":", whitespace, "/", quotes or
// newlines can get through.
var (
	accountRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	labelRE   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	localRE   = regexp.MustCompile(`^[a-z0-9_+-]+(\.[a-z0-9_+-]+)*$`)
	// Forwarding targets are other servers' addresses: case is theirs.
	remoteLocalRE = regexp.MustCompile(`^[A-Za-z0-9_+=-]+(\.[A-Za-z0-9_+=-]+)*$`)
	hashRE        = regexp.MustCompile(`^\{[A-Z0-9._-]{1,32}\}[!-~]+$`)
)

const maxSieve = 1 << 20

func invalid(format string, args ...any) error {
	return fmt.Errorf("mail: "+format+": %w", append(args, ErrInvalid)...)
}

func validAccount(a string) error {
	if !accountRE.MatchString(a) {
		return invalid("account name %q: want 1-64 of a-z 0-9 _ - starting with a letter or digit", a)
	}
	return nil
}

func validDomain(d string) error {
	if len(d) > 253 || !strings.Contains(d, ".") {
		return invalid("domain %q: want a lowercase name with at least two labels", d)
	}
	for _, l := range strings.Split(d, ".") {
		if !labelRE.MatchString(l) {
			return invalid("domain %q: label %q: want a-z 0-9 - (lowercase), 1-63 long", d, l)
		}
	}
	return nil
}

// splitAddress checks a local mail user's address (lowercase, user@domain).
func splitAddress(addr string) (local, domain string, err error) {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || len(local) > 64 || !localRE.MatchString(local) {
		return "", "", invalid("mail user %q: want user@domain with a lowercase user of a-z 0-9 . _ + -", addr)
	}
	if err := validDomain(domain); err != nil {
		return "", "", invalid("mail user %q: domain %q is not a valid lowercase domain", addr, domain)
	}
	return local, domain, nil
}

// validRemote checks a forwarding target: an address on any server.
func validRemote(addr string) error {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || len(local) > 64 || !remoteLocalRE.MatchString(local) {
		return invalid("forwarding target %q: want an address user@domain without spaces, commas, colons or quotes", addr)
	}
	if err := validDomain(strings.ToLower(domain)); err != nil {
		return invalid("forwarding target %q: bad domain", addr)
	}
	return nil
}

func validHash(user, h string) error {
	if !hashRE.MatchString(h) || strings.Contains(h, ":") {
		return invalid("password hash of %s: want {SCHEME}hash (as doveadm pw prints) without ':' or whitespace", user)
	}
	if strings.HasPrefix(h, "{PLAIN}") || strings.HasPrefix(h, "{CLEAR}") || strings.HasPrefix(h, "{CLEARTEXT}") {
		return invalid("password of %s: a clear-text password is not a hash", user)
	}
	return nil
}

// validHost checks an IP address or host name. Host names are compared
// lowercase.
func validHost(h string) error {
	if net.ParseIP(h) != nil {
		return nil
	}
	if len(h) == 0 || len(h) > 253 {
		return invalid("host %q: want an IP address or a host name", h)
	}
	for _, l := range strings.Split(h, ".") {
		if !labelRE.MatchString(l) {
			return invalid("host %q: want an IP address or a lowercase host name", h)
		}
	}
	return nil
}

func validPort(what string, p int) error {
	if p < 0 || p > 65535 {
		return invalid("%s port %d: want 1-65535 (0 for the default)", what, p)
	}
	return nil
}

// parseNextHop accepts "smtp:[host]:port", "[host]:port", "host:port" or
// "host" and returns host and port (0: 25).
func parseNextHop(s string) (host string, port int, err error) {
	rest := strings.TrimPrefix(s, "smtp:")
	bad := invalid("next hop %q: want smtp:[host]:port", s)
	if strings.HasPrefix(rest, "[") {
		end := strings.Index(rest, "]")
		if end < 0 {
			return "", 0, bad
		}
		host, rest = rest[1:end], rest[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", 0, bad
			}
			rest = rest[1:]
		} else {
			rest = "25"
		}
	} else if h, p, ok := strings.Cut(rest, ":"); ok {
		host, rest = h, p
	} else {
		host, rest = rest, "25"
	}
	port, err = strconv.Atoi(rest)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, bad
	}
	if err := validHost(host); err != nil {
		return "", 0, invalid("next hop %q: %v", s, err)
	}
	return host, port, nil
}

// formatNextHop is the transport(5) value for host and port.
func formatNextHop(host string, port int) string {
	return fmt.Sprintf("smtp:[%s]:%d", host, port)
}

// PipeForwarders returns a's forwarders that pipe to a program, which an
// account whose mail is on a linked child cannot have: the child's mail
// server would run the program.
func PipeForwarders(a AccountMail) []Forwarder {
	var out []Forwarder
	for _, f := range a.Forwarders {
		if strings.HasPrefix(strings.TrimSpace(f.To), "|") {
			out = append(out, f)
		}
	}
	return out
}

// validateAccount checks everything Import will write.
func validateAccount(a AccountMail) error {
	if err := validAccount(a.Account); err != nil {
		return err
	}
	domains := map[string]bool{}
	for _, d := range a.Domains {
		if err := validDomain(d); err != nil {
			return err
		}
		if domains[d] {
			return invalid("account %s: domain %s listed twice", a.Account, d)
		}
		domains[d] = true
	}
	users := map[string]bool{}
	for _, u := range a.Users {
		_, d, err := splitAddress(u.Name)
		if err != nil {
			return err
		}
		if !domains[d] {
			return invalid("mail user %s: domain %s is not one of account %s's domains", u.Name, d, a.Account)
		}
		if users[u.Name] {
			return invalid("mail user %s listed twice", u.Name)
		}
		users[u.Name] = true
		if err := validHash(u.Name, u.PasswordHash); err != nil {
			return err
		}
		if u.QuotaBytes < 0 {
			return invalid("quota of %s: %d bytes is negative", u.Name, u.QuotaBytes)
		}
	}
	if p := PipeForwarders(a); len(p) > 0 {
		return fmt.Errorf("mail: forwarder %s -> %q: %w", p[0].From, p[0].To, ErrPipeForwarder)
	}
	for _, f := range a.Forwarders {
		var d string
		if strings.HasPrefix(f.From, "@") {
			d = f.From[1:]
			if err := validDomain(d); err != nil {
				return invalid("forwarder from %q: want user@domain or @domain", f.From)
			}
		} else {
			var err error
			if _, d, err = splitAddress(f.From); err != nil {
				return invalid("forwarder from %q: want user@domain or @domain", f.From)
			}
		}
		if !domains[d] {
			return invalid("forwarder from %s: domain %s is not one of account %s's domains", f.From, d, a.Account)
		}
		if err := validRemote(f.To); err != nil {
			return err
		}
	}
	for u, s := range a.Filters {
		if !users[u] {
			return invalid("filter for %s: not a mail user of account %s", u, a.Account)
		}
		if len(s) > maxSieve || strings.ContainsRune(s, 0) {
			return invalid("filter for %s: a sieve script of at most 1 MiB of text", u)
		}
	}
	return nil
}

// validateProxy checks a parent's proxy configuration.
func validateProxy(p Proxy) error {
	seen := map[string]bool{}
	for _, u := range p.Users {
		if _, _, err := splitAddress(u.Name); err != nil {
			return err
		}
		if seen[u.Name] {
			return invalid("proxy user %s listed twice", u.Name)
		}
		seen[u.Name] = true
		if u.Host == "" {
			return invalid("proxy user %s: no host", u.Name)
		}
		if err := validHost(u.Host); err != nil {
			return invalid("proxy user %s: %v", u.Name, err)
		}
		if err := validPort("IMAP", u.Port); err != nil {
			return invalid("proxy user %s: %v", u.Name, err)
		}
		if err := validPort("POP3", u.POP3Port); err != nil {
			return invalid("proxy user %s: %v", u.Name, err)
		}
	}
	domains := map[string]bool{}
	for _, r := range p.Routes {
		if err := validDomain(r.Domain); err != nil {
			return err
		}
		if domains[r.Domain] {
			return invalid("route for %s listed twice", r.Domain)
		}
		domains[r.Domain] = true
		if _, _, err := parseNextHop(r.NextHop); err != nil {
			return err
		}
	}
	return nil
}
