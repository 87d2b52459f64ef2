package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/poolctl/poolctl/internal/agent"
)

// TestAgentInstallRefuses: bad arguments are refused before anything is
// enrolled or written.
func TestAgentInstallRefuses(t *testing.T) {
	t.Setenv("POOLCTL_URL", "")
	data := filepath.Join(t.TempDir(), "agent")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--server", "https://127.0.0.1:1", "--secret", "pe1.x.y", "--init", "upstart"}, `--init "upstart": want auto, systemd, openrc, sysv or none`},
		{[]string{"--secret", "pe1.x.y", "--init", "none"}, "--server https://HOST:PORT is required"},
		{[]string{"--server", "https://127.0.0.1:1", "--init", "none"}, `required flag(s) "secret" not set`},
		{[]string{"--server", "https://127.0.0.1:1", "--secret", "pe1.x.y", "--init", "none", "--bin", "/nonexistent/poolctl"}, "--bin /nonexistent/poolctl: not an executable file"},
		{[]string{"--server", "https://127.0.0.1:1", "--secret", "nonsense", "--init", "none"}, "invalid enrolment secret"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(t.Context(), append([]string{"agent", "install", "--data", data}, tc.args...), nil, &stdout, &stderr)
		if code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("agent install %v: exit %d, stderr %q; want %q", tc.args, code, stderr.String(), tc.want)
		}
		if _, err := os.Stat(data); err == nil {
			t.Fatalf("agent install %v created %s", tc.args, data)
		}
	}
}

// TestExitRemoved: an agent whose member was removed exits with the status
// its systemd unit does not restart.
func TestExitRemoved(t *testing.T) {
	if got := exitCode(fmt.Errorf("%w; enrol again with a new secret to rejoin", agent.ErrRemoved)); got != ExitRemoved {
		t.Fatalf("exit status for a removed member: %d, want %d", got, ExitRemoved)
	}
	if got := exitCode(errors.New("other")); got != 1 {
		t.Fatalf("exit status for another error: %d", got)
	}
	u, err := os.ReadFile("../agent/install/templates/systemd.service")
	if err != nil || !strings.Contains(string(u), fmt.Sprintf("RestartPreventExitStatus=%d", ExitRemoved)) {
		t.Fatalf("the systemd unit does not prevent the restart of a removed agent: %v", err)
	}
}
