// Package mail is the agent-side library for the mail of a generic Linux
// member running Dovecot and Postfix: it creates, exports and removes an
// account's mail users, forwarders, filters and quotas, and applies the
// proxy configuration a parent uses for the accounts whose mail lives on a
// linked child (Dovecot proxy passdb, Postfix transport map).
//
// # Layout of a generic Linux mail member
//
// Everything the library owns lives under Config.MailRoot, whose owner and
// group are the mail user (the uid Dovecot and Postfix's virtual delivery
// agent write Maildirs as; "dovecot" or "vmail"). MailRoot is mode 0711:
// Postfix opens MAILROOT/postfix as its own user; each domain directory is
// 0750, the mail user's:
//
//	MAILROOT/accounts/ACCOUNT          the account's domains, one a line
//	MAILROOT/DOMAIN/passwd             Dovecot passwd-file, passdb and userdb:
//	                                   user@domain:{SCHEME}hash::::::userdb_quota_rule=*:storage=NB
//	MAILROOT/DOMAIN/forwarders         "from to" lines (postfix virtual(5) pairs)
//	MAILROOT/DOMAIN/USER/Maildir/      the user's mail
//	MAILROOT/DOMAIN/USER/sieve/poolctl.sieve  the user's filter, made active by
//	MAILROOT/DOMAIN/USER/.dovecot.sieve       a symlink (Pigeonhole's defaults)
//	MAILROOT/postfix/domains           texthash maps generated from the above:
//	MAILROOT/postfix/mailboxes           virtual_mailbox_domains, virtual_mailbox_maps,
//	MAILROOT/postfix/aliases             virtual_alias_maps
//
// Files holding password hashes are written 0640 with MailRoot's group.
// The member's dovecot.conf includes the passdb/userdb blocks of
// [Mail.DovecotConfig] and its main.cf carries the settings of
// [Mail.PostfixSettings]; docs/mail-members.md shows both. The maps are
// texthash tables, so no postmap is needed; Postfix reads them at reload.
//
// # Proxy side (a parent)
//
// Config.ProxyPassdb is a Dovecot passwd-file listed before the local
// passdb: each proxied user has "proxy=y host=H port=P nopassword=y", so the
// parent forwards the login, with the password the client gave, to the child,
// which checks it. Config.TransportMap is a texthash transport(5) table
// ("domain smtp:[host]:port") named by transport_maps and relay_domains.
// [Mail.ApplyProxy] renders both to temporary files, checks them, renames them
// into place, checks the whole configuration (doveconf -n, postfix check),
// reloads both servers and verifies the lookups; on any failure it puts the
// previous files back and reloads again.
//
// Forwarders that pipe to a program are not part of this layout: Import
// refuses them ([ErrPipeForwarder]); [PipeForwarders] lets a caller name them.
package mail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Config says where a member's mail configuration lives. All paths are on
// the member.
type Config struct {
	DovecotConf  string // dovecot.conf of the running Dovecot
	PostfixDir   string // Postfix configuration directory (main.cf, master.cf)
	ProxyPassdb  string // Dovecot passwd-file of proxied users (a parent)
	TransportMap string // Postfix texthash transport table (a parent)
	MailRoot     string // passwd-files, maps, Maildirs and filters of hosted accounts
	// Run runs a command and returns its combined output. It defaults to
	// os/exec.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
}

// User is a mail user.
type User struct {
	Name         string // the full address, user@domain
	PasswordHash string // Dovecot form: {SCHEME}hash
	QuotaBytes   int64  // 0: no quota
}

// Forwarder forwards mail for From (an address, or "@domain" for all of a
// domain's addresses) to To (an address). To starting with "|" is a pipe to a
// program.
type Forwarder struct{ From, To string }

// AccountMail is the mail side of one hosting account.
type AccountMail struct {
	Account    string
	Domains    []string
	Users      []User
	Forwarders []Forwarder
	Filters    map[string]string // user -> sieve script
}

// ProxyUser is a mail user whose IMAP and POP3 logins are proxied to Host.
type ProxyUser struct {
	Name string
	Host string // IP address or host name of the child
	Port int    // IMAP port on Host; 0: 143
	// POP3Port is the POP3 port on Host; 0: 110.
	POP3Port int
}

// Route sends a domain's mail to NextHop: "smtp:[host]:port" (also accepted:
// "[host]:port", "host:port", "host").
type Route struct{ Domain, NextHop string }

// Proxy is the whole proxy configuration of a parent.
type Proxy struct {
	Users  []ProxyUser
	Routes []Route
}

// ErrPipeForwarder is returned by Import for forwarders to a program.
var ErrPipeForwarder = errors.New("forwarders that pipe to a program are not supported on a generic mail member")

// ErrInvalid marks input that failed validation.
var ErrInvalid = errors.New("invalid mail configuration")

// Mail manages the mail configuration of one member.
type Mail struct {
	cfg Config
	run func(ctx context.Context, name string, args ...string) ([]byte, error)
	mu  sync.Mutex // one change at a time

	// stage, when set (tests), may rewrite a staged proxy file before it is
	// checked.
	stage func(path string) error
}

// New checks cfg and returns a Mail. Paths must be absolute; those unused by
// a member (ProxyPassdb on a child) may be empty.
func New(cfg Config) (*Mail, error) {
	for _, p := range []struct{ name, path string }{
		{"DovecotConf", cfg.DovecotConf}, {"PostfixDir", cfg.PostfixDir},
		{"ProxyPassdb", cfg.ProxyPassdb}, {"TransportMap", cfg.TransportMap}, {"MailRoot", cfg.MailRoot},
	} {
		if p.path != "" && (!filepath.IsAbs(p.path) || strings.ContainsAny(p.path, "\n\r\t \"'")) {
			return nil, fmt.Errorf("mail: %s %q: must be an absolute path without spaces or quotes: %w", p.name, p.path, ErrInvalid)
		}
	}
	if cfg.ProxyPassdb != "" && cfg.DovecotConf == "" {
		return nil, fmt.Errorf("mail: ProxyPassdb needs DovecotConf (its passdb is checked with doveconf): %w", ErrInvalid)
	}
	if cfg.TransportMap != "" && cfg.PostfixDir == "" {
		return nil, fmt.Errorf("mail: TransportMap needs PostfixDir (it is checked with postfix check): %w", ErrInvalid)
	}
	m := &Mail{cfg: cfg, run: cfg.Run}
	if m.run == nil {
		m.run = execRun
	}
	return m, nil
}

func execRun(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}

// command runs name with args and wraps a failure with the command and its
// output.
func (m *Mail) command(ctx context.Context, name string, args ...string) ([]byte, error) {
	out, err := m.run(ctx, name, args...)
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// Maildir returns the Maildir of user (user@domain), or "" for a name that
// is not a valid address.
func (m *Mail) Maildir(user string) string {
	local, domain, err := splitAddress(user)
	if err != nil {
		return ""
	}
	return filepath.Join(m.cfg.MailRoot, domain, local, "Maildir")
}

// home is a user's home directory (Maildir, sieve scripts).
func (m *Mail) home(local, domain string) string {
	return filepath.Join(m.cfg.MailRoot, domain, local)
}

// Services reports whether Dovecot and Postfix run with the configured
// configuration. Dovecot runs when `doveadm who` reaches its anvil; Postfix
// when `postfix status` says so.
func (m *Mail) Services(ctx context.Context) (dovecot, postfix bool) {
	if m.cfg.DovecotConf != "" {
		_, err := m.run(ctx, "doveadm", "-c", m.cfg.DovecotConf, "who")
		dovecot = err == nil
	}
	if m.cfg.PostfixDir != "" {
		_, err := m.run(ctx, "postfix", "-c", m.cfg.PostfixDir, "status")
		postfix = err == nil
	}
	return dovecot, postfix
}

// Kick ends user's open IMAP and POP3 sessions (doveadm kick). A user with no
// session is not an error.
func (m *Mail) Kick(ctx context.Context, user string) error {
	if _, _, err := splitAddress(user); err != nil {
		return fmt.Errorf("mail: kick: %w", err)
	}
	if m.cfg.DovecotConf == "" {
		return fmt.Errorf("mail: kick %s: no DovecotConf configured: %w", user, ErrInvalid)
	}
	out, err := m.run(ctx, "doveadm", "-c", m.cfg.DovecotConf, "kick", user)
	if err != nil {
		// doveadm kick exits 68 (EX_NOUSER) when nobody was connected.
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 68 {
			return nil
		}
		return fmt.Errorf("mail: doveadm kick %s: %w: %s", user, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// owner is the uid and gid of MailRoot: the mail user.
func (m *Mail) owner() (uid, gid int, err error) {
	fi, err := os.Stat(m.cfg.MailRoot)
	if err != nil {
		return 0, 0, fmt.Errorf("mail: MailRoot: %w", err)
	}
	if !fi.IsDir() {
		return 0, 0, fmt.Errorf("mail: MailRoot %s is not a directory: %w", m.cfg.MailRoot, ErrInvalid)
	}
	return statOwner(fi)
}

// DovecotConfig is the part of dovecot.conf that serves this layout: the
// proxy passdb first (when ProxyPassdb is set), then the per-domain
// passwd-files as passdb and userdb, owned by MailRoot's owner.
func (m *Mail) DovecotConfig() (string, error) {
	uid, gid, err := m.owner()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if m.cfg.ProxyPassdb != "" {
		fmt.Fprintf(&b, "passdb {\n  driver = passwd-file\n  args = %s\n}\n", m.cfg.ProxyPassdb)
	}
	fmt.Fprintf(&b, "passdb {\n  driver = passwd-file\n  args = %s/%%d/passwd\n}\n", m.cfg.MailRoot)
	fmt.Fprintf(&b, "userdb {\n  driver = passwd-file\n  args = %s/%%d/passwd\n  default_fields = uid=%d gid=%d home=%s/%%d/%%n\n}\n", m.cfg.MailRoot, uid, gid, m.cfg.MailRoot)
	b.WriteString("mail_location = maildir:~/Maildir\n")
	return b.String(), nil
}

// PostfixSettings are the main.cf settings ("name = value") of this layout:
// virtual mailbox delivery into MailRoot, forwarders as virtual aliases, and
// (when TransportMap is set) the proxy routes.
func (m *Mail) PostfixSettings() ([]string, error) {
	uid, gid, err := m.owner()
	if err != nil {
		return nil, err
	}
	p := filepath.Join(m.cfg.MailRoot, "postfix")
	s := []string{
		"virtual_mailbox_base = " + m.cfg.MailRoot,
		"virtual_mailbox_domains = texthash:" + filepath.Join(p, "domains"),
		"virtual_mailbox_maps = texthash:" + filepath.Join(p, "mailboxes"),
		"virtual_alias_maps = texthash:" + filepath.Join(p, "aliases"),
		fmt.Sprintf("virtual_uid_maps = static:%d", uid),
		fmt.Sprintf("virtual_gid_maps = static:%d", gid),
	}
	if m.cfg.TransportMap != "" {
		s = append(s,
			"transport_maps = texthash:"+m.cfg.TransportMap,
			"relay_domains = texthash:"+m.cfg.TransportMap)
	}
	return s, nil
}
