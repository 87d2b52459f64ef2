package mail

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// imapSession is the measured session: connect, LOGIN, SELECT INBOX and
// FETCH of the first message; LOGOUT is not timed.
func imapSession(addr, user, pass string) (time.Duration, error) {
	start := time.Now()
	ic, err := dialIMAP(addr)
	if err != nil {
		return 0, err
	}
	defer ic.Close()
	if _, err := ic.cmd("LOGIN %s %s", user, pass); err != nil {
		return 0, err
	}
	if _, err := ic.cmd("SELECT INBOX"); err != nil {
		return 0, err
	}
	lines, err := ic.cmd("FETCH 1 (BODY.PEEK[])")
	if err != nil {
		return 0, err
	}
	d := time.Since(start)
	if len(lines) == 0 || !strings.Contains(lines[0], "FETCH") {
		return 0, fmt.Errorf("FETCH answered %q", lines)
	}
	ic.cmd("LOGOUT")
	return d, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// performanceLogin runs the parent's login processes in Dovecot's
// high-performance mode, as docs/mail-members.md recommends for a proxy:
// long-lived login processes, started in advance, each serving many
// connections.
const performanceLogin = `
service imap-login {
  service_count = 0
  process_min_avail = 2
}
service pop3-login {
  service_count = 0
  process_min_avail = 2
}
`

// BenchmarkIMAPProxy times the same IMAP session straight to a child's
// Dovecot and through its parent's proxy (the passdb ApplyProxy writes),
// alternating one of each per iteration, and reports both medians and their
// difference: with the parent's login processes in Dovecot's default
// high-security mode (a process per connection) and in high-performance
// mode. The child keeps the default. ./bench/mail-proxy.sh runs it.
func BenchmarkIMAPProxy(b *testing.B) {
	requirePeers(b)
	b.Run("parent=high-security", func(b *testing.B) { benchProxy(b, "") })
	b.Run("parent=performance", func(b *testing.B) { benchProxy(b, performanceLogin) })
}

func benchProxy(b *testing.B, parentExtra string) {
	ctx := testContext(b)
	dir := peerDir(b)
	uid, gid := dovecotIDs(b)
	parent := startMember(b, dir, "parent", true, nil, parentExtra)
	child := startMember(b, dir, "child", false, nil, "")
	acct := testAccount()
	if err := child.m.Import(ctx, acct); err != nil {
		b.Fatal(err)
	}
	for i := range 20 {
		if err := putMessage(child.m.Maildir("alice@example.test"), fmt.Sprintf("message-%d", i), uid, gid); err != nil {
			b.Fatal(err)
		}
	}
	if err := parent.m.ApplyProxy(ctx, Proxy{Users: []ProxyUser{{Name: "alice@example.test", Host: "127.0.0.1", Port: child.dovecot.imap, POP3Port: child.dovecot.pop3}}}); err != nil {
		b.Fatal(err)
	}
	// Warm both paths (index files, auth caches) before measuring.
	for range 5 {
		for _, addr := range []string{child.dovecot.imapAddr(), parent.dovecot.imapAddr()} {
			if _, err := imapSession(addr, "alice@example.test", alicePass); err != nil {
				b.Fatal(err)
			}
		}
	}
	var direct, proxied []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		first, second := child.dovecot.imapAddr(), parent.dovecot.imapAddr()
		if i%2 == 1 { // alternate the order so neither path always goes first
			first, second = second, first
		}
		for _, addr := range []string{first, second} {
			d, err := imapSession(addr, "alice@example.test", alicePass)
			if err != nil {
				b.Fatal(err)
			}
			if addr == child.dovecot.imapAddr() {
				direct = append(direct, d)
			} else {
				proxied = append(proxied, d)
			}
		}
	}
	b.StopTimer()
	md, mp := median(direct), median(proxied)
	b.ReportMetric(float64(md.Microseconds())/1000, "direct-p50-ms")
	b.ReportMetric(float64(mp.Microseconds())/1000, "proxied-p50-ms")
	b.ReportMetric(float64((mp-md).Microseconds())/1000, "diff-ms")
	b.ReportMetric(0, "ns/op")
	if b.N >= 50 {
		fmt.Fprintf(os.Stdout, "%s: IMAP login+SELECT+FETCH, %d sessions each: direct median %.2f ms, proxied median %.2f ms, difference %+.2f ms\n",
			b.Name(), b.N, float64(md.Microseconds())/1000, float64(mp.Microseconds())/1000, float64((mp-md).Microseconds())/1000)
	}
}
