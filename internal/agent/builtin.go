package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/probe"
)

// Built-in job kinds.
const (
	KindFactsRefresh  = "facts.refresh"
	KindServiceStatus = "service.status"
	KindShellExec     = "shell.exec"
	KindProbeCheck    = "probe.check"
)

const (
	defaultShellTimeout = 30 * time.Second
	maxShellTimeout     = 6 * time.Hour
	maxServices         = 100
)

// ErrShellDisabled fails shell.exec jobs on agents started without
// Config.AllowShell.
var ErrShellDisabled = errors.New("shell.exec is disabled on this server: start the agent with shell jobs allowed to opt in")

func (a *Agent) registerBuiltins() {
	a.Register(KindFactsRefresh, a.factsRefresh)
	a.Register(KindServiceStatus, a.serviceStatus)
	a.Register(KindShellExec, a.shellExec)
	a.Register(KindProbeCheck, probeCheck)
}

// ProbeCheckArgs are the arguments of a probe.check job: a witness probe of
// another member's service (tcp://host:port or http(s)://...).
type ProbeCheckArgs struct {
	Target string `json:"target"`
}

// ProbeCheckResult is this agent's verdict: whether the service answered.
type ProbeCheckResult struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// probeCheck probes a target for the failover engine. The verdict is the
// result; only bad arguments fail the job.
func probeCheck(ctx context.Context, job api.Job, log func(string)) (any, error) {
	var args ProbeCheckArgs
	if err := decodeArgs(job, &args); err != nil {
		return nil, err
	}
	if err := probe.Validate(args.Target); err != nil {
		return nil, err
	}
	if err := probe.Check(ctx, args.Target); err != nil {
		log("probe " + args.Target + ": " + err.Error())
		return ProbeCheckResult{OK: false, Detail: err.Error()}, nil
	}
	log("probe " + args.Target + ": answered")
	return ProbeCheckResult{OK: true}, nil
}

// decodeArgs reads a job's JSON args into v; absent args leave v as is.
func decodeArgs(job api.Job, v any) error {
	if len(bytes.TrimSpace(job.Args)) == 0 || string(bytes.TrimSpace(job.Args)) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(job.Args))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s args: %w", job.Kind, err)
	}
	return nil
}

// FactsRefreshResult is the result of a facts.refresh job.
type FactsRefreshResult struct {
	Facts *api.Facts `json:"facts"`
	Stack *api.Stack `json:"stack"`
}

// factsRefresh re-detects facts, stack and pending updates now, returns
// them and makes the next heartbeat carry them.
func (a *Agent) factsRefresh(ctx context.Context, _ api.Job, log func(string)) (any, error) {
	log("detecting facts")
	a.refreshFacts(ctx)
	log("detecting software stack and pending updates")
	a.refreshStack(ctx, true)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("refresh facts: %w", err)
	}
	a.snap.requestResend()
	f, st := a.snap.current()
	return FactsRefreshResult{Facts: f, Stack: st}, nil
}

// ServiceStatusArgs are the args of a service.status job.
type ServiceStatusArgs struct {
	// Services are process names to look for, besides the detected stack.
	Services []string `json:"services,omitempty"`
}

// ServiceState is one entry of a service.status result.
type ServiceState struct {
	Detected bool   `json:"detected"`
	Running  bool   `json:"running"`
	Version  string `json:"version,omitempty"`
}

// ServiceStatusResult is the result of a service.status job: the detected
// components of the stack, with their running state read now, and the named
// services (running = a process of that name runs).
type ServiceStatusResult struct {
	Components map[string]ServiceState `json:"components"`
	Services   map[string]ServiceState `json:"services,omitempty"`
}

// componentProcs names the processes of each stack component.
var componentProcs = map[string][]string{
	"cpanel":        {"cpsrvd"},
	"openlitespeed": {"lshttpd", "openlitespeed", "litespeed"},
	"mariadb":       {"mariadbd", "mysqld"},
	"haproxy":       {"haproxy"},
	"exim":          {"exim", "exim4"},
	"postfix":       nil, // see postfixRunning
	"dovecot":       {"dovecot"},
}

func (a *Agent) serviceStatus(ctx context.Context, job api.Job, log func(string)) (any, error) {
	var args ServiceStatusArgs
	if err := decodeArgs(job, &args); err != nil {
		return nil, err
	}
	if len(args.Services) > maxServices {
		return nil, fmt.Errorf("service.status: %d services named, at most %d", len(args.Services), maxServices)
	}
	ps, err := a.probes.procs(ctx)
	if err != nil {
		return nil, fmt.Errorf("service.status: %w", err)
	}
	_, st := a.snap.current()
	if st == nil {
		log("stack not detected yet; detecting now")
		a.refreshStack(ctx, false)
		_, st = a.snap.current()
	}
	res := ServiceStatusResult{Components: map[string]ServiceState{}}
	if st != nil {
		for name, c := range map[string]*api.Component{
			"cpanel": st.CPanel, "openlitespeed": st.OpenLiteSpeed, "mariadb": st.MariaDB,
			"haproxy": st.HAProxy, "exim": st.Exim, "postfix": st.Postfix, "dovecot": st.Dovecot,
		} {
			if c == nil || !c.Detected {
				continue
			}
			running := ps.running(componentProcs[name]...)
			if name == "postfix" {
				running = postfixRunning(ps)
			}
			res.Components[name] = ServiceState{Detected: true, Running: running, Version: c.Version}
			log(fmt.Sprintf("%s: running=%t", name, running))
		}
	}
	if len(args.Services) > 0 {
		res.Services = map[string]ServiceState{}
		for _, s := range args.Services {
			if s == "" {
				continue
			}
			running := ps.running(s)
			res.Services[s] = ServiceState{Detected: running, Running: running}
			log(fmt.Sprintf("%s: running=%t", s, running))
		}
	}
	return res, nil
}

// ShellExecArgs are the args of a shell.exec job.
type ShellExecArgs struct {
	Command string       `json:"command"`
	Timeout api.Duration `json:"timeout,omitempty"` // default 30s, at most 6h
}

// ShellExecResult is the result of a shell.exec job.
type ShellExecResult struct {
	ExitCode int  `json:"exit_code"`
	TimedOut bool `json:"timed_out,omitempty"`
}

// shellExec runs a command with /bin/sh -c, streaming its output lines to
// the job log (stderr lines prefixed "stderr: "). The whole process group is
// killed at the timeout. A non-zero exit fails the job, with the exit code
// in the result.
func (a *Agent) shellExec(ctx context.Context, job api.Job, log func(string)) (any, error) {
	if !a.cfg.AllowShell {
		return nil, ErrShellDisabled
	}
	var args ShellExecArgs
	if err := decodeArgs(job, &args); err != nil {
		return nil, err
	}
	if args.Command == "" {
		return nil, errors.New("shell.exec: no command given")
	}
	timeout := args.Timeout.D()
	switch {
	case timeout == 0:
		timeout = defaultShellTimeout
	case timeout < 0 || timeout > maxShellTimeout:
		return nil, fmt.Errorf("shell.exec: timeout %s out of range (0, %s]", timeout, maxShellTimeout)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, "/bin/sh", "-c", args.Command)
	cmd.Dir = "/"
	cmd.Env = os.Environ()
	cmd.WaitDelay = 2 * time.Second
	killGroup(cmd)
	stdout := &lineWriter{emit: log}
	stderr := &lineWriter{emit: func(l string) { log("stderr: " + l) }}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	stdout.Flush()
	stderr.Flush()
	res := ShellExecResult{ExitCode: -1}
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	switch {
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		res.TimedOut = true
		return res, fmt.Errorf("shell.exec: command timed out after %s", timeout)
	case ctx.Err() != nil:
		return res, fmt.Errorf("shell.exec: %w", ctx.Err())
	case err != nil && res.ExitCode > 0:
		return res, fmt.Errorf("shell.exec: command exited with status %d", res.ExitCode)
	case err != nil:
		return res, fmt.Errorf("shell.exec: %w", err)
	}
	return res, nil
}

// lineWriter turns written bytes into lines for emit; a line longer than
// maxLogLine is emitted in pieces. Flush emits a last unterminated line.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(string(bytes.TrimSuffix(w.buf[:i], []byte("\r"))))
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) >= maxLogLine {
		w.emit(string(w.buf[:maxLogLine]))
		w.buf = w.buf[maxLogLine:]
	}
	return len(p), nil
}

// Flush emits what is left.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}
