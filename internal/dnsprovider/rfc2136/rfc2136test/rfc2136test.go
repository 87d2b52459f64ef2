// Package rfc2136test starts real primary name servers that take TSIG-
// signed dynamic updates and transfers, for tests: Knot (knotd) and BIND 9
// (named), on a free loopback port, files in a temporary directory,
// stopped by PID when the test ends (../shared/TEST-PEERS.md). A test is
// skipped when the server is not installed, unless POOLCTL_REQUIRE_PEERS=1,
// when it fails.
package rfc2136test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolctl/poolctl/internal/dns"
)

// The TSIG key every started server allows to update and transfer its
// zones (hmac-sha256).
const (
	KeyName   = "poolctl-update."
	KeySecret = "cG9vbGN0bC1yZmMyMTM2LXRlc3Qta2V5LWhtYWMtc2hhMjU2IQ=="
)

// Flavor is a server implementation.
type Flavor string

// The servers Start knows.
const (
	Knot Flavor = "knot"
	BIND Flavor = "bind"
)

// binary is the daemon of f and the Debian package it comes in.
func (f Flavor) binary() (cmd, pkg string) {
	if f == BIND {
		return "named", "bind9"
	}
	return "knotd", "knot"
}

// Require skips t when f's daemon is missing, or fails it when
// POOLCTL_REQUIRE_PEERS=1; it returns the daemon's path.
func Require(t testing.TB, f Flavor) string {
	t.Helper()
	cmd, pkg := f.binary()
	for _, p := range []string{cmd, "/usr/sbin/" + cmd} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	install := "apt-get install -y --no-install-recommends " + pkg
	if os.Getenv("POOLCTL_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s is not installed (%s) and POOLCTL_REQUIRE_PEERS=1", cmd, install)
	}
	t.Skipf("%s is not installed (%s); set POOLCTL_REQUIRE_PEERS=1 to make this a failure", cmd, install)
	return ""
}

// Server is a running primary.
type Server struct {
	Flavor Flavor
	Addr   string   // 127.0.0.1:PORT, UDP and TCP
	Zones  []string // absolute
	Dir    string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts f serving zones (each with an SOA, an NS and its glue) on
// a free loopback port, retrying on another port when it does not come up.
func Start(t testing.TB, f Flavor, zones ...string) *Server {
	t.Helper()
	bin := Require(t, f)
	dir, err := os.MkdirTemp("", "rfc2136-"+string(f))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{Flavor: f, Dir: dir}
	for _, z := range zones {
		s.Zones = append(s.Zones, strings.ToLower(strings.TrimSuffix(z, "."))+".")
	}
	t.Cleanup(s.Stop)
	var last error
	for range 4 {
		port := freeDNS(t)
		s.Addr = "127.0.0.1:" + strconv.Itoa(port)
		if err := s.write(port); err != nil {
			t.Fatal(err)
		}
		if last = s.run(bin); last == nil {
			return s
		}
	}
	t.Fatalf("%s did not start: %v\n%s", f, last, s.Log())
	return nil
}

func zoneFile(origin string) string {
	return fmt.Sprintf(`$ORIGIN %[1]s
$TTL 3600
@	SOA	ns1.%[1]s hostmaster.%[1]s 1 3600 600 604800 60
@	NS	ns1.%[1]s
ns1	A	192.0.2.53
`, origin)
}

// write writes the configuration and zone files for port.
func (s *Server) write(port int) error {
	for _, d := range []string{"db", "zones", "run"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, d), 0o755); err != nil {
			return err
		}
	}
	for _, z := range s.Zones {
		if err := os.WriteFile(filepath.Join(s.Dir, "zones", z+"zone"), []byte(zoneFile(z)), 0o644); err != nil {
			return err
		}
	}
	var b strings.Builder
	switch s.Flavor {
	case Knot:
		fmt.Fprintf(&b, `server:
    rundir: "%[1]s/run"
    user: root:root
    listen: 127.0.0.1@%[2]d
log:
  - target: stderr
    any: info
database:
    storage: "%[1]s/db"
control:
    listen: "%[1]s/run/knot.sock"
key:
  - id: %[3]s
    algorithm: hmac-sha256
    secret: %[4]s
acl:
  - id: poolctl
    key: %[3]s
    action: [transfer, update]
template:
  - id: default
    storage: "%[1]s/zones"
    semantic-checks: on
zone:
`, s.Dir, port, KeyName, KeySecret)
		for _, z := range s.Zones {
			fmt.Fprintf(&b, "  - domain: %s\n    file: %szone\n    acl: poolctl\n", z, z)
		}
	case BIND:
		fmt.Fprintf(&b, `options {
	directory "%[1]s";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	pid-file "%[1]s/run/named.pid";
	session-keyfile "%[1]s/run/session.key";
	managed-keys-directory "%[1]s/db";
	recursion no;
	dnssec-validation no;
	notify no;
};
controls { };
key "%[3]s" { algorithm hmac-sha256; secret "%[4]s"; };
`, s.Dir, port, KeyName, KeySecret)
		for _, z := range s.Zones {
			// check-integrity no: BIND refuses by default an update adding
			// an MX or SRV whose target inside the zone has no address,
			// which the conformance suite writes (Knot takes it).
			fmt.Fprintf(&b, "zone %q { type primary; file \"zones/%szone\"; check-integrity no; allow-update { key %q; }; allow-transfer { key %q; }; };\n", z, z, KeyName, KeyName)
		}
	}
	return os.WriteFile(s.conf(), []byte(b.String()), 0o644)
}

func (s *Server) conf() string { return filepath.Join(s.Dir, string(s.Flavor)+".conf") }

func (s *Server) logPath() string { return filepath.Join(s.Dir, string(s.Flavor)+".log") }

// Log is the server's output so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath())
	return string(b)
}

// run starts the daemon in the foreground and waits until it transfers
// its first zone with the key.
func (s *Server) run(bin string) error {
	logf, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := []string{"-c", s.conf()}
	if s.Flavor == BIND {
		args = []string{"-g", "-n", "1", "-c", s.conf()}
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	key := dns.TSIGKey{Name: KeyName, Secret: KeySecret}
	for range 200 { // about 10 s
		select {
		case <-done:
			return fmt.Errorf("%s exited: %s", bin, cmd.ProcessState)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := dns.Transfer(ctx, s.Addr, s.Zones[0], key)
		cancel()
		if err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("%s did not serve %s on %s", bin, s.Zones[0], s.Addr)
}

// Stop stops the server (SIGTERM to its PID, SIGKILL after 10 s); it is
// stopped when the test ends.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// freeDNS returns a port free on both UDP and TCP a moment ago.
func freeDNS(t testing.TB) int {
	t.Helper()
	for range 20 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no loopback port free on both UDP and TCP")
	return 0
}
