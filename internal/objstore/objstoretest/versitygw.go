package objstoretest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// S3Server is a running S3-compatible server for tests.
type S3Server struct {
	Endpoint  string // host:port, plain HTTP
	AccessKey string
	SecretKey string
	Dir       string // where it keeps buckets (one directory each)
}

// VersityGWPath returns the path of the versitygw binary: the one
// scripts/test installs under $HOME/.cache/poolctl-test/bin, else the one
// on $PATH, else "".
func VersityGWPath() string {
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "poolctl-test", "bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	return ""
}

// StartVersityGW starts versitygw serving S3 over a temporary directory on
// a free port of 127.0.0.1, waits until it answers, and stops it when the
// test ends. Without the binary the test is skipped, or fails if
// $POOLCTL_REQUIRE_PEERS is set.
func StartVersityGW(t testing.TB) *S3Server {
	t.Helper()
	bin := VersityGWPath()
	if bin == "" {
		const msg = "versitygw not installed (GOBIN=$HOME/.cache/poolctl-test/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
		if os.Getenv("POOLCTL_REQUIRE_PEERS") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	srv := &S3Server{AccessKey: "poolctl-test", SecretKey: "poolctl-test-secret", Dir: t.TempDir()}
	var errs []error
	for range 3 { // another process may take the port between probe and bind
		err := srv.start(t, bin)
		if err == nil {
			return srv
		}
		errs = append(errs, err)
	}
	t.Fatalf("start versitygw: %v", errors.Join(errs...))
	return nil
}

func (srv *S3Server) start(t testing.TB, bin string) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	srv.Endpoint = net.JoinHostPort("127.0.0.1", port)
	cmd := exec.Command(bin, "--access", srv.AccessKey, "--secret", srv.SecretKey,
		"--port", srv.Endpoint, "--quiet", "posix", srv.Dir)
	cmd.Env = cleanEnv()
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("versitygw on %s exited: %s", srv.Endpoint, strings.TrimSpace(out.String()))
		case <-time.After(50 * time.Millisecond):
		}
		// Any HTTP answer, even "access denied", means it is serving.
		resp, err := client.Get("http://" + srv.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("versitygw output:\n%s", out.String())
				}
			})
			return nil
		}
	}
	stop()
	return fmt.Errorf("versitygw on %s did not answer in time: %s", srv.Endpoint, strings.TrimSpace(out.String()))
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// cleanEnv drops the variables versitygw reads as settings, so the
// caller's environment cannot change the server under test.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VGW_") && !strings.HasPrefix(kv, "ROOT_") {
			env = append(env, kv)
		}
	}
	return env
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
