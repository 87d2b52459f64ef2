package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/poolctl/poolctl/api"
	"github.com/poolctl/poolctl/internal/release"
)

// Self-update (job kind agent.update). The agent
//  1. checks the job's ed25519 signature with the release key pinned at
//     enrolment (State.ReleaseKey) — it trusts no key the job or the server
//     hands it now;
//  2. downloads the binary through its pinned TLS connection and checks its
//     SHA-256 and size against the signed values;
//  3. writes it next to its executable, keeps the running binary as
//     poolctl.prev, records the update in DataDir/update.json and starts a
//     watchdog, `poolctl.prev agent update-watch` (the OLD binary, in its
//     own session), then renames the new binary over its executable
//     (atomic) and re-executes itself (syscall.Exec: same PID, so a service
//     manager sees no exit);
//  4. the new process lists the job as running in its heartbeats; after
//     its first accepted heartbeat it writes DataDir/update-ok (its version)
//     and reports the job as succeeded.
//
// The watchdog (Watch) waits for update-ok naming the new version for the
// job's rollback_after (default 1 minute). If the new process exits or the
// time runs out, it restores poolctl.prev over the executable, stops the new
// process, reports the job as failed with the reason and starts the old
// binary in its place (or leaves that to systemd when it runs as a unit).

// Files of an update in the data directory and beside the executable.
const (
	updateFile    = "update.json"
	updateOKFile  = "update-ok"
	watchLogFile  = "update-watch.log"
	watchPIDFile  = "update-watch.pid"
	prevBinary    = "poolctl.prev"
	maxBinarySize = 512 << 20

	// DefaultRollbackAfter is how long a new binary has to record a
	// heartbeat before the watchdog restores the previous one.
	DefaultRollbackAfter = time.Minute
)

// pendingUpdate is DataDir/update.json: an update under way.
type pendingUpdate struct {
	Job      int64     `json:"job"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Exe      string    `json:"exe"`  // the executable replaced
	Prev     string    `json:"prev"` // the previous binary kept
	Argv     []string  `json:"argv"` // how the agent was started
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	Deadline time.Time `json:"deadline"`
}

// updater holds the self-update's seams; tests replace them.
type updater struct {
	exe        func() (string, error)
	exec       func(path string, argv, env []string) error
	startWatch func(prev, dataDir string) (pid int, err error)

	mu      sync.Mutex
	pending *pendingUpdate // this process is the new version of this update
}

// releaseClient downloads agent binaries (*client.Client does).
type releaseClient interface {
	DownloadAgentBinary(ctx context.Context, path string, w io.Writer, max int64) (int64, error)
}

// restartError is what the update handler returns once the new binary is in
// place: runJob then flushes the job's log and re-executes the agent.
type restartError struct{ p *pendingUpdate }

func (e *restartError) Error() string { return "restarting into poolctl " + e.p.To }

func restartOf(err error) *restartError {
	var rs *restartError
	if errors.As(err, &rs) {
		return rs
	}
	return nil
}

func (a *Agent) registerUpdate() {
	a.upd = &updater{exe: executable, exec: execSelf, startWatch: startWatchdog}
	a.Register(api.AgentUpdateKind, a.runUpdate)
}

func executable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(exe)
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// releaseKey is the key pinned in agent.json.
func (a *Agent) releaseKey() string {
	a.stateMu.Lock()
	defer a.stateMu.Unlock()
	return a.state.ReleaseKey
}

// runUpdate is the agent.update handler.
func (a *Agent) runUpdate(ctx context.Context, job api.Job, logf func(string)) (any, error) {
	var args api.AgentUpdateArgs
	if err := json.Unmarshal(job.Args, &args); err != nil {
		return nil, fmt.Errorf("agent.update arguments: %w", err)
	}
	args.SHA256 = strings.ToLower(args.SHA256)
	switch {
	case args.Version == "" || args.Path == "":
		return nil, errors.New("agent.update arguments: version and path are required")
	case !sha256Hex.MatchString(args.SHA256):
		return nil, fmt.Errorf("agent.update arguments: sha256 %q is not 64 hex digits", args.SHA256)
	case args.OS != runtime.GOOS || args.Arch != runtime.GOARCH:
		return nil, fmt.Errorf("refused: the binary is for %s/%s, this agent runs on %s/%s", args.OS, args.Arch, runtime.GOOS, runtime.GOARCH)
	}
	from := a.cfg.Version
	if args.Version == from {
		logf("this agent runs poolctl " + from + " already; nothing to do")
		return api.AgentUpdateResult{From: from, To: from}, nil
	}
	key := a.releaseKey()
	if key == "" {
		return nil, errors.New("refused: no release key is pinned in agent.json (the server offered none yet); enrol again, or let the agent take the server's key with its next heartbeat")
	}
	pub, err := release.ParsePublicKey([]byte(key))
	if err != nil {
		return nil, fmt.Errorf("refused: the pinned %w", err)
	}
	if err := release.Verify(pub, args.Version, args.OS, args.Arch, args.SHA256, args.Signature); err != nil {
		return nil, fmt.Errorf("refused: the signature of poolctl %s does not verify with the release key pinned at enrolment (%s): %w", args.Version, key, err)
	}
	logf(fmt.Sprintf("signature of poolctl %s %s/%s (sha256 %s) verified with the pinned release key", args.Version, args.OS, args.Arch, args.SHA256))

	exe, err := a.upd.exe()
	if err != nil {
		return nil, fmt.Errorf("find this agent's executable: %w", err)
	}
	dir := filepath.Dir(exe)
	dl, ok := a.srv.(releaseClient)
	if !ok {
		return nil, errors.New("this agent's client cannot download binaries")
	}
	tmp, err := os.CreateTemp(dir, ".poolctl-update-*")
	if err != nil {
		return nil, fmt.Errorf("the new binary goes next to %s: %w", exe, err)
	}
	newPath := tmp.Name()
	swapped := false
	defer func() {
		tmp.Close()
		if !swapped {
			os.Remove(newPath)
		}
	}()
	h := sha256.New()
	n, err := dl.DownloadAgentBinary(ctx, args.Path, io.MultiWriter(tmp, h), maxBinarySize)
	if err != nil {
		return nil, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != args.SHA256 {
		return nil, fmt.Errorf("refused: the downloaded binary's SHA-256 is %s, the signed one is %s", got, args.SHA256)
	}
	if args.Size > 0 && n != args.Size {
		return nil, fmt.Errorf("refused: downloaded %d bytes, the job says %d", n, args.Size)
	}
	logf(fmt.Sprintf("downloaded %d bytes from %s; SHA-256 matches", n, args.Path))
	if err := tmp.Chmod(0o755); err != nil {
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	prev := filepath.Join(dir, prevBinary)
	if err := copyFile(exe, prev); err != nil {
		return nil, fmt.Errorf("keep the previous binary as %s: %w", prev, err)
	}
	wait := args.RollbackAfter.D()
	if wait <= 0 {
		wait = DefaultRollbackAfter
	}
	now := a.cfg.Now()
	p := &pendingUpdate{Job: job.ID, From: from, To: args.Version, Exe: exe, Prev: prev, Argv: os.Args,
		PID: os.Getpid(), Started: now.UTC(), Deadline: now.Add(wait).UTC()}
	_ = os.Remove(filepath.Join(a.cfg.DataDir, updateOKFile))
	if err := writeJSONFile(filepath.Join(a.cfg.DataDir, updateFile), p); err != nil {
		return nil, fmt.Errorf("record the update: %w", err)
	}
	pid, err := a.upd.startWatch(prev, a.cfg.DataDir)
	if err != nil {
		os.Remove(filepath.Join(a.cfg.DataDir, updateFile))
		return nil, fmt.Errorf("start the rollback watchdog: %w", err)
	}
	logf(fmt.Sprintf("kept poolctl %s as %s; watchdog (pid %d) restores it unless %s records a heartbeat by %s", from, prev, pid, args.Version, p.Deadline.Format(time.RFC3339)))
	if err := os.Rename(newPath, exe); err != nil {
		os.Remove(filepath.Join(a.cfg.DataDir, updateFile)) // the watchdog stands down
		return nil, fmt.Errorf("swap in the new binary: %w", err)
	}
	swapped = true
	logf(fmt.Sprintf("installed poolctl %s as %s; restarting (the new agent reports this job after its first heartbeat)", args.Version, exe))
	return nil, &restartError{p: p}
}

// restartInto re-executes the agent as its new binary. It returns only when
// that failed: then the previous binary is put back and the job fails.
func (a *Agent) restartInto(ctx context.Context, job api.Job, rs *restartError, log *slog.Logger) {
	log.Info("restarting into the new agent binary", "version", rs.p.To, "exe", rs.p.Exe)
	err := a.upd.exec(rs.p.Exe, rs.p.Argv, os.Environ())
	// Still here: the exec failed. Undo, and tell the watchdog to stand down.
	restoreErr := copyFile(rs.p.Prev, rs.p.Exe)
	os.Remove(filepath.Join(a.cfg.DataDir, updateFile))
	msg := fmt.Sprintf("could not start poolctl %s: %v; kept poolctl %s", rs.p.To, err, rs.p.From)
	if restoreErr != nil {
		msg += fmt.Sprintf(" (restoring %s failed too: %v)", rs.p.Exe, restoreErr)
	}
	log.Error("update failed", "err", msg)
	a.finish(ctx, job.ID, api.JobResult{Error: msg}, log, func(error) {})
}

// resumeUpdate runs at start: when this process is the new binary of an
// update under way, it holds the update's job (listed in heartbeats) until
// its first accepted heartbeat.
func (a *Agent) resumeUpdate() {
	var p pendingUpdate
	if err := readJSONFile(filepath.Join(a.cfg.DataDir, updateFile), &p); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			a.log.Warn("unreadable update record; ignored", "component", "agent.update", "err", err)
		}
		return
	}
	if p.To != a.cfg.Version {
		return // not ours: the watchdog restores the previous binary
	}
	a.log.Info("started as the new agent binary; the update completes with the first accepted heartbeat",
		"component", "agent.update", "from", p.From, "to", p.To, "job", p.Job)
	a.upd.mu.Lock()
	a.upd.pending = &p
	a.upd.mu.Unlock()
	a.running.add(p.Job)
}

// afterBeat runs after every accepted heartbeat.
func (a *Agent) afterBeat(ctx context.Context, reply api.HeartbeatReply) {
	a.pinReleaseKey(reply.ReleaseKey)
	a.upd.mu.Lock()
	p := a.upd.pending
	a.upd.pending = nil
	a.upd.mu.Unlock()
	if p == nil {
		return
	}
	if err := os.WriteFile(filepath.Join(a.cfg.DataDir, updateOKFile), []byte(p.To+"\n"), 0o600); err != nil {
		a.log.Error("cannot write the update marker; the watchdog will roll back", "component", "agent.update", "err", err)
		return
	}
	took := a.cfg.Now().Sub(p.Started).Round(time.Millisecond)
	a.log.Info("agent updated", "component", "agent.update", "from", p.From, "to", p.To, "took", took)
	res, _ := json.Marshal(api.AgentUpdateResult{From: p.From, To: p.To, Took: api.Duration(took)})
	go func() {
		_ = a.srv.AppendJobLog(ctx, p.Job, []string{fmt.Sprintf("poolctl %s recorded its first heartbeat %s after the update started", p.To, took)})
		a.finish(ctx, p.Job, api.JobResult{OK: true, Result: res}, a.log, func(error) {})
		a.running.remove(p.Job)
		os.Remove(filepath.Join(a.cfg.DataDir, updateFile))
	}()
}

// pinReleaseKey pins the server's release key when agent.json has none
// (an agent enrolled before keys were pinned): trust on first use, over the
// connection pinned to the server's CA. A different key later is refused
// and logged once: updates then need a new enrolment.
func (a *Agent) pinReleaseKey(key string) {
	if key == "" {
		return
	}
	a.stateMu.Lock()
	defer a.stateMu.Unlock()
	switch a.state.ReleaseKey {
	case key:
		return
	case "":
		next := *a.state
		next.ReleaseKey, next.ReleaseKeyPinned = key, "first heartbeat "+a.cfg.Now().UTC().Format(time.RFC3339)
		if err := writeState(a.cfg.DataDir, &next); err != nil {
			a.log.Error("cannot save the server's release key", "component", "agent.update", "err", err)
			return
		}
		a.state = &next
		a.log.Warn("pinned the server's release key on first use (this enrolment had none); updates must be signed with it",
			"component", "agent.update", "release_key", key)
	default:
		if !a.keyWarned {
			a.keyWarned = true
			a.log.Error("the server offers a different release key than the one pinned at enrolment; updates signed with it are refused (enrol again with --force to trust it)",
				"component", "agent.update", "pinned", a.state.ReleaseKey, "offered", key)
		}
	}
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// copyFile copies src to dst (mode 0755) through a temporary file and a
// rename, so dst is always whole.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".poolctl-copy-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
