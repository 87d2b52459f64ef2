package mail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const sieveName = "poolctl.sieve"

// ErrNoAccount is returned by Export for an account this member does not
// hold.
var ErrNoAccount = errors.New("no such mail account on this member")

// ErrDomainTaken is returned by Import for a domain another account holds.
var ErrDomainTaken = errors.New("domain belongs to another account")

func (m *Mail) accountFile(account string) string {
	return filepath.Join(m.cfg.MailRoot, "accounts", account)
}

func (m *Mail) passwdFile(domain string) string {
	return filepath.Join(m.cfg.MailRoot, domain, "passwd")
}

func (m *Mail) forwardersFile(domain string) string {
	return filepath.Join(m.cfg.MailRoot, domain, "forwarders")
}

// accounts reads every account record: account -> domains.
func (m *Mail) accounts() (map[string][]string, error) {
	dir := filepath.Join(m.cfg.MailRoot, "accounts")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	out := map[string][]string{}
	for _, e := range ents {
		if e.IsDir() || validAccount(e.Name()) != nil {
			continue // temporary files and strangers
		}
		lines, err := readLines(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = lines
	}
	return out, nil
}

// passwdLine is one user's line in a domain's passwd-file.
func passwdLine(u User) string {
	l := u.Name + ":" + u.PasswordHash + "::::::"
	if u.QuotaBytes > 0 {
		l += "userdb_quota_rule=*:storage=" + strconv.FormatInt(u.QuotaBytes, 10) + "B"
	}
	return l
}

// parsePasswdLine reads a passwd-file line back.
func parsePasswdLine(l string) (User, error) {
	f := strings.SplitN(l, ":", 8)
	if len(f) < 2 {
		return User{}, fmt.Errorf("mail: passwd-file line %.40q: no password field", l)
	}
	u := User{Name: f[0], PasswordHash: f[1]}
	if len(f) == 8 {
		for _, x := range strings.Fields(f[7]) {
			rule, ok := strings.CutPrefix(x, "userdb_quota_rule=*:storage=")
			if !ok {
				continue
			}
			n, err := parseSize(rule)
			if err != nil {
				return User{}, fmt.Errorf("mail: quota of %s: %w", u.Name, err)
			}
			u.QuotaBytes = n
		}
	}
	return u, nil
}

// parseSize reads a Dovecot quota size: a number with a unit (B, k, M, G,
// T); no unit means kilobytes.
func parseSize(s string) (int64, error) {
	mult := int64(1024)
	if n := len(s); n > 0 {
		switch s[n-1] {
		case 'b', 'B':
			mult, s = 1, s[:n-1]
		case 'k', 'K':
			s = s[:n-1]
		case 'm', 'M':
			mult, s = 1<<20, s[:n-1]
		case 'g', 'G':
			mult, s = 1<<30, s[:n-1]
		case 't', 'T':
			mult, s = 1<<40, s[:n-1]
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number with a unit", s)
	}
	return n * mult, nil
}

// Export reads account's mail side: users with their password hashes and
// quotas, forwarders and filters.
func (m *Mail) Export(ctx context.Context, account string) (AccountMail, error) {
	if err := validAccount(account); err != nil {
		return AccountMail{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	domains, err := readLines(m.accountFile(account))
	if err != nil {
		return AccountMail{}, err
	}
	if _, err := os.Stat(m.accountFile(account)); errors.Is(err, fs.ErrNotExist) {
		return AccountMail{}, fmt.Errorf("mail: export %s: %w", account, ErrNoAccount)
	}
	a := AccountMail{Account: account, Domains: domains, Filters: map[string]string{}}
	for _, d := range domains {
		lines, err := readLines(m.passwdFile(d))
		if err != nil {
			return AccountMail{}, err
		}
		for _, l := range lines {
			u, err := parsePasswdLine(l)
			if err != nil {
				return AccountMail{}, err
			}
			a.Users = append(a.Users, u)
			local, domain, err := splitAddress(u.Name)
			if err != nil {
				return AccountMail{}, err
			}
			s, err := os.ReadFile(filepath.Join(m.home(local, domain), ".dovecot.sieve"))
			switch {
			case err == nil:
				a.Filters[u.Name] = string(s)
			case !errors.Is(err, fs.ErrNotExist):
				return AccountMail{}, fmt.Errorf("mail: filter of %s: %w", u.Name, err)
			}
		}
		lines, err = readLines(m.forwardersFile(d))
		if err != nil {
			return AccountMail{}, err
		}
		for _, l := range lines {
			from, to, ok := strings.Cut(l, " ")
			if !ok {
				return AccountMail{}, fmt.Errorf("mail: %s: line %.40q: want \"from to\"", m.forwardersFile(d), l)
			}
			a.Forwarders = append(a.Forwarders, Forwarder{From: from, To: strings.TrimSpace(to)})
		}
	}
	return a, nil
}

// Import makes account a's mail side on this member exactly a: users,
// password hashes, quotas, forwarders and filters are created or replaced;
// users and domains no longer listed lose their logins and routing, but their
// Maildirs stay until Remove. Import is idempotent. Postfix, when it runs,
// is reloaded to read the new maps; Dovecot rereads passwd-files itself.
func (m *Mail) Import(ctx context.Context, a AccountMail) error {
	if err := validateAccount(a); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	uid, gid, err := m.owner()
	if err != nil {
		return err
	}
	all, err := m.accounts()
	if err != nil {
		return err
	}
	for other, ds := range all {
		if other == a.Account {
			continue
		}
		for _, d := range a.Domains {
			if slices.Contains(ds, d) {
				return fmt.Errorf("mail: import %s: domain %s is held by account %s: %w", a.Account, d, other, ErrDomainTaken)
			}
		}
	}
	old := all[a.Account]
	// The record first: maps are generated from records, so files of a
	// domain the record does not name are never routed.
	if err := writeFile(m.accountFile(a.Account), []byte(strings.Join(a.Domains, "\n")+"\n"), 0o640, gid); err != nil {
		return err
	}
	for _, d := range a.Domains {
		if err := m.importDomain(a, d, uid, gid); err != nil {
			return fmt.Errorf("mail: import %s: %w", a.Account, err)
		}
	}
	for _, d := range old {
		if !slices.Contains(a.Domains, d) {
			for _, f := range []string{m.passwdFile(d), m.forwardersFile(d)} {
				if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("mail: import %s: %w", a.Account, err)
				}
			}
		}
	}
	all[a.Account] = a.Domains
	return m.writeMaps(ctx, all, gid)
}

// importDomain writes one domain's passwd-file, forwarders, Maildirs and
// filters.
func (m *Mail) importDomain(a AccountMail, domain string, uid, gid int) error {
	if err := mkdirOwned(m.cfg.MailRoot, filepath.Join(m.cfg.MailRoot, domain), 0o750, uid, gid); err != nil {
		return err
	}
	var passwd, fwd strings.Builder
	for _, u := range a.Users {
		local, d, _ := splitAddress(u.Name)
		if d != domain {
			continue
		}
		passwd.WriteString(passwdLine(u) + "\n")
		home := m.home(local, d)
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := mkdirOwned(m.cfg.MailRoot, filepath.Join(home, "Maildir", sub), 0o700, uid, gid); err != nil {
				return err
			}
		}
		if err := m.writeFilter(home, a.Filters[u.Name], uid, gid); err != nil {
			return fmt.Errorf("filter of %s: %w", u.Name, err)
		}
	}
	for _, f := range a.Forwarders {
		if forwarderDomain(f.From) == domain {
			fwd.WriteString(f.From + " " + f.To + "\n")
		}
	}
	if err := writeFile(m.passwdFile(domain), []byte(passwd.String()), 0o640, gid); err != nil {
		return err
	}
	return writeFile(m.forwardersFile(domain), []byte(fwd.String()), 0o640, gid)
}

func forwarderDomain(from string) string {
	_, d, _ := strings.Cut(from, "@")
	return d
}

// writeFilter installs script as the user's active sieve script, or removes
// the one poolctl installed when script is empty.
func (m *Mail) writeFilter(home, script string, uid, gid int) error {
	dir := filepath.Join(home, "sieve")
	path := filepath.Join(dir, sieveName)
	link := filepath.Join(home, ".dovecot.sieve")
	if script == "" {
		if target, err := os.Readlink(link); err == nil && target == filepath.Join("sieve", sieveName) {
			if err := os.Remove(link); err != nil {
				return err
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := mkdirOwned(m.cfg.MailRoot, dir, 0o700, uid, gid); err != nil {
		return err
	}
	if err := writeFile(path, []byte(script), 0o600, gid); err != nil {
		return err
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return err
	}
	if target, err := os.Readlink(link); err == nil && target == filepath.Join("sieve", sieveName) {
		return nil
	}
	tmp := link + ".poolctl-new"
	os.Remove(tmp)
	if err := os.Symlink(filepath.Join("sieve", sieveName), tmp); err != nil {
		return err
	}
	if err := os.Lchown(tmp, uid, gid); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

// Remove deletes account's mail side from this member: its logins end, its
// open sessions are kicked, its routing is removed and then its files,
// Maildirs included.
// Removing an account the member does not hold does nothing.
func (m *Mail) Remove(ctx context.Context, account string) error {
	if err := validAccount(account); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	_, gid, err := m.owner()
	if err != nil {
		return err
	}
	all, err := m.accounts()
	if err != nil {
		return err
	}
	domains, ok := all[account]
	if !ok {
		return nil
	}
	// Logins end first (the passwd-files go), then the open sessions.
	var users []string
	for _, d := range domains {
		lines, err := readLines(m.passwdFile(d))
		if err != nil {
			return err
		}
		for _, l := range lines {
			u, _, _ := strings.Cut(l, ":")
			users = append(users, u)
		}
		if err := os.Remove(m.passwdFile(d)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("mail: remove %s: %w", account, err)
		}
	}
	if dovecot, _ := m.Services(ctx); dovecot {
		for _, u := range users {
			if err := m.Kick(ctx, u); err != nil {
				return fmt.Errorf("mail: remove %s: %w", account, err)
			}
		}
	}
	delete(all, account)
	if err := m.writeMaps(ctx, all, gid); err != nil {
		return err
	}
	if err := os.Remove(m.accountFile(account)); err != nil {
		return fmt.Errorf("mail: remove %s: %w", account, err)
	}
	for _, d := range domains {
		if err := os.RemoveAll(filepath.Join(m.cfg.MailRoot, d)); err != nil {
			return fmt.Errorf("mail: remove %s: %w", account, err)
		}
	}
	return nil
}

// writeMaps regenerates the Postfix maps from the account records and
// reloads Postfix when it runs.
func (m *Mail) writeMaps(ctx context.Context, all map[string][]string, gid int) error {
	var domains, boxes, aliases []string
	for _, ds := range all {
		for _, d := range ds {
			domains = append(domains, d+" OK")
			users, err := readLines(m.passwdFile(d))
			if err != nil {
				return err
			}
			for _, l := range users {
				name, _, _ := strings.Cut(l, ":")
				local, domain, err := splitAddress(name)
				if err != nil {
					return err
				}
				boxes = append(boxes, name+" "+domain+"/"+local+"/Maildir/")
			}
			fwd, err := readLines(m.forwardersFile(d))
			if err != nil {
				return err
			}
			aliases = append(aliases, groupForwarders(fwd)...)
		}
	}
	dir := filepath.Join(m.cfg.MailRoot, "postfix")
	for _, f := range []struct {
		name  string
		lines []string
	}{{"domains", domains}, {"mailboxes", boxes}, {"aliases", aliases}} {
		slices.Sort(f.lines)
		data := strings.Join(f.lines, "\n")
		if data != "" {
			data += "\n"
		}
		if err := writeFile(filepath.Join(dir, f.name), []byte(data), 0o644, gid); err != nil {
			return err
		}
	}
	if m.cfg.PostfixDir == "" {
		return nil
	}
	if _, postfix := m.Services(ctx); postfix {
		if _, err := m.command(ctx, "postfix", "-c", m.cfg.PostfixDir, "reload"); err != nil {
			return fmt.Errorf("mail: reloading postfix for the new maps: %w", err)
		}
	}
	return nil
}

// groupForwarders turns "from to" lines into virtual(5) lines, one per
// source with its targets comma-separated.
func groupForwarders(lines []string) []string {
	var order []string
	to := map[string][]string{}
	for _, l := range lines {
		from, t, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		if _, seen := to[from]; !seen {
			order = append(order, from)
		}
		to[from] = append(to[from], strings.TrimSpace(t))
	}
	out := make([]string, 0, len(order))
	for _, f := range order {
		out = append(out, f+" "+strings.Join(to[f], ", "))
	}
	return out
}
