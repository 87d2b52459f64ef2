package e2e

import (
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/agent/mail"
)

// bench/linked-nodes.sh sets these; without them the benchmark is skipped.
var (
	benchMessages = flag.Int("links-bench-messages", 0, "TestDistributionBenchmark: messages in the Maildir (0: skip)")
	benchMiB      = flag.Int("links-bench-mib", 100, "TestDistributionBenchmark: MiB of messages in the Maildir")
)

// TestDistributionBenchmark times the distribution of one Maildir to a
// child, and its dedistribution, through the real server, agents, Dovecot
// and Postfix, next to `rsync -a` of the same Maildir on the same machine in
// the same run, while a sender delivers to the parent every 100 ms; it
// prints the figures and checks that no message was lost.
func TestDistributionBenchmark(t *testing.T) {
	if *benchMessages <= 0 {
		t.Skip("run through bench/linked-nodes.sh (-links-bench-messages N)")
	}
	needMailPeers(t)
	dir, err := os.MkdirTemp("/var/tmp", "plb")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	parent := startMailPeer(t, dir, "parent", true)
	child := startMailPeer(t, dir, "child", false)
	s := startServer(t, t.TempDir())
	env := s.env()
	cli(t, env, "pool", "create", "web")
	cli(t, env, "zone", "create", "example.test")
	cli(t, env, "record", "add", "example.test", "mail", "A", "192.0.2.1")
	enrolMailAgent(t, s, "web", "node1", parent.agentFlags()...)
	enrolMailAgent(t, s, "web", "mail1", child.agentFlags()...)
	waitFor(t, 60*time.Second, "healthy agents", func() bool {
		ms := members(t, s, "web")
		return ms["node1"].Status == api.StatusHealthy && ms["mail1"].Status == api.StatusHealthy && ms["mail1"].Stack.Dovecot != nil
	})
	cli(t, env, "member", "set-profile", "web", "mail1", "mail")
	cli(t, env, "link", "add", "web", "node1", "mail1", "--function", "mail")
	acct := mail.AccountMail{Account: "alice", Domains: []string{"example.test"}, Users: []mail.User{{Name: linkUser, PasswordHash: ssha512(linkPass)}}}
	if err := parent.m.Import(t.Context(), acct); err != nil {
		t.Fatal(err)
	}

	// The Maildir: N messages of equal size in cur/, owned by the mail user.
	md := parent.maildir(linkUser)
	u, _ := user.Lookup("dovecot")
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	n, size := *benchMessages, int64(*benchMiB)<<20/int64(*benchMessages)
	body := make([]byte, size)
	for i := 0; i < n; i++ {
		_, _ = rand.Read(body[:64])
		msg := fmt.Appendf(nil, "From: bob@elsewhere.test\r\nTo: %s\r\nSubject: bench %06d\r\n\r\n", linkUser, i)
		for len(msg) < int(size) {
			msg = append(msg, fmt.Sprintf("%x\r\n", body[:min(38, int(size))])...)
		}
		p := filepath.Join(md, "cur", fmt.Sprintf("%d.M%dP1.bench:2,S", 1700000000+i, i))
		if err := os.WriteFile(p, msg[:size], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}

	// rsync -a of the same Maildir, three times (median).
	var rs []time.Duration
	for i := range 3 {
		dst := filepath.Join(dir, fmt.Sprintf("rsync-%d", i))
		t0 := time.Now()
		if out, err := exec.Command("rsync", "-a", md+"/", dst+"/").CombinedOutput(); err != nil {
			t.Fatalf("rsync: %v\n%s", err, out)
		}
		rs = append(rs, time.Since(t0))
		os.RemoveAll(dst)
	}
	slices.Sort(rs)
	rsyncMedian := rs[1]

	sender := startSender(parent.smtpAddr(), "during")
	var run api.DistributionRun
	cliJSON(t, env, &run, "account", "distribute", "web", "node1", "alice", "--mail", "mail1")
	dist := waitRun(t, s, run.ID)
	cliJSON(t, env, &run, "account", "dedistribute", "web", "node1", "alice", "--mail")
	dedist := waitRun(t, s, run.ID)
	sent, errs := sender.finish()
	want := n + len(sent)
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d messages back on the parent", want), func() bool { return len(maildirMessages(t, md)) >= want })
	lost := want - len(maildirMessages(t, md))
	distD, dedistD := dist.FinishedAt.Sub(dist.CreatedAt), dedist.FinishedAt.Sub(dedist.CreatedAt)
	fmt.Printf("maildir: %d messages, %d MiB (%d B each)\n", n, *benchMiB, size)
	fmt.Printf("rsync -a (median of 3): %s\n", rsyncMedian.Round(time.Millisecond))
	fmt.Printf("distribute (12 steps, run created to succeeded): %s  = %.2fx rsync\n", distD.Round(time.Millisecond), float64(distD)/float64(rsyncMedian))
	fmt.Printf("dedistribute: %s  = %.2fx rsync\n", dedistD.Round(time.Millisecond), float64(dedistD)/float64(rsyncMedian))
	fmt.Printf("messages sent during both moves: %d (refused: %d), lost: %d\n", len(sent), len(errs), lost)
	if lost != 0 || len(errs) != 0 {
		t.Errorf("lost %d message(s), %d refused", lost, len(errs))
	}
}
