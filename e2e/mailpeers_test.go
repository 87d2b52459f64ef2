package e2e

import (
	"bufio"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
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

	"github.com/poolctl/poolctl/internal/agent/mail"
)

// Real Dovecot and Postfix for the linked-nodes tests, started as in
// internal/agent/mail's tests (TEST-PEERS.md): own configuration in a
// temporary directory, loopback high ports, stopped by PID.

// needMailPeers skips the test when Dovecot or Postfix is missing or the
// test does not run as root (their login processes drop privileges),
// unless POOLCTL_REQUIRE_PEERS=1.
func needMailPeers(t *testing.T) {
	t.Helper()
	for _, name := range []string{"dovecot", "doveadm", "doveconf", "postfix", "postconf", "curl"} {
		if _, err := exec.LookPath(name); err == nil {
			continue
		}
		if _, err := os.Stat("/usr/sbin/" + name); err == nil {
			continue
		}
		if os.Getenv("POOLCTL_REQUIRE_PEERS") == "1" {
			t.Fatalf("%s is not installed and POOLCTL_REQUIRE_PEERS=1", name)
		}
		t.Skipf("%s is not installed (apt-get install dovecot-imapd dovecot-pop3d postfix curl)", name)
	}
	if os.Geteuid() != 0 {
		t.Skip("the mail peers run as root and drop to the dovecot and postfix users")
	}
}

// mailPeer is one mail member: the layout of internal/agent/mail under
// dir/name and its running Dovecot and Postfix.
type mailPeer struct {
	cfg              mail.Config
	m                *mail.Mail
	imap, pop3, smtp int
}

func (p *mailPeer) smtpAddr() string { return fmt.Sprintf("127.0.0.1:%d", p.smtp) }

// agentFlags are the poolctl agent flags for this member's mail.
func (p *mailPeer) agentFlags() []string {
	f := []string{"--mail-root", p.cfg.MailRoot, "--mail-dovecot-conf", p.cfg.DovecotConf, "--mail-postfix-dir", p.cfg.PostfixDir,
		"--mail-imap-port", strconv.Itoa(p.imap), "--mail-pop3-port", strconv.Itoa(p.pop3), "--mail-smtp-port", strconv.Itoa(p.smtp)}
	if p.cfg.ProxyPassdb != "" {
		f = append(f, "--mail-proxy-passdb", p.cfg.ProxyPassdb, "--mail-transport-map", p.cfg.TransportMap)
	}
	return f
}

// maildir is the Maildir of user on this member.
func (p *mailPeer) maildir(user string) string { return p.m.Maildir(user) }

func startMailPeer(t *testing.T, dir, name string, parent bool) *mailPeer {
	t.Helper()
	base := filepath.Join(dir, name)
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup("dovecot")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cfg := mail.Config{DovecotConf: filepath.Join(base, "dovecot.conf"), PostfixDir: filepath.Join(base, "etc"), MailRoot: filepath.Join(base, "mail")}
	if err := os.Mkdir(cfg.MailRoot, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(cfg.MailRoot, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(cfg.MailRoot, uid, gid); err != nil {
		t.Fatal(err)
	}
	// The maps Postfix reads must exist before it starts.
	maps := filepath.Join(cfg.MailRoot, "postfix")
	if err := os.Mkdir(maps, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"domains", "mailboxes", "aliases"} {
		if err := os.WriteFile(filepath.Join(maps, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if parent {
		cfg.ProxyPassdb, cfg.TransportMap = filepath.Join(base, "proxy-passdb"), filepath.Join(base, "transport")
		for _, f := range []string{cfg.ProxyPassdb, cfg.TransportMap} {
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	m, err := mail.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &mailPeer{cfg: cfg, m: m}
	settings, err := m.PostfixSettings()
	if err != nil {
		t.Fatal(err)
	}
	p.smtp = startPostfixPeer(t, base, settings)
	auth, err := m.DovecotConfig()
	if err != nil {
		t.Fatal(err)
	}
	p.imap, p.pop3 = startDovecotPeer(t, base, auth)
	return p
}

func loopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitGreeting polls addr until it greets with prefix (at most 20 s).
func waitGreeting(addr, prefix string, exited <-chan struct{}) error {
	var last error
	for range 200 {
		select {
		case <-exited:
			return errors.New("the daemon exited")
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
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

func startDovecotPeer(t *testing.T, base, auth string) (imap, pop3 int) {
	t.Helper()
	name := filepath.Base(base)
	for _, sub := range []string{"run", "state"} {
		if err := os.MkdirAll(filepath.Join(base, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf, logPath := filepath.Join(base, "dovecot.conf"), filepath.Join(base, "dovecot.log")
	for attempt := 0; attempt < 5; attempt++ {
		imap, pop3 = loopbackPort(t), loopbackPort(t)
		text := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
instance_name = poolctl-e2e-%[2]s
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
%[6]s`, base, name, logPath, imap, pop3, auth)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("dovecot", "-F", "-c", conf)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		stop := func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		err := waitGreeting(fmt.Sprintf("127.0.0.1:%d", imap), "* OK", exited)
		if err == nil {
			err = waitGreeting(fmt.Sprintf("127.0.0.1:%d", pop3), "+OK", exited)
		}
		if err != nil {
			stop()
			logData, _ := os.ReadFile(logPath)
			if strings.Contains(string(logData), "in use") {
				continue
			}
			t.Fatalf("dovecot %s: %v\n%s", name, err, logData)
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				logData, _ := os.ReadFile(logPath)
				t.Logf("dovecot %s log:\n%s", name, logData)
			}
		})
		return imap, pop3
	}
	t.Fatalf("dovecot %s: no free ports in 5 attempts", name)
	return 0, 0
}

const e2eMasterCF = `%d inet n - n - - smtpd
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

func startPostfixPeer(t *testing.T, base string, settings []string) int {
	t.Helper()
	name := filepath.Base(base)
	etc, logPath := filepath.Join(base, "etc"), filepath.Join(base, "maillog")
	for _, d := range []string{etc, filepath.Join(base, "queue")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
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
`, base, name, logPath) + strings.Join(settings, "\n") + "\n"
	if err := os.WriteFile(filepath.Join(etc, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; attempt < 5; attempt++ {
		port := loopbackPort(t)
		if err := os.WriteFile(filepath.Join(etc, "master.cf"), fmt.Appendf(nil, e2eMasterCF, port), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("postfix", "-c", etc, "start").CombinedOutput(); err != nil {
			logData, _ := os.ReadFile(logPath)
			t.Fatalf("postfix %s start: %v\n%s%s", name, err, out, logData)
		}
		pid := 0
		for range 200 {
			b, _ := os.ReadFile(filepath.Join(base, "queue", "pid", "master.pid"))
			if pid, _ = strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if pid <= 0 {
			t.Fatalf("postfix %s: no master.pid", name)
		}
		stop := func() { stopByPid(pid) }
		if err := waitGreeting(fmt.Sprintf("127.0.0.1:%d", port), "220 ", nil); err != nil {
			stop()
			logData, _ := os.ReadFile(logPath)
			if strings.Contains(string(logData), "in use") {
				continue
			}
			t.Fatalf("postfix %s: %v\n%s", name, err, logData)
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				logData, _ := os.ReadFile(logPath)
				t.Logf("postfix %s log:\n%s", name, logData)
			}
		})
		return port
	}
	t.Fatalf("postfix %s: no free port in 5 attempts", name)
	return 0
}

// stopByPid ends a daemon by PID and waits for it (at most 20 s).
func stopByPid(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for range 200 {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// ssha512 is a Dovecot {SSHA512} hash of pw.
func ssha512(pw string) string {
	salt := make([]byte, 8)
	_, _ = rand.Read(salt)
	sum := sha512.Sum512(append([]byte(pw), salt...))
	return "{SSHA512}" + base64.StdEncoding.EncodeToString(append(sum[:], salt...))
}
