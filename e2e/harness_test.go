// Package e2e starts the real poolctl binary — server, agents and CLI — on
// loopback ports and drives it like an operator would.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "poolctl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "poolctl")
	build := exec.Command("go", "build", "-race", "-o", binary, "../cmd/poolctl")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build poolctl:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a started poolctl process.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{mu: make(chan struct{}, 1)} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startBinary(t, binary, env, args...)
}

// startBinary is start with another poolctl executable.
func startBinary(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{cmd: cmd, out: newSyncBuffer(), done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start poolctl %v: %v", args, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("output of poolctl %s:\n%s", strings.Join(args, " "), p.out.String())
		}
	})
	return p
}

func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// server is a running `poolctl server`.
type server struct {
	*proc
	data, url, token, ca string
}

func (s *server) env() []string {
	return []string{"POOLCTL_URL=" + s.url, "POOLCTL_TOKEN=" + s.token, "POOLCTL_CA=" + s.ca}
}

func startServer(t *testing.T, data string, args ...string) *server {
	t.Helper()
	return startServerBinary(t, binary, data, args...)
}

// startServerBinary is startServer with another poolctl executable.
func startServerBinary(t *testing.T, bin, data string, args ...string) *server {
	t.Helper()
	return startServing(t, bin, "server", data, args...)
}

// startServing runs `poolctl SUB --data DATA --listen 127.0.0.1:0 ARGS...`
// (server or dns-node) and waits for its API.
func startServing(t *testing.T, bin, sub, data string, args ...string) *server {
	t.Helper()
	s := &server{data: data, ca: filepath.Join(data, "ca.pem")}
	// A restarted member listens again on the addresses its peers know;
	// another process may hold one of them for a moment (an outgoing
	// connection's local port), so a start that fails to bind is tried
	// again, bounded.
	for attempt := 1; ; attempt++ {
		_ = os.Remove(filepath.Join(data, "server.url"))
		s.proc = startBinary(t, bin, nil, append([]string{sub, "--data", data, "--listen", "127.0.0.1:0"}, args...)...)
		exited := false
		waitFor(t, 60*time.Second, "server.url", func() bool {
			select {
			case <-s.done:
				exited = true
				return true
			default:
			}
			b, err := os.ReadFile(filepath.Join(data, "server.url"))
			if err != nil {
				return false
			}
			s.url = strings.TrimSpace(string(b))
			return s.url != ""
		})
		if !exited {
			break
		}
		if attempt == 10 || !strings.Contains(s.out.String(), "address already in use") {
			t.Fatalf("poolctl %s exited before serving:\n%s", sub, s.out.String())
		}
		time.Sleep(time.Second)
	}
	tok, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	s.token = strings.TrimSpace(string(tok))
	if fi, err := os.Stat(filepath.Join(data, "admin.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode: %v %v, want 0600", fi.Mode(), err)
	}
	return s
}

// cli runs a client command and returns its stdout; it fails the test on a
// non-zero exit unless wantErr.
func cli(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errOut, err := cliRun(env, args...)
	if err != nil {
		t.Fatalf("poolctl %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func cliRun(env []string, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func cliJSON(t *testing.T, env []string, v any, args ...string) {
	t.Helper()
	out := cli(t, env, append(args, "--output", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("poolctl %s: bad JSON %q: %v", strings.Join(args, " "), out, err)
	}
}

// waitFor polls cond until it holds or the bounded wait ends.
func waitFor(t *testing.T, max time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", max, what)
}
