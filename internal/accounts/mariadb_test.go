package accounts_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/accounts"
	"github.com/poolctl/poolctl/internal/accounts/accountstest"
)

// fixture is an account with two databases and two users on the main
// instance, named with a random prefix and dropped when the test ends.
type fixture struct {
	name     string // account name; the databases and users start with name_
	shop     string
	blog     string
	users    []string // user@host
	main     *accountstest.Server
	mainDB   *sql.DB
	provider *accounts.Linux // on the main instance
}

func randomName(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	main := accountstest.Main(t)
	f := &fixture{name: randomName(t), main: main, mainDB: main.DB(t)}
	f.shop, f.blog = f.name+"_shop", f.name+"_blog"
	f.users = []string{f.name + "_app@localhost", f.name + "_app@127.0.0.1", f.name + "_ro@%"}
	dropAll(t, f.mainDB, f)
	t.Cleanup(func() { dropAll(t, f.mainDB, f) })
	execSQL(t, f.mainDB, fmt.Sprintf(`
CREATE DATABASE %[1]s CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE TABLE %[1]s.customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL, photo BLOB);
CREATE TABLE %[1]s.orders (id INT AUTO_INCREMENT PRIMARY KEY, customer INT NOT NULL, total DECIMAL(10,2),
  FOREIGN KEY (customer) REFERENCES %[1]s.customers (id));
CREATE TABLE %[1]s.audit (id INT AUTO_INCREMENT PRIMARY KEY, msg TEXT);
INSERT INTO %[1]s.customers (name, photo) VALUES ('Zoë 🐘', UNHEX('00FF10275C0D0A')), ('O''Brien; DROP', NULL), ('tab	and\\back', '');
INSERT INTO %[1]s.orders (customer, total) VALUES (1, 10.50), (1, 3.25), (2, 99.99);
CREATE FUNCTION %[1]s.with_tax(x DECIMAL(10,2)) RETURNS DECIMAL(10,2) DETERMINISTIC RETURN x * 1.2;
CREATE PROCEDURE %[1]s.purge_audit() DELETE FROM audit;
CREATE VIEW %[1]s.order_totals AS SELECT customer, SUM(total) AS total, %[1]s.with_tax(SUM(total)) AS gross FROM %[1]s.orders GROUP BY customer;
CREATE VIEW %[1]s.big_customers AS SELECT customer FROM %[1]s.order_totals WHERE total > 10;
CREATE TRIGGER %[1]s.orders_audit AFTER INSERT ON %[1]s.orders FOR EACH ROW INSERT INTO audit (msg) VALUES (CONCAT('order ', NEW.id));
CREATE EVENT %[1]s.nightly ON SCHEDULE EVERY 1 DAY DISABLE DO CALL purge_audit();
CREATE DATABASE %[2]s;
CREATE TABLE %[2]s.posts (id INT PRIMARY KEY, body LONGTEXT) ENGINE=InnoDB;
CREATE TABLE %[2]s.legacy (k VARCHAR(10) PRIMARY KEY, v INT) ENGINE=MyISAM;
INSERT INTO %[2]s.posts VALUES (1, REPEAT('lorem ipsum ', 5000)), (2, 'short');
INSERT INTO %[2]s.legacy VALUES ('a', 1), ('b', 2);
CREATE USER '%[3]s_app'@'localhost' IDENTIFIED BY 'p"a#s\\s w''d;x';
CREATE USER '%[3]s_app'@'127.0.0.1' IDENTIFIED BY 'other';
CREATE USER '%[3]s_ro'@'%%';
GRANT ALL PRIVILEGES ON %[1]s.* TO '%[3]s_app'@'localhost';
GRANT SELECT, INSERT ON %[2]s.* TO '%[3]s_app'@'localhost';
GRANT ALL ON %[1]s.* TO '%[3]s_app'@'127.0.0.1' WITH GRANT OPTION;
GRANT SELECT ON %[2]s.posts TO '%[3]s_ro'@'%%';
`, f.shop, f.blog, f.name))
	// A grant on a pattern, with its _ escaped as cPanel writes them.
	execSQL(t, f.mainDB, "GRANT SELECT ON `"+f.name+"\\_blog`.* TO '"+f.name+"_ro'@'%'")
	root := t.TempDir()
	writeManifest(t, filepath.Join(root, f.name), `{"domains": ["shop.example.com"]}`)
	p, err := accounts.NewLinux(accounts.LinuxConfig{Root: root, MariaDB: main.Config()})
	if err != nil {
		t.Fatal(err)
	}
	f.provider = p
	return f
}

// dropAll drops the fixture's databases and users, and any staging schema
// of them, from db.
func dropAll(t *testing.T, db *sql.DB, f *fixture) {
	t.Helper()
	var b strings.Builder
	b.WriteString("SET SESSION foreign_key_checks = 0;\n")
	for _, d := range []string{f.shop, f.blog, f.name + "_extra"} {
		stage, old := accounts.StagingSchemas(d)
		fmt.Fprintf(&b, "DROP DATABASE IF EXISTS `%s`; DROP DATABASE IF EXISTS `%s`; DROP DATABASE IF EXISTS `%s`;\n", d, stage, old)
	}
	for _, u := range f.users {
		user, host, _ := strings.Cut(u, "@")
		fmt.Fprintf(&b, "DROP USER IF EXISTS '%s'@'%s';\n", user, host)
	}
	if _, err := db.Exec(b.String()); err != nil {
		t.Errorf("drop test databases and users: %v", err)
	}
}

func execSQL(t *testing.T, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
}

func writeManifest(t *testing.T, home, content string) {
	t.Helper()
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, accounts.ManifestFile), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func strings1(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// allRows returns the rows of a query, each as its columns joined by commas.
func allRows(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			parts = append(parts, v.String)
		}
		out = append(out, strings.Join(parts, ","))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshot describes a database as the tests compare it: each base table's
// CHECKSUM TABLE, and the names of its views, triggers, routines and
// events, and what its views answer.
func snapshot(t *testing.T, db *sql.DB, schema string) map[string]string {
	t.Helper()
	s := map[string]string{}
	for _, tbl := range strings1(t, db, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1", schema) {
		var name string
		var sum sql.NullInt64
		if err := db.QueryRow(fmt.Sprintf("CHECKSUM TABLE `%s`.`%s`", schema, tbl)).Scan(&name, &sum); err != nil {
			t.Fatal(err)
		}
		s["table "+tbl] = fmt.Sprint(sum.Int64)
	}
	for _, v := range strings1(t, db, "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY 1", schema) {
		s["view "+v] = strings.Join(allRows(t, db, fmt.Sprintf("SELECT * FROM `%s`.`%s` ORDER BY 1", schema, v)), ";")
	}
	s["triggers"] = strings.Join(strings1(t, db, "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY 1", schema), ",")
	s["routines"] = strings.Join(strings1(t, db, "SELECT CONCAT(ROUTINE_TYPE, ' ', ROUTINE_NAME) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY 1", schema), ",")
	s["events"] = strings.Join(strings1(t, db, "SELECT CONCAT(EVENT_NAME, ' ', STATUS) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY 1", schema), ",")
	s["charset"] = strings.Join(strings1(t, db, "SELECT CONCAT(DEFAULT_CHARACTER_SET_NAME, ' ', DEFAULT_COLLATION_NAME) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", schema), ",")
	return s
}

func grantsOf(t *testing.T, db *sql.DB, users []string) map[string]string {
	t.Helper()
	g := map[string]string{}
	for _, u := range users {
		user, host, _ := strings.Cut(u, "@")
		acct := fmt.Sprintf("'%s'@'%s'", user, host)
		g[u] = strings.Join(slices.Concat(strings1(t, db, "SHOW CREATE USER "+acct), strings1(t, db, "SHOW GRANTS FOR "+acct)), "\n")
	}
	return g
}

func compareSnapshots(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: %s missing", what, k)
		} else if g != w {
			t.Errorf("%s: %s = %.200q, want %.200q", what, k, g, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s", what, k)
		}
	}
}

func stagingLeft(t *testing.T, db *sql.DB, dbs ...string) []string {
	t.Helper()
	var left []string
	for _, d := range dbs {
		stage, old := accounts.StagingSchemas(d)
		left = append(left, strings1(t, db, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN (?, ?)", stage, old)...)
	}
	return left
}

func TestDumpRestore(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	standby := accountstest.StartMariaDB(t)
	standbyDB := standby.DB(t)
	target, err := accounts.NewLinux(accounts.LinuxConfig{Root: t.TempDir(), MariaDB: standby.Config()})
	if err != nil {
		t.Fatal(err)
	}

	acct, err := f.provider.Get(ctx, f.name)
	if err != nil {
		t.Fatal(err)
	}
	wantUsers := slices.Sorted(slices.Values(f.users))
	if want := []string{f.blog, f.shop}; !slices.Equal(acct.Databases, want) {
		t.Fatalf("Databases = %q, want %q", acct.Databases, want)
	}
	if !slices.Equal(acct.DBUsers, wantUsers) {
		t.Fatalf("DBUsers = %q, want %q", acct.DBUsers, wantUsers)
	}

	// First run: nothing on the standby yet.
	run := func(label string) string {
		t.Helper()
		dir := t.TempDir()
		var lines []string
		dbs, users, err := f.provider.DumpDatabases(ctx, acct, dir, func(s string) { lines = append(lines, s) })
		if err != nil {
			t.Fatalf("%s: DumpDatabases: %v", label, err)
		}
		if dbs != 2 || users != 3 {
			t.Errorf("%s: DumpDatabases = %d databases, %d users, want 2, 3", label, dbs, users)
		}
		dbs, users, err = target.RestoreDatabases(ctx, acct, dir, func(s string) { lines = append(lines, s) })
		if err != nil {
			t.Fatalf("%s: RestoreDatabases: %v\nlog: %q", label, err, lines)
		}
		if dbs != 2 || users != 3 {
			t.Errorf("%s: RestoreDatabases = %d databases, %d users, want 2, 3", label, dbs, users)
		}
		for _, d := range []string{f.shop, f.blog} {
			compareSnapshots(t, label+" "+d, snapshot(t, standbyDB, d), snapshot(t, f.mainDB, d))
		}
		compareSnapshots(t, label+" users", grantsOf(t, standbyDB, f.users), grantsOf(t, f.mainDB, f.users))
		if left := stagingLeft(t, standbyDB, f.shop, f.blog); len(left) > 0 {
			t.Errorf("%s: staging schemas left: %q", label, left)
		}
		return dir
	}
	first := run("first run")

	// The restored trigger works, and the restored user logs in with its password.
	execSQL(t, standbyDB, fmt.Sprintf("INSERT INTO %s.orders (customer, total) VALUES (2, 1)", f.shop))
	if got := strings1(t, standbyDB, fmt.Sprintf("SELECT msg FROM %s.audit", f.shop)); len(got) != 1 || got[0] != "order 4" {
		t.Errorf("audit after an insert on the standby = %q, want [order 4]", got)
	}
	appOnStandby := accounts.NewMariaDB(accounts.MariaDBConfig{Host: "127.0.0.1", Port: standby.Port, User: f.name + "_app", Password: "other"})
	if dbs, err := appOnStandby.Databases(ctx, f.name); err != nil || !slices.Equal(dbs, []string{f.shop}) {
		t.Errorf("restored user sees databases %q (%v), want only the shop (its grants)", dbs, err)
	}

	// Second run over the existing copy: a table dropped, one added, rows
	// changed, a view and a routine gone, a trigger changed.
	execSQL(t, f.mainDB, fmt.Sprintf(`
DROP TABLE %[2]s.legacy;
CREATE TABLE %[2]s.comments (id INT PRIMARY KEY, post INT, body TEXT);
INSERT INTO %[2]s.comments VALUES (1, 1, 'first!');
UPDATE %[1]s.customers SET name = 'changed' WHERE id = 2;
DROP VIEW %[1]s.big_customers;
DROP PROCEDURE %[1]s.purge_audit;
DROP EVENT %[1]s.nightly;
DROP TRIGGER %[1]s.orders_audit;
CREATE TRIGGER %[1]s.orders_audit2 BEFORE INSERT ON %[1]s.orders FOR EACH ROW SET NEW.total = NEW.total + 1;
`, f.shop, f.blog))
	second := run("second run")
	if got := strings1(t, standbyDB, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1", f.blog); !slices.Equal(got, []string{"comments", "posts"}) {
		t.Errorf("tables of %s on the standby = %q, want [comments posts]", f.blog, got)
	}

	// Unchanged databases dump to identical bytes.
	again := t.TempDir()
	if _, _, err := f.provider.DumpDatabases(ctx, acct, again, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{f.shop + ".sql", f.blog + ".sql", f.shop + ".programs.sql", "users.sql", "index.json"} {
		a, _ := os.ReadFile(filepath.Join(second, name))
		b, _ := os.ReadFile(filepath.Join(again, name))
		if len(a) == 0 || string(a) != string(b) {
			t.Errorf("%s differs between two dumps of unchanged databases", name)
		}
	}
	_ = first

	before := map[string]map[string]string{f.shop: snapshot(t, standbyDB, f.shop), f.blog: snapshot(t, standbyDB, f.blog)}
	grantsBefore := grantsOf(t, standbyDB, f.users)
	intact := func(label string) {
		t.Helper()
		for d, want := range before {
			compareSnapshots(t, label+": "+d, snapshot(t, standbyDB, d), want)
		}
		compareSnapshots(t, label+": users", grantsOf(t, standbyDB, f.users), grantsBefore)
		if left := stagingLeft(t, standbyDB, f.shop, f.blog); len(left) > 0 {
			t.Errorf("%s: staging schemas left: %q", label, left)
		}
	}
	// A newer dump whose shop database comes in broken.
	execSQL(t, f.mainDB, fmt.Sprintf("INSERT INTO %s.customers (name) VALUES ('newer')", f.shop))
	broken := func(label string, corrupt func(data []byte) []byte) error {
		t.Helper()
		dir := t.TempDir()
		if _, _, err := f.provider.DumpDatabases(ctx, acct, dir, nil); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, f.shop+".sql")
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, corrupt(data), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err = target.RestoreDatabases(ctx, acct, dir, nil)
		if err == nil {
			t.Fatalf("%s: RestoreDatabases succeeded", label)
		}
		t.Logf("%s: %v", label, err)
		intact(label)
		return err
	}
	err = broken("truncated dump", func(data []byte) []byte {
		i := strings.Index(string(data), "INSERT INTO `customers`")
		return data[:i+40]
	})
	if !errors.Is(err, accounts.ErrBadDump) || !strings.Contains(err.Error(), f.shop+".sql is incomplete") {
		t.Errorf("truncated dump: error %q, want ErrBadDump naming %s.sql as incomplete", err, f.shop)
	}
	// A dump that ends as a complete one but does not load: the staging
	// schema is dropped, the previous copy stays.
	err = broken("corrupt dump", func(data []byte) []byte {
		i := strings.Index(string(data), "INSERT INTO `orders`")
		return []byte(string(data[:i]) + "INSERT INTO `orders` VALUES (1,\n" + string(data[i:]))
	})
	if !strings.Contains(err.Error(), "load "+f.shop+".sql into staging schema") || !strings.Contains(err.Error(), "ERROR 1064") {
		t.Errorf("corrupt dump: error %q, want a load error with the server's syntax error", err)
	}
}

func TestRestoreRefusesBadDumps(t *testing.T) {
	ctx := context.Background()
	p, err := accounts.NewLinux(accounts.LinuxConfig{Root: t.TempDir(), MariaDB: accounts.MariaDBConfig{Host: "127.0.0.1", Port: 1, User: "nobody"}})
	if err != nil {
		t.Fatal(err)
	}
	complete := "-- MariaDB dump\nSELECT 1;\n-- Dump completed\n"
	for _, tc := range []struct {
		name  string
		index string
		files map[string]string
		want  error
	}{
		{"path in database name", `{"version":1,"databases":[{"name":"../etc"}],"users":[]}`, nil, accounts.ErrInvalidName},
		{"system database", `{"version":1,"databases":[{"name":"mysql"}],"users":[]}`, nil, accounts.ErrInvalidName},
		{"staging schema", `{"version":1,"databases":[{"name":"pcst_0123456789ab"}],"users":[]}`, nil, accounts.ErrInvalidName},
		{"quote in user", `{"version":1,"databases":[],"users":[{"user":"a'b","host":"%"}]}`, nil, accounts.ErrInvalidName},
		{"backslash in host", `{"version":1,"databases":[],"users":[{"user":"a","host":"x\\"}]}`, nil, accounts.ErrInvalidName},
		{"long user", `{"version":1,"databases":[],"users":[{"user":"` + strings.Repeat("u", 81) + `","host":"%"}]}`, nil, accounts.ErrInvalidName},
		{"bad charset", `{"version":1,"databases":[{"name":"a_db","charset":"utf8; DROP"}],"users":[]}`, nil, accounts.ErrInvalidName},
		{"unknown version", `{"version":2,"databases":[],"users":[]}`, nil, accounts.ErrBadDump},
		{"missing dump", `{"version":1,"databases":[{"name":"a_db"}],"users":[]}`, nil, accounts.ErrBadDump},
		{"missing programs", `{"version":1,"databases":[{"name":"a_db"}],"users":[]}`, map[string]string{"a_db.sql": complete}, accounts.ErrBadDump},
		{"grant to another user", `{"version":1,"databases":[],"users":[{"user":"a_u","host":"%"}]}`,
			map[string]string{"users.sql": "GRANT ALL PRIVILEGES ON *.* TO `a_u`@`%`, `evil`@`%`;\n"}, accounts.ErrBadDump},
		{"two statements", `{"version":1,"databases":[],"users":[{"user":"a_u","host":"%"}]}`,
			map[string]string{"users.sql": "CREATE USER `a_u`@`%`; DROP DATABASE x;\n"}, accounts.ErrBadDump},
		{"other statement", `{"version":1,"databases":[],"users":[{"user":"a_u","host":"%"}]}`,
			map[string]string{"users.sql": "DROP DATABASE `a_u`;\n"}, accounts.ErrBadDump},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"index.json": tc.index, "users.sql": ""}
			for k, v := range tc.files {
				files[k] = v
			}
			for name, content := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := p.RestoreDatabases(ctx, api.Account{Name: "a"}, dir, nil)
			if !errors.Is(err, tc.want) {
				t.Errorf("RestoreDatabases: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDumpWithoutMariaDB(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	writeManifest(t, filepath.Join(root, "alice"), `{"domains": ["example.com"]}`)
	// Nothing listens on port 1.
	p, err := accounts.NewLinux(accounts.LinuxConfig{Root: root, MariaDB: accounts.MariaDBConfig{Host: "127.0.0.1", Port: 1, User: "root"}})
	if err != nil {
		t.Fatal(err)
	}
	accts, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 1 || len(accts[0].Databases) != 0 || accts[0].Databases == nil {
		t.Fatalf("List = %+v, want alice without databases", accts)
	}
	// An account known to have databases cannot be dumped.
	withDBs := accts[0]
	withDBs.Databases = []string{"alice_wp"}
	_, _, err = p.DumpDatabases(ctx, withDBs, t.TempDir(), nil)
	if !errors.Is(err, accounts.ErrNoMariaDB) || !strings.Contains(err.Error(), "alice_wp") {
		t.Errorf("DumpDatabases of an account with databases = %v, want ErrNoMariaDB naming alice_wp", err)
	}
	// One without gives an empty dump, which restores to nothing.
	dir := t.TempDir()
	if dbs, users, err := p.DumpDatabases(ctx, accts[0], dir, nil); err != nil || dbs != 0 || users != 0 {
		t.Fatalf("DumpDatabases = %d, %d, %v; want an empty dump", dbs, users, err)
	}
	var idx struct {
		Databases []any `json:"databases"`
	}
	data, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(data, &idx); err != nil || idx.Databases == nil || len(idx.Databases) != 0 {
		t.Errorf("index.json = %s (%v), want no databases", data, err)
	}
	if dbs, users, err := p.RestoreDatabases(ctx, accts[0], dir, nil); err != nil || dbs != 0 || users != 0 {
		t.Errorf("RestoreDatabases of an empty dump = %d, %d, %v", dbs, users, err)
	}
}

// TestDatabaseBytes: the size of an account's databases, as MariaDB
// reports its tables and indexes, is about what their dumps take.
func TestDatabaseBytes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	acct, err := f.provider.Get(ctx, f.name)
	if err != nil {
		t.Fatal(err)
	}
	// The statistics information_schema reports are refreshed by ANALYZE.
	execSQL(t, f.mainDB, fmt.Sprintf("ANALYZE TABLE %[1]s.customers, %[1]s.orders, %[1]s.audit, %[2]s.posts, %[2]s.legacy", f.shop, f.blog))
	n, err := f.provider.DatabaseBytes(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, _, err := f.provider.DumpDatabases(ctx, acct, dir, func(string) {}); err != nil {
		t.Fatal(err)
	}
	var dumped int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				dumped += fi.Size()
			}
		}
		return nil
	})
	if n <= 0 || n < dumped/2 {
		t.Fatalf("DatabaseBytes = %d for dumps of %d bytes, want at least half the dumps (InnoDB pages hold the rows)", n, dumped)
	}
	t.Logf("tables and indexes %d bytes, dumps %d bytes", n, dumped)
	var m *accounts.MariaDB
	if n, err := m.DatabaseBytes(ctx, nil); err != nil || n != 0 {
		t.Fatalf("no databases: %d %v", n, err)
	}
	if _, err := accounts.NewMariaDB(f.main.Config()).DatabaseBytes(ctx, []string{"x`; DROP"}); err == nil {
		t.Fatal("a bad database name was queried")
	}
}
