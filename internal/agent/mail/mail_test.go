package mail

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// notRunning is a Run for a member whose mail servers are stopped: every
// command fails.
func notRunning(ctx context.Context, name string, args ...string) ([]byte, error) {
	return nil, errors.New("not running")
}

func filesOnly(t *testing.T) *Mail {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "mail")
	if err := os.Mkdir(root, 0o711); err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{MailRoot: root, PostfixDir: filepath.Join(dir, "etc"), DovecotConf: filepath.Join(dir, "dovecot.conf"), Run: notRunning})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestImportExportFiles(t *testing.T) {
	ctx := context.Background()
	m := filesOnly(t)
	a := testAccount()
	a.Domains = append(a.Domains, "example.org")
	a.Users = append(a.Users, User{Name: "bob@example.org", PasswordHash: "{SHA512-CRYPT}$6$salt$abc", QuotaBytes: 1 << 30})
	a.Forwarders = append(a.Forwarders, Forwarder{From: "@example.org", To: "Someone.Else@Remote.test"}, Forwarder{From: "sales@example.test", To: "bob@example.org"})
	if err := m.Import(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := m.Export(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if !sameAccount(got, a) {
		t.Fatalf("export:\n got %+v\nwant %+v", got, a)
	}
	passwd, _ := os.ReadFile(filepath.Join(m.cfg.MailRoot, "example.org", "passwd"))
	if want := "bob@example.org:{SHA512-CRYPT}$6$salt$abc::::::userdb_quota_rule=*:storage=1073741824B\n"; string(passwd) != want {
		t.Errorf("passwd-file:\n got %q\nwant %q", passwd, want)
	}
	aliases, _ := os.ReadFile(filepath.Join(m.cfg.MailRoot, "postfix", "aliases"))
	if want := "@example.org Someone.Else@Remote.test\nsales@example.test alice@example.test, bob@example.org\n"; string(aliases) != want {
		t.Errorf("virtual alias map:\n got %q\nwant %q", aliases, want)
	}
	boxes, _ := os.ReadFile(filepath.Join(m.cfg.MailRoot, "postfix", "mailboxes"))
	if !strings.Contains(string(boxes), "alice@example.test example.test/alice/Maildir/\n") {
		t.Errorf("virtual mailbox map:\n%s", boxes)
	}
	if fi, err := os.Stat(filepath.Join(m.Maildir("bob@example.org"), "new")); err != nil || !fi.IsDir() {
		t.Errorf("bob's Maildir: %v", err)
	}

	// Drop a domain, a user and a filter: Import makes the account exactly a.
	a.Domains = a.Domains[:1]
	a.Users = a.Users[:1]
	a.Forwarders = a.Forwarders[:1]
	a.Filters = nil
	if err := m.Import(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got, err = m.Export(ctx, "alice"); err != nil || !sameAccount(got, AccountMail{Account: "alice", Domains: a.Domains, Users: a.Users, Forwarders: a.Forwarders}) {
		t.Fatalf("export after shrinking: %+v, %v", got, err)
	}
	if _, err := os.Lstat(filepath.Join(m.cfg.MailRoot, "example.test", "alice", ".dovecot.sieve")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the removed filter is still active: %v", err)
	}
	if _, err := os.Stat(m.Maildir("bob@example.org")); err != nil {
		t.Errorf("Import deleted a Maildir of a dropped domain: %v", err)
	}

	// Another account cannot take the domain.
	other := AccountMail{Account: "mallory", Domains: []string{"example.test"}}
	if err := m.Import(ctx, other); !errors.Is(err, ErrDomainTaken) {
		t.Fatalf("import of a taken domain: %v, want ErrDomainTaken", err)
	}
	if err := m.Remove(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, "alice"); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := m.Export(ctx, "alice"); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("export after remove: %v", err)
	}
	if err := m.Import(ctx, other); err != nil {
		t.Fatalf("the domain is free after remove: %v", err)
	}
}

func TestImportValidation(t *testing.T) {
	m := filesOnly(t)
	hash := ssha512("x")
	base := func() AccountMail {
		return AccountMail{Account: "acct", Domains: []string{"example.test"}, Users: []User{{Name: "u@example.test", PasswordHash: hash}}}
	}
	cases := []struct {
		name   string
		change func(*AccountMail)
		want   error
	}{
		{"account with a slash", func(a *AccountMail) { a.Account = "../etc" }, ErrInvalid},
		{"uppercase domain", func(a *AccountMail) { a.Domains = []string{"Example.test"} }, ErrInvalid},
		{"single-label domain", func(a *AccountMail) { a.Domains = []string{"localhost"} }, ErrInvalid},
		{"user in another domain", func(a *AccountMail) { a.Users[0].Name = "u@other.test" }, ErrInvalid},
		{"colon in user", func(a *AccountMail) { a.Users[0].Name = "u:0:0@example.test" }, ErrInvalid},
		{"newline in user", func(a *AccountMail) { a.Users[0].Name = "u@example.test\nroot@example.test" }, ErrInvalid},
		{"colon in hash", func(a *AccountMail) { a.Users[0].PasswordHash = "{SHA256}ab:cd" }, ErrInvalid},
		{"newline in hash", func(a *AccountMail) { a.Users[0].PasswordHash = "{SHA256}ab\nx@example.test:{PLAIN}x" }, ErrInvalid},
		{"hash without scheme", func(a *AccountMail) { a.Users[0].PasswordHash = "$6$salt$abc" }, ErrInvalid},
		{"clear-text password", func(a *AccountMail) { a.Users[0].PasswordHash = "{PLAIN}secret" }, ErrInvalid},
		{"negative quota", func(a *AccountMail) { a.Users[0].QuotaBytes = -1 }, ErrInvalid},
		{"duplicate user", func(a *AccountMail) { a.Users = append(a.Users, a.Users[0]) }, ErrInvalid},
		{"pipe forwarder", func(a *AccountMail) {
			a.Forwarders = []Forwarder{{From: "u@example.test", To: "|/usr/bin/procmail"}}
		}, ErrPipeForwarder},
		{"forwarder to two targets in one", func(a *AccountMail) {
			a.Forwarders = []Forwarder{{From: "u@example.test", To: "a@x.test, b@y.test"}}
		}, ErrInvalid},
		{"forwarder from a foreign domain", func(a *AccountMail) {
			a.Forwarders = []Forwarder{{From: "u@other.test", To: "a@x.test"}}
		}, ErrInvalid},
		{"filter for a stranger", func(a *AccountMail) { a.Filters = map[string]string{"v@example.test": "keep;"} }, ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := base()
			c.change(&a)
			if err := m.Import(context.Background(), a); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	if ents, _ := os.ReadDir(m.cfg.MailRoot); len(ents) != 0 {
		t.Errorf("refused imports left files: %v", ents)
	}
}

func TestPipeForwarders(t *testing.T) {
	a := AccountMail{Forwarders: []Forwarder{
		{From: "a@example.test", To: "b@example.test"},
		{From: "c@example.test", To: "|/usr/local/bin/ticket"},
		{From: "d@example.test", To: " |cat"},
	}}
	got := PipeForwarders(a)
	if len(got) != 2 || got[0].From != "c@example.test" || got[1].From != "d@example.test" {
		t.Fatalf("got %v, want the forwarders of c@ and d@", got)
	}
}

func TestRenderProxy(t *testing.T) {
	users := []ProxyUser{
		{Name: "b@example.test", Host: "10.0.0.2"},
		{Name: "a@example.test", Host: "child.example.net", Port: 10143, POP3Port: 10110},
		{Name: "c@example.test", Host: "10.0.0.3", Port: 993, POP3Port: 993},
	}
	want := "# Generated by poolctl: IMAP/POP3 logins proxied to linked children. Do not edit.\n" +
		"a@example.test:::::::proxy=y host=child.example.net port=%{if;%{service};eq;pop3;10110;10143} nopassword=y\n" +
		"b@example.test:::::::proxy=y host=10.0.0.2 nopassword=y\n" +
		"c@example.test:::::::proxy=y host=10.0.0.3 port=993 nopassword=y\n"
	if got := string(renderPassdb(users)); got != want {
		t.Errorf("passdb:\n got %q\nwant %q", got, want)
	}
	routes := []Route{{"b.test", "10.0.0.2"}, {"a.test", "[10.0.0.2]:2525"}, {"c.test", "smtp:[child.example.net]:25"}, {"d.test", "child.example.net:26"}}
	wantT := "# Generated by poolctl: mail for domains on linked children. Do not edit.\n" +
		"a.test smtp:[10.0.0.2]:2525\nb.test smtp:[10.0.0.2]:25\nc.test smtp:[child.example.net]:25\nd.test smtp:[child.example.net]:26\n"
	if got := string(renderTransport(transportEntries(routes))); got != wantT {
		t.Errorf("transport:\n got %q\nwant %q", got, wantT)
	}
}

func TestValidateProxy(t *testing.T) {
	cases := []struct {
		name string
		p    Proxy
	}{
		{"injected line", Proxy{Users: []ProxyUser{{Name: "a@example.test\nb@example.test", Host: "10.0.0.1"}}}},
		{"host with space", Proxy{Users: []ProxyUser{{Name: "a@example.test", Host: "10.0.0.1 nopassword=y"}}}},
		{"host with colon field", Proxy{Users: []ProxyUser{{Name: "a@example.test", Host: "h:x"}}}},
		{"no host", Proxy{Users: []ProxyUser{{Name: "a@example.test"}}}},
		{"port too big", Proxy{Users: []ProxyUser{{Name: "a@example.test", Host: "h.test", Port: 70000}}}},
		{"duplicate user", Proxy{Users: []ProxyUser{{Name: "a@example.test", Host: "h.test"}, {Name: "a@example.test", Host: "g.test"}}}},
		{"route with newline", Proxy{Routes: []Route{{Domain: "a.test\nb.test", NextHop: "h.test"}}}},
		{"next hop with space", Proxy{Routes: []Route{{Domain: "a.test", NextHop: "smtp:[h.test]:25 x"}}}},
		{"next hop unclosed", Proxy{Routes: []Route{{Domain: "a.test", NextHop: "smtp:[h.test:25"}}}},
		{"next hop other transport", Proxy{Routes: []Route{{Domain: "a.test", NextHop: "local:"}}}},
		{"duplicate route", Proxy{Routes: []Route{{"a.test", "h.test"}, {"a.test", "g.test"}}}},
	}
	for _, c := range cases {
		if err := validateProxy(c.p); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", c.name, err)
		}
	}
	if err := validateProxy(Proxy{Users: []ProxyUser{{Name: "a@example.test", Host: "::1", Port: 143}}, Routes: []Route{{"a.test", "smtp:[::1]:25"}}}); err != nil {
		t.Errorf("a valid proxy: %v", err)
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{"100B": 100, "1k": 1024, "2M": 2 << 20, "3G": 3 << 30, "5": 5 * 1024} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	u, err := parsePasswdLine("a@example.test:{SSHA512}x::::::userdb_quota_rule=*:storage=10M userdb_other=1")
	if err != nil || u.QuotaBytes != 10<<20 || u.PasswordHash != "{SSHA512}x" {
		t.Errorf("parsePasswdLine: %+v, %v", u, err)
	}
	out := "passdb: a@example.test\n  user      : a@example.test\n  proxy     : y\n  host      : 10.0.0.1\n\npassdb: b@example.test\n  user      : b@example.test\n"
	got := parseLookups(out)
	if got["a@example.test"]["host"] != "10.0.0.1" || got["b@example.test"]["proxy"] != "" || len(got) != 2 {
		t.Errorf("parseLookups: %v", got)
	}
}

func TestNew(t *testing.T) {
	for _, bad := range []Config{{MailRoot: "relative/mail"}, {DovecotConf: "/etc/dovecot/dovecot.conf\n"}, {ProxyPassdb: "/a b"}, {ProxyPassdb: "/p"}, {TransportMap: "/t"}} {
		if _, err := New(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("New(%+v): %v, want ErrInvalid", bad, err)
		}
	}
	m, err := New(Config{MailRoot: "/var/mail/poolctl"})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Maildir("alice@example.test"); got != "/var/mail/poolctl/example.test/alice/Maildir" {
		t.Errorf("Maildir = %q", got)
	}
	if d, p := filesOnly(t).Services(context.Background()); d || p {
		t.Errorf("Services with nothing running = %v, %v", d, p)
	}
	if got := m.Maildir("../../etc@x"); got != "" {
		t.Errorf("Maildir of a bad name = %q, want empty", got)
	}
}
