package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/client"
)

// WatchOptions configure Watch; the zero values of the seams are the real
// clock, processes and server.
type WatchOptions struct {
	DataDir string
	Logger  *slog.Logger
	// ServiceManaged: a service manager (systemd) restarts the agent when it
	// is stopped, so the watchdog restores the binary and stops the new
	// process but does not start the old one itself.
	ServiceManaged bool

	Now      func() time.Time
	Sleep    func(ctx context.Context, d time.Duration) bool
	Alive    func(pid int) bool
	Stop     func(pid int)
	Exec     func(path string, argv, env []string) error
	Report   func(ctx context.Context, job int64, res api.JobResult) error
	Progress func(ctx context.Context, job int64, line string)
}

// watchTick is how often the watchdog looks; watchProgressEvery how often it
// writes to the job's log (which renews the job's lease meanwhile).
const (
	watchTick          = 250 * time.Millisecond
	watchProgressEvery = 15 * time.Second
)

// Watch is `poolctl agent update-watch`, run from the previous binary while
// an update is under way (see update.go). It returns nil when the new
// version recorded its heartbeat, or when the update record is gone (the
// update was undone by the agent itself); after a rollback it starts the
// previous binary in its own place (Exec) unless o.ServiceManaged.
func Watch(ctx context.Context, o WatchOptions) error {
	o.defaults()
	log := o.Logger.With("component", "agent.update-watch")
	path := filepath.Join(o.DataDir, updateFile)
	var p pendingUpdate
	if err := readJSONFile(path, &p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			log.Info("no update under way")
			return nil
		}
		return fmt.Errorf("read %s: %w", path, err)
	}
	log.Info("watching the new agent binary", "from", p.From, "to", p.To, "pid", p.PID, "deadline", p.Deadline)
	lastProgress := o.Now()
	for {
		if b, err := os.ReadFile(filepath.Join(o.DataDir, updateOKFile)); err == nil && strings.TrimSpace(string(b)) == p.To {
			log.Info("the new agent recorded a heartbeat; update done", "version", p.To)
			return nil
		}
		var cur pendingUpdate
		if err := readJSONFile(path, &cur); err != nil || cur.Job != p.Job {
			log.Info("the update record is gone; standing down")
			return nil
		}
		now := o.Now()
		reason := ""
		switch {
		case !o.Alive(p.PID):
			reason = fmt.Sprintf("the new agent process %d exited before it recorded a heartbeat", p.PID)
		case !now.Before(p.Deadline):
			reason = fmt.Sprintf("poolctl %s did not record a heartbeat within %s", p.To, p.Deadline.Sub(p.Started).Round(time.Second))
		}
		if reason != "" {
			return o.rollback(ctx, log, p, reason)
		}
		if now.Sub(lastProgress) >= watchProgressEvery {
			lastProgress = now
			o.Progress(ctx, p.Job, fmt.Sprintf("watchdog: waiting for poolctl %s to record a heartbeat (%s left)", p.To, p.Deadline.Sub(now).Round(time.Second)))
		}
		if !o.Sleep(ctx, watchTick) {
			return ctx.Err()
		}
	}
}

// rollback restores the previous binary, stops the new process, reports the
// job as failed and starts the previous binary.
func (o *WatchOptions) rollback(ctx context.Context, log *slog.Logger, p pendingUpdate, reason string) error {
	log.Warn("rolling back", "reason", reason)
	// The binary first: a service manager restarting the stopped process
	// must find the old one.
	restoreErr := copyFile(p.Prev, p.Exe)
	if o.Alive(p.PID) {
		o.Stop(p.PID)
	}
	msg := fmt.Sprintf("%s; rolled back to poolctl %s", reason, p.From)
	if restoreErr != nil {
		msg = fmt.Sprintf("%s; restoring %s from %s FAILED: %v", reason, p.Exe, p.Prev, restoreErr)
	}
	if err := o.Report(ctx, p.Job, api.JobResult{Error: msg}); err != nil {
		log.Error("report the failed update", "err", err)
	}
	os.Remove(filepath.Join(o.DataDir, updateFile))
	if restoreErr != nil {
		return fmt.Errorf("rollback: %s", msg)
	}
	if o.ServiceManaged {
		log.Info("restored the previous binary; the service manager restarts the agent", "exe", p.Exe)
		return nil
	}
	log.Info("starting the previous agent binary", "exe", p.Exe, "version", p.From)
	return o.Exec(p.Exe, p.Argv, os.Environ())
}

func (o *WatchOptions) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Alive == nil {
		o.Alive = processAlive
	}
	if o.Stop == nil {
		o.Stop = func(pid int) { stopProcess(pid, 5*time.Second) }
	}
	if o.Exec == nil {
		o.Exec = execSelf
	}
	if o.Report == nil || o.Progress == nil {
		c := o.agentClient()
		if o.Report == nil {
			o.Report = func(ctx context.Context, job int64, res api.JobResult) error {
				if c == nil {
					return errors.New("no agent credential to report with")
				}
				var err error
				for i := 0; i < 5; i++ {
					fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
					err = c.FinishJob(fctx, job, res)
					cancel()
					if err == nil || classify(err) != failTransient || !sleep(ctx, time.Duration(i+1)*time.Second) {
						return err
					}
				}
				return err
			}
		}
		if o.Progress == nil {
			o.Progress = func(ctx context.Context, job int64, line string) {
				if c != nil {
					fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					_ = c.AppendJobLog(fctx, job, []string{line})
					cancel()
				}
			}
		}
	}
}

// agentClient talks to the server with the agent's credential (re-read
// now: it may have rotated since the update started).
func (o *WatchOptions) agentClient() *client.Client {
	st, err := LoadState(o.DataDir)
	if err != nil {
		o.Logger.Warn("cannot read the agent's enrolment; the result is reported by the restarted agent", "err", err)
		return nil
	}
	c, err := client.New(st.Server, client.Options{Token: st.Token, CAFingerprint: st.CAFingerprint})
	if err != nil {
		return nil
	}
	c.UserAgent = "poolctl-agent-update-watch"
	return c
}

// startWatchdog starts `PREV agent update-watch --data DIR` in a session of
// its own, logging to DIR/update-watch.log, and records its PID.
func startWatchdog(prev, dataDir string) (int, error) {
	logf, err := os.OpenFile(filepath.Join(dataDir, watchLogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	pid, err := startDetached(prev, []string{prev, "agent", "update-watch", "--data", dataDir}, logf)
	if err != nil {
		return 0, err
	}
	_ = os.WriteFile(filepath.Join(dataDir, watchPIDFile), []byte(strconv.Itoa(pid)+"\n"), 0o600)
	return pid, nil
}
