// Package proc starts the child processes of the benchmarks (poolctl, NSD),
// with their output in a log file, and stops them.
package proc

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// Proc is a started child process.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	done chan struct{}
}

// Start runs argv with env added to this process's environment, its output
// going to logPath. Should the benchmark die without stopping it (SIGKILL,
// SIGPIPE), the child gets SIGTERM.
func Start(name, logPath string, env []string, argv ...string) (*Proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, Cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, then SIGKILL after grace, and waits for the end.
func (p *Proc) Stop(grace time.Duration) {
	if p == nil || p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Kill ends the process with SIGKILL (no clean-up of its own) and waits.
func (p *Proc) Kill() {
	if p == nil || p.Exited() {
		return
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// Main runs a benchmark's body bounded by total and stopped by SIGINT or
// SIGTERM (its children are stopped on the way out), printing its error
// as "name: err" and exiting 1 on failure.
func Main(name string, total time.Duration, run func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), total)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
