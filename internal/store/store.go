// Package store keeps poolctl's state in SQL: SQLite (modernc.org/sqlite)
// by default and PostgreSQL (pgx) when given a postgres:// URL. One SQL text
// serves both dialects ($n placeholders, RETURNING, portable types); the
// schema is versioned with goose migrations embedded in the binary and run
// at start-up. Each resource has its own file.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/poolctl/poolctl/internal/apperr"
	"github.com/poolctl/poolctl/internal/redact"
)

// Dialect names the SQL database behind a Store.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is the SQL state of one poolctl installation. It is safe for
// concurrent use.
type Store struct {
	db      *sql.DB // reads
	w       *sql.DB // writes: the same handle on PostgreSQL, one connection on SQLite
	dialect Dialect
}

//go:embed migrations/*.sql
var migrations embed.FS

// Open connects to the database named by dsn and migrates it to the newest
// schema. A postgres:// or postgresql:// URL selects PostgreSQL; anything
// else is a SQLite file path (created if missing).
func Open(ctx context.Context, dsn string) (*Store, error) {
	var (
		db, w   *sql.DB
		dialect Dialect
		err     error
	)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		dialect = Postgres
		db, err = sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(32)
		db.SetMaxIdleConns(32)
		db.SetConnMaxIdleTime(5 * time.Minute)
	} else {
		if strings.Contains(dsn, "://") {
			// Not a file name: a mistyped URL, perhaps with a password.
			return nil, fmt.Errorf("database %s: want a postgres:// URL or a SQLite file path", redact.DSN(dsn))
		}
		dialect = SQLite
		if dir := filepath.Dir(dsn); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)", "synchronous(NORMAL)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		db, err = sql.Open("sqlite", "file:"+dsn+"?"+q.Encode())
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
		}
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		// SQLite has one writer at a time. Writers that contend for its
		// lock back off by sleeping, which wrecks throughput and latency;
		// queueing them for one connection in Go is fair and fast.
		w, err = sql.Open("sqlite", "file:"+dsn+"?"+q.Encode())
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", dsn, err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxIdleTime(0)
	}
	if w == nil {
		w = db
	}
	s := &Store{db: db, w: w, dialect: dialect}
	if err := s.ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) ping(ctx context.Context) error {
	var err error
	for i := 0; i < 5; i++ {
		if err = s.db.PingContext(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(i+1) * 200 * time.Millisecond):
		}
	}
	return fmt.Errorf("connect to %s database: %w", s.dialect, err)
}

// Dialect reports which database the store uses.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB exposes the handle for tests and benchmarks.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error {
	if s.w != s.db {
		s.w.Close()
	}
	return s.db.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	gd := goose.DialectSQLite3
	if s.dialect == Postgres {
		gd = goose.DialectPostgres
	}
	fsys, err := dialectFS(sub, s.dialect)
	if err != nil {
		return err
	}
	// Migrations made side by side may land out of their numbers' order
	// (00014 before 00013); each touches only its own tables and columns,
	// so a store that has the later one still takes the earlier.
	p, err := goose.NewProvider(gd, s.w, fsys, goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s schema: %w", s.dialect, err)
	}
	return nil
}

// SchemaVersion returns the newest applied migration.
func (s *Store) SchemaVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version WHERE is_applied`).Scan(&v)
	return v, err
}

// dialectFS returns the migrations with the portable placeholders
// rewritten for dialect d.
func dialectFS(src fs.FS, d Dialect) (fs.FS, error) {
	r := strings.NewReplacer(
		"{{ID}}", map[Dialect]string{SQLite: "INTEGER PRIMARY KEY AUTOINCREMENT", Postgres: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"}[d],
		"{{BLOB}}", map[Dialect]string{SQLite: "BLOB", Postgres: "BYTEA"}[d],
	)
	out := fstest.MapFS{}
	err := fs.WalkDir(src, ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(src, path)
		if err != nil {
			return err
		}
		out[path] = &fstest.MapFile{Data: []byte(r.Replace(string(b))), Mode: 0o444}
		return nil
	})
	return out, err
}

// tx runs fn in a transaction, committing when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// txRetry is tx for fn that may run again from the start: on PostgreSQL,
// a transaction chosen as a deadlock's victim (SQLSTATE 40P01) is retried
// twice, since nothing of it was written.
func (s *Store) txRetry(ctx context.Context, fn func(tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tx(ctx, fn)
		var pe *pgconn.PgError
		if attempt >= 3 || !errors.As(err, &pe) || pe.Code != "40P01" {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
		}
	}
}

// classify turns driver errors into apperr kinds: unique violations become
// Conflict, missing rows NotFound. what names the thing for the message.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.New(apperr.NotFound, "%s not found", what)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return apperr.New(apperr.Conflict, "%s already exists", what)
	}
	var se *sqlite.Error
	if errors.As(err, &se) && (se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) {
		return apperr.New(apperr.Conflict, "%s already exists", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }

func msPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func fromNullMs(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMs(v.Int64)
	return &t
}
