package dns

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
	"time"

	mdns "github.com/miekg/dns"
)

// requirePeer returns the path of a peer binary. A missing binary skips the
// test, unless POOLCTL_REQUIRE_PEERS is set, when it fails it.
func requirePeer(t testing.TB, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name, "/usr/bin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("POOLCTL_REQUIRE_PEERS") != "" {
		t.Fatalf("peer %s is not installed (apt-get install -y --no-install-recommends bind9-dnsutils nsd knot knot-dnsutils dnsperf)", name)
	}
	t.Skipf("peer %s is not installed; set POOLCTL_REQUIRE_PEERS=1 to make this a failure", name)
	return ""
}

// freePort returns a loopback port that was free on both UDP and TCP.
func freePort(t testing.TB) int {
	t.Helper()
	pc, l, err := listenBoth("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	pc.Close()
	l.Close()
	return port
}

// peer is a DNS daemon started for a test.
type peer struct {
	name string
	addr string
	log  string // file with the daemon's log
	cmd  *exec.Cmd
}

// startPeer renders conf (a text/template receiving data plus .Dir and
// .Port) into dir, runs argv (with {{CONF}} replaced) in the foreground and
// waits until it answers an SOA query for zone. It retries on another port
// when the daemon does not come up (a port taken meanwhile), and stops the
// daemon by PID when the test ends.
func startPeer(t testing.TB, name string, argv []string, conf string, data map[string]any, zone string) *peer {
	t.Helper()
	dir := t.TempDir()
	var lastLog string
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		data["Dir"], data["Port"] = dir, port
		var b bytes.Buffer
		if err := template.Must(template.New(name).Parse(conf)).Execute(&b, data); err != nil {
			t.Fatal(err)
		}
		confPath := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(confPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		args := make([]string, len(argv))
		for i, a := range argv {
			args[i] = strings.ReplaceAll(a, "{{CONF}}", confPath)
		}
		logPath := filepath.Join(dir, name+".stderr")
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		logf.Close()
		p := &peer{name: name, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), log: logPath, cmd: cmd}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			// The daemon's own process group only: it was started with Setpgid.
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
		}
		if p.waitUp(zone, exited) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("%s log:\n%s", name, p.logText())
				}
			})
			return p
		}
		stop()
		lastLog = p.logText()
	}
	t.Fatalf("%s did not come up; log:\n%s", name, lastLog)
	return nil
}

// waitUp polls the daemon until it answers anything for zone (10 s).
func (p *peer) waitUp(zone string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		m := new(mdns.Msg)
		m.SetQuestion(zone, mdns.TypeSOA)
		c := &mdns.Client{Net: "udp", Timeout: 300 * time.Millisecond}
		if _, _, err := c.Exchange(m, p.addr); err == nil {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

func (p *peer) logText() string {
	var out []string
	for _, f := range []string{p.log, filepath.Join(filepath.Dir(p.log), p.name+".log")} {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, string(b))
		}
	}
	return strings.Join(out, "\n")
}

// pollAnswer asks addr for name/qtype until check accepts the response or
// 10 s pass; it returns the last response.
func pollAnswer(t testing.TB, addr, name string, qtype uint16, check func(*mdns.Msg) bool) (*mdns.Msg, bool) {
	t.Helper()
	var last *mdns.Msg
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		m := new(mdns.Msg)
		m.SetQuestion(name, qtype)
		m.RecursionDesired = false
		c := &mdns.Client{Net: "udp", Timeout: time.Second}
		if r, _, err := c.ExchangeContext(ctx, m, addr); err == nil {
			last = r
			if check(r) {
				return r, true
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return last, false
}

// digResult is the parsed output of one dig run.
type digResult struct {
	status     string
	flags      map[string]bool
	edns       bool
	answer     []string
	authority  []string
	additional []string
}

func (r digResult) String() string {
	var fl []string
	for _, f := range []string{"aa", "tc", "ra", "ad"} {
		if r.flags[f] {
			fl = append(fl, f)
		}
	}
	return fmt.Sprintf("status %s flags [%s] edns %v\n  answer %q\n  authority %q\n  additional %q",
		r.status, strings.Join(fl, " "), r.edns, r.answer, r.authority, r.additional)
}

// runDig runs the real dig against addr and parses its output.
func runDig(t testing.TB, dig, addr string, args ...string) digResult {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	argv := append([]string{"@" + host, "-p", port, "+norec", "+noall", "+comments", "+question", "+answer",
		"+authority", "+additional", "+nocookie", "+tries=1", "+time=3"}, args...)
	out, err := exec.Command(dig, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return parseDig(string(out))
}

func parseDig(out string) digResult {
	r := digResult{flags: map[string]bool{}}
	var sec *[]string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, ";; ->>HEADER<<-"):
			if i := strings.Index(line, "status: "); i >= 0 {
				r.status = strings.TrimSuffix(strings.Fields(line[i+8:])[0], ",")
			}
		case strings.HasPrefix(line, ";; flags:"):
			f := strings.TrimPrefix(line, ";; flags:")
			if i := strings.Index(f, ";"); i >= 0 {
				f = f[:i]
			}
			for _, x := range strings.Fields(f) {
				r.flags[x] = true
			}
		case strings.HasPrefix(line, "; EDNS:"):
			r.edns = true
		case line == ";; ANSWER SECTION:":
			sec = &r.answer
		case line == ";; AUTHORITY SECTION:":
			sec = &r.authority
		case line == ";; ADDITIONAL SECTION:":
			sec = &r.additional
		case strings.HasPrefix(line, ";"):
			if strings.HasSuffix(line, "SECTION:") {
				sec = nil
			}
		case sec != nil:
			// Names compare case-insensitively (NSD compresses owners and
			// RDATA names onto the question's spelling); text does not.
			f := strings.Fields(line)
			f[0] = strings.ToLower(f[0])
			if len(f) > 4 && slices.Contains([]string{"NS", "CNAME", "MX", "SRV", "PTR", "SOA"}, f[3]) {
				for i := 4; i < len(f); i++ {
					f[i] = strings.ToLower(f[i])
				}
			}
			*sec = append(*sec, strings.Join(f, " "))
		}
	}
	return r
}
