package accounts_test

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/accounts"
)

// fakeCPanel answers cPanel's commands with the recorded answers in
// testdata/cpanel, written from cPanel's API documentation: it is the only
// stand-in of these tests (there is no cPanel here; see
// accounts.CPanelVerified).
type fakeCPanel struct {
	t       *testing.T
	root    string
	answers map[string]string // command line (base name and arguments) -> answer
	calls   []string
	pkgacct func(dir string) // writes what pkgacct would
}

func (f *fakeCPanel) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if name != "getent" && !strings.HasPrefix(name, f.root+"/usr/local/cpanel/") {
		f.t.Errorf("command %s is not below the configured root %s", name, f.root)
	}
	line := strings.Join(append([]string{filepath.Base(name)}, args...), " ")
	f.calls = append(f.calls, line)
	if filepath.Base(name) == "pkgacct" && f.pkgacct != nil {
		f.pkgacct(args[len(args)-1])
		return []byte("pkgacct completed\n"), nil
	}
	answer, ok := f.answers[line]
	if !ok {
		return nil, fmt.Errorf("%s: exit status 1: unexpected command in test", line)
	}
	if strings.HasSuffix(answer, ".json") || strings.HasSuffix(answer, ".txt") {
		data, err := os.ReadFile(filepath.Join("testdata", "cpanel", answer))
		if err != nil {
			f.t.Fatal(err)
		}
		answer = strings.ReplaceAll(string(data), ":/home", ":"+f.root+"/home")
	}
	return []byte(answer), nil
}

func newFakeCPanel(t *testing.T) (*fakeCPanel, *accounts.CPanel) {
	root := t.TempDir()
	f := &fakeCPanel{t: t, root: root, answers: map[string]string{
		"whmapi1 --output=jsonpretty listaccts":                                                 "listaccts.json",
		"whmapi1 --output=jsonpretty listaccts search=alice searchtype=user searchmethod=exact": "listaccts.json",
		"getent passwd":       "passwd.txt",
		"getent passwd alice": "passwd.txt",
		"uapi --output=jsonpretty --user=alice DomainInfo list_domains":                           "list_domains_alice.json",
		"uapi --output=jsonpretty --user=alice Mysql list_databases":                              "list_databases_alice.json",
		"uapi --output=jsonpretty --user=alice Mysql list_users":                                  "list_users_alice.json",
		"uapi --output=jsonpretty --user=bob DomainInfo list_domains":                             "list_domains_bob.json",
		"uapi --output=jsonpretty --user=bob Mysql list_databases":                                "empty_list.json",
		"uapi --output=jsonpretty --user=bob Mysql list_users":                                    "empty_list.json",
		"restorepkg --force " + filepath.Join(root, "dump", "cpmove-alice.tar"):                   "Account Restore Complete\n",
		"whmapi1 --output=jsonpretty listaccts search=nobody searchtype=user searchmethod=exact":  `{"data":{"acct":[]},"metadata":{"command":"listaccts","reason":"OK","result":1,"version":1}}`,
		"whmapi1 --output=jsonpretty listaccts search=denied searchtype=user searchmethod=exact":  "listaccts_denied.json",
		"whmapi1 --output=jsonpretty listaccts search=garbled searchtype=user searchmethod=exact": "<html>500 Internal Server Error</html>",
	}}
	p, err := accounts.NewCPanel(accounts.CPanelConfig{Root: root, Run: f.run})
	if err != nil {
		t.Fatal(err)
	}
	return f, p
}

func TestCPanelList(t *testing.T) {
	ctx := context.Background()
	f, p := newFakeCPanel(t)
	tree(t, f.root, maildir("home/alice/mail/example.com/info"))
	tree(t, f.root, map[string]string{"home/alice/public_html/index.php": "<?php echo 1;"})

	accts, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(accts) != 2 {
		t.Fatalf("List = %d accounts, want 2: %+v", len(accts), accts)
	}
	wantAlice := api.Account{
		Name:      "alice",
		Provider:  api.ProviderCPanel,
		Home:      filepath.Join(f.root, "home/alice"),
		UID:       1001,
		GID:       1001,
		Domains:   []string{"alice-shop.example", "blog.example.com", "example.com", "example.org"},
		Databases: []string{"alice_shop", "alice_wp"},
		DBUsers:   []string{"alice_wp"},
		Mailboxes: 1,
		DiskBytes: int64(len("<?php echo 1;")),
	}
	if !equalAccount(accts[0], wantAlice) {
		t.Errorf("alice = %+v\nwant %+v", accts[0], wantAlice)
	}
	wantBob := api.Account{
		Name: "bob", Provider: api.ProviderCPanel, Home: filepath.Join(f.root, "home2/bob"), UID: 1002, GID: 1003,
		Domains: []string{"bob.example.net"}, Databases: []string{}, DBUsers: []string{},
	}
	if !equalAccount(accts[1], wantBob) {
		t.Errorf("bob = %+v\nwant %+v", accts[1], wantBob)
	}

	got, err := p.Get(ctx, "alice")
	if err != nil || !equalAccount(got, wantAlice) {
		t.Errorf("Get(alice) = %+v, %v", got, err)
	}
	if h := p.Home("alice"); h != filepath.Join(f.root, "home/alice") {
		t.Errorf("Home(alice) = %q", h)
	}
	if h := p.Home("carol"); h != "/home/carol" {
		t.Errorf("Home(carol) = %q, want /home/carol", h)
	}
}

func TestCPanelErrors(t *testing.T) {
	ctx := context.Background()
	f, p := newFakeCPanel(t)
	for _, tc := range []struct {
		name    string
		want    error
		message string
	}{
		{"nobody", accounts.ErrNoAccount, "no such account"},
		{"denied", accounts.ErrCPanelAPI, "whmapi1 listaccts: cPanel API error: Permission denied"},
		{"garbled", accounts.ErrCPanelAPI, "unreadable answer"},
		{"../x", accounts.ErrInvalidName, "invalid name"},
	} {
		_, err := p.Get(ctx, tc.name)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
			t.Errorf("Get(%q) = %v, want %v mentioning %q", tc.name, err, tc.want, tc.message)
		}
	}
	f.answers["uapi --output=jsonpretty --user=bob Mysql list_databases"] = "uapi_error.json"
	_, err := p.List(ctx)
	if !errors.Is(err, accounts.ErrCPanelAPI) || !strings.Contains(err.Error(), "role is not enabled") ||
		!strings.Contains(err.Error(), "uapi Mysql list_databases for bob") {
		t.Errorf("List with a failing uapi = %v, want ErrCPanelAPI naming the call and its error", err)
	}
}

func TestCPanelDumpRestore(t *testing.T) {
	ctx := context.Background()
	f, p := newFakeCPanel(t)
	grants, err := os.ReadFile("testdata/cpanel/mysql.sql")
	if err != nil {
		t.Fatal(err)
	}
	f.pkgacct = func(dir string) {
		file, err := os.Create(filepath.Join(dir, "cpmove-alice.tar"))
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		tw := tar.NewWriter(file)
		for _, e := range []struct{ name, body string }{
			{"cpmove-alice/cp/alice", "USER=alice\n"},
			{"cpmove-alice/mysql.sql", string(grants)},
			{"cpmove-alice/mysql/alice_wp.create", "CREATE DATABASE `alice_wp`;\n"},
			{"cpmove-alice/mysql/alice_wp.sql", "-- MySQL dump\n"},
			{"cpmove-alice/mysql/alice_shop.sql", "-- MySQL dump\n"},
		} {
			if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o600, Size: int64(len(e.body)), Typeflag: tar.TypeReg}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(f.root, "dump")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	acct := api.Account{Name: "alice"}
	dbs, users, err := p.DumpDatabases(ctx, acct, dir, nil)
	if err != nil || dbs != 2 || users != 2 {
		t.Fatalf("DumpDatabases = %d, %d, %v; want 2 databases, 2 users", dbs, users, err)
	}
	dbs, users, err = p.RestoreDatabases(ctx, acct, dir, nil)
	if err != nil || dbs != 2 || users != 2 {
		t.Fatalf("RestoreDatabases = %d, %d, %v; want 2 databases, 2 users", dbs, users, err)
	}
	want := []string{
		"pkgacct --skiphomedir --nocompress alice " + dir,
		"restorepkg --force " + filepath.Join(dir, "cpmove-alice.tar"),
	}
	if !slices.Equal(f.calls, want) {
		t.Errorf("commands = %q, want %q", f.calls, want)
	}
	if _, _, err := p.RestoreDatabases(ctx, acct, t.TempDir(), nil); !errors.Is(err, accounts.ErrBadDump) {
		t.Errorf("RestoreDatabases without an archive = %v, want ErrBadDump", err)
	}
}
