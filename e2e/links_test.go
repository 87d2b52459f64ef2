package e2e

import (
	"bytes"
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/agent/mail"
)

const (
	linkUser = "alice@example.test"
	linkPass = "s3cret-Pa55"
)

// enrolMailAgent enrols a member and starts its agent with extra flags.
func enrolMailAgent(t *testing.T, s *server, pool, name string, flags ...string) *proc {
	t.Helper()
	var added api.MemberAdded
	cliJSON(t, s.env(), &added, "member", "add", pool, name, "--address", "127.0.0.1", "--allow-ip", "127.0.0.1/32")
	dir := filepath.Join(t.TempDir(), name)
	cli(t, nil, "agent", "enroll", "--server", s.url, "--secret", added.EnrollmentSecret, "--data", dir)
	return start(t, nil, append([]string{"agent", "--data", dir, "--heartbeat-interval", "500ms"}, flags...)...)
}

// maildirMessages reads the messages of a Maildir (new/ and cur/ of the
// inbox): the file's base name (before the ":2," flags) to its bytes.
func maildirMessages(t *testing.T, md string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, sub := range []string{"new", "cur"} {
		es, err := os.ReadDir(filepath.Join(md, sub))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range es {
			b, err := os.ReadFile(filepath.Join(md, sub, e.Name()))
			if err != nil {
				continue // moved from new/ to cur/ meanwhile: read on the next pass
			}
			base, _, _ := strings.Cut(e.Name(), ":")
			if _, dup := out[base]; dup {
				t.Errorf("%s: message %s is there twice", md, base)
			}
			out[base] = b
		}
	}
	return out
}

// subjects are the Subject headers of messages, sorted.
func subjects(msgs map[string][]byte) []string {
	var out []string
	for _, b := range msgs {
		for _, l := range strings.Split(string(b), "\n") {
			if s, ok := strings.CutPrefix(strings.TrimRight(l, "\r"), "Subject: "); ok {
				out = append(out, s)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// mailSender sends a message to the parent's Postfix every 100 ms while
// running.
type mailSender struct {
	addr string
	mu   sync.Mutex
	sent []string
	errs []string
	stop chan struct{}
	done chan struct{}
}

func send(addr, subject string) error {
	msg := "From: bob@elsewhere.test\r\nTo: " + linkUser + "\r\nSubject: " + subject + "\r\n\r\nbody of " + subject + "\r\n"
	return smtp.SendMail(addr, nil, "bob@elsewhere.test", []string{linkUser}, []byte(msg))
}

func startSender(addr, prefix string) *mailSender {
	s := &mailSender{addr: addr, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			subj := fmt.Sprintf("%s %04d", prefix, i)
			err := send(addr, subj)
			s.mu.Lock()
			if err != nil {
				s.errs = append(s.errs, subj+": "+err.Error())
			} else {
				s.sent = append(s.sent, subj)
			}
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *mailSender) finish() (sent, errs []string) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent, s.errs
}

// waitRun follows a distribution run to its end (bounded) and returns it.
func waitRun(t *testing.T, s *server, id int64) api.DistributionRun {
	t.Helper()
	var r api.DistributionRun
	waitFor(t, 3*time.Minute, fmt.Sprintf("distribution run %d to end", id), func() bool {
		cliJSON(t, s.env(), &r, "link", "run", fmt.Sprint(id))
		return r.FinishedAt != nil
	})
	if r.Status != api.DistSucceeded {
		out, _, _ := cliRun(s.env(), "link", "run", fmt.Sprint(id))
		t.Fatalf("run %d: got %s at %s (%s), want succeeded\n%s", id, r.Status, r.Step, r.Error, out)
	}
	return r
}

// curlIMAP lists the inbox through port with curl, as the user: UID
// SEARCH ALL, then each message's Subject (curl prints a custom command's
// untagged lines, not the literals of a FETCH, so headers are fetched one
// URL each).
func curlIMAP(t *testing.T, port int) []string {
	t.Helper()
	base := fmt.Sprintf("imap://127.0.0.1:%d/INBOX", port)
	out, err := exec.Command("curl", "-sS", "--max-time", "30", "-u", linkUser+":"+linkPass, base, "-X", "UID SEARCH ALL").CombinedOutput()
	if err != nil {
		t.Fatalf("curl imap search: %v\n%s", err, out)
	}
	var subs []string
	for _, l := range strings.Split(string(out), "\n") {
		uids, ok := strings.CutPrefix(strings.TrimSpace(l), "* SEARCH")
		if !ok {
			continue
		}
		for _, uid := range strings.Fields(uids) {
			hdr, err := exec.Command("curl", "-sS", "--max-time", "30", "-u", linkUser+":"+linkPass,
				base+"/;UID="+uid+";SECTION=HEADER.FIELDS%20(SUBJECT)").CombinedOutput()
			if err != nil {
				t.Fatalf("curl imap fetch %s: %v\n%s", uid, err, hdr)
			}
			s, _ := strings.CutPrefix(strings.TrimSpace(string(hdr)), "Subject: ")
			subs = append(subs, s)
		}
	}
	slices.Sort(subs)
	return subs
}

// curlPOP3 counts the messages POP3 LIST shows through port.
func curlPOP3(t *testing.T, port int) int {
	t.Helper()
	out, err := exec.Command("curl", "-sS", "--max-time", "30", "-u", linkUser+":"+linkPass, fmt.Sprintf("pop3://127.0.0.1:%d/", port)).CombinedOutput()
	if err != nil {
		t.Fatalf("curl pop3: %v\n%s", err, out)
	}
	return len(strings.Fields(string(out))) / 2
}

// TestLinkedNodesMail: a parent and a mail child with real Dovecot and
// Postfix and real agents; link refusals; an account's mailbox is
// distributed to the child while mail keeps arriving at the parent every
// 100 ms, served through the parent's proxy (IMAP, POP3, SMTP), and
// dedistributed back; no message is lost or duplicated, and every one is
// back on the parent byte for byte.
func TestLinkedNodesMail(t *testing.T) {
	needMailPeers(t)
	dir, err := os.MkdirTemp("/tmp", "pl")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	parent := startMailPeer(t, dir, "parent", true)
	child := startMailPeer(t, dir, "child", false)

	s := startServer(t, t.TempDir())
	env := s.env()
	cli(t, env, "pool", "create", "web")
	cli(t, env, "zone", "create", "example.test")
	cli(t, env, "record", "add", "example.test", "mail", "A", "192.0.2.1")
	cli(t, env, "record", "add", "example.test", "webmail", "A", "192.0.2.1")
	enrolMailAgent(t, s, "web", "node1", parent.agentFlags()...)
	enrolMailAgent(t, s, "web", "mail1", child.agentFlags()...)
	enrolMailAgent(t, s, "web", "node2")
	waitFor(t, 60*time.Second, "three healthy agents with Dovecot and Postfix detected on mail1", func() bool {
		ms := members(t, s, "web")
		m := ms["mail1"]
		return len(ms) == 3 && ms["node1"].Status == api.StatusHealthy && ms["node2"].Status == api.StatusHealthy &&
			m.Status == api.StatusHealthy && m.Stack.Dovecot != nil && m.Stack.Dovecot.Detected && m.Stack.Postfix != nil && m.Stack.Postfix.Detected
	})

	// Refusals: a child without the mail profile, then a second parent.
	if _, errOut, err := cliRun(env, "link", "add", "web", "node1", "mail1", "--function", "mail"); err == nil || !strings.Contains(errOut, "must have the mail profile") {
		t.Fatalf("link to a standard child: err %v, stderr %q; want the profile refusal", err, errOut)
	}
	cli(t, env, "member", "set-profile", "web", "mail1", "mail")
	cli(t, env, "link", "add", "web", "node1", "mail1", "--function", "mail")
	if _, errOut, err := cliRun(env, "link", "add", "web", "node2", "mail1", "--function", "mail"); err == nil || !strings.Contains(errOut, "exactly one parent") {
		t.Fatalf("a second parent: err %v, stderr %q; want a refusal", err, errOut)
	}

	// The account's mailbox on the parent, with 20 messages.
	acct := mail.AccountMail{Account: "alice", Domains: []string{"example.test"}, Users: []mail.User{{Name: linkUser, PasswordHash: ssha512(linkPass)}}}
	if err := parent.m.Import(t.Context(), acct); err != nil {
		t.Fatal(err)
	}
	pmd, cmd := parent.maildir(linkUser), child.maildir(linkUser)
	var all []string
	for i := range 20 {
		subj := fmt.Sprintf("before %02d", i)
		if err := send(parent.smtpAddr(), subj); err != nil {
			t.Fatal(err)
		}
		all = append(all, subj)
	}
	waitFor(t, 30*time.Second, "20 messages on the parent", func() bool { return len(maildirMessages(t, pmd)) == 20 })
	before := maildirMessages(t, pmd)

	// Distribute while mail arrives every 100 ms.
	sender := startSender(parent.smtpAddr(), "during-distribute")
	var run api.DistributionRun
	cliJSON(t, env, &run, "account", "distribute", "web", "node1", "alice", "--mail", "mail1")
	waitRun(t, s, run.ID)
	sent, errs := sender.finish()
	if len(errs) > 0 {
		t.Errorf("the parent's Postfix refused %d message(s) during the distribution, e.g. %s", len(errs), errs[0])
	}
	all = append(all, sent...)
	slices.Sort(all)
	waitFor(t, 60*time.Second, fmt.Sprintf("%d messages on the child", len(all)), func() bool { return len(maildirMessages(t, cmd)) >= len(all) })
	if got := subjects(maildirMessages(t, cmd)); !slices.Equal(got, all) {
		t.Fatalf("child after distribution: got %d messages, want %d: %s", len(got), len(all), diffList(got, all))
	}
	if ms := maildirMessages(t, pmd); len(ms) != 0 {
		t.Errorf("parent after distribution: still holds %d messages", len(ms))
	}
	// The parent's proxy serves the child's mailbox.
	if got := curlIMAP(t, parent.imap); !slices.Equal(got, all) {
		t.Errorf("IMAP through the parent: got %d messages, want %d: %s", len(got), len(all), diffList(got, all))
	}
	if n := curlPOP3(t, parent.pop3); n != len(all) {
		t.Errorf("POP3 through the parent: got %d messages, want %d", n, len(all))
	}
	if got := curlIMAP(t, child.imap); !slices.Equal(got, all) {
		t.Errorf("IMAP on the child: got %d messages, want %d", len(got), len(all))
	}
	// SMTP to the parent lands on the child.
	if err := send(parent.smtpAddr(), "after the move"); err != nil {
		t.Fatal(err)
	}
	all = append(all, "after the move")
	slices.Sort(all)
	waitFor(t, 30*time.Second, "the message sent to the parent on the child", func() bool {
		return slices.Contains(subjects(maildirMessages(t, cmd)), "after the move")
	})
	var accounts api.List[api.DistributedAccount]
	cliJSON(t, env, &accounts, "link", "accounts", "web", "mail1")
	if len(accounts.Items) != 1 || accounts.Items[0].State != "distributed" {
		t.Fatalf("distributed accounts: got %+v", accounts.Items)
	}

	// Dedistribute while mail arrives every 100 ms.
	onChild := maildirMessages(t, cmd)
	sender = startSender(parent.smtpAddr(), "during-dedistribute")
	cliJSON(t, env, &run, "account", "dedistribute", "web", "node1", "alice", "--mail")
	waitRun(t, s, run.ID)
	sent, errs = sender.finish()
	if len(errs) > 0 {
		t.Errorf("the parent's Postfix refused %d message(s) during the dedistribution, e.g. %s", len(errs), errs[0])
	}
	all = append(all, sent...)
	slices.Sort(all)
	waitFor(t, 60*time.Second, fmt.Sprintf("%d messages back on the parent", len(all)), func() bool { return len(maildirMessages(t, pmd)) >= len(all) })
	back := maildirMessages(t, pmd)
	if got := subjects(back); !slices.Equal(got, all) {
		t.Fatalf("parent after dedistribution: got %d messages, want %d: %s", len(got), len(all), diffList(got, all))
	}
	// Byte for byte: the parent's first messages, and every one the child
	// held, are back as they were.
	for _, src := range []map[string][]byte{before, onChild} {
		for name, b := range src {
			if !bytes.Equal(back[name], b) {
				t.Errorf("message %s: got %d bytes back on the parent, want the %d it had", name, len(back[name]), len(b))
			}
		}
	}
	if got := curlIMAP(t, parent.imap); !slices.Equal(got, all) {
		t.Errorf("IMAP on the parent after dedistribution: got %d messages, want %d", len(got), len(all))
	}
	accounts = api.List[api.DistributedAccount]{}
	cliJSON(t, env, &accounts, "link", "accounts", "web", "mail1")
	if len(accounts.Items) != 1 || accounts.Items[0].State != "retained" {
		t.Errorf("after dedistribution: got %+v, want the child's copy retained", accounts.Items)
	}
	if _, errOut, err := cliRun(env, "link", "remove", "web", "mail1"); err == nil || !strings.Contains(errOut, "retained") {
		t.Errorf("remove the link while the child keeps a copy: err %v, stderr %q; want a refusal", err, errOut)
	}
}

// diffList names what got lacks and what it has too much of.
func diffList(got, want []string) string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	return fmt.Sprintf("missing %v, extra %v", missing, extra)
}
