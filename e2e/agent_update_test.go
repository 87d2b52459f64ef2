package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// buildVersion builds poolctl as version into dir.
func buildVersion(t *testing.T, dir, version string) string {
	t.Helper()
	out := filepath.Join(dir, "poolctl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-race", "-o", out, "-ldflags", "-X github.com/poolctl/poolctl/internal/cli.Version="+version, "../cmd/poolctl")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build poolctl %s: %v\n%s", version, err, b)
	}
	return out
}

// TestAgentSelfUpdate: a server of 0.9.1 and an agent of 0.9.0, both real
// binaries. The member shows as outdated; `member update-agent --follow`
// has the agent download the server's signed binary, verify it with the
// release key pinned at enrolment, replace itself in place (same process)
// and report the job done after its first heartbeat as 0.9.1. Refused
// versions are refused at enrolment with the fix in the message.
func TestAgentSelfUpdate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two poolctl versions")
	}
	tmp := t.TempDir()
	newBin := buildVersion(t, filepath.Join(tmp, "server"), "0.9.1")
	oldBin := buildVersion(t, filepath.Join(tmp, "agent"), "0.9.0")
	tooOld := buildVersion(t, filepath.Join(tmp, "old"), "0.7.0")
	s := startServerBinary(t, newBin, t.TempDir())
	cli(t, s.env(), "pool", "create", "web")

	var added api.MemberAdded
	cliJSON(t, s.env(), &added, "member", "add", "web", "node1", "--address", "203.0.113.10")
	cmd := exec.Command(tooOld, "agent", "enroll", "--server", s.url, "--secret", added.EnrollmentSecret, "--data", filepath.Join(tmp, "refused"))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "too old") {
		t.Fatalf("enrolment of a 0.7.0 agent with a 0.9.1 server: %v\n%s", err, out)
	}
	cliJSON(t, s.env(), &added, "member", "secret", "web", "node1")
	dir := filepath.Join(tmp, "node1")
	cmd = exec.Command(oldBin, "agent", "enroll", "--server", s.url, "--secret", added.EnrollmentSecret, "--data", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("enrol the 0.9.0 agent: %v\n%s", err, out)
	}
	agent := startBinary(t, oldBin, nil, "agent", "--data", dir, "--heartbeat-interval", "500ms")
	waitFor(t, 30*time.Second, "node1 healthy", func() bool { return members(t, s, "web")["node1"].Status == api.StatusHealthy })
	m := members(t, s, "web")["node1"]
	if m.AgentVersion != "0.9.0" || !m.Outdated {
		t.Fatalf("node1 before the update: version %q outdated %t, want 0.9.0 and outdated", m.AgentVersion, m.Outdated)
	}
	pid := agent.cmd.Process.Pid

	out := cli(t, s.env(), "member", "update-agent", "web", "node1", "--follow", "--rollback-after", "30s")
	for _, want := range []string{"verified with the pinned release key", "SHA-256 matches", "first heartbeat", "agent of node1 updated"} {
		if !strings.Contains(out, want) {
			t.Errorf("update-agent output lacks %q:\n%s", want, out)
		}
	}
	waitFor(t, 15*time.Second, "node1 on 0.9.1", func() bool { return members(t, s, "web")["node1"].AgentVersion == "0.9.1" })
	if m := members(t, s, "web")["node1"]; m.Outdated || m.Status != api.StatusHealthy {
		t.Fatalf("node1 after the update: %+v", m)
	}
	want, _ := os.ReadFile(newBin)
	got, _ := os.ReadFile(oldBin)
	if !bytes.Equal(got, want) {
		t.Fatal("the agent's executable is not the server's binary after the update")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(oldBin), "poolctl.prev")); err != nil {
		t.Fatalf("the previous binary was not kept: %v", err)
	}
	select {
	case <-agent.done:
		t.Fatalf("the agent process exited during the update:\n%s", agent.out.String())
	default:
	}
	if agent.cmd.Process.Pid != pid {
		t.Fatal("the agent changed process")
	}
	evs := cli(t, s.env(), "events", "--kind", "agent.update_queued")
	if !strings.Contains(evs, "from 0.9.0 to 0.9.1") {
		t.Fatalf("agent.update_queued events:\n%s", evs)
	}
	// Up to date now: a second update is refused, a rollout has nothing to do.
	if _, errOut, err := cliRun(s.env(), "member", "update-agent", "web", "node1"); err == nil || !strings.Contains(errOut, "already") {
		t.Fatalf("second update: %v %s", err, errOut)
	}
	if _, errOut, err := cliRun(s.env(), "pool", "update-agents", "web"); err == nil || !strings.Contains(errOut, "no member of pool web needs an update") {
		t.Fatalf("rollout with nothing to do: %v %s", err, errOut)
	}
}
