package mail

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// member is one mail member in a test: its Mail and its running servers.
type member struct {
	m       *Mail
	root    string
	dovecot *dovecotPeer
	postfix *postfixPeer
}

// startMember starts Dovecot and Postfix for a member named name in dir,
// configured from the Mail's own DovecotConfig and PostfixSettings. A
// parent gets a proxy passdb and a transport map.
func startMember(t testing.TB, dir, name string, parent bool, run func(context.Context, string, ...string) ([]byte, error), dovecotExtra string) *member {
	t.Helper()
	base := filepath.Join(dir, name)
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		DovecotConf: filepath.Join(base, "dovecot.conf"),
		PostfixDir:  filepath.Join(base, "etc"),
		MailRoot:    mailRoot(t, base),
		Run:         run,
	}
	if parent {
		cfg.ProxyPassdb = filepath.Join(base, "proxy-passdb")
		cfg.TransportMap = filepath.Join(base, "transport")
		for _, f := range []string{cfg.ProxyPassdb, cfg.TransportMap} {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The maps Postfix reads must exist before it starts.
	if err := m.writeMaps(testContext(t), map[string][]string{}, -1); err != nil {
		t.Fatal(err)
	}
	settings, err := m.PostfixSettings()
	if err != nil {
		t.Fatal(err)
	}
	mb := &member{m: m, root: cfg.MailRoot}
	mb.postfix = startPostfix(t, base, settings)
	mb.dovecot = startDovecot(t, base, m, dovecotExtra)
	return mb
}

func dovecotIDs(t testing.TB) (uid, gid int) {
	u, err := user.Lookup("dovecot")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}

const alicePass = "s3cret-Pa55"

func testAccount() AccountMail {
	return AccountMail{
		Account: "alice",
		Domains: []string{"example.test"},
		Users: []User{
			{Name: "alice@example.test", PasswordHash: ssha512(alicePass), QuotaBytes: 50 << 20},
			{Name: "info@example.test", PasswordHash: ssha512("other-pass")},
		},
		Forwarders: []Forwarder{{From: "sales@example.test", To: "alice@example.test"}},
		Filters:    map[string]string{"alice@example.test": "require \"fileinto\";\nif header :contains \"subject\" \"[list]\" { fileinto \"Lists\"; }\n"},
	}
}

// sendMail sends one message by SMTP to addr for rcpt.
func sendMail(addr, rcpt, subject string) error {
	msg := "From: bob@elsewhere.test\r\nTo: " + rcpt + "\r\nSubject: " + subject + "\r\n\r\nbody of " + subject + "\r\n"
	return smtp.SendMail(addr, nil, "bob@elsewhere.test", []string{rcpt}, []byte(msg))
}

// waitCount polls until the Maildir holds want messages, for at most 30 s.
func waitCount(t testing.TB, maildir string, want int) {
	t.Helper()
	for range 300 {
		if countMaildir(maildir) >= want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s holds %d messages, want %d", maildir, countMaildir(maildir), want)
}

// TestLinkedMail moves an account's mail from a parent to a linked child
// the way distribution does (Export, Import, copy the Maildir, ApplyProxy,
// Remove) and checks every path through the real servers.
func TestLinkedMail(t *testing.T) {
	requirePeers(t)
	ctx := testContext(t)
	dir := peerDir(t)
	uid, gid := dovecotIDs(t)

	// Fault injection for the rollback case: a command may be made to fail.
	var failCmd string // fails once
	run := func(ctx context.Context, name string, args ...string) ([]byte, error) {
		if failCmd != "" && name+" "+strings.Join(args, " ") == failCmd {
			failCmd = ""
			return []byte("injected failure"), errors.New("exit status 1")
		}
		return execRun(ctx, name, args...)
	}
	parent := startMember(t, dir, "parent", true, run, "")
	child := startMember(t, dir, "child", false, nil, "")
	if d, p := parent.m.Services(ctx); !d || !p {
		t.Fatalf("parent services: dovecot %v postfix %v, want both", d, p)
	}

	// The account lives on the parent with three messages.
	acct := testAccount()
	if err := parent.m.Import(ctx, acct); err != nil {
		t.Fatal(err)
	}
	parentBox := parent.m.Maildir("alice@example.test")
	for i := 1; i <= 3; i++ {
		if err := putMessage(parentBox, fmt.Sprintf("before-%d", i), uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := imapSubjects(parent.dovecot.imapAddr(), "alice@example.test", alicePass); err != nil || len(got) != 3 {
		t.Fatalf("on the parent before distribution: subjects %v, %v; want 3", got, err)
	}

	t.Run("ExportImportKeepsHashes", func(t *testing.T) {
		exp, err := parent.m.Export(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if !sameAccount(exp, acct) {
			t.Fatalf("export:\n got %+v\nwant %+v", exp, acct)
		}
		if err := child.m.Import(ctx, exp); err != nil {
			t.Fatal(err)
		}
		if err := child.m.Import(ctx, exp); err != nil { // idempotent
			t.Fatalf("second import: %v", err)
		}
		if err := copyMaildir(parentBox, child.m.Maildir("alice@example.test")); err != nil {
			t.Fatal(err)
		}
		got, err := imapSubjects(child.dovecot.imapAddr(), "alice@example.test", alicePass)
		if err != nil || len(got) != 3 {
			t.Fatalf("login on the child with the parent's password: %v, %v; want 3 messages", got, err)
		}
		if _, err := imapSubjects(child.dovecot.imapAddr(), "alice@example.test", "wrong"); err == nil {
			t.Fatal("the child accepted a wrong password")
		}
		// The quota travelled: Dovecot's quota plugin reads it in KiB.
		out, err := exec.Command("doveadm", "-c", child.dovecot.conf, "quota", "get", "-u", "alice@example.test").CombinedOutput()
		if err != nil || !regexp.MustCompile(`User quota STORAGE +\d+ +51200 `).Match(out) {
			t.Fatalf("doveadm quota get on the child: %v\n%s", err, out)
		}
	})

	proxy := Proxy{
		Users: []ProxyUser{
			{Name: "alice@example.test", Host: "127.0.0.1", Port: child.dovecot.imap, POP3Port: child.dovecot.pop3},
			{Name: "info@example.test", Host: "127.0.0.1", Port: child.dovecot.imap, POP3Port: child.dovecot.pop3},
		},
		Routes: []Route{{Domain: "example.test", NextHop: fmt.Sprintf("smtp:[127.0.0.1]:%d", child.postfix.smtp)}},
	}
	if err := parent.m.ApplyProxy(ctx, proxy); err != nil {
		t.Fatal(err)
	}
	if err := parent.m.Remove(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(parentBox); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the parent's Maildir after Remove: %v, want it gone", err)
	}
	if _, err := parent.m.Export(ctx, "alice"); !errors.Is(err, ErrNoAccount) {
		t.Fatalf("export after remove: %v, want ErrNoAccount", err)
	}
	childBox := child.m.Maildir("alice@example.test")

	t.Run("IMAPThroughProxy", func(t *testing.T) {
		got, err := imapSubjects(parent.dovecot.imapAddr(), "alice@example.test", alicePass)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if want := []string{"before-1", "before-2", "before-3"}; !slices.Equal(got, want) {
			t.Fatalf("through the parent: got %v, want %v", got, want)
		}
		if _, err := imapSubjects(parent.dovecot.imapAddr(), "alice@example.test", "wrong"); err == nil {
			t.Fatal("the proxy let a wrong password in")
		}
	})
	t.Run("POP3ThroughProxy", func(t *testing.T) {
		n, err := pop3Count(parent.dovecot.pop3Addr(), "alice@example.test", alicePass)
		if err != nil || n != 3 {
			t.Fatalf("POP3 through the parent: %d messages, %v; want 3", n, err)
		}
	})
	t.Run("CurlThroughProxy", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("curl not installed")
		}
		out, err := exec.Command("curl", "-sS", "--max-time", "30", fmt.Sprintf("imap://%s/INBOX", parent.dovecot.imapAddr()), "-u", "alice@example.test:"+alicePass, "-X", "SEARCH ALL").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SEARCH 1 2 3") {
			t.Fatalf("curl imap through the parent: %v\n%s", err, out)
		}
		out, err = exec.Command("curl", "-sS", "--max-time", "30", fmt.Sprintf("pop3://%s/", parent.dovecot.pop3Addr()), "-u", "alice@example.test:"+alicePass).CombinedOutput()
		if err != nil || strings.Count(string(out), "\n") != 3 {
			t.Fatalf("curl pop3 through the parent: %v\n%s", err, out)
		}
	})
	t.Run("SMTPToParentLandsOnChild", func(t *testing.T) {
		if err := sendMail(parent.postfix.addr(), "alice@example.test", "via-parent"); err != nil {
			t.Fatal(err)
		}
		if err := sendMail(parent.postfix.addr(), "sales@example.test", "via-forwarder"); err != nil {
			t.Fatal(err)
		}
		waitCount(t, childBox, 5)
	})
	t.Run("BrokenProxyRolledBack", func(t *testing.T) {
		before, err := os.ReadFile(parent.m.cfg.ProxyPassdb)
		if err != nil {
			t.Fatal(err)
		}
		// A passdb that Dovecot reads differently from what was asked for:
		// caught by the check after the reload, and undone.
		parent.m.stage = func(path string) error {
			if !strings.Contains(path, "proxy-passdb") {
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(path, []byte(strings.ReplaceAll(string(data), "host=127.0.0.1", "host=127.0.0.9")), 0o644)
		}
		newProxy := proxy
		newProxy.Routes = []Route{{Domain: "example.test", NextHop: "smtp:[127.0.0.1]:1"}}
		err = parent.m.ApplyProxy(ctx, newProxy)
		parent.m.stage = nil
		var ae *ApplyError
		if !errors.As(err, &ae) || ae.Step != "verify dovecot" || ae.Rollback != nil {
			t.Fatalf("ApplyProxy with a broken passdb: %v, want a verify dovecot failure, rolled back", err)
		}
		after, _ := os.ReadFile(parent.m.cfg.ProxyPassdb)
		if string(after) != string(before) {
			t.Fatalf("passdb after rollback:\n%s\nwant\n%s", after, before)
		}
		if got, err := imapSubjects(parent.dovecot.imapAddr(), "alice@example.test", alicePass); err != nil || len(got) != 5 {
			t.Fatalf("the old proxy after rollback: %v, %v; want 5 messages", got, err)
		}

		// A reload that fails: both files go back and mail still flows.
		oldTransport, err := os.ReadFile(parent.m.cfg.TransportMap)
		if err != nil {
			t.Fatal(err)
		}
		failCmd = "postfix -c " + parent.m.cfg.PostfixDir + " reload"
		err = parent.m.ApplyProxy(ctx, newProxy)
		if !errors.As(err, &ae) || ae.Step != "reload" || ae.Rollback != nil {
			t.Fatalf("ApplyProxy with a failing reload: %v, want a reload failure, rolled back", err)
		}
		if got, _ := os.ReadFile(parent.m.cfg.TransportMap); string(got) != string(oldTransport) {
			t.Fatalf("transport map after rollback:\n%s\nwant\n%s", got, oldTransport)
		}
		if err := sendMail(parent.postfix.addr(), "alice@example.test", "after-rollback"); err != nil {
			t.Fatal(err)
		}
		waitCount(t, childBox, 6)

		// Invalid input never reaches the files.
		bad := Proxy{Users: []ProxyUser{{Name: "x@example.test\nevil@x.test::::::proxy=y", Host: "127.0.0.1"}}}
		if err := parent.m.ApplyProxy(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("ApplyProxy with an injected line: %v, want ErrInvalid", err)
		}
	})
	t.Run("KickEndsSession", func(t *testing.T) {
		ic, err := dialIMAP(parent.dovecot.imapAddr())
		if err != nil {
			t.Fatal(err)
		}
		defer ic.Close()
		if _, err := ic.cmd("LOGIN alice@example.test %s", alicePass); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.cmd("SELECT INBOX"); err != nil {
			t.Fatal(err)
		}
		if err := child.m.Kick(ctx, "alice@example.test"); err != nil {
			t.Fatal(err)
		}
		ic.c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := ic.cmd("NOOP"); err == nil {
			t.Fatal("the proxied session still answers after doveadm kick on the child")
		} else if ne := (net.Error)(nil); errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the session neither answered nor closed: %v", err)
		}
		if err := child.m.Kick(ctx, "info@example.test"); err != nil {
			t.Fatalf("kick with no session: %v", err)
		}
	})
	t.Run("ProxyRemovedServesLocally", func(t *testing.T) {
		// Dedistribution's last steps: the account is back on the parent
		// (an empty mailbox here, to tell the two apart) and the proxy goes.
		exp, err := child.m.Export(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if err := parent.m.Import(ctx, exp); err != nil {
			t.Fatal(err)
		}
		if err := parent.m.ApplyProxy(ctx, Proxy{}); err != nil {
			t.Fatal(err)
		}
		if got, err := imapSubjects(parent.dovecot.imapAddr(), "alice@example.test", alicePass); err != nil || len(got) != 0 {
			t.Fatalf("on the parent after the proxy is removed: %v, %v; want its own empty mailbox", got, err)
		}
		if err := sendMail(parent.postfix.addr(), "alice@example.test", "back-home"); err != nil {
			t.Fatal(err)
		}
		waitCount(t, parent.m.Maildir("alice@example.test"), 1)
		if n := countMaildir(childBox); n != 6 {
			t.Fatalf("the child's Maildir holds %d messages, want still 6", n)
		}
	})
}

// sameAccount compares two AccountMails regardless of order.
func sameAccount(a, b AccountMail) bool {
	norm := func(x AccountMail) string {
		us := slices.Clone(x.Users)
		slices.SortFunc(us, func(p, q User) int { return strings.Compare(p.Name, q.Name) })
		fs := slices.Clone(x.Forwarders)
		slices.SortFunc(fs, func(p, q Forwarder) int { return strings.Compare(p.From+p.To, q.From+q.To) })
		ds := slices.Sorted(slices.Values(x.Domains))
		var filters []string
		for u, s := range x.Filters {
			filters = append(filters, u+"="+s)
		}
		slices.Sort(filters)
		return fmt.Sprint(x.Account, ds, us, fs, filters)
	}
	return norm(a) == norm(b)
}

// copyMaildir copies a Maildir's messages (new/ and cur/), keeping names and
// owners: what the replication engine does for distribution.
func copyMaildir(src, dst string) error {
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(src, sub))
		if err != nil {
			return err
		}
		for _, e := range ents {
			data, err := os.ReadFile(filepath.Join(src, sub, e.Name()))
			if err != nil {
				return err
			}
			fi, err := os.Stat(filepath.Join(src, sub, e.Name()))
			if err != nil {
				return err
			}
			uid, gid, err := statOwner(fi)
			if err != nil {
				return err
			}
			p := filepath.Join(dst, sub, e.Name())
			if err := os.WriteFile(p, data, 0o600); err != nil {
				return err
			}
			if err := os.Chown(p, uid, gid); err != nil {
				return err
			}
		}
	}
	return nil
}
