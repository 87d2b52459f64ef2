package accounts_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/accounts"
)

// tree writes files below root: a path ending in / is a directory, "->"
// makes a symbolic link, anything else a file with that content.
func tree(t *testing.T, root string, entries map[string]string) {
	t.Helper()
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for k := range entries {
			if !yield(k) {
				return
			}
		}
	}) {
		full := filepath.Join(root, p)
		content := entries[p]
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(p, "/"):
			err = os.MkdirAll(full, 0o755)
		case strings.HasPrefix(content, "->"):
			err = os.Symlink(strings.TrimPrefix(content, "->"), full)
		default:
			err = os.WriteFile(full, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func maildir(prefix string) map[string]string {
	return map[string]string{prefix + "/cur/": "", prefix + "/new/": "", prefix + "/tmp/": ""}
}

func TestLinuxListGet(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	aliceManifest := `{"domains": ["Example.COM", "www.example.com", "example.com."]}`
	files := map[string]string{
		"alice/.poolctl-account.json":     aliceManifest,
		"alice/public_html/index.html":    strings.Repeat("x", 100),
		"alice/data/big.bin":              strings.Repeat("y", 5000),
		"alice/data/passwd":               "->/etc/passwd", // a link: not followed, not counted
		"alice/data/loop":                 "->..",
		"alice/Maildir/.notabox/cur/":     "", // no new, no tmp: not a folder
		"alice/Maildir/cur/1.eml":         "hello",
		"bob/.poolctl-account.json":       `{"domains": [], "db_prefix": "bobby_"}`,
		"nomanifest/index.html":           "not an account",
		"Bad_Name/.poolctl-account.json":  `{"domains": []}`,
		"broken/.poolctl-account.json":    `{"domains": [`,
		"typo/.poolctl-account.json":      `{"domain": ["example.org"]}`,
		"baddomain/.poolctl-account.json": `{"domains": ["not a domain"]}`,
		"badprefix/.poolctl-account.json": `{"domains": [], "db_prefix": "x'; DROP"}`,
		"file.txt":                        "a file, not a directory",
	}
	for _, box := range []string{"alice/Maildir", "alice/Maildir/.Sent", "alice/Maildir/.Drafts",
		"alice/mail/example.com/info", "alice/mail/example.com/info/.Trash", "alice/mail/example.org/sales"} {
		for k, v := range maildir(box) {
			files[k] = v
		}
	}
	tree(t, root, files)
	if err := os.Chown(filepath.Join(root, "alice"), 1234, 2345); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	p, err := accounts.NewLinux(accounts.LinuxConfig{
		Root:    root,
		MariaDB: accounts.MariaDBConfig{Host: "127.0.0.1", Port: 1, User: "root"}, // nothing listens
		Logger:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}

	accts, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range accts {
		names = append(names, a.Name)
	}
	if want := []string{"alice", "bob"}; !slices.Equal(names, want) {
		t.Fatalf("List names = %q, want %q", names, want)
	}
	alice := accts[0]
	want := api.Account{
		Name:      "alice",
		Provider:  api.ProviderLinux,
		Home:      filepath.Join(root, "alice"),
		UID:       1234,
		GID:       2345,
		Domains:   []string{"example.com", "www.example.com"},
		Databases: []string{},
		DBUsers:   []string{},
		Mailboxes: 6, // Maildir, .Sent, .Drafts; info, info/.Trash; sales
		DiskBytes: int64(len(aliceManifest) + 100 + 5000 + len("hello")),
	}
	if got := alice; !equalAccount(got, want) {
		t.Errorf("List alice = %+v\nwant %+v", got, want)
	}
	for _, bad := range []string{"broken", "typo", "baddomain", "badprefix"} {
		if !strings.Contains(logs.String(), "account="+bad) {
			t.Errorf("no warning about %s in the log:\n%s", bad, logs.String())
		}
	}
	if strings.Contains(logs.String(), "nomanifest") {
		t.Errorf("a directory without a manifest was logged:\n%s", logs.String())
	}

	got, err := p.Get(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want.DiskBytes = 0 // Get does not walk the tree
	if !equalAccount(got, want) {
		t.Errorf("Get alice = %+v\nwant %+v", got, want)
	}
	for _, tc := range []struct {
		name    string
		want    error
		message string
	}{
		{"nomanifest", accounts.ErrNoAccount, "no .poolctl-account.json"},
		{"missing", accounts.ErrNoAccount, "no .poolctl-account.json"},
		{"../etc", accounts.ErrInvalidName, "invalid name"},
		{"Bad_Name", accounts.ErrInvalidName, "invalid name"},
		{"broken", accounts.ErrBadManifest, "unexpected EOF"},
		{"typo", accounts.ErrBadManifest, `unknown field "domain"`},
		{"baddomain", accounts.ErrBadManifest, `domain "not a domain"`},
		{"badprefix", accounts.ErrBadManifest, "db_prefix"},
	} {
		_, err := p.Get(ctx, tc.name)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
			t.Errorf("Get(%q) = %v, want %v mentioning %q", tc.name, err, tc.want, tc.message)
		}
	}
	if h := p.Home("carol"); h != filepath.Join(root, "carol") {
		t.Errorf("Home(carol) = %q", h)
	}
}

func TestLinuxPrepare(t *testing.T) {
	root := filepath.Join(t.TempDir(), "srv", "home")
	p, err := accounts.NewLinux(accounts.LinuxConfig{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Prepare(context.Background(), api.Account{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(root); err != nil || !st.IsDir() {
		t.Errorf("root after Prepare: %v", err)
	}
	if _, err := accounts.NewLinux(accounts.LinuxConfig{Root: "relative"}); err == nil {
		t.Error("NewLinux accepted a relative root")
	}
}

func TestDetect(t *testing.T) {
	root := t.TempDir()
	p, err := accounts.Detect(accounts.Config{Root: root, Linux: accounts.LinuxConfig{Root: root}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != api.ProviderLinux {
		t.Errorf("Detect without cPanel = %s, want linux", p.Name())
	}
	tree(t, root, map[string]string{"usr/local/cpanel/cpanel": "#!/bin/sh\n"})
	p, err = accounts.Detect(accounts.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != api.ProviderCPanel {
		t.Errorf("Detect with %s = %s, want cpanel", "usr/local/cpanel/cpanel", p.Name())
	}
}

func equalAccount(a, b api.Account) bool {
	return a.Name == b.Name && a.Provider == b.Provider && a.Home == b.Home && a.UID == b.UID && a.GID == b.GID &&
		slices.Equal(a.Domains, b.Domains) && slices.Equal(a.Databases, b.Databases) && slices.Equal(a.DBUsers, b.DBUsers) &&
		(a.Databases == nil) == (b.Databases == nil) && a.Mailboxes == b.Mailboxes && a.DiskBytes == b.DiskBytes
}
