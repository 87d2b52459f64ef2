// Package accountstest gives tests MariaDB servers: the main instance every
// test machine runs (127.0.0.1:3306, root, no password) and throwaway
// second instances, as a standby's database server.
//
// Without the server or its tools a test is skipped, unless the environment
// sets POOLCTL_REQUIRE_PEERS=1: then it fails.
package accountstest

import (
	"bytes"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/poolctl/poolctl/internal/accounts"
)

// Server is a MariaDB server reachable as root without a password.
type Server struct {
	Host    string
	Port    int
	User    string
	Socket  string // "" for the main instance
	DataDir string // "" for the main instance
}

// Config is how the accounts package reaches s.
func (s *Server) Config() accounts.MariaDBConfig {
	return accounts.MariaDBConfig{Host: s.Host, Port: s.Port, User: s.User}
}

// DSN is s for the Go driver (github.com/go-sql-driver/mysql), as
// root@tcp(127.0.0.1:PORT)/.
func (s *Server) DSN() string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = s.User, "tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	return cfg.FormatDSN()
}

// DB opens s with the Go driver (several statements allowed in one Exec),
// closed when the test ends.
func (s *Server) DB(t testing.TB) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(s.DSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MultiStatements = true
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return db
}

// Main returns the main instance, 127.0.0.1:3306.
func Main(t testing.TB) *Server {
	t.Helper()
	s := &Server{Host: "127.0.0.1", Port: 3306, User: "root"}
	client, err := exec.LookPath("mariadb")
	if err != nil {
		unavailable(t, "the mariadb client is not installed")
	}
	out, err := exec.Command(client, "--no-defaults", "--protocol=tcp", "-h", s.Host, "-P", "3306", "-u", "root",
		"--connect-timeout=10", "-e", "SELECT 1").CombinedOutput()
	if err != nil {
		unavailable(t, fmt.Sprintf("MariaDB on 127.0.0.1:3306 does not answer: %v: %s", err, out))
	}
	return s
}

// StartMariaDB starts a MariaDB server of its own on a free port of
// 127.0.0.1, with root allowed in from there without a password, and stops
// it (and removes its files) when the test ends.
func StartMariaDB(t testing.TB) *Server {
	t.Helper()
	mariadbd := lookPath("mariadbd", "/usr/sbin/mariadbd")
	installDB := lookPath("mariadb-install-db", "/usr/bin/mariadb-install-db")
	client := lookPath("mariadb", "/usr/bin/mariadb")
	if mariadbd == "" || installDB == "" || client == "" {
		unavailable(t, "mariadbd, mariadb-install-db or mariadb is not installed (Debian: mariadb-server)")
	}
	// A short directory: a Unix socket's path is limited to 107 bytes.
	dir, err := os.MkdirTemp("", "pcmdb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &Server{
		Host:    "127.0.0.1",
		Port:    freePort(t),
		User:    "root",
		Socket:  filepath.Join(dir, "sock"),
		DataDir: filepath.Join(dir, "data"),
	}
	if out, err := exec.Command(installDB, "--no-defaults", "--datadir="+s.DataDir, "--user=root").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	errLog := filepath.Join(dir, "error.log")
	cmd := exec.Command(mariadbd, "--no-defaults", "--datadir="+s.DataDir, "--socket="+s.Socket,
		"--port="+strconv.Itoa(s.Port), "--bind-address=127.0.0.1", "--user=root",
		"--pid-file="+filepath.Join(dir, "pid"), "--log-error="+errLog, "--skip-name-resolve")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mariadbd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	// Wait until it answers on its socket, or exits. The bound is a safety
	// net for a server that neither starts nor dies, not a time limit.
	ready := false
	for range 6000 {
		select {
		case err := <-exited:
			exited <- err
			log, _ := os.ReadFile(errLog)
			t.Fatalf("mariadbd exited: %v\n%s", err, log)
		default:
		}
		if exec.Command(client, "--no-defaults", "--socket="+s.Socket, "-u", "root", "-e", "SELECT 1").Run() == nil {
			ready = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ready {
		log, _ := os.ReadFile(errLog)
		t.Fatalf("mariadbd does not answer on %s\n%s", s.Socket, log)
	}
	// root@localhost authenticates by socket only; let root in over TCP.
	grant := exec.Command(client, "--no-defaults", "--socket="+s.Socket, "-u", "root")
	grant.Stdin = bytes.NewReader([]byte("CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';\n" +
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"))
	if out, err := grant.CombinedOutput(); err != nil {
		t.Fatalf("grant root over TCP: %v\n%s", err, out)
	}
	return s
}

func lookPath(name, fallback string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	return ""
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("POOLCTL_REQUIRE_PEERS") == "1" {
		t.Fatal(why + " (POOLCTL_REQUIRE_PEERS=1)")
	}
	t.Skip(why)
}
