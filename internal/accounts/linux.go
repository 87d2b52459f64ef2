package accounts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/poolctl/poolctl/api"
)

// ManifestFile is the file, in a home directory below the linux provider's
// root, that makes that directory an account.
const ManifestFile = ".poolctl-account.json"

// ErrBadManifest is wrapped by errors about an account manifest that cannot
// be read or is not valid.
var ErrBadManifest = errors.New("bad account manifest")

const maxManifestBytes = 1 << 20

// Manifest is the content of ManifestFile:
//
//	{"domains": ["example.com", "www.example.com"], "db_prefix": "alice_"}
//
// The account's MariaDB databases and users are those whose name starts
// with DBPrefix (default: the account's name and "_").
type Manifest struct {
	Domains  []string `json:"domains"`
	DBPrefix string   `json:"db_prefix,omitempty"`
}

// accountNameRE is what a linux account's name (its directory's) must match.
var accountNameRE = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// LinuxConfig configures the linux provider.
type LinuxConfig struct {
	// Root is the directory holding the accounts' home directories;
	// default /home.
	Root string
	// MariaDB is the server holding the accounts' databases. When its tools
	// are missing or it does not answer, accounts are listed without
	// databases.
	MariaDB MariaDBConfig
	Logger  *slog.Logger
}

// Linux is the provider of a plain Linux server: an account is a directory
// ROOT/NAME holding a ManifestFile; directories without one are not
// accounts. Its databases are moved with MariaDB's own tools.
type Linux struct {
	root string
	db   *MariaDB
	log  *slog.Logger
}

var _ Provider = (*Linux)(nil)

// NewLinux returns the linux provider.
func NewLinux(cfg LinuxConfig) (*Linux, error) {
	if cfg.Root == "" {
		cfg.Root = "/home"
	}
	if !filepath.IsAbs(cfg.Root) {
		return nil, fmt.Errorf("linux accounts: root %q is not an absolute path", cfg.Root)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Linux{
		root: filepath.Clean(cfg.Root),
		db:   NewMariaDB(cfg.MariaDB),
		log:  cfg.Logger.With("component", "accounts", "provider", api.ProviderLinux),
	}, nil
}

// Name is api.ProviderLinux.
func (l *Linux) Name() string { return api.ProviderLinux }

// Home is ROOT/NAME.
func (l *Linux) Home(name string) string { return filepath.Join(l.root, name) }

// Prepare makes sure the root directory exists.
func (l *Linux) Prepare(ctx context.Context, acct api.Account) error {
	if err := os.MkdirAll(l.root, 0o755); err != nil {
		return fmt.Errorf("prepare account %s: %w", acct.Name, err)
	}
	return nil
}

// List returns the accounts below the root. A directory whose manifest is
// not valid is skipped with a warning.
func (l *Linux) List(ctx context.Context) ([]api.Account, error) {
	entries, err := os.ReadDir(l.root)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	// One look at the server for all accounts.
	dbs, users := l.inventory(ctx, "")
	accts := []api.Account{}
	for _, e := range entries {
		name := e.Name()
		if !accountNameRE.MatchString(name) {
			continue
		}
		m, err := readManifest(l.Home(name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			l.log.Warn("skipping a directory with a bad account manifest", "account", name, "err", err)
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		accts = append(accts, l.account(ctx, name, m, dbs, users, true))
	}
	return accts, nil
}

// Get returns the account name. Unlike List it does not walk the home
// directory to sum its size (DiskBytes is 0): the snapshot that calls it
// reads the tree anyway.
func (l *Linux) Get(ctx context.Context, name string) (api.Account, error) {
	if err := checkAccountName(name); err != nil {
		return api.Account{}, err
	}
	m, err := readManifest(l.Home(name))
	if errors.Is(err, fs.ErrNotExist) {
		return api.Account{}, fmt.Errorf("account %s: %w (no %s in %s)", name, ErrNoAccount, ManifestFile, l.Home(name))
	}
	if err != nil {
		return api.Account{}, fmt.Errorf("account %s: %w", name, err)
	}
	dbs, users := l.inventory(ctx, prefixOf(name, m))
	return l.account(ctx, name, m, dbs, users, false), nil
}

// DumpDatabases dumps the databases and users the account has now (by its
// manifest's prefix). When MariaDB does not answer, it fails if acct lists
// databases or users, and otherwise writes an empty dump.
func (l *Linux) DumpDatabases(ctx context.Context, acct api.Account, dir string, log func(string)) (int, int, error) {
	if err := checkAccountName(acct.Name); err != nil {
		return 0, 0, err
	}
	m, err := readManifest(l.Home(acct.Name))
	if err != nil {
		return 0, 0, fmt.Errorf("dump databases of %s: %w", acct.Name, err)
	}
	prefix := prefixOf(acct.Name, m)
	dbs, err := l.db.Databases(ctx, prefix)
	var users []string
	if err == nil {
		users, err = l.db.Users(ctx, prefix)
	}
	if err != nil {
		if len(acct.Databases) > 0 || len(acct.DBUsers) > 0 {
			return 0, 0, fmt.Errorf("dump databases of %s (%s): %w", acct.Name,
				strings.Join(append(slices.Clone(acct.Databases), acct.DBUsers...), ", "), err)
		}
		l.log.Debug("MariaDB unavailable; the account has no known databases", "account", acct.Name, "err", err)
		dbs, users = nil, nil
	}
	return l.db.Dump(ctx, dbs, users, dir, log)
}

// DatabaseBytes is the size of the account's databases (by its manifest's
// prefix), tables and indexes.
func (l *Linux) DatabaseBytes(ctx context.Context, acct api.Account) (int64, error) {
	if err := checkAccountName(acct.Name); err != nil {
		return 0, err
	}
	m, err := readManifest(l.Home(acct.Name))
	if err != nil {
		return 0, err
	}
	dbs, err := l.db.Databases(ctx, prefixOf(acct.Name, m))
	if err != nil {
		return 0, err
	}
	return l.db.DatabaseBytes(ctx, dbs)
}

// RestoreDatabases restores a dump written by DumpDatabases into this
// server's MariaDB (see MariaDB.Restore).
func (l *Linux) RestoreDatabases(ctx context.Context, acct api.Account, dir string, log func(string)) (int, int, error) {
	dbs, users, err := l.db.Restore(ctx, dir, log)
	if err != nil {
		return dbs, users, fmt.Errorf("restore databases of %s: %w", acct.Name, err)
	}
	return dbs, users, nil
}

// inventory returns the server's databases and users starting with prefix;
// none when MariaDB is unavailable.
func (l *Linux) inventory(ctx context.Context, prefix string) (dbs, users []string) {
	dbs, err := l.db.Databases(ctx, prefix)
	if err == nil {
		users, err = l.db.Users(ctx, prefix)
	}
	if err != nil {
		l.log.Debug("listing accounts without databases", "err", err)
		return nil, nil
	}
	return dbs, users
}

// account fills an api.Account; dbs and users may hold other accounts' too.
func (l *Linux) account(ctx context.Context, name string, m Manifest, dbs, users []string, disk bool) api.Account {
	home := l.Home(name)
	prefix := prefixOf(name, m)
	a := api.Account{
		Name:      name,
		Provider:  api.ProviderLinux,
		Home:      home,
		Domains:   m.Domains,
		Databases: []string{},
		DBUsers:   []string{},
	}
	for _, db := range dbs {
		if strings.HasPrefix(db, prefix) {
			a.Databases = append(a.Databases, db)
		}
	}
	for _, u := range users {
		if strings.HasPrefix(u, prefix) {
			a.DBUsers = append(a.DBUsers, u)
		}
	}
	st, err := scanHome(ctx, home, disk)
	if err != nil {
		l.log.Debug("scan of home directory incomplete", "account", name, "home", home, "err", err)
	}
	a.UID, a.GID, a.Mailboxes, a.DiskBytes = st.uid, st.gid, st.mailboxes, st.diskBytes
	return a
}

func prefixOf(name string, m Manifest) string {
	if m.DBPrefix != "" {
		return m.DBPrefix
	}
	return name + "_"
}

func checkAccountName(name string) error {
	if !accountNameRE.MatchString(name) {
		return fmt.Errorf("%w: account %q (want %s): %w", ErrInvalidName, name, accountNameRE, ErrNoAccount)
	}
	return nil
}

// readManifest reads and checks the manifest of the account at home; an
// error wrapping fs.ErrNotExist when there is none.
func readManifest(home string) (Manifest, error) {
	var m Manifest
	path := filepath.Join(home, ManifestFile)
	st, err := os.Lstat(path)
	if err != nil {
		return m, err
	}
	if !st.Mode().IsRegular() {
		return m, fmt.Errorf("%w: %s is not a regular file", ErrBadManifest, path)
	}
	data, err := readLimited(path, maxManifestBytes)
	if err != nil {
		return m, fmt.Errorf("%w: %w", ErrBadManifest, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %s: %w", ErrBadManifest, path, err)
	}
	if m.DBPrefix != "" && !dbNameRE.MatchString(m.DBPrefix) {
		return m, fmt.Errorf("%w: %s: db_prefix %q (want 1 to 64 of A-Z a-z 0-9 _ $ -)", ErrBadManifest, path, m.DBPrefix)
	}
	domains := make([]string, 0, len(m.Domains))
	for _, d := range m.Domains {
		nd, err := normalizeDomain(d)
		if err != nil {
			return m, fmt.Errorf("%w: %s: %w", ErrBadManifest, path, err)
		}
		domains = append(domains, nd)
	}
	slices.Sort(domains)
	m.Domains = slices.Compact(domains)
	return m, nil
}

// normalizeDomain lower-cases a domain name, drops a final dot and checks
// it is a host name of at least two labels (IDNs in their xn-- form).
func normalizeDomain(d string) (string, error) {
	n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	if len(n) == 0 || len(n) > 253 {
		return "", fmt.Errorf("domain %q: want 1 to 253 characters", d)
	}
	labels := strings.Split(n, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("domain %q: want at least two labels", d)
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", fmt.Errorf("domain %q: label %q is empty, too long or starts or ends with -", d, l)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return "", fmt.Errorf("domain %q: character %q (want letters, digits and -)", d, r)
			}
		}
	}
	return n, nil
}
