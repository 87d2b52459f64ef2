package accounts

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A dump directory, as MariaDB.Dump writes it and MariaDB.Restore reads it:
//
//	index.json        the databases (with their character set and views)
//	                  and the users
//	DB.sql            tables and data of DB, without CREATE DATABASE or USE,
//	                  so that it loads into any schema
//	DB.programs.sql   triggers, routines and events of DB
//	DB.views.sql      views of DB (only when it has some)
//	users.sql         CREATE USER and GRANT statements, one a line
//
// A restore loads DB.sql into a staging schema and moves its tables into
// DB with RENAME TABLE, which cannot move triggers or views to another
// schema. And what SHOW CREATE shows of triggers, and of views that call a
// function by its qualified name, names DB itself: loaded into the staging
// schema, such a trigger would land in the live database, such a view
// would fail. So only tables go through the staging schema; programs and
// views are loaded into DB after the swap. Dumps are written with
// --skip-dump-date so that an unchanged database dumps to identical bytes.
const (
	indexFile       = "index.json"
	usersFile       = "users.sql"
	dataSuffix      = ".sql"
	programsSuffix  = ".programs.sql"
	viewsSuffix     = ".views.sql"
	dumpVersion     = 1
	dumpCompleted   = "-- Dump completed"
	maxIndexBytes   = 4 << 20
	maxUsersBytes   = 16 << 20
	maxUserStmtSize = 64 << 10
)

// dumpIndex is index.json.
type dumpIndex struct {
	Version   int        `json:"version"`
	Databases []dumpDB   `json:"databases"`
	Users     []dumpUser `json:"users"`
}

type dumpDB struct {
	Name      string `json:"name"`
	Charset   string `json:"charset,omitempty"`
	Collation string `json:"collation,omitempty"`
	// Views are the names of its views, dumped into DB.views.sql.
	Views []string `json:"views,omitempty"`
}

type dumpUser struct {
	User string `json:"user"`
	Host string `json:"host"`
}

// Options of every mariadb-dump run: consistent (InnoDB), byte-identical for
// identical contents.
var dumpCommon = []string{"--single-transaction", "--default-character-set=utf8mb4", "--skip-dump-date"}

// Dump writes a dump of each database in dbs and of each user in users
// ("user@host") and their grants into dir, which exists, and returns how
// many of each it dumped. log, when not nil, gets a line per database.
func (m *MariaDB) Dump(ctx context.Context, dbs, users []string, dir string, log func(string)) (int, int, error) {
	if log == nil {
		log = func(string) {}
	}
	idx := dumpIndex{Version: dumpVersion, Databases: []dumpDB{}, Users: []dumpUser{}}
	dbs = slices.Sorted(slices.Values(dbs))
	dbs = slices.Compact(dbs)
	for _, db := range dbs {
		if err := checkDatabase(db); err != nil {
			return 0, 0, err
		}
	}
	for _, s := range slices.Compact(slices.Sorted(slices.Values(users))) {
		u, h, err := splitUser(s)
		if err != nil {
			return 0, 0, err
		}
		idx.Users = append(idx.Users, dumpUser{u, h})
	}
	if len(dbs) > 0 && m.dumper == "" {
		return 0, 0, fmt.Errorf("%w: mariadb-dump is not installed", ErrNoMariaDB)
	}
	schemas, err := m.schemas(ctx, dbs)
	if err != nil {
		return 0, 0, err
	}
	for _, db := range dbs {
		d, ok := schemas[db]
		if !ok {
			return 0, 0, fmt.Errorf("dump database %s: it does not exist", db)
		}
		idx.Databases = append(idx.Databases, d)
		noPrograms := []string{"--skip-routines", "--skip-events", "--skip-triggers"}
		data := slices.Concat(dumpCommon, []string{"--quick", "--hex-blob"}, noPrograms)
		for _, v := range d.Views {
			data = append(data, "--ignore-table="+db+"."+v)
		}
		data = append(data, "--", db)
		if err := m.dumpTo(ctx, filepath.Join(dir, db+dataSuffix), data); err != nil {
			return 0, 0, fmt.Errorf("dump database %s: %w", db, err)
		}
		programs := slices.Concat(dumpCommon, []string{"--no-create-info", "--no-data", "--no-create-db",
			"--routines", "--events", "--triggers", "--", db})
		if err := m.dumpTo(ctx, filepath.Join(dir, db+programsSuffix), programs); err != nil {
			return 0, 0, fmt.Errorf("dump programs of database %s: %w", db, err)
		}
		if len(d.Views) > 0 {
			views := slices.Concat(dumpCommon, []string{"--no-data"}, noPrograms, []string{"--", db}, d.Views)
			if err := m.dumpTo(ctx, filepath.Join(dir, db+viewsSuffix), views); err != nil {
				return 0, 0, fmt.Errorf("dump views of database %s: %w", db, err)
			}
		}
		log("dumped database " + db)
	}
	stmts, err := m.userStatements(ctx, idx.Users)
	if err != nil {
		return 0, 0, err
	}
	if err := writeFileAtomic(filepath.Join(dir, usersFile), []byte(stmts)); err != nil {
		return 0, 0, err
	}
	if len(idx.Users) > 0 {
		log(fmt.Sprintf("dumped %d database users and their grants", len(idx.Users)))
	}
	js, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return 0, 0, err
	}
	if err := writeFileAtomic(filepath.Join(dir, indexFile), append(js, '\n')); err != nil {
		return 0, 0, err
	}
	return len(idx.Databases), len(idx.Users), nil
}

// schemas returns, for each of dbs that exists, its default character set
// and collation and its views.
func (m *MariaDB) schemas(ctx context.Context, dbs []string) (map[string]dumpDB, error) {
	out := map[string]dumpDB{}
	if len(dbs) == 0 {
		return out, nil
	}
	quoted := make([]string, len(dbs))
	for i, db := range dbs {
		quoted[i] = quoteString(db)
	}
	in := "(" + strings.Join(quoted, ", ") + ")"
	rows, err := m.query(ctx, ""+
		"SELECT 'schema', SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "+
		"FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN "+in+";\n"+
		"SELECT 'view', TABLE_SCHEMA, TABLE_NAME, '' FROM information_schema.VIEWS "+
		"WHERE TABLE_SCHEMA IN "+in+" ORDER BY TABLE_SCHEMA, TABLE_NAME;\n")
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	for _, r := range rows {
		switch {
		case len(r) != 4:
			return nil, fmt.Errorf("list databases: unexpected row %q", r)
		case r[0] == "schema":
			out[r[1]] = dumpDB{Name: r[1], Charset: r[2], Collation: r[3]}
		case r[0] == "view":
			if d, ok := out[r[1]]; ok {
				d.Views = append(d.Views, r[2])
				out[r[1]] = d
			}
		}
	}
	return out, nil
}

// userStatements asks the server for SHOW CREATE USER and SHOW GRANTS of
// each user, and returns them one a line, each ended by ;.
func (m *MariaDB) userStatements(ctx context.Context, users []dumpUser) (string, error) {
	if len(users) == 0 {
		return "", nil
	}
	var q strings.Builder
	for _, u := range users {
		acct := quoteAccount(u.User, u.Host)
		q.WriteString("SHOW CREATE USER " + acct + ";\nSHOW GRANTS FOR " + acct + ";\n")
	}
	rows, err := m.query(ctx, q.String())
	if err != nil {
		return "", fmt.Errorf("dump database users: %w", err)
	}
	var b strings.Builder
	for _, r := range rows {
		if len(r) != 1 {
			return "", fmt.Errorf("dump database users: unexpected answer %q", r)
		}
		stmt := strings.TrimSuffix(strings.TrimSpace(r[0]), ";")
		if strings.ContainsAny(stmt, "\n\r") {
			return "", fmt.Errorf("dump database users: statement spans lines: %q", stmt)
		}
		b.WriteString(stmt + ";\n")
	}
	return b.String(), nil
}

// dumpTo runs mariadb-dump into path, through a temporary file renamed
// into place once the dump is complete.
func (m *MariaDB) dumpTo(ctx context.Context, path string, args []string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = m.run(ctx, m.dumper, args, nil, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// writeFileAtomic writes data to path through a temporary file.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, data, 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
