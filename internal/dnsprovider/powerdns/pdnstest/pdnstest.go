// Package pdnstest starts a real PowerDNS Authoritative server for tests:
// pdns_server with the sqlite3 backend, its HTTP API and its DNS port on
// loopback, files in a temporary directory, stopped by PID when the test
// ends (../shared/TEST-PEERS.md). A test is skipped when PowerDNS is not
// installed, unless POOLCTL_REQUIRE_PEERS=1, when it fails.
package pdnstest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Install is how the peers are installed on Debian.
const Install = "apt-get install -y --no-install-recommends pdns-server pdns-backend-sqlite3 sqlite3"

// Schema is the sqlite3 backend's schema, from pdns-backend-sqlite3.
const Schema = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"

// Require skips t when pdns_server, the sqlite3 backend or sqlite3 is
// missing, or fails it when POOLCTL_REQUIRE_PEERS=1.
func Require(t testing.TB) {
	t.Helper()
	missing := ""
	for _, cmd := range []string{"pdns_server", "sqlite3"} {
		if _, err := exec.LookPath(cmd); err != nil {
			if _, err := os.Stat("/usr/sbin/" + cmd); err != nil {
				missing = cmd
				break
			}
		}
	}
	if _, err := os.Stat(Schema); missing == "" && err != nil {
		missing = "the sqlite3 backend (" + Schema + ")"
	}
	if missing == "" {
		return
	}
	if os.Getenv("POOLCTL_REQUIRE_PEERS") == "1" {
		t.Fatalf("%s is not installed (%s) and POOLCTL_REQUIRE_PEERS=1", missing, Install)
	}
	t.Skipf("%s is not installed (%s); set POOLCTL_REQUIRE_PEERS=1 to make this a failure", missing, Install)
}

// Server is a running pdns_server.
type Server struct {
	URL    string // its webserver and API, http://127.0.0.1:PORT
	APIKey string
	DNS    string // its DNS port, 127.0.0.1:PORT (UDP and TCP)
	Dir    string // config, database, log (pdns.log)

	t    testing.TB
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a pdns_server with an empty database on free loopback
// ports, retrying with other ports when one was taken meanwhile.
func Start(t testing.TB) *Server {
	t.Helper()
	Require(t)
	dir, err := os.MkdirTemp("", "pdns")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	db := filepath.Join(dir, "pdns.sqlite3")
	schema, err := os.ReadFile(Schema)
	if err != nil {
		t.Fatal(err)
	}
	sq := exec.Command("sqlite3", db)
	sq.Stdin = bytes.NewReader(schema)
	if out, err := sq.CombinedOutput(); err != nil {
		t.Fatalf("sqlite3 %s < %s: %v\n%s", db, Schema, err, out)
	}
	s := &Server{APIKey: "pdns-test-key", Dir: dir, t: t}
	t.Cleanup(s.Stop)
	var last error
	for range 5 {
		api, dnsPort := freeTCP(t), freeDNS(t)
		s.URL = "http://127.0.0.1:" + strconv.Itoa(api)
		s.DNS = "127.0.0.1:" + strconv.Itoa(dnsPort)
		conf := fmt.Sprintf(`launch=gsqlite3
gsqlite3-database=%s
local-address=%s
api=yes
api-key=%s
webserver=yes
webserver-address=127.0.0.1
webserver-port=%d
webserver-allow-from=127.0.0.0/8
socket-dir=%s
setuid=
setgid=
daemon=no
guardian=no
disable-syslog=yes
loglevel=4
`, db, s.DNS, s.APIKey, api, dir)
		if err := os.WriteFile(filepath.Join(dir, "pdns.conf"), []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		if last = s.run(); last == nil {
			return s
		}
	}
	t.Fatalf("pdns_server did not start: %v\n%s", last, s.Log())
	return nil
}

// Log is the server's output so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "pdns.log"))
	return string(b)
}

// run starts the process and waits until its API and DNS port answer.
func (s *Server) run() error {
	logf, err := os.OpenFile(filepath.Join(s.Dir, "pdns.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("pdns_server", "--config-dir="+s.Dir)
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
	hc := &http.Client{Timeout: time.Second}
	for range 400 { // about 10 s
		select {
		case <-done:
			return fmt.Errorf("pdns_server exited: %s", cmd.ProcessState)
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/servers/localhost", nil)
		req.Header.Set("X-API-Key", s.APIKey)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if c, err := net.DialTimeout("tcp", s.DNS, time.Second); err == nil {
					c.Close()
					return nil
				}
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("pdns_server did not answer on %s and %s", s.URL, s.DNS)
}

// Kill sends sig to the server and waits for it to exit.
func (s *Server) Kill(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Stop stops the server (SIGTERM); it is stopped when the test ends.
func (s *Server) Stop() { s.Kill(syscall.SIGTERM) }

// Restart starts the stopped server again on the same ports and database.
func (s *Server) Restart() {
	s.t.Helper()
	var err error
	for range 3 { // the ports may linger a moment after a kill
		if err = s.run(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("restart pdns_server: %v\n%s", err, s.Log())
}

func freeTCP(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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
