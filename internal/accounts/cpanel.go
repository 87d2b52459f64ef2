package accounts

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/poolctl/poolctl/api"
)

// CPanelVerified records that the cpanel provider is written from cPanel's
// public documentation only (whmapi1 listaccts, uapi DomainInfo list_domains,
// uapi Mysql list_databases and list_users, the pkgacct and restorepkg
// scripts) and that its tests feed it recorded answers in the documented
// shapes: it has NOT been run against a real cPanel server.
const CPanelVerified = false

// ErrCPanelAPI is wrapped by errors that cPanel's APIs answered.
var ErrCPanelAPI = errors.New("cPanel API error")

// Runner runs a command and returns its standard output; its error should
// carry the end of the standard error.
type Runner func(ctx context.Context, name string, args ...string) ([]byte, error)

// Where cPanel keeps its commands, below CPanelConfig.Root.
const (
	cpanelMarker  = "usr/local/cpanel/cpanel"
	cpWHMAPI1     = "usr/local/cpanel/bin/whmapi1"
	cpUAPI        = "usr/local/cpanel/bin/uapi"
	cpPkgacct     = "usr/local/cpanel/scripts/pkgacct"
	cpRestorepkg  = "usr/local/cpanel/scripts/restorepkg"
	cpDefaultHome = "/home"
)

// CPanelConfig configures the cpanel provider.
type CPanelConfig struct {
	// Root is prepended to cPanel's command paths; default "/".
	Root string
	// Run runs the commands; default: os/exec. Tests replace it.
	Run    Runner
	Logger *slog.Logger
}

// CPanel is the provider of a cPanel & WHM server. It asks cPanel's own
// commands, as root:
//
//   - List and Get: whmapi1 listaccts (user, domain, partition), then for
//     each account uapi DomainInfo list_domains (addon, parked and sub
//     domains), uapi Mysql list_databases and uapi Mysql list_users; the
//     home, UID and GID come from getent passwd.
//   - DumpDatabases: /usr/local/cpanel/scripts/pkgacct --skiphomedir
//     --nocompress USER DIR, which writes DIR/cpmove-USER.tar holding
//     mysql/DB.sql dumps and mysql.sql grants (and the account's settings).
//   - RestoreDatabases: /usr/local/cpanel/scripts/restorepkg --force on that
//     archive, which creates the account when missing and restores its
//     databases, users and settings.
//
// It is NOT exercised against a real cPanel (see CPanelVerified), and it
// does not give the atomic swap of MariaDB.Restore: restorepkg replaces
// the databases in place. The archive carries timestamps, so unchanged
// databases do not dump to identical bytes.
type CPanel struct {
	root string
	run  Runner
	log  *slog.Logger
}

var _ Provider = (*CPanel)(nil)

// NewCPanel returns the cpanel provider.
func NewCPanel(cfg CPanelConfig) (*CPanel, error) {
	if cfg.Root == "" {
		cfg.Root = "/"
	}
	if cfg.Run == nil {
		cfg.Run = execRunner
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &CPanel{
		root: cfg.Root,
		run:  cfg.Run,
		log:  cfg.Logger.With("component", "accounts", "provider", api.ProviderCPanel),
	}, nil
}

func execRunner(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	stderr := &tailWriter{max: 4 << 10}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", filepath.Base(name), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Name is api.ProviderCPanel.
func (c *CPanel) Name() string { return api.ProviderCPanel }

// Prepare does nothing: restorepkg creates the account.
func (c *CPanel) Prepare(ctx context.Context, acct api.Account) error { return nil }

// Home is the account's home directory from getent passwd, or /home/NAME.
func (c *CPanel) Home(name string) string {
	if pw, err := c.passwd(context.Background(), name); err == nil {
		if e, ok := pw[name]; ok && e.home != "" {
			return e.home
		}
	}
	return path.Join(cpDefaultHome, name)
}

// List returns the server's cPanel accounts, sorted by name.
func (c *CPanel) List(ctx context.Context) ([]api.Account, error) {
	return c.list(ctx)
}

// Get returns one cPanel account.
func (c *CPanel) Get(ctx context.Context, name string) (api.Account, error) {
	if err := checkAccountName(name); err != nil {
		return api.Account{}, err
	}
	accts, err := c.list(ctx, "search="+name, "searchtype=user", "searchmethod=exact")
	if err != nil {
		return api.Account{}, err
	}
	for _, a := range accts {
		if a.Name == name {
			return a, nil
		}
	}
	return api.Account{}, fmt.Errorf("account %s: %w", name, ErrNoAccount)
}

// whmAccount is one element of listaccts' data.acct.
type whmAccount struct {
	User      string  `json:"user"`
	Domain    string  `json:"domain"`
	Partition string  `json:"partition"`
	UID       flexInt `json:"uid"`
}

func (c *CPanel) list(ctx context.Context, search ...string) ([]api.Account, error) {
	var data struct {
		Acct []whmAccount `json:"acct"`
	}
	if err := c.whmapi1(ctx, "listaccts", search, &data); err != nil {
		return nil, err
	}
	pw, err := c.passwd(ctx, "")
	if err != nil {
		c.log.Warn("getent passwd failed; homes guessed from partitions", "err", err)
	}
	accts := []api.Account{}
	for _, w := range data.Acct {
		if err := checkAccountName(w.User); err != nil {
			c.log.Warn("skipping a cPanel account with an unexpected name", "err", err)
			continue
		}
		a, err := c.account(ctx, w, pw[w.User])
		if err != nil {
			return nil, err
		}
		accts = append(accts, a)
	}
	slices.SortFunc(accts, func(a, b api.Account) int { return strings.Compare(a.Name, b.Name) })
	return accts, nil
}

func (c *CPanel) account(ctx context.Context, w whmAccount, pw passwdEntry) (api.Account, error) {
	a := api.Account{
		Name:      w.User,
		Provider:  api.ProviderCPanel,
		Home:      pw.home,
		UID:       int(w.UID),
		Databases: []string{},
		DBUsers:   []string{},
	}
	if a.Home == "" {
		a.Home = path.Join(cpDefaultHome, w.User)
		if p := strings.Trim(w.Partition, "/"); p != "" && !strings.Contains(p, "..") {
			a.Home = path.Join("/", p, w.User)
		}
	}
	if pw.home != "" {
		a.UID, a.GID = pw.uid, pw.gid
	}
	var doms struct {
		Main   string   `json:"main_domain"`
		Addon  []string `json:"addon_domains"`
		Parked []string `json:"parked_domains"`
		Sub    []string `json:"sub_domains"`
	}
	if err := c.uapi(ctx, w.User, "DomainInfo", "list_domains", &doms); err != nil {
		return a, err
	}
	for _, d := range slices.Concat([]string{w.Domain, doms.Main}, doms.Addon, doms.Parked, doms.Sub) {
		if d == "" {
			continue
		}
		if nd, err := normalizeDomain(d); err == nil {
			a.Domains = append(a.Domains, nd)
		} else {
			c.log.Debug("skipping a domain", "account", w.User, "err", err)
		}
	}
	slices.Sort(a.Domains)
	a.Domains = slices.Compact(a.Domains)
	if a.Domains == nil {
		a.Domains = []string{}
	}
	var dbs []struct {
		Database string `json:"database"`
	}
	if err := c.uapi(ctx, w.User, "Mysql", "list_databases", &dbs); err != nil {
		return a, err
	}
	for _, d := range dbs {
		a.Databases = append(a.Databases, d.Database)
	}
	var users []struct {
		User string `json:"user"`
	}
	if err := c.uapi(ctx, w.User, "Mysql", "list_users", &users); err != nil {
		return a, err
	}
	for _, u := range users {
		a.DBUsers = append(a.DBUsers, u.User)
	}
	slices.Sort(a.Databases)
	slices.Sort(a.DBUsers)
	st, err := scanHome(ctx, a.Home, true)
	if err != nil {
		c.log.Debug("scan of home directory incomplete", "account", w.User, "home", a.Home, "err", err)
	}
	a.Mailboxes, a.DiskBytes = st.mailboxes, st.diskBytes
	return a, nil
}

// whmapi1 runs a WHM API 1 function and decodes its data into v. An answer
// whose metadata.result is not 1 is an error naming metadata.reason.
func (c *CPanel) whmapi1(ctx context.Context, fn string, args []string, v any) error {
	out, runErr := c.run(ctx, filepath.Join(c.root, cpWHMAPI1), append([]string{"--output=jsonpretty", fn}, args...)...)
	var resp struct {
		Data     json.RawMessage `json:"data"`
		Metadata struct {
			Result flexInt `json:"result"`
			Reason string  `json:"reason"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		if runErr != nil {
			return fmt.Errorf("whmapi1 %s: %w", fn, runErr)
		}
		return fmt.Errorf("whmapi1 %s: %w: unreadable answer: %w", fn, ErrCPanelAPI, err)
	}
	if resp.Metadata.Result != 1 {
		return fmt.Errorf("whmapi1 %s: %w: %s", fn, ErrCPanelAPI, orUnknown(resp.Metadata.Reason))
	}
	if runErr != nil {
		return fmt.Errorf("whmapi1 %s: %w", fn, runErr)
	}
	if err := json.Unmarshal(resp.Data, v); err != nil {
		return fmt.Errorf("whmapi1 %s: %w: data: %w", fn, ErrCPanelAPI, err)
	}
	return nil
}

// uapi runs a UAPI function as user and decodes result.data into v. An
// answer whose result.status is not 1 is an error naming result.errors.
func (c *CPanel) uapi(ctx context.Context, user, module, fn string, v any) error {
	out, runErr := c.run(ctx, filepath.Join(c.root, cpUAPI), "--output=jsonpretty", "--user="+user, module, fn)
	var resp struct {
		Result struct {
			Data   json.RawMessage `json:"data"`
			Errors []string        `json:"errors"`
			Status flexInt         `json:"status"`
		} `json:"result"`
	}
	name := "uapi " + module + " " + fn + " for " + user
	if err := json.Unmarshal(out, &resp); err != nil {
		if runErr != nil {
			return fmt.Errorf("%s: %w", name, runErr)
		}
		return fmt.Errorf("%s: %w: unreadable answer: %w", name, ErrCPanelAPI, err)
	}
	if resp.Result.Status != 1 {
		return fmt.Errorf("%s: %w: %s", name, ErrCPanelAPI, orUnknown(strings.Join(resp.Result.Errors, "; ")))
	}
	if runErr != nil {
		return fmt.Errorf("%s: %w", name, runErr)
	}
	if len(resp.Result.Data) == 0 || string(resp.Result.Data) == "null" {
		return nil
	}
	if err := json.Unmarshal(resp.Result.Data, v); err != nil {
		return fmt.Errorf("%s: %w: data: %w", name, ErrCPanelAPI, err)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

// passwdEntry is a line of getent passwd.
type passwdEntry struct {
	uid, gid int
	home     string
}

// passwd reads getent passwd (all users when name is "").
func (c *CPanel) passwd(ctx context.Context, name string) (map[string]passwdEntry, error) {
	args := []string{"passwd"}
	if name != "" {
		args = append(args, name)
	}
	out, err := c.run(ctx, "getent", args...)
	if err != nil {
		return nil, err
	}
	m := map[string]passwdEntry{}
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimRight(line, "\n"), ":")
		if len(f) < 7 {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || !filepath.IsAbs(f[5]) {
			continue
		}
		m[f[0]] = passwdEntry{uid: uid, gid: gid, home: filepath.Clean(f[5])}
	}
	return m, nil
}

// DumpDatabases runs pkgacct --skiphomedir --nocompress into dir and counts
// the databases and users in the archive it wrote.
func (c *CPanel) DumpDatabases(ctx context.Context, acct api.Account, dir string, log func(string)) (int, int, error) {
	if err := checkAccountName(acct.Name); err != nil {
		return 0, 0, err
	}
	if _, err := c.run(ctx, filepath.Join(c.root, cpPkgacct), "--skiphomedir", "--nocompress", acct.Name, dir); err != nil {
		return 0, 0, fmt.Errorf("pkgacct %s: %w", acct.Name, err)
	}
	archive, err := findCpmove(dir, acct.Name)
	if err != nil {
		return 0, 0, fmt.Errorf("pkgacct %s: %w", acct.Name, err)
	}
	dbs, users, err := countCpmove(archive)
	if err != nil {
		return 0, 0, fmt.Errorf("pkgacct %s: %w", acct.Name, err)
	}
	if log != nil {
		log(fmt.Sprintf("pkgacct wrote %s: %d databases, %d database users", filepath.Base(archive), dbs, users))
	}
	return dbs, users, nil
}

// RestoreDatabases runs restorepkg --force on the archive DumpDatabases
// wrote into dir.
func (c *CPanel) RestoreDatabases(ctx context.Context, acct api.Account, dir string, log func(string)) (int, int, error) {
	if err := checkAccountName(acct.Name); err != nil {
		return 0, 0, err
	}
	archive, err := findCpmove(dir, acct.Name)
	if err != nil {
		return 0, 0, fmt.Errorf("restorepkg %s: %w", acct.Name, err)
	}
	dbs, users, err := countCpmove(archive)
	if err != nil {
		return 0, 0, fmt.Errorf("restorepkg %s: %w", acct.Name, err)
	}
	if _, err := c.run(ctx, filepath.Join(c.root, cpRestorepkg), "--force", archive); err != nil {
		return 0, 0, fmt.Errorf("restorepkg %s: %w", acct.Name, err)
	}
	if log != nil {
		log(fmt.Sprintf("restorepkg restored %s: %d databases, %d database users", filepath.Base(archive), dbs, users))
	}
	return dbs, users, nil
}

// findCpmove finds what pkgacct wrote for user in dir: cpmove-USER.tar,
// cpmove-USER.tar.gz or a cpmove-USER directory.
func findCpmove(dir, user string) (string, error) {
	for _, name := range []string{"cpmove-" + user + ".tar", "cpmove-" + user + ".tar.gz", "cpmove-" + user} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: no cpmove-%s archive in %s", ErrBadDump, user, dir)
}

// cpmoveMySQL matches the database dumps of a cpmove archive.
var cpmoveMySQL = regexp.MustCompile(`^cpmove-[^/]+/mysql/[^/]+\.sql$`)

// countCpmove counts the database dumps (mysql/DB.sql) of a cpmove archive
// or directory, and the users granted to in its mysql.sql.
func countCpmove(p string) (dbs, users int, err error) {
	userSet := map[string]bool{}
	visit := func(name string, r io.Reader) error {
		name = strings.TrimPrefix(path.Clean(name), "./")
		switch {
		case cpmoveMySQL.MatchString(name):
			dbs++
		case strings.HasSuffix(name, "/mysql.sql") && strings.Count(name, "/") == 1:
			return grantees(r, userSet)
		}
		return nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return 0, 0, err
	}
	if st.IsDir() {
		base := filepath.Dir(p)
		err = filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			rel, _ := filepath.Rel(base, fp)
			f, err := os.Open(fp)
			if err != nil {
				return err
			}
			defer f.Close()
			return visit(filepath.ToSlash(rel), f)
		})
		return dbs, len(userSet), err
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReader(f)
	if strings.HasSuffix(p, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %w", ErrBadDump, err)
		}
		defer gz.Close()
		r = gz
	}
	tr := tar.NewReader(r)
	for range 10_000_000 {
		h, err := tr.Next()
		if err == io.EOF {
			return dbs, len(userSet), nil
		}
		if err != nil {
			return 0, 0, fmt.Errorf("%w: %s: %w", ErrBadDump, filepath.Base(p), err)
		}
		if h.Typeflag == tar.TypeReg {
			if err := visit(h.Name, tr); err != nil {
				return 0, 0, err
			}
		}
	}
	return 0, 0, fmt.Errorf("%w: %s has too many entries", ErrBadDump, filepath.Base(p))
}

// granteeRE finds the account of a GRANT ... TO 'user'@'host' line.
var granteeRE = regexp.MustCompile("(?i)\\bGRANT\\b.*\\bTO\\s+['`\"]([^'`\"]+)['`\"]@['`\"]([^'`\"]+)['`\"]")

func grantees(r io.Reader, set map[string]bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		if m := granteeRE.FindSubmatch(sc.Bytes()); m != nil {
			set[string(m[1])+"@"+string(m[2])] = true
		}
	}
	return sc.Err()
}

// flexInt reads a JSON number or a string holding one (cPanel's APIs give
// both); null and "" read 0.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not an integer: %s", b)
	}
	*f = flexInt(n)
	return nil
}
