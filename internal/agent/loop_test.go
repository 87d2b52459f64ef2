package agent

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/poolctl/poolctl/api"
)

// TestAgentAgainstServer enrols an agent with a TLS test server that
// implements the agent routes, then runs it for real: heartbeats with facts,
// jobs with logs and results, a 503 outage with recovery, and removal.
func TestAgentAgainstServer(t *testing.T) {
	f, srv := newFakeAPI(t)
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := Enroll(t.Context(), EnrollOptions{Server: srv.URL, Secret: f.secretFor(srv), DataDir: dir, Version: "1.0.0"}); err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	root := t.TempDir()
	writeTree(t, root, map[string]string{"usr/local/cpanel/version": "11.118.0.12\n"})
	a, err := New(Config{DataDir: dir, HeartbeatInterval: 20 * time.Millisecond, AllowShell: true, Root: root, Version: "1.0.0"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	a.backoffMin, a.backoffMax = 5*time.Millisecond, 40*time.Millisecond
	a.pollWait = 2 * time.Second
	a.logFlushEvery = 10 * time.Millisecond
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { done <- a.Run(ctx) }()

	// The first beat carries facts; the stack follows as soon as detected.
	f.waitFor("a heartbeat with facts and stack", func() bool {
		return slices.ContainsFunc(f.beats, func(hb api.Heartbeat) bool { return hb.Facts != nil && hb.Stack != nil })
	})
	f.mu.Lock()
	first := f.beats[0]
	var stack *api.Stack
	for _, hb := range f.beats {
		if hb.Stack != nil {
			stack = hb.Stack
		}
	}
	f.mu.Unlock()
	if first.Protocol != api.ProtocolVersion || first.AgentVersion != "1.0.0" || first.Facts == nil || first.Facts.Hostname == "" || first.Metrics.MemTotal == 0 {
		t.Errorf("first heartbeat = %+v, want protocol, version, facts and metrics", first)
	}
	if stack.CPanel == nil || !stack.CPanel.Detected || stack.CPanel.Version != "11.118.0.12" {
		t.Errorf("stack cPanel = %+v, want detected 11.118.0.12 from the fake root", stack.CPanel)
	}

	// Jobs: a shell command, an unknown kind and a facts refresh.
	shell := f.enqueue(KindShellExec, ShellExecArgs{Command: "echo hello from the agent; echo warn >&2"})
	unknown := f.enqueue("backup.run", nil)
	f.waitFor("two job results", func() bool { return len(f.results) == 2 })
	f.mu.Lock()
	if r := f.results[shell]; !r.OK || string(r.Result) != `{"exit_code":0}` {
		t.Errorf("shell.exec result = %+v, want ok with exit code 0", r)
	}
	if got := f.logs[shell]; !slices.Contains(got, "hello from the agent") || !slices.Contains(got, "stderr: warn") {
		t.Errorf("shell.exec log = %q, want stdout and stderr lines", got)
	}
	if r := f.results[unknown]; r.OK || !strings.Contains(r.Error, `unknown job kind "backup.run"`) {
		t.Errorf("unknown job result = %+v, want a clear error", r)
	}
	beatsBefore := len(f.beats)
	f.mu.Unlock()

	refresh := f.enqueue(KindFactsRefresh, nil)
	f.waitFor("facts.refresh result and a heartbeat with facts after it", func() bool {
		_, ok := f.results[refresh]
		return ok && slices.ContainsFunc(f.beats[beatsBefore:], func(hb api.Heartbeat) bool { return hb.Facts != nil })
	})
	f.mu.Lock()
	var fr FactsRefreshResult
	if err := json.Unmarshal(f.results[refresh].Result, &fr); err != nil || fr.Facts == nil || fr.Stack == nil {
		t.Errorf("facts.refresh result %s (%v), want facts and stack", f.results[refresh].Result, err)
	}
	f.mu.Unlock()

	// Outage: every agent route answers 503 for a while.
	f.mu.Lock()
	f.outage = true
	f.mu.Unlock()
	f.waitFor("five 503 answers", func() bool { return f.failed >= 5 })
	f.mu.Lock()
	f.outage = false
	beatsBefore = len(f.beats)
	f.mu.Unlock()
	f.waitFor("a heartbeat after the outage", func() bool { return len(f.beats) > beatsBefore })
	f.mu.Lock()
	if hb := f.beats[beatsBefore]; hb.Facts == nil || hb.Stack == nil {
		t.Errorf("first heartbeat after the outage carries facts %t, stack %t; want both", hb.Facts != nil, hb.Stack != nil)
	}
	// The server asks for facts again.
	f.sendFacts = true
	beatsBefore = len(f.beats)
	f.mu.Unlock()
	f.waitFor("facts resent on request", func() bool {
		return len(f.beats) > beatsBefore+1 && f.beats[beatsBefore+1].Facts != nil
	})

	// Removal stops the agent.
	f.mu.Lock()
	f.removed = true
	f.mu.Unlock()
	select {
	case err := <-done:
		if !errors.Is(err, ErrRemoved) {
			t.Fatalf("Run = %v, want ErrRemoved", err)
		}
	case <-time.After(60 * time.Second): // a safety net, not a timing assertion
		t.Fatal("agent did not stop after removal")
	}
}

// TestRunNotEnrolled: Run explains what is missing.
func TestRunNotEnrolled(t *testing.T) {
	err := Run(t.Context(), Config{DataDir: t.TempDir()})
	if !errors.Is(err, ErrNotEnrolled) {
		t.Errorf("Run without enrolment = %v, want ErrNotEnrolled", err)
	}
}
