package accounts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrBadDump is wrapped by errors about a dump directory that is incomplete
// or not as Dump writes it.
var ErrBadDump = errors.New("bad database dump")

// StagingSchemas returns the names of the two schemas a restore of db uses
// beside db itself: the one its dump is loaded into, and the one its
// previous tables are moved to. Both are dropped when the restore ends.
func StagingSchemas(db string) (stage, old string) {
	sum := sha256.Sum256([]byte(db))
	h := hex.EncodeToString(sum[:])[:12]
	return "pcst_" + h, "pcold_" + h
}

// Restore loads a dump directory written by Dump into the server, under the
// same database names, and returns how many databases and users it
// restored.
//
// Every file is checked first (names, and that each dump is complete).
// Then, database after database: DB.sql is loaded into a fresh staging
// schema; if that fails the staging schema is dropped and the live database
// is untouched. Otherwise the live database's triggers and views are
// dropped and one RENAME TABLE statement moves its tables out and the
// staged ones in, atomically. Then its routines and events are replaced by
// the dumped ones, and the dumped triggers and views created. Last, each
// dumped user is dropped and recreated with its grants.
//
// From the dropping of its triggers and views, just before the swap, to
// the end of a database's restore, the live database lacks (some of) its
// triggers and views; a failure there is returned, and leaves the tables
// (old ones if the RENAME failed, new ones after it) in place.
//
// The dumps are executed as the configured (administrator) user: they are
// trusted as much as the source server that wrote them. Only users.sql is
// checked statement by statement.
func (m *MariaDB) Restore(ctx context.Context, dir string, log func(string)) (int, int, error) {
	if log == nil {
		log = func(string) {}
	}
	idx, err := readIndex(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, db := range idx.Databases {
		suffixes := []string{dataSuffix, programsSuffix}
		if len(db.Views) > 0 {
			suffixes = append(suffixes, viewsSuffix)
		}
		for _, suffix := range suffixes {
			if err := checkComplete(filepath.Join(dir, db.Name+suffix)); err != nil {
				return 0, 0, err
			}
		}
	}
	stmts, err := readUserStatements(filepath.Join(dir, usersFile), idx.Users)
	if err != nil {
		return 0, 0, err
	}
	if err := m.Ping(ctx); err != nil && (len(idx.Databases) > 0 || len(idx.Users) > 0) {
		return 0, 0, fmt.Errorf("restore databases: %w", err)
	}
	for i, db := range idx.Databases {
		start := time.Now()
		if err := m.restoreDatabase(ctx, dir, db); err != nil {
			return i, 0, fmt.Errorf("restore database %s: %w", db.Name, err)
		}
		log(fmt.Sprintf("restored database %s in %s", db.Name, time.Since(start).Round(time.Millisecond)))
	}
	if len(idx.Users) == 0 {
		return len(idx.Databases), 0, nil
	}
	var b strings.Builder
	for _, u := range idx.Users {
		b.WriteString("DROP USER IF EXISTS " + quoteAccount(u.User, u.Host) + ";\n")
	}
	for _, s := range stmts {
		b.WriteString(s + "\n")
	}
	if err := m.exec(ctx, b.String()); err != nil {
		return len(idx.Databases), 0, fmt.Errorf("restore database users: %w", err)
	}
	log(fmt.Sprintf("restored %d database users and their grants", len(idx.Users)))
	return len(idx.Databases), len(idx.Users), nil
}

// restoreDatabase loads one database aside, then swaps it in.
func (m *MariaDB) restoreDatabase(ctx context.Context, dir string, db dumpDB) (err error) {
	stage, old := StagingSchemas(db.Name)
	target := quoteIdent(db.Name)
	spec := charsetClause(db)
	// Whatever happens, leave no staging schema behind, even when ctx ends.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		cerr := m.exec(cctx, "SET SESSION foreign_key_checks = 0;\nDROP DATABASE IF EXISTS "+quoteIdent(stage)+
			";\nDROP DATABASE IF EXISTS "+quoteIdent(old)+";\n")
		if err == nil && cerr != nil {
			err = fmt.Errorf("drop staging schemas: %w", cerr)
		}
	}()
	if err := m.exec(ctx, "SET SESSION foreign_key_checks = 0;\nDROP DATABASE IF EXISTS "+quoteIdent(stage)+
		";\nDROP DATABASE IF EXISTS "+quoteIdent(old)+";\nCREATE DATABASE "+quoteIdent(stage)+spec+";\n"); err != nil {
		return fmt.Errorf("create staging schema %s: %w", stage, err)
	}
	if err := m.load(ctx, filepath.Join(dir, db.Name+dataSuffix), stage); err != nil {
		return fmt.Errorf("load %s into staging schema %s: %w", db.Name+dataSuffix, stage, err)
	}
	staged, err := m.objects(ctx, stage)
	if err != nil {
		return err
	}
	if err := m.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+target+spec+";\n"+
		alterCharset(target, spec)+"CREATE DATABASE "+quoteIdent(old)+";\n"); err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	live, err := m.objects(ctx, db.Name)
	if err != nil {
		return err
	}
	if err := m.exec(ctx, swapSQL(db.Name, stage, old, live, staged)); err != nil {
		return fmt.Errorf("swap in the staged tables: %w", err)
	}
	var drop strings.Builder
	for _, r := range live.routines {
		drop.WriteString("DROP " + r.kind + " IF EXISTS " + target + "." + quoteIdent(r.name) + ";\n")
	}
	for _, e := range live.events {
		drop.WriteString("DROP EVENT IF EXISTS " + target + "." + quoteIdent(e) + ";\n")
	}
	if drop.Len() > 0 {
		if err := m.exec(ctx, drop.String()); err != nil {
			return fmt.Errorf("drop previous routines and events: %w", err)
		}
	}
	if err := m.load(ctx, filepath.Join(dir, db.Name+programsSuffix), db.Name); err != nil {
		return fmt.Errorf("load %s: %w", db.Name+programsSuffix, err)
	}
	if len(db.Views) > 0 {
		if err := m.load(ctx, filepath.Join(dir, db.Name+viewsSuffix), db.Name); err != nil {
			return fmt.Errorf("load %s: %w", db.Name+viewsSuffix, err)
		}
	}
	return nil
}

// swapSQL drops the live triggers and views (RENAME TABLE cannot move them
// to another schema) and moves, in one RENAME TABLE, the live tables to old
// and the staged ones to the live database.
func swapSQL(db, stage, old string, live, staged schemaObjects) string {
	var b strings.Builder
	for _, t := range live.triggers {
		b.WriteString("DROP TRIGGER IF EXISTS " + quoteIdent(db) + "." + quoteIdent(t) + ";\n")
	}
	for _, v := range live.views {
		b.WriteString("DROP VIEW IF EXISTS " + quoteIdent(db) + "." + quoteIdent(v) + ";\n")
	}
	var moves []string
	for _, t := range live.tables {
		moves = append(moves, quoteIdent(db)+"."+quoteIdent(t)+" TO "+quoteIdent(old)+"."+quoteIdent(t))
	}
	for _, t := range staged.tables {
		moves = append(moves, quoteIdent(stage)+"."+quoteIdent(t)+" TO "+quoteIdent(db)+"."+quoteIdent(t))
	}
	if len(moves) > 0 {
		b.WriteString("RENAME TABLE " + strings.Join(moves, ",\n  ") + ";\n")
	}
	return b.String()
}

// load feeds a dump file to the client, in schema db.
func (m *MariaDB) load(ctx context.Context, path, db string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return m.runClient(ctx, f, io.Discard, "--batch", "--database="+db)
}

// schemaObjects are the objects of a schema, by kind, sorted by name.
type schemaObjects struct {
	tables   []string // base tables, sequences, system-versioned tables
	views    []string
	triggers []string
	routines []routine
	events   []string
}

type routine struct{ kind, name string } // kind: PROCEDURE or FUNCTION

func (m *MariaDB) objects(ctx context.Context, schema string) (schemaObjects, error) {
	s := quoteString(schema)
	rows, err := m.query(ctx, ""+
		"SELECT 'table', TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = "+s+" ORDER BY TABLE_NAME;\n"+
		"SELECT 'trigger', TRIGGER_NAME, '' FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = "+s+" ORDER BY TRIGGER_NAME;\n"+
		"SELECT 'routine', ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = "+s+" ORDER BY ROUTINE_NAME;\n"+
		"SELECT 'event', EVENT_NAME, '' FROM information_schema.EVENTS WHERE EVENT_SCHEMA = "+s+" ORDER BY EVENT_NAME;\n")
	if err != nil {
		return schemaObjects{}, fmt.Errorf("list objects of %s: %w", schema, err)
	}
	var o schemaObjects
	for _, r := range rows {
		if len(r) != 3 {
			return schemaObjects{}, fmt.Errorf("list objects of %s: unexpected row %q", schema, r)
		}
		switch r[0] {
		case "table":
			if r[2] == "VIEW" {
				o.views = append(o.views, r[1])
			} else {
				o.tables = append(o.tables, r[1])
			}
		case "trigger":
			o.triggers = append(o.triggers, r[1])
		case "routine":
			if r[2] == "PROCEDURE" || r[2] == "FUNCTION" {
				o.routines = append(o.routines, routine{r[2], r[1]})
			}
		case "event":
			o.events = append(o.events, r[1])
		}
	}
	return o, nil
}

func charsetClause(db dumpDB) string {
	var s string
	if db.Charset != "" {
		s += " CHARACTER SET " + db.Charset
	}
	if db.Collation != "" {
		s += " COLLATE " + db.Collation
	}
	return s
}

func alterCharset(target, spec string) string {
	if spec == "" {
		return ""
	}
	return "ALTER DATABASE " + target + spec + ";\n"
}

// readIndex reads and checks index.json.
func readIndex(dir string) (dumpIndex, error) {
	var idx dumpIndex
	data, err := readLimited(filepath.Join(dir, indexFile), maxIndexBytes)
	if err != nil {
		return idx, fmt.Errorf("%w: %w", ErrBadDump, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&idx); err != nil {
		return idx, fmt.Errorf("%w: %s: %w", ErrBadDump, indexFile, err)
	}
	if idx.Version != dumpVersion {
		return idx, fmt.Errorf("%w: %s: version %d, want %d", ErrBadDump, indexFile, idx.Version, dumpVersion)
	}
	seen := map[string]bool{}
	for _, db := range idx.Databases {
		if err := checkDatabase(db.Name); err != nil {
			return idx, fmt.Errorf("%w: %s: %w", ErrBadDump, indexFile, err)
		}
		if seen[db.Name] {
			return idx, fmt.Errorf("%w: %s: database %s twice", ErrBadDump, indexFile, db.Name)
		}
		seen[db.Name] = true
		for _, cs := range []string{db.Charset, db.Collation} {
			if cs != "" && !charsetRE.MatchString(cs) {
				return idx, fmt.Errorf("%w: %s: %w: character set or collation %q", ErrBadDump, indexFile, ErrInvalidName, cs)
			}
		}
	}
	for _, u := range idx.Users {
		if err := checkUser(u.User, u.Host); err != nil {
			return idx, fmt.Errorf("%w: %s: %w", ErrBadDump, indexFile, err)
		}
	}
	return idx, nil
}

// checkComplete checks that a dump file ends as mariadb-dump ends a dump
// it completed: a file cut short would otherwise load as a smaller database.
func checkComplete(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadDump, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadDump, err)
	}
	tail := make([]byte, min(st.Size(), 256))
	if _, err := f.ReadAt(tail, st.Size()-int64(len(tail))); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBadDump, filepath.Base(path), err)
	}
	lines := strings.Split(strings.TrimRight(string(tail), "\n"), "\n")
	if !strings.HasPrefix(lines[len(lines)-1], dumpCompleted) {
		return fmt.Errorf("%w: %s is incomplete (it does not end with %q)", ErrBadDump, filepath.Base(path), dumpCompleted)
	}
	return nil
}

// readUserStatements reads users.sql and checks that each line is one
// CREATE USER, GRANT or SET DEFAULT ROLE statement about a user listed in
// the index: the file comes from another machine and runs as root.
func readUserStatements(path string, users []dumpUser) ([]string, error) {
	data, err := readLimited(path, maxUsersBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDump, err)
	}
	var stmts []string
	for n, line := range strings.Split(string(data), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := checkUserStatement(line, users); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %w", ErrBadDump, usersFile, n+1, err)
		}
		stmts = append(stmts, line)
	}
	return stmts, nil
}

func checkUserStatement(s string, users []dumpUser) error {
	switch {
	case len(s) > maxUserStmtSize:
		return errors.New("statement too long")
	case strings.Count(s, ";") != 1 || !strings.HasSuffix(s, ";"):
		return errors.New("not one statement ended by ;")
	case strings.ContainsAny(s, "\r\x00"):
		return errors.New("control character in statement")
	}
	for _, u := range users {
		for _, acct := range []string{
			"`" + u.User + "`@`" + u.Host + "`",
			"'" + u.User + "'@'" + u.Host + "'",
		} {
			rest, ok := "", false
			switch {
			case strings.HasPrefix(s, "CREATE USER "+acct):
				rest, ok = s[len("CREATE USER "+acct):], true
			case strings.HasPrefix(s, "GRANT "):
				if i := strings.Index(s, " TO "+acct); i >= 0 {
					rest, ok = s[i+len(" TO "+acct):], true
				}
			case strings.HasPrefix(s, "SET DEFAULT ROLE "):
				rest, ok = ";", strings.HasSuffix(s, " FOR "+acct+";")
			}
			if ok && oneGrantee(rest) {
				return nil
			}
		}
	}
	return errors.New("not a CREATE USER, GRANT or SET DEFAULT ROLE of one user in " + indexFile)
}

// oneGrantee checks that what follows the account in a CREATE USER or
// GRANT names no other account: once quoted strings (password hashes) are
// taken out, no comma, quote or @ is left.
func oneGrantee(rest string) bool {
	if rest != ";" && !strings.HasPrefix(rest, " ") {
		return false
	}
	var b strings.Builder
	quoted := false
	for _, r := range rest {
		switch {
		case r == '\'':
			quoted = !quoted
		case !quoted:
			b.WriteRune(r)
		}
	}
	return !quoted && !strings.ContainsAny(b.String(), ",`@\"")
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), limit)
	}
	return data, nil
}
