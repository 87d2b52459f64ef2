package agent

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestShellExec(t *testing.T) {
	fc := newFakeClient()
	a, _ := newTestAgent(t, fc, Config{AllowShell: true})
	tests := []struct {
		name     string
		args     ShellExecArgs
		want     ShellExecResult
		errLike  string
		wantLogs []string
	}{
		{"ok", ShellExecArgs{Command: "echo hello; echo oops >&2; printf 'no newline'"},
			ShellExecResult{ExitCode: 0}, "", []string{"hello", "stderr: oops", "no newline"}},
		{"exit status", ShellExecArgs{Command: "echo before; exit 3"},
			ShellExecResult{ExitCode: 3}, "command exited with status 3", []string{"before"}},
		{"timeout kills the group", ShellExecArgs{Command: "echo start; sleep 30 & sleep 30", Timeout: 200e6},
			ShellExecResult{ExitCode: -1, TimedOut: true}, "timed out after 200ms", []string{"start"}},
		{"no command", ShellExecArgs{}, ShellExecResult{}, "no command given", nil},
		{"timeout too long", ShellExecArgs{Command: "true", Timeout: 7 * 3600e9}, ShellExecResult{}, "out of range", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var lines []string
			res, err := a.shellExec(t.Context(), job(1, KindShellExec, tt.args), func(l string) {
				mu.Lock()
				lines = append(lines, l)
				mu.Unlock()
			})
			if tt.errLike == "" && err != nil || tt.errLike != "" && (err == nil || !strings.Contains(err.Error(), tt.errLike)) {
				t.Fatalf("shell.exec error = %v, want %q", err, tt.errLike)
			}
			if tt.wantLogs == nil {
				return
			}
			if got := res.(ShellExecResult); got != tt.want {
				t.Errorf("result = %+v, want %+v", got, tt.want)
			}
			slices.Sort(lines) // stdout and stderr interleave freely
			want := slices.Sorted(slices.Values(tt.wantLogs))
			if !slices.Equal(lines, want) {
				t.Errorf("log = %q, want %q", lines, want)
			}
		})
	}
}

func TestShellExecDisabled(t *testing.T) {
	a, _ := newTestAgent(t, newFakeClient(), Config{})
	_, err := a.shellExec(t.Context(), job(1, KindShellExec, ShellExecArgs{Command: "touch /tmp/should-not-exist"}), func(string) {})
	if !errors.Is(err, ErrShellDisabled) {
		t.Errorf("shell.exec without AllowShell: %v, want ErrShellDisabled", err)
	}
}

func TestLineWriter(t *testing.T) {
	var got []string
	w := &lineWriter{emit: func(l string) { got = append(got, l) }}
	w.Write([]byte("a\r\nb"))
	w.Write([]byte("c\n\nd"))
	w.Write([]byte(strings.Repeat("x", maxLogLine+5)))
	w.Flush()
	want := []string{"a", "bc", "", "d" + strings.Repeat("x", maxLogLine-1), "xxxxxx"}
	if !slices.Equal(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
}
