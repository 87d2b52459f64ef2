package accounts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ErrNoMariaDB is wrapped by errors of a MariaDB whose command-line tools
// are not installed, or whose server does not answer.
var ErrNoMariaDB = errors.New("MariaDB unavailable")

// ErrInvalidName is wrapped by errors about a database, user, host or account
// name that this package refuses to handle.
var ErrInvalidName = errors.New("invalid name")

// MariaDBConfig says how to reach a MariaDB (or MySQL) server. The zero value
// uses the command-line tools' own defaults: the local socket and root's
// ~/.my.cnf, as on cPanel servers. When any field but BinDir is set, the
// tools get them from a temporary --defaults-extra-file (mode 0600), so that
// a password never appears on a command line.
type MariaDBConfig struct {
	Host     string `json:"host,omitempty"`
	Port     int    `json:"port,omitempty"`
	User     string `json:"user,omitempty"`
	Password string `json:"password,omitempty"`
	Socket   string `json:"socket,omitempty"`
	// BinDir holds the mariadb and mariadb-dump tools; empty: $PATH, where
	// mysql and mysqldump serve when the mariadb names are missing.
	BinDir string `json:"bin_dir,omitempty"`
}

// MariaDB runs SQL, dumps and loads through the real command-line tools,
// mariadb and mariadb-dump: they authenticate as the server's administrators
// expect (socket authentication, ~/.my.cnf), which a Go driver would not.
// It is safe for concurrent use, but restores of the same database must not
// overlap: they share a staging schema.
type MariaDB struct {
	cfg    MariaDBConfig
	client string // path of mariadb; "" when not installed
	dumper string // path of mariadb-dump; "" when not installed
}

// NewMariaDB returns a MariaDB that uses cfg. It does not connect; Ping does.
func NewMariaDB(cfg MariaDBConfig) *MariaDB {
	return &MariaDB{
		cfg:    cfg,
		client: findTool(cfg.BinDir, "mariadb", "mysql"),
		dumper: findTool(cfg.BinDir, "mariadb-dump", "mysqldump"),
	}
}

func findTool(dir string, names ...string) string {
	for _, n := range names {
		if dir != "" {
			p := filepath.Join(dir, n)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				return p
			}
			continue
		}
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// Ping checks that the server answers.
func (m *MariaDB) Ping(ctx context.Context) error {
	_, err := m.query(ctx, "SELECT 1")
	return err
}

// Databases returns the server's schemas whose name starts with prefix,
// sorted. System schemas and this package's staging schemas are left out.
func (m *MariaDB) Databases(ctx context.Context, prefix string) ([]string, error) {
	rows, err := m.query(ctx, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE "+
		quoteString(likePrefix(prefix))+" ORDER BY SCHEMA_NAME")
	if err != nil {
		return nil, err
	}
	var dbs []string
	for _, r := range rows {
		if len(r) == 1 && strings.HasPrefix(r[0], prefix) && !isSystemSchema(r[0]) {
			dbs = append(dbs, r[0])
		}
	}
	return dbs, nil
}

// DatabaseBytes is the size of the tables and indexes of dbs.
func (m *MariaDB) DatabaseBytes(ctx context.Context, dbs []string) (int64, error) {
	if len(dbs) == 0 {
		return 0, nil
	}
	quoted := make([]string, len(dbs))
	for i, db := range dbs {
		if err := checkDatabase(db); err != nil {
			return 0, err
		}
		quoted[i] = quoteString(db)
	}
	rows, err := m.query(ctx, "SELECT COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ("+strings.Join(quoted, ",")+")")
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, fmt.Errorf("database size: unexpected answer %q", rows)
	}
	n, err := strconv.ParseInt(rows[0][0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("database size %q: %w", rows[0][0], err)
	}
	return n, nil
}

// Users returns the server's users (not roles) whose name starts with
// prefix, as "user@host", sorted.
func (m *MariaDB) Users(ctx context.Context, prefix string) ([]string, error) {
	rows, err := m.query(ctx, "SELECT DISTINCT User, Host FROM mysql.user WHERE User LIKE "+
		quoteString(likePrefix(prefix))+" AND is_role <> 'Y' ORDER BY User, Host")
	if err != nil {
		return nil, err
	}
	var users []string
	for _, r := range rows {
		if len(r) == 2 && strings.HasPrefix(r[0], prefix) {
			users = append(users, r[0]+"@"+r[1])
		}
	}
	return users, nil
}

// query runs statements through the mariadb client in batch mode and
// returns the rows of their results, in order, as unescaped strings (NULL
// reads "NULL").
func (m *MariaDB) query(ctx context.Context, sql string) ([][]string, error) {
	var out bytes.Buffer
	if err := m.runClient(ctx, strings.NewReader(sql), &out, "--batch", "--skip-column-names"); err != nil {
		return nil, err
	}
	return parseBatch(out.String()), nil
}

// exec runs statements and discards their output.
func (m *MariaDB) exec(ctx context.Context, sql string) error {
	return m.runClient(ctx, strings.NewReader(sql), io.Discard, "--batch")
}

// runClient runs the mariadb client with SQL on stdin. Binary mode stops the
// client from acting on its own commands (\! runs a shell) in what it reads,
// which may come from another machine.
func (m *MariaDB) runClient(ctx context.Context, stdin io.Reader, stdout io.Writer, args ...string) error {
	if m.client == "" {
		return fmt.Errorf("%w: the mariadb client is not installed", ErrNoMariaDB)
	}
	base := []string{"--binary-mode", "--default-character-set=utf8mb4", "--connect-timeout=10"}
	return m.run(ctx, m.client, append(base, args...), stdin, stdout)
}

// run runs a MariaDB tool with the option file first, as the tools require.
func (m *MariaDB) run(ctx context.Context, tool string, args []string, stdin io.Reader, stdout io.Writer) error {
	if f, err := m.optionFile(); err != nil {
		return err
	} else if f != "" {
		defer os.Remove(f)
		args = append([]string{"--defaults-extra-file=" + f}, args...)
	}
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdin, cmd.Stdout = stdin, stdout
	stderr := &tailWriter{max: 4 << 10}
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", filepath.Base(tool), ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		if isConnectError(msg) {
			return fmt.Errorf("%w: %s: %s", ErrNoMariaDB, filepath.Base(tool), msg)
		}
		return fmt.Errorf("%s: %w: %s", filepath.Base(tool), err, msg)
	}
	return nil
}

// isConnectError tells client errors that mean "no server" (CR_CONNECTION_ERROR,
// CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST, ER_ACCESS_DENIED_ERROR...) from SQL errors.
func isConnectError(stderr string) bool {
	for _, code := range []string{"ERROR 2002 ", "ERROR 2003 ", "ERROR 2005 ", "ERROR 2006 ", "ERROR 2013 ", "ERROR 1045 ", "ERROR 1698 "} {
		if strings.HasPrefix(stderr, code) || strings.Contains(stderr, "\n"+code) {
			return true
		}
	}
	return false
}

// optionFile writes the configured connection settings into a temporary
// [client] option file readable by root only, and returns its path; "" when
// nothing is configured.
func (m *MariaDB) optionFile() (string, error) {
	c := m.cfg
	if c.Host == "" && c.Port == 0 && c.User == "" && c.Password == "" && c.Socket == "" {
		return "", nil
	}
	var b strings.Builder
	b.WriteString("[client]\n")
	for _, kv := range [][2]string{{"host", c.Host}, {"user", c.User}, {"password", c.Password}, {"socket", c.Socket}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%s=%s\n", kv[0], optionValue(kv[1]))
		}
	}
	if c.Port != 0 {
		fmt.Fprintf(&b, "port=%d\n", c.Port)
	}
	f, err := os.CreateTemp("", "poolctl-my-*.cnf") // mode 0600
	if err != nil {
		return "", fmt.Errorf("MariaDB option file: %w", err)
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("MariaDB option file: %w", err)
	}
	return f.Name(), nil
}

// optionValue quotes a value of an option file: the tools strip the double
// quotes and read \\ \" \n \t \r as escapes.
func optionValue(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// parseBatch reads the mariadb client's --batch output: rows end with \n,
// columns are separated by \t, and \\ \n \t \0 inside values are escaped.
func parseBatch(out string) [][]string {
	var rows [][]string
	for line := range strings.Lines(out) {
		line = strings.TrimSuffix(line, "\n")
		cols := strings.Split(line, "\t")
		for i, c := range cols {
			cols[i] = unescapeBatch(c)
		}
		rows = append(rows, cols)
	}
	return rows
}

func unescapeBatch(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i == len(s)-1 {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '0':
			b.WriteByte(0)
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// Names from another machine are checked before they reach SQL or a path.
var (
	dbNameRE    = regexp.MustCompile(`^[A-Za-z0-9_$-]{1,64}$`)
	charsetRE   = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)
	stagingRE   = regexp.MustCompile(`^pc(st|old)_[0-9a-f]{12}$`)
	systemDBs   = []string{"information_schema", "performance_schema", "mysql", "sys"}
	badUserRune = "'\"`\\\x00\n\r"
)

func isSystemSchema(db string) bool {
	return slices.Contains(systemDBs, strings.ToLower(db)) || stagingRE.MatchString(db)
}

// checkDatabase refuses a database name that is not plain, or that names a
// system or staging schema.
func checkDatabase(db string) error {
	if !dbNameRE.MatchString(db) {
		return fmt.Errorf("%w: database %q (want 1 to 64 of A-Z a-z 0-9 _ $ -)", ErrInvalidName, db)
	}
	if isSystemSchema(db) {
		return fmt.Errorf("%w: database %q is a system or staging schema", ErrInvalidName, db)
	}
	return nil
}

// checkUser refuses a user or host that could escape quoting.
func checkUser(user, host string) error {
	switch {
	case user == "" || len(user) > 80 || strings.ContainsAny(user, badUserRune):
		return fmt.Errorf("%w: database user %q (want 1 to 80 characters, no quote or backslash)", ErrInvalidName, user)
	case host == "" || len(host) > 255 || strings.ContainsAny(host, badUserRune):
		return fmt.Errorf("%w: host %q of database user %q (want 1 to 255 characters, no quote or backslash)", ErrInvalidName, host, user)
	}
	return nil
}

// splitUser splits "user@host" at its last @.
func splitUser(s string) (user, host string, err error) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return "", "", fmt.Errorf("%w: database user %q is not user@host", ErrInvalidName, s)
	}
	user, host = s[:i], s[i+1:]
	return user, host, checkUser(user, host)
}

// quoteIdent quotes an identifier with backticks.
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// quoteString quotes a string literal (sql_mode NO_BACKSLASH_ESCAPES aside,
// which the client sessions here do not set).
func quoteString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `''`, "\x00", `\0`, "\n", `\n`, "\r", `\r`, "\x1a", `\Z`)
	return "'" + r.Replace(s) + "'"
}

// quoteAccount quotes user@host for account-management statements.
func quoteAccount(user, host string) string {
	return quoteString(user) + "@" + quoteString(host)
}

// likePrefix is a LIKE pattern matching strings that start with prefix.
func likePrefix(prefix string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(prefix) + "%"
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	max int
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - w.max; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(p), nil
}

func (w *tailWriter) String() string { return string(w.buf) }
