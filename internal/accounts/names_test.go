package accounts

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseBatch(t *testing.T) {
	out := "a\\tb\tc\\nd\te\\\\f\n\tNULL\tx\\0y\n"
	got := parseBatch(out)
	want := [][]string{{"a\tb", "c\nd", `e\f`}, {"", "NULL", "x\x00y"}}
	if len(got) != len(want) {
		t.Fatalf("parseBatch = %q, want %q", got, want)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("row %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestOptionValue(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        `"plain"`,
		`p"a#s\s w'd;`: `"p\"a#s\\s w'd;"`,
		"new\nline":    `"new\nline"`,
	} {
		if got := optionValue(in); got != want {
			t.Errorf("optionValue(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestOptionFile(t *testing.T) {
	m := NewMariaDB(MariaDBConfig{})
	if f, err := m.optionFile(); err != nil || f != "" {
		t.Errorf("optionFile without settings = %q, %v; want none", f, err)
	}
	m = NewMariaDB(MariaDBConfig{Host: "db.example", Port: 3307, User: "backup", Password: `s"ecret`})
	f, err := m.optionFile()
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f)
	st, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("option file mode %v, want 0600", st.Mode().Perm())
	}
	data, _ := os.ReadFile(f)
	want := "[client]\nhost=\"db.example\"\nuser=\"backup\"\npassword=\"s\\\"ecret\"\nport=3307\n"
	if string(data) != want {
		t.Errorf("option file:\n%s\nwant:\n%s", data, want)
	}
}

func TestNames(t *testing.T) {
	stage, old := StagingSchemas(strings.Repeat("x", 64))
	if len(stage) > 64 || len(old) > 64 || !stagingRE.MatchString(stage) || !stagingRE.MatchString(old) {
		t.Errorf("StagingSchemas = %q, %q", stage, old)
	}
	if s2, _ := StagingSchemas("other"); s2 == stage {
		t.Error("two databases share a staging schema")
	}
	for _, db := range []string{"alice_wp", "a-b", "$x", strings.Repeat("d", 64)} {
		if err := checkDatabase(db); err != nil {
			t.Errorf("checkDatabase(%q) = %v", db, err)
		}
	}
	for _, db := range []string{"", "a.b", "a`b", "a b", "../x", strings.Repeat("d", 65), "mysql", "SYS", "information_schema", stage, old} {
		if err := checkDatabase(db); !errors.Is(err, ErrInvalidName) {
			t.Errorf("checkDatabase(%q) = %v, want ErrInvalidName", db, err)
		}
	}
	for _, u := range []string{"alice_wp@localhost", "a@b@%", "x@10.0.0.%"} {
		if _, _, err := splitUser(u); err != nil {
			t.Errorf("splitUser(%q) = %v", u, err)
		}
	}
	for _, u := range []string{"nohost", "@h", "u@", "a'b@h", "a@h\\", "a@h`", strings.Repeat("u", 81) + "@h", "u@" + strings.Repeat("h", 256)} {
		if _, _, err := splitUser(u); !errors.Is(err, ErrInvalidName) {
			t.Errorf("splitUser(%q) = %v, want ErrInvalidName", u, err)
		}
	}
	if got := likePrefix(`a_b%\`); got != `a\_b\%\\%` {
		t.Errorf("likePrefix = %s", got)
	}
	if got := quoteIdent("a`b"); got != "`a``b`" {
		t.Errorf("quoteIdent = %s", got)
	}
	if got := quoteString(`it's \ fine`); got != `'it''s \\ fine'` {
		t.Errorf("quoteString = %s", got)
	}
}

func TestCheckUserStatement(t *testing.T) {
	users := []dumpUser{{"alice_app", "localhost"}, {"alice_ro", "%"}}
	for _, s := range []string{
		"CREATE USER `alice_app`@`localhost` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19';",
		"CREATE USER `alice_ro`@`%`;",
		"GRANT USAGE ON *.* TO `alice_app`@`localhost` IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19';",
		"GRANT ALL PRIVILEGES ON `alice\\_wp`.* TO `alice_app`@`localhost` WITH GRANT OPTION;",
		"GRANT SELECT ON `alice_blog`.`posts` TO 'alice_ro'@'%';",
		"SET DEFAULT ROLE `reader` FOR `alice_ro`@`%`;",
	} {
		if err := checkUserStatement(s, users); err != nil {
			t.Errorf("refused %s: %v", s, err)
		}
	}
	for _, s := range []string{
		"GRANT ALL ON *.* TO `alice_app`@`localhost`, `evil`@`%`;",
		"GRANT ALL ON *.* TO `alice_app`@`localhost` IDENTIFIED BY 'x', evil;",
		"GRANT ALL ON *.* TO `evil`@`%`;",
		"CREATE USER `alice_app`@`localhost`, `evil`@`%`;",
		"CREATE USER `alice_app`@`localhostx`;",
		"CREATE USER `alice_app`@`localhost`; DROP DATABASE x;",
		"CREATE USER `alice_app`@`localhost`",
		"DROP USER `alice_app`@`localhost`;",
		"SET PASSWORD FOR `alice_app`@`localhost` = 'x';",
	} {
		if err := checkUserStatement(s, users); err == nil {
			t.Errorf("accepted %s", s)
		}
	}
}

func TestCheckComplete(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"ok.sql":        "SELECT 1;\n-- Dump completed\n",
		"dated.sql":     "SELECT 1;\n-- Dump completed on 2026-01-01 10:00:00\n",
		"cut.sql":       "INSERT INTO t VALUES (1,",
		"empty.sql":     "",
		"trailing.sql":  "-- Dump completed\nINSERT INTO t VALUES (1);\n",
		"blank-end.sql": "SELECT 1;\n-- Dump completed\n\n\n",
	} {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)
	}
	for name, ok := range map[string]bool{"ok.sql": true, "dated.sql": true, "blank-end.sql": true, "cut.sql": false, "empty.sql": false, "trailing.sql": false, "missing.sql": false} {
		err := checkComplete(filepath.Join(dir, name))
		if ok != (err == nil) || err != nil && !errors.Is(err, ErrBadDump) {
			t.Errorf("checkComplete(%s) = %v", name, err)
		}
	}
}

func TestNormalizeDomain(t *testing.T) {
	for in, want := range map[string]string{"Example.COM.": "example.com", " xn--bcher-kva.example ": "xn--bcher-kva.example", "a-b.c0": "a-b.c0"} {
		if got, err := normalizeDomain(in); err != nil || got != want {
			t.Errorf("normalizeDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "localhost", "*.example.com", "-a.example", "a..b", "a b.c", "ex_ample.com", strings.Repeat("a", 64) + ".com"} {
		if _, err := normalizeDomain(in); err == nil {
			t.Errorf("normalizeDomain(%q) accepted", in)
		}
	}
}
