package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	_ "github.com/go-sql-driver/mysql"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/accounts/accountstest"
	"github.com/poolctl/poolctl/internal/objstore/objstoretest"
	"github.com/poolctl/poolctl/internal/replication/replicationtest"
	"github.com/poolctl/poolctl/internal/storetest"
)

// protectionSite is a pool "web" with a source member (src, 203.0.113.10)
// and a standby (stb, 203.0.113.20), each a real agent process with its own
// accounts root and MariaDB server, and an account with files, mail and a
// database on the source.
type protectionSite struct {
	s                *server
	dns              string
	account          string
	srcRoot, stbRoot string
	srcDSN, stbDSN   string
	agents           map[string]*proc
	agentArgs        map[string][]string
	objects          string // the directory behind the object store
}

func needMariaDB(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"mariadb-dump", "mariadb", "mariadbd"} {
		if _, err := exec.LookPath(tool); err != nil {
			if storetest.Required() {
				t.Fatalf("%s not installed", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func exec1(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// newProtectionSite starts everything. objectsArgs are extra server flags
// (--objects); objectsDir is where those objects land on disk.
func newProtectionSite(t *testing.T, objectsArgs []string, objectsDir func(s *server) string) *protectionSite {
	t.Helper()
	needMariaDB(t)
	needDig(t)
	stbDB := accountstest.StartMariaDB(t)
	ps := &protectionSite{
		account: fmt.Sprintf("e2e%05d", rand.IntN(100000)),
		srcRoot: t.TempDir(), stbRoot: t.TempDir(),
		srcDSN: "root@tcp(127.0.0.1:3306)/", stbDSN: stbDB.DSN(),
		agents: map[string]*proc{}, agentArgs: map[string][]string{},
	}
	ps.s = startServer(t, t.TempDir(), append([]string{"--dns-listen", "127.0.0.1:0"}, objectsArgs...)...)
	ps.dns = dnsAddr(t, ps.s)
	ps.objects = objectsDir(ps.s)
	env := ps.s.env()
	cli(t, env, "zone", "create", "site.test")
	cli(t, env, "zone", "create", ps.account+".test")
	cli(t, env, "record", "add", ps.account+".test", "@", "A", "203.0.113.10", "--ttl", "3600")
	cli(t, env, "record", "add", ps.account+".test", "www", "A", "203.0.113.10", "--ttl", "3600")
	cli(t, env, "record", "add", ps.account+".test", "@", "MX", "10 mail."+ps.account+".test.", "--ttl", "3600")
	cli(t, env, "record", "add", ps.account+".test", "mail", "A", "203.0.113.10", "--ttl", "3600")
	cli(t, env, "pool", "create", "web", "--failover-record", "www.site.test", "--failover-delay", "5s", "--ttl", "5", "--heartbeat-timeout", "3s")
	for i, m := range []struct{ name, addr, root, dsn string }{
		{"src", "203.0.113.10", ps.srcRoot, ps.srcDSN}, {"stb", "203.0.113.20", ps.stbRoot, ps.stbDSN},
	} {
		var added api.MemberAdded
		cliJSON(t, env, &added, "member", "add", "web", m.name, "--address", m.addr, "--allow-ip", "127.0.0.1", "--priority", fmt.Sprint(i+1))
		dir := filepath.Join(t.TempDir(), m.name)
		cli(t, nil, "agent", "enroll", "--server", ps.s.url, "--secret", added.EnrollmentSecret, "--data", dir)
		ps.agentArgs[m.name] = []string{"agent", "--data", dir, "--heartbeat-interval", "500ms", "--accounts", "linux",
			"--accounts-root", m.root, "--mariadb-dsn", m.dsn}
		ps.startAgent(t, m.name)
	}
	waitFor(t, 30*time.Second, "both members healthy", func() bool {
		ms := members(t, ps.s, "web")
		return ms["src"].Status == api.StatusHealthy && ms["stb"].Status == api.StatusHealthy
	})
	ps.makeAccount(t)
	return ps
}

func (ps *protectionSite) startAgent(t *testing.T, name string) {
	t.Helper()
	ps.agents[name] = start(t, nil, ps.agentArgs[name]...)
}

// makeAccount writes the account's home (a generated tree with many small
// files, a large file, links and odd modes, plus Maildir folders and the
// account manifest) and its database and database user on the source.
func (ps *protectionSite) makeAccount(t *testing.T) {
	t.Helper()
	home := filepath.Join(ps.srcRoot, ps.account)
	replicationtest.GenTree(t, home, 1500)
	for _, d := range []string{"Maildir/cur", "Maildir/new", "Maildir/tmp", "Maildir/.Sent/cur", "Maildir/.Sent/new", "Maildir/.Sent/tmp"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(home, "Maildir/cur/1700000000.M1P1.host:2,S"), []byte("Subject: hi\r\n\r\nhello\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	man := fmt.Sprintf(`{"domains": [%q]}`, ps.account+".test")
	if err := os.WriteFile(filepath.Join(home, ".poolctl-account.json"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, ps.srcDSN)
	name := ps.account + "_shop"
	exec1(t, db, "CREATE DATABASE `"+name+"`")
	t.Cleanup(func() {
		for _, dsn := range []string{ps.srcDSN, ps.stbDSN} {
			if d, err := sql.Open("mysql", dsn); err == nil {
				_, _ = d.Exec("DROP DATABASE IF EXISTS `" + name + "`")
				_, _ = d.Exec("DROP USER IF EXISTS '" + ps.account + "_app'@'localhost'")
				d.Close()
			}
		}
	})
	exec1(t, db, "CREATE TABLE `"+name+"`.orders (id INT PRIMARY KEY AUTO_INCREMENT, item VARCHAR(100), qty INT, note TEXT) ENGINE=InnoDB")
	exec1(t, db, "CREATE TABLE `"+name+"`.customers (id INT PRIMARY KEY, email VARCHAR(200) UNIQUE) ENGINE=InnoDB")
	for i := range 300 {
		exec1(t, db, "INSERT INTO `"+name+"`.orders (item, qty, note) VALUES (?, ?, ?)", fmt.Sprintf("item-%d", i), i%7, strings.Repeat("n", i))
	}
	exec1(t, db, "INSERT INTO `"+name+"`.customers VALUES (1, 'a@example.com'), (2, 'b@example.com')")
	exec1(t, db, "CREATE USER '"+ps.account+"_app'@'localhost' IDENTIFIED BY 's3cret-pw'")
	exec1(t, db, "GRANT SELECT, INSERT, UPDATE ON `"+name+"`.* TO '"+ps.account+"_app'@'localhost'")
}

// checksums returns CHECKSUM TABLE of the account's tables on a server.
func (ps *protectionSite) checksums(t *testing.T, dsn string) string {
	t.Helper()
	db := openDB(t, dsn)
	name := ps.account + "_shop"
	var out []string
	for _, tbl := range []string{"orders", "customers"} {
		var n string
		var sum sql.NullInt64
		if err := db.QueryRow("CHECKSUM TABLE `"+name+"`."+tbl).Scan(&n, &sum); err != nil {
			t.Fatalf("checksum %s: %v", tbl, err)
		}
		out = append(out, fmt.Sprintf("%s=%d/%v", tbl, sum.Int64, sum.Valid))
	}
	return strings.Join(out, " ")
}

func (ps *protectionSite) grants(t *testing.T, dsn string) string {
	t.Helper()
	db := openDB(t, dsn)
	rows, err := db.Query("SHOW GRANTS FOR '" + ps.account + "_app'@'localhost'")
	if err != nil {
		return "error: " + err.Error()
	}
	defer rows.Close()
	var gs []string
	for rows.Next() {
		var g string
		_ = rows.Scan(&g)
		gs = append(gs, g)
	}
	sort.Strings(gs)
	return strings.Join(gs, "\n")
}

func (ps *protectionSite) protection(t *testing.T) api.Protection {
	t.Helper()
	var p api.Protection
	cliJSON(t, ps.s.env(), &p, "protection", "show", "web", ps.account)
	return p
}

// runNow runs a replication and waits for it, returning the CLI's output
// and whether it succeeded.
func (ps *protectionSite) runNow(t *testing.T) (string, bool) {
	t.Helper()
	out, errOut, err := cliRun(ps.s.env(), "protection", "run-now", "web", ps.account, "--follow")
	return out + errOut, err == nil
}

// verify checks that the standby holds exactly the source's account.
func (ps *protectionSite) verify(t *testing.T) {
	t.Helper()
	replicationtest.CompareTrees(t, filepath.Join(ps.srcRoot, ps.account), filepath.Join(ps.stbRoot, ps.account))
	if src, stb := ps.checksums(t, ps.srcDSN), ps.checksums(t, ps.stbDSN); src != stb {
		t.Errorf("table checksums differ: source %s, standby %s", src, stb)
	}
	if src, stb := ps.grants(t, ps.srcDSN), ps.grants(t, ps.stbDSN); src != stb {
		t.Errorf("grants differ:\nsource:\n%s\nstandby:\n%s", src, stb)
	}
}

// changeFiles rewrites every 100th small file, adds one and removes one.
func (ps *protectionSite) changeFiles(t *testing.T, round int) int64 {
	t.Helper()
	home := filepath.Join(ps.srcRoot, ps.account)
	var changed int64
	i := 0
	err := filepath.WalkDir(home, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".txt") {
			return err
		}
		i++
		if i%100 == round%100 {
			b := []byte(fmt.Sprintf("changed in round %d: %s\n", round, p))
			changed += int64(len(b))
			return os.WriteFile(p, b, 0o644)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, fmt.Sprintf("new-%d.txt", round)), []byte("new file"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, ps.srcDSN)
	exec1(t, db, "UPDATE `"+ps.account+"_shop`.orders SET qty = qty + 1 WHERE id % 10 = ?", round%10)
	return changed
}

func TestProtectionLocalObjects(t *testing.T) {
	ps := newProtectionSite(t, nil, func(s *server) string { return filepath.Join(s.data, "objects") })
	env := ps.s.env()

	// Discovery.
	var list api.AccountList
	cliJSON(t, env, &list, "account", "list", "web", "src", "--refresh")
	var acct *api.Account
	for i := range list.Items {
		if list.Items[i].Name == ps.account {
			acct = &list.Items[i]
		}
	}
	if acct == nil || len(acct.Domains) != 1 || acct.Domains[0] != ps.account+".test" || len(acct.Databases) != 1 || acct.Mailboxes < 2 {
		t.Fatalf("account list: %+v", list)
	}

	cli(t, env, "protection", "create", "web", ps.account, "--source", "src", "--standby", "stb", "--schedule", "1d", "--ttl", "60")
	if _, errOut, err := cliRun(env, "protection", "create", "web", ps.account, "--source", "src", "--standby", "stb"); err == nil || !strings.Contains(errOut, "already") {
		t.Errorf("second protection: %v %s", err, errOut)
	}

	// First run: everything.
	out, ok := ps.runNow(t)
	if !ok {
		t.Fatalf("first run failed:\n%s", out)
	}
	for _, want := range []string{"step 1/3", "step 2/3", "step 3/3", "succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("run-now --follow output lacks %q:\n%s", want, out)
		}
	}
	ps.verify(t)
	p := ps.protection(t)
	if p.LastGoodAt == nil || p.RPOSeconds == nil || p.LastRun == nil || p.LastRun.Stats == nil {
		t.Fatalf("after the first run: %+v", p)
	}
	first := *p.LastRun.Stats
	waitFor(t, 60*time.Second, "the transient chunks to be removed", func() bool {
		return countFiles(t, filepath.Join(ps.objects, "protections")) <= 2 // the manifests
	})

	// The dashboard shows the protection, and a run started there streams
	// its log live to the end.
	ps.browserRun(t)

	// Incremental: about 1 % of the files changed.
	changed := ps.changeFiles(t, 1)
	if out, ok := ps.runNow(t); !ok {
		t.Fatalf("incremental run failed:\n%s", out)
	}
	ps.verify(t)
	inc := *ps.protection(t).LastRun.Stats
	t.Logf("first run: %+v", first)
	t.Logf("incremental run (%d bytes of files changed): %+v", changed, inc)
	if inc.FilesRead >= first.FilesRead/5 || inc.BytesUploaded >= first.BytesUploaded/5 {
		t.Errorf("incremental run read %d files and uploaded %d bytes; the first read %d and uploaded %d",
			inc.FilesRead, inc.BytesUploaded, first.FilesRead, first.BytesUploaded)
	}

	// kill -9 the standby's agent in the middle of a restore: its copy
	// stays as it was, and the run completes once the agent is back.
	ps.changeFiles(t, 2)
	// A new large file makes the restore last long enough to be caught.
	big := replicationtest.RandBytes(42, 48<<20)
	if err := os.WriteFile(filepath.Join(ps.srcRoot, ps.account, "big-2.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	before := replicationtest.Describe(t, filepath.Join(ps.stbRoot, ps.account))
	runDone := make(chan string, 1)
	go func() { o, _ := ps.runNow(t); runDone <- o }()
	staging := filepath.Join(ps.stbRoot, "."+ps.account+".staging-*")
	caught := false
	for deadline := time.Now().Add(90 * time.Second); !caught && time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		m, _ := filepath.Glob(staging)
		caught = len(m) > 0
	}
	if !caught {
		t.Fatal("never saw a staging directory on the standby")
	}
	ps.agents["stb"].kill(syscall.SIGKILL)
	after := replicationtest.Describe(t, filepath.Join(ps.stbRoot, ps.account))
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("the standby's copy changed when its agent was killed mid-restore")
	}
	ps.startAgent(t, "stb")
	select {
	case o := <-runDone:
		if !strings.Contains(o, "succeeded") {
			t.Fatalf("run after the standby's restart:\n%s", o)
		}
	case <-time.After(150 * time.Second):
		t.Fatal("the run interrupted by a killed standby agent did not finish")
	}
	if m, _ := filepath.Glob(staging); len(m) > 0 {
		t.Errorf("staging left behind: %v", m)
	}
	ps.verify(t)

	// A corrupt chunk fails the run loudly and leaves the copy alone; the
	// next run uploads everything again and succeeds.
	ps.corruptChunkRun(t)

	// kill -9 the server in the middle of a run: restarted on the same
	// addresses, it picks the run up where it was.
	ps.serverKilledMidRun(t)
	env = ps.s.env()

	// DNS cut: dry run, then a real one, then back.
	var dry api.DNSCutResult
	cliJSON(t, env, &dry, "account", "cut-dns", "web", ps.account, "--to", "stb", "--dry-run")
	if len(dry.Changes) != 3 || !dry.DryRun {
		t.Fatalf("dry run: %+v", dry)
	}
	if got := dig(t, ps.dns, "www."+ps.account+".test"); got != "203.0.113.10" {
		t.Errorf("after the dry run www resolves to %q", got)
	}
	text := cli(t, env, "account", "cut-dns", "web", ps.account, "--to", "stb")
	if !strings.Contains(text, "203.0.113.20") {
		t.Errorf("cut-dns output: %s", text)
	}
	waitFor(t, 10*time.Second, "www on the standby", func() bool { return dig(t, ps.dns, "www."+ps.account+".test") == "203.0.113.20" })
	cli(t, env, "account", "cut-dns", "web", ps.account, "--to", "src")
	waitFor(t, 10*time.Second, "www back on the source", func() bool { return dig(t, ps.dns, "www."+ps.account+".test") == "203.0.113.10" })

	// Automatic cut: the source dies, the pool fails over, the account
	// follows to its standby, and the event lists it.
	time.Sleep(11 * time.Second) // the standby must have settled
	ps.agents["src"].kill(syscall.SIGKILL)
	waitFor(t, 60*time.Second, "the account's DNS on the standby after failover", func() bool {
		return dig(t, ps.dns, "www."+ps.account+".test") == "203.0.113.20" && dig(t, ps.dns, ps.account+".test") == "203.0.113.20"
	})
	var evs api.List[api.Event]
	cliJSON(t, env, &evs, "events", "--pool", "web")
	found := false
	for _, e := range evs.Items {
		if e.Kind == "failover.cut" && bytes.Contains(e.Data, []byte(ps.account)) {
			found = true
		}
	}
	if !found {
		t.Errorf("no failover.cut event lists the account: %+v", evs.Items)
	}

	ps.servingStandby(t)
}

// servingStandby follows the automatic cut: the standby serves the live
// copy, so a customer's new file there survives a run-now (refused, with
// the cut's reason); once the old source is back, the protection is
// reversed and a run brings the file to the old source.
func (ps *protectionSite) servingStandby(t *testing.T) {
	t.Helper()
	env := ps.s.env()
	waitFor(t, 30*time.Second, "the protection to show that the standby serves", func() bool {
		return ps.protection(t).Status == api.ProtectionServingStandby
	})
	p := ps.protection(t)
	if p.CutTo != "stb" || p.CutAt == nil || p.CutReason != "automatically after src failed" || !strings.Contains(p.Blocked, "stb serves the live copy") {
		t.Errorf("protection after the failover: got %+v, want it cut to stb automatically, runs blocked", p)
	}
	lastRun := p.LastRun.ID

	// A customer writes on the standby, which serves the account now.
	written := filepath.Join(ps.stbRoot, ps.account, "written-on-stb.txt")
	if err := os.WriteFile(written, []byte("uploaded while stb served the account\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := cliRun(env, "protection", "run-now", "web", ps.account, "--follow")
	if err == nil {
		t.Fatalf("run-now while the standby serves: succeeded, want it refused:\n%s%s", out, errOut)
	}
	for _, want := range []string{"error: account " + ps.account + "'s DNS was cut to stb at ", " automatically after src failed: stb serves the live copy, so a run from src would overwrite it; replication is paused",
		"poolctl protection reverse web " + ps.account, "poolctl account cut-dns web " + ps.account + " --to src"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("run-now while the standby serves: stderr %q lacks %q", errOut, want)
		}
	}
	time.Sleep(3 * time.Second) // a run, had one been queued, would be under way
	if b, err := os.ReadFile(written); err != nil || !strings.Contains(string(b), "while stb served") {
		t.Fatalf("the file written on the standby: %q, %v; want it kept", b, err)
	}
	if p := ps.protection(t); p.LastRun == nil || p.LastRun.ID != lastRun {
		t.Errorf("a run was queued while the standby serves: %+v", p.LastRun)
	}
	if _, errOut, err := cliRun(env, "protection", "reverse", "web", ps.account); err != nil {
		// Reversing needs no agent; it only swaps the roles.
		t.Fatalf("reverse: %v\n%s", err, errOut)
	}
	p = ps.protection(t)
	if p.Source != "stb" || p.Standby != "src" || p.Status != api.ProtectionActive || p.CutTo != "" || p.ReversedAt == nil {
		t.Fatalf("after reverse: got %+v, want stb → src, active", p)
	}

	// The old source comes back; the run copies the live account to it.
	ps.startAgent(t, "src")
	waitFor(t, 60*time.Second, "the old source healthy again", func() bool { return members(t, ps.s, "web")["src"].Status == api.StatusHealthy })
	if out, ok := ps.runNow(t); !ok || !strings.Contains(out, "full snapshot of "+ps.account+" on stb") {
		t.Fatalf("first run after the reversal (want a full one, stb → src):\n%s", out)
	}
	if b, err := os.ReadFile(filepath.Join(ps.srcRoot, ps.account, "written-on-stb.txt")); err != nil || !strings.Contains(string(b), "while stb served") {
		t.Errorf("the file written on the standby did not reach the old source: %q, %v", b, err)
	}
	ps.verify(t)
	if p := ps.protection(t); p.LastGoodAt == nil || p.LastRun.Status != api.RunSucceeded {
		t.Errorf("after the run stb → src: got %+v, want a good copy", p)
	}
}

// corruptChunkRun stops the standby's agent, lets a run's snapshot finish,
// flips a byte of a stored chunk, restarts the agent and expects the run to
// fail naming the chunk, the copy to be untouched and the next run to pass.
func (ps *protectionSite) corruptChunkRun(t *testing.T) {
	t.Helper()
	ps.agents["stb"].kill(syscall.SIGKILL)
	ps.changeFiles(t, 3)
	before := replicationtest.Describe(t, filepath.Join(ps.stbRoot, ps.account))
	var run api.Run
	cliJSON(t, ps.s.env(), &run, "protection", "run-now", "web", ps.account)
	waitFor(t, 60*time.Second, "the snapshot to finish", func() bool {
		var r api.Run
		cliJSON(t, ps.s.env(), &r, "protection", "show", "web", ps.account)
		p := ps.protection(t)
		return p.LastRun != nil && p.LastRun.ID == run.ID && p.LastRun.Status == api.RunRestore
	})
	var chunks []string
	_ = filepath.WalkDir(filepath.Join(ps.objects, "protections"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "/chunks/") {
			chunks = append(chunks, p)
		}
		return nil
	})
	if len(chunks) == 0 {
		t.Fatal("no chunks stored for the restore")
	}
	for _, c := range chunks {
		b, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(c, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ps.startAgent(t, "stb")
	waitFor(t, 150*time.Second, "the run to fail", func() bool {
		p := ps.protection(t)
		return p.LastRun != nil && p.LastRun.ID == run.ID && p.LastRun.Status == api.RunFailed
	})
	p := ps.protection(t)
	if !strings.Contains(p.LastRun.Error, "chunk") {
		t.Errorf("failed run's error does not name the chunk: %q", p.LastRun.Error)
	}
	log := cli(t, ps.s.env(), "protection", "log", "web", ps.account)
	if !strings.Contains(log, "left as it was") {
		t.Errorf("run log does not say the copy was kept:\n%s", log)
	}
	if after := replicationtest.Describe(t, filepath.Join(ps.stbRoot, ps.account)); fmt.Sprint(before) != fmt.Sprint(after) {
		t.Error("a run that failed on a corrupt chunk changed the standby's copy")
	}
	if out, ok := ps.runNow(t); !ok {
		t.Fatalf("run after the corrupt chunk failed:\n%s", out)
	}
	ps.verify(t)
}

// serverKilledMidRun kills the server with SIGKILL while a run is in
// progress, restarts it on the same addresses, and expects the run to end
// well and the copy to match.
func (ps *protectionSite) serverKilledMidRun(t *testing.T) {
	t.Helper()
	ps.changeFiles(t, 4)
	if err := os.WriteFile(filepath.Join(ps.srcRoot, ps.account, "big-3.bin"), replicationtest.RandBytes(43, 48<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	var run api.Run
	cliJSON(t, ps.s.env(), &run, "protection", "run-now", "web", ps.account)
	waitFor(t, 60*time.Second, "the run to start", func() bool {
		p := ps.protection(t)
		return p.LastRun != nil && p.LastRun.ID == run.ID && (p.LastRun.Status == api.RunSnapshot || p.LastRun.Status == api.RunRestore)
	})
	ps.s.kill(syscall.SIGKILL)
	u, err := url.Parse(ps.s.url)
	if err != nil {
		t.Fatal(err)
	}
	ps.s = startServer(t, ps.s.data, "--listen", u.Host, "--dns-listen", ps.dns)
	waitFor(t, 150*time.Second, "the run to end after the server's restart", func() bool {
		p := ps.protection(t)
		return p.LastRun != nil && p.LastRun.ID == run.ID && p.LastRun.FinishedAt != nil
	})
	if p := ps.protection(t); p.LastRun.Status != api.RunSucceeded {
		t.Fatalf("run interrupted by the server's restart: %+v", p.LastRun)
	}
	ps.verify(t)
}

// browserRun signs in to the dashboard with Chromium, finds the
// protection on the Protection page, presses Run now and watches the run
// page's live log until the run succeeds.
func (ps *protectionSite) browserRun(t *testing.T) {
	t.Helper()
	needChromium(t)
	pw, err := os.ReadFile(filepath.Join(ps.s.data, "admin.password"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	b := newBrowser(t, ctx)
	b.open(ps.s.url+"/", "#password")
	b.do("sign in", chromedp.SendKeys(chromedp.CSS("#name"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#password"), strings.TrimSpace(string(pw))+kb.Enter), chromedp.WaitReady(chromedp.CSS(`a[href="/protections"]`)))
	b.open(ps.s.url+"/protections", "table.protections")
	row := run(b, "protections table", chromedp.Text(chromedp.CSS("table.protections tbody")))
	if !strings.Contains(row, ps.account) || !strings.Contains(row, "succeeded") || !strings.Contains(row, "src → stb") {
		t.Errorf("protections table: %q", row)
	}
	b.shot("p1-protections")
	b.do("run now", chromedp.Click(chromedp.CSS(`form[action$="/`+ps.account+`/run"] button`)), chromedp.WaitReady(chromedp.CSS("#runstatus")))
	b.waitJS("the live log reaches the end", `document.querySelector('#log').textContent.includes('run succeeded')`, 90*time.Second)
	b.waitJS("the status turns succeeded", `document.querySelector('#runstatus [data-status]')?.dataset.status === 'succeeded'`, 30*time.Second)
	if step := run(b, "step", chromedp.Text(chromedp.CSS("#run-step"))); !strings.Contains(step, "3/3") {
		t.Errorf("progress at the end: %q", step)
	}
	b.shot("p2-run")
	b.open(ps.s.url+"/pools/web/members/src/accounts", "main")
	if txt := run(b, "accounts tab", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(txt, ps.account) {
		t.Errorf("member accounts tab lacks the account: %q", txt)
	}
	if errs := b.consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestProtectionS3 replicates through an S3 server (versitygw) and checks
// the copy and that the transient chunks are gone from the bucket.
func TestProtectionS3(t *testing.T) {
	gw := objstoretest.StartVersityGW(t)
	const bucket = "poolctl-e2e"
	spec := fmt.Sprintf("s3://%s:%s@%s/%s/poolctl", gw.AccessKey, gw.SecretKey, gw.Endpoint, bucket)
	ps := newProtectionSite(t, []string{"--objects", spec}, func(*server) string { return filepath.Join(gw.Dir, bucket, "poolctl") })
	cli(t, ps.s.env(), "protection", "create", "web", ps.account, "--source", "src", "--standby", "stb")
	if out, ok := ps.runNow(t); !ok {
		t.Fatalf("first run failed:\n%s", out)
	}
	ps.verify(t)
	ps.changeFiles(t, 1)
	if out, ok := ps.runNow(t); !ok {
		t.Fatalf("incremental run failed:\n%s", out)
	}
	ps.verify(t)
	ps.corruptChunkRun(t)
	waitFor(t, 60*time.Second, "the transient chunks to be removed from the bucket", func() bool {
		return countFiles(t, filepath.Join(ps.objects, "protections")) <= 2 // the manifests
	})
}
