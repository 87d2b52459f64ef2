package mail

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requirePeers skips the test when Dovecot or Postfix is not installed,
// unless POOLCTL_REQUIRE_PEERS=1, when it fails it.
func requirePeers(t testing.TB) {
	t.Helper()
	for _, name := range []string{"dovecot", "doveadm", "doveconf", "postfix", "postmap", "postconf"} {
		if _, err := exec.LookPath(name); err == nil {
			continue
		}
		if _, err := os.Stat("/usr/sbin/" + name); err == nil {
			continue
		}
		const install = "apt-get install -y --no-install-recommends dovecot-imapd dovecot-pop3d postfix"
		if os.Getenv("POOLCTL_REQUIRE_PEERS") == "1" {
			t.Fatalf("%s is not installed (%s) and POOLCTL_REQUIRE_PEERS=1", name, install)
		}
		t.Skipf("%s is not installed (%s); set POOLCTL_REQUIRE_PEERS=1 to make this a failure", name, install)
	}
	if _, err := os.Stat("/usr/lib/dovecot/pop3"); err != nil {
		if os.Getenv("POOLCTL_REQUIRE_PEERS") == "1" {
			t.Fatal("Dovecot's POP3 server is not installed (apt-get install dovecot-pop3d) and POOLCTL_REQUIRE_PEERS=1")
		}
		t.Skip("Dovecot's POP3 server is not installed (apt-get install dovecot-pop3d)")
	}
	if os.Geteuid() != 0 {
		t.Skip("the mail peers run as root and drop to the dovecot and postfix users")
	}
}

// peerDir is a temporary directory the dovecot and postfix users can
// traverse. Its path is short: Dovecot's sockets live below it.
func peerDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "pm")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// mailRoot makes a MailRoot owned by the dovecot user.
func mailRoot(t testing.TB, dir string) string {
	t.Helper()
	u, err := user.Lookup("dovecot")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	root := filepath.Join(dir, "mail")
	// Others may traverse (Postfix reads MAILROOT/postfix as its own user)
	// but not list; each domain directory is the mail user's alone.
	if err := os.Mkdir(root, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(root, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(root, uid, gid); err != nil {
		t.Fatal(err)
	}
	return root
}

// waitBanner polls addr until it greets with prefix, for at most 20 s.
func waitBanner(addr, prefix string, exited <-chan struct{}) error {
	var last error
	for range 200 {
		select {
		case <-exited:
			return errors.New("the daemon exited")
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if rerr == nil && strings.HasPrefix(line, prefix) {
				return nil
			}
			err = fmt.Errorf("greeting %q: %v", line, rerr)
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready: %w", addr, last)
}

// dovecotPeer is a Dovecot started for a test.
type dovecotPeer struct {
	conf       string
	imap, pop3 int
	log        string
}

func (d *dovecotPeer) imapAddr() string { return fmt.Sprintf("127.0.0.1:%d", d.imap) }
func (d *dovecotPeer) pop3Addr() string { return fmt.Sprintf("127.0.0.1:%d", d.pop3) }

// startDovecot starts Dovecot with base/dovecot.conf, the passdb/userdb
// blocks of m and extra settings. It retries with new ports when one was
// taken meanwhile.
func startDovecot(t testing.TB, base string, m *Mail, extra string) *dovecotPeer {
	t.Helper()
	name := filepath.Base(base)
	for _, sub := range []string{"run", "state"} {
		if err := os.MkdirAll(filepath.Join(base, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	auth, err := m.DovecotConfig()
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		d := &dovecotPeer{conf: filepath.Join(base, "dovecot.conf"), imap: freePort(t), pop3: freePort(t), log: filepath.Join(base, "dovecot.log")}
		conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
instance_name = poolctl-%[2]s
log_path = %[3]s
listen = 127.0.0.1
protocols = imap pop3
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = 100
login_trusted_networks = 127.0.0.0/8
pop3_uidl_format = %%08Xu%%08Xv
mail_plugins = $mail_plugins quota
plugin {
  quota = maildir:User quota
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[4]d
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[5]d
  }
  inet_listener pop3s {
    port = 0
  }
}
service anvil {
  unix_listener anvil {
    mode = 0666
  }
}
%[6]s%[7]s`, base, name, d.log, d.imap, d.pop3, auth, extra)
		if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("dovecot", "-F", "-c", d.conf)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		}
		if err := waitBanner(d.imapAddr(), "* OK", exited); err != nil {
			stop()
			logData, _ := os.ReadFile(d.log)
			lastErr = fmt.Errorf("dovecot %s: %w\n%s", name, err, logData)
			if strings.Contains(string(logData), "in use") {
				continue
			}
			t.Fatal(lastErr)
		}
		if err := waitBanner(d.pop3Addr(), "+OK", exited); err != nil {
			stop()
			t.Fatalf("dovecot %s pop3: %v", name, err)
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				logData, _ := os.ReadFile(d.log)
				t.Logf("dovecot %s log:\n%s", name, logData)
			}
		})
		return d
	}
	t.Fatal(lastErr)
	return nil
}

// postfixPeer is a Postfix started for a test with its own config dir.
type postfixPeer struct {
	dir  string // config directory
	smtp int
	log  string
}

func (p *postfixPeer) addr() string { return fmt.Sprintf("127.0.0.1:%d", p.smtp) }

const masterCF = `%d inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`

// startPostfix starts Postfix with config dir base/etc and settings added
// to a loopback-only main.cf. It retries with a new port on conflict.
func startPostfix(t testing.TB, base string, settings []string) *postfixPeer {
	t.Helper()
	name := filepath.Base(base)
	etc := filepath.Join(base, "etc")
	for _, d := range []string{etc, filepath.Join(base, "queue")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := &postfixPeer{dir: etc, log: filepath.Join(base, "maillog")}
	mainCF := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
setgid_group = postdrop
myhostname = %[2]s.poolctl.test
mydomain = poolctl.test
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = %[3]s
maillog_file_prefixes = %[1]s
alias_maps =
alias_database =
local_transport = error:no local delivery here
smtp_dns_support_level = disabled
biff = no
smtpd_banner = $myhostname ESMTP
`, base, name, p.log) + strings.Join(settings, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(etc, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		p.smtp = freePort(t)
		if err := os.WriteFile(filepath.Join(etc, "master.cf"), fmt.Appendf(nil, masterCF, p.smtp), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("postfix", "-c", etc, "start").CombinedOutput(); err != nil {
			logData, _ := os.ReadFile(p.log)
			t.Fatalf("postfix %s start: %v\n%s%s", name, err, out, logData)
		}
		pid, err := waitPid(filepath.Join(base, "queue", "pid", "master.pid"))
		if err != nil {
			t.Fatalf("postfix %s: %v", name, err)
		}
		stop := func() { stopPid(pid) }
		if err := waitBanner(p.addr(), "220 ", nil); err != nil {
			stop()
			logData, _ := os.ReadFile(p.log)
			lastErr = fmt.Errorf("postfix %s: %w\n%s", name, err, logData)
			if strings.Contains(string(logData), "in use") {
				continue
			}
			t.Fatal(lastErr)
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				logData, _ := os.ReadFile(p.log)
				t.Logf("postfix %s log:\n%s", name, logData)
			}
		})
		return p
	}
	t.Fatal(lastErr)
	return nil
}

// waitPid reads a daemon's pid file, waiting for it for at most 20 s.
func waitPid(path string) (int, error) {
	for range 200 {
		data, err := os.ReadFile(path)
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 0 {
				return pid, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 0, fmt.Errorf("no pid in %s", path)
}

// stopPid ends a daemon by PID and waits for it, for at most 20 s.
func stopPid(pid int) {
	syscall.Kill(pid, syscall.SIGTERM)
	for range 200 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// testContext is a context ended with the test.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}
